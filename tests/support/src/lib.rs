//! Helpers shared by bpfsign's tests: the one fixture tree (`tests/fixtures`), scratch
//! directories and the pinned build-host inputs of the kcfg goldens.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bpfsign_gen::GenOptions;

pub mod golden;

/// `tests/fixtures` of the workspace.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
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

/// The build-host inputs the kcfg goldens were made with (`tests/fixtures/gen/README.md`) (the build host of the kcfg goldens).
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
