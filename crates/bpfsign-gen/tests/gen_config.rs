//! Build-time configuration (`GenOptions::globals`, `GenOptions::max_entries`): applied to the
//! data blob and the map definitions, checked against the object's BTF, deterministic, and
//! signed like everything else.

use std::path::PathBuf;

use bpfsign_gen::{
    generate, parse_object, sign_object, ConfigError, ErrorKind, GenOptions, GlobalValue, Object,
    Protocol, Signer, Stage,
};

use bpfsign_test_support::read;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/obj")
        .join(name)
}

fn object(name: &str) -> Object {
    parse_object(name, &read(&fixture(name))).unwrap()
}

fn config_error(obj: &Object, opts: &GenOptions) -> ConfigError {
    let e = generate(obj, opts).unwrap_err();
    assert_eq!(e.stage, Stage::Config, "{e}");
    match e.kind.clone() {
        ErrorKind::Config(c) => *c,
        other => panic!("expected a config error, got {other:?}: {e}"),
    }
}

/// The position of `needle` in `hay`, which must hold it exactly once.
fn unique_pos(hay: &[u8], needle: &[u8]) -> usize {
    let hits: Vec<usize> = hay
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(hits.len(), 1, "{needle:02x?} found at {hits:?}");
    hits[0]
}

#[test]
fn configured_globals_change_exactly_their_bytes_of_the_blob() {
    let obj = object("globals.bpf.o");
    let base = generate(&obj, &GenOptions::default()).unwrap();
    let opts = GenOptions::default()
        .with_global("ro_limit", 0x0102_0304u32)
        .with_global("data_value", -2i32)
        .with_global("data_name", "cfg")
        .with_global("bar_msg", "configured!");
    let out = generate(&obj, &opts).unwrap();
    assert_eq!(out.data.len(), base.data.len());

    // Where each section's initial value sits in the blob: found by its original bytes.
    let mut expected = base.data.clone();
    let mut put = |section_bytes: &[u8], offset: usize, value: &[u8]| {
        let at = unique_pos(&base.data, section_bytes) + offset;
        expected[at..at + value.len()].copy_from_slice(value);
    };
    // .rodata: ro_limit (u32 = 64), then ro_origin { x = 1, y = 2, .. }
    let rodata_head = [64u8, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0];
    put(&rodata_head, 0, &0x0102_0304u32.to_le_bytes());
    // .data: data_value (-5), then data_name "fixture"
    let mut data_head = (-5i32).to_le_bytes().to_vec();
    data_head.extend_from_slice(b"fixture\0");
    put(&data_head, 0, &(-2i32).to_le_bytes());
    put(&data_head, 4, b"cfg\0\0\0\0\0");
    // .rodata.bar: bar_a = 0xba5, then bar_msg "bar-section"
    let mut bar = 0xba5u32.to_le_bytes().to_vec();
    bar.extend_from_slice(b"bar-section\0");
    put(&bar, 4, b"configured!\0");
    assert_eq!(out.data, expected);
    // Deterministic: the same inputs give the same bytes.
    assert_eq!(generate(&obj, &opts).unwrap(), out);
}

#[test]
fn bss_and_bool_values_land_at_their_offsets() {
    let obj = object("globals.bpf.o");
    let base = generate(&obj, &GenOptions::default()).unwrap();
    let out = generate(
        &obj,
        &GenOptions::default()
            .with_global("bss_counter", GlobalValue::Int(0x1122_3344_5566_7788))
            .with_global("data_enabled", false),
    )
    .unwrap();
    let diff: Vec<usize> = (0..out.data.len())
        .filter(|&i| out.data[i] != base.data[i])
        .collect();
    // bss_counter: 8 bytes, none zero in the new value; data_enabled: one byte, 1 -> 0.
    assert_eq!(diff.len(), 9, "{diff:?}");
    let counter = diff
        .windows(8)
        .find(|w| w[7] == w[0] + 7)
        .map(|w| w[0])
        .expect("8 consecutive bytes");
    assert_eq!(
        &out.data[counter..counter + 8],
        &0x1122_3344_5566_7788u64.to_le_bytes()
    );
    assert_eq!(&base.data[counter..counter + 8], &[0; 8]);
    let flag = *diff
        .iter()
        .find(|&&i| !(counter..counter + 8).contains(&i))
        .unwrap();
    assert_eq!((base.data[flag], out.data[flag]), (1, 0));
}

#[test]
fn a_configured_artifact_is_signed_over_the_new_values() {
    let key = fixture("../keys/TEST-ONLY-key-a.pem");
    let signer = Signer::from_pem_file(&key).unwrap();
    let opts = GenOptions::default().with_global("ro_limit", 7u32);
    let configured = sign_object(fixture("globals.bpf.o"), Some(&signer), &opts).unwrap();
    let plain = sign_object(
        fixture("globals.bpf.o"),
        Some(&signer),
        &GenOptions::default(),
    )
    .unwrap();
    configured.verify(signer.certificate()).unwrap();
    assert_ne!(configured.data, plain.data);
    for p in Protocol::SIGNED {
        assert_ne!(
            configured.payload(p),
            plain.payload(p),
            "{p:?}: the signed payload must cover the configured values"
        );
    }
    // Same inputs, same artifact bytes.
    let again = sign_object(fixture("globals.bpf.o"), Some(&signer), &opts).unwrap();
    assert_eq!(again.data, configured.data);
}

#[test]
fn config_values_are_checked_against_the_btf() {
    let obj = object("globals.bpf.o");
    let err = |name: &str, v: GlobalValue| {
        config_error(&obj, &GenOptions::default().with_global(name, v))
    };
    match err("no_such_var", 1u8.into()) {
        ConfigError::UnknownVariable { name, known } => {
            assert_eq!(name, "no_such_var");
            for k in ["ro_limit", "bss_counter", "data_name", "foo_b", "bar_msg"] {
                assert!(known.iter().any(|n| n == k), "{k} in {known:?}");
            }
            // static variables are not configurable
            assert!(!known.iter().any(|n| n == "data_static"), "{known:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        err("data_static", 1u8.into()),
        ConfigError::UnknownVariable { .. }
    ));
    assert_eq!(
        err("ro_limit", GlobalValue::Int(1 << 32)),
        ConfigError::OutOfRange {
            name: "ro_limit".into(),
            value: 1 << 32,
            ty: "u32".into()
        }
    );
    assert!(matches!(
        err("ro_limit", GlobalValue::Int(-1)),
        ConfigError::OutOfRange { .. }
    ));
    assert!(matches!(
        err("data_value", GlobalValue::Int(i128::from(i32::MIN) - 1)),
        ConfigError::OutOfRange { .. }
    ));
    assert!(generate(
        &obj,
        &GenOptions::default().with_global("data_value", i32::MIN)
    )
    .is_ok());
    assert!(matches!(
        err("data_enabled", 2u8.into()),
        ConfigError::OutOfRange { .. }
    ));
    assert_eq!(
        err("ro_limit", vec![1u8, 2].into()),
        ConfigError::WrongSize {
            name: "ro_limit".into(),
            expected: 4,
            got: 2
        }
    );
    assert!(generate(
        &obj,
        &GenOptions::default().with_global("ro_limit", [9u8, 0, 0, 0])
    )
    .is_ok());
    // "fixture" + NUL fills data_name[8]; one byte more does not fit.
    assert!(generate(
        &obj,
        &GenOptions::default().with_global("data_name", "1234567")
    )
    .is_ok());
    assert_eq!(
        err("data_name", "12345678".into()),
        ConfigError::WrongSize {
            name: "data_name".into(),
            expected: 8,
            got: 9
        }
    );
    assert!(matches!(
        err("ro_limit", "7".into()),
        ConfigError::WrongType { .. }
    ));
    assert!(matches!(
        err("ro_origin", 1u32.into()),
        ConfigError::WrongType { .. }
    ));
    assert!(matches!(
        err("data_name", 1u32.into()),
        ConfigError::WrongType { .. }
    ));
    // An enum takes an integer of its size.
    assert!(generate(
        &obj,
        &GenOptions::default().with_global("data_colour", 4u32)
    )
    .is_ok());
}

#[test]
fn kconfig_externs_are_set_only_as_kconfig() {
    let kcfg =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/gen/kcfg/kcfg.bpf.o");
    let obj = parse_object("kcfg.bpf.o", &read(&kcfg)).unwrap();
    let opts = bpfsign_test_support::kcfg_opts().with_global("CONFIG_HZ", 100u32);
    match config_error(&obj, &opts) {
        ConfigError::KconfigExtern { name } => assert_eq!(name, "CONFIG_HZ"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn max_entries_of_unknown_internal_or_zero_maps_is_refused() {
    let obj = object("maps.bpf.o");
    match config_error(&obj, &GenOptions::default().with_max_entries("nope", 1)) {
        ConfigError::UnknownMap { name, known } => {
            assert_eq!(name, "nope");
            assert!(known.iter().any(|n| n == "pid_counts"), "{known:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        config_error(
            &obj,
            &GenOptions::default().with_max_entries("pid_counts", 0)
        ),
        ConfigError::BadMaxEntries { .. }
    ));
    let globals = object("globals.bpf.o");
    assert!(matches!(
        config_error(&globals, &GenOptions::default().with_max_entries(".bss", 2)),
        ConfigError::BadMaxEntries { .. }
    ));
}

#[test]
fn max_entries_is_set_per_map_and_reaches_the_blob() {
    let obj = object("maps.bpf.o");
    let base = generate(&obj, &GenOptions::default()).unwrap();
    let out = generate(
        &obj,
        &GenOptions::default().with_max_entries("pid_counts", 4096),
    )
    .unwrap();
    let entries = |g: &bpfsign_gen::Generated, name: &str| {
        g.meta
            .maps
            .iter()
            .find(|m| m.ident == name)
            .unwrap()
            .max_entries
    };
    assert_eq!(entries(&base, "pid_counts"), 1024);
    assert_eq!(entries(&out, "pid_counts"), 4096);
    assert_eq!(entries(&out, "sparse"), entries(&base, "sparse"));
    let diff: Vec<usize> = (0..out.data.len())
        .filter(|&i| out.data[i] != base.data[i])
        .collect();
    // 1024 = 0x400 -> 4096 = 0x1000: the second byte of one little-endian u32 in the map's
    // create attributes.
    assert_eq!(diff.len(), 1, "{diff:?}");
    let at = diff[0] - 1;
    assert_eq!(&base.data[at..at + 4], &1024u32.to_le_bytes());
    assert_eq!(&out.data[at..at + 4], &4096u32.to_le_bytes());
}
