//! Compiles the six BPF objects into `$OUT_DIR/<name>.bpf.o` with the build.rs helper, as a
//! user's build script does: `bpf/include` holds `vmlinux.h` (dumped from the BTF of a 6.18
//! kernel) and the header shared by the objects. `include_signed_skel!` in `src/lib.rs` signs
//! and embeds them.

const OBJECTS: &[&str] = &[
    "bpf/tp_ringbuf.bpf.c",
    "bpf/kprobe_core.bpf.c",
    "bpf/net_counters.bpf.c",
    "bpf/tracing_iter.bpf.c",
    "bpf/lsm_tp.bpf.c",
    "bpf/mapinmap.bpf.c",
];

fn main() {
    for source in OBJECTS {
        if let Err(e) = bpfsign_build::BpfCompiler::new(source)
            .include("bpf/include")
            .compile()
        {
            // The compiler's diagnostics as they are, without a backtrace.
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
