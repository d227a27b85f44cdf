//! Compiles every `bpf/*.bpf.c` into `$OUT_DIR/<name>.bpf.o` with the build.rs helper, the way a
//! user's build script does (`bpf/` is also an include directory for shared headers);
//! `include_signed_skel!` in `src/` signs and embeds them.

use std::path::Path;

fn main() {
    let dir = Path::new("bpf");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut sources: Vec<_> = std::fs::read_dir(dir)
        .expect("read tests/functional/bpf")
        .map(|e| e.expect("read tests/functional/bpf").path())
        .filter(|p| p.to_str().is_some_and(|s| s.ends_with(".bpf.c")))
        .collect();
    sources.sort();
    for source in sources {
        if let Err(e) = bpfsign_build::BpfCompiler::new(&source)
            .include(dir)
            .compile()
        {
            eprintln!("{}: {e}", source.display());
            std::process::exit(1);
        }
    }
}
