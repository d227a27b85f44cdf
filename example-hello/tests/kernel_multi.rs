//! Kernel test of a generated skeleton with several programs of several attach kinds: the
//! fixture `multi` (fentry, fexit, fentry on another function, raw_tp, tp_btf, raw_tracepoint,
//! and a `SEC("?fentry/...")` program with autoload off), signed with the TEST-ONLY key A like
//! example-hello. `attach()` must attach all six loaded programs, each must run, the optional
//! one must stay unloaded, the counters they keep in `.bss` must be visible through the volatile
//! `read_bss()`, and dropping the links must detach them.

use std::time::{Duration, Instant};

use bpfsign_kernel_tests::test_kernel;
use bpfsign_runtime::{CertTarget, Keyring, Stage};

/// The signed skeleton, with the TEST-ONLY key A (`BPF_KEY` in .cargo/config.toml): bpfsign's
/// build warning for that key (a `deprecated` lint warning) is allowed knowingly.
#[allow(deprecated)]
mod skel {
    bpfsign_macros::include_signed_skel!(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/obj/multi.bpf.o"
        ),
        key = env!("BPF_KEY"),
    );
}
use skel::*;

/// TEST-ONLY certificate (DER) of key A, which signed the skeleton.
const CERT_A: &[u8] = include_bytes!("../../tests/fixtures/keys/TEST-ONLY-key-a.der");

fn getpid() -> u64 {
    // SAFETY: getpid takes no arguments and cannot fail; the raw syscall reaches the kernel
    // function the programs trace (no libc caching).
    unsafe { libc::syscall(libc::SYS_getpid) as u64 }
}

/// Polls `read_bss()` until `done` holds or 5 s pass; returns the last copy.
fn wait_for(
    skel: &LoadedMulti,
    done: impl Fn(&multi_skel::types::Bss) -> bool,
) -> multi_skel::types::Bss {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        getpid();
        std::thread::sleep(Duration::from_millis(10));
        let bss = skel.read_bss().expect("read .bss");
        if done(&bss) || Instant::now() >= deadline {
            return bss;
        }
    }
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_multi_attaches_every_kind_and_skips_the_optional_program() {
    bpfsign_runtime::join_new_session_keyring().expect("join a new session keyring");
    if test_kernel() == "host" {
        // The host cannot verify signatures: the signed load must fail at PROG_LOAD with
        // EOPNOTSUPP (the unsigned path is covered by example-hello's tests).
        let e = Multi::builder()
            .keyring(Keyring::Session)
            .load()
            .expect_err("a signed load cannot succeed on the host");
        assert_eq!(
            (e.stage(), e.errno_name()),
            (Stage::ProgLoad, Some("EOPNOTSUPP")),
            "{e}"
        );
        return;
    }
    bpfsign_runtime::register_cert(CERT_A, CertTarget::Session).expect("register cert A");
    let skel = Multi::builder()
        .keyring(Keyring::Session)
        .load()
        .unwrap_or_else(|e| panic!("load: {e}"));

    // The optional program has no fd; asking the runtime for it is an error, not a panic.
    let progs = skel.progs();
    let _ = (progs.getpid_entry, progs.on_switch, progs.raw_sys_exit);
    assert!(
        progs.getppid_optional.is_none(),
        "autoload-off program has a handle"
    );
    let optional = skel.inner().prog_index("getppid_optional").unwrap();
    let e = skel.inner().loaded_prog_fd(optional).unwrap_err();
    assert_eq!(e.stage(), Stage::Access, "{e}");
    assert!(e.to_string().contains("was not loaded"), "{e}");
    assert_eq!(skel.maps().bss.name(), "bss");

    let before = skel.read_bss().expect("read .bss");
    assert_eq!(before.entries, 0, "nothing attached yet");
    let links = skel.attach().unwrap_or_else(|e| panic!("attach: {e}"));

    let pid = getpid();
    let bss = wait_for(&skel, |b| {
        b.entries >= 3
            && b.exits >= 3
            && b.sys_enters >= 3
            && b.nanosleeps >= 1
            && b.switches >= 1
            && b.last_ret == pid
    });
    assert!(bss.entries >= 3, "fentry did not run: {}", bss.entries);
    assert!(bss.exits >= 3, "fexit did not run: {}", bss.exits);
    assert_eq!(bss.last_ret, pid, "fexit saw another return value");
    assert!(bss.sys_enters >= 3, "raw_tp/sys_enter did not run");
    assert!(bss.nanosleeps >= 1, "fentry/do_nanosleep did not run");
    assert!(bss.switches >= 1, "tp_btf/sched_switch did not run");
    getppid();
    assert_eq!(
        skel.read_bss().unwrap().never,
        0,
        "the optional program ran"
    );

    // Dropping the links detaches every program: the counters stop.
    drop(links);
    let after = skel.read_bss().unwrap();
    for _ in 0..5 {
        getpid();
    }
    let later = skel.read_bss().unwrap();
    assert_eq!(
        (later.entries, later.exits, later.sys_enters),
        (after.entries, after.exits, after.sys_enters),
        "programs still attached after the links were dropped"
    );
}

/// Calls getppid, the function the optional program would trace.
fn getppid() {
    // SAFETY: getppid takes no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_getppid) };
}
