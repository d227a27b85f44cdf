//! Compiles example-hello's BPF program (the same source, the same builder call) into
//! `$OUT_DIR/hello.bpf.o`, so the bench loads exactly what example-hello loads.
//!
//! The source is found from the repository root, so the copy of this crate that
//! `cargo package` verifies in `target/package/` builds the same program.

fn main() {
    let source = match bpfsign_test_support::try_repo_root() {
        Ok(root) => root.join("example-hello/src/bpf/hello.bpf.c"),
        Err(e) => {
            eprintln!("bpfsign-bench build script: example-hello's hello.bpf.c: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = bpfsign_build::compile(source) {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
