//! The logic behind `bpfsign_macros::include_signed_skel!`, as a library (sqlx-macros style):
//! the proc-macro crate only forwards its tokens to [`expand`].
//!
//! # Macro input
//!
//! ```text
//! include_signed_skel!("hello.bpf.o", key = env!("BPF_KEY"))             // sign while compiling
//! include_signed_skel!("hello.bpf.o", key = "keys/dev.pem", name = "Greeter")
//! include_signed_skel!("hello.bpf.o", key = "dev.key", cert = "dev.crt")  // key without cert
//! include_signed_skel!("hello.bpf.o", cert = "dev.crt", signature = "sig/hello") // offline
//! include_signed_skel!("hello.bpf.o", cert = "hsm.crt")   // signed by $BPFSIGN_SIGNER
//! include_signed_skel!("hello.skel")                                     // artifact from build.rs / `bpfsign gen`
//! include_signed_skel!("hello.skel", allow_unsigned = true)              // + the unsigned loader
//! include_signed_skel!("hello.bpf.o", key = env!("BPF_KEY"), protocols = [p1b, p2])
//! ```
//!
//! Every string argument may be a literal, `env!("VAR")` or `concat!(…)` of those. `env!` is
//! evaluated from the compiler's environment (cargo's `[env]` table included) and repeated in
//! the expansion as `const _: &str = env!("VAR");`, so changing the variable rebuilds the crate.
//!
//! * **Path** — the first argument. A relative path is looked up in `$OUT_DIR` (where
//!   `bpfsign_build` writes objects), then relative to `$CARGO_MANIFEST_DIR`. The file
//!   is either a BPF object (ELF; needs `key` or `cert` + `signature`) or a bpfsign artifact
//!   written by [`bpfsign_gen::artifact::Artifact::write_if_changed`] or `bpfsign gen`, which is
//!   already signed (no other argument allowed but `name` and `allow_unsigned`).
//! * **`key`** — a PEM file with the private key and, unless `cert` is given, the X.509
//!   certificate (the `openssl req -x509 -keyout K -out K` recipe writes both in one file).
//!   The object is turned into a light skeleton and signed during macro expansion; the key
//!   never reaches the expansion or the binary (the file is only referenced by an unused
//!   `let _ = include_bytes!(…)` in a function that is never called, so rustc tracks it without
//!   storing its bytes in the crate metadata or the incremental cache).
//! * **`cert` + `signature`** — offline signing (HSM): `signature` is a path *prefix* `P`; the
//!   files `P.p1.sig`, `P.p1b.sig` and `P.p2.sig` hold detached DER CMS signatures of each
//!   protocol's payload. Each is verified at expansion time against `cert` alone, as
//!   [`bpfsign_gen::artifact::Artifact::attach_signature`] does: a certificate carried inside a
//!   signature is never trusted, so a signature by another key is a compile error, not a
//!   binary the kernel refuses. Making the signatures, for each protocol `p` of `p1`, `p1b`,
//!   `p2`:
//!
//!   ```text
//!   bpfsign gen hello.bpf.o --unsigned -o hello.skel      # same object, default options
//!   bpfsign payload hello.skel --protocol p -o hello.p.bin
//!   openssl cms -sign -binary -noattr -nocerts -nosmimecap -keyid -md sha256 \
//!       -signer CERT -inkey KEY -in hello.p.bin -outform DER -out P.p.sig   # or the HSM
//!   ```
//!
//!   The macro regenerates the same unsigned loaders from the object (the generator is
//!   deterministic; `bpfsign gen` must run on an object of the same file name and without
//!   `--name`/`--kconfig`/`--ksym-addr`/… options, which
//!   the macro does not take). Alternatively finish the artifact itself with
//!   `bpfsign attach-sig hello.skel --protocol p --sig P.p.sig --cert CERT` for each protocol
//!   and embed `hello.skel`.
//! * **`cert` alone + `$BPFSIGN_SIGNER`** — an external signer (HSM tool, signing service):
//!   `BPFSIGN_SIGNER="cmd … {payload} … {out}"` in the compiler's environment. For each
//!   protocol the payload is written to a private temporary file, `{payload}` and `{out}` are
//!   replaced by the paths, and the command must write the detached DER CMS signature to
//!   `{out}`; each signature is then verified with `cert`. The command is split with POSIX
//!   shell quoting rules and run without a shell, so a path is always exactly one argument and
//!   nothing is expanded ([`bpfsign_gen::sign::ExternalSigner`]). A failing command, no
//!   output or a signature by another key is a compile error quoting the command's stderr.
//! * **`allow_unsigned = true`** — also embed the **unsigned loader**, and accept loader
//!   variants without a signature: an object without `key`/`cert`/`signature`, missing
//!   offline signature files, an unsigned or partially signed artifact
//!   ([`bpfsign_gen::artifact::Artifact::missing_signatures`]). Off by default, and then the
//!   unsigned loader is neither generated nor embedded (an artifact's unsigned variant is
//!   dropped): the binary loads only with a signature, and `BPFSIGN_PROTOCOL=unsigned` or
//!   `Protocol::Unsigned` fail at run time with `ErrorKind::ProtocolNotEmbedded`. Embedding an
//!   artifact whose offline signing is unfinished is a compile error that names the missing
//!   protocols and the `bpfsign payload` / `bpfsign attach-sig` commands. With the flag, the
//!   runtime refuses a variant without a signature when it picks that protocol, and
//!   `BPFSIGN_PROTOCOL=unsigned` loads the unsigned loader where the kernel does not enforce
//!   signatures.
//! * **`protocols = [p1b, p2]`** — the signed protocols whose loaders are embedded (a
//!   bracketed list of `p1`, `p1b`, `p2`, as idents or strings; default all three). For an
//!   object only those loaders are generated (and signed); an artifact's other variants are
//!   dropped, and a listed protocol the artifact lacks is a compile error. A kernel whose
//!   protocol is not embedded fails to load with `ErrorKind::ProtocolNotEmbedded`, except that
//!   a P1b kernel uses an embedded P1 loader when there is no P1b one (see the README's
//!   Security section for the P1 trade-off). The unsigned loader is not a protocol here: it
//!   comes only with `allow_unsigned = true`.
//! * **`name`** — the skeleton's type name (default: the object name in CamelCase, `hello` →
//!   `Hello`).
//!
//! # Output
//!
//! For type name `Hello`: a module `hello_skel` holding everything, with `Hello`,
//! `HelloBuilder`, `LoadedHello`, `HelloProgs`, `HelloMaps` and `HelloLinks` re-exported at
//! the call site; `hello_skel::types` holds the `#[repr(C)]` global-data layouts (`Bss`,
//! `Data`, `Rodata`, …; all `Copy`, implementing `bpfsign_runtime::Plain`). The code
//! refers to the runtime as `::bpfsign_runtime`: the calling crate must depend on
//! `bpfsign-runtime` (not renamed).
//!
//! `progs()` returns `HelloProgs` (no `Result`: `load()` checked once that every loaded
//! program has an fd): one `bpfsign_runtime::Program` per program (fd, section, `attach()` and
//! the per-kind attach methods); programs with autoload off (`SEC("?...")`) are
//! `Option<Program>` fields, always `None`, with no `attach_<name>()` and no link (the signed
//! loader never loads them; the type docs list them). `maps()` returns the map fds as
//! `Result<HelloMaps, _>`. Nothing in the generated code panics.
//!
//! Per mmapable section `s`: `s()` → `Result<&S, _>`,
//! `s_mut()` → `Result<&mut S, _>` (writable sections only) and `read_s()` → `Result<S, _>`, a
//! copy made with volatile reads. The references alias memory the BPF programs write
//! concurrently (as libbpf-rs skeletons do): use them briefly, and poll changing values through
//! `read_s()`.
//!
//! Errors (unset variable, missing file, bad key, bad object, bad signature, bad arguments)
//! become `compile_error!` with what to do.
//!
//! # Checks of what is embedded
//!
//! Whatever made the artifact (signing here, build.rs, `bpfsign gen`, offline signatures), it
//! is verified before it is embedded, as `bpfsign verify` does
//! ([`bpfsign_gen::Artifact::verify`]): every signature over its protocol's payload (P2:
//! instructions ‖ data; P1/P1b: instructions) with the certificate it was signed with, every
//! `excl_prog_hash`, and the data-blob hash built into the P1/P1b loaders. A tampered artifact,
//! a signature of another protocol or an empty one is a compile error. The names that become
//! Rust identifiers (maps, programs, global-data sections and variables) must be C identifiers
//! of at most 511 bytes, distinct where they name fields of one struct; a hostile `.skel` is a
//! compile error, never a proc-macro panic.
//!
//! # Warnings
//!
//! Signing with (or embedding an artifact signed with) a certificate whose subject contains
//! `TEST-ONLY`, and signing with a private key file other users can read, give a warning on
//! every build. Stable Rust has no warning API for proc macros, so [`expand`] emits a
//! `#[deprecated(note = "bpfsign: …")]` item used inside a `const _: () = { … };`: rustc prints
//! `use of deprecated unit struct …: bpfsign: …` at the macro call. It is the `deprecated`
//! lint, so `-D warnings` makes it an error (on purpose: a CI with `-D warnings` does not ship a
//! binary signed with a test key unnoticed). To accept it knowingly, put the call in a module
//! with `#[allow(deprecated)]` (`#[allow]` on the macro call itself is ignored by rustc) and
//! `use` its items.
//!
//! # Public API
//!
//! * [`expand`] / [`expand_with`] — the whole macro: tokens in, items (or `compile_error!`) out.
//! * The steps, for tools and tests: [`MacroInput`] (parse with `syn`; its string arguments are
//!   [`StrArg`]s holding a [`StrExpr`]), [`resolve()`] with an [`EnvLookup`] ([`ProcessEnv`] in
//!   the compiler) → [`Resolved`], then [`generate_skeleton`] of a [`SkelCode`].
//! * [`spec_tokens`] — only the `::bpfsign_runtime::SkeletonSpec { .. }` expression of an
//!   artifact, with the bytes referenced as the macro's statics or as `include_bytes!` of files
//!   ([`SpecBytes`], [`ArtifactPart`]); build scripts use it to embed artifacts without the
//!   typed API.
//!
//! Everything else is private to the crate. The crate itself has no `unsafe` code; the
//! generated code has `unsafe` only where the global-data types implement `Default` (all-zero
//! bytes) and `bpfsign_runtime::Plain`, with the justification next to the tokens that emit it.

#![forbid(unsafe_code)]

mod check;
mod codegen;
mod input;
mod naming;
mod resolve;
mod select;
#[cfg(test)]
mod tests;

use proc_macro2::TokenStream;

pub use codegen::{generate_skeleton, spec_tokens, ArtifactPart, SkelCode, SpecBytes};
pub use input::{EnvLookup, MacroInput, ProcessEnv, StrArg, StrExpr};
pub use resolve::{resolve, Resolved};

/// Expands `include_signed_skel!` input with the process environment; failures become a
/// `compile_error!` invocation. The build warnings ([`Resolved::warnings`]) follow the items
/// as `deprecated` lint warnings ([`warning_tokens`]).
pub fn expand(input: TokenStream) -> TokenStream {
    let expanded = expand_resolved(input, &ProcessEnv).map(|(mut tokens, resolved)| {
        tokens.extend(warning_tokens(&resolved.warnings));
        tokens
    });
    match expanded {
        Ok(tokens) => tokens,
        Err(e) => e.to_compile_error(),
    }
}

/// Expands with an explicit environment (`CARGO_MANIFEST_DIR`, `OUT_DIR` and the variables
/// that `env!` arguments name are read from it): the skeleton's items, without the build
/// warnings (see [`expand`]).
pub fn expand_with(input: TokenStream, env: &dyn EnvLookup) -> syn::Result<TokenStream> {
    expand_resolved(input, env).map(|(tokens, _)| tokens)
}

/// The build warnings as compile warnings: per message, a `#[deprecated(note = "bpfsign: …")]`
/// item used inside a `const _: () = { … };`, so rustc reports `use of deprecated …` with the
/// message at the macro call. It is the `deprecated` lint: `-D warnings` makes it an error,
/// and `#[allow(deprecated)]` on an enclosing module (not on the macro call itself, which
/// rustc ignores) accepts it knowingly.
pub fn warning_tokens(messages: &[String]) -> TokenStream {
    check::warning_tokens(messages)
}

/// [`expand_with`] plus what was resolved.
fn expand_resolved(
    input: TokenStream,
    env: &dyn EnvLookup,
) -> syn::Result<(TokenStream, Resolved)> {
    let parsed = input::parse(input)?;
    let resolved = resolve(&parsed, env)?;
    let code = SkelCode {
        artifact: &resolved.artifact,
        type_name: resolved.type_name.clone(),
        origin: resolved.origin.clone(),
        tracked_files: resolved.tracked_files.clone(),
        tracked_env: resolved.tracked_env.clone(),
    };
    let tokens = generate_skeleton(&code).map_err(|msg| {
        parsed
            .path
            .error(format!("bpfsign: cannot generate the skeleton: {msg}"))
    })?;
    Ok((tokens, resolved))
}
