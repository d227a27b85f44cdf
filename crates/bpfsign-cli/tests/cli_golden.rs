//! `bpfsign gen` + `bpfsign dump` reproduce the reference bpftools' bytes (the outside check of
//! the goldens, see `crates/bpfsign-gen/tests/golden.rs`).

use std::process::Command;

use bpfsign_test_support::golden::{diff_bytes, diff_insns};
use bpfsign_test_support::{fixtures, read};

/// `bpfsign gen` + `bpfsign dump` for hello reproduce bpftool's bytes (the outside check).
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
        // The unsigned loader is compared with its golden too, so embed it.
        .args(["--name", "hello", "--allow-unsigned", "-o"])
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
