//! Tests of the macro library: expansion of real fixture objects (snapshots of the generated
//! code, pretty-printed, with byte strings summarised), input resolution and error messages.
//!
//! Snapshots live in `src/skel/snapshots/*.rs`; run with `BPFSIGN_BLESS=1` to rewrite them
//! after an intended change (the test still fails once, so the change is reviewed).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use proc_macro2::TokenStream;
use quote::quote;

use super::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

fn fixtures() -> PathBuf {
    repo().join("tests/fixtures")
}

/// An environment of a test crate whose manifest dir is tests/fixtures.
struct TestEnv(HashMap<String, String>);

impl TestEnv {
    fn new() -> Self {
        let mut m = HashMap::new();
        m.insert(
            "CARGO_MANIFEST_DIR".to_string(),
            fixtures().display().to_string(),
        );
        TestEnv(m)
    }
    fn with(mut self, k: &str, v: impl Into<String>) -> Self {
        self.0.insert(k.to_string(), v.into());
        self
    }
}

impl EnvLookup for TestEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

fn expand_ok(input: TokenStream, env: &TestEnv) -> String {
    let tokens = expand_with(input, env).unwrap_or_else(|e| panic!("expansion failed: {e}"));
    let file: syn::File = syn::parse2(tokens).expect("the expansion parses as Rust items");
    prettyplease::unparse(&file)
}

fn expand_err(input: TokenStream, env: &TestEnv) -> String {
    match expand_with(input, env) {
        Ok(_) => panic!("expansion unexpectedly succeeded"),
        Err(e) => e.to_string(),
    }
}

/// Replaces byte-string literals with their length and the machine-specific repository path
/// with `$REPO`, so snapshots show the API, not the bytes.
fn summarise(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(i) = rest.find("b\"") {
        out.push_str(&rest[..i]);
        let lit = &rest[i + 2..];
        let mut end = 0;
        let bytes = lit.as_bytes();
        let mut n = 0usize;
        while bytes[end] != b'"' {
            if bytes[end] == b'\\' {
                end += match bytes[end + 1] {
                    b'x' => 4,
                    _ => 2,
                };
            } else {
                end += 1;
            }
            n += 1;
        }
        out.push_str(&format!("b\"<{n} bytes>\""));
        rest = &lit[end + 1..];
    }
    out.push_str(rest);
    out.replace(&repo().display().to_string(), "$REPO")
}

fn check_snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/skel/snapshots")
        .join(format!("{name}.rs"));
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected != actual {
        if std::env::var_os("BPFSIGN_BLESS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, actual).unwrap();
        }
        panic!(
            "snapshot {} differs from the generated code (rerun with BPFSIGN_BLESS=1 to accept):\n{}",
            path.display(),
            first_difference(&expected, actual)
        );
    }
}

fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}:\n- {x}\n+ {y}", i + 1);
        }
    }
    format!(
        "lengths differ: {} vs {} lines",
        a.lines().count(),
        b.lines().count()
    )
}

fn key_a() -> String {
    fixtures()
        .join("keys/TEST-ONLY-key-a.pem")
        .display()
        .to_string()
}

#[test]
fn hello_snapshot() {
    let env = TestEnv::new().with("BPF_KEY", key_a());
    let code = expand_ok(quote!("obj/hello.bpf.o", key = env!("BPF_KEY")), &env);
    check_snapshot("hello", &summarise(&code));
}

#[test]
fn globals_snapshot() {
    let env = TestEnv::new();
    let code = expand_ok(
        quote!("obj/globals.bpf.o", key = "keys/TEST-ONLY-key-a.pem"),
        &env,
    );
    check_snapshot("globals", &summarise(&code));
}

#[test]
fn expansion_tracks_files_and_env_and_never_embeds_the_key() {
    let env = TestEnv::new().with("BPF_KEY", key_a());
    let tokens = expand_with(quote!("obj/hello.bpf.o", key = env!("BPF_KEY")), &env).unwrap();
    let text = tokens.to_string();
    assert!(
        text.contains("const _ : & str = env ! (\"BPF_KEY\")"),
        "env var not tracked"
    );
    let obj = fixtures().join("obj/hello.bpf.o").canonicalize().unwrap();
    for tracked in [obj.display().to_string(), key_a()] {
        assert!(
            text.contains(&format!("include_bytes ! (\"{tracked}\")")),
            "{tracked} not tracked"
        );
    }
    // No line of the PEM body may appear in any form (text or bytes).
    let pem = std::fs::read_to_string(key_a()).unwrap();
    let key_body: Vec<&str> = pem
        .split("-----BEGIN PRIVATE KEY-----")
        .nth(1)
        .unwrap()
        .split("-----END")
        .next()
        .unwrap()
        .lines()
        .filter(|l| l.len() > 20)
        .collect();
    assert!(!key_body.is_empty());
    for line in key_body {
        assert!(
            !text.contains(line),
            "private key material in the expansion"
        );
    }
}

#[test]
fn expansion_is_deterministic() {
    let env = TestEnv::new().with("BPF_KEY", key_a());
    let a = expand_with(quote!("obj/hello.bpf.o", key = env!("BPF_KEY")), &env)
        .unwrap()
        .to_string();
    let b = expand_with(quote!("obj/hello.bpf.o", key = env!("BPF_KEY")), &env)
        .unwrap()
        .to_string();
    assert_eq!(a, b);
}

#[test]
fn object_is_looked_up_in_out_dir_first() {
    let dir = std::env::temp_dir().join(format!("bpfsign-skel-outdir-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("obj")).unwrap();
    // A different object under the same relative name in OUT_DIR wins.
    std::fs::copy(
        fixtures().join("obj/globals.bpf.o"),
        dir.join("obj/hello.bpf.o"),
    )
    .unwrap();
    let env = TestEnv::new().with("OUT_DIR", dir.display().to_string());
    let text = expand_with(
        quote!(
            "obj/hello.bpf.o",
            key = "keys/TEST-ONLY-key-a.pem",
            name = "Picked"
        ),
        &env,
    )
    .unwrap()
    .to_string();
    assert!(
        text.contains("bss_counter"),
        "OUT_DIR's object was not used"
    );
    assert!(text.contains(
        &dir.join("obj/hello.bpf.o")
            .canonicalize()
            .unwrap()
            .display()
            .to_string()
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn name_overrides_type_and_module() {
    let env = TestEnv::new();
    let code = expand_ok(
        quote!(
            "obj/hello.bpf.o",
            key = "keys/TEST-ONLY-key-a.pem",
            name = "Greeter"
        ),
        &env,
    );
    assert!(code.contains("pub mod greeter_skel"));
    assert!(code.contains("pub struct Greeter;"));
    assert!(code.contains("pub struct LoadedGreeter"));
    let flat: String = code.split_whitespace().collect();
    assert!(flat.contains("pubusegreeter_skel::{Greeter,GreeterBuilder,LoadedGreeter,GreeterProgs,GreeterMaps,GreeterLinks,};"), "{code}");
}

#[test]
fn separate_key_and_cert_files() {
    let env = TestEnv::new();
    let code = expand_ok(
        quote!(
            "obj/hello.bpf.o",
            key = "keys/TEST-ONLY-noskid.key.pem",
            cert = "keys/TEST-ONLY-noskid.crt.pem"
        ),
        &env,
    );
    // No SKID: the signer is named by issuer and serial, and the runtime gets no SKID.
    assert!(code.contains("signer_skid: ::core::option::Option::None"));
    assert!(code.contains("serial `"));
}

#[test]
fn errors_say_what_to_do() {
    let env = TestEnv::new();
    let cases: Vec<(TokenStream, &[&str])> = vec![
        (
            quote!("obj/hello.bpf.o", key = env!("BPFSIGN_TEST_UNSET_VAR")),
            &[
                "environment variable `BPFSIGN_TEST_UNSET_VAR`",
                "is not set",
                "[env]",
                "openssl req",
            ],
        ),
        (
            quote!("obj/nope.bpf.o", key = "keys/TEST-ONLY-key-a.pem"),
            &[
                "object file `obj/nope.bpf.o` not found",
                "OUT_DIR (not set)",
                "CARGO_MANIFEST_DIR (",
                "build.rs",
            ],
        ),
        (
            quote!("obj/hello.bpf.o", key = "keys/nope.pem"),
            &["key file `keys/nope.pem` not found"],
        ),
        (
            quote!("obj/hello.bpf.o", key = "keys/TEST-ONLY-key-a.der"),
            &[
                "TEST-ONLY-key-a.der holds no PEM private key",
                "pass `cert = …`",
            ],
        ),
        (
            quote!(
                "obj/hello.bpf.o",
                key = "keys/TEST-ONLY-key-a.pem",
                cert = "keys/TEST-ONLY-key-b.der"
            ),
            &["does not match the certificate"],
        ),
        (
            quote!("obj/hello.bpf.o"),
            &["must be signed", "key = env!(\"BPF_KEY\")"],
        ),
        (
            quote!("src/hello.bpf.c"),
            &["neither a BPF object (ELF) nor a bpfsign artifact"],
        ),
        (
            quote!(
                "obj/hello.bpf.o",
                key = "keys/TEST-ONLY-key-a.pem",
                signature = "x"
            ),
            &["either `key`", "not both"],
        ),
        (
            quote!("obj/hello.bpf.o", signature = "x"),
            &["`signature` needs `cert"],
        ),
        (
            quote!("obj/hello.bpf.o", cert = "keys/TEST-ONLY-key-a.der"),
            &["`cert` alone cannot sign"],
        ),
        (
            quote!(
                "obj/hello.bpf.o",
                cert = "keys/TEST-ONLY-key-a.der",
                signature = "nowhere/hello"
            ),
            &[
                "offline signature `nowhere/hello.p1.sig` not found",
                "openssl cms -sign",
            ],
        ),
    ];
    for (input, wants) in cases {
        let msg = expand_err(input.clone(), &env);
        for want in wants {
            assert!(
                msg.contains(want),
                "input `{input}`:\n  message: {msg}\n  missing: {want}"
            );
        }
    }
}

/// Writes a signed artifact of hello (as build.rs or `bpfsign gen` would) into a temp dir.
fn write_artifact(dir: &Path) -> PathBuf {
    let bytes = std::fs::read(fixtures().join("obj/hello.bpf.o")).unwrap();
    let obj = crate::parse_object("hello.bpf.o", &bytes).unwrap();
    let generated = crate::generate(&obj, &crate::GenOptions::default()).unwrap();
    let signer = crate::sign::Signer::from_pem_file(key_a()).unwrap();
    let art = crate::artifact::Artifact::from_generated(generated, Some(&signer)).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("hello.skel");
    art.write_if_changed(&path).unwrap();
    path
}

#[test]
fn signed_artifact_expands_like_signing_at_expansion_time() {
    let dir = std::env::temp_dir().join(format!("bpfsign-skel-artifact-{}", std::process::id()));
    let path = write_artifact(&dir);
    let env = TestEnv::new().with("OUT_DIR", dir.display().to_string());
    let from_artifact = expand_with(quote!("hello.skel"), &env).unwrap().to_string();
    let signed_now = expand_with(
        quote!("obj/hello.bpf.o", key = "keys/TEST-ONLY-key-a.pem"),
        &env,
    )
    .unwrap()
    .to_string();
    // Same bytes and API; only the tracked files and the origin line differ.
    let strip = |s: &str| {
        s.lines()
            .collect::<String>()
            .split("pub mod hello_skel")
            .nth(1)
            .unwrap()
            .replace("the signed artifact `hello.skel`", "X")
            .replace("`hello.bpf.o`, signed at build time", "X")
    };
    assert_eq!(strip(&from_artifact), strip(&signed_now));
    let msg = expand_err(quote!("hello.skel", key = "keys/TEST-ONLY-key-a.pem"), &env);
    assert!(msg.contains("already signed artifact"), "{msg}");
    std::fs::remove_dir_all(&dir).unwrap();
    let _ = path;
}

/// Signs the three payloads of hello with the `openssl cms` command the docs give.
fn sign_offline(dir: &Path, prefix: &str) {
    let bytes = std::fs::read(fixtures().join("obj/hello.bpf.o")).unwrap();
    let obj = crate::parse_object("hello.bpf.o", &bytes).unwrap();
    let generated = crate::generate(&obj, &crate::GenOptions::default()).unwrap();
    let art = crate::artifact::Artifact::from_generated(generated, None).unwrap();
    for (p, name) in [
        (crate::meta::Protocol::P1, "p1"),
        (crate::meta::Protocol::P1b, "p1b"),
        (crate::meta::Protocol::P2, "p2"),
    ] {
        let v = art.variant(p).unwrap();
        let payload = crate::artifact::signed_payload(p, &v.insns, &art.data).unwrap();
        let payload_path = dir.join(format!("{prefix}.{name}.bin"));
        std::fs::write(&payload_path, payload).unwrap();
        let status = std::process::Command::new("openssl")
            .args([
                "cms",
                "-sign",
                "-binary",
                "-noattr",
                "-nocerts",
                "-nosmimecap",
                "-keyid",
                "-md",
                "sha256",
            ])
            .arg("-signer")
            .arg(key_a())
            .arg("-inkey")
            .arg(key_a())
            .arg("-in")
            .arg(&payload_path)
            .args(["-outform", "DER", "-out"])
            .arg(dir.join(format!("{prefix}.{name}.sig")))
            .status()
            .expect("run openssl");
        assert!(status.success());
    }
}

#[test]
fn offline_signatures_made_with_openssl_match_signing_at_expansion_time() {
    let dir = std::env::temp_dir().join(format!("bpfsign-skel-offline-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    sign_offline(&dir, "hello");
    let prefix = dir.join("hello").display().to_string();
    let env = TestEnv::new();
    let offline = expand_with(
        quote!("obj/hello.bpf.o", cert = "keys/TEST-ONLY-key-a.der", signature = #prefix),
        &env,
    )
    .unwrap()
    .to_string();
    let online = expand_with(
        quote!("obj/hello.bpf.o", key = "keys/TEST-ONLY-key-a.pem"),
        &env,
    )
    .unwrap()
    .to_string();
    // RSA PKCS#1 v1.5 is deterministic: openssl's signatures are byte-identical to ours.
    let body = |s: &str| {
        s.split("pub mod hello_skel")
            .nth(1)
            .unwrap()
            .replace("signed offline", "signed at build time")
    };
    assert_eq!(body(&offline), body(&online));
    assert!(
        offline.contains(&format!("{prefix}.p2.sig")),
        "signature files must be tracked"
    );

    // A signature by another key is refused at expansion time.
    std::fs::copy(dir.join("hello.p1.sig"), dir.join("hello.p1b.sig")).unwrap();
    let msg = expand_err(
        quote!("obj/hello.bpf.o", cert = "keys/TEST-ONLY-key-a.der", signature = #prefix),
        &env,
    );
    assert!(msg.contains("hello.p1b.sig does not verify"), "{msg}");
    let msg = expand_err(
        quote!("obj/hello.bpf.o", cert = "keys/TEST-ONLY-key-b.der", signature = #prefix),
        &env,
    );
    assert!(msg.contains("does not verify with certificate"), "{msg}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn compile_error_is_emitted_on_failure() {
    let tokens = expand(quote!("definitely/not/here.bpf.o", key = "k.pem"));
    let text = tokens.to_string();
    assert!(text.starts_with(":: core :: compile_error !"), "{text}");
}
