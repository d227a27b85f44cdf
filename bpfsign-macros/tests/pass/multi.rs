//! A multi-program object: fentry, fexit, raw_tp, raw_tracepoint, tp_btf and a `SEC("?...")`
//! program with autoload off. Compiled warning-free and run: the spec and the typed API agree.
#![deny(warnings, missing_docs, unreachable_pub, clippy::all)]
// Signed with the TEST-ONLY key: bpfsign's build warning for it (a `deprecated` lint warning)
// is expected here and allowed knowingly; everything else must be warning-free.
#![allow(deprecated)]
bpfsign_macros::include_signed_skel!(
    concat!(env!("BPFSIGN_FIXTURES"), "/obj/multi.bpf.o"),
    key = concat!(env!("BPFSIGN_FIXTURES"), "/keys/TEST-ONLY-key-a.pem"),
);

use bpfsign_runtime::{AttachKind, Error, Link};

/// Every loaded program has a link in `attach()`; destructuring without `..` proves there is
/// no other (in particular none for the program that is not loaded).
#[allow(dead_code)]
fn links_cover_every_loaded_program(links: MultiLinks) -> [Link; 6] {
    let MultiLinks {
        getpid_entry,
        getpid_exit,
        nanosleep_entry,
        raw_sys_enter,
        on_switch,
        raw_sys_exit,
    } = links;
    [getpid_entry, getpid_exit, nanosleep_entry, raw_sys_enter, on_switch, raw_sys_exit]
}

fn main() {
    let spec = Multi::spec();
    let progs: Vec<_> = spec.progs.iter().map(|p| (p.name, p.autoload, p.attach)).collect();
    assert_eq!(
        progs,
        [
            ("getpid_entry", true, AttachKind::RawTracepoint { tp_name: None }),
            ("getpid_exit", true, AttachKind::RawTracepoint { tp_name: None }),
            ("nanosleep_entry", true, AttachKind::RawTracepoint { tp_name: None }),
            ("raw_sys_enter", true, AttachKind::RawTracepoint { tp_name: Some("sys_enter") }),
            ("on_switch", true, AttachKind::RawTracepoint { tp_name: None }),
            ("raw_sys_exit", true, AttachKind::RawTracepoint { tp_name: Some("sys_exit") }),
            ("getppid_optional", false, AttachKind::RawTracepoint { tp_name: None }),
        ]
    );
    // fentry/fexit/tp_btf are BTF-attached tracing programs, raw_tp raw tracepoints.
    let types: Vec<_> = spec.progs.iter().map(|p| (p.prog_type, p.expected_attach_type)).collect();
    assert_eq!(types, [(26, 24), (26, 25), (26, 24), (17, 0), (26, 23), (17, 0), (26, 24)]);

    type R<T> = Result<T, Error>;
    let _: fn(&LoadedMulti) -> R<MultiLinks> = LoadedMulti::attach;
    let _: fn(&LoadedMulti) -> R<Link> = LoadedMulti::attach_getpid_entry;
    let _: fn(&LoadedMulti) -> R<Link> = LoadedMulti::attach_getpid_exit;
    let _: fn(&LoadedMulti) -> R<Link> = LoadedMulti::attach_nanosleep_entry;
    let _: fn(&LoadedMulti) -> R<Link> = LoadedMulti::attach_raw_sys_enter;
    let _: fn(&LoadedMulti) -> R<Link> = LoadedMulti::attach_on_switch;
    let _: fn(&LoadedMulti) -> R<Link> = LoadedMulti::attach_raw_sys_exit;
    let _: fn(&LoadedMulti) -> MultiProgs<'_> = LoadedMulti::progs;
    let _: fn(&LoadedMulti) -> R<multi_skel::types::Bss> = LoadedMulti::read_bss;
    let _: fn(MultiLinks) -> [Link; 6] = links_cover_every_loaded_program;

    // The counters of `.bss`, in source order.
    let bss = multi_skel::types::Bss::default();
    let counters = [
        bss.entries, bss.exits, bss.last_ret, bss.switches, bss.sys_enters, bss.nanosleeps, bss.never,
    ];
    assert_eq!(counters, [0; 7]);
    assert_eq!(core::mem::size_of::<multi_skel::types::Bss>(), 56);
}
