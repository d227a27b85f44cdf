//! Compiles the six BPF objects into `$OUT_DIR/<name>.bpf.o` with the build.rs helper, as a
//! user's build script does: `bpf/include` holds `vmlinux.h` (dumped from the BTF of a 6.18
//! kernel) and the header shared by the objects. `include_signed_skel!` in `src/lib.rs` signs
//! and embeds them.
//!
//! When a GCC ≥ 14 BPF compiler is found (`$BPFSIGN_GCC_BPF`, as for `cargo vmtest`, else the
//! vmtest cache), the objects GCC builds correctly are compiled with it too, into
//! `<name>_gcc.bpf.o`, and the `userlike_gcc` cfg turns on their modules in `src/lib.rs`
//! (`gcc::*`). Without GCC they are left out, with a warning.
//!
//! Two objects are not built with GCC, for GCC's reasons (bpf-gcc 14.2), not bpfsign's:
//! - `tracing_iter`: GCC ignores `vmlinux.h`'s `#pragma clang attribute push
//!   (preserve_access_index)`, so the direct BTF-pointer read `rq->cpu` is compiled at the
//!   dump host's offset instead of being CO-RE relocated; 6.18.15's verifier then refuses it
//!   ("cannot access ptr member rb_left … in struct rb_node", EACCES), and on other kernels it
//!   may read the wrong field.
//! - `mapinmap`: the statically initialised array-of-maps cannot be filled — libbpf's own loader
//!   (bpftool prog loadall) fails the same way ("failed to initialize slot [0] to map
//!   'inner_a': -EINVAL") on GCC's object.

use bpfsign_build::{BpfCompiler, Compiler};

const OBJECTS: &[&str] = &[
    "tp_ringbuf",
    "kprobe_core",
    "net_counters",
    "tracing_iter",
    "lsm_tp",
    "mapinmap",
];

/// The objects compiled with GCC too (see the module doc for the two left out).
const GCC_OBJECTS: &[&str] = &["tp_ringbuf", "kprobe_core", "net_counters", "lsm_tp"];

const GCC_ENV: &str = "BPFSIGN_GCC_BPF";
/// Where `cargo vmtest fetch-gcc-bpf` puts GCC, relative to this crate.
const GCC_CACHE: &str = "../vmtest/cache/gcc-bpf/bin/bpf-unknown-none-gcc";

fn compile(builder: &BpfCompiler) {
    if let Err(e) = builder.compile() {
        // The compiler's diagnostics as they are, without a backtrace.
        eprintln!("{e}");
        std::process::exit(1);
    }
}

fn main() {
    println!("cargo:rustc-check-cfg=cfg(userlike_gcc)");
    println!("cargo:rerun-if-env-changed={GCC_ENV}");
    for name in OBJECTS {
        let source = format!("bpf/{name}.bpf.c");
        compile(BpfCompiler::new(&source).include("bpf/include"));
    }
    // `$BPFSIGN_GCC_BPF`, else the project's cache (filled by `cargo vmtest fetch-gcc-bpf`).
    let cached = std::path::Path::new(GCC_CACHE);
    // Watched only once it exists: a missing path would rerun this script (six compiles and
    // signatures) on every build; `$BPFSIGN_GCC_BPF` is watched above.
    if cached.is_file() {
        println!("cargo:rerun-if-changed={}", cached.display());
    }
    let gcc = std::env::var_os(GCC_ENV)
        .filter(|g| !g.is_empty())
        .or_else(|| cached.is_file().then(|| cached.as_os_str().to_owned()));
    match gcc {
        Some(gcc) if std::path::Path::new(&gcc).is_file() => {
            for name in GCC_OBJECTS {
                let source = format!("bpf/{name}.bpf.c");
                compile(
                    BpfCompiler::new(&source)
                        .include("bpf/include")
                        .compiler(Compiler::Gcc(gcc.clone().into()))
                        .object_name(format!("{name}_gcc")),
                );
            }
            println!("cargo:rustc-cfg=userlike_gcc");
        }
        _ => println!(
            "cargo:warning=the GCC builds of the userlike objects are left out: set {GCC_ENV} \
             to a bpf-unknown-none-gcc ≥ 14 or run `cargo vmtest fetch-gcc-bpf`"
        ),
    }
}
