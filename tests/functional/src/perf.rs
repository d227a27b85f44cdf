//! Skeletons for the perf-event and multi-link attach kinds (`tests/attach_perf.rs`):
//! `perf_kprobe.bpf.c` (kprobe, kretprobe, ksyscall, kretsyscall), `perf_kmulti.bpf.c`
//! (kprobe.multi, kretprobe.multi), `perf_uprobe.bpf.c` (uprobe, uretprobe, uprobe.multi,
//! uretprobe.multi on the test executable) and `perf_tp.bpf.c` (a tracepoint and a
//! perf_event program), each counting hits in `.bss`.

#[allow(deprecated)]
mod kprobe {
    bpfsign_macros::include_signed_skel!(
        "perf_kprobe.bpf.o",
        key = env!("BPF_KEY"),
        allow_unsigned = true
    );
}

#[allow(deprecated)]
mod kmulti {
    bpfsign_macros::include_signed_skel!(
        "perf_kmulti.bpf.o",
        key = env!("BPF_KEY"),
        allow_unsigned = true
    );
}

#[allow(deprecated)]
mod uprobe {
    bpfsign_macros::include_signed_skel!(
        "perf_uprobe.bpf.o",
        key = env!("BPF_KEY"),
        allow_unsigned = true
    );
}

#[allow(deprecated)]
mod tp {
    bpfsign_macros::include_signed_skel!(
        "perf_tp.bpf.o",
        key = env!("BPF_KEY"),
        allow_unsigned = true
    );
}

pub use kmulti::*;
pub use kprobe::*;
pub use tp::*;
pub use uprobe::*;
