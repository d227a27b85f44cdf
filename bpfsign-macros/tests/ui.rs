//! Compile-fail tests of `include_signed_skel!` (trybuild): every error says what to do.
//! Run with `TRYBUILD=overwrite` to bless changed messages.
//!
//! The test files name inputs through `env!("BPFSIGN_FIXTURES")` (the repository's
//! tests/fixtures), set here for the compiler that trybuild runs.

/// Writes a signed artifact of hello whose `.bss` layout is replaced by awkward C layouts
/// (keyword names, a packed struct, a 16-byte integer, a union larger than its members with a
/// bitfield, anonymous members), so the pass test can check the generated Rust layout compiles
/// and matches. Only the metadata changes; nothing is loaded.
fn write_synthetic_artifact() -> std::path::PathBuf {
    use bpfsign_gen::meta::{MemberMeta, TypeMeta, VarMeta};
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures");
    let elf = std::fs::read(format!("{fixtures}/obj/hello.bpf.o")).unwrap();
    let obj = bpfsign_gen::parse_object("hello.bpf.o", &elf).unwrap();
    let mut generated = bpfsign_gen::generate(&obj, &bpfsign_gen::GenOptions::default()).unwrap();
    let int = |size, signed| TypeMeta::Int {
        size,
        signed,
        is_bool: false,
        is_char: false,
    };
    let member = |name: &str, offset, ty| MemberMeta {
        name: name.into(),
        offset,
        ty,
    };
    let var = |name: &str, offset, size, ty| VarMeta {
        name: name.into(),
        offset,
        size,
        ty,
    };
    let packed = TypeMeta::Struct {
        name: Some("packed_s".into()),
        size: 5,
        members: vec![member("a", 0, int(1, false)), member("b", 1, int(4, true))],
    };
    let union = TypeMeta::Union {
        name: None,
        size: 12,
        members: vec![
            member("x", 0, int(8, false)),
            member("__bitfield2", 2, TypeMeta::Opaque { size: 1 }),
        ],
    };
    let anon = TypeMeta::Struct {
        name: None,
        size: 8,
        members: vec![
            member("", 0, int(4, false)),
            member("self", 4, int(4, true)),
        ],
    };
    let bss = &mut generated.meta.datasecs[0];
    bss.size = 53;
    bss.vars = vec![
        var("type", 0, 4, int(4, true)),
        var("packed", 4, 5, packed),
        var("big", 16, 16, int(16, false)),
        var("u", 32, 12, union),
        var("anon", 44, 8, anon),
        var(
            "flag",
            52,
            1,
            TypeMeta::Int {
                size: 1,
                signed: false,
                is_bool: true,
                is_char: false,
            },
        ),
    ];
    let map = bss.map_index;
    generated.meta.maps[map].value_size = 53;
    let signer =
        bpfsign_gen::sign::Signer::from_pem_file(format!("{fixtures}/keys/TEST-ONLY-key-a.pem"))
            .unwrap();
    let art = bpfsign_gen::artifact::Artifact::from_generated(generated, Some(&signer)).unwrap();
    let dir = std::env::temp_dir().join(format!("bpfsign-macros-ui-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("synthetic.skel");
    art.write_if_changed(&path).unwrap();
    path
}

/// The unsigned hello artifact the macro would generate from the fixture object.
fn unsigned_hello(fixtures: &str) -> bpfsign_gen::artifact::Artifact {
    let elf = std::fs::read(format!("{fixtures}/obj/hello.bpf.o")).unwrap();
    let obj = bpfsign_gen::parse_object("hello.bpf.o", &elf).unwrap();
    let generated = bpfsign_gen::generate(&obj, &bpfsign_gen::GenOptions::default()).unwrap();
    bpfsign_gen::artifact::Artifact::from_generated(generated, None).unwrap()
}

/// Inputs of the offline-signing cases, written below the workspace's `target/` so that their
/// paths in the expected messages read `$WORKSPACE/target/...`:
/// * `by-b/hello.{p1,p1b,p2}.sig`: hello's payloads signed by TEST-ONLY key B with `openssl cms`
///   *keeping* B's certificate in each signature (no `-nocerts`);
/// * `partial/hello.skel`: hello's artifact with only the p2 signature (key A) attached.
fn write_offline_inputs() -> std::path::PathBuf {
    use bpfsign_gen::Protocol;
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures");
    let dir = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/bpfsign-macros-ui"
    ));
    std::fs::create_dir_all(dir.join("by-b")).unwrap();
    std::fs::create_dir_all(dir.join("partial")).unwrap();
    let dir = std::fs::canonicalize(dir).unwrap();
    let mut art = unsigned_hello(fixtures);
    let key_b = format!("{fixtures}/keys/TEST-ONLY-key-b.pem");
    for (p, name) in [
        (Protocol::P1, "p1"),
        (Protocol::P1b, "p1b"),
        (Protocol::P2, "p2"),
    ] {
        let payload = dir.join(format!("by-b/hello.{name}.bin"));
        std::fs::write(&payload, art.payload(p).unwrap()).unwrap();
        bpfsign_test_support::openssl_cms_sign_with(
            &payload,
            key_b.as_ref(),
            &dir.join(format!("by-b/hello.{name}.sig")),
            &["-noattr", "-nosmimecap", "-keyid"],
        );
    }
    let signer =
        bpfsign_gen::sign::Signer::from_pem_file(format!("{fixtures}/keys/TEST-ONLY-key-a.pem"))
            .unwrap();
    let sig = signer.sign(&art.payload(Protocol::P2).unwrap()).unwrap();
    art.attach_signature(Protocol::P2, sig, Some(signer.certificate()), "p2.sig")
        .unwrap();
    art.write_if_changed(dir.join("partial/hello.skel"))
        .unwrap();
    dir
}

/// Tampered copies of hello's artifact signed with key A, in `dir/tampered/`: `data.skel` (one
/// data byte changed), `swapped.skel` (the p1b signature in the p2 slot), `emptied.skel` (an
/// empty p1 signature), `hostile-name.skel` (a map named "a b"). Each is still a consistent
/// artifact file; only the macro's checks find the problem.
fn write_tampered_inputs(dir: &std::path::Path) {
    use bpfsign_gen::Protocol;
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures");
    let signer =
        bpfsign_gen::sign::Signer::from_pem_file(format!("{fixtures}/keys/TEST-ONLY-key-a.pem"))
            .unwrap();
    let elf = std::fs::read(format!("{fixtures}/obj/hello.bpf.o")).unwrap();
    let obj = bpfsign_gen::parse_object("hello.bpf.o", &elf).unwrap();
    let generated = bpfsign_gen::generate(&obj, &bpfsign_gen::GenOptions::default()).unwrap();
    let good = bpfsign_gen::artifact::Artifact::from_generated(generated, Some(&signer)).unwrap();
    let out = dir.join("tampered");
    std::fs::create_dir_all(&out).unwrap();
    let slot = |a: &mut bpfsign_gen::artifact::Artifact, p| {
        a.variants.iter().position(|v| v.protocol == p).unwrap()
    };
    let mut data = good.clone();
    let last = data.data.len() - 1;
    data.data[last] ^= 1;
    let mut swapped = good.clone();
    let (p1b, p2) = (
        slot(&mut swapped, Protocol::P1b),
        slot(&mut swapped, Protocol::P2),
    );
    swapped.variants[p2].signature = swapped.variants[p1b].signature.clone();
    let mut emptied = good.clone();
    let p1 = slot(&mut emptied, Protocol::P1);
    emptied.variants[p1].signature = Some(Vec::new());
    let mut hostile = good.clone();
    hostile.meta.maps[0].ident = "a b".into();
    for (name, art) in [
        ("data", data),
        ("swapped", swapped),
        ("emptied", emptied),
        ("hostile-name", hostile),
    ] {
        art.write_if_changed(out.join(format!("{name}.skel")))
            .unwrap();
    }
}

fn set_env() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures");
    let fixtures = std::fs::canonicalize(fixtures).expect("tests/fixtures exists");
    std::env::set_var("BPFSIGN_FIXTURES", fixtures);
    std::env::remove_var("BPFSIGN_UI_SURELY_UNSET_KEY");
    std::env::set_var("BPFSIGN_UI_SYNTHETIC", write_synthetic_artifact());
    let dir = write_offline_inputs();
    write_tampered_inputs(&dir);
    std::env::set_var("BPFSIGN_UI_DIR", dir);
    // The external signer of tests/pass/external_signer.rs: `openssl cms` with TEST-ONLY key A,
    // the command bpfsign's docs give.
    let key = std::path::Path::new(&std::env::var_os("BPFSIGN_FIXTURES").unwrap())
        .join("keys/TEST-ONLY-key-a.pem");
    std::env::set_var(
        "BPFSIGN_SIGNER",
        format!(
            "openssl cms -sign -binary -noattr -nocerts -nosmimecap -keyid -md sha256 \
             -signer '{k}' -inkey '{k}' -in {{payload}} -outform DER -out {{out}}",
            k = key.display()
        ),
    );
}

#[test]
fn ui() {
    set_env();
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/pass/*.rs");
    drop(t); // runs the cases
    if let Some(synthetic) = std::env::var_os("BPFSIGN_UI_SYNTHETIC") {
        let _ = std::fs::remove_dir_all(std::path::Path::new(&synthetic).parent().unwrap());
    }
}
