//! Kernel tests of the six user-like objects (run them with `cargo vmtest -p
//! bpfsign-userlike-tests`): every object loads on 6.18.15 (P1), 7.2.13 (P1b), 7.3.4 (P2)
//! signed with key A, and on the host with the unsigned loader; nothing stays behind.
//!
//! The host kernel refuses every program attached through a BPF trampoline (fentry, fexit,
//! lsm) with EPERM — bpftool's own loader gets the same answer there — so on the host the two
//! objects holding such programs must fail with exactly that error and leave nothing behind.

use bpfsign_kernel_tests::leak::assert_no_leak;
use bpfsign_kernel_tests::user::{protocol, trampoline_load};
use bpfsign_kernel_tests::{load, test_kernel};
use bpfsign_runtime::{LoadedSkeleton, Protocol};
use bpfsign_userlike_tests::{
    kprobe_core, lsm_tp, mapinmap, net_counters, tp_ringbuf, tracing_iter,
};

/// Programs and maps each object declares, by name (one list for the clang and GCC builds).
type Names = (&'static [&'static str], &'static [&'static str]);
const TP_RINGBUF: Names = (&["on_getpgid", "on_getpgid_exit"], &["events", "in_flight"]);
const KPROBE_CORE: Names = (&["count_unlink", "unlink_done"], &["unlink_stats"]);
const NET_COUNTERS: Names = (
    &["xdp_count", "tc_count", "tcx_egress_count"],
    &["pkt_counts"],
);
const TRACING_ITER: Names = (&["enter_getppid", "exit_getppid", "dump_task"], &[]);
const LSM_TP: Names = (
    &[
        "watch_file_open",
        "watch_bpf",
        "watch_sys_enter",
        "watch_newtask",
    ],
    &[],
);
const MAPINMAP: Names = (
    &["on_getsid", "tail_target"],
    &["inner_a", "inner_b", "outer", "jump_table", "per_tgid"],
);

/// Checks that a loaded skeleton has the programs and maps its source declares, by name.
fn assert_has(skel: &LoadedSkeleton, (progs, maps): Names) {
    eprintln!(
        "{} on {}: protocol {}, {} programs, {} maps",
        skel.name(),
        test_kernel(),
        skel.protocol(),
        skel.prog_count(),
        skel.map_count()
    );
    for p in progs {
        let i = skel
            .prog_index(p)
            .unwrap_or_else(|| panic!("{}: program {p} missing", skel.name()));
        assert!(
            skel.prog_fd(i).is_some(),
            "{}: program {p} has no fd",
            skel.name()
        );
    }
    for m in maps {
        let i = skel
            .map_index(m)
            .unwrap_or_else(|| panic!("{}: map {m} missing", skel.name()));
        assert!(
            skel.map_fd(i).is_some(),
            "{}: map {m} has no fd",
            skel.name()
        );
    }
    // The unsigned loader on the host; on each signing kernel the signed loader of its protocol
    // (these objects also embed the unsigned one: it must never be picked there).
    let expected = protocol().unwrap_or_else(|| match test_kernel().as_str() {
        "6.18.15" => Protocol::P1,
        "7.2.13" => Protocol::P1b,
        "7.3.4" => Protocol::P2,
        other => panic!("unknown test kernel {other}"),
    });
    assert_eq!(skel.protocol(), expected, "{}", skel.name());
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_userlike_tp_ringbuf_loads() {
    assert_no_leak("tp_ringbuf", || {
        let skel = load!(tp_ringbuf::TpRingbuf).expect("load tp_ringbuf");
        assert_has(skel.inner(), TP_RINGBUF);
    });
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_userlike_kprobe_core_loads() {
    assert_no_leak("kprobe_core", || {
        let skel = load!(kprobe_core::KprobeCore).expect("load kprobe_core");
        assert_has(skel.inner(), KPROBE_CORE);
    });
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_userlike_net_counters_loads() {
    assert_no_leak("net_counters", || {
        let skel = load!(net_counters::NetCounters).expect("load net_counters");
        assert_has(skel.inner(), NET_COUNTERS);
    });
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_userlike_tracing_iter_loads() {
    assert_no_leak("tracing_iter", || {
        let Some(skel) = trampoline_load("tracing_iter", load!(tracing_iter::TracingIter)) else {
            return;
        };
        assert_has(skel.inner(), TRACING_ITER);
    });
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_userlike_lsm_tp_loads() {
    assert_no_leak("lsm_tp", || {
        let Some(skel) = trampoline_load("lsm_tp", load!(lsm_tp::LsmTp)) else {
            return;
        };
        assert_has(skel.inner(), LSM_TP);
    });
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_userlike_mapinmap_loads() {
    assert_no_leak("mapinmap", || {
        let skel = load!(mapinmap::Mapinmap).expect("load mapinmap");
        assert_has(skel.inner(), MAPINMAP);
    });
}

/// Four of the objects compiled with GCC ≥ 14 (cfg `userlike_gcc`; build.rs says why not the
/// other two): they must load as the clang builds do.
#[cfg(userlike_gcc)]
mod gcc_builds {
    use super::*;
    use bpfsign_userlike_tests::gcc;

    #[test]
    #[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
    fn kernel_userlike_gcc_tp_ringbuf_loads() {
        assert_no_leak("tp_ringbuf (gcc)", || {
            let skel = load!(gcc::tp_ringbuf::TpRingbufGcc).expect("load tp_ringbuf (gcc)");
            assert_has(skel.inner(), TP_RINGBUF);
        });
    }

    #[test]
    #[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
    fn kernel_userlike_gcc_kprobe_core_loads() {
        assert_no_leak("kprobe_core (gcc)", || {
            let skel = load!(gcc::kprobe_core::KprobeCoreGcc).expect("load kprobe_core (gcc)");
            assert_has(skel.inner(), KPROBE_CORE);
        });
    }

    #[test]
    #[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
    fn kernel_userlike_gcc_net_counters_loads() {
        assert_no_leak("net_counters (gcc)", || {
            let skel = load!(gcc::net_counters::NetCountersGcc).expect("load net_counters (gcc)");
            assert_has(skel.inner(), NET_COUNTERS);
        });
    }

    #[test]
    #[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
    fn kernel_userlike_gcc_lsm_tp_loads() {
        assert_no_leak("lsm_tp (gcc)", || {
            let Some(skel) = trampoline_load("lsm_tp (gcc)", load!(gcc::lsm_tp::LsmTpGcc)) else {
                return;
            };
            assert_has(skel.inner(), LSM_TP);
        });
    }
}
