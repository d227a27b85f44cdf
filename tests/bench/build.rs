//! Compiles example-hello's BPF program (the same source, the same builder call) into
//! `$OUT_DIR/hello.bpf.o`, so the bench loads exactly what example-hello loads.

fn main() {
    let source = "../../example-hello/src/bpf/hello.bpf.c";
    if let Err(e) = bpfsign_build::compile(source) {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
