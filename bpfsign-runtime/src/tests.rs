//! Unit tests of the load sequence against the fake kernel.

use std::os::fd::AsRawFd;

use crate::fake::{Call, FakeKernel, Loader};
use crate::probe::{KernelProbe, SigningSupport};
use crate::sys::*;
use crate::*;

#[path = "../tests/common/mod.rs"]
pub(crate) mod common;
use common::*;

fn hello() -> SkeletonSpec<'static> {
    hello_spec("f2d4")
}

fn supported(p: Protocol) -> KernelProbe {
    // Built through the fake probe so the private fields stay private.
    let k = match p {
        Protocol::P2 => {
            FakeKernel::new().prog_load_script(vec![Some((libc::EPERM, "must be frozen"))])
        }
        Protocol::P1b => FakeKernel::new().prog_load_script(vec![Some((libc::EBADMSG, "")), None]),
        _ => FakeKernel::new()
            .prog_load_script(vec![Some((libc::EBADMSG, "")), Some((libc::EACCES, ""))]),
    };

    let probe =
        crate::probe::probe_with(&k, || Err(std::io::Error::from_raw_os_error(libc::ENOENT)));
    assert_eq!(probe.support(), SigningSupport::Supported);
    assert_eq!(probe.protocol(), Some(p));
    probe
}

fn good_loader() -> Loader {
    Loader {
        retval: 0,
        maps: 2,
        progs: 1,
        ctx_progs: 1,
        ..Loader::default()
    }
}

fn run(
    k: &FakeKernel,
    spec: &SkeletonSpec<'_>,
    opts: &LoadOptions,
) -> Result<LoadedSkeleton, Error> {
    let never =
        || -> &'static KernelProbe { panic!("probe must not run when the protocol is given") };
    crate::load::load_impl(k, spec, opts, None, never)
}

fn opts(p: Protocol) -> LoadOptions {
    LoadOptions::new().protocol(p).keyring(Keyring::Session)
}

/// Checks MAP_CREATE, UPDATE, FREEZE attrs common to all protocols; returns the metadata map fd.
fn check_map_calls(calls: &[Call], excl: Option<&[u8; 32]>) -> i32 {
    let create = &calls[0];
    assert_eq!(create.cmd, BPF_MAP_CREATE);
    assert_eq!(create.attr.len(), 92);
    assert_eq!(create.u32(0), BPF_MAP_TYPE_ARRAY);
    assert_eq!(create.u32(4), 4);
    assert_eq!(create.u32(8), DATA.len() as u32);
    assert_eq!(create.u32(12), 1);
    assert_eq!(&create.attr[28..41], b"__loader.map\0");
    match excl {
        Some(h) => {
            assert_eq!(create.excl_hash.as_ref(), Some(h));
            assert_eq!(create.u32(88), 32);
            create.assert_zero_except(&[(0, 16), (28, 16), (80, 12)]);
        }
        None => {
            assert_eq!(create.excl_hash, None);
            create.assert_zero_except(&[(0, 16), (28, 16)]);
        }
    }
    let update = &calls[1];
    assert_eq!(update.cmd, BPF_MAP_UPDATE_ELEM);
    assert_eq!(update.attr.len(), 32);
    let map_fd = update.u32(0) as i32;
    assert!(map_fd >= 3);
    assert_eq!(update.key, Some(0));
    assert_ne!(update.u64(16), 0);
    update.assert_zero_except(&[(0, 4), (8, 16)]);
    let freeze = &calls[2];
    assert_eq!(freeze.cmd, BPF_MAP_FREEZE);
    assert_eq!(freeze.attr.len(), 4);
    assert_eq!(freeze.u32(0) as i32, map_fd);
    map_fd
}

fn check_prog_load(
    load: &Call,
    map_fd: i32,
    insns: &[u8],
    sig: Option<&[u8]>,
    cnt: u32,
    keyring: i32,
) {
    assert_eq!(load.cmd, BPF_PROG_LOAD);
    assert_eq!(load.attr.len(), 168);
    assert_eq!(load.u32(0), BPF_PROG_TYPE_SYSCALL);
    assert_eq!(load.u32(4) as usize, insns.len() / 8);
    assert_eq!(load.insns.as_deref(), Some(insns));
    assert_eq!(load.license.as_deref(), Some("Dual BSD/GPL"));
    assert_eq!(load.u32(44), BPF_F_SLEEPABLE);
    assert_eq!(&load.attr[48..62], b"__loader.prog\0");
    assert_eq!(load.fd_array0, Some(map_fd));
    assert_eq!(load.u32(148), cnt, "fd_array_cnt");
    assert_eq!(load.signature.as_deref(), sig);
    assert_eq!(load.u32(160) as usize, sig.map_or(0, <[u8]>::len));
    assert_eq!(load.u32(164) as i32, keyring);
    let mut fields = vec![(0, 24), (44, 4), (48, 16), (120, 8), (148, 4), (164, 4)];
    if sig.is_some() {
        fields.push((152, 12));
    }
    load.assert_zero_except(&fields);
}

fn check_prog_run(run: &Call, n_maps: usize, n_progs: usize) {
    assert_eq!(run.cmd, BPF_PROG_RUN);
    assert_eq!(run.attr.len(), 80);
    let sz = 24 + 16 * n_maps + 4 * n_progs;
    assert_eq!(run.u32(40) as usize, sz);
    let ctx = run.ctx_in.as_ref().unwrap();
    assert_eq!(
        u32::from_ne_bytes(ctx[0..4].try_into().unwrap()) as usize,
        sz
    );
    // Every fd slot is pre-filled with -1 (so a loader-created fd 0 is told from "no fd"); the
    // rest is zero: no log, no max_entries/initial_value overrides.
    let mut expect = vec![0u8; sz];
    expect[0..4].copy_from_slice(&(sz as u32).to_ne_bytes());
    for off in (0..n_maps)
        .map(|i| 24 + 16 * i)
        .chain((0..n_progs).map(|j| 24 + 16 * n_maps + 4 * j))
    {
        expect[off..off + 4].copy_from_slice(&(-1i32).to_ne_bytes());
    }
    assert_eq!(ctx, &expect);
    run.assert_zero_except(&[(0, 4), (4, 4), (40, 4), (48, 8)]);
}

#[test]
fn p2_sequence_exact_attrs() {
    let k = FakeKernel::new().loader(good_loader());
    let sk = run(&k, &hello(), &opts(Protocol::P2)).unwrap();
    assert_eq!(sk.protocol(), Protocol::P2);
    assert_eq!(
        k.cmds(),
        [
            BPF_MAP_CREATE,
            BPF_MAP_UPDATE_ELEM,
            BPF_MAP_FREEZE,
            BPF_PROG_LOAD,
            BPF_PROG_RUN
        ]
    );
    let calls = k.calls();
    let map_fd = check_map_calls(&calls, Some(P2_EXCL));
    check_prog_load(&calls[3], map_fd, P2_INSNS, Some(P2_SIG), 1, -3);
    check_prog_run(&calls[4], 2, 1);
    drop(sk);
    assert_eq!(k.open_objects(), Vec::<String>::new());
}

#[test]
fn p1_and_p1b_sequence_exact_attrs() {
    for (p, insns, sig, excl) in [
        (Protocol::P1, P1_INSNS, P1_SIG, P1_EXCL),
        (Protocol::P1b, P1B_INSNS, P1B_SIG, P1B_EXCL),
    ] {
        let k = FakeKernel::new().loader(good_loader());
        let sk = run(&k, &hello(), &opts(p).keyring(Keyring::User(77))).unwrap();
        assert_eq!(
            k.cmds(),
            [
                BPF_MAP_CREATE,
                BPF_MAP_UPDATE_ELEM,
                BPF_MAP_FREEZE,
                BPF_OBJ_GET_INFO_BY_FD,
                BPF_PROG_LOAD,
                BPF_PROG_RUN
            ]
        );
        let calls = k.calls();
        let map_fd = check_map_calls(&calls, Some(excl));
        let info = &calls[3];
        assert_eq!(info.attr.len(), 16);
        assert_eq!(info.u32(0) as i32, map_fd);
        assert_eq!(info.u32(4), 104, "info_len");
        info.assert_zero_except(&[(0, 16)]);
        check_prog_load(&calls[4], map_fd, insns, Some(sig), 0, 77);
        check_prog_run(&calls[5], 2, 1);
        drop(sk);
        assert!(k.open_objects().is_empty());
    }
}

#[test]
fn unsigned_sequence_exact_attrs() {
    let k = FakeKernel::new().loader(good_loader());
    let sk = run(&k, &hello(), &opts(Protocol::Unsigned)).unwrap();
    assert_eq!(
        k.cmds(),
        [
            BPF_MAP_CREATE,
            BPF_MAP_UPDATE_ELEM,
            BPF_MAP_FREEZE,
            BPF_PROG_LOAD,
            BPF_PROG_RUN
        ]
    );
    let calls = k.calls();
    let map_fd = check_map_calls(&calls, None);
    // keyring_id stays 0: unsigned attrs must be all-zero past byte 148 for pre-6.18 kernels.
    check_prog_load(&calls[3], map_fd, UNSIGNED_INSNS, None, 0, 0);
    drop(sk);
}

#[test]
fn signed_variants_run_without_signature() {
    // The unsigned form of P1/P1b/P2 (docs/protocol.md §3.4, §8): exclusive metadata map, P1/P1b still hash
    // it, PROG_LOAD without signature/keyring and with fd_array_cnt = 0, even for P2.
    for (p, insns, excl) in [
        (Protocol::P1, P1_INSNS, P1_EXCL),
        (Protocol::P1b, P1B_INSNS, P1B_EXCL),
        (Protocol::P2, P2_INSNS, P2_EXCL),
    ] {
        // The variant needs no signature for this.
        let variants: Vec<LoaderVariant<'static>> = VARIANTS
            .iter()
            .map(|v| LoaderVariant {
                signature: None,
                ..*v
            })
            .collect();
        let spec = SkeletonSpec {
            variants: &variants,
            ..hello()
        };
        let k = FakeKernel::new().loader(good_loader());
        let o = opts(p).keyring(Keyring::User(77)).without_signature(true);
        let sk = run(&k, &spec, &o).unwrap();
        assert_eq!(sk.protocol(), p);
        let calls = k.calls();
        let map_fd = check_map_calls(&calls, Some(excl));
        let load = if p == Protocol::P2 {
            assert_eq!(
                k.cmds(),
                [
                    BPF_MAP_CREATE,
                    BPF_MAP_UPDATE_ELEM,
                    BPF_MAP_FREEZE,
                    BPF_PROG_LOAD,
                    BPF_PROG_RUN
                ],
                "{p}"
            );
            &calls[3]
        } else {
            assert_eq!(calls[3].cmd, BPF_OBJ_GET_INFO_BY_FD, "{p}");
            assert_eq!(calls[3].u32(4), 104, "info_len");
            &calls[4]
        };
        check_prog_load(load, map_fd, insns, None, 0, 0);
        drop(sk);
        assert!(k.open_objects().is_empty());
        // Without the option the same spec is refused before any syscall.
        let k = FakeKernel::new().loader(good_loader());
        let e = run(&k, &spec, &opts(p)).unwrap_err();
        assert!(e.to_string().contains("no signature"), "{e}");
        assert!(k.calls().is_empty());
    }
    // Signed variants keep their signature out of the load; Unsigned is unaffected.
    let k = FakeKernel::new().loader(good_loader());
    let o = opts(Protocol::P2).without_signature(true);
    let _sk = run(&k, &hello(), &o).unwrap();
    check_prog_load(
        &k.calls()[3],
        k.calls()[1].u32(0) as i32,
        P2_INSNS,
        None,
        0,
        0,
    );
    let k = FakeKernel::new().loader(good_loader());
    let o = opts(Protocol::Unsigned).without_signature(true);
    let _sk = run(&k, &hello(), &o).unwrap();
    check_map_calls(&k.calls(), None);
    // Errors of an unsigned-form load name no keyring (none was used).
    let k = FakeKernel::new().fail(BPF_PROG_LOAD, 0, libc::EACCES);
    let e = run(&k, &hello(), &opts(Protocol::P1b).without_signature(true)).unwrap_err();
    assert_eq!(e.stage(), Stage::ProgLoad);
    assert_eq!(e.keyring(), None, "{e}");
    assert!(k.open_objects().is_empty());
}

#[test]
fn env_override_selects_variant() {
    let k = FakeKernel::new().loader(good_loader());
    let p = supported(Protocol::P2);
    let sk =
        crate::load::load_impl(&k, &hello(), &LoadOptions::new(), Some("unsigned"), || &p).unwrap();
    assert_eq!(sk.protocol(), Protocol::Unsigned);
    let k = FakeKernel::new().loader(good_loader());
    let sk = crate::load::load_impl(&k, &hello(), &LoadOptions::new(), None, || &p).unwrap();
    assert_eq!(sk.protocol(), Protocol::P2);
    let b = supported(Protocol::P1);
    let k = FakeKernel::new().loader(good_loader());
    let sk = crate::load::load_impl(&k, &hello(), &LoadOptions::new(), None, || &b).unwrap();
    assert_eq!(sk.protocol(), Protocol::P1);
    let b = supported(Protocol::P1b);
    let k = FakeKernel::new().loader(good_loader());
    let sk = crate::load::load_impl(&k, &hello(), &LoadOptions::new(), None, || &b).unwrap();
    assert_eq!(sk.protocol(), Protocol::P1b);
}

#[test]
fn loaded_skeleton_owns_fds_and_maps_bss() {
    let k = FakeKernel::new().loader(good_loader());
    let mut sk = run(&k, &hello(), &opts(Protocol::P2)).unwrap();
    // Loader map + prog closed, skeleton objects open: 2 maps + 1 prog.
    let open = k.open_objects();
    assert_eq!(open.len(), 3, "{open:?}");
    assert!(open.iter().all(|o| o.contains("ctx")), "{open:?}");
    assert_eq!(sk.map_count(), 2);
    assert_eq!(sk.prog_count(), 1);
    assert_eq!(sk.map_index("rodata"), Some(1));
    assert_eq!(sk.prog_name(0), Some("hello"));
    assert!(sk.map_fd(0).is_some() && sk.map_fd(2).is_none());
    assert!(sk.prog_fd(0).is_some() && sk.prog_fd(1).is_none());
    assert_eq!(sk.map_data_len(0), Some(4));
    assert!(sk.map_data_writable(0));
    // SAFETY: no BPF program runs in the fake kernel.
    let rodata = unsafe { sk.map_data(1) };
    assert_eq!(rodata, None, "rodata is not a skeleton data map");
    // SAFETY: as above.
    let bss = unsafe { sk.map_data_mut(0) };
    bss.unwrap().copy_from_slice(&1u32.to_ne_bytes());
    // SAFETY: as above.
    let bss = unsafe { sk.map_data(0) };
    assert_eq!(bss.unwrap(), &1u32.to_ne_bytes());
    // SAFETY: only compared, not dereferenced.
    assert!(unsafe { sk.map_data_ptr(0) }.is_some());
    // The bss value went to the map's memory (the fake's memfd), not a private copy.
    let fd = sk.map_fd(0).unwrap().as_raw_fd();
    let mut buf = [0u8; 4];
    // SAFETY: reading 4 bytes into a local buffer from an fd we own.
    assert_eq!(unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), 4, 0) }, 4);
    assert_eq!(buf, 1u32.to_ne_bytes());

    let links = sk.attach_all_with(&k).unwrap();
    assert_eq!(links.len(), 1);
    let tp = k.calls().into_iter().last().unwrap();
    assert_eq!(tp.cmd, BPF_RAW_TRACEPOINT_OPEN);
    assert_eq!(tp.attr.len(), 12);
    assert_eq!(tp.u64(0), 0, "NULL name for BTF-attached programs");
    assert_eq!(tp.u32(8) as i32, sk.prog_fd(0).unwrap().as_raw_fd());
    drop(sk);
    assert_eq!(k.open_objects().len(), 1, "the link outlives the skeleton");
    let raw = links.into_iter().next().unwrap().forget();
    assert_eq!(k.open_objects().len(), 1);
    // SAFETY: closing the fd that forget() leaked on purpose.
    unsafe { libc::close(raw) };
    assert!(k.open_objects().is_empty());
}

#[test]
fn every_failure_closes_everything() {
    let cases: Vec<(Protocol, FakeKernel, Stage, Option<i32>)> = vec![
        (
            Protocol::P2,
            FakeKernel::new().fail(BPF_MAP_CREATE, 0, libc::EINVAL),
            Stage::MapCreate,
            Some(libc::EINVAL),
        ),
        (
            Protocol::P2,
            FakeKernel::new().fail(BPF_MAP_UPDATE_ELEM, 0, libc::E2BIG),
            Stage::MapUpdate,
            Some(libc::E2BIG),
        ),
        (
            Protocol::P2,
            FakeKernel::new().fail(BPF_MAP_FREEZE, 0, libc::EBUSY),
            Stage::MapFreeze,
            Some(libc::EBUSY),
        ),
        (
            Protocol::P1,
            FakeKernel::new().fail(BPF_OBJ_GET_INFO_BY_FD, 0, libc::EPERM),
            Stage::MapHash,
            Some(libc::EPERM),
        ),
        (
            Protocol::P2,
            FakeKernel::new().fail(BPF_PROG_LOAD, 0, libc::ENOKEY),
            Stage::ProgLoad,
            Some(libc::ENOKEY),
        ),
        (
            Protocol::P2,
            FakeKernel::new().fail(BPF_PROG_RUN, 0, libc::EINVAL),
            Stage::LoaderRun,
            Some(libc::EINVAL),
        ),
        // The loader filled every slot and then failed: all of them must be closed.
        (
            Protocol::P1b,
            FakeKernel::new().loader(Loader {
                retval: -libc::EINVAL,
                ..good_loader()
            }),
            Stage::LoaderRun,
            Some(libc::EINVAL),
        ),
        // Success, but no program fd.
        (
            Protocol::P2,
            FakeKernel::new().loader(Loader {
                progs: 0,
                ..good_loader()
            }),
            Stage::LoaderRun,
            None,
        ),
        // Success, but a map fd missing.
        (
            Protocol::P2,
            FakeKernel::new().loader(Loader {
                maps: 1,
                ..good_loader()
            }),
            Stage::LoaderRun,
            None,
        ),
    ];
    for (p, k, stage, errno) in cases {
        let e = run(&k, &hello(), &opts(p)).unwrap_err();
        assert_eq!(e.stage(), stage, "{e}");
        assert_eq!(e.errno(), errno, "{e}");
        assert_eq!(e.protocol(), Some(p));
        assert!(
            k.open_objects().is_empty(),
            "{stage:?}: leaked {:?}",
            k.open_objects()
        );
    }
}

#[test]
fn loader_error_carries_guidance_and_from_loader() {
    let k = FakeKernel::new().loader(Loader {
        retval: -libc::EINVAL,
        ..good_loader()
    });
    let e = run(&k, &hello(), &opts(Protocol::P1b)).unwrap_err();
    assert!(e.from_loader());
    assert!(e.guidance().contains("hash"), "{e}");
    let k = FakeKernel::new().fail(BPF_PROG_LOAD, 0, libc::ENOKEY);
    let e = run(&k, &hello(), &opts(Protocol::P2)).unwrap_err();
    assert!(e.is_signature_rejection());
    assert!(e.to_string().contains("session keyring"), "{e}");
    assert!(e.to_string().contains("f2d4"), "{e}");
}

#[test]
fn log_grows_on_enospc_and_is_returned() {
    let k = FakeKernel::new()
        .loader(good_loader())
        .log_min(16384, "processed 42 insns");
    let sk = run(&k, &hello(), &opts(Protocol::P2).verifier_log(1, 100)).unwrap();
    assert_eq!(sk.verifier_log(), Some("processed 42 insns"));
    let loads: Vec<Call> = k
        .calls()
        .into_iter()
        .filter(|c| c.cmd == BPF_PROG_LOAD)
        .collect();
    let sizes: Vec<u32> = loads.iter().map(|c| c.u32(28)).collect();
    assert_eq!(sizes, [4096, 8192, 16384]);
    assert!(loads.iter().all(|c| c.u32(24) == 1 && c.u64(32) != 0));
    // The ctx carries the same log settings for the loader's inner loads.
    let run_call = k
        .calls()
        .into_iter()
        .find(|c| c.cmd == BPF_PROG_RUN)
        .unwrap();
    let ctx = run_call.ctx_in.unwrap();
    assert_eq!(u32::from_ne_bytes(ctx[8..12].try_into().unwrap()), 1);
    assert_eq!(u32::from_ne_bytes(ctx[12..16].try_into().unwrap()), 16384);
    assert_eq!(
        k.cmds().iter().filter(|&&c| c == BPF_MAP_CREATE).count(),
        3,
        "full restart each time"
    );
    drop(sk);
    assert!(k.open_objects().is_empty());
}

#[test]
fn error_carries_log() {
    let k = FakeKernel::new().prog_load_script(vec![Some((
        libc::EKEYREJECTED,
        "signature verification failed: -129",
    ))]);
    let e = run(&k, &hello(), &opts(Protocol::P2).verifier_log(1, 4096)).unwrap_err();
    assert_eq!(
        e.verifier_log(),
        Some("signature verification failed: -129")
    );
    assert!(e.to_string().contains("verifier log"));
}

#[test]
fn bad_specs_fail_before_any_syscall() {
    let k = FakeKernel::new();
    let only_unsigned = &VARIANTS[..1];
    let spec = SkeletonSpec {
        variants: only_unsigned,
        ..hello()
    };
    let e = run(&k, &spec, &opts(Protocol::P2)).unwrap_err();
    assert_eq!(e.stage(), Stage::SelectVariant);
    assert!(e.to_string().contains("embeds: unsigned"), "{e}");

    let unsigned_p2 = [LoaderVariant {
        signature: None,
        ..VARIANTS[3]
    }];
    let e = run(
        &k,
        &SkeletonSpec {
            variants: &unsigned_p2,
            ..hello()
        },
        &opts(Protocol::P2),
    )
    .unwrap_err();
    assert!(e.to_string().contains("no signature"), "{e}");

    let odd = [LoaderVariant {
        insns: &P2_INSNS[..13],
        ..VARIANTS[3]
    }];
    let e = run(
        &k,
        &SkeletonSpec {
            variants: &odd,
            ..hello()
        },
        &opts(Protocol::P2),
    )
    .unwrap_err();
    assert_eq!(e.stage(), Stage::SelectVariant);

    let e = run(
        &k,
        &SkeletonSpec {
            data: &[],
            ..hello()
        },
        &opts(Protocol::P2),
    )
    .unwrap_err();
    assert_eq!(e.stage(), Stage::SelectVariant);

    let many: Vec<MapSpec<'static>> = (0..5000).map(|_| MAPS[1]).collect();
    let e = run(
        &k,
        &SkeletonSpec {
            maps: &many,
            ..hello()
        },
        &opts(Protocol::P2),
    )
    .unwrap_err();
    assert!(e.to_string().contains("ctx"), "{e}");
    assert!(k.calls().is_empty());
}

#[test]
fn prog_slots_follow_autoload_order() {
    let progs = [
        ProgSpec {
            name: "p1",
            ..PROGS[0]
        },
        ProgSpec {
            name: "p2",
            autoload: false,
            ..PROGS[0]
        },
        ProgSpec {
            name: "p3",
            attach: AttachKind::Iter,
            ..PROGS[0]
        },
        ProgSpec {
            name: "p4",
            attach: AttachKind::Manual,
            ..PROGS[0]
        },
        ProgSpec {
            name: "p5",
            attach: AttachKind::RawTracepoint {
                tp_name: Some("sys_enter"),
            },
            ..PROGS[0]
        },
    ];
    let spec = SkeletonSpec {
        progs: &progs,
        ..hello()
    };
    let k = FakeKernel::new().loader(Loader {
        retval: 0,
        maps: 2,
        progs: 4,
        ctx_progs: 5,
        ..Loader::default()
    });
    let sk = run(&k, &spec, &opts(Protocol::P2)).unwrap();
    let slots: Vec<i32> = {
        let ctx_fds = k
            .calls()
            .into_iter()
            .find(|c| c.cmd == BPF_PROG_RUN)
            .unwrap();
        let _ = ctx_fds;
        (0..5)
            .map(|i| sk.prog_fd(i).map_or(-1, |f| f.as_raw_fd()))
            .collect()
    };
    assert!(slots[0] > 0 && slots[1] == -1 && slots[2] > 0 && slots[3] > 0 && slots[4] > 0);
    let e = sk.attach_prog_with(&k, 1).unwrap_err();
    assert!(e.to_string().contains("autoload"), "{e}");
    let e = sk.attach_prog_with(&k, 3).unwrap_err();
    assert!(e.to_string().contains("prog_fd"), "{e}");
    let e = sk.attach_prog_with(&k, 9).unwrap_err();
    assert_eq!(e.stage(), Stage::Attach);
    let links = sk.attach_all_with(&k).unwrap();
    assert_eq!(
        links.iter().map(Link::prog_index).collect::<Vec<_>>(),
        [Some(0), Some(2), Some(4)]
    );
    let calls = k.calls();
    let tail = &calls[calls.len() - 3..];
    assert_eq!(tail[1].cmd, BPF_LINK_CREATE);
    assert_eq!(tail[1].attr.len(), 28);
    assert_eq!(tail[1].u32(8), BPF_TRACE_ITER);
    tail[1].assert_zero_except(&[(0, 4), (8, 4)]);
    assert_eq!(tail[2].tp_name.as_deref(), Some("sys_enter"));
    drop(links);
    drop(sk);
    assert!(k.open_objects().is_empty());

    // More filled slots than autoload programs: the spec does not match the loader.
    let k = FakeKernel::new().loader(Loader {
        retval: 0,
        maps: 2,
        progs: 5,
        ctx_progs: 5,
        ..Loader::default()
    });
    let e = run(&k, &spec, &opts(Protocol::P2)).unwrap_err();
    assert!(e.to_string().contains("more program fds"), "{e}");
    assert!(k.open_objects().is_empty());
}

#[test]
fn attach_failure_detaches_earlier_links() {
    let progs = [
        PROGS[0],
        ProgSpec {
            name: "second",
            ..PROGS[0]
        },
    ];
    let spec = SkeletonSpec {
        progs: &progs,
        ..hello()
    };
    let k = FakeKernel::new()
        .loader(Loader {
            retval: 0,
            maps: 2,
            progs: 2,
            ctx_progs: 2,
            ..Loader::default()
        })
        .fail(BPF_RAW_TRACEPOINT_OPEN, 1, libc::ENOENT);
    let sk = run(&k, &spec, &opts(Protocol::P2)).unwrap();
    let e = sk.attach_all_with(&k).unwrap_err();
    assert_eq!(e.stage(), Stage::Attach);
    assert_eq!(e.errno(), Some(libc::ENOENT));
    assert!(e.guidance().contains("attach target"), "{e}");
    assert!(k.open_objects().iter().all(|o| !o.contains("link")));
}

#[test]
fn unsigned_only_spec_loads_without_probe() {
    let spec = SkeletonSpec {
        variants: &VARIANTS[..1],
        ..hello()
    };
    assert_eq!(spec.variants[0].protocol, Protocol::Unsigned);
    let never = || -> &'static KernelProbe { panic!("no signed variant: nothing to probe") };
    let k = FakeKernel::new().loader(good_loader());
    let sk = crate::load::load_impl(&k, &spec, &LoadOptions::new(), None, never).unwrap();
    assert_eq!(sk.protocol(), Protocol::Unsigned);
    drop(sk);
    let k = FakeKernel::new().loader(good_loader());
    let sk = crate::load::load_impl(&k, &spec, &LoadOptions::new(), Some(" "), never).unwrap();
    assert_eq!(sk.protocol(), Protocol::Unsigned);
    drop(sk);
    // An explicit protocol or BPFSIGN_PROTOCOL still wins, and fails without that variant.
    let k = FakeKernel::new();
    let e = crate::load::load_impl(&k, &spec, &opts(Protocol::P2), None, never).unwrap_err();
    assert_eq!(e.stage(), Stage::SelectVariant);
    assert!(e.to_string().contains("the p2 loader was asked for"), "{e}");
    let e = crate::load::load_impl(&k, &spec, &LoadOptions::new(), Some("p1b"), never).unwrap_err();
    assert_eq!(
        e.kind(),
        &ErrorKind::ProtocolNotEmbedded {
            needed: Protocol::P1b,
            embedded: vec![Protocol::Unsigned]
        }
    );
    let e = crate::load::load_impl(&k, &spec, &LoadOptions::new(), Some("p9"), never).unwrap_err();
    assert_eq!(e.stage(), Stage::ProbeKernel);
    assert!(k.calls().is_empty());
    // A spec with signed variants still asks the probe.
    let p = supported(Protocol::P1b);
    let k = FakeKernel::new().loader(good_loader());
    let sk = crate::load::load_impl(&k, &hello(), &LoadOptions::new(), None, || &p).unwrap();
    assert_eq!(sk.protocol(), Protocol::P1b);
}

#[test]
fn loader_retval_i32_min_is_an_error_not_a_panic() {
    let k = FakeKernel::new().loader(Loader {
        retval: i32::MIN,
        ..good_loader()
    });
    let e = run(&k, &hello(), &opts(Protocol::P2)).unwrap_err();
    assert_eq!(e.stage(), Stage::LoaderRun);
    assert!(e.from_loader());
    assert!(e.errno().is_some_and(|e| e > 0), "{e}");
    assert!(e.to_string().contains("-2147483648"), "{e}");
    assert!(k.open_objects().is_empty(), "{:?}", k.open_objects());
}

#[test]
fn failed_prog_run_closes_fds_written_to_ctx() {
    let k = FakeKernel::new().loader(Loader {
        run_errno: Some(libc::EFAULT),
        ..good_loader()
    });
    let e = run(&k, &hello(), &opts(Protocol::P2)).unwrap_err();
    assert_eq!(e.stage(), Stage::LoaderRun);
    assert_eq!(e.errno(), Some(libc::EFAULT));
    assert!(!e.from_loader());
    assert!(k.open_objects().is_empty(), "leaked {:?}", k.open_objects());
}

/// Env var that makes [`loader_fd_zero_is_an_fd`] run its body (in a child process).
const FD0_CHILD: &str = "BPFSIGN_TEST_FD0_CHILD";

/// A loader-created fd 0 (stdin closed) is a real fd: taken, owned and closed, not "no fd".
/// Replacing fd 0 is process-wide, so the body runs in a child process of this test binary.
#[test]
fn loader_fd_zero_is_an_fd() {
    if std::env::var_os(FD0_CHILD).is_none() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "tests::loader_fd_zero_is_an_fd",
                "--exact",
                "--test-threads=1",
                "--nocapture",
            ])
            .env(FD0_CHILD, "1")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "child failed:\n{text}");
        assert!(
            text.contains("1 passed"),
            "the child did not run the test:\n{text}"
        );
        return;
    }
    // Gives fd 0 back to /dev/null after the skeleton closed it, so the next metadata map does
    // not land on fd 0 (the fake's loader moves its first map fd there).
    let refill_stdin = || {
        // SAFETY: opening /dev/null; the fd (0, the lowest free one) is left open on purpose.
        let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY) };
        assert_eq!(fd, 0);
    };
    let fd0 = Loader {
        map_fd0: true,
        ..good_loader()
    };
    let k = FakeKernel::new().loader(fd0.clone());
    let sk = run(&k, &hello(), &opts(Protocol::P2)).unwrap();
    assert_eq!(sk.map_fd(0).unwrap().as_raw_fd(), 0);
    assert_eq!(k.open_objects().len(), 3, "{:?}", k.open_objects());
    drop(sk);
    assert!(k.open_objects().is_empty(), "leaked {:?}", k.open_objects());
    // On a loader error fd 0 is closed with the others.
    refill_stdin();
    let k = FakeKernel::new().loader(Loader {
        retval: -libc::EINVAL,
        ..fd0
    });
    let e = run(&k, &hello(), &opts(Protocol::P2)).unwrap_err();
    assert_eq!(e.errno(), Some(libc::EINVAL));
    assert!(k.open_objects().is_empty(), "leaked {:?}", k.open_objects());
    // Slots the loader leaves alone are still "no fd".
    refill_stdin();
    let k = FakeKernel::new().loader(Loader { maps: 1, ..fd0 });
    let e = run(&k, &hello(), &opts(Protocol::P2)).unwrap_err();
    assert!(e.to_string().contains("no fd for map"), "{e}");
    assert!(k.open_objects().is_empty(), "leaked {:?}", k.open_objects());
}

/// The default build: P1, P1b, P2 and no unsigned loader.
fn signed_only() -> SkeletonSpec<'static> {
    SkeletonSpec {
        variants: &VARIANTS[1..],
        ..hello()
    }
}

#[test]
fn default_build_refuses_the_unsigned_override() {
    let never = || -> &'static KernelProbe { panic!("an explicit protocol needs no probe") };
    let want = ErrorKind::ProtocolNotEmbedded {
        needed: Protocol::Unsigned,
        embedded: Protocol::SIGNED.to_vec(),
    };
    for (o, env) in [
        (LoadOptions::new(), Some("unsigned")),
        (LoadOptions::new(), Some(" UNSIGNED ")),
        (opts(Protocol::Unsigned), None),
        (opts(Protocol::Unsigned), Some("p2")),
    ] {
        let k = FakeKernel::new().loader(good_loader());
        let e = crate::load::load_impl(&k, &signed_only(), &o, env, never).unwrap_err();
        assert_eq!(e.kind(), &want, "{e}");
        assert_eq!(e.stage(), Stage::SelectVariant);
        assert_eq!(e.protocol(), Some(Protocol::Unsigned));
        assert_eq!(e.errno(), None);
        let text = e.to_string();
        assert!(text.contains("did not allow unsigned"), "{text}");
        assert!(text.contains("embeds: p1, p1b, p2"), "{text}");
        assert!(text.contains("allow_unsigned = true"), "{text}");
        assert!(k.calls().is_empty(), "nothing may reach the kernel");
    }
    // The same spec loads its signed loader when nothing forces the unsigned one.
    let p = supported(Protocol::P2);
    let k = FakeKernel::new().loader(good_loader());
    let sk = crate::load::load_impl(&k, &signed_only(), &LoadOptions::new(), None, || &p).unwrap();
    assert_eq!(sk.protocol(), Protocol::P2);
}

#[test]
fn an_allow_unsigned_build_honours_the_override() {
    let never = || -> &'static KernelProbe { panic!("an explicit protocol needs no probe") };
    let k = FakeKernel::new().loader(good_loader());
    let sk =
        crate::load::load_impl(&k, &hello(), &LoadOptions::new(), Some("unsigned"), never).unwrap();
    assert_eq!(sk.protocol(), Protocol::Unsigned);
}

#[test]
fn chosen_protocols_refuse_other_kernels_with_a_typed_error() {
    const P1B_P2: fn() -> SkeletonSpec<'static> = || SkeletonSpec {
        variants: &VARIANTS[2..],
        ..hello()
    };
    // A probed P1 kernel needs a loader the build left out.
    let p1 = supported(Protocol::P1);
    let k = FakeKernel::new().loader(good_loader());
    let e = crate::load::load_impl(&k, &P1B_P2(), &LoadOptions::new(), None, || &p1).unwrap_err();
    assert_eq!(
        e.kind(),
        &ErrorKind::ProtocolNotEmbedded {
            needed: Protocol::P1,
            embedded: vec![Protocol::P1b, Protocol::P2]
        }
    );
    let text = e.to_string();
    assert!(text.contains("this kernel needs the p1 loader"), "{text}");
    assert!(text.contains("embeds: p1b, p2"), "{text}");
    assert!(text.contains("protocols = [p1"), "{text}");
    assert!(!text.contains("unsigned"), "no unsigned override: {text}");
    assert!(k.calls().is_empty());
    // Kernels of the embedded protocols load.
    for p in [Protocol::P1b, Protocol::P2] {
        let probe = supported(p);
        let k = FakeKernel::new().loader(good_loader());
        let sk =
            crate::load::load_impl(&k, &P1B_P2(), &LoadOptions::new(), None, || &probe).unwrap();
        assert_eq!(sk.protocol(), p);
    }
}

/// The hello variants of a `protocols = [p1, p2]` build.
static P1_P2: [LoaderVariant<'static>; 2] = [VARIANTS[1], VARIANTS[3]];

#[test]
fn a_probed_p1b_kernel_falls_back_to_an_embedded_p1_loader_only() {
    let spec = SkeletonSpec {
        variants: &P1_P2,
        ..hello()
    };
    let p1b = supported(Protocol::P1b);
    let k = FakeKernel::new().loader(good_loader());
    let sk = crate::load::load_impl(&k, &spec, &LoadOptions::new(), None, || &p1b).unwrap();
    assert_eq!(sk.protocol(), Protocol::P1);
    let calls = k.calls();
    let load = calls.iter().find(|c| c.cmd == BPF_PROG_LOAD).unwrap();
    assert_eq!(load.insns.as_deref(), Some(P1_INSNS));
    drop(sk);
    // An explicit P1b never falls back.
    let k = FakeKernel::new();
    let e = run(&k, &spec, &opts(Protocol::P1b)).unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::ProtocolNotEmbedded {
                needed: Protocol::P1b,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("unset BPFSIGN_PROTOCOL"), "{e}");
    // Nor does a P2 kernel (P1 loaders fail there) or a P1 kernel without P1.
    let p2_only = SkeletonSpec {
        variants: &P1_P2[1..],
        ..hello()
    };
    let p1 = supported(Protocol::P1);
    let e = crate::load::load_impl(&k, &p2_only, &LoadOptions::new(), None, || &p1).unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::ProtocolNotEmbedded {
                needed: Protocol::P1,
                ..
            }
        ),
        "{e}"
    );
    let p1b_only = SkeletonSpec {
        variants: &VARIANTS[2..3],
        ..hello()
    };
    let e = crate::load::load_impl(&k, &p1b_only, &LoadOptions::new(), None, || &p1).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::ProtocolNotEmbedded { .. }),
        "{e}"
    );
    assert!(k.calls().is_empty());
}

/// A [`crate::load::ProtocolSource`] with a scripted first try, cache and probe, recording what
/// the load asked of it.
struct FakeSource {
    first: Option<Protocol>,
    cached: Option<KernelProbe>,
    probe: KernelProbe,
    asked_first: std::cell::Cell<bool>,
    probed: std::cell::Cell<bool>,
    confirmed: std::cell::RefCell<Vec<(Protocol, String)>>,
}

impl FakeSource {
    fn new(first: Option<Protocol>, kernel: Protocol) -> Self {
        FakeSource {
            first,
            cached: None,
            probe: supported(kernel),
            asked_first: Default::default(),
            probed: Default::default(),
            confirmed: Default::default(),
        }
    }
}

impl crate::load::ProtocolSource for FakeSource {
    fn cached(&self) -> Option<&KernelProbe> {
        self.cached.as_ref()
    }
    fn first_try(&self, embedded: &dyn Fn(Protocol) -> bool) -> Option<crate::first_try::FirstTry> {
        self.asked_first.set(true);
        self.first
            .filter(|&p| embedded(p))
            .map(|protocol| crate::first_try::FirstTry {
                protocol,
                evidence: "kernel release 9.9.9".into(),
            })
    }
    fn probe(&self) -> &KernelProbe {
        self.probed.set(true);
        &self.probe
    }
    fn confirm(&self, protocol: Protocol, evidence: String) {
        self.confirmed.borrow_mut().push((protocol, evidence));
    }
}

fn load_from(
    k: &FakeKernel,
    spec: &SkeletonSpec<'_>,
    opts: &LoadOptions,
    env: Option<&str>,
    source: &FakeSource,
) -> Result<LoadedSkeleton, Error> {
    crate::load::load_with_source(k, spec, opts, env, source)
}

#[test]
fn an_accepted_first_try_is_the_probe() {
    for (p, insns) in [
        (Protocol::P2, P2_INSNS),
        (Protocol::P1b, P1B_INSNS),
        (Protocol::P1, P1_INSNS),
    ] {
        let k = FakeKernel::new().loader(good_loader());
        let src = FakeSource::new(Some(p), p);
        let sk = load_from(&k, &hello(), &LoadOptions::new(), None, &src).unwrap();
        assert_eq!(sk.protocol(), p);
        assert!(
            !src.probed.get(),
            "{p}: no probe after an accepted first try"
        );
        // Exactly the protocol's sequence: no probe map, no junk-signature load.
        let hash = [BPF_OBJ_GET_INFO_BY_FD];
        let want: Vec<u32> = [BPF_MAP_CREATE, BPF_MAP_UPDATE_ELEM, BPF_MAP_FREEZE]
            .into_iter()
            .chain(
                if p == Protocol::P2 {
                    &[][..]
                } else {
                    &hash[..]
                }
                .iter()
                .copied(),
            )
            .chain([BPF_PROG_LOAD, BPF_PROG_RUN])
            .collect();
        assert_eq!(k.cmds(), want, "{p}");
        let load = k
            .calls()
            .into_iter()
            .find(|c| c.cmd == BPF_PROG_LOAD)
            .unwrap();
        assert_eq!(load.insns.as_deref(), Some(insns));
        assert!(load.signature.is_some(), "{p}: the first try is signed");
        let confirmed = src.confirmed.borrow();
        assert_eq!(confirmed.len(), 1);
        assert_eq!(confirmed[0].0, p);
        assert!(confirmed[0].1.contains("accepted the signed") && confirmed[0].1.contains("9.9.9"));
    }
}

#[test]
fn a_refused_first_try_falls_back_to_the_probe() {
    // The release suggested P2, the kernel is P1b: PROG_LOAD refuses the P2 loader, the probe
    // decides, and the P1b loader loads. The first try's map is closed.
    let k = FakeKernel::new()
        .loader(good_loader())
        .fail(BPF_PROG_LOAD, 0, libc::EKEYREJECTED);
    let src = FakeSource::new(Some(Protocol::P2), Protocol::P1b);
    let sk = load_from(&k, &hello(), &LoadOptions::new(), None, &src).unwrap();
    assert_eq!(sk.protocol(), Protocol::P1b);
    assert!(src.probed.get());
    assert!(
        src.confirmed.borrow().is_empty(),
        "a refused try confirms nothing"
    );
    let loads: Vec<Call> = k
        .calls()
        .into_iter()
        .filter(|c| c.cmd == BPF_PROG_LOAD)
        .collect();
    assert_eq!(loads.len(), 2);
    assert_eq!(loads[0].insns.as_deref(), Some(P2_INSNS));
    assert_eq!(loads[1].insns.as_deref(), Some(P1B_INSNS));
    drop(sk);
    assert!(k.open_objects().is_empty(), "{:?}", k.open_objects());

    // A failure before PROG_LOAD (here the map) is no evidence either: the probe decides, and
    // its protocol's error is the one reported.
    let k = FakeKernel::new()
        .fail(BPF_MAP_CREATE, 0, libc::ENOMEM)
        .fail(BPF_MAP_CREATE, 1, libc::EPERM);
    let src = FakeSource::new(Some(Protocol::P1b), Protocol::P2);
    let e = load_from(&k, &hello(), &LoadOptions::new(), None, &src).unwrap_err();
    assert!(src.probed.get());
    assert_eq!(e.stage(), Stage::MapCreate);
    assert_eq!(e.errno(), Some(libc::EPERM));
    assert_eq!(e.protocol(), Some(Protocol::P2));
    assert!(k.open_objects().is_empty());

    // The probe agrees with the refused first try (here: a missing key): the refusal is the
    // result, the same load is not made twice.
    let k = FakeKernel::new()
        .loader(good_loader())
        .fail(BPF_PROG_LOAD, 0, libc::ENOKEY);
    let src = FakeSource::new(Some(Protocol::P2), Protocol::P2);
    let e = load_from(&k, &hello(), &LoadOptions::new(), None, &src).unwrap_err();
    assert!(src.probed.get());
    assert!(src.confirmed.borrow().is_empty());
    assert_eq!(
        (e.stage(), e.errno()),
        (Stage::ProgLoad, Some(libc::ENOKEY))
    );
    assert_eq!(e.protocol(), Some(Protocol::P2));
    assert_eq!(k.cmds().iter().filter(|&&c| c == BPF_PROG_LOAD).count(), 1);
    assert!(k.open_objects().is_empty());

    // The probe cannot decide (here: its map is refused, as for a missing capability): the
    // refusal, which names the stage, errno and protocol of the real load, is the result.
    let no_perm = FakeKernel::new().fail(BPF_MAP_CREATE, 0, libc::EPERM);
    let undecided = crate::probe::probe_with(&no_perm, || {
        Err(std::io::Error::from_raw_os_error(libc::ENOENT))
    });
    assert_eq!(undecided.family(), None);
    let src = FakeSource {
        probe: undecided,
        ..FakeSource::new(Some(Protocol::P1b), Protocol::P1b)
    };
    let k = FakeKernel::new().fail(BPF_PROG_LOAD, 0, libc::EPERM);
    let e = load_from(&k, &hello(), &LoadOptions::new(), None, &src).unwrap_err();
    assert!(src.probed.get());
    assert_eq!((e.stage(), e.errno()), (Stage::ProgLoad, Some(libc::EPERM)));
    assert_eq!(e.protocol(), Some(Protocol::P1b));
    assert!(k.open_objects().is_empty());
}

#[test]
fn a_failure_after_an_accepted_first_try_is_final() {
    // The kernel verified the signed loader (PROG_LOAD passed), then the loader failed: the
    // protocol is confirmed, the loader's error is reported, nothing is retried.
    let k = FakeKernel::new().loader(Loader {
        retval: -libc::ENOMEM,
        ..good_loader()
    });
    let src = FakeSource::new(Some(Protocol::P2), Protocol::P2);
    let e = load_from(&k, &hello(), &LoadOptions::new(), None, &src).unwrap_err();
    assert_eq!(e.stage(), Stage::LoaderRun);
    assert!(!src.probed.get());
    assert_eq!(src.confirmed.borrow().len(), 1);
    assert_eq!(
        k.calls().iter().filter(|c| c.cmd == BPF_PROG_LOAD).count(),
        1
    );
    assert!(k.open_objects().is_empty());
}

#[test]
fn an_mmap_failure_after_an_accepted_first_try_is_final() {
    // PROG_LOAD and the loader passed, then the data map cannot be mapped (its size exceeds the
    // address space): the kernel verified the signature, so the protocol is confirmed, the
    // mmap error is the result and nothing is probed or loaded again.
    let maps: Vec<MapSpec<'_>> = hello()
        .maps
        .iter()
        .map(|m| MapSpec {
            value_size: if m.mmapable { 1 << 31 } else { m.value_size },
            max_entries: if m.mmapable { 1 << 20 } else { m.max_entries },
            ..*m
        })
        .collect();
    let spec = SkeletonSpec {
        maps: &maps,
        ..hello()
    };
    let k = FakeKernel::new().loader(good_loader());
    let src = FakeSource::new(Some(Protocol::P1b), Protocol::P1b);
    let e = load_from(&k, &spec, &LoadOptions::new(), None, &src).unwrap_err();
    assert_eq!(e.stage(), Stage::Mmap, "{e}");
    assert!(!src.probed.get());
    assert_eq!(src.confirmed.borrow().len(), 1);
    assert_eq!(src.confirmed.borrow()[0].0, Protocol::P1b);
    assert_eq!(k.cmds().iter().filter(|&&c| c == BPF_PROG_LOAD).count(), 1);
    assert!(k.open_objects().is_empty(), "{:?}", k.open_objects());
}

#[test]
fn a_refused_first_try_on_a_kernel_that_cannot_verify_is_final() {
    // The probe names a family (P1: both errnos are P1-era answers, vmlinux BTF unreadable) but
    // signing is unusable: every signed loader would be refused, so the first try's refusal is
    // the result even though it tried another protocol (P2), and no second signed load is made.
    for (errno, support) in [
        (libc::EOPNOTSUPP, SigningSupport::NoDataVerification),
        (libc::EINVAL, SigningSupport::NoKeys),
    ] {
        let probe_kernel = FakeKernel::new().prog_load_script(vec![Some((errno, ""))]);
        let probe = crate::probe::probe_with(&probe_kernel, || {
            Err(std::io::Error::from_raw_os_error(libc::ENOENT))
        });
        assert_eq!(probe.support(), support);
        assert_eq!(probe.family(), Some(Protocol::P1));
        let src = FakeSource {
            probe,
            ..FakeSource::new(Some(Protocol::P2), Protocol::P1)
        };
        let k = FakeKernel::new()
            .loader(good_loader())
            .fail(BPF_PROG_LOAD, 0, errno);
        let e = load_from(&k, &hello(), &LoadOptions::new(), None, &src).unwrap_err();
        assert!(src.probed.get());
        assert!(src.confirmed.borrow().is_empty());
        assert_eq!(
            (e.stage(), e.errno(), e.protocol()),
            (Stage::ProgLoad, Some(errno), Some(Protocol::P2)),
            "{support}"
        );
        assert_eq!(
            k.cmds().iter().filter(|&&c| c == BPF_PROG_LOAD).count(),
            1,
            "{support}"
        );
        assert!(k.open_objects().is_empty(), "{:?}", k.open_objects());
    }
}

#[test]
fn no_first_try_when_the_protocol_is_given_cached_unsigned_or_not_embedded() {
    let cases: [(LoadOptions, Option<&str>, bool); 4] = [
        (LoadOptions::new().protocol(Protocol::P1b), None, false),
        (LoadOptions::new(), Some("p1b"), false),
        (LoadOptions::new().without_signature(true), None, false),
        (LoadOptions::new(), None, true),
    ];
    for (opts, env, cached) in cases {
        let k = FakeKernel::new().loader(good_loader());
        let mut src = FakeSource::new(Some(Protocol::P2), Protocol::P1b);
        if cached {
            src.cached = Some(supported(Protocol::P1b));
        }
        let sk = load_from(&k, &hello(), &opts, env, &src).unwrap();
        assert_eq!(sk.protocol(), Protocol::P1b);
        assert!(!src.asked_first.get(), "{opts:?} {env:?} {cached}");
        assert!(src.confirmed.borrow().is_empty());
        // An unsigned form never carries a signature (the P2 loader's would load anywhere).
        if opts.without_signature {
            assert!(k.calls().iter().all(|c| c.signature.is_none()));
        }
    }
    // A skeleton without signed loaders does not even ask for a first try.
    let unsigned = SkeletonSpec {
        variants: &VARIANTS[..1],
        ..hello()
    };
    let k = FakeKernel::new().loader(good_loader());
    let src = FakeSource::new(Some(Protocol::P2), Protocol::P2);
    let sk = load_from(&k, &unsigned, &LoadOptions::new(), None, &src).unwrap();
    assert_eq!(sk.protocol(), Protocol::Unsigned);
    assert!(!src.asked_first.get() && !src.probed.get());
    // The suggested loader is not embedded: the probe decides (and may fall back to P1).
    let spec = SkeletonSpec {
        variants: &P1_P2,
        ..hello()
    };
    let k = FakeKernel::new().loader(good_loader());
    let src = FakeSource::new(Some(Protocol::P1b), Protocol::P1b);
    let sk = load_from(&k, &spec, &LoadOptions::new(), None, &src).unwrap();
    assert_eq!(sk.protocol(), Protocol::P1);
    assert!(src.probed.get());
    assert!(src.confirmed.borrow().is_empty());
    // No suggestion (an old or unparsable release): the probe decides.
    let k = FakeKernel::new().loader(good_loader());
    let src = FakeSource::new(None, Protocol::P2);
    let sk = load_from(&k, &hello(), &LoadOptions::new(), None, &src).unwrap();
    assert_eq!(sk.protocol(), Protocol::P2);
    assert!(src.asked_first.get() && src.probed.get());
}
