//! bpfsign-build: the `build.rs` helper of bpfsign (cxx-build / prost-build style).
//!
//! It compiles BPF C with clang or `bpf-unknown-none-gcc` ≥ 14 into `$OUT_DIR/<name>.bpf.o`,
//! which `bpfsign_macros::include_signed_skel!` then signs and embeds; or, with
//! [`BpfCompiler::signed_artifact`], signs it here and writes `$OUT_DIR/<name>.skel` (with the
//! P1, P1b and P2 loaders, or those of [`BpfCompiler::protocols`]; the unsigned loader only
//! with [`BpfCompiler::allow_unsigned`]).
//!
//! [`BpfCompiler`] picks the compiler (`$BPFSIGN_CC`, else the first clang, else GCC), adds the
//! flags a BPF object needs (`-target bpf`, `-g` for BTF, `-D__TARGET_ARCH_<arch>`, libbpf
//! include dirs), prints `cargo:rerun-if-changed` for the source and every header the compiler
//! read, and writes outputs only when their bytes changed, so an unchanged build does not
//! cascade. [`compile()`] is the one-call shortcut.
//!
//! ```no_run
//! // build.rs, in `fn main()`:
//! if let Err(e) = bpfsign_build::compile("src/bpf/hello.bpf.c") {
//!     eprintln!("{e}"); // the compiler's diagnostics, verbatim
//!     std::process::exit(1);
//! }
//! ```
//!
//! Public API: [`BpfCompiler`], [`compile()`], [`Compiled`], [`Compiler`], [`CompileError`],
//! [`ResolvedCompiler`], the helpers [`resolve_compiler`], [`parse_depfile`],
//! [`target_arch_define`], [`write_if_changed`], [`COMPILER_ENV`], and — re-exported from
//! `bpfsign-gen` for build scripts that sign or inspect — [`Signer`], [`GenOptions`],
//! [`Artifact`], [`Protocol`], [`BuildError`].
#![forbid(unsafe_code)]

mod compiler;
mod config;

pub use bpfsign_gen::{Artifact, BuildError, GenOptions, Protocol, Signer};
pub use compiler::{
    parse_depfile, resolve_compiler, target_arch_define, write_if_changed, BpfCompiler,
    CompileError, Compiled, Compiler, ResolvedCompiler, COMPILER_ENV,
};

/// Compiles `source` with the default settings: the one-call form of
/// `BpfCompiler::new(source).compile()`.
pub fn compile(source: impl Into<std::path::PathBuf>) -> Result<Compiled, CompileError> {
    BpfCompiler::new(source).compile()
}

/// The builder under its earlier name, for build scripts written against bpfsign 0.1's first
/// layout (`bpfsign_build::compile::Skeleton::new(src).compile()`).
pub mod compile {
    /// Earlier name of [`BpfCompiler`](crate::BpfCompiler).
    #[deprecated(note = "renamed to `bpfsign_build::BpfCompiler`")]
    pub type Skeleton = crate::BpfCompiler;
}

#[cfg(test)]
mod tests {
    /// Build scripts written against the earlier name still compile and configure the builder.
    #[test]
    #[allow(deprecated)]
    fn earlier_builder_name_still_works() {
        let mut b = super::compile::Skeleton::new("src/bpf/x.bpf.c");
        b.include("include").object_name("x");
        assert_eq!(
            format!("{b:?}"),
            format!("{:?}", {
                let mut n = super::BpfCompiler::new("src/bpf/x.bpf.c");
                n.include("include").object_name("x");
                n
            })
        );
    }
}
