//! Hostile BTF from review findings (`tests/fixtures/gen/hostile`, described in
//! `tests/fixtures/gen/README.md`): each once made the generator quadratic, exponential or panic on
//! arithmetic overflow. Every one must end in bounded work with `Ok` or a typed error.

use std::path::PathBuf;

use bpfsign_gen::meta::TypeMeta;
use bpfsign_gen::{generate, parse_object, Artifact, ErrorKind, GenOptions};

fn hostile(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/gen/hostile")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Nodes of a TypeMeta tree (a measure of the work spent building it).
fn nodes(t: &TypeMeta) -> u64 {
    match t {
        TypeMeta::Array { elem, .. } => 1 + nodes(elem),
        TypeMeta::Struct { members, .. } | TypeMeta::Union { members, .. } => {
            1 + members.iter().map(|m| nodes(&m.ty)).sum::<u64>()
        }
        _ => 1,
    }
}

/// The skeleton code for an object, or its error message.
fn skeleton(name: &str) -> Result<String, String> {
    let obj = parse_object(name, &hostile(name)).map_err(|e| e.to_string())?;
    let g = generate(&obj, &GenOptions::default()).map_err(|e| e.to_string())?;
    let art = Artifact::from_generated(g, None).map_err(|e| e.to_string())?;
    let code = bpfsign_macros_core::SkelCode {
        artifact: &art,
        type_name: "X".into(),
        origin: "test".into(),
        tracked_files: vec![],
        tracked_env: vec![],
    };
    bpfsign_macros_core::generate_skeleton(&code).map(|t| t.to_string())
}

#[test]
fn wide_struct_below_the_depth_limit_costs_bounded_work() {
    // 2000 references to a 2000-member struct: every visit, also the ones cut off by the depth
    // limit, is charged to the 100 000-node budget, so the tree stays near that size (it was
    // about vlen² = 4 000 000 nodes).
    let obj = parse_object("quad2000.bpf.o", &hostile("quad2000.bpf.o")).unwrap();
    let g = generate(&obj, &GenOptions::default()).unwrap();
    let total: u64 = g
        .meta
        .datasecs
        .iter()
        .flat_map(|d| d.vars.iter())
        .map(|v| nodes(&v.ty))
        .sum();
    assert!(total <= 200_000, "{total} TypeMeta nodes");
}

#[test]
fn kconfig_struct_dag_is_rejected_without_exponential_walk() {
    // 8^12 = 2^36 paths through 13 distinct types: alignment is memoised per type, so this is
    // instant (walking every path does not finish).
    let err = parse_object("kcdag.bpf.o", &hostile("kcdag.bpf.o")).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsupported, "{err}");
    assert!(err.to_string().contains("type is unsupported"), "{err}");
}

#[test]
fn bitfield_past_the_struct_end_is_opaque_not_an_overflow() {
    let obj = parse_object("bf2.bpf.o", &hostile("bf2.bpf.o")).unwrap();
    let g = generate(&obj, &GenOptions::default()).unwrap();
    let var = g
        .meta
        .datasecs
        .iter()
        .flat_map(|d| d.vars.iter())
        .find(|v| v.name == "s")
        .expect("global `s`");
    assert!(
        matches!(var.ty, TypeMeta::Opaque { size: 8 }),
        "{:?}",
        var.ty
    );
    skeleton("bf2.bpf.o").expect("skeleton of bf2");
}

#[test]
fn array_larger_than_4_gib_is_an_error_not_an_overflow() {
    let err = skeleton("arr2.bpf.o").unwrap_err();
    assert!(
        err.contains("larger than") && err.contains("malformed BTF"),
        "{err}"
    );
}

#[test]
fn unpatched_sources_still_generate() {
    // Controls: the same programs without the patches lay out normally.
    for name in ["bf.bpf.o", "arr.bpf.o", "quad2000.bpf.o"] {
        skeleton(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
