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
    use bpfsign_build::meta::{MemberMeta, TypeMeta, VarMeta};
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures");
    let elf = std::fs::read(format!("{fixtures}/obj/hello.bpf.o")).unwrap();
    let obj = bpfsign_build::parse_object("hello.bpf.o", &elf).unwrap();
    let mut generated =
        bpfsign_build::generate(&obj, &bpfsign_build::GenOptions::default()).unwrap();
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
        bpfsign_build::sign::Signer::from_pem_file(format!("{fixtures}/keys/TEST-ONLY-key-a.pem"))
            .unwrap();
    let art = bpfsign_build::artifact::Artifact::from_generated(generated, Some(&signer)).unwrap();
    let dir = std::env::temp_dir().join(format!("bpfsign-macros-ui-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("synthetic.skel");
    art.write_if_changed(&path).unwrap();
    path
}

fn set_env() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures");
    let fixtures = std::fs::canonicalize(fixtures).expect("tests/fixtures exists");
    std::env::set_var("BPFSIGN_FIXTURES", fixtures);
    std::env::remove_var("BPFSIGN_UI_SURELY_UNSET_KEY");
    std::env::set_var("BPFSIGN_UI_SYNTHETIC", write_synthetic_artifact());
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
