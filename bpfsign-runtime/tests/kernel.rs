//! Kernel tests of bpfsign-runtime: real bpf(2), real keyrings, real signature checks.
//!
//! Run as root on a kernel named by `BPFSIGN_TEST_KERNEL`:
//! `6.18.15` (P1), `7.2.13` (P1b), `7.3.4` (P2) inside the VM test bed, or `host` (6.18.44: its
//! BTF has `bpf_map.excl` but signed loads fail with EOPNOTSUPP, and fentry programs cannot load at
//! all: EPERM, also with libbpf). Test data: light skeletons made by the reference bpftools
//! (`tests/fixtures/golden`, `tests/fixtures/regen-goldens.sh`), signed with TEST-ONLY key A
//! (`tests/fixtures/keys`): `hello` (the seed experiment, fentry) and `rawtp_iter` (named raw
//! tracepoint, a `SEC("?...")` program, an iterator).
//!
//! `BPFSIGN_TEST_KERNEL=host cargo test -p bpfsign-runtime --test kernel -- --ignored kernel_`

use std::os::fd::AsRawFd;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bpfsign_runtime::*;

#[macro_use]
mod common;
use common::*;

const CERT_A_PEM: &[u8] = include_bytes!("../../tests/fixtures/keys/TEST-ONLY-key-a.pem");
const CERT_B_DER: &[u8] = include_bytes!("../../tests/fixtures/keys/TEST-ONLY-key-b.der");
const SKID_A: &str = include_str!("../../tests/fixtures/keys/TEST-ONLY-key-a.skid");

fn hello() -> SkeletonSpec<'static> {
    hello_spec(SKID_A.trim_end())
}

mod rawtp_iter {
    use bpfsign_runtime::*;

    skeleton_data!("../../tests/fixtures/golden/rawtp_iter");

    pub const MAPS: &[MapSpec<'static>] = &[
        MapSpec {
            name: "bss",
            map_type: 2,
            key_size: 4,
            value_size: 12,
            max_entries: 1,
            map_flags: BPF_F_MMAPABLE,
            mmapable: true,
        },
        MapSpec {
            name: "rodata",
            map_type: 2,
            key_size: 4,
            value_size: 20,
            max_entries: 1,
            map_flags: BPF_F_RDONLY_PROG,
            mmapable: false,
        },
    ];

    pub const PROGS: &[ProgSpec<'static>] = &[
        // BPF_PROG_TYPE_RAW_TRACEPOINT
        ProgSpec {
            name: "on_enter",
            section: "raw_tp/sys_enter",
            prog_type: 17,
            expected_attach_type: 0,
            autoload: true,
            attach: AttachKind::RawTracepoint {
                tp_name: Some("sys_enter"),
            },
        },
        ProgSpec {
            name: "never",
            section: "raw_tp/sys_exit",
            prog_type: 17,
            expected_attach_type: 0,
            autoload: false,
            attach: AttachKind::RawTracepoint {
                tp_name: Some("sys_exit"),
            },
        },
        // BPF_PROG_TYPE_TRACING, BPF_TRACE_ITER
        ProgSpec {
            name: "dump",
            section: "iter/task",
            prog_type: 26,
            expected_attach_type: 28,
            autoload: true,
            attach: AttachKind::Iter,
        },
    ];

    /// .bss offsets (`llvm-objdump -t tests/fixtures/obj/rawtp_iter.bpf.o`).
    pub const TARGET_TID: usize = 0;
    pub const PROG_A: usize = 4;
    pub const ITER_RUNS: usize = 8;

    pub fn spec() -> SkeletonSpec<'static> {
        SkeletonSpec {
            name: "rawtp_iter",
            data: DATA,
            variants: VARIANTS,
            maps: MAPS,
            progs: PROGS,
            signer_skid: Some(super::SKID_A.trim_end()),
        }
    }

    pub fn data() -> &'static [u8] {
        DATA
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kernel {
    K6_18_15,
    K7_2_13,
    K7_3_4,
    Host,
}

impl Kernel {
    fn get() -> Kernel {
        match std::env::var("BPFSIGN_TEST_KERNEL").as_deref() {
            Ok("6.18.15") => Kernel::K6_18_15,
            Ok("7.2.13") => Kernel::K7_2_13,
            Ok("7.3.4") => Kernel::K7_3_4,
            Ok("host") => Kernel::Host,
            other => {
                panic!("set BPFSIGN_TEST_KERNEL to 6.18.15, 7.2.13, 7.3.4 or host (got {other:?})")
            }
        }
    }
    /// The protocol family the kernel speaks.
    fn family(self) -> Protocol {
        match self {
            Kernel::K6_18_15 => Protocol::P1,
            Kernel::K7_2_13 | Kernel::Host => Protocol::P1b,
            Kernel::K7_3_4 => Protocol::P2,
        }
    }
    fn signs(self) -> bool {
        self != Kernel::Host
    }
}

/// Kernel tests share the trace buffer, keyrings of the process and fd counts: run them one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Fresh session keyring for this test thread, holding the given certificates.
fn session_with(certs: &[&[u8]]) {
    join_new_session_keyring().expect("join session keyring");
    for c in certs {
        let r = register_cert(c, CertTarget::Session).expect("register cert");
        assert_eq!(r.keyring, Keyring::Session);
        assert!(r.key > 0);
    }
}

/// BPF objects and mappings this process holds: (bpf fds, bpf-map mappings).
fn bpf_resources() -> (Vec<String>, usize) {
    let mut fds = Vec::new();
    for e in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        if let Ok(t) = std::fs::read_link(e.path()) {
            let t = t.to_string_lossy().into_owned();
            if t.contains("bpf") {
                fds.push(format!("{} -> {t}", e.file_name().to_string_lossy()));
            }
        }
    }
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    (fds, maps.lines().filter(|l| l.contains("bpf")).count())
}

/// IDs of the BPF programs and maps loaded system-wide (BPF_PROG/MAP_GET_NEXT_ID). IDs are
/// allocated cyclically, so an object created later has an ID not in an earlier snapshot.
fn system_objects() -> (Vec<u32>, Vec<u32>) {
    let ids = |cmd: libc::c_long| {
        let mut id = 0u32;
        let mut all = Vec::new();
        loop {
            let mut attr = [0u32; 4];
            attr[0] = id;
            // SAFETY: a 12-byte attr for *_GET_NEXT_ID on a local buffer.
            let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), 12) };
            if r < 0 {
                return all;
            }
            id = attr[1];
            all.push(id);
        }
    };
    (ids(11), ids(12))
}

/// Asserts that `f` leaves no BPF fd, mapping, and (in a VM) no BPF object behind.
fn assert_no_leak<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let before = bpf_resources();
    let sys_before = system_objects();
    let fd_count = std::fs::read_dir("/proc/self/fd").unwrap().count();
    let r = f();
    assert_eq!(
        bpf_resources(),
        before,
        "{what}: BPF fds or mappings leaked"
    );
    assert_eq!(
        std::fs::read_dir("/proc/self/fd").unwrap().count(),
        fd_count,
        "{what}: fd count changed"
    );
    if Kernel::get() != Kernel::Host {
        // Only in the VM: on the host other processes load BPF too.
        // Objects are freed asynchronously (RCU, work queues): wait until no object created during
        // `f` is left. Objects of earlier tests may still be going away meanwhile.
        let new_objects = || {
            let (progs, maps) = system_objects();
            let new_progs: Vec<u32> = progs
                .into_iter()
                .filter(|id| !sys_before.0.contains(id))
                .collect();
            let new_maps: Vec<u32> = maps
                .into_iter()
                .filter(|id| !sys_before.1.contains(id))
                .collect();
            (new_progs, new_maps)
        };
        let deadline = Instant::now() + Duration::from_secs(3);
        while new_objects() != (vec![], vec![]) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(
            new_objects(),
            (vec![], vec![]),
            "{what}: BPF objects (prog ids, map ids) stayed loaded"
        );
    }
    r
}

fn trace_file() -> Option<&'static str> {
    [
        "/sys/kernel/tracing/trace",
        "/sys/kernel/debug/tracing/trace",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
}

fn gettid() -> i64 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::syscall(libc::SYS_gettid) }
}

/// Reads at most 32 MiB of the trace (a program tracing our own syscalls would make the file grow
/// while we read it).
fn read_trace(path: &str) -> String {
    use std::io::Read;
    let mut text = String::new();
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(32 << 20).read_to_string(&mut text);
    }
    text
}

/// Runs `trigger` (which must make this thread's BPF program print) and waits for
/// `I loaded prog '<c>'` from this thread in the trace.
fn expect_trace_after(c: char, trigger: impl FnOnce()) {
    let Some(trace) = trace_file() else {
        trigger();
        eprintln!("note: tracefs is not mounted; trace line not checked");
        return;
    };
    let needle = format!("I loaded prog '{c}'");
    let tid = format!("-{} ", gettid());
    let count = || {
        read_trace(trace)
            .lines()
            .filter(|l| l.contains(&needle) && l.contains(&tid))
            .count()
    };
    let before = count();
    trigger();
    let deadline = Instant::now() + Duration::from_secs(5);
    while count() <= before {
        assert!(
            Instant::now() < deadline,
            "no {needle:?} from thread {tid} in {trace}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Calls getpid() (fentry/__do_sys_getpid of hello) and waits for the trace line.
fn expect_trace(c: char) {
    // SAFETY: getpid has no preconditions; the raw syscall avoids any libc pid caching.
    expect_trace_after(c, || unsafe {
        libc::syscall(libc::SYS_getpid);
    });
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_probe_reports_protocol() {
    let _g = serial();
    let k = Kernel::get();
    let p = assert_no_leak("probe", probe_uncached);
    eprintln!("probe: {p}");
    assert_eq!(p.family(), Some(k.family()), "{p}");
    if k.signs() {
        assert_eq!(p.support(), SigningSupport::Supported, "{p}");
        assert_eq!(p.protocol(), Some(k.family()));
    } else {
        assert_eq!(p.support(), SigningSupport::NoDataVerification, "{p}");
        assert_eq!(p.protocol(), None);
    }
    // The cached result agrees (it may come from a load that confirmed the protocol, when an
    // earlier test ran in this process, so only the findings are compared).
    let cached = probe();
    assert_eq!(
        (cached.family(), cached.protocol()),
        (p.family(), p.protocol()),
        "cached probe agrees: {cached}"
    );
    assert!(
        std::env::var(PROTOCOL_ENV).is_err(),
        "tests must run without {PROTOCOL_ENV}"
    );
    assert_eq!(selected_protocol(None).unwrap(), k.family());
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_signed_load_attach_trace() {
    let _g = serial();
    let k = Kernel::get();
    session_with(&[CERT_A_PEM]);
    let opts = LoadOptions::new().keyring(Keyring::Session);
    if !k.signs() {
        let e = assert_no_leak("signed load on host", || load(&hello(), &opts).unwrap_err());
        eprintln!("{e}");
        assert_eq!(e.stage(), Stage::ProgLoad, "{e}");
        assert_eq!(e.errno(), Some(libc::EOPNOTSUPP), "{e}");
        assert!(
            e.guidance().contains("CONFIG_SYSTEM_DATA_VERIFICATION"),
            "{e}"
        );
        // No guidance talks a signed skeleton into loading unsigned.
        assert!(!e.guidance().contains("unsigned"), "{e}");
        return;
    }
    let skel = load(&hello(), &opts).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(skel.protocol(), k.family());
    assert_eq!(skel.map_data_len(0), Some(4));
    assert!(skel.map_data_len(1).is_none());
    // The signed value of prog_A is 0 ('B'); set it through the mmapped .bss (an atomic store:
    // the program reads it concurrently once attached).
    assert_eq!(skel.read_global::<[u8; 4]>(0).unwrap(), [0, 0, 0, 0]);
    let prog_a = skel.global_var_mut::<u32>(0, 0).unwrap();
    prog_a.store(1);
    let links = skel.attach_all().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(links.len(), 1);
    expect_trace('A');
    prog_a.store(0);
    expect_trace('B');
    drop(links);
    drop(skel);
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_unsigned_load_attach_trace() {
    let _g = serial();
    let opts = LoadOptions::new().protocol(Protocol::Unsigned);
    if Kernel::get() == Kernel::Host {
        // The host kernel refuses every fentry program with EPERM (libbpf too); the loader's inner
        // PROG_LOAD fails and the loader cleans up after itself.
        let e = assert_no_leak("fentry on host", || load(&hello(), &opts).unwrap_err());
        assert_eq!(
            (e.stage(), e.errno(), e.from_loader()),
            (Stage::LoaderRun, Some(libc::EPERM), true),
            "{e}"
        );
        return;
    }
    let before = bpf_resources();
    let skel = load(&hello(), &opts).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(skel.protocol(), Protocol::Unsigned);
    let link = skel.attach_prog(0).unwrap_or_else(|e| panic!("{e}"));
    assert!(link.fd().as_raw_fd() > 2);
    expect_trace('B');
    drop(skel);
    // The link keeps the program attached after the skeleton is gone.
    expect_trace('B');
    drop(link);
    assert_eq!(bpf_resources(), before);
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_unregistered_key_gives_enokey() {
    let _g = serial();
    let k = Kernel::get();
    session_with(&[CERT_B_DER]);
    let opts = LoadOptions::new()
        .keyring(Keyring::Session)
        .verifier_log(1, 1 << 16);
    let e = assert_no_leak("ENOKEY", || load(&hello(), &opts).unwrap_err());
    eprintln!("{e}");
    assert_eq!(e.stage(), Stage::ProgLoad, "{e}");
    if !k.signs() {
        assert_eq!(e.errno(), Some(libc::EOPNOTSUPP), "{e}");
        return;
    }
    assert_eq!(e.errno(), Some(libc::ENOKEY), "{e}");
    assert!(e.is_signature_rejection());
    let text = e.to_string();
    assert!(text.contains("ENOKEY"), "{text}");
    assert!(text.contains("session keyring"), "{text}");
    assert!(text.contains(SKID_A.trim_end()), "{text}");
    if k == Kernel::K7_3_4 {
        // P2 verifies inside the verifier, so the log explains it.
        let log = e.verifier_log().unwrap_or_default();
        assert!(log.contains("signature verification failed"), "{log}");
    }
    // The builtin keyring (the default) does not hold test key A either.
    let e = load(&hello(), &LoadOptions::new()).unwrap_err();
    assert_eq!(e.errno(), Some(libc::ENOKEY), "{e}");
    assert!(e.to_string().contains(".builtin_trusted_keys"), "{e}");
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_wrong_variant_errno_matrix() {
    let _g = serial();
    let k = Kernel::get();
    session_with(&[CERT_A_PEM]);
    // Spec §0.2 / §3.4 matrix for the variants that do not match the kernel.
    let expect: &[(Protocol, Option<i32>)] = match k {
        Kernel::K6_18_15 => &[
            (Protocol::P1b, Some(libc::EACCES)),
            (Protocol::P2, Some(libc::EKEYREJECTED)),
        ],
        Kernel::K7_2_13 => &[
            (Protocol::P1, None),
            (Protocol::P2, Some(libc::EKEYREJECTED)),
        ],
        Kernel::K7_3_4 => &[
            (Protocol::P1, Some(libc::EACCES)),
            (Protocol::P1b, Some(libc::EACCES)),
        ],
        Kernel::Host => &[
            (Protocol::P1, Some(libc::EOPNOTSUPP)),
            (Protocol::P1b, Some(libc::EOPNOTSUPP)),
            (Protocol::P2, Some(libc::EOPNOTSUPP)),
        ],
    };
    for &(p, errno) in expect {
        let opts = LoadOptions::new().keyring(Keyring::Session).protocol(p);
        let r = assert_no_leak("wrong variant", || load(&hello(), &opts).map(drop));
        match (errno, r) {
            (None, Ok(())) => {}
            (Some(want), Err(e)) => {
                eprintln!("{p}: {e}");
                assert_eq!(e.stage(), Stage::ProgLoad, "{p}: {e}");
                assert_eq!(e.errno(), Some(want), "{p}: {e}");
                assert_eq!(e.protocol(), Some(p));
                assert!(!e.guidance().is_empty(), "{e}");
            }
            (want, got) => panic!("{p}: expected {want:?}, got {got:?}"),
        }
    }
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_named_keyring_and_log() {
    let _g = serial();
    let k = Kernel::get();
    join_new_session_keyring().unwrap();
    let reg = register_cert(CERT_A_PEM, CertTarget::Named("bpfsign-test")).unwrap();
    assert_eq!(reg.skid.as_deref(), Some(SKID_A.trim_end()));
    let Keyring::User(ring) = reg.keyring else {
        panic!("{reg:?}")
    };
    assert_eq!(
        named_keyring("bpfsign-test").unwrap(),
        ring,
        "found again, not recreated"
    );
    let opts = LoadOptions::new()
        .keyring(reg.keyring)
        .verifier_log(1, 4096);
    let r = assert_no_leak("named keyring", || {
        load(&hello(), &opts).map(|s| (s.protocol(), s.verifier_log().map(str::to_string)))
    });
    if !k.signs() {
        assert_eq!(r.unwrap_err().errno(), Some(libc::EOPNOTSUPP));
        return;
    }
    let (p, log) = r.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p, k.family());
    assert!(
        log.is_some_and(|l| l.contains("processed")),
        "verifier log requested"
    );
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_failures_leave_nothing_loaded() {
    let _g = serial();
    let k = Kernel::get();
    session_with(&[CERT_A_PEM]);

    // A blob whose license is no longer GPL: the unsigned loader creates the BTF and both maps,
    // then the kernel rejects on_enter (bpf_trace_printk is GPL-only) and the loader cleans up.
    let mut bad = rawtp_iter::data().to_vec();
    let at = bad
        .windows(4)
        .position(|w| w == b"GPL\0")
        .expect("license in blob");
    bad[at..at + 3].copy_from_slice(b"MIT");
    let spec = SkeletonSpec {
        data: &bad,
        ..rawtp_iter::spec()
    };
    let opts = LoadOptions::new()
        .protocol(Protocol::Unsigned)
        .verifier_log(1, 1 << 16);
    let e = assert_no_leak("loader failure", || load(&spec, &opts).unwrap_err());
    eprintln!("{e}");
    assert_eq!(e.stage(), Stage::LoaderRun, "{e}");
    assert!(e.from_loader());
    assert_eq!(e.errno(), Some(libc::EINVAL), "{e}");
    assert!(
        e.verifier_log().is_some_and(|l| l.contains("GPL")),
        "{:?}",
        e.verifier_log()
    );

    // The same tampered blob under the signed protocol: P1/P1b loaders refuse it by hash, P2 kernels
    // by signature.
    if k.signs() {
        let opts = LoadOptions::new().keyring(Keyring::Session);
        let e = assert_no_leak("tampered blob", || load(&spec, &opts).unwrap_err());
        eprintln!("{e}");
        match k.family() {
            Protocol::P2 => {
                assert_eq!(
                    (e.stage(), e.errno()),
                    (Stage::ProgLoad, Some(libc::EKEYREJECTED)),
                    "{e}"
                )
            }
            _ => {
                assert_eq!(
                    (e.stage(), e.errno()),
                    (Stage::LoaderRun, Some(libc::EINVAL)),
                    "{e}"
                );
                assert!(e.guidance().contains("hash"), "{e}");
            }
        }
    }

    // Everything loads, then mmap of a map without BPF_F_MMAPABLE fails: the loaded maps and
    // programs must be closed again.
    let maps = [
        rawtp_iter::MAPS[0],
        MapSpec {
            mmapable: true,
            ..rawtp_iter::MAPS[1]
        },
    ];
    let spec = SkeletonSpec {
        maps: &maps,
        ..rawtp_iter::spec()
    };
    let opts = LoadOptions::new().protocol(Protocol::Unsigned);
    let e = assert_no_leak("mmap failure", || load(&spec, &opts).unwrap_err());
    eprintln!("{e}");
    assert_eq!(e.stage(), Stage::Mmap, "{e}");

    // The spec claims fewer autoload programs than the loader loads: refused, all fds closed.
    let progs = [
        rawtp_iter::PROGS[0],
        rawtp_iter::PROGS[1],
        ProgSpec {
            autoload: false,
            ..rawtp_iter::PROGS[2]
        },
    ];
    let spec = SkeletonSpec {
        progs: &progs,
        ..rawtp_iter::spec()
    };
    let e = assert_no_leak("spec mismatch", || load(&spec, &opts).unwrap_err());
    eprintln!("{e}");
    assert_eq!(e.stage(), Stage::LoaderRun, "{e}");

    // A keyring id that names no keyring.
    if k.signs() {
        let opts = LoadOptions::new().keyring(Keyring::User(0x7fff_fff0));
        let e = assert_no_leak("bad keyring", || load(&hello(), &opts).unwrap_err());
        eprintln!("{e}");
        assert_eq!(
            (e.stage(), e.errno()),
            (Stage::ProgLoad, Some(libc::EINVAL)),
            "{e}"
        );
    }

    // A program marked Manual refuses to attach, without side effects.
    let progs = [
        ProgSpec {
            attach: AttachKind::Manual,
            ..rawtp_iter::PROGS[0]
        },
        rawtp_iter::PROGS[1],
        rawtp_iter::PROGS[2],
    ];
    let spec = SkeletonSpec {
        progs: &progs,
        ..rawtp_iter::spec()
    };
    let skel = load(&spec, &opts).unwrap_or_else(|e| panic!("{e}"));
    let e = assert_no_leak("manual attach", || skel.attach_prog(0).unwrap_err());
    assert_eq!(e.stage(), Stage::Attach);
    assert!(e.to_string().contains("prog_fd"), "{e}");
}

/// BPF_ITER_CREATE on a link, read to the end: runs the iterator program once per map.
fn run_iter(link: &Link) {
    let mut attr = [0u32; 2];
    attr[0] = link.fd().as_raw_fd() as u32;
    // SAFETY: an 8-byte iter_create attr on a local buffer.
    let fd = unsafe { libc::syscall(libc::SYS_bpf, 33, attr.as_mut_ptr(), 8) };
    assert!(
        fd >= 0,
        "BPF_ITER_CREATE: {}",
        std::io::Error::last_os_error()
    );
    let mut buf = [0u8; 4096];
    // SAFETY: reading into a local buffer from an fd we own, then closing it.
    unsafe {
        while libc::read(fd as i32, buf.as_mut_ptr().cast(), buf.len()) > 0 {}
        libc::close(fd as i32);
    }
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_multi_raw_tp_iter_autoload() {
    let _g = serial();
    let k = Kernel::get();
    session_with(&[CERT_A_PEM]);
    let mut protocols = vec![Protocol::Unsigned];
    if k.signs() {
        protocols.push(k.family());
    }
    for p in protocols {
        let before = bpf_resources();
        let opts = LoadOptions::new().keyring(Keyring::Session).protocol(p);
        let skel = load(&rawtp_iter::spec(), &opts).unwrap_or_else(|e| panic!("{p}: {e}"));
        // Slot quirk: the loader put dump's fd in the second ctx slot; the runtime maps it back.
        assert!(
            skel.prog_fd(0).is_some() && skel.prog_fd(1).is_none() && skel.prog_fd(2).is_some()
        );
        assert_eq!(skel.map_data_len(0), Some(12));
        skel.global_var_mut::<u32>(0, rawtp_iter::PROG_A)
            .unwrap()
            .store(1);
        let links = skel.attach_all().unwrap_or_else(|e| panic!("{p}: {e}"));
        assert_eq!(
            links.iter().map(Link::prog_index).collect::<Vec<_>>(),
            [Some(0), Some(2)]
        );
        // Print only for this thread and only around one syscall, so reading the trace does not
        // feed it.
        let tid = gettid() as u32;
        expect_trace_after('A', || {
            let target = skel
                .global_var_mut::<u32>(0, rawtp_iter::TARGET_TID)
                .unwrap();
            target.store(tid);
            // SAFETY: getpid has no preconditions.
            unsafe { libc::syscall(libc::SYS_getpid) };
            target.store(0);
        });
        let runs = |s: &LoadedSkeleton| {
            s.global_var_mut::<u32>(0, rawtp_iter::ITER_RUNS)
                .unwrap()
                .load()
        };
        assert_eq!(runs(&skel), 0);
        run_iter(&links[1]);
        assert!(runs(&skel) > 0, "{p}: the iterator ran");
        let e = skel.attach_prog(1).unwrap_err();
        assert!(e.to_string().contains("autoload"), "{e}");
        drop(links);
        drop(skel);
        assert_eq!(bpf_resources(), before, "{p}");
    }
}
