//! Functional kernel tests of the six user-like objects, the way the held-out check of issue 9
//! drives them (run with `cargo vmtest -p bpfsign-userlike-tests`): load (signed with key A on
//! 6.18.15 / 7.2.13 / 7.3.4, unsigned on the host), `attach()` (plus `attach_xdp(1, …)` and
//! `attach_tcx(1, …)` on `lo`), trigger the programs from this process, and check one effect
//! per object through the generated skeleton: `reader().poll` on a ring buffer, `lookup` on a
//! hash / per-CPU / LRU / inner map, `read_bss` / `read_rodata` / `read_<section>`,
//! `open_iter` on an iterator link and `set` on a prog_array.
//!
//! Programs filter on this test's process id (written to a global after load) or on a magic
//! syscall argument, so other processes cannot disturb the counts. The network test runs in a
//! new network namespace, whose `lo` is ifindex 1 (the host's interfaces are never touched).
//!
//! The host (6.18.44, unsigned loads) differs from the VMs in three ways, each checked for what
//! bpfsign must do there: programs attached through a BPF trampoline (fentry/fexit, lsm) cannot
//! load (EPERM, for bpftool's loader as well); it has no kprobes (no kprobe PMU: `attach()` must
//! fail with the typed `AttachTarget` error, nothing attached); tracefs is not mounted (the
//! tracepoint tests mount it for their duration and unmount it again).

use std::time::{Duration, Instant};

use bpfsign_kernel_tests::leak::assert_no_leak;
use bpfsign_kernel_tests::setup::{ensure_tracefs, enter_new_netns};
use bpfsign_kernel_tests::user::{signing_kernel, trampoline_load};
use bpfsign_kernel_tests::{load, test_kernel};
use bpfsign_runtime::{ErrorKind, TcxDirection, XdpFlags};
use bpfsign_userlike_tests::{
    kprobe_core, lsm_tp, mapinmap, net_counters, tp_ringbuf, tracing_iter,
};

/// `USERLIKE_GETPGID_MAGIC` of bpf/include/userlike.h.
const GETPGID_MAGIC: i64 = 0x5eed1e;

fn pid() -> u32 {
    std::process::id()
}

fn gettid() -> u32 {
    // SAFETY: gettid cannot fail and touches no memory.
    unsafe { libc::syscall(libc::SYS_gettid) as u32 }
}

/// The calling thread's command name, as `bpf_get_current_comm` sees it.
fn thread_comm() -> String {
    std::fs::read_to_string("/proc/thread-self/comm")
        .expect("read /proc/thread-self/comm")
        .trim_end()
        .to_string()
}

/// A C string from a `char` array of a generated type (`i8` or `u8` elements).
fn c_string<T: Copy + Into<i16>>(chars: &[T]) -> String {
    let bytes: Vec<u8> = chars
        .iter()
        .map(|&c| c.into() as u8)
        .take_while(|&b| b != 0)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A raw system call with one argument (no libc wrapper that could cache or skip it).
fn syscall1(nr: libc::c_long, arg: libc::c_long) -> libc::c_long {
    // SAFETY: the syscalls used here (getpgid, getppid, getsid) take integers, touch no memory
    // of this process and only return a value or an errno.
    unsafe { libc::syscall(nr, arg) }
}

/// The test bed boots with `lo` up in the initial network namespace, as a user's machine does: a
/// held-out check may attach to ifindex 1 and send packets over 127.0.0.1 without a namespace of
/// its own.
#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_userlike_initial_netns_lo_is_up() {
    let flags = std::fs::read_to_string("/sys/class/net/lo/flags").expect("read lo's flags");
    let flags = u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16).expect("hex flags");
    assert_ne!(
        flags & libc::IFF_UP as u32,
        0,
        "lo is down (flags {flags:#x})"
    );
}

/// (1) tracepoint + ring buffer + `.rodata` filter: getpgid(MAGIC) calls from this thread come
/// back as ring buffer records; calls with another argument are filtered out in BPF; the exit
/// tracepoint (`tp/` section) records their return value.
#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_userlike_fn_tp_ringbuf_events() {
    assert_no_leak("tp_ringbuf", || {
        ensure_tracefs();
        let skel = load!(tp_ringbuf::TpRingbuf).expect("load tp_ringbuf");
        assert_eq!(
            skel.read_rodata().expect("rodata").watched_arg,
            GETPGID_MAGIC
        );
        let links = skel.attach().expect("attach tp_ringbuf");
        let maps = skel.maps();
        let mut reader = maps.events.reader();
        for _ in 0..3 {
            syscall1(libc::SYS_getpgid, GETPGID_MAGIC as libc::c_long);
            syscall1(libc::SYS_getpgid, 0); // filtered out
        }
        let me = pid();
        let comm = thread_comm();
        let mut mine = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while mine.len() < 3 && Instant::now() < deadline {
            reader
                .poll(Duration::from_millis(200), |r| {
                    assert_eq!(r.len(), 32, "record size = sizeof(struct getpgid_event)");
                    let tgid = u32::from_ne_bytes(r[0..4].try_into().unwrap());
                    let arg = i64::from_ne_bytes(r[8..16].try_into().unwrap());
                    assert_eq!(
                        arg, GETPGID_MAGIC,
                        "the .rodata filter let another call through"
                    );
                    if tgid == me {
                        mine.push(c_string(&r[16..32]));
                    }
                })
                .expect("poll the ring buffer");
        }
        assert_eq!(mine.len(), 3, "getpgid(MAGIC) events of this process");
        assert!(mine.iter().all(|c| *c == comm), "{mine:?} vs {comm}");
        let bss = skel.read_bss().expect("bss");
        assert!(bss.reported >= 3, "reported {}", bss.reported);
        assert_eq!(bss.dropped, 0, "the ring buffer overflowed");
        // The tp/ exit program saw those calls return ESRCH (no process has the magic pid).
        assert!(bss.exits >= 3, "exits {}", bss.exits);
        assert_eq!(bss.last_ret, -(libc::ESRCH as i64));
        assert_eq!(maps.in_flight.lookup(&gettid()).expect("lookup"), None);
        drop(links);
    });
}

/// (2) kprobe + CO-RE + hash map + subprogram: unlinks by this process are counted in the hash
/// map under its pid, with its parent (CO-RE read) and the last unlinked name; the kretprobe
/// counts their successful returns.
#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_userlike_fn_kprobe_core_hash() {
    assert_no_leak("kprobe_core", || {
        let skel = load!(kprobe_core::KprobeCore).expect("load kprobe_core");
        if !std::path::Path::new("/sys/bus/event_source/devices/kprobe").exists() {
            let e = skel
                .attach()
                .expect_err("no kprobe PMU: attach() must fail");
            eprintln!("{}: no kprobes here; attach() refused: {e}", test_kernel());
            assert!(!signing_kernel(), "the VM kernels have kprobes");
            assert!(matches!(e.kind(), ErrorKind::AttachTarget { .. }), "{e}");
            return;
        }
        let links = skel.attach().expect("attach kprobe_core");
        let name = format!("userlike-unlink-{}", pid());
        let path = std::env::temp_dir().join(&name);
        for _ in 0..3 {
            std::fs::write(&path, b"x").expect("create a file");
            std::fs::remove_file(&path).expect("unlink it");
        }
        let stat = skel
            .maps()
            .unlink_stats
            .lookup(&pid())
            .expect("lookup")
            .expect("an entry for this process");
        drop(links);
        // SAFETY: getppid cannot fail and touches no memory.
        let ppid = unsafe { libc::getppid() } as u32;
        assert!(stat.calls >= 3, "{} unlinks counted", stat.calls);
        assert!(
            stat.returns >= 3,
            "{} successful returns (kretprobe)",
            stat.returns
        );
        assert_eq!(stat.ppid, ppid, "parent's tgid through CO-RE");
        assert_eq!(c_string(&stat.last_name), name);
        assert_eq!(stat.name_len as usize, name.len());
    });
}

/// Sends `n` UDP datagrams to itself over `lo`.
fn udp_over_lo(n: usize) {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind a UDP socket on lo");
    let addr = sock.local_addr().unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 64];
    for i in 0..n {
        sock.send_to(&[i as u8; 32], addr).expect("send over lo");
        sock.recv_from(&mut buf).expect("the datagram comes back");
    }
}

/// (3) xdp + tc + per-CPU array + global function: packets over `lo` are counted by the three
/// programs (xdp, tc as tcx ingress, tcx/egress) in their per-CPU slots.
#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_userlike_fn_net_counters_percpu() {
    enter_new_netns();
    assert_no_leak("net_counters", || {
        let skel = load!(net_counters::NetCounters).expect("load net_counters");
        let auto = skel
            .attach()
            .expect("attach() (xdp and tc have no target: skipped)");
        let progs = skel.progs();
        let xdp = progs
            .xdp_count
            .attach_xdp(1, XdpFlags::default())
            .expect("attach_xdp on lo");
        let tcx = progs
            .tc_count
            .attach_tcx(1, TcxDirection::Ingress)
            .expect("attach_tcx ingress on lo");
        let egress = progs
            .tcx_egress_count
            .attach_tcx(1, TcxDirection::Egress)
            .expect("attach_tcx egress on lo");
        udp_over_lo(10);
        let maps = skel.maps();
        let sum = |slot: u32| {
            let per_cpu = maps
                .pkt_counts
                .lookup(&slot)
                .expect("per-CPU lookup")
                .expect("array slots always exist");
            assert!(!per_cpu.is_empty(), "one value per possible CPU");
            per_cpu
                .iter()
                .fold((0u64, 0u64), |(p, b), v| (p + v.packets, b + v.bytes))
        };
        let (xdp_packets, xdp_bytes) = sum(0);
        let (tc_packets, tc_bytes) = sum(1);
        let (egress_packets, _) = sum(2);
        drop((xdp, tcx, egress, auto));
        assert!(egress_packets >= 10, "tcx/egress counted {egress_packets}");
        assert!(xdp_packets >= 10, "xdp counted {xdp_packets}");
        assert!(tc_packets >= 10, "tc counted {tc_packets}");
        // 32 bytes of payload + UDP + IPv4 + Ethernet headers each.
        assert!(
            xdp_bytes >= 10 * 74 && tc_bytes >= 10 * 74,
            "{xdp_bytes} {tc_bytes}"
        );
    });
}

/// (4) fentry/fexit + task iterator + kfuncs + typed ksym: getppid() of this process is seen on
/// entry (kfunc resolves the task, the typed ksym the runqueue) and exit (return value); the
/// task iterator lists this process.
#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_userlike_fn_tracing_iter() {
    assert_no_leak("tracing_iter", || {
        let r = load!(tracing_iter::TracingIter);
        let Some(skel) = trampoline_load("tracing_iter", r) else {
            return;
        };
        skel.bss_vars().expect("bss").target_tgid.store(pid());
        let links = skel.attach().expect("attach tracing_iter");
        for _ in 0..3 {
            syscall1(libc::SYS_getppid, 0);
        }
        let bss = skel.read_bss().expect("bss");
        // SAFETY: getppid cannot fail and touches no memory.
        let ppid = unsafe { libc::getppid() } as i64;
        assert_eq!((bss.entries, bss.exits), (3, 3), "fentry / fexit hits");
        assert_eq!(bss.last_ret, ppid, "fexit saw the return value");
        assert_eq!(bss.kfunc_tgid, pid(), "bpf_task_from_pid found this task");
        assert_eq!(bss.rq_cpu_matches, 3, "runqueues (typed ksym) of this CPU");

        let mut out = String::new();
        use std::io::Read;
        links
            .dump_task
            .open_iter()
            .expect("open_iter")
            .read_to_string(&mut out)
            .expect("read the iterator");
        let me = format!("{} {} ", pid(), pid());
        let line = out
            .lines()
            .find(|l| l.starts_with(&me))
            .unwrap_or_else(|| panic!("no line for this process in {} lines", out.lines().count()));
        let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
        assert_eq!(&line[me.len()..], comm.trim_end());
        assert!(out.lines().any(|l| l.starts_with("1 1 ")), "init is listed");
    });
}

/// (5) lsm + lsm.s + raw_tp + tp_btf: a file open, a bpf() command, getpgid() and a new thread
/// of this process are each seen by their program.
#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_userlike_fn_lsm_tp() {
    assert_no_leak("lsm_tp", || {
        let Some(skel) = trampoline_load("lsm_tp", load!(lsm_tp::LsmTp)) else {
            return;
        };
        let lsms = std::fs::read_to_string("/sys/kernel/security/lsm").unwrap_or_default();
        assert!(
            lsms.split(',').any(|l| l.trim() == "bpf"),
            "the BPF LSM is not active on {}: {lsms}",
            test_kernel()
        );
        skel.bss_vars().expect("bss").target_tgid.store(pid());
        let links = skel.attach().expect("attach lsm_tp");
        std::fs::File::open("/proc/self/stat").expect("open a file");
        // BPF_PROG_GET_NEXT_ID (11) with start id u32::MAX: fails with ENOENT after the hook.
        let mut attr = [u32::MAX, 0, 0];
        // SAFETY: a 12-byte attr on a local buffer that outlives the call.
        unsafe { libc::syscall(libc::SYS_bpf, 11, attr.as_mut_ptr(), 12usize) };
        syscall1(libc::SYS_getpgid, 0);
        let tid = std::thread::spawn(gettid).join().expect("thread");
        let bss = skel.read_bss().expect("bss");
        assert!(bss.file_opens >= 1, "lsm/file_open: {}", bss.file_opens);
        assert!(bss.bpf_cmds >= 1, "lsm.s/bpf: {}", bss.bpf_cmds);
        // Initialised to -1: a .data variable.
        let data = skel.read_data().expect(".data");
        assert_eq!(
            data.last_bpf_cmd, 11,
            "the last bpf() command of this process"
        );
        assert!(
            bss.getpgid_calls >= 1,
            "raw_tp/sys_enter: {}",
            bss.getpgid_calls
        );
        assert!(bss.new_tasks >= 1, "tp_btf/task_newtask: {}", bss.new_tasks);
        assert_eq!(bss.last_new_pid, tid, "the new thread's id");
        drop(links);
    });
}

/// (6) map-in-map + prog_array tail call + LRU hash + custom sections + bpf_loop: getsid() of
/// this process sums 1..=10 with bpf_loop into its LRU entry, bumps slot 2 of inner_a (reached
/// through the statically initialised outer map) and, once jump_table[0] is set, tail-calls
/// tail_target.
#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_userlike_fn_mapinmap_tail_call() {
    assert_no_leak("mapinmap", || {
        ensure_tracefs();
        let skel = load!(mapinmap::Mapinmap).expect("load mapinmap");
        let cfg = skel.read_rodata_cfg().expect(".rodata.cfg");
        assert_eq!((cfg.loop_rounds, cfg.inner_slot), (10, 2));
        skel.data_filter_vars()
            .expect(".data.filter")
            .target_tgid
            .store(pid());
        let links = skel
            .attach()
            .expect("attach mapinmap (tail_target has no target)");
        // Before the prog_array is filled, the tail call falls through.
        syscall1(libc::SYS_getsid, 0);
        assert_eq!(skel.read_data_stats().expect(".data.stats").tail_taken, 0);
        let progs = skel.progs();
        let maps = skel.maps();
        maps.jump_table
            .set(0, &progs.tail_target)
            .expect("prog_array set");
        for _ in 0..3 {
            syscall1(libc::SYS_getsid, 0);
        }
        let st = maps
            .per_tgid
            .lookup(&pid())
            .expect("LRU lookup")
            .expect("an entry for this process");
        assert_eq!(st.calls, 4, "getsid() calls of this process");
        assert_eq!(st.loop_sum, 55, "bpf_loop summed 1..=10");
        assert_eq!(st.tail_calls, 3, "tail calls taken after set()");
        let inner = maps.inner_a.lookup(&2).expect("inner lookup");
        assert_eq!(inner, Some(4), "slot 2 of inner_a through outer[0]");
        assert_eq!(maps.inner_b.lookup(&2).expect("inner lookup"), Some(0));
        assert_eq!(skel.read_data_stats().expect(".data.stats").tail_taken, 3);
        // The static initialisation put inner_a at outer[0] and inner_b at outer[1]; the
        // prog_array slot holds tail_target.
        assert_eq!(
            maps.outer.inner_id(&0).expect("outer[0]"),
            Some(maps.inner_a.id().expect("inner_a id"))
        );
        assert_eq!(
            maps.outer.inner_id(&1).expect("outer[1]"),
            Some(maps.inner_b.id().expect("inner_b id"))
        );
        assert_eq!(
            maps.jump_table.prog_id(0).expect("jump_table[0]"),
            Some(progs.tail_target.id().expect("tail_target id"))
        );
        maps.jump_table.clear(0).expect("prog_array clear");
        drop(links);
    });
}
