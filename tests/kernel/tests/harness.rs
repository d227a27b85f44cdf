//! Self-test of the kernel test bed (`cargo vmtest`): these must pass on 6.18.15, 7.2.13, 7.3.4
//! and the host, except `kernel_injected_failure` with `BPFSIGN_INJECT_FAILURE=1`.

use std::process::Command;

use bpfsign_kernel_tests::{kernel_release, same_series, test_kernel};

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_TYPE_SOCKET_FILTER: u32 = 1;

/// The leading fields of `union bpf_attr` for `BPF_PROG_LOAD` (the kernel zero-extends the rest).
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
}

/// `BPF_PROG_LOAD` of an unsigned socket filter; `Ok(fd)` or `Err((errno, verifier log))`.
fn load_socket_filter(insns: &[u64], log: bool) -> Result<i32, (i32, String)> {
    let license = b"GPL\0";
    let mut buf = vec![0u8; if log { 64 * 1024 } else { 0 }];
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_SOCKET_FILTER,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        ..Default::default()
    };
    attr.prog_name[..8].copy_from_slice(b"vmtest_0");
    if log {
        attr.log_level = 1;
        attr.log_size = buf.len() as u32;
        attr.log_buf = buf.as_mut_ptr() as u64;
    }
    // SAFETY: attr points at a valid, fully initialised struct whose pointers outlive the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const ProgLoadAttr,
            std::mem::size_of::<ProgLoadAttr>(),
        )
    };
    if r < 0 {
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        return Err((errno, String::from_utf8_lossy(&buf[..end]).to_string()));
    }
    Ok(r as i32)
}

/// Encodes one BPF instruction (little endian): opcode, dst/src registers, offset, immediate.
fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> u64 {
    u64::from(code)
        | u64::from(dst & 0xf) << 8
        | u64::from(src & 0xf) << 12
        | u64::from(off as u16) << 16
        | u64::from(imm as u32) << 32
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_unsigned_socket_filter_loads() {
    // r0 = 0; exit
    let prog = [insn(0xb7, 0, 0, 0, 0), insn(0x95, 0, 0, 0, 0)];
    let fd = match load_socket_filter(&prog, false) {
        Ok(fd) => fd,
        Err((errno, _)) => {
            let log = load_socket_filter(&prog, true)
                .err()
                .map(|e| e.1)
                .unwrap_or_default();
            panic!(
                "BPF_PROG_LOAD of an unsigned socket filter failed on {} ({}): {}\nverifier log:\n{log}",
                test_kernel(),
                kernel_release(),
                std::io::Error::from_raw_os_error(errno)
            );
        }
    };
    assert!(fd >= 0, "BPF_PROG_LOAD returned {fd}");
    // SAFETY: fd is a BPF program fd this test owns.
    assert_eq!(unsafe { libc::close(fd) }, 0);
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_invalid_program_is_rejected() {
    // `exit` without setting r0: the verifier must refuse it (proves the load test can fail).
    let prog = [insn(0x95, 0, 0, 0, 0)];
    match load_socket_filter(&prog, true) {
        Ok(fd) => {
            // SAFETY: fd is a BPF program fd this test owns.
            unsafe { libc::close(fd) };
            panic!("the verifier accepted a program that exits with r0 unset");
        }
        Err((errno, log)) => {
            assert_eq!(
                errno,
                libc::EACCES,
                "expected EACCES from the verifier, log:\n{log}"
            );
            assert!(
                log.contains("R0 !read_ok"),
                "verifier log does not name R0:\n{log}"
            );
        }
    }
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_runs_on_requested_kernel_as_root() {
    let want = test_kernel();
    let release = kernel_release();
    // SAFETY: geteuid has no preconditions.
    assert_eq!(unsafe { libc::geteuid() }, 0, "kernel tests run as root");
    if want == "host" {
        assert!(
            !std::path::Path::new("/vmtest/run.sh").exists(),
            "BPFSIGN_TEST_KERNEL=host inside a vmtest guest"
        );
        return;
    }
    assert!(
        same_series(&release, &want),
        "BPFSIGN_TEST_KERNEL={want} but uname -r is {release}"
    );
    let mounts = std::fs::read_to_string("/proc/mounts").expect("reading /proc/mounts");
    for (fs, at) in [
        ("bpf", "/sys/fs/bpf"),
        ("tracefs", "/sys/kernel/tracing"),
        ("debugfs", "/sys/kernel/debug"),
        ("securityfs", "/sys/kernel/security"),
        ("tmpfs", "/tmp"),
    ] {
        assert!(
            mounts
                .lines()
                .any(|l| l.split_whitespace().nth(1) == Some(at)
                    && l.split_whitespace().nth(2) == Some(fs)),
            "{fs} is not mounted on {at} in the guest:\n{mounts}"
        );
    }
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_workspace_binaries_on_path() {
    let out = Command::new("bpfsign-kernel-probe").output().expect(
        "bpfsign-kernel-probe is not on PATH: cargo vmtest puts the workspace binaries there",
    );
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.trim(),
        format!("bpfsign-kernel-probe: release={} euid=0", kernel_release())
    );
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_injected_failure() {
    // The runner's own checks (tests/run-all.sh): `cargo vmtest` must exit non-zero and name this
    // test when it fails (BPFSIGN_INJECT_FAILURE=1), crashes the guest kernel (=crash) or hangs (=hang).
    match std::env::var("BPFSIGN_INJECT_FAILURE").as_deref() {
        Ok("1") => panic!(
            "injected failure (BPFSIGN_INJECT_FAILURE=1) on kernel {}",
            test_kernel()
        ),
        Ok("crash") => {
            // Only ever inside a vmtest guest: this panics the kernel it runs on.
            assert!(
                test_kernel() != "host" && std::path::Path::new("/vmtest/run.sh").exists(),
                "BPFSIGN_INJECT_FAILURE=crash only works inside a cargo vmtest guest"
            );
            std::fs::write("/proc/sys/kernel/sysrq", "1").expect("enabling sysrq");
            std::fs::write("/proc/sysrq-trigger", "c").expect("triggering a crash");
            unreachable!("the kernel survived sysrq-c");
        }
        Ok("hang") => loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        },
        _ => {}
    }
}
