//! The skeleton metadata carries each user map's BTF key and value types (the form the
//! global-data layouts use), so the macro can generate typed map handles.

use std::path::PathBuf;

use bpfsign_gen::meta::{MapMeta, TypeMeta};
use bpfsign_gen::{generate, parse_object, GenOptions};

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/obj")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn maps_of(obj: &str) -> Vec<MapMeta> {
    let o = parse_object(obj, &fixture(obj)).unwrap();
    generate(&o, &GenOptions::default()).unwrap().meta.maps
}

fn map<'m>(maps: &'m [MapMeta], ident: &str) -> &'m MapMeta {
    maps.iter()
        .find(|m| m.ident == ident)
        .unwrap_or_else(|| panic!("no map {ident}"))
}

fn uint(size: u32) -> TypeMeta {
    TypeMeta::Int {
        size,
        signed: false,
        is_bool: false,
        is_char: false,
    }
}

#[test]
fn user_maps_record_key_and_value_types() {
    let maps = maps_of("maps.bpf.o");
    let counts = map(&maps, "pid_counts");
    assert_eq!(counts.key_type, Some(uint(4)));
    assert_eq!(counts.value_type, Some(uint(8)));
    let sparse = map(&maps, "sparse");
    assert_eq!(sparse.key_type, Some(uint(8)));
    match &sparse.value_type {
        Some(TypeMeta::Struct { name, size, .. }) => {
            assert_eq!(name.as_deref(), Some("event"));
            assert_eq!(*size, sparse.value_size);
        }
        other => panic!("sparse value type: {other:?}"),
    }
    // A ring buffer has neither; data maps keep their layout in `datasecs` only.
    let events = map(&maps, "events");
    assert_eq!((&events.key_type, &events.value_type), (&None, &None));
    for m in maps.iter().filter(|m| m.section.is_some()) {
        assert_eq!((&m.key_type, &m.value_type), (&None, &None), "{}", m.ident);
    }
}

#[test]
fn maps_of_maps_record_the_key_type_only() {
    let maps = maps_of("mapinmap.bpf.o");
    let outer = map(&maps, "outer_arr");
    assert_eq!(outer.key_type, Some(uint(4)));
    assert_eq!(
        outer.value_type, None,
        "the value is an inner map fd, not a BTF type"
    );
    let jt = map(&maps, "jump_table");
    assert_eq!(jt.key_type, Some(uint(4)));
}

#[test]
fn metadata_without_map_types_still_reads() {
    // Artifacts written before the fields existed have no `key_type`/`value_type`.
    let json = r#"{"ident":"m","kernel_name":"m","map_type":1,"key_size":4,"value_size":8,
        "max_entries":1,"map_flags":0,"section":null,"mmapable":false}"#;
    let m: MapMeta = serde_json::from_str(json).unwrap();
    assert_eq!((m.key_type, m.value_type), (None, None));
}
