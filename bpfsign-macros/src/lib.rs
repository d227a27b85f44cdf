//! `include_signed_skel!`: embeds a signed BPF light skeleton in a Rust crate.
//!
//! This crate is a thin shell: parsing, signing and code generation live in
//! [`bpfsign_macros_core`], where they are unit-tested.

use proc_macro::TokenStream;

/// Embeds a BPF object as a signed light skeleton and generates a typed API for it.
///
/// ```no_run
/// // In a crate whose build.rs compiled src/bpf/hello.bpf.c into $OUT_DIR/hello.bpf.o:
/// // bpfsign_macros::include_signed_skel!("hello.bpf.o", key = env!("BPF_KEY"));
/// # bpfsign_macros::include_signed_skel!(
/// #     concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/obj/hello.bpf.o"),
/// #     key = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/keys/TEST-ONLY-key-a.pem"),
/// # );
/// use bpfsign_runtime::Keyring;
///
/// let skel = Hello::builder().keyring(Keyring::Session).load()?;
/// skel.bss_vars()?.prog_A.store(1); // globals change after load, through the mmapped .bss
/// let links = skel.attach()?; // detached when `links` is dropped
/// let now = skel.read_bss()?.prog_A; // a volatile copy: sees what the program stores
/// # let _ = now;
/// # drop(links);
/// # Ok::<(), bpfsign_runtime::Error>(())
/// ```
///
/// The first argument is the object (`.bpf.o`, looked up in `$OUT_DIR`, then relative to
/// `$CARGO_MANIFEST_DIR`) or an already signed artifact (`.skel` from build.rs or
/// `bpfsign gen`). Further arguments:
///
/// * `key = …` — PEM file with the signing key and certificate; the object is signed during
///   compilation for every kernel signing protocol (or those of `protocols`). The key never
///   reaches the binary.
/// * `cert = …` — the certificate, when `key` holds only the key, or with `signature`; alone,
///   with `$BPFSIGN_SIGNER="cmd … {payload} … {out}"` set, an external command signs each
///   payload (run without a shell) and its signatures are verified with `cert`.
/// * `signature = "P"` — offline signatures `P.p1.sig`, `P.p1b.sig`, `P.p2.sig` (detached DER
///   PKCS#7 over the payloads `bpfsign payload` writes), verified against `cert` while
///   compiling; a certificate carried inside a signature is never trusted.
/// * `name = "Hello"` — the generated type name (default: the object name in CamelCase).
/// * `allow_unsigned = true` — also embed the unsigned loader, and accept loader variants
///   without a signature: an object without `key`, missing offline signature files, an unsigned
///   or partially signed artifact. Off by default: the binary then has no unsigned loader
///   (`BPFSIGN_PROTOCOL=unsigned` fails at run time with `ErrorKind::ProtocolNotEmbedded`), and
///   an unfinished offline signing is a compile error naming the missing protocols and the
///   `bpfsign payload` / `bpfsign attach-sig` commands that complete it.
/// * `protocols = [p1b, p2]` — embed only these signed protocols' loaders (idents or strings
///   of `p1`, `p1b`, `p2`; default all three). A kernel of a protocol left out fails to load
///   with `ErrorKind::ProtocolNotEmbedded` (a P1b kernel uses an embedded P1 loader if there
///   is no P1b one).
/// * Build configuration (objects only; signed with everything else, so it is what the
///   kernel loads): `rodata = { target_pid: 42, threshold: 7u64, name: "abc" }`,
///   `data = { … }`, `bss = { … }` (initial values of the variables of those sections, named
///   as in C; a variable of another section is an error) or `globals = { … }` (any section);
///   `max_entries = { events: 1 << 20 }` (BTF-defined maps); `kconfig = { CONFIG_HZ: 250,
///   CONFIG_X: y, CONFIG_S: "str" }`; `kernel_version = "6.18.0"` (`LINUX_KERNEL_VERSION`);
///   `page_size = 4096` (ring buffer rounding); `cpus = 8` (perf event arrays declared with
///   `max_entries` 0). Values: integer literals and constant expressions of them (`-`, `+`, `*`,
///   `<<`, `>>`, `|`, `&`), `true`/`false`, strings for `char` arrays (NUL-terminated, zero
///   padded) and byte strings (exactly the variable's size). Each value is checked against the
///   object's BTF (unknown names, integers out of the type's range, sizes): the compile error
///   points at the name or value.
///
/// Strings may be literals, `env!("VAR")` or `concat!(…)`. Changing the object, the key, the
/// certificate, a signature or a named environment variable rebuilds the crate.
///
/// Every embedded artifact is verified while compiling (signatures over each protocol's
/// payload, exclusive-map hashes, the P1/P1b blob hash), and its names must be C identifiers:
/// a tampered or hostile `.skel` is a compile error. Signing with a `TEST-ONLY` certificate or
/// a private key file others can read gives a `deprecated` lint warning on every build (an
/// error under `-D warnings`; allow it knowingly with `#[allow(deprecated)]` on a module
/// around the call).
///
/// Accessors of the loaded skeleton return `Result` instead of panicking. Globals the BPF
/// programs write (`.bss`, `.data`) are accessed per variable (`bss_vars()?.x.load()` /
/// `.store(v)`: atomic for naturally aligned integers, volatile copies otherwise) or copied
/// whole (`read_bss()`, volatile reads); the reference views `bss()` / `bss_mut()` are
/// `unsafe fn`s, because a program's store while the reference lives is a data race.
/// `rodata()` is a safe `&Rodata`: the section is frozen and read-only for everyone.
///
/// The expansion refers to `::bpfsign_runtime`, so the crate needs `bpfsign-runtime` as a
/// dependency. See [`bpfsign_macros_core`] for the full description of the output.
#[proc_macro]
pub fn include_signed_skel(input: TokenStream) -> TokenStream {
    bpfsign_macros_core::expand(input.into()).into()
}
