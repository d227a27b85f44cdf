//! Kernel-facing integration tests of bpfsign, and helpers for them (see tests/README.md).
//!
//! A kernel test is a `#[test]` whose function name starts with `kernel_` and which carries
//! `#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]`. `cargo vmtest` runs
//! them as root in VMs booting 6.18.15, 7.2.13 and 7.3.4 and natively on the host.

/// The kernel `cargo vmtest` runs this test on, from `BPFSIGN_TEST_KERNEL`: `6.18.15`, `7.2.13`,
/// `7.3.4` or `host`. Panics (failing the test) when unset, i.e. when not run by `cargo vmtest`.
pub fn test_kernel() -> String {
    std::env::var("BPFSIGN_TEST_KERNEL")
        .ok()
        .filter(|k| !k.is_empty())
        .expect("BPFSIGN_TEST_KERNEL is not set: run kernel tests with `cargo vmtest` (see tests/README.md)")
}

/// `uname -r` of the running kernel.
pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .expect("reading /proc/sys/kernel/osrelease (is /proc mounted?)")
}

/// Whether `release` (`uname -r`) belongs to the series of `version` (`7.3.4` → `7.3.*`).
pub fn same_series(release: &str, version: &str) -> bool {
    let mut v = version.split('.');
    match (v.next(), v.next()) {
        (Some(maj), Some(min)) => {
            let mut r = release.split(['.', '-', '+']);
            r.next() == Some(maj) && r.next() == Some(min)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_matching() {
        assert!(same_series("7.3.4+deb13-cloud-amd64", "7.3.4"));
        assert!(same_series("7.3.9+deb13-cloud-amd64", "7.3.4"));
        assert!(!same_series("7.2.13+deb14-cloud-amd64", "7.3.4"));
        assert!(!same_series("6.18.15+deb13-cloud-amd64", "6.1.5"));
        assert!(!same_series("7.3.4", "host"));
    }
}
