//! bpfsign-gen: turns a compiled BPF object into a signed light skeleton, with no syscalls.
//!
//! Pipeline: parse → link → emit → meta → sign → artifact (compiling the object is
//! `bpfsign-build`'s job). The one-call shortcut is [`sign_object`] (what `bpfsign gen` does),
//! with one error type, [`BuildError`]:
//!
//! ```no_run
//! use bpfsign_gen::{sign_object, GenOptions, Signer};
//!
//! fn build() -> Result<(), bpfsign_gen::BuildError> {
//!     let signer = Signer::from_pem_file("keys/signing_key.pem")?;
//!     let artifact = sign_object("hello.bpf.o", Some(&signer), &GenOptions::default())?;
//!     artifact.write_if_changed("hello.skel")?;
//!     Ok(())
//! }
//! ```
//!
//! The steps one by one:
//!
//! ```no_run
//! let elf = std::fs::read("hello.bpf.o").unwrap();
//! let obj = bpfsign_gen::parse_object("hello.bpf.o", &elf).unwrap();
//! let out = bpfsign_gen::generate(&obj, &bpfsign_gen::GenOptions::default()).unwrap();
//! for (protocol, insns) in &out.loaders {
//!     println!("{protocol:?}: {} loader bytes, {} data bytes", insns.len(), out.data.len());
//! }
//! ```
//!
//! # Public API
//!
//! * One call: [`sign_object`] (or [`sign_object_for`] with a [`ProtocolSelection`]) →
//!   [`Artifact`], errors as [`BuildError`]; build inputs for [`GenOptions`]: [`read_kconfig`],
//!   [`parse_kconfig_assignment`], [`parse_kernel_version`], [`kernel_version`].
//! * Which loaders to embed: [`ProtocolSelection`] (default P1, P1b, P2; the unsigned loader
//!   only with [`ProtocolSelection::allow_unsigned`]), [`parse_protocol_list`],
//!   [`SelectionError`].
//! * Step by step: [`parse_object`] → [`Object`], [`generate_for`] (the selected loaders) or
//!   [`generate`] (all four) → [`Generated`] (or [`generate_with_config`] for one
//!   [`emit::LoaderConfig`]); errors as [`Error`] ([`ErrorKind`], [`Limit`], [`Stage`]).
//! * [`meta`]: the skeleton metadata ([`meta::SkeletonMeta`] and its parts, [`Protocol`]).
//! * [`sign`]: [`Signer`], [`Certificate`], [`sign::SignerDescription`], [`sign::SignerId`],
//!   [`sign::KeyAlgorithm`], [`sign::SignError`]; external signer commands
//!   ([`sign::ExternalSigner`], `$BPFSIGN_SIGNER`) and the build warnings about a signing key
//!   ([`sign::signing_warnings`]: TEST-ONLY certificates, readable key files).
//! * [`artifact`]: the `.skel` file ([`Artifact`], [`artifact::Variant`],
//!   [`artifact::ArtifactError`]), its verification as the kernel will check it
//!   ([`Artifact::verify`], [`artifact::VerifyError`]) and its helpers
//!   ([`artifact::signed_payload`], [`artifact::sha256`], [`artifact::protocol_name`], …).
//! * [`emit`]: [`emit::LoaderConfig`] and [`emit::CheckBlock`], to emit a loader other than
//!   the protocol's own (tests).
//! * [`insn`]: BPF instruction encoding ([`insn::Insn`], [`insn::decode`], [`insn::disasm`]),
//!   for tests and tools that inspect loaders.
//!
//! # Modules, lowest first
//!
//! `error`, `insn`, `options` ← `parse` ← `link` ← `emit` ← `meta` ← `pipeline` ← `artifact`
//! ← `api` (the one-call API); `sign` stands alone and is used by `artifact` and `api`. No
//! module uses one to its right (the `layering` test checks it). Shared kernel and loader
//! facts (command numbers, map/program types, the loader ctx layout, limits) come from
//! `bpfsign_abi`.
//!
//! # Byte-exactness and deliberate differences from bpftool
//!
//! The data blob and the P1b / P2 loaders are byte-identical to `bpftool gen skeleton -L -S`
//! of the kernel 7.2.13 / 7.3.4 bpftools, and the unsigned loader to `bpftool gen skeleton -L`
//! (7.3.4), for the objects bpfsign supports. Deliberate differences:
//!
//! * **P1 is hardened** (docs/protocol.md "Decisions" 2): bpfsign's P1 loader is its P1b loader without
//!   the `map->excl` check. It differs from bpftool-p1 (libbpf 1.7.0) in two places only: the
//!   check-block jumps land exactly on the cleanup label (1.7.0 lands one instruction late),
//!   and the run-time ctx cannot override `max_entries` / initial values.
//!   [`emit::LoaderConfig::bpftool_p1_compat`] reproduces bpftool-p1 for tests.
//! * **No build-host inputs** (docs/protocol.md "Decisions" 3): `.kconfig` values, `LINUX_KERNEL_VERSION`,
//!   typeless-ksym addresses, the CPU count for `PERF_EVENT_ARRAY` maps with `max_entries 0`
//!   and the page size for ring buffers come from [`GenOptions`], never from the build host.
//!   A strong typeless ksym without an address in [`GenOptions::ksym_addrs`] is accepted
//!   (the loader resolves it at run time; libbpf would fail if the build host lacked it).
//! * **Default object name** strips `.o` *and* `.bpf` (`hello.bpf.o` → `hello`); bpftool only
//!   strips `.o` (`hello_bpf`). Pass [`GenOptions::name`] to choose.
//! * **Map pinning** (`pinning = LIBBPF_PIN_BY_NAME`) is recorded but ignored; bpftool would
//!   try to reuse/pin maps on the build host.
//! * **Stricter input checks**: a corrupt `.BTF.ext` is an error (libbpf may ignore it), and a
//!   program section libbpf does not know is an error at generation time (libbpf fails later,
//!   at load).
//!
//! Not supported (typed [`ErrorKind::Unsupported`] errors): big-endian objects, struct_ops,
//! freplace, tracing multi-link programs, arena globals, jump tables, `.percpu` data,
//! prog arrays with `.values` initialisers, legacy `maps` sections.

#![forbid(unsafe_code)]

mod api;
pub mod artifact;
pub mod emit;
mod error;
pub mod insn;
mod link;
pub mod meta;
mod options;
mod parse;
mod pipeline;
pub mod sign;

pub use api::{
    kernel_version, parse_kconfig_assignment, parse_kernel_version, read_kconfig, sign_object,
    sign_object_for, BuildError,
};
pub use artifact::Artifact;
pub use error::{ConfigError, Error, ErrorKind, Limit, Stage};
pub use meta::Protocol;
pub use options::{
    parse_protocol_list, GenOptions, GlobalValue, ProtocolSelection, SelectionError,
};
pub use parse::Object;
pub use pipeline::{generate, generate_for, generate_with_config, parse_object, Generated};
pub use sign::{Certificate, Signer};
