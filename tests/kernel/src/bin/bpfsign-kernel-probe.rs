//! A tiny workspace binary the harness self-test spawns from PATH inside the VM, proving that
//! `cargo vmtest` ships the workspace binaries (and their shared libraries) to the guest.

fn main() {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    println!(
        "bpfsign-kernel-probe: release={} euid={euid}",
        release.trim()
    );
}
