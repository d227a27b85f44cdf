//! Compiles the BPF program into `$OUT_DIR/execsnoop.bpf.o` (`src/bpf` is also an include
//! directory, for `execsnoop.h`); `include_signed_skel!` in `main.rs` signs it.

fn main() {
    if let Err(e) = bpfsign_build::BpfCompiler::new("src/bpf/execsnoop.bpf.c")
        .include("src/bpf")
        .compile()
    {
        // The compiler's diagnostics (or what to install) as they are, without a backtrace.
        eprintln!("{e}");
        std::process::exit(1);
    }
}
