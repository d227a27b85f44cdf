//! Kernel tests of the perf-event and multi-link attach kinds: kprobe, kretprobe, ksyscall,
//! kretsyscall, kprobe.multi, kretprobe.multi, uprobe, uretprobe, uprobe.multi,
//! uretprobe.multi, tracepoint and a software perf event. Every test attaches twice, through
//! the skeleton's `attach()` (by section) and through the program's explicit method, triggers
//! the event from the test, asserts that the program's `.bss` counter moved, drops the link,
//! asserts that the counter no longer moves, and checks that nothing leaks.
//!
//! The kprobe sections name the x86_64 entry of getppid(2) (`__x64_sys_getppid`): the VM
//! kernels and the host are x86_64.
//!
//! The host kernel (6.18.44) is built without kprobes and fprobe, and has no tracefs mounted:
//! there the kprobe-family tests stop after checking that the missing support is reported as
//! such (a typed attach error, not a crash or a leak), and the tracefs users mount a tracefs in
//! a private mount namespace of the test thread. The VM kernels have everything and must pass
//! every step.

use std::time::{Duration, Instant};

use bpfsign_functional_tests::perf::{
    LoadedPerfKprobe, PerfKmulti, PerfKprobe, PerfTp, PerfUprobe,
};
use bpfsign_kernel_tests::leak::Snapshot;
use bpfsign_kernel_tests::load;
use bpfsign_kernel_tests::setup::{ensure_tracefs, getppid_n};
use bpfsign_runtime::{ErrorKind, Link, LoadedSkeleton, Program, UprobeTarget};

/// The uprobe target: a function of this executable, called by the tests.
#[no_mangle]
#[inline(never)]
pub extern "C" fn bpfsign_perf_uprobe_target(x: u64) -> u64 {
    std::hint::black_box(x.wrapping_mul(3).wrapping_add(1))
}

/// First uprobe.multi target.
#[no_mangle]
#[inline(never)]
pub extern "C" fn bpfsign_perf_umulti_one(x: u64) -> u64 {
    std::hint::black_box(x ^ 0x55)
}

/// Second uprobe.multi target.
#[no_mangle]
#[inline(never)]
pub extern "C" fn bpfsign_perf_umulti_two(x: u64) -> u64 {
    std::hint::black_box(x.rotate_left(7))
}

/// Whether the kernel under test is the host (see the module docs for what it lacks).
fn on_host() -> bool {
    !bpfsign_kernel_tests::user::signing_kernel()
}

/// Whether the kernel has the kprobe PMU (`CONFIG_KPROBE_EVENTS`); asserted on the VM kernels.
fn have_kprobes() -> bool {
    let have = std::path::Path::new("/sys/bus/event_source/devices/kprobe/type").exists();
    assert!(have || on_host(), "the VM kernels have the kprobe PMU");
    if !have {
        eprintln!("host kernel without kprobes: the attach steps of this test are skipped");
    }
    have
}

/// The program called `name` of `skel`.
fn prog<'a>(skel: &'a LoadedSkeleton, name: &str) -> Program<'a> {
    skel.programs()
        .find(|p| p.name() == name)
        .unwrap_or_else(|| panic!("no program {name}"))
}

/// Triggers with `trigger` until `read` has grown by at least `n` (at most 5 s); returns the
/// last value.
fn assert_moves(what: &str, read: &dyn Fn() -> u64, trigger: &dyn Fn(), n: u64) -> u64 {
    let start = read();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        trigger();
        let now = read();
        if now >= start + n {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: counter stayed at {now} (from {start}) while attached"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// After the link is gone, the counter does not move any more, however often `trigger` runs.
fn assert_stays(what: &str, read: &dyn Fn() -> u64, trigger: &dyn Fn()) {
    // Detaching is synchronous for these links; a short pause covers programs still running
    // on another CPU at the moment of the detach.
    std::thread::sleep(Duration::from_millis(50));
    let before = read();
    for _ in 0..5 {
        trigger();
    }
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(
        read(),
        before,
        "{what}: counter moved after the link was dropped"
    );
}

/// One attach round: `attach` makes the link (or links), the counter moves on `trigger`, and
/// stops after dropping it.
fn round<L>(what: &str, attach: impl FnOnce() -> L, read: &dyn Fn() -> u64, trigger: &dyn Fn()) {
    let link = attach();
    assert_moves(what, read, trigger, 3);
    drop(link);
    assert_stays(what, read, trigger);
}

/// The kprobe skeleton's counters.
fn kprobe_counter(skel: &LoadedPerfKprobe, which: &str) -> u64 {
    let b = skel.read_bss().expect("read .bss");
    match which {
        "kprobe" => b.kprobe_hits,
        "kretprobe" => b.kretprobe_hits,
        "ksyscall" => b.ksyscall_hits,
        "kretsyscall" => b.kretsyscall_hits,
        other => panic!("no counter {other}"),
    }
}

/// The kprobe-family test of program `name` (counter `which`), explicit attach by `explicit`.
fn kprobe_family(which: &str, name: &str, explicit: impl Fn(Program<'_>) -> Link) {
    let snap = Snapshot::take();
    {
        let skel = load!(PerfKprobe).expect("load perf_kprobe");
        if !have_kprobes() {
            // The missing PMU is a typed error naming the program, and nothing is left attached.
            let e = skel.attach().unwrap_err();
            assert!(matches!(e.kind(), ErrorKind::AttachTarget { .. }), "{e:?}");
            let e = prog(skel.inner(), name).attach().unwrap_err();
            assert!(
                matches!(e.kind(), ErrorKind::AttachTarget { program, .. } if program == name),
                "{e:?}"
            );
            drop(skel);
            snap.assert_nothing_new(which);
            return;
        }
        let read = || kprobe_counter(&skel, which);
        let trigger = || getppid_n(4);
        round(
            &format!("{which} through attach()"),
            || skel.attach().expect("attach() by section"),
            &read,
            &trigger,
        );
        round(
            &format!("{which} through Program::attach()"),
            || prog(skel.inner(), name).attach().expect("Program::attach"),
            &read,
            &trigger,
        );
        round(
            &format!("{which} through the explicit method"),
            || explicit(prog(skel.inner(), name)),
            &read,
            &trigger,
        );
    }
    snap.assert_nothing_new(which);
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_attach_perf_kprobe() {
    kprobe_family("kprobe", "on_kprobe", |p| {
        p.attach_kprobe("__x64_sys_getppid", false)
            .expect("attach_kprobe")
    });
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_attach_perf_kretprobe() {
    kprobe_family("kretprobe", "on_kretprobe", |p| {
        p.attach_kprobe_offset("__x64_sys_getppid", 0, true)
            .expect("attach_kprobe_offset (retprobe)")
    });
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_attach_perf_ksyscall() {
    kprobe_family("ksyscall", "on_ksyscall", |p| {
        p.attach_ksyscall("getppid", false)
            .expect("attach_ksyscall")
    });
    kprobe_family("kretsyscall", "on_kretsyscall", |p| {
        p.attach_ksyscall("getppid", true)
            .expect("attach_ksyscall (retprobe)")
    });
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_attach_perf_kprobe_errors() {
    let snap = Snapshot::take();
    {
        let skel = load!(PerfKprobe).expect("load perf_kprobe");
        ensure_tracefs();
        let p = prog(skel.inner(), "on_kprobe");
        let e = p
            .attach_kprobe("bpfsign_no_such_kernel_function", false)
            .unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::AttachTarget { program, .. } if program == "on_kprobe"),
            "{e:?}"
        );
        let e = p
            .attach_kprobe_offset("__x64_sys_getppid", 4, true)
            .unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::AttachTarget { .. }), "{e:?}");
        let e = p
            .attach_kprobe_multi("bpfsign_no_such_function_*", false)
            .unwrap_err();
        if std::fs::read("/sys/kernel/tracing/available_filter_functions").is_ok() {
            assert!(matches!(e.kind(), ErrorKind::AttachTarget { .. }), "{e:?}");
        } else {
            // The host: the function list itself cannot be read.
            assert!(on_host(), "{e:?}");
            assert_eq!(e.stage(), bpfsign_runtime::Stage::Attach);
        }
    }
    snap.assert_nothing_new("kprobe errors");
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_attach_perf_kprobe_multi() {
    let snap = Snapshot::take();
    {
        let skel = load!(PerfKmulti).expect("load perf_kmulti");
        ensure_tracefs();
        if on_host() {
            // The host kernel has no fprobe: the link is refused with EOPNOTSUPP, and nothing
            // stays attached.
            // available_filter_functions is not readable there either (EPERM).
            if let Err(e) = skel.attach() {
                assert!(
                    matches!(e.errno(), Some(libc::EOPNOTSUPP) | Some(libc::EPERM)),
                    "{e:?}"
                );
                eprintln!("host kernel without fprobe: kprobe.multi attach steps skipped");
                drop(skel);
                snap.assert_nothing_new("kprobe.multi");
                return;
            }
        }
        let entry = || skel.read_bss().expect("read .bss").multi_hits;
        let ret = || skel.read_bss().expect("read .bss").multi_ret_hits;
        let trigger = || getppid_n(4);
        round(
            "kprobe.multi through attach()",
            || skel.attach().expect("attach()"),
            &entry,
            &trigger,
        );
        round(
            "kretprobe.multi through attach()",
            || skel.attach().expect("attach()"),
            &ret,
            &trigger,
        );
        round(
            "kprobe.multi through attach_kprobe_multi",
            || {
                prog(skel.inner(), "on_multi")
                    .attach_kprobe_multi("__*sys_getpp?d", false)
                    .expect("attach_kprobe_multi")
            },
            &entry,
            &trigger,
        );
        round(
            "kretprobe.multi through attach_kprobe_multi",
            || {
                prog(skel.inner(), "on_multi_ret")
                    .attach_kprobe_multi("__*_sys_getppid", true)
                    .expect("attach_kprobe_multi (retprobe)")
            },
            &ret,
            &trigger,
        );
    }
    snap.assert_nothing_new("kprobe.multi");
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_attach_perf_uprobe() {
    let snap = Snapshot::take();
    {
        let skel = load!(PerfUprobe).expect("load perf_uprobe");
        let entry = || skel.read_bss().expect("read .bss").uprobe_hits;
        let ret = || skel.read_bss().expect("read .bss").uretprobe_hits;
        let trigger = || {
            for i in 0..4 {
                bpfsign_perf_uprobe_target(i);
            }
        };
        round(
            "uprobe through attach()",
            || skel.attach().expect("attach()"),
            &entry,
            &trigger,
        );
        round(
            "uretprobe through attach()",
            || skel.attach().expect("attach()"),
            &ret,
            &trigger,
        );
        let exe = std::fs::read_link("/proc/self/exe").expect("/proc/self/exe");
        round(
            "uprobe through attach_uprobe (every process)",
            || {
                prog(skel.inner(), "on_uprobe")
                    .attach_uprobe(
                        false,
                        None,
                        &exe,
                        UprobeTarget::Symbol("bpfsign_perf_uprobe_target"),
                    )
                    .expect("attach_uprobe")
            },
            &entry,
            &trigger,
        );
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() };
        round(
            "uretprobe through attach_uprobe (this process)",
            || {
                prog(skel.inner(), "on_uretprobe")
                    .attach_uprobe(
                        true,
                        Some(pid),
                        "/proc/self/exe",
                        UprobeTarget::Symbol("bpfsign_perf_uprobe_target"),
                    )
                    .expect("attach_uprobe (retprobe)")
            },
            &ret,
            &trigger,
        );
        let e = prog(skel.inner(), "on_uprobe")
            .attach_uprobe(
                false,
                None,
                &exe,
                UprobeTarget::Symbol("bpfsign_no_such_symbol"),
            )
            .unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::AttachTarget { .. }), "{e:?}");
    }
    snap.assert_nothing_new("uprobe");
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_attach_perf_uprobe_multi() {
    let snap = Snapshot::take();
    {
        let skel = load!(PerfUprobe).expect("load perf_uprobe");
        let entry = || skel.read_bss().expect("read .bss").umulti_hits;
        let ret = || skel.read_bss().expect("read .bss").umulti_ret_hits;
        let trigger = || {
            bpfsign_perf_umulti_one(1);
            bpfsign_perf_umulti_two(2);
        };
        round(
            "uprobe.multi through attach()",
            || skel.attach().expect("attach()"),
            &entry,
            &trigger,
        );
        round(
            "uretprobe.multi through attach()",
            || skel.attach().expect("attach()"),
            &ret,
            &trigger,
        );
        // Both functions are probed by one link: one call of each adds two.
        {
            let links = skel.attach().expect("attach()");
            let before = entry();
            trigger();
            assert_eq!(entry() - before, 2, "one hit per matching function");
            drop(links);
        }
        round(
            "uprobe.multi through attach_uprobe_multi",
            || {
                prog(skel.inner(), "on_umulti")
                    .attach_uprobe_multi(false, None, "/proc/self/exe", "bpfsign_perf_umulti_*")
                    .expect("attach_uprobe_multi")
            },
            &entry,
            &trigger,
        );
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() };
        round(
            "uretprobe.multi through attach_uprobe_multi (this process)",
            || {
                prog(skel.inner(), "on_umulti_ret")
                    .attach_uprobe_multi(
                        true,
                        Some(pid),
                        "/proc/self/exe",
                        "bpfsign_perf_umulti_t?o",
                    )
                    .expect("attach_uprobe_multi (retprobe)")
            },
            &ret,
            &trigger,
        );
    }
    snap.assert_nothing_new("uprobe.multi");
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_attach_perf_tracepoint() {
    let snap = Snapshot::take();
    {
        let skel = load!(PerfTp).expect("load perf_tp");
        ensure_tracefs();
        let read = || skel.read_bss().expect("read .bss").tp_hits;
        let trigger = || getppid_n(4);
        round(
            "tracepoint through attach()",
            || skel.attach().expect("attach()"),
            &read,
            &trigger,
        );
        round(
            "tracepoint through attach_tracepoint",
            || {
                prog(skel.inner(), "on_getppid")
                    .attach_tracepoint("syscalls", "sys_enter_getppid")
                    .expect("attach_tracepoint")
            },
            &read,
            &trigger,
        );
        let e = prog(skel.inner(), "on_getppid")
            .attach_tracepoint("syscalls", "bpfsign_no_such_tracepoint")
            .unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::AttachTarget { .. }), "{e:?}");
    }
    snap.assert_nothing_new("tracepoint");
}

/// `perf_event_open` of a software CPU clock of the calling thread sampling every 100 µs.
fn cpu_clock_event() -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    // struct perf_event_attr (PERF_ATTR_SIZE_VER5, 112 bytes): type at 0, size at 4, config
    // at 8, sample_period at 16, flags at 40 (bit 0 disabled, 5 exclude_kernel, 6 exclude_hv).
    #[repr(C, align(8))]
    struct Attr([u8; 112]);
    let mut a = Attr([0; 112]);
    a.0[0..4].copy_from_slice(&1u32.to_ne_bytes()); // PERF_TYPE_SOFTWARE
    a.0[4..8].copy_from_slice(&112u32.to_ne_bytes());
    a.0[8..16].copy_from_slice(&0u64.to_ne_bytes()); // PERF_COUNT_SW_CPU_CLOCK
    a.0[16..24].copy_from_slice(&100_000u64.to_ne_bytes());
    a.0[40..48].copy_from_slice(&1u64.to_ne_bytes()); // disabled: attach enables it
                                                      // SAFETY: a valid attr of `size` bytes; pid 0 (this thread), cpu -1, no group, CLOEXEC.
    let fd = unsafe { libc::syscall(libc::SYS_perf_event_open, a.0.as_ptr(), 0, -1, -1, 8) };
    assert!(
        fd >= 0,
        "perf_event_open: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: a fresh fd we own.
    unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) }
}

/// Keeps this thread on the CPU for `ms` milliseconds.
fn spin(ms: u64) {
    let end = Instant::now() + Duration::from_millis(ms);
    let mut x = 0u64;
    while Instant::now() < end {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_attach_perf_perf_event() {
    let snap = Snapshot::take();
    {
        let skel = load!(PerfTp).expect("load perf_tp");
        let p = prog(skel.inner(), "on_sample");
        // A target-less section: attach() leaves it out and Program::attach() says why.
        assert!(p.attach().is_err());
        let read = || skel.read_bss().expect("read .bss").sample_hits;
        let trigger = || spin(20);
        round(
            "perf_event through attach_perf_event",
            || {
                let event = cpu_clock_event();
                // The link holds the event: the fd is closed right after.
                p.attach_perf_event(&event).expect("attach_perf_event")
            },
            &read,
            &trigger,
        );
    }
    snap.assert_nothing_new("perf_event");
}
