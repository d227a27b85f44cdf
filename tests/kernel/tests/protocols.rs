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
    let exe = std::env::current_exe().expect("current_exe");
    let out = std::process::Command::new(exe)
        .args([
            "--ignored",
            "--exact",
            "--test-threads=1",
            "--nocapture",
            "env_child",
        ])
        .env(CHILD_ENV, "refuse")
        .env("BPFSIGN_PROTOCOL", "unsigned")
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("test env_child ... ok"),
        "BPFSIGN_PROTOCOL=unsigned child failed ({}):\n{stdout}\n{stderr}",
        out.status
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
