//! Which loaders a build embeds, on real kernels: skeletons made by `include_signed_skel!` at
//! compile time (signed with the TEST-ONLY key A) from the `probes` fixture (kprobes,
//! tracepoints, a task iterator: no trampoline programs, so unsigned loads also work on the
//! host).
//!
//! * `protocols = [p1b, p2]` loads on 7.2.13 (P1b) and 7.3.4 (P2); on 6.18.15 (P1) it fails
//!   before any syscall with `ErrorKind::ProtocolNotEmbedded`; on the host (P1b family, no
//!   signature verification) the P1b loader is picked and refused with EOPNOTSUPP.
//! * `protocols = [p1, p2]`: a probed P1b kernel (7.2.13) falls back to the P1 loader.
//! * The default skeleton embeds no unsigned loader: `Protocol::Unsigned` and
//!   `BPFSIGN_PROTOCOL=unsigned` (in a child process, [`env_child`]) fail with
//!   `ProtocolNotEmbedded` on every kernel, and nothing is loaded.
//! * The first signed load of a fresh process is the probe (docs/protocol.md §7.10), and a
//!   refused first try falls back to the exact probe ([`first_load_child`]).
//! * An `allow_unsigned = true` skeleton loads and attaches with the unsigned loader on every
//!   kernel, the host included.

use bpfsign_kernel_tests::leak::assert_no_leak;
use bpfsign_kernel_tests::*;
use bpfsign_runtime::{load, ErrorKind, Keyring, LoadOptions, Protocol, SkeletonSpec, Stage};

// The TEST-ONLY key warns on every build (a `deprecated` warning); accepted knowingly here.
#[allow(deprecated)]
mod skels {
    bpfsign_macros::include_signed_skel!(
        "../fixtures/obj/probes.bpf.o",
        key = "../fixtures/keys/TEST-ONLY-key-a.pem",
        name = "SignedOnly",
    );
    bpfsign_macros::include_signed_skel!(
        "../fixtures/obj/probes.bpf.o",
        key = "../fixtures/keys/TEST-ONLY-key-a.pem",
        name = "NewKernels",
        protocols = [p1b, p2],
    );
    bpfsign_macros::include_signed_skel!(
        "../fixtures/obj/probes.bpf.o",
        key = "../fixtures/keys/TEST-ONLY-key-a.pem",
        name = "P1AndP2",
        protocols = [p1, p2],
    );
    bpfsign_macros::include_signed_skel!(
        "../fixtures/obj/probes.bpf.o",
        key = "../fixtures/keys/TEST-ONLY-key-a.pem",
        name = "WithUnsigned",
        allow_unsigned = true,
    );
}
use skels::*;

/// Selects the mode of [`env_child`]; the parent sets it.
const CHILD_ENV: &str = "BPFSIGN_PROTOCOLS_CHILD";

/// Runs the ignored test `name` of this binary in a child process with `env` added to its
/// environment; asserts that it passed and returns its stderr (where children report).
fn run_child(name: &str, env: &[(&str, &str)]) -> String {
    let exe = std::env::current_exe().expect("current_exe");
    let out = std::process::Command::new(exe)
        .args([
            "--ignored",
            "--exact",
            "--test-threads=1",
            "--nocapture",
            name,
        ])
        .envs(env.iter().copied())
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success() && stdout.contains(&format!("test {name} ... ok")),
        "child {name} ({env:?}) failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    stderr
}

fn embedded(spec: &SkeletonSpec<'_>) -> Vec<Protocol> {
    spec.variants.iter().map(|v| v.protocol).collect()
}

/// Loads `spec` signed (session keyring with cert A), attaches everything, detaches; returns
/// the protocol used, or the error (after checking that nothing stayed loaded).
fn load_signed(what: &str, spec: &SkeletonSpec<'_>) -> Result<Protocol, bpfsign_runtime::Error> {
    assert_no_leak(what, || {
        let skel = load(spec, &LoadOptions::new().keyring(Keyring::Session))?;
        let links = attach_here(&skel, spec)?;
        assert_eq!(links.len(), attachable_here(spec).len(), "{what}: links");
        Ok(skel.protocol())
    })
}

/// The refusal of an unembedded protocol: before any syscall, typed, naming both sides.
fn assert_not_embedded(e: &bpfsign_runtime::Error, needed: Protocol, spec: &SkeletonSpec<'_>) {
    assert_eq!(
        e.kind(),
        &ErrorKind::ProtocolNotEmbedded {
            needed,
            embedded: embedded(spec),
        },
        "{e}"
    );
    assert_eq!((e.stage(), e.errno()), (Stage::SelectVariant, None), "{e}");
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_chosen_protocols_load_only_where_embedded() {
    let k = Kernel::get();
    session_with_cert_a();
    let spec = NewKernels::spec();
    assert_eq!(embedded(spec), [Protocol::P1b, Protocol::P2]);
    let r = load_signed("protocols = [p1b, p2]", spec);
    eprintln!("{k:?}: protocols = [p1b, p2]: {r:?}");
    match k {
        Kernel::K7_2_13 => assert_eq!(r.unwrap(), Protocol::P1b),
        Kernel::K7_3_4 => assert_eq!(r.unwrap(), Protocol::P2),
        Kernel::K6_18_15 => {
            let e = r.unwrap_err();
            assert_not_embedded(&e, Protocol::P1, spec);
            let text = e.to_string();
            assert!(text.contains("this kernel needs the p1 loader"), "{text}");
            assert!(text.contains("embeds: p1b, p2"), "{text}");
        }
        Kernel::Host => {
            let e = r.unwrap_err();
            assert_eq!(e.protocol(), Some(Protocol::P1b), "{e}");
            assert_eq!(
                (e.stage(), e.errno()),
                (Stage::ProgLoad, Some(libc::EOPNOTSUPP)),
                "{e}"
            );
        }
    }
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_p1b_kernel_falls_back_to_an_embedded_p1_loader() {
    let k = Kernel::get();
    session_with_cert_a();
    let spec = P1AndP2::spec();
    assert_eq!(embedded(spec), [Protocol::P1, Protocol::P2]);
    let r = load_signed("protocols = [p1, p2]", spec);
    eprintln!("{k:?}: protocols = [p1, p2]: {r:?}");
    match k {
        // The P1 loader passes on P1b kernels (no `map->excl` check).
        Kernel::K6_18_15 | Kernel::K7_2_13 => assert_eq!(r.unwrap(), Protocol::P1),
        Kernel::K7_3_4 => assert_eq!(r.unwrap(), Protocol::P2),
        Kernel::Host => {
            let e = r.unwrap_err();
            assert_eq!(e.protocol(), Some(Protocol::P1), "{e}");
            assert_eq!(e.errno(), Some(libc::EOPNOTSUPP), "{e}");
        }
    }
    // An explicit P1b never falls back.
    let e = load(
        spec,
        &LoadOptions::new()
            .protocol(Protocol::P1b)
            .keyring(Keyring::Session),
    )
    .unwrap_err();
    assert_not_embedded(&e, Protocol::P1b, spec);
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_default_skeleton_refuses_the_unsigned_protocol() {
    let k = Kernel::get();
    session_with_cert_a();
    let spec = SignedOnly::spec();
    assert_eq!(embedded(spec), Protocol::SIGNED);
    // Through the API.
    let e = assert_no_leak("Protocol::Unsigned", || {
        load(spec, &LoadOptions::new().protocol(Protocol::Unsigned)).unwrap_err()
    });
    assert_not_embedded(&e, Protocol::Unsigned, spec);
    assert!(e.to_string().contains("allow_unsigned = true"), "{e}");
    // Through the environment, in a child process (the variable is process-wide).
    let stderr = run_child(
        "env_child",
        &[(CHILD_ENV, "refuse"), ("BPFSIGN_PROTOCOL", "unsigned")],
    );
    assert!(stderr.contains("refused as expected"), "{stderr}");
    // Control: the same skeleton loads signed where the kernel verifies signatures.
    let r = load_signed("default skeleton, signed", spec);
    eprintln!("{k:?}: default skeleton, signed: {r:?}");
    if k.signs() {
        assert_eq!(r.unwrap(), k.family());
    } else {
        assert_eq!(r.unwrap_err().errno(), Some(libc::EOPNOTSUPP));
    }
}

/// The child of [`kernel_default_skeleton_refuses_the_unsigned_protocol`]: with
/// `BPFSIGN_PROTOCOL=unsigned` in its environment, a default load of the default skeleton must
/// be refused. Does nothing unless the parent set [`CHILD_ENV`] (not a `kernel_*` test:
/// `cargo vmtest` does not run it on its own).
#[test]
#[ignore = "child process of kernel_default_skeleton_refuses_the_unsigned_protocol"]
fn env_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    assert_eq!(std::env::var("BPFSIGN_PROTOCOL").as_deref(), Ok("unsigned"));
    let spec = SignedOnly::spec();
    let e = assert_no_leak("BPFSIGN_PROTOCOL=unsigned", || {
        load(spec, &LoadOptions::new().keyring(Keyring::Session)).unwrap_err()
    });
    assert_not_embedded(&e, Protocol::Unsigned, spec);
    assert!(e.to_string().contains("did not allow unsigned"), "{e}");
    eprintln!("refused as expected: {e}");
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_allow_unsigned_skeleton_loads_unsigned() {
    let k = Kernel::get();
    let spec = WithUnsigned::spec();
    assert_eq!(embedded(spec), Protocol::ALL);
    // No certificate needed: the unsigned loader carries no signature.
    let p = assert_no_leak("allow_unsigned, Protocol::Unsigned", || {
        let skel = load(spec, &LoadOptions::new().protocol(Protocol::Unsigned))
            .unwrap_or_else(|e| panic!("{k:?}: unsigned load: {e}"));
        let links = attach_here(&skel, spec).unwrap_or_else(|e| panic!("{k:?}: attach: {e}"));
        assert_eq!(links.len(), attachable_here(spec).len());
        assert!(!links.is_empty());
        skel.protocol()
    });
    assert_eq!(p, Protocol::Unsigned);
}

/// The first signed load of a fresh process is the probe (docs/protocol.md §7.10): in a child
/// process with nothing cached, the loader the kernel release suggests is loaded first and, when
/// the kernel accepts it, no probe runs (the cached result says so). With releases of every
/// protocol range ([`bpfsign_runtime::load_with_kernel_release`]) each kernel also sees the first tries of
/// the other protocols: the kernel refuses them, the exact probe runs and the right loader
/// loads — a P1 release on a P1b kernel is turned into P1b by vmlinux BTF, and on a P2 kernel
/// the P1 loader is refused. Nothing stays loaded in any case.
#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_first_load_of_a_process_is_the_probe() {
    let k = Kernel::get();
    session_with_cert_a();
    let family = k.family();
    // The loader a P1-range release tries: what vmlinux BTF says (`excl` in struct bpf_map).
    let by_btf = if matches!(k, Kernel::K7_2_13 | Kernel::Host) {
        Protocol::P1b
    } else {
        Protocol::P1
    };
    // (release given to the child, "" = the real one; the loader it tries first)
    let cases = [
        ("", family),
        ("7.0.1", by_btf),
        ("7.2.1", Protocol::P1b),
        ("7.3.0", Protocol::P2),
    ];
    for (release, tried) in cases {
        let stderr = run_child(
            "first_load_child",
            &[
                (CHILD_ENV, "first-load"),
                (FIRST_LOAD_RELEASE_ENV, release),
                ("BPFSIGN_PROTOCOL", ""),
            ],
        );
        let line = |key: &str| {
            stderr
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .unwrap_or_else(|| panic!("no {key} line from the child:\n{stderr}"))
                .to_string()
        };
        let (result, probe) = (line("result: "), line("probe: "));
        let loads = line("prog-loads: ");
        eprintln!("{k:?}, release {release:?} (tries {tried}): {result}; {loads}; {probe}");
        if k.signs() {
            assert_eq!(result, format!("loaded {family}"), "{release:?}: {stderr}");
        } else {
            // The host: the P1b-family kernel without signature verification.
            assert_eq!(result, "ProgLoad/EOPNOTSUPP", "{release:?}: {stderr}");
        }
        if k.signs() && tried == family {
            // The first try was the probe: the release (and BTF finding), no probe load.
            let accepted = format!("the kernel accepted the signed {family} loader");
            assert!(probe.contains(&accepted), "{release:?}: {probe}");
            assert!(probe.contains("kernel release"), "{release:?}: {probe}");
            assert!(!probe.contains("junk-signature"), "{release:?}: {probe}");
            assert!(!probe.contains("not yet exercised"), "{release:?}: {probe}");
            assert_eq!(
                loads, "1 before the probe, no probe",
                "{release:?}: {stderr}"
            );
            // Only a P1-range release (7.0.1, or 6.18.15 itself) consults vmlinux BTF.
            let p1_range = release == "7.0.1" || (release.is_empty() && family == Protocol::P1);
            assert_eq!(
                probe.contains("vmlinux BTF"),
                p1_range,
                "{release:?}: {probe}"
            );
        } else {
            // Refused first try (another protocol, or no verification at all): the probe decided.
            assert!(
                !probe.contains("accepted the signed"),
                "{release:?}: {probe}"
            );
            assert!(
                probe.contains("junk-signature probe"),
                "{release:?}: {probe}"
            );
            // Exactly one signed load (the first try) came before the probe; after it, one
            // more load (the protocol the probe found; vmlinux BTF is readable, so no
            // behavioural probe) where the kernel verifies signatures, none where it cannot.
            let after = if k.signs() { 1 } else { 0 };
            assert_eq!(
                loads,
                format!("1 before the probe, {after} after"),
                "{release:?}: {stderr}"
            );
        }
    }
}

/// The kernel release [`first_load_child`] pretends to run on; empty = the real one.
const FIRST_LOAD_RELEASE_ENV: &str = "BPFSIGN_TEST_FIRST_LOAD_RELEASE";

/// The child of [`kernel_first_load_of_a_process_is_the_probe`]: the first load of a fresh
/// process, reported on stderr as `result: loaded P` or `result: STAGE/ERRNO`, then its
/// `BPF_PROG_LOAD` calls (`prog-loads: N before the probe, M after` or `…, no probe`: from the
/// runtime's stage timings, the junk-signature probe's own load not counted) and the probe
/// result it left cached. Does nothing unless the parent set [`CHILD_ENV`].
#[test]
#[ignore = "child process of kernel_first_load_of_a_process_is_the_probe"]
fn first_load_child() {
    if std::env::var(CHILD_ENV).as_deref() != Ok("first-load") {
        return;
    }
    let release = std::env::var(FIRST_LOAD_RELEASE_ENV).unwrap_or_default();
    const {
        assert!(
            bpfsign_runtime::STAGE_TIMING_ENABLED,
            "tests/kernel enables stage-timing"
        )
    };
    let _ = bpfsign_runtime::take_stage_timings();
    let spec = SignedOnly::spec();
    let opts = LoadOptions::new().keyring(Keyring::Session);
    let result = assert_no_leak("first load of the process", || {
        let r = if release.is_empty() {
            load(spec, &opts)
        } else {
            bpfsign_runtime::load_with_kernel_release(spec, &opts, &release)
        };
        match r {
            Ok(skel) => format!("loaded {}", skel.protocol()),
            Err(e) => format!(
                "{:?}/{}",
                e.stage(),
                e.errno().map_or("-", bpfsign_runtime::errno_name)
            ),
        }
    });
    eprintln!("result: {result}");
    eprintln!(
        "prog-loads: {}",
        prog_loads(&bpfsign_runtime::take_stage_timings())
    );
    eprintln!("probe: {}", bpfsign_runtime::probe());
}

/// `N before the probe, M after` (or `N before the probe, no probe`): the `BPF_PROG_LOAD` calls
/// among `stages`, split at the junk-signature probe. Its own load, recorded when it returned,
/// just before the probe's stage, is not counted (a probe whose map failed made none); "after"
/// also counts a behavioural probe's load (vmlinux BTF unreadable).
fn prog_loads(stages: &[bpfsign_runtime::StageTiming]) -> String {
    let is_load = |t: &bpfsign_runtime::StageTiming| t.stage == "bpf:PROG_LOAD";
    let loads = |s: &[bpfsign_runtime::StageTiming]| s.iter().filter(|t| is_load(t)).count();
    match stages
        .iter()
        .position(|t| t.stage == "probe:junk-signature")
    {
        Some(i) => {
            let probes_own = usize::from(i > 0 && is_load(&stages[i - 1]));
            format!(
                "{} before the probe, {} after",
                loads(&stages[..i]) - probes_own,
                loads(&stages[i + 1..])
            )
        }
        None => format!("{} before the probe, no probe", loads(stages)),
    }
}
