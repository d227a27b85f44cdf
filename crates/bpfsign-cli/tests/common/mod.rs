//! Helpers of the CLI tests: running the `bpfsign` binary and checking its exit status, plus
//! the shared test support.
#![allow(dead_code)]

pub use bpfsign_test_support::*;

/// `&[&OsStr]` from path-like and string arguments.
#[allow(unused_macros)]
macro_rules! os {
    ($($a:expr),* $(,)?) => { &[$(std::ffi::OsStr::new($a)),*] };
}

/// Runs the `bpfsign` binary.
pub fn bpfsign(args: &[&std::ffi::OsStr]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_bpfsign"))
        .args(args)
        .output()
        .unwrap()
}

/// Asserts success; returns stderr (notes).
pub fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "bpfsign failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit status 1, one `bpfsign: <stage>: ` error, no panic; returns stderr.
pub fn fails(out: &std::process::Output, stage: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with(&format!("bpfsign: {stage}: ")), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}
