//! Kernel tests of the bpfsign guard through `example-hello --guard…` (VMs on 6.18.15, 7.2.13,
//! 7.3.4; the host cannot verify signatures, so there the guard itself must fail to load and
//! nothing may stay pinned).
//!
//! Every test removes the guard again, also when it fails (a later test in the same VM would
//! otherwise run under the guard), and checks that nothing it created stays alive.

mod common;

use std::io;

use bpfsign_guard::{Guard, KeyringKind, RecordReason, DEFAULT_PIN};
use bpfsign_kernel_tests::leak::Snapshot;
use bpfsign_kernel_tests::test_kernel;
use bpfsign_runtime::{register_cert, CertTarget, Keyring};
use common::{run_in_session as run_with, Run, CERT_A, CERT_B};

/// Writes a certificate for `--register-cert`; its path as a string.
fn cert_file(name: &str, der: &[u8]) -> String {
    let path = common::cert_file(name, der);
    path.to_str().expect("UTF-8 temp path").to_string()
}

/// Runs example-hello in this process's session keyring (joined once per test).
fn run(args: &[&str]) -> Run {
    run_with(args, None)
}

/// `BPF_PROG_LOAD` of an unsigned two-instruction socket filter (`r0 = 0; exit`).
fn unsigned_socket_filter() -> io::Result<()> {
    let insns: [u64; 2] = [0x0000_0000_0000_00b7, 0x0000_0000_0000_0095];
    let license = c"GPL";
    let mut attr = [0u8; 48];
    attr[0..4].copy_from_slice(&1u32.to_ne_bytes()); // BPF_PROG_TYPE_SOCKET_FILTER
    attr[4..8].copy_from_slice(&2u32.to_ne_bytes());
    attr[8..16].copy_from_slice(&(insns.as_ptr() as u64).to_ne_bytes());
    attr[16..24].copy_from_slice(&(license.as_ptr() as u64).to_ne_bytes());
    // SAFETY: `attr` and the buffers it points at live until the call returns.
    let r = unsafe { libc::syscall(libc::SYS_bpf, 5, attr.as_mut_ptr(), attr.len()) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `r` is the program fd the kernel just returned; nobody else owns it.
    unsafe { libc::close(r as i32) };
    Ok(())
}

/// Removes the guard when the test ends, whatever happened.
struct RemoveOnDrop;

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Err(e) = Guard::remove(DEFAULT_PIN) {
            eprintln!("removing the guard after the test: {e}");
        }
    }
}

/// True on the signing kernels; on the host the guard (a signed program) cannot load.
fn signing_kernel() -> bool {
    match test_kernel().as_str() {
        "6.18.15" | "7.2.13" | "7.3.4" => true,
        "host" => false,
        other => panic!("unknown BPFSIGN_TEST_KERNEL {other}"),
    }
}

/// On the host the signed guard load fails (EOPNOTSUPP: no signature verification; or, where
/// securityfs shows the BPF LSM inactive, the install refuses first) and nothing is pinned.
fn assert_guard_cannot_load_on_host(flag: &str) {
    assert!(
        Guard::status(DEFAULT_PIN).unwrap().is_none(),
        "a guard is already pinned on this host; not touching it"
    );
    // Should the install succeed after all, do not leave the host under the guard.
    let _cleanup = RemoveOnDrop;
    let cert = cert_file("a", CERT_A);
    let r = run(&["--register-cert", &cert, flag, "--seconds", "1"]);
    assert_eq!(r.code, Some(1), "the signed guard cannot load here");
    assert!(
        r.stdout.contains("guard = -95 EOPNOTSUPP")
            || r.stdout.contains("the BPF LSM is not active"),
        "reason missing"
    );
    assert!(Guard::status(DEFAULT_PIN).unwrap().is_none());
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_guard_refuses_unsigned_and_lets_signed_through() {
    bpfsign_runtime::join_new_session_keyring().expect("join a new session keyring");
    if !signing_kernel() {
        return assert_guard_cannot_load_on_host("--guard");
    }
    let lsms = std::fs::read_to_string("/sys/kernel/security/lsm").unwrap_or_default();
    eprintln!("active LSMs: {lsms}");
    assert!(
        lsms.split(',').any(|l| l.trim() == "bpf"),
        "the BPF LSM is not active: {lsms}"
    );
    unsigned_socket_filter().expect("before the guard, an unsigned load works");
    let before = Snapshot::take();
    {
        let _cleanup = RemoveOnDrop;
        let cert_a = cert_file("a", CERT_A);
        let cert_b = cert_file("b", CERT_B);

        // Install pinned, then the signed hello loads and prints under the guard.
        let r = run(&["--register-cert", &cert_a, "--guard"]);
        assert_eq!(r.code, Some(0));
        assert!(r.stdout.contains("guard = 0\n"));
        assert!(r.stdout.contains("I loaded prog"), "no trace line");

        // The guard outlives example-hello: a plain unsigned load is refused.
        let e = unsigned_socket_filter().expect_err("an unsigned load must be refused");
        assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");

        // Signed with A (registered): still loads. Only B registered: ENOKEY, as without guard.
        let r = run(&["--register-cert", &cert_a, "--set-a"]);
        assert_eq!(r.code, Some(0));
        assert!(r.stdout.contains("I loaded prog 'A'"));
        bpfsign_runtime::join_new_session_keyring().expect("join a new session keyring");
        let r = run(&["--register-cert", &cert_b]);
        assert_eq!(r.code, Some(3), "a signature rejection exits 3");
        assert!(r.stdout.contains("load = -126 ENOKEY"), "ENOKEY expected");

        // The signed-only skeleton refuses the unsigned override before any syscall (the guard
        // sees nothing); a second unsigned load from this process is refused by the guard.
        let r = run_with(&["--seconds", "1"], Some("unsigned"));
        assert_eq!(r.code, Some(1));
        assert!(
            r.stdout.contains("did not allow unsigned"),
            "refused by the build"
        );
        let e = unsigned_socket_filter().expect_err("a second unsigned load must be refused");
        assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");

        // A second install is refused while one is pinned.
        let r = run(&["--guard", "--register-cert", &cert_a]);
        assert_eq!(r.code, Some(1));
        assert!(r.stdout.contains("already exists"));

        // Status: one refusal, from this process; signed and kernel loads counted.
        let s = Guard::status(DEFAULT_PIN)
            .expect("status")
            .expect("the guard is pinned");
        assert!(!s.audit);
        assert_eq!(s.counters.denied, 2, "{s:?}");
        assert_eq!(s.counters.audited, 0, "{s:?}");
        assert!(s.counters.allowed_signed >= 2, "{s:?}");
        assert!(s.counters.allowed_kernel >= 2, "{s:?}");
        assert_eq!(s.records.len(), 2, "{s:?}");
        for rec in &s.records {
            assert_eq!(rec.pid, std::process::id(), "{s:?}");
            assert_eq!(rec.prog_type, 1, "socket filter");
            assert_eq!(rec.reason, RecordReason::Unsigned);
            assert!(!rec.audit);
        }
        let r = run(&["--guard-status"]);
        assert_eq!(r.code, Some(0));
        assert!(r.stdout.contains("denied = 2"), "status output");
        assert!(r
            .stdout
            .contains(&format!("denied pid {}", std::process::id())));

        // Removal restores normal behaviour.
        let r = run(&["--guard-remove"]);
        assert_eq!(r.code, Some(0));
        assert!(Guard::status(DEFAULT_PIN).unwrap().is_none());
        unsigned_socket_filter().expect("after removal, an unsigned load works again");
        let r = run(&["--guard-remove"]);
        assert_eq!(r.code, Some(1), "nothing left to remove");
    }
    before.assert_nothing_new("guard install, use and removal");
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_guard_audit_mode_records_and_allows() {
    bpfsign_runtime::join_new_session_keyring().expect("join a new session keyring");
    if !signing_kernel() {
        return assert_guard_cannot_load_on_host("--guard-audit");
    }
    let before = Snapshot::take();
    {
        let _cleanup = RemoveOnDrop;
        let cert_a = cert_file("a", CERT_A);
        let r = run(&["--register-cert", &cert_a, "--guard-audit"]);
        assert_eq!(r.code, Some(0));
        assert!(r.stdout.contains("mode audit"));
        unsigned_socket_filter().expect("audit mode allows unsigned loads");
        unsigned_socket_filter().expect("audit mode allows unsigned loads");
        let s = Guard::status(DEFAULT_PIN)
            .expect("status")
            .expect("the guard is pinned");
        assert!(s.audit);
        assert_eq!(s.counters.denied, 0, "{s:?}");
        assert_eq!(s.counters.audited, 2, "{s:?}");
        assert_eq!(s.records.len(), 2, "{s:?}");
        assert!(s
            .records
            .iter()
            .all(|r| r.audit && r.pid == std::process::id() && r.reason == RecordReason::Unsigned));
        assert!(Guard::remove(DEFAULT_PIN).expect("remove"));
    }
    before.assert_nothing_new("guard in audit mode");
}

/// The keyring filter: a policy that accepts only the builtin keyring refuses a load checked
/// against the session keyring (EPERM, counted as `wrong_keyring`). A policy that accepts only
/// the user keyring with the session keyring's serial: on 7.2+ the hook sees the resolved
/// serial in `prog->aux->sig` and lets `keyring_id = -3` through; on 6.18 it only sees the
/// `keyring_id` the loader passed (-3), which is not that serial, so the load is refused.
#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
#[allow(deprecated)] // the TEST-ONLY key warns on every build
fn kernel_guard_keyring_filter() {
    let session = bpfsign_runtime::join_new_session_keyring().expect("join a new session keyring");
    let spec = bpfsign_guard::signed_guard!(key = env!("BPF_KEY"));
    if !signing_kernel() {
        assert!(
            Guard::status(DEFAULT_PIN).unwrap().is_none(),
            "a guard is already pinned on this host; not touching it"
        );
        let _cleanup = RemoveOnDrop;
        let e = Guard::builder(spec)
            .install_pinned(DEFAULT_PIN)
            .expect_err("the signed guard cannot load on the host");
        assert!(
            e.errno() == Some(libc::EOPNOTSUPP)
                || matches!(e, bpfsign_guard::GuardError::NoBpfLsm(_)),
            "{e}"
        );
        assert!(Guard::status(DEFAULT_PIN).unwrap().is_none());
        return;
    }
    register_cert(CERT_A, CertTarget::Session).expect("register cert A");
    let before = Snapshot::take();
    {
        let _cleanup = RemoveOnDrop;
        let s = Guard::builder(spec)
            .keyrings(&[KeyringKind::Builtin])
            .load_keyring(Keyring::Session)
            .install_pinned(DEFAULT_PIN)
            .expect("install the guard");
        assert_eq!(s.keyrings, [KeyringKind::Builtin]);
        let r = run(&["--seconds", "1"]);
        assert_ne!(r.code, Some(0));
        assert!(r.stdout.contains("load = -1 EPERM"), "the guard refuses");
        let s = Guard::status(DEFAULT_PIN).unwrap().unwrap();
        assert_eq!(s.counters.wrong_keyring, 1, "{s:?}");
        assert_eq!(s.counters.denied, 1, "{s:?}");
        assert_eq!(s.records.len(), 1, "{s:?}");
        assert_eq!(s.records[0].reason, RecordReason::WrongKeyring);
        assert!(Guard::remove(DEFAULT_PIN).unwrap());

        Guard::builder(spec)
            .keyrings(&[KeyringKind::User])
            .user_keyring_serial(session)
            .install_pinned(DEFAULT_PIN)
            .expect("install the guard");
        // By serial: the loader passes the serial itself, every kernel lets it through.
        let r = run(&["--keyring", &session.to_string()]);
        assert_eq!(r.code, Some(0));
        // By the special id -3 of the session keyring.
        let r = run(&["--keyring", "session"]);
        if test_kernel() == "6.18.15" {
            assert!(
                r.stdout.contains("load = -1 EPERM"),
                "6.18 sees keyring_id -3 only"
            );
        } else {
            assert_eq!(r.code, Some(0), "7.2+ records the resolved serial");
        }
    }
    before.assert_nothing_new("guard with a keyring filter");
}
