//! Byte-exactness against the reference bpftools, for every fixture object with goldens.
//!
//! The goldens (`tests/fixtures/golden/`, made by `tests/fixtures/regen-goldens.sh`) are the
//! `opts_*` arrays of `bpftool-{p1,p1b,p2} gen skeleton -L -S` and of `bpftool-p2 gen skeleton -L`
//! for each committed object, signed with `keys/TEST-ONLY-key-a.pem`. This test generates the
//! same object with bpfsign and compares data, loaders, exclusive-map hashes and signatures.
//! A mismatch reports the first differing instruction, decoded, not a byte dump.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
#[cfg(feature = "cli")]
use std::process::Command;

use bpfsign_build::artifact::{sha256, Artifact};
use bpfsign_build::emit::LoaderConfig;
use bpfsign_build::meta::Protocol;
use bpfsign_build::sign::Signer;
use bpfsign_build::{generate, generate_with_config, parse_object, GenOptions};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One line of `golden/index.tsv`.
struct Fixture {
    stem: String,
    object: PathBuf,
    name: String,
}

impl Fixture {
    fn golden(&self, file: &str) -> Vec<u8> {
        read(&fixtures().join("golden").join(&self.stem).join(file))
    }
}

fn fixture_list() -> Vec<Fixture> {
    let index = String::from_utf8(read(&fixtures().join("golden/index.tsv"))).unwrap();
    index
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 3, "bad index line {l:?}");
            Fixture {
                stem: cols[0].into(),
                object: fixtures().join("obj").join(cols[1]),
                name: cols[2].into(),
            }
        })
        .collect()
}

fn signer() -> Signer {
    Signer::from_pem_file(fixtures().join("keys/TEST-ONLY-key-a.pem")).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Mismatch reporting

/// Human-readable form of one 8-byte BPF instruction.
fn decode_insn(b: &[u8]) -> String {
    if b.len() < 8 {
        return format!("(truncated: {} bytes)", b.len());
    }
    let code = b[0];
    let (dst, src) = (b[1] & 0x0f, b[1] >> 4);
    let off = i16::from_le_bytes([b[2], b[3]]);
    let imm = i32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    let class = code & 7;
    let x = code & 0x08 != 0;
    let op = code & 0xf0;
    let size = ["w", "h", "b", "dw"][usize::from((code >> 3) & 3)];
    let text = match class {
        4 | 7 => {
            let names = [
                "add", "sub", "mul", "div", "or", "and", "lsh", "rsh", "neg", "mod", "xor", "mov",
                "arsh", "end",
            ];
            let name = names.get(usize::from(op >> 4)).copied().unwrap_or("alu?");
            let w = if class == 7 { "r" } else { "w" };
            let rhs = if x {
                format!("r{src}")
            } else {
                format!("{imm}")
            };
            format!("{w}{dst} {name}= {rhs}")
        }
        5 | 6 => {
            let names = [
                "ja", "jeq", "jgt", "jge", "jset", "jne", "jsgt", "jsge", "call", "exit", "jlt",
                "jle", "jslt", "jsle",
            ];
            let name = names.get(usize::from(op >> 4)).copied().unwrap_or("jmp?");
            match op {
                0x80 => format!("call imm={imm} src={src} off={off}"),
                0x90 => "exit".to_string(),
                0x00 => format!("goto {off:+}"),
                _ => {
                    let rhs = if x {
                        format!("r{src}")
                    } else {
                        format!("{imm}")
                    };
                    format!("if r{dst} {name} {rhs} goto {off:+}")
                }
            }
        }
        0 if code == 0x18 => {
            format!("r{dst} = ld_imm64 src={src} imm={imm:#x} (second half follows)")
        }
        0 if code == 0x00 => format!("ld_imm64 second half, imm={imm:#x}"),
        1 => format!("r{dst} = *({size} *)(r{src} {off:+})"),
        2 => format!("*({size} *)(r{dst} {off:+}) = {imm}"),
        3 if code & 0xe0 == 0xc0 => format!("atomic {size} (r{dst} {off:+}) op={imm:#x} r{src}"),
        3 => format!("*({size} *)(r{dst} {off:+}) = r{src}"),
        _ => "?".to_string(),
    };
    format!("code={code:#04x} dst=r{dst} src={src} off={off} imm={imm} ({text})")
}

/// `None` when equal; otherwise the first differing instruction with context.
fn diff_insns(expected: &[u8], actual: &[u8]) -> Option<String> {
    if expected == actual {
        return None;
    }
    let mut s = format!(
        "{} insns expected, {} generated",
        expected.len() / 8,
        actual.len() / 8
    );
    let n = expected.len().min(actual.len()) / 8;
    let first = (0..n)
        .find(|&i| expected[8 * i..8 * i + 8] != actual[8 * i..8 * i + 8])
        .unwrap_or(n);
    let _ = write!(s, "; first difference at insn {first}");
    for i in first.saturating_sub(2)..(first + 3) {
        let e = expected.get(8 * i..8 * i + 8);
        let a = actual.get(8 * i..8 * i + 8);
        if e.is_none() && a.is_none() {
            break;
        }
        let mark = if i == first { ">>" } else { "  " };
        let show = |b: Option<&[u8]>| b.map_or("(none)".to_string(), decode_insn);
        let _ = write!(
            s,
            "\n  {mark} #{i:<5} bpftool: {}\n  {mark} {:6} bpfsign: {}",
            show(e),
            "",
            show(a)
        );
    }
    Some(s)
}

/// `None` when equal; otherwise the first differing byte offset with a short hex window.
fn diff_bytes(expected: &[u8], actual: &[u8]) -> Option<String> {
    if expected == actual {
        return None;
    }
    let n = expected.len().min(actual.len());
    let first = (0..n).find(|&i| expected[i] != actual[i]).unwrap_or(n);
    let start = first.saturating_sub(8) & !7;
    let hex = |b: &[u8]| {
        let end = (start + 24).min(b.len());
        b.get(start..end)
            .unwrap_or(&[])
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    Some(format!(
        "{} bytes expected, {} generated; first difference at offset {first}\n  bpftool @{start}: {}\n  bpfsign @{start}: {}",
        expected.len(),
        actual.len(),
        hex(expected),
        hex(actual)
    ))
}

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

/// `bpfsign gen` + `bpfsign dump` for hello reproduce bpftool's bytes (the outside check).
#[cfg(feature = "cli")]
#[test]
fn cli_gen_and_dump_match_goldens_for_hello() {
    let bin = env!("CARGO_BIN_EXE_bpfsign");
    let dir = std::env::temp_dir().join(format!("bpfsign-golden-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let skel = dir.join("hello.skel");
    let out = Command::new(bin)
        .arg("gen")
        .arg(fixtures().join("obj/hello.bpf.o"))
        .arg("--key")
        .arg(fixtures().join("keys/TEST-ONLY-key-a.pem"))
        .args(["--name", "hello", "-o"])
        .arg(&skel)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bpfsign gen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let golden = fixtures().join("golden/hello");
    for protocol in ["p1b", "p2"] {
        for what in ["insns", "data", "sig", "excl"] {
            let file = dir.join(format!("{protocol}.{what}"));
            let out = Command::new(bin)
                .arg("dump")
                .arg(&skel)
                .args(["--protocol", protocol, "--what", what, "-o"])
                .arg(&file)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "dump {protocol} {what}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let expected = if what == "data" {
                golden.join("data.bin")
            } else {
                golden.join(format!("{protocol}.{what}"))
            };
            let (e, a) = (read(&expected), read(&file));
            let diff = if what == "insns" {
                diff_insns(&e, &a)
            } else {
                diff_bytes(&e, &a)
            };
            assert!(
                diff.is_none(),
                "hello {protocol} {what}: {}",
                diff.unwrap_or_default()
            );
        }
    }
    // Stdout dump and the unsigned variant.
    let out = Command::new(bin)
        .arg("dump")
        .arg(&skel)
        .args(["--protocol", "unsigned", "--what", "insns", "-o", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(diff_insns(&read(&golden.join("unsigned.insns")), &out.stdout).is_none());
    let out = Command::new(bin)
        .arg("dump")
        .arg(&skel)
        .args(["--protocol", "unsigned", "--what", "sig", "-o", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("bpfsign: dump: "),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A key/cert mismatch fails before anything is written.
#[cfg(feature = "cli")]
#[test]
fn cli_refuses_bad_key_before_writing() {
    let bin = env!("CARGO_BIN_EXE_bpfsign");
    let dir = std::env::temp_dir().join(format!("bpfsign-golden-badkey-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let skel = dir.join("out.skel");
    let out = Command::new(bin)
        .arg("gen")
        .arg(fixtures().join("obj/hello.bpf.o"))
        .arg("--key")
        .arg(fixtures().join("keys/TEST-ONLY-key-a.pem"))
        .arg("--cert")
        .arg(fixtures().join("keys/TEST-ONLY-key-b.der"))
        .arg("-o")
        .arg(&skel)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("bpfsign: key: ") && err.contains("does not match"),
        "{err}"
    );
    assert!(!skel.exists());
    std::fs::remove_dir_all(&dir).unwrap();
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
