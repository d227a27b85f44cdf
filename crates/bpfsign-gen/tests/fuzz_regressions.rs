//! Replays the fuzz inputs through the fuzz targets' own code, without afl: every crash or
//! hang `tests/fuzz/run.sh` ever found (`tests/fuzz/regressions/<target>/`), the seed corpus
//! (`tests/fuzz/corpus/<target>/`) and, for `parse_generate`, every fixture object. No input
//! may panic. The targets live in the fuzz crate (its own workspace, see tests/README.md
//! "Fuzzing"); their source is included here so both run the same code.

#[allow(dead_code)]
#[path = "../../../tests/fuzz/src/targets.rs"]
mod targets;

#[allow(dead_code)]
#[path = "../../../tests/fuzz/src/replay.rs"]
mod replay;

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The inputs of `target` under `dirs` (missing directories hold none).
fn inputs(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for d in dirs.iter().filter(|d| d.exists()) {
        files.extend(replay::input_files(d).unwrap());
    }
    files
}

fn replay_all(target: &str, fun: fn(&[u8]), extra: &[PathBuf]) -> usize {
    let fuzz = repo().join("tests/fuzz");
    let mut dirs = vec![
        fuzz.join("corpus").join(target),
        fuzz.join("regressions").join(target),
    ];
    dirs.extend_from_slice(extra);
    let files = inputs(&dirs);
    let failures = replay::replay(fun, &files).unwrap();
    let report: Vec<String> = failures
        .iter()
        .map(|f| format!("{}: {}", f.path.display(), f.message))
        .collect();
    assert!(
        failures.is_empty(),
        "{target}: {} of {} inputs panicked:\n{}",
        failures.len(),
        files.len(),
        report.join("\n")
    );
    files.len()
}

#[test]
fn parse_generate_inputs_do_not_panic() {
    let fixtures = repo().join("tests/fixtures");
    let n = replay_all(
        "parse_generate",
        targets::parse_generate,
        &[fixtures.join("obj"), fixtures.join("gen")],
    );
    // The fixture objects alone are more than 20.
    assert!(n > 20, "only {n} inputs found");
}

#[test]
fn artifact_read_inputs_do_not_panic() {
    let n = replay_all("artifact_read", targets::artifact_read, &[]);
    assert!(n >= 5, "only {n} inputs found");
}

#[test]
fn sign_verify_inputs_do_not_panic() {
    let n = replay_all("sign_verify", targets::sign_verify, &[]);
    assert!(n >= 5, "only {n} inputs found");
}

#[test]
fn the_seed_corpus_reaches_the_accepting_paths() {
    // Seeds that only hit error paths would leave the fuzzer far from the interesting code.
    let corpus = repo().join("tests/fuzz/corpus");
    for f in inputs(&[corpus.join("artifact_read")]) {
        let bytes = std::fs::read(&f).unwrap();
        bpfsign_gen::Artifact::from_bytes(&bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    }
    let cert =
        bpfsign_gen::Certificate::from_file(repo().join("tests/fixtures/keys/TEST-ONLY-key-a.der"))
            .unwrap();
    let payload = std::fs::read(repo().join("tests/fixtures/gen/sig/payload.bin")).unwrap();
    let sig = std::fs::read(corpus.join("sign_verify/kernel-rsa-sha256.der")).unwrap();
    cert.verify_detached(&payload, &sig, "kernel-rsa-sha256.der")
        .unwrap();
    assert!(targets::run("nope", b"").is_none());
    for t in targets::TARGETS {
        assert!(corpus.join(t).is_dir() || t == "parse_generate", "{t}");
        assert_eq!(targets::run(t, b""), Some(()), "{t}");
    }
}
