//! Build inputs that libbpf takes from the build host (`.kconfig`, typeless ksyms), loader
//! limits, and the skeleton metadata of the hello fixture.

use std::path::PathBuf;

use bpfsign_gen::emit::LoaderConfig;
use bpfsign_gen::meta::{AttachKind, TypeMeta};
use bpfsign_gen::{
    generate, generate_with_config, parse_object, ErrorKind, GenOptions, Limit, Protocol, Stage,
};

use bpfsign_test_support as common;
use common::{kcfg_opts, read};

fn data(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/gen")
        .join(p)
}

#[test]
fn kconfig_and_typeless_ksyms_match_bpftool_with_pinned_host_inputs() {
    let obj = parse_object("kcfg.bpf.o", &read(&data("kcfg/kcfg.bpf.o"))).unwrap();
    let out = generate(&obj, &kcfg_opts()).unwrap();
    assert_eq!(out.data, read(&data("kcfg/data.bin")));
    assert_eq!(
        out.loader(Protocol::Unsigned).unwrap(),
        read(&data("kcfg/unsigned.insns"))
    );
    assert_eq!(
        out.loader(Protocol::P1b).unwrap(),
        read(&data("kcfg/p1b.insns"))
    );
    assert_eq!(
        out.loader(Protocol::P2).unwrap(),
        read(&data("kcfg/p2.insns"))
    );
    let (p1, _) =
        generate_with_config(&obj, &kcfg_opts(), &LoaderConfig::bpftool_p1_compat()).unwrap();
    assert_eq!(p1, read(&data("kcfg/p1-libbpf170.insns")));
    // .kconfig is a read-only, mmapable internal map
    let m = out
        .meta
        .maps
        .iter()
        .find(|m| m.section.as_deref() == Some(".kconfig"))
        .unwrap();
    assert_eq!(
        (m.ident.as_str(), m.kernel_name.as_str(), m.map_flags),
        ("kconfig", "kcfg.kconfig", 0x480)
    );
}

#[test]
fn missing_host_inputs_are_typed_errors_not_host_reads() {
    let obj = parse_object("kcfg.bpf.o", &read(&data("kcfg/kcfg.bpf.o"))).unwrap();
    let mut o = kcfg_opts();
    o.kernel_version = None;
    let e = generate(&obj, &o).unwrap_err();
    assert_eq!(
        (e.kind.clone(), e.stage),
        (ErrorKind::MissingInput, Stage::Externs),
        "{e}"
    );
    assert!(
        e.to_string().contains("LINUX_KERNEL_VERSION") && e.hint.contains("kernel_version"),
        "{e}"
    );
    let mut o = kcfg_opts();
    o.kconfig.remove("CONFIG_BPF_SYSCALL");
    let e = generate(&obj, &o).unwrap_err();
    assert!(
        e.message.contains("CONFIG_BPF_SYSCALL") && e.section.as_deref() == Some(".kconfig"),
        "{e}"
    );
    // weak externs default to zero: dropping them changes only the .kconfig bytes
    let mut o = kcfg_opts();
    o.kconfig.remove("CONFIG_HZ");
    let a = generate(&obj, &o).unwrap();
    let b = generate(&obj, &kcfg_opts()).unwrap();
    assert_eq!(a.data.len(), b.data.len());
    assert_ne!(a.data, b.data);
    // a value of the wrong shape is rejected
    let mut o = kcfg_opts();
    o.kconfig.insert("CONFIG_BPF_SYSCALL".into(), "m".into());
    assert_eq!(
        generate(&obj, &o).unwrap_err().kind,
        ErrorKind::MissingInput
    );
}

#[test]
fn loader_limits_are_enforced() {
    let obj = parse_object(
        "too_many_progs.bpf.o",
        &read(&data("limits/too_many_progs.bpf.o")),
    )
    .unwrap();
    let e = generate(&obj, &GenOptions::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Limit(Limit::Programs), "{e}");
    assert!(e.to_string().contains("127 programs"), "{e}");
    // Past libbpf's 32 program slots the loader's stack grows (bpftool's loader for this object
    // is refused by the verifier): 33 programs take 8 + 4 * 33 bytes.
    let obj = parse_object("progs33.bpf.o", &read(&data("limits/progs33.bpf.o"))).unwrap();
    let g = generate(&obj, &GenOptions::default()).unwrap();
    for (protocol, insns) in &g.loaders {
        // The prologue's `r1 += -stack` (BPF_ALU64 | BPF_ADD | BPF_K, dst r1) before zeroing it.
        let stack_adds: Vec<i32> = insns
            .chunks_exact(8)
            .filter(|i| i[0] == 0x07 && i[1] & 0x0f == 1)
            .map(|i| i32::from_le_bytes(i[4..8].try_into().unwrap()))
            .filter(|imm| *imm < 0)
            .collect();
        assert_eq!(stack_adds, [-140], "{protocol:?}");
    }
    let obj = parse_object(
        "too_many_maps.bpf.o",
        &read(&data("limits/too_many_maps.bpf.o")),
    )
    .unwrap();
    let e = generate(&obj, &GenOptions::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Limit(Limit::Maps), "{e}");
    assert!(e.to_string().contains("too_many_maps.bpf.o"), "{e}");
}

#[test]
fn unknown_section_names_the_section() {
    let e = parse_object(
        "unknown_sec.bpf.o",
        &read(&data("limits/unknown_sec.bpf.o")),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnknownSection);
    assert_eq!(e.section.as_deref(), Some("mystery/thing"));
    assert!(
        e.to_string()
            .starts_with("unknown_sec.bpf.o: section 'mystery/thing': programs stage"),
        "{e}"
    );
}

fn fixture(name: &str) -> Vec<u8> {
    read(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/obj")
            .join(name),
    )
}

#[test]
fn hello_metadata() {
    let obj = parse_object("hello.bpf.o", &fixture("hello.bpf.o")).unwrap();
    let out = generate(&obj, &GenOptions::default()).unwrap();
    let m = &out.meta;
    assert_eq!(m.name, "hello");
    assert_eq!(m.maps.len(), 2);
    assert_eq!(
        (m.maps[0].ident.as_str(), m.maps[0].kernel_name.as_str()),
        ("bss", "hello.bss")
    );
    assert!(m.maps[0].mmapable && m.maps[0].map_flags == 0x400 && m.maps[0].value_size == 4);
    assert_eq!(
        (
            m.maps[1].ident.as_str(),
            m.maps[1].map_flags,
            m.maps[1].mmapable
        ),
        ("rodata", 0x80, false)
    );
    assert_eq!(m.progs.len(), 1);
    let p = &m.progs[0];
    assert_eq!(
        (
            p.name.as_str(),
            p.section.as_str(),
            p.prog_type,
            p.expected_attach_type
        ),
        ("hello", "fentry/__do_sys_getpid", 26, 24)
    );
    assert_eq!(p.attach_target.as_deref(), Some("__do_sys_getpid"));
    assert_eq!(p.attach, AttachKind::RawTracepoint { tp_name: None });
    assert_eq!(m.datasecs.len(), 1);
    let d = &m.datasecs[0];
    assert_eq!(
        (d.map_index, d.section.as_str(), d.size, d.readonly),
        (0, ".bss", 4, false)
    );
    assert_eq!(d.vars.len(), 1);
    assert_eq!(
        (d.vars[0].name.as_str(), d.vars[0].offset, d.vars[0].size),
        ("prog_A", 0, 4)
    );
    assert_eq!(
        d.vars[0].ty,
        TypeMeta::Int {
            size: 4,
            signed: true,
            is_bool: false,
            is_char: false
        }
    );
    // deterministic, serde round trip
    let j = serde_json::to_string(m).unwrap();
    assert_eq!(
        serde_json::from_str::<bpfsign_gen::meta::SkeletonMeta>(&j).unwrap(),
        *m
    );
    assert_eq!(generate(&obj, &GenOptions::default()).unwrap(), out);
}

#[test]
fn globals_and_multi_metadata() {
    let obj = parse_object("globals.bpf.o", &fixture("globals.bpf.o")).unwrap();
    let out = generate(&obj, &GenOptions::default()).unwrap();
    let idents: Vec<&str> = out.meta.datasecs.iter().map(|d| d.ident.as_str()).collect();
    for want in ["bss", "data", "rodata", "data_foo", "rodata_bar"] {
        assert!(idents.contains(&want), "{idents:?}");
    }
    for d in &out.meta.datasecs {
        let mut end = 0;
        for v in &d.vars {
            assert!(
                v.offset >= end && v.offset + v.size <= d.size,
                "{}: overlapping/oob var {}",
                d.ident,
                v.name
            );
            end = v.offset + v.size;
        }
    }
    let obj = parse_object("multi.bpf.o", &fixture("multi.bpf.o")).unwrap();
    let out = generate(&obj, &GenOptions::default()).unwrap();
    assert_eq!(out.meta.progs.len(), 7);
    assert_eq!(out.meta.progs.iter().filter(|p| !p.autoload).count(), 1);
    assert!(out
        .meta
        .progs
        .iter()
        .any(|p| matches!(&p.attach, AttachKind::RawTracepoint { tp_name: Some(_) })));
}

#[test]
fn extra_objects_byte_identical_to_bpftool() {
    for dir in ["misc", "misc.gcc", "exc", "exc.gcc"] {
        let d = data(&format!("extra/{dir}"));
        let file = format!("{dir}.bpf.o");
        let obj = parse_object(&file, &read(&d.join(&file))).unwrap_or_else(|e| panic!("{e}"));
        let opts = GenOptions {
            name: Some(dir.trim_end_matches(".gcc").into()),
            ..Default::default()
        };
        let out = generate(&obj, &opts).unwrap_or_else(|e| panic!("{e}"));
        assert!(out.data == read(&d.join("data.bin")), "{dir}: data differs");
        for (p, f) in [
            (Protocol::Unsigned, "unsigned.insns"),
            (Protocol::P1b, "p1b.insns"),
            (Protocol::P2, "p2.insns"),
        ] {
            assert!(
                out.loader(p).unwrap() == read(&d.join(f)),
                "{dir}: {f} differs"
            );
        }
        let (p1, _) =
            generate_with_config(&obj, &opts, &LoaderConfig::bpftool_p1_compat()).unwrap();
        assert!(
            p1 == read(&d.join("p1-libbpf170.insns")),
            "{dir}: p1-libbpf170 differs"
        );
    }
}
