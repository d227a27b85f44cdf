//! `bpfsign keygen` and `bpfsign keyring add`: the generated certificate has what the kernel
//! needs (checked by parsing it with OpenSSL, not by reading `openssl x509 -text`), the key file
//! is private and never silently replaced, a skeleton signed with the new key verifies, and a
//! certificate is registered in a fresh session keyring.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use bpfsign_gen::Signer;
use openssl::nid::Nid;
use openssl::x509::{X509ExtendedKeyUsage, X509KeyUsage, X509};

#[macro_use]
mod common;
use common::{bpfsign, fails, fixtures, ok, read};

fn scratch(test: &str) -> PathBuf {
    common::scratch("cli-keys", test)
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// The value of `name: value` in the command's standard output.
fn field(out: &std::process::Output, name: &str) -> String {
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no '{name}:' line in {text}"))
        .to_string()
}

/// `extnID, critical TRUE, extnValue` of an extension as DER: the bytes that must occur in the
/// certificate for a critical extension with exactly this value.
fn critical_ext(oid_last: u8, value: &[u8]) -> Vec<u8> {
    let mut inner = vec![0x06, 0x03, 0x55, 0x1d, oid_last, 0x01, 0x01, 0xff, 0x04];
    inner.push(value.len() as u8);
    inner.extend_from_slice(value);
    let mut ext = vec![0x30, inner.len() as u8];
    ext.extend(inner);
    ext
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Runs keygen with `args` into `dir/k`, checks everything both files must hold, and returns
/// (prefix, certificate).
fn keygen_and_check(dir: &Path, args: &[&str], sig_nid: Nid) -> (PathBuf, X509) {
    let prefix = dir.join("k");
    let mut all = vec![
        std::ffi::OsStr::new("keygen"),
        "-o".as_ref(),
        prefix.as_os_str(),
    ];
    all.extend(args.iter().map(std::ffi::OsStr::new));
    let out = bpfsign(&all);
    ok(&out);
    let pem = dir.join("k.pem");
    let der = dir.join("k.der");
    assert_eq!(mode(&pem), 0o600, "the key file must be private");
    assert_eq!(mode(&der), 0o644);

    let der_bytes = read(&der);
    let cert = X509::from_der(&der_bytes).unwrap();
    // The PEM holds the same certificate, and the signer accepts key + certificate.
    let pem_cert = X509::from_pem(&read(&pem)).unwrap();
    assert_eq!(pem_cert.to_der().unwrap(), der_bytes);
    let signer = Signer::from_pem_file(&pem).unwrap();
    assert_eq!(signer.cert_der().unwrap(), der_bytes);

    let skid = cert.subject_key_id().expect("subjectKeyIdentifier");
    let skid_hex: String = skid.as_slice().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(skid.as_slice().len(), 20, "SHA-1 key hash");
    assert_eq!(field(&out, "skid"), skid_hex);
    assert_eq!(signer.skid(), Some(skid.as_slice()));

    // basicConstraints critical, CA:FALSE (an empty SEQUENCE); keyUsage critical,
    // digitalSignature only (BIT STRING 03 02 07 80).
    assert!(
        contains(&der_bytes, &critical_ext(0x13, &[0x30, 0x00])),
        "basicConstraints=critical,CA:FALSE"
    );
    assert!(
        contains(&der_bytes, &critical_ext(0x0f, &[0x03, 0x02, 0x07, 0x80])),
        "keyUsage=critical,digitalSignature"
    );
    assert_eq!(cert.key_usage(), Some(X509KeyUsage::DIGITAL_SIGNATURE));
    let eku = cert.extended_key_usage().expect("extendedKeyUsage");
    assert!(eku.contains(X509ExtendedKeyUsage::CODE_SIGN), "{eku:?}");

    assert_eq!(cert.signature_algorithm().object().nid(), sig_nid);
    let serial = cert.serial_number().to_bn().unwrap();
    assert!(!serial.is_negative());
    assert_eq!(serial.to_vec().len(), 16, "16-byte serial");
    assert_eq!(cert.version(), 2, "X.509 v3");
    // Self-signed: its own key verifies it, issuer = subject.
    assert!(cert.verify(&cert.public_key().unwrap()).unwrap());
    assert_eq!(
        cert.issuer_name().to_der().unwrap(),
        cert.subject_name().to_der().unwrap()
    );
    (prefix, cert)
}

/// Signs hello with `dir/k.pem`; `bpfsign verify` accepts it with `dir/k.der` and refuses it
/// with another certificate.
fn signed_skeleton_verifies(dir: &Path) {
    let skel = dir.join("hello.skel");
    let obj = fixtures().join("obj/hello.bpf.o");
    ok(&bpfsign(os![
        "gen",
        &obj,
        "--key",
        &dir.join("k.pem"),
        "-o",
        &skel
    ]));
    let out = bpfsign(os!["verify", &skel, "--cert", &dir.join("k.der")]);
    ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    for p in ["p1: ok", "p1b: ok", "p2: ok"] {
        assert!(text.contains(p), "{text}");
    }
    let other = fixtures().join("keys/TEST-ONLY-key-b.der");
    fails(&bpfsign(os!["verify", &skel, "--cert", &other]), "verify");
}

#[test]
fn keygen_rsa_default_is_3072_bits() {
    let dir = scratch("rsa");
    let (_, cert) = keygen_and_check(
        &dir,
        &["--cn", "bpfsign test signer"],
        Nid::SHA256WITHRSAENCRYPTION,
    );
    let rsa = cert.public_key().unwrap().rsa().unwrap();
    assert_eq!(rsa.size() * 8, 3072);
    let cn = cert
        .subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .unwrap()
        .data()
        .to_string()
        .unwrap();
    assert_eq!(cn, "bpfsign test signer");
    signed_skeleton_verifies(&dir);
}

#[test]
fn keygen_ec_p256_and_p384() {
    for (curve, nid) in [("p256", Nid::X9_62_PRIME256V1), ("p384", Nid::SECP384R1)] {
        let dir = scratch(&format!("ec-{curve}"));
        let (_, cert) = keygen_and_check(&dir, &["--ec", curve], Nid::ECDSA_WITH_SHA256);
        let ec = cert.public_key().unwrap().ec_key().unwrap();
        assert_eq!(ec.group().curve_name(), Some(nid), "{curve}");
        signed_skeleton_verifies(&dir);
    }
}

#[test]
fn keygen_never_replaces_a_key_without_force() {
    let dir = scratch("force");
    let prefix = dir.join("k");
    let pem = dir.join("k.pem");
    ok(&bpfsign(os!["keygen", "-o", &prefix, "--ec", "p256"]));
    let first = read(&pem);
    let err = fails(
        &bpfsign(os!["keygen", "-o", &prefix, "--ec", "p256"]),
        "write",
    );
    assert!(err.contains("--force") && err.contains("k.pem"), "{err}");
    assert_eq!(read(&pem), first, "the existing key is untouched");

    // A lone certificate file also blocks, and nothing is written.
    let other = dir.join("o");
    std::fs::write(dir.join("o.der"), b"keep").unwrap();
    let err = fails(
        &bpfsign(os!["keygen", "-o", &other, "--ec", "p256"]),
        "write",
    );
    assert!(err.contains("o.der"), "{err}");
    assert!(!dir.join("o.pem").exists());
    assert_eq!(read(&dir.join("o.der")), b"keep");

    // --force replaces both, and the new key file is private again even if the old one was not.
    std::fs::set_permissions(&pem, std::fs::Permissions::from_mode(0o644)).unwrap();
    ok(&bpfsign(os![
        "keygen", "-o", &prefix, "--ec", "p256", "--force"
    ]));
    assert_ne!(read(&pem), first);
    assert_eq!(mode(&pem), 0o600);
    Signer::from_pem_file(&pem).unwrap();

    // A --force that cannot finish leaves the old pair as it was, and no temporary file.
    let second = read(&pem);
    let der = dir.join("k.der");
    std::fs::remove_file(&der).unwrap();
    std::fs::create_dir(&der).unwrap();
    let err = fails(
        &bpfsign(os!["keygen", "-o", &prefix, "--ec", "p256", "--force"]),
        "write",
    );
    assert!(err.contains("k.der"), "{err}");
    assert_eq!(read(&pem), second, "the old key survives a failed --force");
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".bpfsign-keygen-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn keygen_refuses_what_the_kernel_cannot_use() {
    let dir = scratch("bad-args");
    let prefix = dir.join("k");
    for args in [
        &["--rsa-bits", "1024"][..],
        &["--rsa-bits", "2560"],
        &["--ec", "p521"],
        &["--ec", "p256", "--rsa-bits", "2048"],
        &["--days", "0"],
    ] {
        let mut all = vec![
            std::ffi::OsStr::new("keygen"),
            "-o".as_ref(),
            prefix.as_os_str(),
        ];
        all.extend(args.iter().map(std::ffi::OsStr::new));
        fails(&bpfsign(&all), "usage");
        assert!(!dir.join("k.pem").exists(), "{args:?}");
    }
    let err = fails(
        &bpfsign(os![
            "keygen",
            "-o",
            &dir.join("missing/dir/k"),
            "--ec",
            "p256"
        ]),
        "write",
    );
    assert!(err.contains("missing/dir/k.pem"), "{err}");
}

#[test]
fn keyring_add_refuses_bad_certificates() {
    let dir = scratch("keyring-bad");
    let keys = fixtures().join("keys");
    let err = fails(
        &bpfsign(os!["keyring", "add", &dir.join("nope.der")]),
        "cert",
    );
    assert!(err.contains("nope.der"), "{err}");
    // A key without its certificate, and bytes that are no certificate at all.
    fails(
        &bpfsign(os![
            "keyring",
            "add",
            &keys.join("TEST-ONLY-noskid.key.pem")
        ]),
        "cert",
    );
    let junk = dir.join("junk.der");
    std::fs::write(&junk, b"\x30\x03\x02\x01\x01").unwrap();
    fails(&bpfsign(os!["keyring", "add", &junk]), "cert");
    // Argument errors come before any file is read.
    let cert = keys.join("TEST-ONLY-key-a.der");
    fails(
        &bpfsign(os!["keyring", "add", &cert, "--keyring", ""]),
        "usage",
    );
    fails(
        &bpfsign(os!["keyring", "add", &cert, "--keyring", "99999999999"]),
        "usage",
    );
    fails(&bpfsign(os!["keyring", "add"]), "usage");
    fails(&bpfsign(os!["keyring"]), "usage");
}

/// Registers a freshly generated certificate (never a TEST-ONLY one) in a new session keyring
/// of this test thread, which `bpfsign` inherits; the keyring goes away with the test process.
#[test]
fn keyring_add_registers_in_a_fresh_session_keyring() {
    let ring = match bpfsign_runtime::join_new_session_keyring() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("skipped: no kernel keyrings here: {e}");
            return;
        }
    };
    let dir = scratch("keyring-add");
    let prefix = dir.join("k");
    ok(&bpfsign(os!["keygen", "-o", &prefix, "--rsa-bits", "2048"]));
    let der = dir.join("k.der");
    let skid = Signer::from_pem_file(dir.join("k.pem"))
        .unwrap()
        .skid()
        .map(|s| s.iter().map(|b| format!("{b:02x}")).collect::<String>())
        .unwrap();

    for (cert, keyring) in [
        (dir.join("k.pem"), "session"),
        (der.clone(), "bpfsign-cli-test"),
    ] {
        let out = bpfsign(os!["keyring", "add", &cert, "--keyring", keyring]);
        ok(&out);
        assert_eq!(field(&out, "skid"), skid);
        let key: i32 = field(&out, "key").parse().unwrap();
        assert!(key > 0);
        // The kernel lists the new asymmetric key, named after the certificate's SKID.
        let keys = std::fs::read_to_string("/proc/keys").unwrap();
        let line = keys
            .lines()
            .find(|l| l.starts_with(&format!("{key:08x} ")))
            .unwrap_or_else(|| panic!("key {key:x} not in /proc/keys:\n{keys}"));
        // (/proc/keys cuts the type name to 9 characters.)
        assert!(
            line.contains(" asymmetri") && line.contains(&skid),
            "{line}"
        );
        let target = field(&out, "keyring");
        if keyring == "session" {
            assert!(target.contains("keyring_id -3"), "{target}");
        } else {
            assert!(
                !target.contains(&ring.to_string()),
                "a keyring inside the session: {target}"
            );
        }
    }
}
