//! Every fixture object, generated and signed by bpfsign at build time (build.rs), on real
//! kernels: two kernel tests per fixture, `fixture_<stem>::kernel_signed_load_attach` and
//! `fixture_<stem>::kernel_unsigned_forms`.
//!
//! * signed: on 6.18.15 / 7.2.13 / 7.3.4 the variant the runtime probe picks (P1 / P1b / P2)
//!   loads with certificate A in a fresh session keyring; every map and autoload program exists
//!   as the metadata says (checked with `BPF_OBJ_GET_INFO_BY_FD`); every auto-attachable program
//!   attaches. On the host (no signature verification) the signed load fails with EOPNOTSUPP.
//! * unsigned forms: the Unsigned, P1, P1b and P2 loaders run without a signature (docs/protocol.md §3.4,
//!   §8). On the host: full success for fixtures without trampoline programs; for the others
//!   the loader passes the verifier and creates the maps, and its inner fentry/fexit/lsm load
//!   fails with EPERM (this host refuses those everywhere, also through libbpf). In the VMs
//!   every variant the kernel can run loads; P1b's `map->excl` read is refused by the verifier
//!   on kernels without that field (6.18.15) or with another `struct bpf_map` layout (7.3.4).
//!
//! A failure of the loader's inner loads is only accepted when bpftool's own unsigned light
//! skeleton of the same object (tests/fixtures/golden) fails the same way on that kernel.

use bpfsign_kernel_tests::*;
use bpfsign_runtime::{load, Error, Keyring, LoadOptions, LoadedSkeleton, Protocol, Stage};

macro_rules! fixture_tests {
    ($($module:ident => $stem:literal,)*) => {$(
        mod $module {
            #[test]
            #[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
            fn kernel_signed_load_attach() {
                super::signed_load_attach($stem);
            }

            #[test]
            #[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
            fn kernel_unsigned_forms() {
                super::unsigned_forms($stem);
            }
        }
    )*};
}

include!(concat!(env!("OUT_DIR"), "/fixture_tests.rs"));

/// Loads bpftool's unsigned skeleton of `f` and returns its error, asserting that it fails.
fn reference_failure(f: &Fixture, ours: &Error) -> Error {
    let spec = f.reference_spec().expect("fixture has a bpftool reference");
    match load(&spec, &LoadOptions::new().protocol(Protocol::Unsigned)) {
        Ok(_) => panic!(
            "{}: bpfsign's load failed but bpftool's unsigned light skeleton of the same object \
             loads on this kernel, so the failure is bpfsign's:\n{ours}",
            f.stem
        ),
        Err(e) => e,
    }
}

/// Accepts `ours` only if it is the loader's inner load failing and bpftool's skeleton fails
/// identically (a reason outside bpfsign); panics otherwise.
fn excuse_by_reference(f: &Fixture, what: &str, ours: &Error) {
    assert!(
        ours.stage() == Stage::LoaderRun && ours.from_loader(),
        "{}: {what} failed before the loader's inner loads, which no reference can excuse:\n{ours}",
        f.stem
    );
    let theirs = reference_failure(f, ours);
    assert!(
        same_failure(ours, &theirs),
        "{}: {what} failed differently from bpftool's unsigned skeleton:\nbpfsign: {ours}\nbpftool: {theirs}",
        f.stem
    );
    eprintln!(
        "{}: {what} cannot load on this kernel, for a reason outside bpfsign: bpftool's skeleton \
         fails the same way ({:?} errno {:?})",
        f.stem,
        ours.stage(),
        ours.errno_name()
    );
}

/// Attaches every auto-attachable program of `skel` one by one; returns the number attached.
fn attach_each(f: &Fixture, skel: &LoadedSkeleton) -> usize {
    let mut links = Vec::new();
    for i in auto_attachable(&f.spec) {
        let p = &f.spec.progs[i];
        match skel.attach_prog(i) {
            Ok(l) => links.push(l),
            Err(e) => panic!(
                "{}: attaching {} [{}] failed:\n{e}",
                f.stem, p.name, f.progs[i].section
            ),
        }
    }
    links.len()
}

fn signed_load_attach(stem: &str) {
    let f = fixture(stem);
    let k = Kernel::get();
    session_with_cert_a();
    let opts = LoadOptions::new().keyring(Keyring::Session);
    eprintln!("{} ({}): {}", f.stem, f.origin, f.describe());
    let result = load(&f.spec, &opts);
    if !k.signs() {
        let e =
            result.expect_err("a signed load succeeded on a kernel without signature verification");
        assert_eq!(e.stage(), Stage::ProgLoad, "{e}");
        assert_eq!(e.errno(), Some(libc::EOPNOTSUPP), "{e}");
        return;
    }
    let skel = match result {
        Ok(s) => s,
        Err(e) => {
            excuse_by_reference(f, &format!("the signed {} load", k.family()), &e);
            return;
        }
    };
    assert_eq!(
        skel.protocol(),
        k.family(),
        "the probe picked the kernel's protocol"
    );
    assert_loaded_as_specified(&f.spec, &skel);
    let n = attach_each(f, &skel);
    assert_eq!(n, auto_attachable(&f.spec).len());
    eprintln!(
        "{}: signed {} load ok: {} maps, {} of {} programs loaded, {n} attached",
        f.stem,
        skel.protocol(),
        skel.map_count(),
        f.spec.progs.iter().filter(|p| p.autoload).count(),
        f.spec.progs.len()
    );
}

fn unsigned_forms(stem: &str) {
    let f = fixture(stem);
    let k = Kernel::get();
    eprintln!("{} ({}): {}", f.stem, f.origin, f.describe());
    for p in Protocol::ALL {
        let opts = LoadOptions::new().protocol(p).without_signature(true);
        let mark = map_id_mark();
        let result = load(&f.spec, &opts);
        let created = map_id_mark().wrapping_sub(mark).saturating_sub(1);
        if let Some(errno) = k.refuses_loader(p) {
            let e = result.err().unwrap_or_else(|| {
                panic!(
                    "{}: the unsigned {p} loader was expected to be refused on this kernel",
                    f.stem
                )
            });
            assert_eq!(
                (e.stage(), e.errno()),
                (Stage::ProgLoad, Some(errno)),
                "{}: {e}",
                f.stem
            );
            eprintln!("{}: unsigned {p}: loader refused as expected ({e})", f.stem);
            continue;
        }
        match result {
            Ok(skel) => {
                assert_eq!(skel.protocol(), p);
                assert_loaded_as_specified(&f.spec, &skel);
                eprintln!(
                    "{}: unsigned {p}: loaded ({} maps created)",
                    f.stem, created
                );
            }
            Err(e) if k == Kernel::Host && f.loads_trampoline_prog() => {
                // This host refuses every fentry/fexit/lsm program (EPERM, also through libbpf):
                // the loader itself must pass the verifier and create every map, and then its
                // inner load of a trampoline program fails with EPERM.
                assert_eq!(e.stage(), Stage::LoaderRun, "{}: unsigned {p}: {e}", f.stem);
                assert!(
                    e.from_loader(),
                    "{}: unsigned {p}: not from the loader: {e}",
                    f.stem
                );
                assert_eq!(
                    e.errno(),
                    Some(libc::EPERM),
                    "{}: unsigned {p}: {e}",
                    f.stem
                );
                // The metadata map plus every skeleton map were created before the program
                // loads (other processes on the host can only make the count larger).
                assert!(
                    created as usize > f.spec.maps.len(),
                    "{}: unsigned {p}: only {created} maps were created, expected the metadata map \
                     and {} skeleton maps ({})",
                    f.stem,
                    f.spec.maps.len(),
                    describe_maps(f.spec.maps)
                );
                if p == Protocol::Unsigned {
                    let theirs = reference_failure(f, &e);
                    assert!(
                        same_failure(&e, &theirs),
                        "{}: bpftool: {theirs}\nbpfsign: {e}",
                        f.stem
                    );
                }
                eprintln!(
                    "{}: unsigned {p}: loader verified, {created} maps created, inner trampoline \
                     load -> EPERM (host limitation)",
                    f.stem
                );
            }
            Err(e) => excuse_by_reference(f, &format!("the unsigned {p} load"), &e),
        }
    }
}
