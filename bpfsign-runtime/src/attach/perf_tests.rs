//! Unit tests of the perf-event and multi-link attach paths against the fake kernel: the
//! `perf_event_attr` and `BPF_LINK_CREATE` layouts, and that nothing stays open on failure.

use std::os::fd::AsRawFd;

use crate::fake::{Call, FakeKernel, Loader, FAKE_PERF_EVENT_ENABLE, FAKE_PERF_EVENT_OPEN};
use crate::sys::BPF_LINK_CREATE;
use crate::*;

use super::kprobe::{link_create_kprobe_multi, BPF_TRACE_KPROBE_MULTI};
use super::perf::{Pmu, BPF_PERF_EVENT, PERF_ATTR_SZ, PERF_TYPE_TRACEPOINT};
use super::tracepoint::tracepoint_attr;
use super::uprobe::{symbol_file_offset, BPF_TRACE_UPROBE_MULTI};

use crate::tests::common;

/// A function of this test binary for the uprobe.multi test to find.
#[no_mangle]
#[inline(never)]
pub extern "C" fn bpfsign_runtime_perf_test_target() -> u64 {
    std::hint::black_box(7)
}

const KPROBE: ProgSpec<'static> = ProgSpec {
    name: "probe",
    section: "kprobe",
    prog_type: 2,
    expected_attach_type: 0,
    autoload: true,
    attach: AttachKind::Manual,
};

/// A fake kernel whose loader fills `progs` program slots.
fn fake(progs: usize) -> FakeKernel {
    FakeKernel::new().loader(Loader {
        retval: 0,
        maps: 2,
        progs,
        ctx_progs: progs,
        ..Loader::default()
    })
}

/// A skeleton with `progs`, loaded by the fake kernel `k` (made by [`fake`]).
fn loaded(k: &FakeKernel, progs: &'static [ProgSpec<'static>]) -> LoadedSkeleton {
    let spec = SkeletonSpec {
        progs,
        ..common::hello_spec("f2d4")
    };
    let never = || -> &'static crate::probe::KernelProbe { panic!("no probe") };
    let opts = LoadOptions::new()
        .protocol(Protocol::P2)
        .keyring(Keyring::Session);
    crate::load::load_impl(k, &spec, &opts, None, never).unwrap()
}

fn last(k: &FakeKernel, cmd: u32) -> Call {
    k.calls().into_iter().rev().find(|c| c.cmd == cmd).unwrap()
}

fn perf_calls(k: &FakeKernel) -> Vec<Call> {
    k.calls()
        .into_iter()
        .filter(|c| c.cmd == FAKE_PERF_EVENT_OPEN || c.cmd == FAKE_PERF_EVENT_ENABLE)
        .collect()
}

/// Checks the `BPF_LINK_CREATE(BPF_PERF_EVENT)` call and the enable that follows it.
fn check_perf_link(k: &FakeKernel, prog_fd: i32) {
    let calls = k.calls();
    let n = calls.len();
    let (open, link, enable) = (&calls[n - 3], &calls[n - 2], &calls[n - 1]);
    assert_eq!(open.cmd, FAKE_PERF_EVENT_OPEN);
    assert_eq!(link.cmd, BPF_LINK_CREATE);
    assert_eq!(link.attr.len(), 24);
    assert_eq!(link.u32(0) as i32, prog_fd);
    assert!(link.u32(4) as i32 > 2, "target_fd is the perf fd");
    assert_eq!(link.u32(8), BPF_PERF_EVENT);
    link.assert_zero_except(&[(0, 4), (4, 4), (8, 4)]);
    assert_eq!(enable.cmd, FAKE_PERF_EVENT_ENABLE);
    assert_eq!(enable.perf, Some((link.u32(4) as i32, 0)));
}

#[test]
fn kprobe_attr_layout_and_link() {
    static PROGS: [ProgSpec<'static>; 1] = [KPROBE];
    let k = fake(PROGS.len());
    let sk = loaded(&k, &PROGS);
    let prog = sk.program(0).unwrap();
    let pmu = Pmu {
        type_: 6,
        retprobe_bit: 0,
    };
    let func = c"do_unlinkat";
    let link = prog
        .attach_perf_attr_with(&k, &pmu.probe_attr(func, 0x10, false), (-1, 0), "kprobe")
        .unwrap();
    let open = last(&k, FAKE_PERF_EVENT_OPEN);
    assert_eq!(open.attr.len(), PERF_ATTR_SZ);
    assert_eq!(open.u32(0), 6, "type = kprobe PMU");
    assert_eq!(open.u32(4), PERF_ATTR_SZ as u32, "size");
    assert_eq!(open.u64(8), 0, "config: no retprobe bit");
    assert_eq!(open.u64(64), 0x10, "config2 = offset");
    assert_eq!(open.strings, ["do_unlinkat"], "config1 = function name");
    open.assert_zero_except(&[(0, 8), (56, 8), (64, 8)]);
    assert_eq!(open.perf, Some((-1, 0)));
    check_perf_link(&k, prog.fd().as_raw_fd());
    assert_eq!(link.prog_index(), Some(0));
    // The perf fd is closed already: only the link holds the event.
    assert!(k.open_objects().iter().all(|o| !o.contains("perf")));
    drop(link);
    assert!(k.open_objects().iter().all(|o| !o.contains("link")));

    // A kretprobe sets the PMU's retprobe bit in config.
    let pmu = Pmu {
        type_: 6,
        retprobe_bit: 3,
    };
    let link = prog
        .attach_perf_attr_with(&k, &pmu.probe_attr(func, 0, true), (-1, 0), "kretprobe")
        .unwrap();
    let open = last(&k, FAKE_PERF_EVENT_OPEN);
    assert_eq!(open.u64(8), 1 << 3);
    assert_eq!(open.u64(64), 0);
    drop(link);
    drop(sk);
    assert!(k.open_objects().is_empty());
}

#[test]
fn uprobe_and_tracepoint_attr_layouts() {
    static PROGS: [ProgSpec<'static>; 1] = [KPROBE];
    let k = fake(PROGS.len());
    let sk = loaded(&k, &PROGS);
    let prog = sk.program(0).unwrap();
    let pmu = Pmu {
        type_: 9,
        retprobe_bit: 0,
    };
    let link = prog
        .attach_perf_attr_with(
            &k,
            &pmu.probe_attr(c"/bin/true", 0x1234, true),
            super::perf::probe_pid_cpu(Some(42)),
            "uprobe",
        )
        .unwrap();
    let open = last(&k, FAKE_PERF_EVENT_OPEN);
    assert_eq!(open.u32(0), 9);
    assert_eq!(open.u64(8), 1, "retprobe bit 0");
    assert_eq!(open.u64(64), 0x1234);
    assert_eq!(open.strings, ["/bin/true"]);
    assert_eq!(open.perf, Some((42, -1)), "one process, any CPU");
    check_perf_link(&k, prog.fd().as_raw_fd());
    drop(link);

    let link = prog
        .attach_perf_attr_with(&k, &tracepoint_attr(321), (-1, 0), "tracepoint")
        .unwrap();
    let open = last(&k, FAKE_PERF_EVENT_OPEN);
    assert_eq!(open.u32(0), PERF_TYPE_TRACEPOINT);
    assert_eq!(open.u64(8), 321, "config = tracepoint id");
    open.assert_zero_except(&[(0, 8), (8, 8)]);
    assert!(open.strings.is_empty());
    check_perf_link(&k, prog.fd().as_raw_fd());
    drop(link);
    drop(sk);
    assert!(k.open_objects().is_empty());
}

#[test]
fn perf_failures_leave_nothing_open() {
    static PROGS: [ProgSpec<'static>; 1] = [KPROBE];
    // perf_event_open fails: a target error, nothing else tried.
    let k = fake(1).fail(FAKE_PERF_EVENT_OPEN, 0, libc::ENOENT);
    let sk = loaded(&k, &PROGS);
    let prog = sk.program(0).unwrap();
    let e = prog
        .attach_perf_attr_with(&k, &tracepoint_attr(1), (-1, 0), "tracepoint x:y")
        .unwrap_err();
    assert_eq!(e.stage(), Stage::Attach);
    assert_eq!(e.errno(), Some(libc::ENOENT));
    assert!(
        matches!(e.kind(), ErrorKind::AttachTarget { program, target } if program == "probe" && target == "tracepoint x:y")
    );
    assert_eq!(perf_calls(&k).len(), 1);

    // The link fails: the perf fd is closed.
    let k = fake(1).fail(BPF_LINK_CREATE, 0, libc::EINVAL);
    let sk2 = loaded(&k, &PROGS);
    let prog = sk2.program(0).unwrap();
    let e = prog
        .attach_perf_attr_with(&k, &tracepoint_attr(1), (-1, 0), "tracepoint x:y")
        .unwrap_err();
    assert_eq!(e.errno(), Some(libc::EINVAL));
    assert!(e.to_string().contains("BPF_PERF_EVENT"), "{e}");
    assert!(k
        .open_objects()
        .iter()
        .all(|o| !o.contains("perf") && !o.contains("link")));

    // Enabling fails: the link is closed again, and the perf fd.
    let k = fake(1).fail(FAKE_PERF_EVENT_ENABLE, 0, libc::EBADF);
    let sk3 = loaded(&k, &PROGS);
    let prog = sk3.program(0).unwrap();
    let e = prog
        .attach_perf_attr_with(&k, &tracepoint_attr(1), (-1, 0), "tracepoint x:y")
        .unwrap_err();
    assert_eq!(e.errno(), Some(libc::EBADF));
    assert!(k
        .open_objects()
        .iter()
        .all(|o| !o.contains("perf") && !o.contains("link")));
    drop((sk, sk2, sk3));
}

#[test]
fn kprobe_multi_link_layout() {
    static PROGS: [ProgSpec<'static>; 1] = [ProgSpec {
        expected_attach_type: BPF_TRACE_KPROBE_MULTI,
        section: "kprobe.multi",
        ..KPROBE
    }];
    let k = fake(PROGS.len());
    let sk = loaded(&k, &PROGS);
    let prog = sk.program(0).unwrap();
    let syms = [c"vfs_read".to_owned(), c"vfs_write".to_owned()];
    for retprobe in [false, true] {
        let link = link_create_kprobe_multi(&k, prog.fd(), &syms, retprobe).unwrap();
        let c = last(&k, BPF_LINK_CREATE);
        assert_eq!(c.attr.len(), 48);
        assert_eq!(c.u32(0) as i32, prog.fd().as_raw_fd());
        assert_eq!(c.u32(4), 0, "no target fd");
        assert_eq!(c.u32(8), BPF_TRACE_KPROBE_MULTI);
        assert_eq!(c.u32(16), u32::from(retprobe), "BPF_F_KPROBE_MULTI_RETURN");
        assert_eq!(c.u32(20), 2, "cnt");
        assert_ne!(c.u64(24), 0, "syms");
        assert_eq!(c.strings, ["vfs_read", "vfs_write"]);
        c.assert_zero_except(&[(0, 4), (8, 4), (16, 4), (20, 4), (24, 8)]);
        drop(link);
    }
    drop(sk);
    assert!(k.open_objects().is_empty());
}

#[test]
fn uprobe_multi_by_section_through_the_fake() {
    static PROGS: [ProgSpec<'static>; 2] = [
        ProgSpec {
            name: "multi",
            section: "uprobe.multi//proc/self/exe:bpfsign_runtime_perf_test_targe?",
            expected_attach_type: BPF_TRACE_UPROBE_MULTI,
            attach: AttachKind::UprobeMulti {
                path: "/proc/self/exe",
                pattern: "bpfsign_runtime_perf_test_targe?",
                retprobe: true,
            },
            ..KPROBE
        },
        ProgSpec {
            name: "none",
            section: "uprobe.multi//proc/self/exe:bpfsign_no_such_fn*",
            expected_attach_type: BPF_TRACE_UPROBE_MULTI,
            attach: AttachKind::UprobeMulti {
                path: "/proc/self/exe",
                pattern: "bpfsign_no_such_fn*",
                retprobe: false,
            },
            ..KPROBE
        },
    ];
    assert_eq!(bpfsign_runtime_perf_test_target(), 7);
    let k = fake(PROGS.len());
    let sk = loaded(&k, &PROGS);
    let exe = std::fs::read("/proc/self/exe").unwrap();
    let off = symbol_file_offset(&exe, "bpfsign_runtime_perf_test_target").unwrap();
    let link = sk.attach_prog_with(&k, 0).unwrap();
    let c = last(&k, BPF_LINK_CREATE);
    assert_eq!(c.attr.len(), 60);
    assert_eq!(c.u32(8), BPF_TRACE_UPROBE_MULTI);
    assert_eq!(c.strings, ["/proc/self/exe"], "path");
    assert_eq!(c.offsets, [off]);
    assert_eq!(c.u64(32), 0, "no ref_ctr_offsets");
    assert_eq!(c.u64(40), 0, "no cookies");
    assert_eq!(c.u32(48), 1, "cnt");
    assert_eq!(c.u32(52), 1, "BPF_F_UPROBE_MULTI_RETURN");
    assert_eq!(c.u32(56), 0, "every process");
    c.assert_zero_except(&[(0, 4), (8, 4), (16, 8), (24, 8), (48, 4), (52, 4)]);
    drop(link);

    // No function matches: a target error before any system call.
    let before = k.calls().len();
    let e = sk.attach_prog_with(&k, 1).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::AttachTarget { program, .. } if program == "none"),
        "{e}"
    );
    assert!(e.to_string().contains("bpfsign_no_such_fn*"), "{e}");
    assert_eq!(k.calls().len(), before);

    // The explicit method with a pid.
    let link = sk
        .program(0)
        .unwrap()
        .attach_uprobe_multi_with(
            &k,
            false,
            Some(1234),
            std::path::Path::new("/proc/self/exe"),
            "bpfsign_runtime_perf_test_target",
        )
        .unwrap();
    let c = last(&k, BPF_LINK_CREATE);
    assert_eq!((c.u32(52), c.u32(56)), (0, 1234));
    drop(link);
    drop(sk);
    assert!(k.open_objects().is_empty());
}
