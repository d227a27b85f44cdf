//! The tamper matrix: hello signed with key A (registered in a fresh session keyring), changed
//! one way at a time after signing, loaded with every signed protocol the kernel speaks:
//!
//! * through bpfsign-runtime (`load` with a modified `SkeletonSpec`): a byte of the loader
//!   instructions, of the data blob, of the signature (its value and its ASN.1 header), of the
//!   metadata map's `excl_prog_hash`; another variant's signature; a signature by key B, whose
//!   certificate nobody registered. Each failure must be the kernel's errno of docs/protocol.md §5 at the
//!   stage bpfsign reports, with guidance;
//! * with raw `bpf(2)` (the host sequence written out in `bpfsign_kernel_tests::raw`, which
//!   bpfsign-runtime never deviates from): instructions changed and the map re-bound to their
//!   digest, a metadata map that is not exclusive, not frozen, not an array, and a wrong
//!   `fd_array_cnt`.
//!
//! Every case runs inside a leak check: afterwards no new BPF program, map or link exists (VMs)
//! and the process holds the same fds and BPF mappings. The host (no signature verification)
//! must answer EOPNOTSUPP at `BPF_PROG_LOAD` to every signed case.

use bpfsign_kernel_tests::leak::assert_no_leak;
use bpfsign_kernel_tests::raw::{self, RawError, RawLoad};
use bpfsign_kernel_tests::*;
use bpfsign_runtime::{
    load, Keyring, LoadOptions, LoaderVariant, Protocol, SkeletonSpec, Stage,
    KEY_SPEC_SESSION_KEYRING,
};

/// What a runtime load is expected to end with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    /// Loads (and is dropped again).
    Loads,
    /// Fails at `stage` with `errno`; `from_loader`: the loader's return value.
    Fails(Stage, i32, bool),
}

use Want::{Fails, Loads};

/// The signed protocols whose untampered hello loads on `k` (docs/protocol.md §3.4): the kernel's own, plus
/// P1 on the P1b kernel (same kernel check, no loader check). None on the host.
fn runnable(k: Kernel) -> &'static [Protocol] {
    match k {
        Kernel::K6_18_15 => &[Protocol::P1],
        Kernel::K7_2_13 => &[Protocol::P1, Protocol::P1b],
        Kernel::K7_3_4 => &[Protocol::P2],
        Kernel::Host => &[],
    }
}

/// The protocols a case runs with on `k`: the runnable ones, or on the host every signed one
/// (each must be refused with EOPNOTSUPP).
fn protocols(k: Kernel) -> &'static [Protocol] {
    match k {
        Kernel::Host => &[Protocol::P1, Protocol::P1b, Protocol::P2],
        k => runnable(k),
    }
}

/// The host refuses every signed load: no `CONFIG_SYSTEM_DATA_VERIFICATION`.
const HOST: Want = Fails(Stage::ProgLoad, libc::EOPNOTSUPP, false);

/// hello's spec with `p`'s variant as its only one, changed by `edit`.
fn hello_variant(
    base: &SkeletonSpec<'static>,
    p: Protocol,
    edit: impl FnOnce(&mut LoaderVariant<'static>),
) -> SkeletonSpec<'static> {
    let mut v = *base.variant(p).expect("hello has every variant");
    edit(&mut v);
    SkeletonSpec {
        variants: Box::leak(Box::new([v])),
        ..*base
    }
}

/// A copy of `bytes` with bit 0 of byte `at` flipped.
fn flipped(bytes: &[u8], at: usize) -> &'static [u8] {
    let mut v = bytes.to_vec();
    v[at] ^= 0x01;
    Box::leak(v.into_boxed_slice())
}

/// Byte offset of the `imm` field of the middle instruction of a loader.
fn middle_imm(insns: &[u8]) -> usize {
    (insns.len() / 8 / 2) * 8 + 4
}

/// Loads `spec` signed with protocol `p` from the session keyring inside a leak check and
/// asserts the outcome; returns a line for the log.
fn check(case: &str, spec: &SkeletonSpec<'_>, p: Protocol, want: Want) -> String {
    let opts = LoadOptions::new().protocol(p).keyring(Keyring::Session);
    let what = format!("{case} [{p}]");
    let got = assert_no_leak(&what, || load(spec, &opts).map(drop));
    let line = match (&got, want) {
        (Ok(()), Loads) => format!("{what}: loads"),
        (Err(e), Fails(stage, errno, from_loader)) => {
            assert_eq!(
                (e.stage(), e.errno(), e.from_loader()),
                (stage, Some(errno), from_loader),
                "{what}: {e}"
            );
            assert_eq!(e.protocol(), Some(p), "{what}: {e}");
            assert!(!e.guidance().is_empty(), "{what}: no guidance: {e}");
            assert!(!e.detail().is_empty(), "{what}: no detail: {e}");
            format!(
                "{what}: {} {} at {:?}{}",
                e.errno_name().unwrap_or("?"),
                errno,
                e.stage(),
                if e.from_loader() {
                    " (loader retval)"
                } else {
                    ""
                }
            )
        }
        (got, want) => panic!("{what}: expected {want:?}, got {got:?}"),
    };
    eprintln!("OBSERVED {line}");
    line
}

/// Registers cert A in a fresh session keyring and returns the kernel and hello's spec.
fn setup() -> (Kernel, SkeletonSpec<'static>) {
    let k = Kernel::get();
    session_with_cert_a();
    (k, fixture("hello").spec)
}

/// Control: each runnable protocol loads untampered (so every refusal below is the tamper's).
fn control(k: Kernel, hello: &SkeletonSpec<'static>) {
    for &p in protocols(k) {
        let want = if k == Kernel::Host { HOST } else { Loads };
        check("control (untampered)", hello, p, want);
    }
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_tamper_loader_insns() {
    let (k, hello) = setup();
    control(k, &hello);
    for &p in protocols(k) {
        let spec = hello_variant(&hello, p, |v| {
            v.insns = flipped(v.insns, middle_imm(v.insns))
        });
        let want = match (k, p) {
            (Kernel::Host, _) => HOST,
            // P2: the metadata map is still exclusive to the signed digest, and the kernel
            // checks exclusivity (process_fd_array) before the signature.
            (_, Protocol::P2) => Fails(Stage::ProgLoad, libc::EACCES, false),
            // P1/P1b: the signature over the instructions is checked first.
            _ => Fails(Stage::ProgLoad, libc::EKEYREJECTED, false),
        };
        check("loader insns byte flipped", &spec, p, want);
    }
    // The attacker also re-binds the metadata map to the changed instructions' digest (raw
    // sequence; the digest comes from the kernel): now only the signature can tell.
    for &p in protocols(k) {
        let v = hello.variant(p).expect("variant");
        let insns = flipped(v.insns, middle_imm(v.insns));
        let digest = raw::kernel_sha256(insns).expect("kernel SHA-256 of the changed insns");
        assert_ne!(digest, v.excl_prog_hash);
        let run = RawLoad {
            insns,
            excl_prog_hash: Some(digest),
            ..raw_load(&hello, p)
        };
        let got = assert_no_leak("insns flipped, map re-bound", || run.run());
        let want = if k == Kernel::Host {
            libc::EOPNOTSUPP
        } else {
            libc::EKEYREJECTED
        };
        assert!(
            matches!(&got, Err(RawError::ProgLoad(e, _)) if *e == want),
            "insns flipped, map re-bound [{p}]: expected PROG_LOAD errno {want}, got {got:?}"
        );
        eprintln!(
            "OBSERVED loader insns flipped + map re-bound to their digest [{p}] (raw): {got:?}"
        );
    }
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_tamper_data_blob() {
    let (k, hello) = setup();
    control(k, &hello);
    let data = tamper(hello.data, HELLO_FORMAT);
    for &p in protocols(k) {
        let spec = SkeletonSpec {
            data,
            ..hello_variant(&hello, p, |_| {})
        };
        let want = match (k, p) {
            (Kernel::Host, _) => HOST,
            // P2 signs instructions ‖ metadata.
            (_, Protocol::P2) => Fails(Stage::ProgLoad, libc::EKEYREJECTED, false),
            // P1/P1b: PROG_LOAD succeeds, the loader's hash check returns -EINVAL.
            _ => Fails(Stage::LoaderRun, libc::EINVAL, true),
        };
        check("data blob byte flipped", &spec, p, want);
    }
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_tamper_signature() {
    let (k, hello) = setup();
    control(k, &hello);
    for &p in protocols(k) {
        let sig = hello.variant(p).and_then(|v| v.signature).expect("signed");
        // The last byte belongs to the signature value (the PKCS#7 still parses).
        let value = hello_variant(&hello, p, |v| {
            v.signature = Some(flipped(sig, sig.len() - 1))
        });
        // The first byte is the outer SEQUENCE tag: no PKCS#7 any more.
        assert_eq!(sig[0], 0x30, "a DER SEQUENCE");
        let header = hello_variant(&hello, p, |v| v.signature = Some(flipped(sig, 0)));
        let (w_value, w_header) = match k {
            Kernel::Host => (HOST, HOST),
            _ => (
                Fails(Stage::ProgLoad, libc::EKEYREJECTED, false),
                Fails(Stage::ProgLoad, libc::EBADMSG, false),
            ),
        };
        check("signature value byte flipped", &value, p, w_value);
        check("signature ASN.1 tag byte flipped", &header, p, w_header);
    }
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_tamper_excl_hash() {
    let (k, hello) = setup();
    control(k, &hello);
    for &p in protocols(k) {
        let spec = hello_variant(&hello, p, |v| v.excl_prog_hash[7] ^= 0x01);
        let want = match k {
            Kernel::Host => HOST,
            // The map is exclusive to another digest: refused where the loader binds it
            // (verifier on P1/P1b, process_fd_array on P2), after the signature passed.
            _ => Fails(Stage::ProgLoad, libc::EACCES, false),
        };
        check("excl_prog_hash byte flipped", &spec, p, want);
    }
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_tamper_swapped_signatures() {
    let (k, hello) = setup();
    control(k, &hello);
    let signed = [Protocol::P1, Protocol::P1b, Protocol::P2];
    for &p in protocols(k) {
        for q in signed.into_iter().filter(|&q| q != p) {
            let other = hello.variant(q).and_then(|v| v.signature).expect("signed");
            let spec = hello_variant(&hello, p, |v| v.signature = Some(other));
            let want = match k {
                Kernel::Host => HOST,
                // A valid signature by the registered key, over other bytes.
                _ => Fails(Stage::ProgLoad, libc::EKEYREJECTED, false),
            };
            check(
                &format!("{q}'s signature on the {p} loader"),
                &spec,
                p,
                want,
            );
        }
    }
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_tamper_unregistered_key() {
    let (k, hello) = setup();
    control(k, &hello);
    let by_b = HELLO_KEY_B.spec;
    for &p in protocols(k) {
        // Same loader bytes, signed by key B; only A's certificate is in the keyring.
        assert_eq!(
            by_b.variant(p).unwrap().insns,
            hello.variant(p).unwrap().insns
        );
        assert_ne!(
            by_b.variant(p).unwrap().signature,
            hello.variant(p).unwrap().signature
        );
        let want = match k {
            Kernel::Host => HOST,
            _ => Fails(Stage::ProgLoad, libc::ENOKEY, false),
        };
        let line = check("signed with unregistered key B", &by_b, p, want);
        assert!(!line.is_empty());
        if k != Kernel::Host {
            // The guidance names the keyring that was searched.
            let e = load(
                &by_b,
                &LoadOptions::new().protocol(p).keyring(Keyring::Session),
            )
            .expect_err("key B is not registered");
            assert!(e.is_signature_rejection(), "{e}");
            assert_eq!(e.keyring(), Some(Keyring::Session), "{e}");
        }
    }
}

/// The raw sequence bpfsign-runtime performs for hello's `p` loader, signed from the session
/// keyring: the baseline the raw cases change one knob of.
fn raw_load(hello: &SkeletonSpec<'static>, p: Protocol) -> RawLoad<'static> {
    let v = hello.variant(p).expect("variant");
    RawLoad {
        insns: v.insns,
        data: hello.data,
        map_type: raw::BPF_MAP_TYPE_ARRAY,
        excl_prog_hash: Some(v.excl_prog_hash),
        freeze: true,
        hash_map: matches!(p, Protocol::P1 | Protocol::P1b),
        signature: v.signature,
        keyring_id: KEY_SPEC_SESSION_KEYRING,
        fd_array_cnt: u32::from(p == Protocol::P2),
        n_maps: hello.maps.len(),
        n_progs: hello.progs.len(),
    }
}

fn raw_case(case: &str, p: Protocol, run: &RawLoad<'_>, want: &Result<i32, RawError>) {
    let what = format!("{case} [{p}] (raw)");
    let got = assert_no_leak(&what, || run.run());
    // Compare errnos only (the verifier log text is the kernel's, not asserted).
    let key = |r: &Result<i32, RawError>| match r {
        Err(RawError::ProgLoad(e, _)) => Err(RawError::ProgLoad(*e, String::new())),
        other => other.clone(),
    };
    assert_eq!(key(&got), key(want), "{what}: {got:?}");
    let shown = match &got {
        Err(RawError::ProgLoad(e, log)) => format!(
            "PROG_LOAD {} {e} (log: {:?})",
            bpfsign_runtime::errno_name(*e),
            log.lines().last().unwrap_or("")
        ),
        other => format!("{other:?}"),
    };
    eprintln!("OBSERVED {what}: {shown}");
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_tamper_metadata_map() {
    let (k, hello) = setup();
    let prog_load = |e: i32| Err(RawError::ProgLoad(e, String::new()));
    for &p in protocols(k) {
        let base = raw_load(&hello, p);
        // Control: the raw sequence as bpfsign-runtime does it loads (retval 0).
        let want = match k {
            Kernel::Host => prog_load(libc::EOPNOTSUPP),
            _ => Ok(0),
        };
        raw_case("control", p, &base, &want);

        // Not exclusive (CVE-2026-80675).
        let want = match (k, p) {
            (Kernel::Host, _) => prog_load(libc::EOPNOTSUPP),
            (_, Protocol::P2) => prog_load(libc::EPERM),
            // P1 cannot see it (documented weakness); P1b's loader checks map->excl.
            (_, Protocol::P1) => Ok(0),
            _ => Ok(-libc::EINVAL),
        };
        let run = RawLoad {
            excl_prog_hash: None,
            ..base.clone()
        };
        raw_case("metadata map not exclusive", p, &run, &want);

        // Not frozen.
        let want = match (k, p) {
            // P2 computes no hash in user space: the host's PROG_LOAD refuses the signature first.
            (Kernel::Host, Protocol::P2) => prog_load(libc::EOPNOTSUPP),
            (_, Protocol::P2) => prog_load(libc::EPERM),
            // The hash of an unfrozen map is refused (6.18.15 has the check as well).
            _ => Err(RawError::MapHash(libc::EPERM)),
        };
        let run = RawLoad {
            freeze: false,
            ..base.clone()
        };
        raw_case("metadata map not frozen", p, &run, &want);

        // A map of another type than the loader's array (created by someone else).
        let want = match (k, p) {
            (Kernel::Host, Protocol::P2) => prog_load(libc::EOPNOTSUPP),
            (_, Protocol::P2) => prog_load(libc::EINVAL),
            // Only array maps have a hash.
            _ => Err(RawError::MapHash(libc::EINVAL)),
        };
        let run = RawLoad {
            map_type: raw::BPF_MAP_TYPE_HASH,
            ..base.clone()
        };
        raw_case("metadata map is a hash map", p, &run, &want);

        // A map exclusive to another loader (the P1b/P2 loader's digest).
        let other = if p == Protocol::P2 {
            Protocol::P1b
        } else {
            Protocol::P2
        };
        let want = match k {
            Kernel::Host => prog_load(libc::EOPNOTSUPP),
            _ => prog_load(libc::EACCES),
        };
        let run = RawLoad {
            excl_prog_hash: Some(hello.variant(other).unwrap().excl_prog_hash),
            ..base.clone()
        };
        raw_case(
            &format!("metadata map exclusive to the {other} loader"),
            p,
            &run,
            &want,
        );

        // Wrong fd_array_cnt.
        let wrong: &[u32] = match p {
            Protocol::P2 => &[0, 2],
            _ => &[1, 2],
        };
        for &cnt in wrong {
            let want = match (k, p, cnt) {
                (Kernel::Host, _, _) => prog_load(libc::EOPNOTSUPP),
                // Without fd_array_cnt no map is bound before the signature check, so the kernel
                // verifies the signature over the instructions alone, and bpfsign's P2 signature
                // covers instructions ‖ metadata: rejected before the verifier could complain
                // about the map reached without fd_array_cnt (the EACCES of docs/protocol.md §5 needs a
                // signature over the instructions only).
                (_, Protocol::P2, 0) => prog_load(libc::EKEYREJECTED),
                // The same map twice in fd_array is one used map.
                (_, Protocol::P2, _) => Ok(0),
                // P1/P1b kernels bind fd_array maps at the start of the verification and refuse
                // the exclusive metadata map there ("program's hash doesn't match map's
                // excl_prog_hash"): observed on 6.18.15 and 7.2.13, the reason P1/P1b send
                // fd_array_cnt = 0 and let the loader bind the map by index.
                _ => prog_load(libc::EACCES),
            };
            let run = RawLoad {
                fd_array_cnt: cnt,
                ..base.clone()
            };
            raw_case(&format!("fd_array_cnt = {cnt}"), p, &run, &want);
        }
    }
}
