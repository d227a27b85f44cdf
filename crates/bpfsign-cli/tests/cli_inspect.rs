//! `bpfsign inspect` and `bpfsign verify` on artifacts made by `bpfsign gen`: what inspect
//! prints comes from the artifact, verify accepts exactly what the kernel and the loader would
//! accept and names the protocol of every problem.

use std::path::{Path, PathBuf};

use bpfsign_gen::{Artifact, Protocol};
use openssl::x509::X509;

#[macro_use]
mod common;
use common::{bpfsign, fails, fixtures, ok, read};

fn scratch(test: &str) -> PathBuf {
    common::scratch("cli-inspect", test)
}

fn key(name: &str) -> PathBuf {
    fixtures().join("keys").join(name)
}

/// `bpfsign gen OBJ` into `dir/NAME.skel`, signed with `key_args` (or `--unsigned`).
fn gen(dir: &Path, obj: &str, key_args: &[&Path]) -> PathBuf {
    let out = dir.join(format!("{obj}.skel"));
    let obj = fixtures().join(format!("obj/{obj}.bpf.o"));
    let mut args = vec![std::ffi::OsStr::new("gen"), obj.as_os_str()];
    match key_args {
        [] => args.push("--unsigned".as_ref()),
        [k] => args.extend([std::ffi::OsStr::new("--key"), k.as_os_str()]),
        [k, c] => args.extend([
            std::ffi::OsStr::new("--key"),
            k.as_os_str(),
            "--cert".as_ref(),
            c.as_os_str(),
        ]),
        _ => unreachable!(),
    }
    args.extend([std::ffi::OsStr::new("-o"), out.as_os_str()]);
    ok(&bpfsign(&args));
    out
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn skid_of(cert: &Path) -> String {
    let c = X509::from_der(&read(cert)).unwrap();
    hex(c.subject_key_id().unwrap().as_slice())
}

/// Writes `art` (changed by the caller) next to the original and returns its path.
fn write_changed(dir: &Path, name: &str, art: &Artifact) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, art.to_bytes()).unwrap();
    p
}

#[test]
fn inspect_text_lists_what_the_artifact_holds() {
    let dir = scratch("text");
    let skel = gen(&dir, "maps", &[&key("TEST-ONLY-key-a.pem")]);
    let art = Artifact::read(&skel).unwrap();
    let out = bpfsign(os!["inspect", &skel]);
    ok(&out);
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("name: {}\n", art.meta.name)),
        "{text}"
    );
    for p in &art.meta.progs {
        assert!(
            text.contains(&format!("  {}  section {}  type ", p.name, p.section)),
            "{text}"
        );
    }
    for m in &art.meta.maps {
        assert!(
            text.contains(&format!("  {}  type ", m.kernel_name))
                && text.contains(&format!(
                    "key {}  value {}  max_entries {}",
                    m.key_size, m.value_size, m.max_entries
                )),
            "{}: {text}",
            m.kernel_name
        );
    }
    for v in &art.variants {
        let name = serde_name(v.protocol);
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} line: {text}"));
        assert!(
            line.contains(&format!("loader {} insns", v.insns.len() / 8)),
            "{line}"
        );
        assert!(line.contains(&hex(&v.excl_prog_hash)), "{line}");
        match &v.signature {
            Some(s) => assert!(
                line.contains(&format!("signature {} bytes", s.len())),
                "{line}"
            ),
            None => assert!(line.contains("never signed"), "{line}"),
        }
    }
    assert!(
        text.contains(&format!("data: {} bytes", art.data.len())),
        "{text}"
    );
    assert!(
        text.contains("signer: CN=bpfsign TEST-ONLY key a"),
        "{text}"
    );
    assert!(
        text.contains(&format!("skid: {}", skid_of(&key("TEST-ONLY-key-a.der")))),
        "{text}"
    );
    assert!(text.contains("key: rsa-2048"), "{text}");
    // The ring buffer map's type is named, the flag bits of a no-prealloc hash too.
    assert!(text.contains("type ringbuf"), "{text}");
    assert!(text.contains("(no_prealloc)"), "{text}");
}

fn serde_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Unsigned => "unsigned",
        Protocol::P1 => "p1",
        Protocol::P1b => "p1b",
        Protocol::P2 => "p2",
    }
}

#[test]
fn inspect_json_matches_the_artifact() {
    let dir = scratch("json");
    let skel = gen(
        &dir,
        "globals",
        &[
            &key("TEST-ONLY-noskid.key.pem"),
            &key("TEST-ONLY-noskid.der"),
        ],
    );
    let art = Artifact::read(&skel).unwrap();
    let out = bpfsign(os!["inspect", &skel, "--json"]);
    ok(&out);
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["name"], art.meta.name.as_str());
    assert_eq!(j["data_size"], art.data.len());
    let progs = j["programs"].as_array().unwrap();
    assert_eq!(progs.len(), art.meta.progs.len());
    for (p, q) in progs.iter().zip(&art.meta.progs) {
        assert_eq!(p["name"], q.name.as_str());
        assert_eq!(p["section"], q.section.as_str());
    }
    let maps = j["maps"].as_array().unwrap();
    assert_eq!(maps.len(), art.meta.maps.len());
    for (m, n) in maps.iter().zip(&art.meta.maps) {
        assert_eq!(m["name"], n.kernel_name.as_str());
        assert_eq!(m["key_size"], n.key_size);
        assert_eq!(m["value_size"], n.value_size);
        assert_eq!(m["max_entries"], n.max_entries);
        assert_eq!(m["flags"], n.map_flags);
    }
    let protocols = j["protocols"].as_array().unwrap();
    assert_eq!(protocols.len(), art.variants.len());
    for (p, v) in protocols.iter().zip(&art.variants) {
        assert_eq!(p["protocol"], serde_name(v.protocol));
        assert_eq!(p["signed"], v.signature.is_some());
        assert_eq!(p["insns"], v.insns.len() / 8);
        assert_eq!(p["excl_prog_hash"], hex(&v.excl_prog_hash).as_str());
        assert_eq!(
            p["signature_size"],
            v.signature
                .as_ref()
                .map_or(serde_json::Value::Null, |s| s.len().into())
        );
    }
    // No SKID: the signer is named by issuer and serial.
    let cert = X509::from_der(&read(&key("TEST-ONLY-noskid.der"))).unwrap();
    let serial = hex(&cert.serial_number().to_bn().unwrap().to_vec());
    assert_eq!(j["signer"]["id"]["serial"], serial.as_str());
    assert!(j["signer"]["id"]["issuer"]
        .as_str()
        .unwrap()
        .contains("CN="));
    assert!(j["signer"]["id"].get("skid").is_none());
    assert_eq!(j["signer"]["key_algorithm"], "rsa-2048");
}

#[test]
fn inspect_unsigned_and_refuses_what_is_no_artifact() {
    let dir = scratch("unsigned");
    let skel = gen(&dir, "hello", &[]);
    let out = bpfsign(os!["inspect", &skel]);
    ok(&out);
    let text = stdout(&out);
    assert!(text.contains("signer: none"), "{text}");
    assert_eq!(text.matches("NOT SIGNED").count(), 3, "{text}");

    // A built executable: no reliable marker for the embedded skeleton, said so.
    let err = fails(
        &bpfsign(os!["inspect", env!("CARGO_BIN_EXE_bpfsign")]),
        "read",
    );
    assert!(err.contains("no marker") && err.contains(".skel"), "{err}");
    let err = fails(
        &bpfsign(os!["inspect", &fixtures().join("obj/hello.bpf.o")]),
        "read",
    );
    assert!(err.contains("bpfsign gen"), "{err}");
    let junk = dir.join("junk.skel");
    std::fs::write(&junk, b"not json").unwrap();
    let err = fails(&bpfsign(os!["inspect", &junk]), "read");
    assert!(err.contains("not a bpfsign artifact"), "{err}");
    fails(&bpfsign(os!["inspect", &dir.join("missing.skel")]), "read");
}

#[test]
fn verify_accepts_every_supported_key_form() {
    let dir = scratch("verify-ok");
    for (k, c) in [
        ("TEST-ONLY-key-a.pem", "TEST-ONLY-key-a.der"),
        ("TEST-ONLY-ec-p256.pem", "TEST-ONLY-ec-p256.der"),
        ("TEST-ONLY-noskid.key.pem", "TEST-ONLY-noskid.der"),
    ] {
        let sub = dir.join(k);
        std::fs::create_dir_all(&sub).unwrap();
        let skel = gen(&sub, "globals", &[&key(k), &key(c)]);
        // PEM and DER certificates both work.
        for cert in [key(c), key(k)] {
            if cert.ends_with("TEST-ONLY-noskid.key.pem") {
                continue; // the key alone holds no certificate
            }
            let out = bpfsign(os!["verify", &skel, "--cert", &cert]);
            ok(&out);
            let text = stdout(&out);
            for p in ["p1: ok", "p1b: ok", "p2: ok"] {
                assert!(text.contains(p), "{k}: {text}");
            }
        }
        let out = bpfsign(os!["verify", &skel, "--cert", &key(c), "-p", "p2"]);
        ok(&out);
        let text = stdout(&out);
        assert!(text.contains("p2: ok") && !text.contains("p1"), "{text}");
    }
}

#[test]
fn verify_names_the_protocol_of_each_problem() {
    let dir = scratch("verify-bad");
    let skel = gen(&dir, "hello", &[&key("TEST-ONLY-key-a.pem")]);
    let cert = key("TEST-ONLY-key-a.der");
    let art = Artifact::read(&skel).unwrap();

    // Another signer's certificate: every protocol fails, and the signers are named.
    let err = fails(
        &bpfsign(os!["verify", &skel, "--cert", &key("TEST-ONLY-key-b.der")]),
        "verify",
    );
    for p in ["p1", "p1b", "p2"] {
        assert!(err.contains(&format!("bpfsign: verify: {p}: ")), "{err}");
    }
    assert!(
        err.contains("signed by 'CN=bpfsign TEST-ONLY key a"),
        "{err}"
    );

    // One damaged signature: only that protocol is reported.
    let mut bad = art.clone();
    let v = bad
        .variants
        .iter_mut()
        .find(|v| v.protocol == Protocol::P1b)
        .unwrap();
    let sig = v.signature.as_mut().unwrap();
    let last = sig.len() - 1;
    sig[last] ^= 0x01;
    let p = write_changed(&dir, "badsig.skel", &bad);
    let err = fails(&bpfsign(os!["verify", &p, "--cert", &cert]), "verify");
    assert!(err.contains("verify: p1b: "), "{err}");
    assert!(
        !err.contains("verify: p1: ") && !err.contains("verify: p2: "),
        "{err}"
    );
    ok(&bpfsign(os![
        "verify", &p, "--cert", &cert, "-p", "p1", "-p", "p2"
    ]));

    // A changed data blob: the P1/P1b loaders would refuse it (their built-in hash), the P2
    // signature covers it.
    let mut bad = art.clone();
    bad.data[0] ^= 0x01;
    let p = write_changed(&dir, "baddata.skel", &bad);
    let err = fails(&bpfsign(os!["verify", &p, "--cert", &cert]), "verify");
    for proto in ["p1", "p1b"] {
        assert!(
            err.contains(&format!("verify: {proto}: the loader checks the data blob")),
            "{err}"
        );
    }
    assert!(
        err.contains("verify: p2: the p2 signature does not verify"),
        "{err}"
    );

    // Partially signed: the missing signature is named; the signed ones still verify.
    let mut partial = art.clone();
    partial
        .variants
        .iter_mut()
        .find(|v| v.protocol == Protocol::P1)
        .unwrap()
        .signature = None;
    let p = write_changed(&dir, "partial.skel", &partial);
    let err = fails(&bpfsign(os!["verify", &p, "--cert", &cert]), "verify");
    assert!(err.contains("verify: p1: no signature"), "{err}");
    ok(&bpfsign(os![
        "verify", &p, "--cert", &cert, "-p", "p1b", "-p", "p2"
    ]));

    // A protocol the artifact does not have.
    let mut fewer = art.clone();
    fewer.variants.retain(|v| v.protocol != Protocol::P1b);
    let p = write_changed(&dir, "fewer.skel", &fewer);
    let err = fails(
        &bpfsign(os!["verify", &p, "--cert", &cert, "--protocol", "p1b"]),
        "verify",
    );
    assert!(
        err.contains("p1b: the artifact has no p1b variant"),
        "{err}"
    );
    ok(&bpfsign(os!["verify", &p, "--cert", &cert]));

    // A loader whose blob check was swapped between protocols fails even with a fresh
    // excl hash: the P2 loader must not compare map->sha.
    let mut swapped = art.clone();
    let p1b_insns = swapped.variant(Protocol::P1b).unwrap().insns.clone();
    let v = swapped
        .variants
        .iter_mut()
        .find(|v| v.protocol == Protocol::P2)
        .unwrap();
    v.insns = p1b_insns;
    v.excl_prog_hash = bpfsign_gen::artifact::sha256(&v.insns);
    let p = write_changed(&dir, "swapped.skel", &swapped);
    let err = fails(
        &bpfsign(os!["verify", &p, "--cert", &cert, "-p", "p2"]),
        "verify",
    );
    assert!(err.contains("p2: the loader compares map->sha"), "{err}");
}

#[test]
fn verify_unsigned_needs_allow_unsigned() {
    let dir = scratch("verify-unsigned");
    let skel = gen(&dir, "hello", &[]);
    let cert = key("TEST-ONLY-key-a.der");
    let err = fails(&bpfsign(os!["verify", &skel, "--cert", &cert]), "verify");
    assert!(
        err.contains("unsigned") && err.contains("--allow-unsigned"),
        "{err}"
    );
    let out = bpfsign(os!["verify", &skel, "--allow-unsigned"]);
    ok(&out);
    assert!(stdout(&out).contains("p1b: not signed; loader checks ok"));
    // A signed artifact needs the certificate; a bad certificate file is a cert error.
    let signed = gen(&dir, "maps", &[&key("TEST-ONLY-key-a.pem")]);
    fails(&bpfsign(os!["verify", &signed]), "usage");
    fails(
        &bpfsign(os!["verify", &signed, "--allow-unsigned"]),
        "usage",
    );
    fails(
        &bpfsign(os!["verify", &signed, "--cert", &dir.join("none.der")]),
        "cert",
    );
    fails(
        &bpfsign(os!["verify", &signed, "--cert", &cert, "-p", "unsigned"]),
        "usage",
    );
}
