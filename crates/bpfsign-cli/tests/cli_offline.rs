//! The offline / HSM flow: `bpfsign gen --unsigned`, `bpfsign payload`, an external
//! `openssl cms -sign`, `bpfsign attach-sig`; the result equals `bpfsign gen --key` for the
//! deterministic RSA TEST-ONLY key, and bad signatures are refused with a clear error.

use std::path::{Path, PathBuf};

use bpfsign_gen::{Artifact, Protocol};

#[macro_use]
mod common;
use common::{bpfsign, fails, fixtures, ok, openssl_cms_sign, openssl_cms_sign_with, read};

fn key(name: &str) -> PathBuf {
    fixtures().join("keys").join(name)
}
fn scratch(test: &str) -> PathBuf {
    common::scratch("cli-offline", test)
}

#[test]
fn payload_and_attach_sig_reproduce_bpfsign_gen_key() {
    let dir = scratch("flow");
    let obj = fixtures().join("obj/hello.bpf.o");
    let key_a = key("TEST-ONLY-key-a.pem");
    let cert_a = key("TEST-ONLY-key-a.der");
    let unsigned = dir.join("hello.skel");
    let reference = dir.join("reference.skel");
    ok(&bpfsign(os!["gen", &obj, "--unsigned", "-o", &unsigned]));
    // `--unsigned` implies `--allow-unsigned`; the reference embeds the unsigned loader too.
    ok(&bpfsign(os![
        "gen",
        &obj,
        "--key",
        &key_a,
        "--allow-unsigned",
        "-o",
        &reference
    ]));
    let art = Artifact::read(&unsigned).unwrap();

    // payload: exactly the signed bytes (P1/P1b: insns; P2: insns ‖ data).
    for (name, p) in [
        ("p1", Protocol::P1),
        ("p1b", Protocol::P1b),
        ("p2", Protocol::P2),
    ] {
        let file = dir.join(format!("{name}.bin"));
        ok(&bpfsign(os![
            "payload",
            &unsigned,
            "--protocol",
            name,
            "-o",
            &file
        ]));
        let insns = art.variant(p).unwrap().insns.clone();
        let expected = if p == Protocol::P2 {
            [insns, art.data.clone()].concat()
        } else {
            insns
        };
        assert!(read(&file) == expected, "{name} payload");
        let stdout = bpfsign(os!["payload", &unsigned, "-p", name, "-o", "-"]);
        ok(&stdout);
        assert!(stdout.stdout == expected, "{name} payload on stdout");
    }
    fails(
        &bpfsign(os![
            "payload",
            &unsigned,
            "--protocol",
            "unsigned",
            "-o",
            "-"
        ]),
        "usage",
    );

    // Attach one at a time; the artifact notes what is still unsigned.
    let order = ["p2", "p1", "p1b"];
    for (i, name) in order.iter().enumerate() {
        let sig = dir.join(format!("{name}.der"));
        openssl_cms_sign(&dir.join(format!("{name}.bin")), &key_a, &sig);
        // The certificate is needed once; afterwards the artifact carries it.
        let out = if i == 0 {
            bpfsign(os![
                "attach-sig",
                &unsigned,
                "--protocol",
                name,
                "--sig",
                &sig,
                "--cert",
                &cert_a
            ])
        } else {
            bpfsign(os![
                "attach-sig",
                &unsigned,
                "--protocol",
                name,
                "--sig",
                &sig
            ])
        };
        let note = ok(&out);
        let a = Artifact::read(&unsigned).unwrap();
        assert_eq!(a.missing_signatures().len(), 2 - i, "after {name}");
        if i < 2 {
            assert!(note.contains("still has no signature for"), "{note}");
        } else {
            assert!(note.is_empty(), "{note}");
        }
        let dumped = bpfsign(os![
            "dump",
            &unsigned,
            "--protocol",
            name,
            "--what",
            "sig",
            "-o",
            "-"
        ]);
        ok(&dumped);
        assert_eq!(dumped.stdout, read(&sig));
    }
    // RSA PKCS#1 v1.5 is deterministic: openssl's signatures are the ones bpfsign makes.
    assert_eq!(read(&unsigned), read(&reference));

    // -o writes elsewhere and leaves the input alone.
    let fresh = dir.join("fresh.skel");
    let copy = dir.join("copy.skel");
    ok(&bpfsign(os!["gen", &obj, "--unsigned", "-o", &fresh]));
    let before = read(&fresh);
    ok(&bpfsign(os![
        "attach-sig",
        &fresh,
        "--protocol",
        "p1b",
        "--sig",
        &dir.join("p1b.der"),
        "--cert",
        &key_a,
        "-o",
        &copy
    ]));
    assert_eq!(read(&fresh), before);
    assert_eq!(
        Artifact::read(&copy).unwrap().missing_signatures(),
        [Protocol::P1, Protocol::P2]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn attach_sig_refuses_what_the_kernel_would_refuse() {
    let dir = scratch("refuse");
    let obj = fixtures().join("obj/hello.bpf.o");
    let key_a = key("TEST-ONLY-key-a.pem");
    let key_b = key("TEST-ONLY-key-b.pem");
    let skel = dir.join("u.skel");
    ok(&bpfsign(os!["gen", &obj, "--unsigned", "-o", &skel]));
    let pristine = read(&skel);
    let payload = |p: &str| {
        let f = dir.join(format!("{p}.bin"));
        ok(&bpfsign(os!["payload", &skel, "--protocol", p, "-o", &f]));
        f
    };
    let (p1, p2) = (payload("p1"), payload("p2"));
    let attach = |proto: &str, sig: &Path, cert: &Path| {
        bpfsign(os![
            "attach-sig",
            &skel,
            "--protocol",
            proto,
            "--sig",
            sig,
            "--cert",
            cert
        ])
    };

    // P2 signed over the insns only (the P1 payload): wrong payload.
    let wrong = dir.join("wrong.der");
    openssl_cms_sign(&p1, &key_a, &wrong);
    let err = fails(&attach("p2", &wrong, &key_a), "verify");
    assert!(
        err.contains("does not verify") && err.contains("insns ‖ data"),
        "{err}"
    );
    // Signed by key b, checked against cert a, even with b's certificate inside the signature.
    let by_b = dir.join("b.der");
    openssl_cms_sign_with(&p2, &key_b, &by_b, &["-noattr", "-keyid"]);
    let err = fails(&attach("p2", &by_b, &key_a), "verify");
    assert!(err.contains("does not verify"), "{err}");
    // Content not detached.
    let attached = dir.join("attached.der");
    openssl_cms_sign_with(
        &p2,
        &key_a,
        &attached,
        &["-noattr", "-nocerts", "-keyid", "-nodetach"],
    );
    let err = fails(&attach("p2", &attached, &key_a), "verify");
    assert!(err.contains("detached"), "{err}");
    // Not a signature at all, a PEM signature, a missing file, no certificate.
    let junk = dir.join("junk.der");
    std::fs::write(&junk, b"not a signature").unwrap();
    let err = fails(&attach("p2", &junk, &key_a), "verify");
    assert!(err.contains("not a DER CMS signature"), "{err}");
    fails(&attach("p2", &dir.join("missing.der"), &key_a), "read");
    let good = dir.join("good.der");
    openssl_cms_sign(&p2, &key_a, &good);
    let err = fails(
        &bpfsign(os!["attach-sig", &skel, "--protocol", "p2", "--sig", &good]),
        "attach",
    );
    assert!(err.contains("--cert"), "{err}");
    let err = fails(&attach("p2", &good, &junk), "cert");
    assert!(err.contains("junk.der"), "{err}");
    assert_eq!(
        read(&skel),
        pristine,
        "refused signatures leave the artifact untouched"
    );

    // Signed attributes are accepted (the kernel checks them), and then another signer is not.
    let with_attrs = dir.join("attrs.der");
    openssl_cms_sign_with(&p2, &key_a, &with_attrs, &["-nocerts", "-keyid"]);
    ok(&attach("p2", &with_attrs, &key_a));
    let p1_by_b = dir.join("p1b.der");
    openssl_cms_sign(&p1, &key_b, &p1_by_b);
    let err = fails(&attach("p1", &p1_by_b, &key_b), "attach");
    assert!(err.contains("already signed by"), "{err}");
    // An artifact already signed by `bpfsign gen --key` takes signatures of the same key only.
    let signed = dir.join("signed.skel");
    ok(&bpfsign(os!["gen", &obj, "--key", &key_a, "-o", &signed]));
    let err = fails(
        &bpfsign(os![
            "attach-sig",
            &signed,
            "--protocol",
            "p1",
            "--sig",
            &p1_by_b,
            "--cert",
            &key_b
        ]),
        "attach",
    );
    assert!(err.contains("already signed by"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
