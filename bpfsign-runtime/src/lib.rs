//! bpfsign-runtime: loads signed BPF light skeletons with raw `bpf(2)` syscalls — no libbpf, no
//! ELF parsing.
//!
//! Linux verifies BPF program signatures with one of three incompatible protocols (P1: 6.18.0-39,
//! 6.19, 7.0, 7.1.0-4; P1b: 7.2.y, 6.18.40+, 7.1.5+; P2: 7.3+). A bpfsign skeleton carries one
//! data blob plus a signed loader per protocol; this crate
//!
//! * probes the running kernel ([`probe()`], cached; `BPFSIGN_PROTOCOL=p1|p1b|p2` overrides; the
//!   first load of a process tries the loader its kernel release suggests, and the kernel
//!   accepting that signed loader is the probe, docs/protocol.md §7.10) and picks an *embedded*
//!   loader: a protocol the build left out — the unsigned loader unless the build allowed it,
//!   a signed protocol missing from its protocol list — fails with
//!   [`ErrorKind::ProtocolNotEmbedded`] (a probed P1b kernel falls back to an embedded P1 loader),
//! * runs the matching user-space sequence and the loader ([`load`] → [`LoadedSkeleton`]),
//! * mmaps `.bss`/`.data`/`.rodata` data maps (typed views: [`LoadedSkeleton::global`],
//!   [`LoadedSkeleton::read_global`], [`Plain`]), attaches programs ([`LoadedSkeleton::attach_all`] → [`Link`]),
//! * registers signing certificates in keyrings ([`register_cert`], [`Keyring`]),
//! * explains every failure with one [`Error`] type (stage, errno, protocol, guidance, verifier log).
//!
//! Nothing stays loaded and no fd leaks after a failed load.
//!
//! Signed loaders ignore run-time initial values of global data: the values are fixed at signing
//! time. Change writable globals through the mmapped data after loading.
//!
//! ```no_run
//! # fn spec() -> bpfsign_runtime::SkeletonSpec<'static> { unimplemented!() }
//! use bpfsign_runtime::{load, register_cert, CertTarget, Keyring, LoadOptions};
//! let reg = register_cert(&std::fs::read("cert.der")?, CertTarget::Session)?;
//! let skel = load(&spec(), &LoadOptions::new().keyring(reg.keyring))?;
//! let _links = skel.attach_all()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Public API
//!
//! | Item | What it is |
//! |------|------------|
//! | [`SkeletonSpec`], [`LoaderVariant`], [`MapSpec`], [`ProgSpec`], [`AttachKind`] | The static skeleton description `include_signed_skel!` generates |
//! | [`Protocol`], [`UnknownProtocol`] | The kernel signing protocols (from `bpfsign-abi`) |
//! | [`BPF_F_MMAPABLE`], [`BPF_F_RDONLY_PROG`] | Map flags that mark data maps in a [`MapSpec`] |
//! | [`load`], [`LoadOptions`], [`VerifierLog`] | Loading a skeleton |
//! | [`LoadedSkeleton`], [`Plain`] | A loaded skeleton: fds, data maps, typed views of globals |
//! | [`Map`], [`HashMap`], [`PerCpuMap`], [`RingBuf`], [`RingBufReader`], [`PerfEventArray`], [`PerfReader`], [`ProgArray`], [`MapOfMaps`], [`MapFlags`], [`MapKeys`], [`MapIter`] | Handles on the maps of a loaded skeleton ([`LoadedSkeleton::map`]) |
//! | [`Program`] | A loaded program of a skeleton: its fd and every way to attach it |
//! | [`Link`] | An attached program ([`LoadedSkeleton::attach_prog`], [`LoadedSkeleton::attach_all`]) |
//! | [`LinkInfo`], [`XdpFlags`], [`TcxDirection`], [`NetkitSide`], [`SocketFilter`] | Link details and the per-kind attach options ([`Program::attach_xdp`], …) |
//! | [`probe()`], [`probe_uncached`], [`selected_protocol`], [`KernelProbe`], [`SigningSupport`], [`PROTOCOL_ENV`] | Which protocol the running kernel speaks |
//! | [`register_cert`], [`CertTarget`], [`RegisteredCert`], [`named_keyring`], [`join_new_session_keyring`], [`Keyring`], [`KEY_SPEC_SESSION_KEYRING`], [`KEY_SPEC_USER_KEYRING`] | Keyrings and signing certificates |
//! | [`cert_to_der`], [`cert_skid`] | Reading a certificate (PEM or DER, subjectKeyIdentifier) |
//! | [`Error`], [`ErrorKind`], [`Stage`], [`errno_name`], [`ENOTSUPP`] | The one error type |
//!
//! Everything else is private to the crate: the `bpf(2)` wrappers, the BTF scanner and the load
//! steps.

#![deny(missing_docs)]

mod attach;
mod btf_scan;
mod cert;
mod error;
#[cfg(test)]
mod fake;
mod first_try;
mod global;
mod keyring;
mod load;
mod maps;
mod probe;
mod program;
mod spec;
mod sys;
mod timing;

#[cfg(test)]
mod tests;

pub use attach::{Link, LinkInfo, NetkitSide, SocketFilter, TcxDirection, UprobeTarget, XdpFlags};
pub use cert::{cert_skid, cert_to_der};
pub use error::{errno_name, Error, ErrorKind, Stage, ENOTSUPP};
pub use global::{GlobalVar, GlobalVarMut, Plain};
pub use keyring::{
    join_new_session_keyring, named_keyring, register_cert, CertTarget, Keyring, RegisteredCert,
    KEY_SPEC_SESSION_KEYRING, KEY_SPEC_USER_KEYRING,
};
pub use load::{load, load_with_kernel_release, LoadOptions, LoadedSkeleton, VerifierLog};
#[cfg(feature = "tokio")]
pub use maps::AsyncRingBufReader;
pub use maps::{
    HashMap, Map, MapFlags, MapIter, MapKeys, MapOfMaps, PerCpuMap, PerfEventArray, PerfReader,
    ProgArray, RingBuf, RingBufReader,
};
pub use probe::{
    probe, probe_uncached, selected_protocol, KernelProbe, SigningSupport, PROTOCOL_ENV,
};
pub use program::Program;
pub use spec::{
    AttachKind, LoaderVariant, MapSpec, ProgSpec, Protocol, SkeletonSpec, UnknownProtocol,
    BPF_F_MMAPABLE, BPF_F_RDONLY_PROG,
};
pub use timing::{take_stage_timings, StageTiming, STAGE_TIMING_ENABLED};
