//! Helpers shared by the integration tests (`mod common;`): fixture paths, scratch directories,
//! the pinned build-host inputs of the kcfg goldens and, with the `cli` feature, running the
//! `bpfsign` binary. Each test file uses only some of them.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bpfsign_build::GenOptions;

/// `tests/fixtures` of the workspace.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// The bytes of `p`; panics naming the file.
pub fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A fresh scratch directory per test: `bpfsign-<group>-<test>-<pid>` in the temp directory.
pub fn scratch(group: &str, test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bpfsign-{group}-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The build-host inputs `tests/gen_inputs.rs` pins (the build host of the kcfg goldens).
pub fn kcfg_opts() -> GenOptions {
    let mut kconfig = BTreeMap::new();
    kconfig.insert("CONFIG_HZ".to_string(), "250".to_string());
    kconfig.insert("CONFIG_BPF_SYSCALL".to_string(), "y".to_string());
    kconfig.insert(
        "CONFIG_LOCALVERSION".to_string(),
        "\"-fc-v669\"".to_string(),
    );
    let mut ksym_addrs = BTreeMap::new();
    ksym_addrs.insert("_stext".to_string(), 0xffff_ffff_8100_0000);
    GenOptions {
        name: Some("kcfg".into()),
        kconfig,
        kernel_version: Some((6 << 16) | (18 << 8) | 44),
        ksym_addrs,
        ..Default::default()
    }
}

/// `&[&OsStr]` from path-like and string arguments.
#[cfg(feature = "cli")]
#[allow(unused_macros)]
macro_rules! os {
    ($($a:expr),* $(,)?) => { &[$(std::ffi::OsStr::new($a)),*] };
}

/// Runs the `bpfsign` binary.
#[cfg(feature = "cli")]
pub fn bpfsign(args: &[&std::ffi::OsStr]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_bpfsign"))
        .args(args)
        .output()
        .unwrap()
}

/// Asserts success; returns stderr (notes).
#[cfg(feature = "cli")]
pub fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "bpfsign failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit status 1, one `bpfsign: <stage>: ` error, no panic; returns stderr.
#[cfg(feature = "cli")]
pub fn fails(out: &std::process::Output, stage: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with(&format!("bpfsign: {stage}: ")), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}
