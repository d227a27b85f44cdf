//! Tests of the macro library: expansion of real fixture objects (snapshots of the generated
//! code, pretty-printed, with byte strings summarised), input resolution and error messages.
//!
//! Snapshots live in `src/snapshots/*.rs`; run with `BPFSIGN_BLESS=1` to rewrite them
//! after an intended change (the test still fails once, so the change is reviewed).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use proc_macro2::TokenStream;
use quote::quote;

use super::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
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

/// Like [`expand_ok`], with the repository path replaced by `$REPO` *before* formatting, so
/// that line wrapping (and thus the snapshot) does not depend on where the repo is checked out.
fn expand_for_snapshot(input: TokenStream, env: &TestEnv) -> String {
    let tokens = expand_with(input, env).unwrap_or_else(|e| panic!("expansion failed: {e}"));
    let text = tokens
        .to_string()
        .replace(&repo().display().to_string(), "$REPO");
    let file: syn::File = syn::parse_str(&text).expect("the expansion parses as Rust items");
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
        .join("src/snapshots")
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
    let code = expand_for_snapshot(quote!("obj/hello.bpf.o", key = env!("BPF_KEY")), &env);
    check_snapshot("hello", &summarise(&code));
}

#[test]
fn globals_snapshot() {
    let env = TestEnv::new();
    let code = expand_for_snapshot(
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
    // Files are read only in a function body: a `const`/`static` holding `include_bytes!`
    // would put the key bytes into the crate metadata (.rlib/.rmeta) and incremental cache.
    assert_eq!(
        text.matches("include_bytes !").count(),
        text.matches("let _ = include_bytes !").count(),
        "include_bytes! outside a `let _ =` in a function body"
    );
    assert!(
        !text.contains("const _ : & [u8]"),
        "tracked file in a const"
    );
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
    let obj = bpfsign_gen::parse_object("hello.bpf.o", &bytes).unwrap();
    let generated = bpfsign_gen::generate(&obj, &bpfsign_gen::GenOptions::default()).unwrap();
    let signer = bpfsign_gen::sign::Signer::from_pem_file(key_a()).unwrap();
    let art = bpfsign_gen::artifact::Artifact::from_generated(generated, Some(&signer)).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("hello.skel");
    art.write_if_changed(&path).unwrap();
    path
}

/// `s` without the body of the file-tracking function (the files tracked differ by input form).
fn drop_tracking(s: &str) -> String {
    let start = s
        .find("fn __bpfsign_track_files")
        .expect("tracking function");
    let end = start + s[start..].find('}').expect("end of tracking function");
    format!("{}{}", &s[..start], &s[end + 1..])
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
        drop_tracking(&s.lines().collect::<String>())
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

fn key_b() -> String {
    fixtures()
        .join("keys/TEST-ONLY-key-b.pem")
        .display()
        .to_string()
}

/// Signs the three payloads of hello with the `openssl cms` command the docs give.
fn sign_offline(dir: &Path, prefix: &str) {
    sign_offline_with(dir, prefix, &key_a(), false)
}

/// Signs the three payloads of hello with `key` (a PEM with key and certificate); with
/// `embed_cert` the signer's certificate travels inside each signature (no `-nocerts`).
fn sign_offline_with(dir: &Path, prefix: &str, key: &str, embed_cert: bool) {
    let bytes = std::fs::read(fixtures().join("obj/hello.bpf.o")).unwrap();
    let obj = bpfsign_gen::parse_object("hello.bpf.o", &bytes).unwrap();
    let generated = bpfsign_gen::generate(&obj, &bpfsign_gen::GenOptions::default()).unwrap();
    let art = bpfsign_gen::artifact::Artifact::from_generated(generated, None).unwrap();
    for (p, name) in [
        (bpfsign_gen::meta::Protocol::P1, "p1"),
        (bpfsign_gen::meta::Protocol::P1b, "p1b"),
        (bpfsign_gen::meta::Protocol::P2, "p2"),
    ] {
        let v = art.variant(p).unwrap();
        let payload = bpfsign_gen::artifact::signed_payload(p, &v.insns, &art.data).unwrap();
        let payload_path = dir.join(format!("{prefix}.{name}.bin"));
        std::fs::write(&payload_path, payload).unwrap();
        let sig = dir.join(format!("{prefix}.{name}.sig"));
        if embed_cert {
            let flags = ["-noattr", "-nosmimecap", "-keyid"];
            bpfsign_test_support::openssl_cms_sign_with(&payload_path, key.as_ref(), &sig, &flags);
        } else {
            bpfsign_test_support::openssl_cms_sign(&payload_path, key.as_ref(), &sig);
        }
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
        drop_tracking(s)
            .split("pub mod hello_skel")
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
    assert!(
        msg.contains("does not verify with the certificate CN=bpfsign TEST-ONLY key b"),
        "{msg}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn compile_error_is_emitted_on_failure() {
    let tokens = expand(quote!("definitely/not/here.bpf.o", key = "k.pem"));
    let text = tokens.to_string();
    assert!(text.starts_with(":: core :: compile_error !"), "{text}");
}

/// The attack: signatures made by key B carrying B's certificate, declared as made by A. The
/// kernel would look up A's key (the artifact names A) and refuse them; the expansion must refuse
/// them first, never trusting a certificate carried inside a signature.
#[test]
fn offline_signature_by_another_key_carrying_its_certificate_is_refused() {
    let dir = std::env::temp_dir().join(format!("bpfsign-skel-attack-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    sign_offline_with(&dir, "hello", &key_b(), true);
    let sig = std::fs::read(dir.join("hello.p1.sig")).unwrap();
    let cert_b = std::fs::read(fixtures().join("keys/TEST-ONLY-key-b.der")).unwrap();
    assert!(
        sig.windows(cert_b.len()).any(|w| w == cert_b),
        "the signature must carry B's certificate for this test to mean anything"
    );
    let prefix = dir.join("hello").display().to_string();
    let env = TestEnv::new();
    // Declared with B's certificate the same files are fine: the refusal below is about the signer.
    expand_with(
        quote!("obj/hello.bpf.o", cert = "keys/TEST-ONLY-key-b.der", signature = #prefix),
        &env,
    )
    .unwrap();
    let msg = expand_err(
        quote!("obj/hello.bpf.o", cert = "keys/TEST-ONLY-key-a.der", signature = #prefix),
        &env,
    );
    assert!(msg.contains("hello.p1.sig"), "{msg}");
    assert!(msg.contains("does not verify"), "{msg}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Several programs of several attach kinds, one of them `SEC("?...")` (autoload off).
#[test]
fn multi_snapshot() {
    let env = TestEnv::new();
    let code = expand_for_snapshot(
        quote!("obj/multi.bpf.o", key = "keys/TEST-ONLY-key-a.pem"),
        &env,
    );
    check_snapshot("multi", &summarise(&code));
    let flat: String = code.split_whitespace().collect();
    // Every loaded program attaches automatically (fentry, fexit, raw_tp, raw_tracepoint,
    // tp_btf), has an fd field and a link in `attach()`.
    for (i, p) in [
        "getpid_entry",
        "getpid_exit",
        "nanosleep_entry",
        "raw_sys_enter",
        "on_switch",
        "raw_sys_exit",
    ]
    .iter()
    .enumerate()
    {
        assert!(
            flat.contains(&format!("pubfnattach_{p}(&self,)")),
            "no attach_{p}"
        );
        assert!(
            flat.contains(&format!("{p}:self.attach_{p}()?,")),
            "{p} not in attach()"
        );
        assert!(
            flat.contains(&format!("{p}:self.skel.program_unchecked({i}usize)")),
            "no handle of {p}"
        );
        assert!(
            flat.contains(&format!("self.skel.program({i}usize)?;")),
            "load() does not check {p}"
        );
    }
    // The optional program is described, and nothing pretends it is loaded.
    assert!(!flat.contains("attach_getppid_optional"));
    assert!(
        flat.contains("pubgetppid_optional:::core::option::Option<::bpfsign_runtime::Program<'a>>")
    );
    assert!(flat.contains("getppid_optional:self.skel.program(6usize).ok()"));
    assert!(
        !flat.contains("self.skel.program(6usize)?"),
        "load() must not require it"
    );
    assert!(code.contains("Always `None`, because autoload was off when the skeleton was signed"));
    assert!(code.contains("`getppid_optional` (`SEC(\"?fentry/__do_sys_getppid\")`): not loaded"));
    assert!(code.contains("autoload: false"));
    // The raw tracepoints carry their names; the BTF-attached programs none.
    assert!(flat.contains(
        "AttachKind::RawTracepoint{tp_name:::core::option::Option::Some(\"sys_enter\"),}"
    ));
    assert!(flat.contains(
        "AttachKind::RawTracepoint{tp_name:::core::option::Option::Some(\"sys_exit\"),}"
    ));
}

/// The generated accessors never panic: no `unreachable!`, `unwrap`, `expect` or `panic!`.
#[test]
fn generated_code_has_no_panicking_paths() {
    let env = TestEnv::new();
    for obj in ["obj/hello.bpf.o", "obj/globals.bpf.o", "obj/multi.bpf.o"] {
        let code = expand_ok(quote!(#obj, key = "keys/TEST-ONLY-key-a.pem"), &env);
        for bad in [
            "unreachable!",
            "panic!",
            ".unwrap()",
            ".expect(",
            "unimplemented!",
        ] {
            assert!(!code.contains(bad), "{obj}: `{bad}` in the expansion");
        }
    }
}

/// A hello artifact without signer, or with only the given protocols signed (by key A),
/// written into `dir`.
fn write_partial_artifact(dir: &Path, signed: &[bpfsign_gen::meta::Protocol]) -> PathBuf {
    let art = partial_artifact(signed);
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("hello.skel");
    std::fs::write(&path, art.to_bytes()).unwrap();
    path
}

/// A hello artifact without signer, or with only the given protocols signed (by key A).
fn partial_artifact(signed: &[bpfsign_gen::meta::Protocol]) -> bpfsign_gen::artifact::Artifact {
    let bytes = std::fs::read(fixtures().join("obj/hello.bpf.o")).unwrap();
    let obj = bpfsign_gen::parse_object("hello.bpf.o", &bytes).unwrap();
    let generated = bpfsign_gen::generate(&obj, &bpfsign_gen::GenOptions::default()).unwrap();
    let mut art = bpfsign_gen::artifact::Artifact::from_generated(generated, None).unwrap();
    let signer = bpfsign_gen::sign::Signer::from_pem_file(key_a()).unwrap();
    for p in signed {
        let sig = signer.sign(&art.payload(*p).unwrap()).unwrap();
        art.attach_signature(*p, sig, Some(signer.certificate()), "test")
            .unwrap();
    }
    art
}

/// `spec_tokens` with the bytes in files (the kernel tests' build script) is the macro's
/// `SkeletonSpec` with every reference to an embedded static replaced by `include_bytes!` of
/// the part's file (and the hash by its value); variants without signature stay `None`.
#[test]
fn spec_from_files_is_the_macros_spec_with_included_bytes() {
    use bpfsign_gen::meta::Protocol;
    let art = partial_artifact(&[Protocol::P2]);
    let file = |part: ArtifactPart| {
        PathBuf::from(match part {
            ArtifactPart::Data => "/parts/data".to_string(),
            ArtifactPart::Insns(p) => format!("/parts/{p:?}.insns"),
            ArtifactPart::Signature(p) => format!("/parts/{p:?}.sig"),
        })
    };
    let from_files = spec_tokens(&art, SpecBytes::IncludeFiles(&file)).to_string();
    syn::parse_str::<syn::Expr>(&from_files).expect("the spec parses as an expression");

    let include = |path: &str| quote!(include_bytes!(#path)).to_string();
    let mut expected = spec_tokens(&art, SpecBytes::Statics)
        .to_string()
        .replace(&quote!(&DATA.0).to_string(), &include("/parts/data"));
    assert_eq!(art.variants.len(), 4);
    for v in &art.variants {
        let (p, upper) = (v.protocol, format!("{:?}", v.protocol).to_uppercase());
        // With what follows each name, so that `P1` does not match `P1B`.
        let insns = format!("& INSNS_{upper} . 0");
        let hash = format!("EXCL_HASH_{upper} ,");
        let sig = format!("& SIG_{upper})");
        let hash_value = v.excl_prog_hash.iter();
        assert!(
            expected.contains(&insns) && expected.contains(&hash),
            "{expected}"
        );
        assert_eq!(expected.contains(&sig), v.signature.is_some(), "{p:?}");
        expected = expected
            .replace(&insns, &include(&format!("/parts/{p:?}.insns")))
            .replace(&hash, &format!("{} ,", quote!([#(#hash_value),*])))
            .replace(&sig, &format!("{})", include(&format!("/parts/{p:?}.sig"))));
    }
    assert_eq!(from_files, expected);
    assert!(from_files.contains("include_bytes ! (\"/parts/P2.sig\")"));
    assert!(!from_files.contains("/parts/P1.sig"), "P1 is unsigned");
}

#[test]
fn partially_signed_artifact_needs_the_missing_signatures_or_allow_unsigned() {
    use bpfsign_gen::meta::Protocol;
    let dir = std::env::temp_dir().join(format!("bpfsign-skel-partial-{}", std::process::id()));
    let path = write_partial_artifact(&dir, &[Protocol::P2]);
    let env = TestEnv::new().with("OUT_DIR", dir.display().to_string());
    let msg = expand_err(quote!("hello.skel"), &env);
    let skel = path.canonicalize().unwrap().display().to_string();
    for want in [
        "is only partially signed: no signature for p1, p1b",
        &format!("`bpfsign payload {skel} --protocol p1 -o hello.p1.bin`"),
        "openssl cms -sign -binary -noattr -nocerts",
        &format!("`bpfsign attach-sig {skel} --protocol p1 --sig hello.p1.sig`"),
        "allow_unsigned = true",
    ] {
        assert!(msg.contains(want), "missing `{want}` in: {msg}");
    }
    // The artifact carries the certificate: no `--cert` needed to attach the rest.
    assert!(!msg.contains("--cert"), "{msg}");

    let code = expand_ok(quote!("hello.skel", allow_unsigned = true), &env);
    let flat: String = code.split_whitespace().collect();
    assert!(code.contains("the partially signed artifact `hello.skel`"));
    for (p, signed) in [("P1", false), ("P1b", false), ("P2", true)] {
        let sig = if signed {
            format!(
                "signature:::core::option::Option::Some(&SIG_{}),",
                p.to_uppercase()
            )
        } else {
            "signature:::core::option::Option::None,".to_string()
        };
        assert!(
            flat.contains(&format!("protocol:::bpfsign_runtime::Protocol::{p},insns:&INSNS_{}.0,excl_prog_hash:EXCL_HASH_{},{sig}", p.to_uppercase(), p.to_uppercase())),
            "{p}"
        );
    }

    // Entirely unsigned: says so, and attaching needs the certificate.
    write_partial_artifact(&dir, &[]);
    let msg = expand_err(quote!("hello.skel"), &env);
    assert!(msg.contains("hello.skel is unsigned"), "{msg}");
    assert!(msg.contains("For each of p1, p1b, p2"), "{msg}");
    assert!(msg.contains("--sig hello.p1.sig --cert CERT`"), "{msg}");
    let code = expand_ok(quote!("hello.skel", allow_unsigned = true), &env);
    assert!(code.contains("the unsigned artifact `hello.skel`"));
    assert!(code.contains("No signer: the skeleton is unsigned."));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn allow_unsigned_embeds_an_object_without_key_and_tolerates_missing_offline_signatures() {
    let env = TestEnv::new();
    let code = expand_ok(quote!("obj/hello.bpf.o", allow_unsigned = true), &env);
    assert!(code.contains("`hello.bpf.o`, unsigned (`allow_unsigned = true`)"));
    assert!(!code.contains("SIG_P"), "no signature may be embedded");
    assert!(code.contains("signer_skid: ::core::option::Option::None"));
    let msg = expand_err(quote!("obj/hello.bpf.o", allow_unsigned = false), &env);
    assert!(msg.contains("must be signed"), "{msg}");

    let dir = std::env::temp_dir().join(format!("bpfsign-skel-allow-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    sign_offline(&dir, "hello");
    std::fs::remove_file(dir.join("hello.p1.sig")).unwrap();
    let prefix = dir.join("hello").display().to_string();
    let msg = expand_err(
        quote!("obj/hello.bpf.o", cert = "keys/TEST-ONLY-key-a.der", signature = #prefix),
        &env,
    );
    for want in [
        "offline signature `",
        "hello.p1.sig` not found",
        "`bpfsign gen OBJ --unsigned -o hello.skel`",
        "`bpfsign payload hello.skel --protocol p1 -o hello.p1.bin`",
        "allow_unsigned = true",
    ] {
        assert!(msg.contains(want), "missing `{want}` in: {msg}");
    }
    let code = expand_ok(
        quote!("obj/hello.bpf.o", cert = "keys/TEST-ONLY-key-a.der", signature = #prefix, allow_unsigned = true),
        &env,
    );
    assert!(code.contains("SIG_P1B") && code.contains("SIG_P2") && !code.contains("SIG_P1:"));
    // With no signature file at all there is nothing offline about it.
    let empty = dir.join("none").display().to_string();
    let msg = expand_err(
        quote!("obj/hello.bpf.o", cert = "keys/TEST-ONLY-key-a.der", signature = #empty, allow_unsigned = true),
        &env,
    );
    assert!(msg.contains("no offline signature found"), "{msg}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The protocols of the `SkeletonSpec` variants in expanded code, in order.
fn embedded_protocols(code: &str) -> Vec<String> {
    let flat: String = code.split_whitespace().collect();
    flat.split("protocol:::bpfsign_runtime::Protocol::")
        .skip(1)
        .map(|rest| rest.split(',').next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn only_allow_unsigned_embeds_the_unsigned_loader() {
    let env = TestEnv::new();
    let key = "keys/TEST-ONLY-key-a.pem";
    let code = expand_ok(quote!("obj/hello.bpf.o", key = #key), &env);
    assert_eq!(embedded_protocols(&code), ["P1", "P1b", "P2"]);
    assert!(!code.contains("INSNS_UNSIGNED"), "no unsigned loader bytes");
    assert!(code.contains("`BPFSIGN_PROTOCOL=p1|p1b|p2` overrides"));

    let code = expand_ok(
        quote!("obj/hello.bpf.o", key = #key, allow_unsigned = true),
        &env,
    );
    assert_eq!(embedded_protocols(&code), ["Unsigned", "P1", "P1b", "P2"]);
    assert!(code.contains("INSNS_UNSIGNED"));

    // The embedded unsigned loader is the generator's, byte for byte.
    let tokens = expand_with(
        quote!("obj/hello.bpf.o", key = #key, allow_unsigned = true),
        &env,
    )
    .unwrap()
    .to_string();
    let obj = std::fs::read(fixtures().join("obj/hello.bpf.o")).unwrap();
    let parsed = bpfsign_gen::parse_object("hello.bpf.o", &obj).unwrap();
    let all = bpfsign_gen::generate(&parsed, &bpfsign_gen::GenOptions::default()).unwrap();
    let unsigned = all.loader(bpfsign_gen::Protocol::Unsigned).unwrap();
    let lit = proc_macro2::Literal::byte_string(unsigned).to_string();
    assert!(
        tokens.contains(&lit),
        "the unsigned loader's bytes are embedded"
    );
    let default = expand_with(quote!("obj/hello.bpf.o", key = #key), &env)
        .unwrap()
        .to_string();
    assert!(!default.contains(&lit), "and absent by default");
}

#[test]
fn protocols_choose_the_embedded_loaders() {
    let env = TestEnv::new();
    let key = "keys/TEST-ONLY-key-a.pem";
    let code = expand_ok(
        quote!("obj/hello.bpf.o", key = #key, protocols = [p2, p1b]),
        &env,
    );
    assert_eq!(embedded_protocols(&code), ["P1b", "P2"]);
    assert!(code.contains("`BPFSIGN_PROTOCOL=p1b|p2` overrides"));
    let code = expand_ok(
        quote!("obj/hello.bpf.o", key = #key, protocols = ["p2"], allow_unsigned = true),
        &env,
    );
    assert_eq!(embedded_protocols(&code), ["Unsigned", "P2"]);

    // From an artifact: the list filters its variants; the unsigned one needs allow_unsigned.
    let dir = std::env::temp_dir().join(format!("bpfsign-skel-protocols-{}", std::process::id()));
    write_artifact(&dir);
    let env = TestEnv::new().with("OUT_DIR", dir.display().to_string());
    let code = expand_ok(quote!("hello.skel"), &env);
    assert_eq!(embedded_protocols(&code), ["P1", "P1b", "P2"]);
    let code = expand_ok(quote!("hello.skel", protocols = [p1b]), &env);
    assert_eq!(embedded_protocols(&code), ["P1b"]);
    let code = expand_ok(quote!("hello.skel", allow_unsigned = true), &env);
    assert_eq!(embedded_protocols(&code), ["Unsigned", "P1", "P1b", "P2"]);

    // Offline signing of the chosen protocols only: P2 signed, P1/P1b left out.
    write_partial_artifact(&dir, &[bpfsign_gen::Protocol::P2]);
    let code = expand_ok(quote!("hello.skel", protocols = [p2]), &env);
    assert_eq!(embedded_protocols(&code), ["P2"]);

    // An artifact without a listed protocol is refused, naming what it has.
    let obj = fixtures().join("obj/hello.bpf.o");
    let signer = bpfsign_gen::sign::Signer::from_pem_file(key_a()).unwrap();
    let sel = bpfsign_gen::ProtocolSelection::new()
        .with_signed(&[bpfsign_gen::Protocol::P2])
        .unwrap();
    let art = bpfsign_gen::sign_object_for(&obj, Some(&signer), &Default::default(), &sel).unwrap();
    art.write_if_changed(dir.join("hello.skel")).unwrap();
    let msg = expand_err(quote!("hello.skel", protocols = [p1b, p2]), &env);
    assert!(
        msg.contains("`protocols` asks for p1b but the artifact has no such loader (it has: p2)"),
        "{msg}"
    );
    let code = expand_ok(quote!("hello.skel"), &env);
    assert_eq!(embedded_protocols(&code), ["P2"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `maps()` of an object with user maps: typed handles with key/value types from BTF.
#[test]
fn maps_snapshot() {
    let env = TestEnv::new();
    let code = expand_for_snapshot(
        quote!("obj/maps.bpf.o", key = "keys/TEST-ONLY-key-a.pem"),
        &env,
    );
    // Without whitespace and the trailing commas of wrapped lists.
    let flat: String = code
        .split_whitespace()
        .collect::<String>()
        .replace(",>", ">");
    for field in [
        "pubpid_counts:::bpfsign_runtime::HashMap<'a,types::PidCountsKey,types::PidCountsValue>",
        "pubslots:::bpfsign_runtime::HashMap<'a,types::SlotsKey,types::SlotsValue>",
        "pubrecent:::bpfsign_runtime::HashMap<'a,types::RecentKey,types::RecentValue>",
        "pubscratch:::bpfsign_runtime::PerCpuMap<'a,types::ScratchKey,types::ScratchValue>",
        "pubcpu_counts:::bpfsign_runtime::PerCpuMap<'a,types::CpuCountsKey,types::CpuCountsValue>",
        "pubevents:::bpfsign_runtime::RingBuf<'a>",
        "pubtypeSparseValue=event;",
        "pubtypePidCountsKey=::core::primitive::u32;",
    ] {
        assert!(flat.contains(field), "missing `{field}` in the expansion");
    }
    check_snapshot("maps", &summarise(&code));
}

/// Maps of maps and prog arrays get their handles; the outer map's key type comes from BTF.
#[test]
fn map_in_map_handles() {
    let env = TestEnv::new();
    let code = expand_ok(
        quote!("obj/mapinmap.bpf.o", key = "keys/TEST-ONLY-key-a.pem"),
        &env,
    );
    let flat: String = code
        .split_whitespace()
        .collect::<String>()
        .replace(",>", ">");
    for field in [
        "pubouter_arr:::bpfsign_runtime::MapOfMaps<'a,types::OuterArrKey>",
        "pubouter_hash:::bpfsign_runtime::MapOfMaps<'a,types::OuterHashKey>",
        "pubjump_table:::bpfsign_runtime::ProgArray<'a>",
        // `load()` checks every handle once.
        "::bpfsign_runtime::MapOfMaps::<types::OuterArrKey>::new(self.skel.map(",
    ] {
        assert!(flat.contains(field), "missing `{field}` in the expansion");
    }
}
