//! Compiles example-hello's BPF program (the same source, the same builder call) into
//! `$OUT_DIR/hello.bpf.o`, so the bench loads exactly what example-hello loads.
//!
//! The source is found from the repository root: the nearest ancestor of this crate's directory
//! holding `example-hello`, so that the copy of this crate that `cargo package` verifies in
//! `target/package/` builds the same program.

use std::path::{Path, PathBuf};

/// example-hello's BPF source, relative to the repository root.
const SOURCE: &str = "example-hello/src/bpf/hello.bpf.c";

fn main() {
    if let Err(e) = source().and_then(|s| bpfsign_build::compile(s).map_err(|e| e.to_string())) {
        eprintln!("bpfsign-bench build script: {e}");
        std::process::exit(1);
    }
}

/// `SOURCE` in the nearest ancestor of `$CARGO_MANIFEST_DIR` that has it.
fn source() -> Result<PathBuf, String> {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .ok_or("CARGO_MANIFEST_DIR is not set (not run by cargo?)")?;
    manifest
        .ancestors()
        .map(|dir| dir.join(SOURCE))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "no {SOURCE} at or above {}: this crate benchmarks example-hello's program and \
                 builds only inside a checkout of the repository",
                Path::new(&manifest).display()
            )
        })
}
