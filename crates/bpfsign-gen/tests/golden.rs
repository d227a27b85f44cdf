//! Byte-exactness against the reference bpftools, for every fixture object with goldens.
//!
//! The goldens (`tests/fixtures/golden/`, made by `tests/fixtures/regen-goldens.sh`) are the
//! `opts_*` arrays of `bpftool-{p1,p1b,p2} gen skeleton -L -S` and of `bpftool-p2 gen skeleton -L`
//! for each committed object, signed with `keys/TEST-ONLY-key-a.pem`. This test generates the
//! same object with bpfsign and compares data, loaders, exclusive-map hashes and signatures.
//! A mismatch reports the first differing instruction, decoded, not a byte dump.

use bpfsign_test_support::golden::{decode_insn, diff_bytes, diff_insns, fixture_list, signer};
use bpfsign_test_support::read;

use bpfsign_gen::artifact::{sha256, Artifact};
use bpfsign_gen::emit::LoaderConfig;
use bpfsign_gen::meta::Protocol;
use bpfsign_gen::{generate, generate_with_config, parse_object, GenOptions};

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn golden_corpus_is_complete() {
    let list = fixture_list();
    assert!(
        list.len() >= 12,
        "only {} fixtures in golden/index.tsv",
        list.len()
    );
    assert!(
        list.iter().filter(|f| f.stem.ends_with(".gcc")).count() >= 2,
        "need at least two GCC-built fixtures"
    );
    for f in &list {
        assert!(f.object.is_file(), "{} missing", f.object.display());
    }
}

#[test]
fn generated_bytes_equal_reference_bpftools() {
    let signer = signer();
    let mut failures = Vec::new();
    let mut checked = 0;
    for f in fixture_list() {
        let elf = read(&f.object);
        let file_name = f.object.file_name().unwrap().to_string_lossy().into_owned();
        let obj = match parse_object(&file_name, &elf) {
            Ok(o) => o,
            Err(e) => {
                failures.push(format!("{}: parse failed: {e}", f.stem));
                continue;
            }
        };
        let opts = GenOptions {
            name: Some(f.name.clone()),
            ..Default::default()
        };
        let generated = match generate(&obj, &opts) {
            Ok(g) => g,
            Err(e) => {
                failures.push(format!("{}: generate failed: {e}", f.stem));
                continue;
            }
        };
        let artifact = match Artifact::from_generated(generated, Some(&signer)) {
            Ok(a) => a,
            Err(e) => {
                failures.push(format!("{}: artifact failed: {e}", f.stem));
                continue;
            }
        };
        let mut check = |what: &str, diff: Option<String>| {
            if let Some(d) = diff {
                failures.push(format!("{} {what}: {d}", f.stem));
            }
        };
        check(
            "data blob",
            diff_bytes(&f.golden("data.bin"), &artifact.data),
        );
        for (protocol, stem) in [
            (Protocol::Unsigned, "unsigned"),
            (Protocol::P1b, "p1b"),
            (Protocol::P2, "p2"),
        ] {
            let Some(v) = artifact.variant(protocol) else {
                check(stem, Some("variant missing".to_string()));
                continue;
            };
            check(
                &format!("{stem} insns"),
                diff_insns(&f.golden(&format!("{stem}.insns")), &v.insns),
            );
            if protocol != Protocol::Unsigned {
                check(
                    &format!("{stem} excl"),
                    diff_bytes(&f.golden(&format!("{stem}.excl")), &v.excl_prog_hash),
                );
                let sig = v.signature.clone().unwrap_or_default();
                check(
                    &format!("{stem} signature"),
                    diff_bytes(&f.golden(&format!("{stem}.sig")), &sig),
                );
            }
        }
        if artifact.variant(Protocol::P1).is_none() {
            check("p1", Some("variant missing".to_string()));
        }
        // bpftool-p1 (libbpf 1.7.0) through the generator's documented compatibility config:
        // same blob, the 1.7.0 jump offsets and ctx overrides; hash and signature over its insns.
        match generate_with_config(&obj, &opts, &LoaderConfig::bpftool_p1_compat()) {
            Ok((insns, data)) => {
                check(
                    "p1-libbpf170 data",
                    diff_bytes(&f.golden("data.bin"), &data),
                );
                check(
                    "p1-libbpf170 insns",
                    diff_insns(&f.golden("p1-libbpf170.insns"), &insns),
                );
                check(
                    "p1-libbpf170 excl",
                    diff_bytes(&f.golden("p1-libbpf170.excl"), &sha256(&insns)),
                );
                match signer.sign(&insns) {
                    Ok(sig) => check(
                        "p1-libbpf170 signature",
                        diff_bytes(&f.golden("p1-libbpf170.sig"), &sig),
                    ),
                    Err(e) => check("p1-libbpf170 signature", Some(e.to_string())),
                }
            }
            Err(e) => check("p1-libbpf170", Some(format!("generate failed: {e}"))),
        }
        checked += 1;
    }
    assert!(
        failures.is_empty(),
        "{} mismatches over {checked} fixtures:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn decoder_names_instructions() {
    // r1 = 0 (mov64 imm), exit, if r0 != 0 goto -3, ld_imm64 map_idx_value
    assert!(decode_insn(&[0xb7, 0x01, 0, 0, 0, 0, 0, 0]).contains("r1 mov= 0"));
    assert!(decode_insn(&[0x95, 0, 0, 0, 0, 0, 0, 0]).contains("exit"));
    assert!(decode_insn(&[0x55, 0x00, 0xfd, 0xff, 0, 0, 0, 0]).contains("if r0 jne 0 goto -3"));
    assert!(decode_insn(&[0x18, 0x61, 0, 0, 3, 0, 0, 0]).contains("ld_imm64 src=6 imm=0x3"));
    let d = diff_insns(
        &[0x95, 0, 0, 0, 0, 0, 0, 0],
        &[0xb7, 0x01, 0, 0, 0, 0, 0, 0],
    )
    .unwrap();
    assert!(d.contains("first difference at insn 0"), "{d}");
    assert!(diff_bytes(b"abcd", b"abXd").unwrap().contains("offset 2"));
}
