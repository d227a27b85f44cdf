//! hello (the seed program) on real kernels:
//!
//! * both compilers end to end: example-hello's `hello.bpf.c` compiled at build time by
//!   `BpfCompiler` with clang and with GCC ≥ 14, generated, signed with key A, loaded
//!   signed on 6.18.15 / 7.2.13 / 7.3.4 and seen printing after getpid;
//! * the signed variant matrix: each protocol's loader forced on each kernel;
//! * the P1 hardening and the metadata defences: non-exclusive metadata maps, tampered blobs.

use bpfsign_kernel_tests::raw::{self, RawError, RawLoad};
use bpfsign_kernel_tests::*;
use bpfsign_runtime::{load, Keyring, LoadOptions, LoadedSkeleton, Protocol, SkeletonSpec, Stage};

/// `KEY_SPEC_SESSION_KEYRING`, the raw `keyring_id` of [`Keyring::Session`].
const SESSION_KEYRING: i32 = -3;
/// `EKEYREJECTED`.
const EKEYREJECTED: i32 = 129;

/// Sets hello's `prog_A` through the mmapped `.bss`, attaches, calls getpid and waits for
/// "I loaded prog '<c>'" (`<c>` = 'A' when prog_A is set) from this thread; returns the line.
fn attach_and_see_trace(
    spec: &SkeletonSpec<'_>,
    skel: &mut LoadedSkeleton,
    format: &str,
) -> String {
    let bss = spec.map_index("bss").expect("hello has a .bss");
    let prog_a = skel
        .global_var_mut::<u32>(bss, 0)
        .expect(".bss is mmapped writable");
    assert_eq!(prog_a.load(), 0, "prog_A as signed is 0");
    prog_a.store(1);
    let links = skel.attach_all().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(links.len(), 1, "hello has one program");
    let needle = format!("{format} '{}'", 'A');
    let line = expect_trace_after(&needle, getpid_syscall);
    drop(links);
    line
}

fn hello_end_to_end(built: &Built, label: &str) {
    let c = built.get(label);
    eprintln!("{label}: {} ({})", c.fixture.origin, c.compiler_version);
    match label {
        "gcc" => {
            let major = c
                .elf_comment
                .rsplit(' ')
                .next()
                .and_then(|v| v.split('.').next())
                .and_then(|m| m.parse::<u32>().ok());
            assert!(
                c.elf_comment.starts_with("GCC: (") && major.is_some_and(|m| m >= 14),
                "the object was not made by GCC ≥ 14: .comment = {:?}",
                c.elf_comment
            );
        }
        _ => assert!(
            c.elf_comment.contains("clang version"),
            "the object was not made by clang: .comment = {:?}",
            c.elf_comment
        ),
    }
    let f = &c.fixture;
    let k = Kernel::get();
    session_with_cert_a();
    let result = load(&f.spec, &LoadOptions::new().keyring(Keyring::Session));
    if !k.signs() {
        let e = result.expect_err("signed load on a kernel without signature verification");
        assert_eq!(
            (e.stage(), e.errno()),
            (Stage::ProgLoad, Some(libc::EOPNOTSUPP)),
            "{e}"
        );
        // Unsigned, the loader runs; this host refuses the fentry program itself.
        let e = load(&f.spec, &LoadOptions::new().protocol(Protocol::Unsigned))
            .expect_err("this host refuses fentry programs");
        assert_eq!(
            (e.stage(), e.errno(), e.from_loader()),
            (Stage::LoaderRun, Some(libc::EPERM), true),
            "{e}"
        );
        return;
    }
    let mut skel = result.unwrap_or_else(|e| panic!("{label}-built hello, signed: {e}"));
    assert_eq!(skel.protocol(), k.family());
    assert_loaded_as_specified(&f.spec, &skel);
    let line = attach_and_see_trace(&f.spec, &mut skel, "I loaded prog");
    eprintln!(
        "{label}: signed {} load, trace: {}",
        skel.protocol(),
        line.trim()
    );
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_hello_clang_signed_loads_and_prints() {
    hello_end_to_end(&HELLO_CLANG, "clang");
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_hello_gcc_signed_loads_and_prints() {
    hello_end_to_end(&HELLO_GCC, "gcc");
}

/// Every signed variant of the committed hello forced on every kernel: only the kernel's own
/// protocol loads (P1 also on P1b kernels, whose loader check it lacks but whose kernel check is
/// the same); the others fail the way docs/protocol.md §3.4 says.
#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_signed_variant_matrix() {
    let f = fixture("hello");
    let k = Kernel::get();
    session_with_cert_a();
    for p in [Protocol::P1, Protocol::P1b, Protocol::P2] {
        let expected: Option<i32> = match (k, p) {
            (Kernel::Host, _) => Some(libc::EOPNOTSUPP),
            // P2 signatures cover insns ‖ data; P1-era kernels verify insns only.
            (Kernel::K6_18_15 | Kernel::K7_2_13, Protocol::P2) => Some(EKEYREJECTED),
            // A P2 kernel wants signed loaders to bind their maps through fd_array_cnt.
            (Kernel::K7_3_4, Protocol::P1) => Some(libc::EACCES),
            (k, p) => k.refuses_loader(p),
        };
        let result = load(
            &f.spec,
            &LoadOptions::new().protocol(p).keyring(Keyring::Session),
        );
        match (expected, result) {
            (None, Ok(mut skel)) => {
                let line = attach_and_see_trace(&f.spec, &mut skel, "I loaded prog");
                eprintln!("signed {p}: loads, trace: {}", line.trim());
            }
            (None, Err(e)) => panic!("signed {p} must load on this kernel: {e}"),
            (Some(errno), Ok(_)) => panic!("signed {p} loaded; expected errno {errno}"),
            (Some(errno), Err(e)) => {
                assert_eq!(
                    (e.stage(), e.errno()),
                    (Stage::ProgLoad, Some(errno)),
                    "signed {p}: {e}"
                );
                eprintln!("signed {p}: refused as expected: {e}");
            }
        }
    }
}

/// P1 hardening (issue 3): on the P1 kernel the probe picks bpfsign's hardened P1 loader and
/// it loads hello signed (jumps onto the cleanup label, no ctx overrides: byte-checked against
/// bpftool in bpfsign-build's golden tests); elsewhere the probe picks the kernel's own protocol.
#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_p1_signed_hello_on_p1_kernel() {
    let f = fixture("hello");
    let k = Kernel::get();
    let picked = bpfsign_runtime::selected_protocol(None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(picked, k.family(), "protocol picked by the probe");
    if k != Kernel::K6_18_15 {
        return;
    }
    session_with_cert_a();
    let mut skel = load(&f.spec, &LoadOptions::new().keyring(Keyring::Session))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(skel.protocol(), Protocol::P1);
    assert_loaded_as_specified(&f.spec, &skel);
    let line = attach_and_see_trace(&f.spec, &mut skel, "I loaded prog");
    eprintln!("P1 on 6.18.15: {}", line.trim());
}

/// A raw run of hello's `p` loader with the given metadata map.
fn raw_hello(p: Protocol, exclusive: bool, signed: bool) -> Result<i32, RawError> {
    let f = fixture("hello");
    let v = f.spec.variant(p).expect("variant");
    RawLoad {
        insns: v.insns,
        data: f.spec.data,
        map_type: raw::BPF_MAP_TYPE_ARRAY,
        excl_prog_hash: exclusive.then_some(v.excl_prog_hash),
        freeze: true,
        hash_map: matches!(p, Protocol::P1 | Protocol::P1b),
        signature: if signed { v.signature } else { None },
        keyring_id: SESSION_KEYRING,
        fd_array_cnt: u32::from(p == Protocol::P2 && signed),
        n_maps: f.spec.maps.len(),
        n_progs: f.spec.progs.len(),
    }
    .run()
}

/// CVE-2026-80675: a host that creates the metadata map without `excl_prog_hash`. bpfsign's
/// P1b loader refuses it (-EINVAL from its `map->excl` check) on 7.2.13 and, unsigned, on the
/// host; the P2 kernel refuses it at load time (EPERM "must be exclusive"); a P1 kernel cannot
/// tell (the reason P1b exists). Every case also runs with an exclusive map as the control.
#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_non_exclusive_metadata_map() {
    let k = Kernel::get();
    session_with_cert_a();
    match k {
        Kernel::K7_2_13 => {
            assert_eq!(
                raw_hello(Protocol::P1b, true, true),
                Ok(0),
                "control: exclusive map"
            );
            assert_eq!(
                raw_hello(Protocol::P1b, false, true),
                Ok(-libc::EINVAL),
                "non-exclusive map"
            );
        }
        Kernel::Host => {
            // No signatures here: the unsigned form runs the same loader checks. With the
            // exclusive map the loader passes them and fails later, at hello's fentry (EPERM).
            assert_eq!(
                raw_hello(Protocol::P1b, true, false),
                Ok(-libc::EPERM),
                "control: exclusive map"
            );
            assert_eq!(
                raw_hello(Protocol::P1b, false, false),
                Ok(-libc::EINVAL),
                "non-exclusive map"
            );
        }
        Kernel::K6_18_15 => {
            // P1 kernels have no map->excl: the P1b loader cannot even load there, and the P1
            // loader cannot detect the attack (documented weakness of P1).
            for excl in [true, false] {
                match raw_hello(Protocol::P1b, excl, true) {
                    Err(RawError::ProgLoad(e, _)) => assert_eq!(e, libc::EACCES),
                    other => panic!("P1b loader on 6.18.15: {other:?}"),
                }
            }
            assert_eq!(
                raw_hello(Protocol::P1, true, true),
                Ok(0),
                "control: exclusive map"
            );
            assert_eq!(
                raw_hello(Protocol::P1, false, true),
                Ok(0),
                "P1 cannot see the attack"
            );
        }
        Kernel::K7_3_4 => {
            assert_eq!(
                raw_hello(Protocol::P2, true, true),
                Ok(0),
                "control: exclusive map"
            );
            match raw_hello(Protocol::P2, false, true) {
                Err(RawError::ProgLoad(e, log)) => {
                    assert_eq!(e, libc::EPERM, "{log}");
                    assert!(log.contains("exclusive"), "verifier log: {log}");
                }
                other => panic!("P2 with a non-exclusive map: {other:?}"),
            }
        }
    }
}

/// A blob changed after signing: the P1/P1b loaders' hash check returns -EINVAL; the P2 kernel
/// rejects the signature over insns ‖ data (EKEYREJECTED). The change itself is harmless: the
/// unsigned loader, which checks nothing, loads the tampered blob.
#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_tampered_blob_rejected() {
    let k = Kernel::get();
    session_with_cert_a();
    let hello = fixture("hello");
    let tampered = hello.with_data(tamper(hello.spec.data, HELLO_FORMAT));
    // The loaders that can run here, in their unsigned form: the hash check returns -EINVAL.
    for p in [Protocol::P1, Protocol::P1b] {
        if k.refuses_loader(p).is_some() {
            continue;
        }
        let e = load(
            &tampered,
            &LoadOptions::new().protocol(p).without_signature(true),
        )
        .expect_err("tampered blob accepted");
        assert_eq!(
            (e.stage(), e.errno(), e.from_loader()),
            (Stage::LoaderRun, Some(libc::EINVAL), true),
            "unsigned {p}: {e}"
        );
    }
    if k == Kernel::Host {
        // Untampered, the same loaders pass the check and fail only at hello's fentry (EPERM);
        // with a host-loadable fixture the tampered blob is refused and the original loads.
        for p in [Protocol::P1, Protocol::P1b] {
            let e = load(
                &hello.spec,
                &LoadOptions::new().protocol(p).without_signature(true),
            )
            .expect_err("fentry on the host");
            assert_eq!(e.errno(), Some(libc::EPERM), "{e}");
            let net = fixture("net");
            let t = net.with_data(tamper(net.spec.data, b"src/net.bpf.c"));
            let opts = LoadOptions::new().protocol(p).without_signature(true);
            let e = load(&t, &opts).expect_err("tampered net blob accepted");
            assert_eq!(
                (e.stage(), e.errno(), e.from_loader()),
                (Stage::LoaderRun, Some(libc::EINVAL), true),
                "{e}"
            );
            load(&net.spec, &opts).unwrap_or_else(|e| panic!("untampered net, unsigned {p}: {e}"));
            load(&t, &LoadOptions::new().protocol(Protocol::Unsigned))
                .unwrap_or_else(|e| panic!("tampered net, unsigned loader: {e}"));
        }
        return;
    }
    // Signed, with the kernel's own protocol.
    let e = load(&tampered, &LoadOptions::new().keyring(Keyring::Session))
        .expect_err("tampered blob accepted");
    let want = match k.family() {
        Protocol::P2 => (Stage::ProgLoad, Some(EKEYREJECTED), false),
        _ => (Stage::LoaderRun, Some(libc::EINVAL), true),
    };
    assert_eq!(
        (e.stage(), e.errno(), e.from_loader()),
        want,
        "signed {}: {e}",
        k.family()
    );
    // Nothing checks the unsigned loader's blob: the tampered format string is what prints.
    let mut skel = load(&tampered, &LoadOptions::new().protocol(Protocol::Unsigned))
        .unwrap_or_else(|e| panic!("tampered blob, unsigned loader: {e}"));
    let line = attach_and_see_trace(&tampered, &mut skel, "i loaded prog");
    eprintln!("tampered blob, unsigned loader: {}", line.trim());
}
