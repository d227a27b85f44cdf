//! Kernel tests of the `example-hello` binary (the seed experiment in Rust). They run as root in
//! VMs on 6.18.15 (P1), 7.2.13 (P1b) and 7.3.4 (P2) and on the host through `cargo vmtest`;
//! the same `example-hello` build is used everywhere, signed with the TEST-ONLY key A
//! (`BPF_KEY`, default from .cargo/config.toml).
//!
//! Each test joins a fresh session keyring first, so certificates registered by one test are
//! never seen by another.

mod common;

use bpfsign_kernel_tests::test_kernel;
use common::{cert_file, run_in_session, Run, CERT_A, CERT_B};

/// Runs example-hello in a fresh session keyring; `protocol` sets `BPFSIGN_PROTOCOL`.
fn run(args: &[&str], protocol: Option<&str>) -> Run {
    bpfsign_runtime::join_new_session_keyring().expect("join a new session keyring");
    run_in_session(args, protocol)
}

/// The protocol the runtime must pick on each signing kernel; `None` on the host, which cannot
/// verify signatures.
fn expected_protocol() -> Option<&'static str> {
    match test_kernel().as_str() {
        "6.18.15" => Some("p1"),
        "7.2.13" => Some("p1b"),
        "7.3.4" => Some("p2"),
        "host" => None,
        other => panic!("unknown BPFSIGN_TEST_KERNEL {other}"),
    }
}

/// On the host (no CONFIG_SYSTEM_DATA_VERIFICATION) a signed load fails with EOPNOTSUPP and
/// says how to get going.
fn assert_signing_unsupported(r: &Run) {
    assert_eq!(
        r.code,
        Some(1),
        "a signed load must fail (not as a signature rejection)"
    );
    assert!(r.stdout.contains("EOPNOTSUPP"), "errno name missing");
    assert!(
        r.stdout.contains("CONFIG_SYSTEM_DATA_VERIFICATION"),
        "guidance missing"
    );
    assert!(
        r.stdout.contains("BPFSIGN_PROTOCOL=unsigned"),
        "the unsigned hint is missing"
    );
    assert!(!r.stdout.contains("load = 0"));
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_hello_cert_a_loads_attaches_and_prints_a() {
    let Some(protocol) = expected_protocol() else {
        return assert_signing_unsupported(&run(&["--seconds", "2"], None));
    };
    let cert = cert_file("a", CERT_A);
    let r = run(
        &["--register-cert", cert.to_str().unwrap(), "--set-a"],
        None,
    );
    assert_eq!(r.code, Some(0));
    assert!(
        r.stdout.contains(&format!("protocol = {protocol}\n")),
        "wrong protocol picked"
    );
    assert!(r.stdout.contains("load = 0\n"));
    assert!(r.stdout.contains("attach = 0\n"));
    assert!(
        r.stdout.contains("I loaded prog 'A'"),
        "the .bss write did not reach the program"
    );
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_hello_without_set_a_prints_b() {
    let Some(_) = expected_protocol() else {
        return assert_signing_unsupported(&run(&["--seconds", "2"], None));
    };
    let cert = cert_file("a", CERT_A);
    let r = run(&["--register-cert", cert.to_str().unwrap()], None);
    assert_eq!(r.code, Some(0));
    assert!(
        r.stdout.contains("I loaded prog 'B'"),
        "prog_A must stay 0 (its signed initial value)"
    );
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_hello_only_cert_b_is_rejected_with_enokey() {
    let Some(protocol) = expected_protocol() else {
        return assert_signing_unsupported(&run(&["--seconds", "2"], None));
    };
    let cert = cert_file("b", CERT_B);
    let r = run(
        &["--register-cert", cert.to_str().unwrap(), "--set-a"],
        None,
    );
    assert_eq!(r.code, Some(3), "a signature rejection exits 3");
    assert!(
        r.stdout.contains("load = -126 ENOKEY"),
        "ENOKEY expected on {protocol}"
    );
    assert!(r
        .stdout
        .contains("guidance: the kernel found no key for the signer"));
    assert!(!r.stdout.contains("I loaded prog"));
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_hello_cert_a_in_session_but_builtin_keyring_is_enokey() {
    let Some(_) = expected_protocol() else {
        return assert_signing_unsupported(&run(&["--keyring", "builtin", "--seconds", "2"], None));
    };
    let cert = cert_file("a", CERT_A);
    let r = run(
        &[
            "--register-cert",
            cert.to_str().unwrap(),
            "--keyring",
            "builtin",
        ],
        None,
    );
    assert_eq!(r.code, Some(3));
    assert!(r.stdout.contains("ENOKEY"));
    assert!(
        r.stdout.contains(".builtin_trusted_keys"),
        "the guidance names the keyring searched"
    );
}

/// Finds the BTF id of the function `name` in the kernel's BTF (`/sys/kernel/btf/vmlinux`).
fn vmlinux_func_id(name: &str) -> Option<u32> {
    let btf = std::fs::read("/sys/kernel/btf/vmlinux").ok()?;
    let u32_at = |off: usize| -> Option<u32> {
        Some(u32::from_le_bytes(btf.get(off..off + 4)?.try_into().ok()?))
    };
    if btf.get(0..2)? != [0x9f, 0xeb] {
        return None;
    }
    let hdr_len = u32_at(4)? as usize;
    let (type_off, type_len) = (u32_at(8)? as usize, u32_at(12)? as usize);
    let str_off = u32_at(16)? as usize;
    let (types, strs) = (hdr_len + type_off, hdr_len + str_off);
    let mut pos = types;
    let mut id = 1u32;
    while pos < types + type_len {
        let (name_off, info) = (u32_at(pos)? as usize, u32_at(pos + 4)?);
        let (kind, vlen) = ((info >> 24) & 0x1f, (info & 0xffff) as usize);
        if kind == 12 {
            let s = btf.get(strs + name_off..)?;
            let end = s.iter().position(|&b| b == 0)?;
            if &s[..end] == name.as_bytes() {
                return Some(id);
            }
        }
        pos += 12
            + match kind {
                1 | 14 | 17 => 4,        // INT, VAR, DECL_TAG
                3 => 12,                 // ARRAY
                4 | 5 | 19 => 12 * vlen, // STRUCT, UNION, ENUM64
                6 | 13 => 8 * vlen,      // ENUM, FUNC_PROTO
                15 => 12 * vlen,         // DATASEC
                _ => 0,
            };
        id += 1;
    }
    None
}

/// Loads `r0 = 0; exit` as an fentry program on `__do_sys_getpid` directly (no loader, no
/// signature): `Err(errno)` when this kernel refuses fentry programs outright.
fn direct_fentry_load() -> Result<(), i32> {
    let btf_id = vmlinux_func_id("__do_sys_getpid").ok_or(libc::ENOENT)?;
    let insns: [u64; 2] = [0xb7, 0x95];
    let license = b"GPL\0";
    let mut attr = [0u8; 128];
    let mut put = |off: usize, bytes: &[u8]| attr[off..off + bytes.len()].copy_from_slice(bytes);
    put(0, &26u32.to_le_bytes()); // BPF_PROG_TYPE_TRACING
    put(4, &2u32.to_le_bytes());
    put(8, &(insns.as_ptr() as u64).to_le_bytes());
    put(16, &(license.as_ptr() as u64).to_le_bytes());
    put(68, &24u32.to_le_bytes()); // BPF_TRACE_FENTRY
    put(108, &btf_id.to_le_bytes()); // attach_btf_id
                                     // SAFETY: a valid bpf_attr buffer whose pointers outlive the call.
    let fd = unsafe { libc::syscall(libc::SYS_bpf, 5, attr.as_ptr(), attr.len()) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
    }
    // SAFETY: fd is the program fd just returned.
    unsafe { libc::close(fd as i32) };
    Ok(())
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_hello_unsigned_protocol_loads_and_attaches() {
    // No certificate at all: the unsigned variant needs none, on every kernel including the host.
    let r = run(&["--set-a"], Some("unsigned"));
    if expected_protocol().is_none() {
        if let Err(errno) = direct_fentry_load() {
            // Some hosts refuse fentry programs altogether (measured on the 6.18.44 sandbox host:
            // EPERM even through libbpf). The loader's own load of `hello` must then fail the
            // same way, reported as a loader failure.
            eprintln!("this host refuses a plain fentry program: errno {errno}");
            assert_eq!(r.code, Some(1));
            assert!(
                r.stdout.contains("protocol unsigned"),
                "the unsigned variant must be used"
            );
            let name = bpfsign_runtime::errno_name(errno);
            assert!(
                r.stdout.contains(&format!("load = -{errno} {name}")),
                "expected the host's {name}"
            );
            assert!(r.stdout.contains("run loader program failed"));
            return;
        }
    } else {
        // The signing kernels accept fentry programs; this also checks `direct_fentry_load`.
        assert_eq!(direct_fentry_load(), Ok(()));
    }
    assert_eq!(r.code, Some(0));
    assert!(r.stdout.contains("protocol = unsigned\n"));
    assert!(r.stdout.contains("load = 0\n"));
    assert!(r.stdout.contains("attach = 0\n"));
    assert!(r.stdout.contains("I loaded prog 'A'"));
}
