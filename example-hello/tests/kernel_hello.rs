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
/// says why, without suggesting the unsigned loader.
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
        !r.stdout.contains("unsigned"),
        "no guidance may suggest loading unsigned"
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

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_hello_refuses_the_unsigned_protocol() {
    // example-hello is built without `allow_unsigned`: its binary has no unsigned loader, so
    // BPFSIGN_PROTOCOL=unsigned cannot make it load without a signature, on any kernel.
    let r = run(&["--set-a"], Some("unsigned"));
    assert_eq!(r.code, Some(1), "the unsigned override must be refused");
    assert!(
        r.stdout.contains("load = error"),
        "no errno: refused before any syscall"
    );
    assert!(r.stdout.contains("select loader variant failed"));
    assert!(
        r.stdout.contains("did not allow unsigned"),
        "the error names the build's choice"
    );
    assert!(r.stdout.contains("embeds: p1, p1b, p2"));
    assert!(r.stdout.contains("allow_unsigned = true"), "how to opt in");
    assert!(!r.stdout.contains("load = 0"));
}
