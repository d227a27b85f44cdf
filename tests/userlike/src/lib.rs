//! Six BPF objects written the way a tool author would write them (vmlinux.h-style CO-RE,
//! libbpf section and map conventions), compiled by `build.rs` with
//! `bpfsign_build::BpfCompiler` and embedded here with `include_signed_skel!` — the user's path
//! through bpfsign, end to end. The kernel tests load them (`tests/userlike.rs`) and attach
//! and drive them (`tests/functional.rs`) on the signing kernels (signed, certificate A in a
//! session keyring) and on the host (unsigned loader).
//!
//! | module | object | what it exercises |
//! |---|---|---|
//! | [`tp_ringbuf`] | `tp_ringbuf.bpf.c` | tracepoint, ring buffer, `.rodata` filter |
//! | [`kprobe_core`] | `kprobe_core.bpf.c` | kprobe, CO-RE reads, hash map, BPF-to-BPF call |
//! | [`net_counters`] | `net_counters.bpf.c` | xdp, tc, per-CPU array, global function |
//! | [`tracing_iter`] | `tracing_iter.bpf.c` | fentry/fexit, task iterator, kfuncs, typed ksym |
//! | [`lsm_tp`] | `lsm_tp.bpf.c` | lsm, lsm.s, raw_tp, tp_btf |
//! | [`mapinmap`] | `mapinmap.bpf.c` | map-in-map (static init), prog_array tail call, LRU hash, `.data.*`/`.rodata.*`, bpf_loop |
//!
//! Every module is wrapped in `#[allow(deprecated)]`: the workspace signs with the TEST-ONLY
//! key A, which bpfsign reports as a `deprecated` warning at the macro call.

/// Tracepoint + ring buffer + `.rodata` filter (`bpf/tp_ringbuf.bpf.c`).
#[allow(deprecated)]
pub mod tp_ringbuf {
    bpfsign_macros::include_signed_skel!(
        "tp_ringbuf.bpf.o",
        key = env!("BPF_KEY"),
        allow_unsigned = true
    );
}

/// kprobe + CO-RE + hash map + subprogram (`bpf/kprobe_core.bpf.c`).
#[allow(deprecated)]
pub mod kprobe_core {
    bpfsign_macros::include_signed_skel!(
        "kprobe_core.bpf.o",
        key = env!("BPF_KEY"),
        allow_unsigned = true
    );
}

/// xdp + tc + per-CPU array + global function (`bpf/net_counters.bpf.c`).
#[allow(deprecated)]
pub mod net_counters {
    bpfsign_macros::include_signed_skel!(
        "net_counters.bpf.o",
        key = env!("BPF_KEY"),
        allow_unsigned = true
    );
}

/// fentry/fexit + task iterator + kfuncs + typed ksym (`bpf/tracing_iter.bpf.c`).
#[allow(deprecated)]
pub mod tracing_iter {
    bpfsign_macros::include_signed_skel!(
        "tracing_iter.bpf.o",
        key = env!("BPF_KEY"),
        allow_unsigned = true
    );
}

/// lsm + lsm.s + raw_tp + tp_btf (`bpf/lsm_tp.bpf.c`).
#[allow(deprecated)]
pub mod lsm_tp {
    bpfsign_macros::include_signed_skel!(
        "lsm_tp.bpf.o",
        key = env!("BPF_KEY"),
        allow_unsigned = true
    );
}

/// Map-in-map with static init + prog_array tail call + LRU hash + custom `.data.*`/`.rodata.*`
/// + bpf_loop (`bpf/mapinmap.bpf.c`).
#[allow(deprecated)]
pub mod mapinmap {
    bpfsign_macros::include_signed_skel!(
        "mapinmap.bpf.o",
        key = env!("BPF_KEY"),
        allow_unsigned = true
    );
}

/// Four of the objects compiled with GCC (`bpf-unknown-none-gcc` ≥ 14): present when
/// `build.rs` found one (`$BPFSIGN_GCC_BPF` or the vmtest cache), cfg `userlike_gcc`. Why
/// `tracing_iter` and `mapinmap` are not built with GCC: see build.rs.
#[cfg(userlike_gcc)]
pub mod gcc {
    /// Tracepoint + ring buffer + `.rodata` filter, GCC build.
    #[allow(deprecated)]
    pub mod tp_ringbuf {
        bpfsign_macros::include_signed_skel!(
            "tp_ringbuf_gcc.bpf.o",
            key = env!("BPF_KEY"),
            allow_unsigned = true
        );
    }
    /// kprobe + CO-RE + hash map + subprogram, GCC build.
    #[allow(deprecated)]
    pub mod kprobe_core {
        bpfsign_macros::include_signed_skel!(
            "kprobe_core_gcc.bpf.o",
            key = env!("BPF_KEY"),
            allow_unsigned = true
        );
    }
    /// xdp + tc + per-CPU array + global function, GCC build.
    #[allow(deprecated)]
    pub mod net_counters {
        bpfsign_macros::include_signed_skel!(
            "net_counters_gcc.bpf.o",
            key = env!("BPF_KEY"),
            allow_unsigned = true
        );
    }
    /// lsm + lsm.s + raw_tp + tp_btf, GCC build.
    #[allow(deprecated)]
    pub mod lsm_tp {
        bpfsign_macros::include_signed_skel!(
            "lsm_tp_gcc.bpf.o",
            key = env!("BPF_KEY"),
            allow_unsigned = true
        );
    }
}
