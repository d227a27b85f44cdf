//! Compiles the BPF program into `$OUT_DIR/hello.bpf.o`; `include_signed_skel!` signs it.

fn main() {
    if let Err(e) = bpfsign_build::compile("src/bpf/hello.bpf.c") {
        // Print the compiler's diagnostics (or what to install) as they are, without a backtrace.
        eprintln!("{e}");
        std::process::exit(1);
    }
}
