//! Test data shared by the unit tests (`src/tests.rs`, through `#[path]`) and the kernel tests
//! (`tests/kernel.rs`): the light skeletons made by the reference bpftools, from the repository's
//! one fixture tree (`tests/fixtures/golden`, made by `tests/fixtures/regen-goldens.sh`).
//!
//! The including module must have the runtime API in scope (`crate::*` or `bpfsign_runtime::*`).

use super::*;

/// Declares `DATA`, the per-protocol loader constants (`P1_INSNS`, `P1_SIG`, `P1_EXCL`, ...,
/// `UNSIGNED_INSNS`) and the `VARIANTS` table of one skeleton directory. `$dir` is relative to
/// the file that invokes the macro.
macro_rules! skeleton_data {
    ($dir:literal) => {
        pub(crate) const DATA: &[u8] = include_bytes!(concat!($dir, "/data.bin"));
        pub(crate) const P1_INSNS: &[u8] = include_bytes!(concat!($dir, "/p1-libbpf170.insns"));
        pub(crate) const P1_SIG: &[u8] = include_bytes!(concat!($dir, "/p1-libbpf170.sig"));
        pub(crate) const P1_EXCL: &[u8; 32] = include_bytes!(concat!($dir, "/p1-libbpf170.excl"));
        pub(crate) const P1B_INSNS: &[u8] = include_bytes!(concat!($dir, "/p1b.insns"));
        pub(crate) const P1B_SIG: &[u8] = include_bytes!(concat!($dir, "/p1b.sig"));
        pub(crate) const P1B_EXCL: &[u8; 32] = include_bytes!(concat!($dir, "/p1b.excl"));
        pub(crate) const P2_INSNS: &[u8] = include_bytes!(concat!($dir, "/p2.insns"));
        pub(crate) const P2_SIG: &[u8] = include_bytes!(concat!($dir, "/p2.sig"));
        pub(crate) const P2_EXCL: &[u8; 32] = include_bytes!(concat!($dir, "/p2.excl"));
        pub(crate) const UNSIGNED_INSNS: &[u8] = include_bytes!(concat!($dir, "/unsigned.insns"));

        pub(crate) const VARIANTS: &[LoaderVariant<'static>] = &[
            LoaderVariant {
                protocol: Protocol::Unsigned,
                insns: UNSIGNED_INSNS,
                excl_prog_hash: [0; 32],
                signature: None,
            },
            LoaderVariant {
                protocol: Protocol::P1,
                insns: P1_INSNS,
                excl_prog_hash: *P1_EXCL,
                signature: Some(P1_SIG),
            },
            LoaderVariant {
                protocol: Protocol::P1b,
                insns: P1B_INSNS,
                excl_prog_hash: *P1B_EXCL,
                signature: Some(P1B_SIG),
            },
            LoaderVariant {
                protocol: Protocol::P2,
                insns: P2_INSNS,
                excl_prog_hash: *P2_EXCL,
                signature: Some(P2_SIG),
            },
        ];
    };
}

// The `hello` skeleton (the seed experiment: fentry on `__do_sys_getpid`).
skeleton_data!("../../../tests/fixtures/golden/hello");

pub(crate) const MAPS: &[MapSpec<'static>] = &[
    MapSpec {
        name: "bss",
        map_type: 2,
        key_size: 4,
        value_size: 4,
        max_entries: 1,
        map_flags: BPF_F_MMAPABLE,
        mmapable: true,
    },
    MapSpec {
        name: "rodata",
        map_type: 2,
        key_size: 4,
        value_size: 20,
        max_entries: 1,
        map_flags: BPF_F_RDONLY_PROG,
        mmapable: false,
    },
];

pub(crate) const PROGS: &[ProgSpec<'static>] = &[ProgSpec {
    name: "hello",
    section: "fentry/__do_sys_getpid",
    prog_type: 26,            // BPF_PROG_TYPE_TRACING
    expected_attach_type: 24, // BPF_TRACE_FENTRY
    autoload: true,
    attach: AttachKind::RawTracepoint { tp_name: None },
}];

/// The `hello` skeleton, expecting a signer with the key id `signer_skid`.
pub(crate) fn hello_spec(signer_skid: &'static str) -> SkeletonSpec<'static> {
    SkeletonSpec {
        name: "hello",
        data: DATA,
        variants: VARIANTS,
        maps: MAPS,
        progs: PROGS,
        signer_skid: Some(signer_skid),
    }
}
