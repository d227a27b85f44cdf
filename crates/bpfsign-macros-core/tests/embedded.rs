//! What the macro checks of every artifact it embeds, whatever made it: tampered or
//! mis-signed artifacts and hostile names are compile errors (never panics), build warnings
//! name TEST-ONLY keys and readable key files, and an external signer command
//! (`BPFSIGN_SIGNER`) signs with `cert` alone.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bpfsign_gen::artifact::Artifact;
use bpfsign_gen::sign::Signer;
use bpfsign_gen::Protocol;
use bpfsign_macros_core::{expand_with, resolve, EnvLookup, MacroInput};
use proc_macro2::TokenStream;
use quote::quote;

struct Env(HashMap<String, String>);

impl EnvLookup for Env {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

fn fixtures() -> PathBuf {
    bpfsign_test_support::fixtures()
}

/// An environment whose manifest dir is tests/fixtures and whose OUT_DIR is `out`.
fn env(out: &Path, extra: &[(&str, String)]) -> Env {
    let mut m = HashMap::new();
    m.insert(
        "CARGO_MANIFEST_DIR".to_string(),
        fixtures().display().to_string(),
    );
    m.insert("OUT_DIR".to_string(), out.display().to_string());
    for (k, v) in extra {
        m.insert(k.to_string(), v.clone());
    }
    Env(m)
}

fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "bpfsign-macros-embedded-{test}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn key_a() -> Signer {
    Signer::from_pem_file(fixtures().join("keys/TEST-ONLY-key-a.pem")).unwrap()
}

/// hello's artifact signed with key A.
fn signed_hello() -> Artifact {
    let bytes = std::fs::read(fixtures().join("obj/hello.bpf.o")).unwrap();
    let obj = bpfsign_gen::parse_object("hello.bpf.o", &bytes).unwrap();
    let g = bpfsign_gen::generate(&obj, &bpfsign_gen::GenOptions::default()).unwrap();
    Artifact::from_generated(g, Some(&key_a())).unwrap()
}

/// Writes `art` as `dir/hello.skel` (bypassing `from_bytes`' checks is not needed: every
/// tampering below keeps the artifact self-consistent) and expands `include_signed_skel!`
/// of it.
fn expand_skel(dir: &Path, art: &Artifact) -> Result<TokenStream, String> {
    std::fs::write(dir.join("hello.skel"), art.to_bytes()).unwrap();
    expand_with(quote!("hello.skel"), &env(dir, &[])).map_err(|e| e.to_string())
}

#[test]
fn tampered_artifacts_do_not_compile() {
    let dir = scratch("tampered");
    let good = signed_hello();
    expand_skel(&dir, &good).expect("the untouched artifact expands");

    let mut data = good.clone();
    let last = data.data.len() - 1;
    data.data[last] ^= 0x01;
    let e = expand_skel(&dir, &data).unwrap_err();
    assert!(
        e.contains("would be refused at load time")
            && e.contains("p1: the loader checks the data blob")
            && e.contains("p1b: the loader checks the data blob")
            && e.contains("p2: the p2 signature does not verify"),
        "{e}"
    );

    let mut swapped = good.clone();
    let p1b = swapped.variant(Protocol::P1b).unwrap().signature.clone();
    let p2 = swapped
        .variants
        .iter_mut()
        .find(|v| v.protocol == Protocol::P2)
        .unwrap();
    p2.signature = p1b;
    let e = expand_skel(&dir, &swapped).unwrap_err();
    assert!(e.contains("p2: the p2 signature does not verify"), "{e}");
    assert!(!e.contains("p1b:"), "{e}");

    let mut emptied = good.clone();
    emptied.variants[1].signature = Some(Vec::new());
    let e = expand_skel(&dir, &emptied).unwrap_err();
    assert!(e.contains("p1: the p1 signature"), "{e}");

    // Signed, but without the certificate to verify with.
    let mut no_cert = good.clone();
    no_cert.certificate = None;
    let e = expand_skel(&dir, &no_cert).unwrap_err();
    assert!(e.contains("carries no certificate"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// One change to an artifact.
type Change = Box<dyn Fn(&mut Artifact)>;

#[test]
fn hostile_names_are_errors_not_panics() {
    let dir = scratch("names");
    let good = signed_hello();
    let long = "m".repeat(10 * 1024);
    let cases: Vec<(&str, Change)> = vec![
        (
            "map \"a b\"",
            Box::new(|a| a.meta.maps[0].ident = "a b".into()),
        ),
        (
            "map \"\"",
            Box::new(|a| a.meta.maps[0].ident = String::new()),
        ),
        (
            "map \"123\"",
            Box::new(|a| a.meta.maps[0].ident = "123".into()),
        ),
        (
            "map \"mmmm",
            Box::new(move |a| a.meta.maps[0].ident = long.clone()),
        ),
        (
            "program \"a-b\"",
            Box::new(|a| a.meta.progs[0].name = "a-b".into()),
        ),
        (
            "program \"é\"",
            Box::new(|a| a.meta.progs[0].name = "é".into()),
        ),
        (
            "two maps",
            Box::new(|a| {
                let first = a.meta.maps[0].ident.clone();
                a.meta.maps[1].ident = first;
            }),
        ),
        (
            "global-data section \"\"",
            Box::new(|a| a.meta.datasecs[0].ident = String::new()),
        ),
        (
            "section `__`",
            Box::new(|a| a.meta.datasecs[0].ident = "__".into()),
        ),
        (
            "section `self`",
            Box::new(|a| a.meta.datasecs[0].ident = "self".into()),
        ),
        (
            "variable \"x y\"",
            Box::new(|a| a.meta.datasecs[0].vars[0].name = "x y".into()),
        ),
        (
            "skeleton name is",
            Box::new(|a| a.meta.name = "n".repeat(4096)),
        ),
    ];
    assert!(good.meta.maps.len() >= 2 && !good.meta.datasecs[0].vars.is_empty());
    for (want, change) in cases {
        let mut art = good.clone();
        change(&mut art);
        let result = std::panic::catch_unwind(|| expand_skel(&dir, &art));
        let e = result
            .unwrap_or_else(|_| panic!("{want}: the expansion panicked"))
            .unwrap_err();
        assert!(
            e.contains("the artifact is malformed") && e.contains(want),
            "{want}: {e}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn resolve_in(
    dir: &Path,
    input: TokenStream,
    extra: &[(&str, String)],
) -> Result<bpfsign_macros_core::Resolved, String> {
    let input: MacroInput = syn::parse2(input).map_err(|e| e.to_string())?;
    resolve(&input, &env(dir, extra)).map_err(|e| e.to_string())
}

#[cfg(unix)]
#[test]
fn test_only_keys_and_readable_key_files_warn() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("warnings");
    let key = dir.join("a.pem");
    std::fs::copy(fixtures().join("keys/TEST-ONLY-key-a.pem"), &key).unwrap();
    let key_s = key.display().to_string();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let r = resolve_in(&dir, quote!("obj/hello.bpf.o", key = #key_s), &[]).unwrap();
    assert!(
        r.warnings.len() == 1 && r.warnings[0].contains("TEST-ONLY key"),
        "{:?}",
        r.warnings
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = resolve_in(&dir, quote!("obj/hello.bpf.o", key = #key_s), &[]).unwrap();
    assert!(
        r.warnings.len() == 2 && r.warnings[1].contains("chmod 600"),
        "{:?}",
        r.warnings
    );
    // An artifact signed with a TEST-ONLY key warns when embedded too.
    signed_hello()
        .write_if_changed(dir.join("hello.skel"))
        .unwrap();
    let r = resolve_in(&dir, quote!("hello.skel"), &[]).unwrap();
    assert!(r.warnings.len() == 1, "{:?}", r.warnings);
    // The warning tokens: a deprecated item used in an anonymous constant.
    let tokens = bpfsign_macros_core::warning_tokens(&r.warnings).to_string();
    assert!(
        tokens.contains("deprecated") && tokens.contains("TEST-ONLY key"),
        "{tokens}"
    );
    assert!(bpfsign_macros_core::warning_tokens(&[]).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `BPFSIGN_SIGNER` running `openssl cms` with `pem`.
fn openssl_signer(pem: &str) -> String {
    let pem = fixtures().join("keys").join(pem);
    format!(
        "openssl cms -sign -binary -noattr -nocerts -nosmimecap -keyid -md sha256 \
         -signer '{p}' -inkey '{p}' -in {{payload}} -outform DER -out {{out}}",
        p = pem.display()
    )
}

#[test]
fn external_signer_signs_with_cert_alone() {
    let dir = scratch("signer");
    let input = || quote!("obj/hello.bpf.o", cert = "keys/TEST-ONLY-key-a.der");
    let signer = [("BPFSIGN_SIGNER", openssl_signer("TEST-ONLY-key-a.pem"))];
    let r = resolve_in(&dir, input(), &signer).unwrap();
    assert!(r.artifact.missing_signatures().is_empty());
    // RSA signatures are deterministic: the same artifact as `key = …` (the default loaders:
    // P1, P1b and P2, no unsigned one).
    let bytes = std::fs::read(fixtures().join("obj/hello.bpf.o")).unwrap();
    let obj = bpfsign_gen::parse_object("hello.bpf.o", &bytes).unwrap();
    let g = bpfsign_gen::generate_for(
        &obj,
        &bpfsign_gen::GenOptions::default(),
        &bpfsign_gen::ProtocolSelection::default(),
    )
    .unwrap();
    assert_eq!(
        r.artifact,
        Artifact::from_generated(g, Some(&key_a())).unwrap()
    );
    assert!(r.tracked_env.contains(&"BPFSIGN_SIGNER".to_string()));
    assert!(r.origin.contains("BPFSIGN_SIGNER"), "{}", r.origin);

    // Without the variable, `cert` alone names it.
    let e = resolve_in(&dir, input(), &[]).unwrap_err();
    assert!(e.contains("BPFSIGN_SIGNER"), "{e}");
    // The command signs with another key than the certificate's.
    let e = resolve_in(
        &dir,
        input(),
        &[("BPFSIGN_SIGNER", openssl_signer("TEST-ONLY-key-b.pem"))],
    )
    .unwrap_err();
    assert!(e.contains("does not verify with the certificate"), "{e}");
    // Non-zero exit, and success without a signature.
    let e = resolve_in(
        &dir,
        input(),
        &[("BPFSIGN_SIGNER", "false {payload} {out}".into())],
    )
    .unwrap_err();
    assert!(e.contains("it failed (exit status: 1)"), "{e}");
    let e = resolve_in(
        &dir,
        input(),
        &[("BPFSIGN_SIGNER", "true {payload} {out}".into())],
    )
    .unwrap_err();
    assert!(e.contains("wrote no signature"), "{e}");
    let e = resolve_in(&dir, input(), &[("BPFSIGN_SIGNER", "openssl".into())]).unwrap_err();
    assert!(e.contains("does not contain {payload}"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_fixture_object_passes_the_checks_of_what_is_embedded() {
    // The name rules and the verification accept everything the generator makes: each fixture
    // object the generator supports resolves (signed with key A, verified, names checked).
    let dir = scratch("fixtures");
    let mut checked = 0;
    for entry in std::fs::read_dir(fixtures().join("obj")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        let generates = bpfsign_gen::parse_object(&name, &bytes)
            .ok()
            .and_then(|o| bpfsign_gen::generate(&o, &bpfsign_gen::GenOptions::default()).ok())
            .is_some();
        if !generates {
            continue;
        }
        let p = path.display().to_string();
        let r = resolve_in(
            &dir,
            quote!(#p, key = "keys/TEST-ONLY-key-a.pem", name = "Fixture"),
            &[],
        );
        if let Err(e) = r {
            panic!("{name}: {e}");
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} fixture objects generated");
    std::fs::remove_dir_all(&dir).unwrap();
}
