//! Compiles the guard program into `$OUT_DIR/guard.bpf.o` and writes `$OUT_DIR/guard_macro.rs`,
//! the `signed_guard!` macro that hands that object (by absolute path) to `include_signed_skel!`
//! in the *user's* crate, so the guard is signed with the user's key at the user's build.

use std::path::PathBuf;

fn main() {
    if let Err(e) = bpfsign_build::compile("src/bpf/guard.bpf.c") {
        eprintln!("{e}");
        std::process::exit(1);
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let object = out.join("guard.bpf.o");
    let Some(object) = object.to_str() else {
        eprintln!("bpfsign-guard: OUT_DIR {} is not UTF-8", out.display());
        std::process::exit(1);
    };
    let text = format!(
        r#"/// Embeds the bpfsign guard program, signed with `key` (the same forms as
/// `include_signed_skel!`: a literal, `env!("VAR")` or `concat!(…)`), and evaluates to its
/// `&'static SkeletonSpec` for [`Guard::builder`]. The calling crate must depend on
/// `bpfsign-runtime` and `bpfsign-macros`.
///
/// ```text
/// let spec = bpfsign_guard::signed_guard!(key = env!("BPF_KEY"));
/// bpfsign_guard::Guard::builder(spec).install_pinned(bpfsign_guard::DEFAULT_PIN)?;
/// ```
#[macro_export]
macro_rules! signed_guard {{
    (key = $key:expr) => {{{{
        ::bpfsign_macros::include_signed_skel!({object:?}, key = $key, name = "BpfsignGuard");
        BpfsignGuard::spec()
    }}}};
}}
"#
    );
    let path = out.join("guard_macro.rs");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("bpfsign-guard: cannot write {}: {e}", path.display());
            std::process::exit(1);
        }
    }
}
