//! `bpfsign gen --global VAR=VALUE --max-entries MAP=N`: the same artifact as the library with
//! the same configuration; a bad value fails with the variable named.

use bpfsign_gen::artifact::Artifact;
use bpfsign_gen::{sign_object_for, GenOptions, GlobalValue, ProtocolSelection};

#[macro_use]
mod common;
use common::{bpfsign, fails, fixtures, ok};

#[test]
fn global_and_max_entries_flags_equal_library_output() {
    let dir = common::scratch("cli-config", "flags");
    let globals = fixtures().join("obj/globals.bpf.o");
    let skel = dir.join("g.skel");
    ok(&bpfsign(os![
        "gen",
        &globals,
        "--unsigned",
        "--global",
        "ro_limit=0x10",
        "--global",
        "data_value=-3",
        "--global",
        "data_name=\"cfg\"",
        "--global",
        "data_enabled=false",
        "--global",
        "bss_counter=hex:0102030405060708",
        "-o",
        &skel,
    ]));
    let opts = GenOptions::default()
        .with_global("ro_limit", 16u32)
        .with_global("data_value", -3i32)
        .with_global("data_name", "cfg")
        .with_global("data_enabled", false)
        .with_global(
            "bss_counter",
            GlobalValue::Bytes(vec![1, 2, 3, 4, 5, 6, 7, 8]),
        );
    let with_unsigned = ProtocolSelection::new().allow_unsigned(true);
    assert_eq!(
        Artifact::read(&skel).unwrap(),
        sign_object_for(&globals, None, &opts, &with_unsigned).unwrap()
    );

    let maps = fixtures().join("obj/maps.bpf.o");
    let skel = dir.join("m.skel");
    ok(&bpfsign(os![
        "gen",
        &maps,
        "--unsigned",
        "--max-entries",
        "pid_counts=77",
        "-o",
        &skel,
    ]));
    let got = Artifact::read(&skel).unwrap();
    let m = got
        .meta
        .maps
        .iter()
        .find(|m| m.ident == "pid_counts")
        .unwrap();
    assert_eq!(m.max_entries, 77);

    let err = fails(
        &bpfsign(os![
            "gen",
            &globals,
            "--unsigned",
            "--global",
            "ro_limit=-1",
            "-o",
            &dir.join("bad.skel"),
        ]),
        "generate",
    );
    assert!(err.contains("ro_limit") && err.contains("u32"), "{err}");
    assert!(!dir.join("bad.skel").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
