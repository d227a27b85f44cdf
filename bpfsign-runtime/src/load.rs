//! Loading a light skeleton: pick the loader variant, run the protocol's user-space sequence
//! (docs/protocol.md §3, §8), take ownership of the fds the loader returns in the ctx (§6.3), mmap the
//! skeleton data maps (§6.7).

use std::collections::HashSet;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;

use bpfsign_abi::limits::MAX_CTX_SIZE;
use bpfsign_abi::{loader_ctx, map_flags};

use crate::btf_scan::{BtfBytes, VMLINUX_BTF};
use crate::error::{Ctx, Error, ErrorKind, Stage};
use crate::first_try::{self, FirstTry};
use crate::keyring::Keyring;
use crate::probe::{self, log_string, KernelProbe, SigningSupport, PROTOCOL_ENV};
use crate::spec::{AttachKind, LoaderVariant, Protocol, SkeletonSpec};
use crate::sys::{self, LogBuf, MapCreate, ProgLoad, RealKernel, Sys};
use crate::timing::timed;

/// Smallest verifier log buffer the runtime passes (the kernel wants at least 128 bytes).
const MIN_LOG: usize = 4096;
/// Largest verifier log buffer the runtime grows to on ENOSPC.
const MAX_LOG: usize = 256 << 20;

/// Verifier log request: `level` (1 = basic, 2 = verbose) and the initial buffer size in bytes.
/// The buffer doubles (up to 256 MiB) and the load is retried when the kernel reports ENOSPC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifierLog {
    /// `log_level` for `BPF_PROG_LOAD` (the loader passes it on to the skeleton's own loads).
    pub level: u32,
    /// Initial buffer size in bytes (at least 4096 is used).
    pub size: usize,
}

impl Default for VerifierLog {
    fn default() -> Self {
        VerifierLog {
            level: 1,
            size: 64 << 10,
        }
    }
}

/// Options of [`load`].
///
/// Note on global data: signed loaders ignore run-time initial values (docs/protocol.md §3.2); the values of
/// `.data`/`.bss`/`.rodata` are those fixed at signing. Change writable globals through
/// [`LoadedSkeleton::map_data_mut`] after the load.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Keyring the kernel searches for the signer's key (default [`Keyring::Builtin`], as libbpf).
    pub keyring: Keyring,
    /// Loader variant to use; `None` = `BPFSIGN_PROTOCOL`, else the kernel's (a cached probe
    /// result, the first try of docs/protocol.md §7.10, or the probe).
    pub protocol: Option<Protocol>,
    /// Request the verifier log of the loader (and of the programs it loads).
    pub log: Option<VerifierLog>,
    /// Run a signed-protocol loader variant *without* its signature (see
    /// [`LoadOptions::without_signature`]). No effect on [`Protocol::Unsigned`].
    pub without_signature: bool,
}

impl LoadOptions {
    /// Default options: builtin keyring, protocol from env/probe, no log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the keyring searched for the signer's key.
    pub fn keyring(mut self, keyring: Keyring) -> Self {
        self.keyring = keyring;
        self
    }

    /// Forces a loader variant (takes precedence over `BPFSIGN_PROTOCOL` and the probe).
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = Some(protocol);
        self
    }

    /// Requests a verifier log of `level` with an initial buffer of `size` bytes.
    pub fn verifier_log(mut self, level: u32, size: usize) -> Self {
        self.log = Some(VerifierLog { level, size });
        self
    }

    /// Runs the P1, P1b or P2 loader in its *unsigned form* (docs/protocol.md §3.4, §8): the user-space
    /// sequence of that protocol, but `BPF_PROG_LOAD` gets no signature and no keyring.
    ///
    /// The metadata map is still exclusive to the loader's hash, and for P1/P1b still hashed
    /// with `BPF_OBJ_GET_INFO_BY_FD`, so the loader's own checks (map hash, `map->excl`) run as
    /// in a signed load. P2 passes `fd_array_cnt = 0`, as libbpf does for unsigned loads (an
    /// exclusive map in a continuous `fd_array` of an unsigned load fails with `EACCES`).
    /// The variant needs no signature. For tests and for kernels that do not verify signatures:
    /// the kernel verifies nothing, so this proves nothing about who built the skeleton.
    pub fn without_signature(mut self, on: bool) -> Self {
        self.without_signature = on;
        self
    }
}

/// A loaded light skeleton: owns every map and program fd and the data-map mappings.
/// Dropping it unmaps and closes everything; programs stay attached only through [`crate::Link`]s.
#[derive(Debug)]
pub struct LoadedSkeleton {
    name: String,
    protocol: Protocol,
    maps: Vec<LoadedMap>,
    pub(crate) progs: Vec<LoadedProg>,
    log: Option<String>,
}

#[derive(Debug)]
struct LoadedMap {
    name: String,
    /// Type and sizes from the map's `MapSpec`, for the typed map handles.
    info: crate::maps::MapInfo,
    // Declared before `fd`: unmapped before the fd is closed.
    data: Option<MapData>,
    /// The consumer/producer mappings of a ring buffer, made once at load.
    ring: Option<crate::maps::RingMapping>,
    fd: OwnedFd,
}

#[derive(Debug)]
pub(crate) struct LoadedProg {
    pub(crate) name: String,
    pub(crate) section: String,
    pub(crate) prog_type: u32,
    pub(crate) expected_attach_type: u32,
    pub(crate) attach: AttachKind<String>,
    pub(crate) fd: Option<OwnedFd>,
}

#[derive(Debug)]
struct MapData {
    ptr: NonNull<u8>,
    mapped: usize,
    len: usize,
    writable: bool,
}

impl Drop for MapData {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`mapped` describe a mapping created by `mmap` and owned by this value.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.mapped);
        }
    }
}

// SAFETY: the mappings are plain shared memory owned by the skeleton; fds are thread-safe. Shared
// access hands out `&[u8]` (BPF programs may write concurrently, as with libbpf skeletons) and
// mutable access needs `&mut self`.
unsafe impl Send for LoadedSkeleton {}
// SAFETY: see above.
unsafe impl Sync for LoadedSkeleton {}

impl LoadedSkeleton {
    /// The skeleton's object name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The protocol (loader variant) that was loaded.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The verifier log, when requested with [`LoadOptions::log`].
    pub fn verifier_log(&self) -> Option<&str> {
        self.log.as_deref()
    }

    /// Number of maps (= `SkeletonSpec::maps.len()`).
    pub fn map_count(&self) -> usize {
        self.maps.len()
    }

    /// Number of programs (= `SkeletonSpec::progs.len()`, including programs not loaded).
    pub fn prog_count(&self) -> usize {
        self.progs.len()
    }

    /// Name of map `i`.
    pub fn map_name(&self, i: usize) -> Option<&str> {
        self.maps.get(i).map(|m| m.name.as_str())
    }

    /// Name of program `i`.
    pub fn prog_name(&self, i: usize) -> Option<&str> {
        self.progs.get(i).map(|p| p.name.as_str())
    }

    /// Index of the map named `name`.
    pub fn map_index(&self, name: &str) -> Option<usize> {
        self.maps.iter().position(|m| m.name == name)
    }

    /// Index of the program named `name`.
    pub fn prog_index(&self, name: &str) -> Option<usize> {
        self.progs.iter().position(|p| p.name == name)
    }

    /// The fd of map `i`.
    pub fn map_fd(&self, i: usize) -> Option<BorrowedFd<'_>> {
        self.maps.get(i).map(|m| m.fd.as_fd())
    }

    /// The fd of program `i`; `None` if out of range or not loaded (`autoload = false`).
    pub fn prog_fd(&self, i: usize) -> Option<BorrowedFd<'_>> {
        self.progs
            .get(i)
            .and_then(|p| p.fd.as_ref())
            .map(|f| f.as_fd())
    }

    /// Name, shape and ring-buffer mapping of map `i`, for [`LoadedSkeleton::map`].
    pub(crate) fn map_parts(
        &self,
        i: usize,
    ) -> Option<(
        &str,
        crate::maps::MapInfo,
        Option<&crate::maps::RingMapping>,
    )> {
        let m = self.maps.get(i)?;
        Some((m.name.as_str(), m.info, m.ring.as_ref()))
    }

    /// Start of the mmapped value of data map `i` (`None` unless it is a skeleton data map).
    ///
    /// # Safety
    /// The pointer is valid for [`LoadedSkeleton::map_data_len`] bytes while `self` lives; it is
    /// writable only if [`LoadedSkeleton::map_data_writable`]. BPF programs may access the memory
    /// concurrently; the caller is responsible for the access discipline of the typed view it builds.
    pub unsafe fn map_data_ptr(&self, i: usize) -> Option<NonNull<u8>> {
        self.maps.get(i)?.data.as_ref().map(|d| d.ptr)
    }

    /// Length in bytes of the value of data map `i` (`value_size` for the usual single-entry maps).
    pub fn map_data_len(&self, i: usize) -> Option<usize> {
        self.maps.get(i)?.data.as_ref().map(|d| d.len)
    }

    /// Whether data map `i` is mapped writable (not `BPF_F_RDONLY_PROG`).
    pub fn map_data_writable(&self, i: usize) -> bool {
        self.maps
            .get(i)
            .and_then(|m| m.data.as_ref())
            .is_some_and(|d| d.writable)
    }

    /// The value of data map `i` as bytes.
    ///
    /// # Safety
    ///
    /// BPF programs may store to a writable map (`.bss`, `.data`) at any time, a data race with
    /// reads through the slice: call this only while no program that writes the map runs
    /// (before attaching, after detaching) and nothing else stores to it. Read-only maps
    /// (`.rodata`) never change after load. The safe accessors are
    /// [`LoadedSkeleton::read_global`] and [`LoadedSkeleton::global_var_mut`].
    pub unsafe fn map_data(&self, i: usize) -> Option<&[u8]> {
        let d = self.maps.get(i)?.data.as_ref()?;
        // SAFETY: a live mapping of at least `len` readable bytes owned by `self`; the caller
        // excludes concurrent writers.
        Some(unsafe { std::slice::from_raw_parts(d.ptr.as_ptr(), d.len) })
    }

    /// The value of writable data map `i` as mutable bytes (`None` for read-only maps).
    ///
    /// # Safety
    ///
    /// BPF programs may read and store the memory at any time: call this only while no program
    /// that accesses the map runs (before attaching, after detaching). The safe accessor is
    /// [`LoadedSkeleton::global_var_mut`].
    pub unsafe fn map_data_mut(&mut self, i: usize) -> Option<&mut [u8]> {
        let d = self.maps.get_mut(i)?.data.as_mut()?;
        if !d.writable {
            return None;
        }
        // SAFETY: a live writable mapping of at least `len` bytes, exclusively borrowed via
        // `&mut self`; the caller excludes the programs.
        Some(unsafe { std::slice::from_raw_parts_mut(d.ptr.as_ptr(), d.len) })
    }
}

/// Loads `spec` with the real kernel: picks the protocol (`opts.protocol`, else `BPFSIGN_PROTOCOL`,
/// else the cached [`crate::probe()`]; a skeleton without signed variants loads its unsigned variant
/// without probing), creates, fills, freezes (and for P1/P1b hashes) the metadata map,
/// loads the signed loader, runs it and takes the map/program fds it returns.
///
/// The first load of a process that has not probed yet tries the signed loader of the protocol
/// the kernel release suggests before probing; the kernel accepting it is the probe
/// (docs/protocol.md §7.10). If it refuses, the exact probe decides, and the load is redone when
/// the probe picks another loader.
///
/// On any failure nothing stays loaded: every fd created so far (including fds the loader wrote
/// into the ctx) is closed before the error is returned.
pub fn load(spec: &SkeletonSpec<'_>, opts: &LoadOptions) -> Result<LoadedSkeleton, Error> {
    load_real(spec, opts, None)
}

/// [`load`] as if the kernel release were `release`, which only changes the first try. For
/// bpfsign's kernel tests, which check that a refused first try falls back to the exact probe;
/// not part of the API.
#[doc(hidden)]
pub fn load_with_kernel_release(
    spec: &SkeletonSpec<'_>,
    opts: &LoadOptions,
    release: &str,
) -> Result<LoadedSkeleton, Error> {
    load_real(spec, opts, Some(release))
}

/// [`load`] on the real kernel, with `BPFSIGN_PROTOCOL` from the environment and the kernel
/// release from `uname(2)` unless `release` is given.
fn load_real(
    spec: &SkeletonSpec<'_>,
    opts: &LoadOptions,
    release: Option<&str>,
) -> Result<LoadedSkeleton, Error> {
    let env = std::env::var(PROTOCOL_ENV).ok();
    let source = RealKernelFacts(release);
    load_with_source(&RealKernel, spec, opts, env.as_deref(), &source)
}

/// Where a load learns the kernel's protocol: the process's probe cache, a first try suggested
/// by the kernel release, and the probe. Substitutable in unit tests.
pub(crate) trait ProtocolSource {
    /// The cached probe result, if any.
    fn cached(&self) -> Option<&KernelProbe>;
    /// The signed loader to try before probing, among those `embedded` accepts.
    fn first_try(&self, embedded: &dyn Fn(Protocol) -> bool) -> Option<FirstTry>;
    /// The (cached) probe.
    fn probe(&self) -> &KernelProbe;
    /// Records that the kernel accepted a signed `protocol` loader.
    fn confirm(&self, protocol: Protocol, evidence: String);
}

/// The running kernel and this process's probe cache; the release from `uname(2)` unless given.
struct RealKernelFacts<'r>(Option<&'r str>);

impl ProtocolSource for RealKernelFacts<'_> {
    fn cached(&self) -> Option<&KernelProbe> {
        probe::cached()
    }
    fn first_try(&self, embedded: &dyn Fn(Protocol) -> bool) -> Option<FirstTry> {
        let release = match self.0 {
            Some(r) => r.to_string(),
            None => timed("probe:uname", first_try::kernel_release)?,
        };
        first_try::first_try(&release, embedded, || BtfBytes::open(VMLINUX_BTF))
    }
    fn probe(&self) -> &KernelProbe {
        probe::probe()
    }
    fn confirm(&self, protocol: Protocol, evidence: String) {
        probe::confirm(protocol, evidence);
    }
}

/// [`load`] with a substitutable kernel, `BPFSIGN_PROTOCOL` value and protocol source: the first
/// try when it applies ([`first_try_variant`]), else (or when the kernel refused it) [`load_impl`].
pub(crate) fn load_with_source(
    sys: &dyn Sys,
    spec: &SkeletonSpec<'_>,
    opts: &LoadOptions,
    env: Option<&str>,
    source: &dyn ProtocolSource,
) -> Result<LoadedSkeleton, Error> {
    let Some((variant, evidence)) = first_try_variant(spec, opts, env, source) else {
        return load_impl(sys, spec, opts, env, || source.probe());
    };
    let ctx = load_ctx(spec, opts, Some(variant.protocol));
    match validated_load(sys, spec, variant, opts, &ctx) {
        // Proves nothing: the probe decides, and the load is redone only if the probe picks
        // another loader (the same load would fail the same way, and a policy such as
        // bpfsign-guard would record the refusal twice).
        Err(e) if !kernel_accepted_loader(&e) => {
            let probe = source.probe();
            // A kernel built without signature verification or keys refuses every signed
            // loader: another signed load would fail the same way, so the refusal is the result.
            // (The other unusable states leave the probe without a family, which ends in the
            // refusal below as well.)
            if matches!(
                probe.support(),
                SigningSupport::NoDataVerification | SigningSupport::NoKeys
            ) {
                return Err(e);
            }
            load_after_refusal(sys, spec, opts, env, || probe, Some(e))
        }
        result => {
            let p = variant.protocol;
            source.confirm(
                p,
                format!("the kernel accepted the signed {p} loader; {evidence}"),
            );
            result
        }
    }
}

/// The signed loader to try before probing, and the evidence for it: only when the protocol is
/// neither given nor cached, the load is signed, and the skeleton embeds the suggested loader
/// (a skeleton without signed loaders does not even ask).
fn first_try_variant<'s>(
    spec: &'s SkeletonSpec<'s>,
    opts: &LoadOptions,
    env: Option<&str>,
    source: &dyn ProtocolSource,
) -> Option<(&'s LoaderVariant<'s>, String)> {
    if protocol_chosen(opts, env)
        || opts.without_signature
        || !embeds_signed(spec)
        || source.cached().is_some()
    {
        return None;
    }
    let embedded = |p: Protocol| p.is_signed() && spec.variant(p).is_some();
    let FirstTry { protocol, evidence } = source.first_try(&embedded)?;
    let variant = spec.variant(protocol).filter(|v| v.protocol.is_signed())?;
    Some((variant, evidence))
}

/// Whether the protocol is chosen rather than found out: `LoadOptions::protocol` or a non-empty
/// `BPFSIGN_PROTOCOL` (`env`).
fn protocol_chosen(opts: &LoadOptions, env: Option<&str>) -> bool {
    opts.protocol.is_some() || env.is_some_and(|v| !v.trim().is_empty())
}

/// Whether `spec` embeds at least one signed loader.
fn embeds_signed(spec: &SkeletonSpec<'_>) -> bool {
    spec.variants.iter().any(|v| v.protocol.is_signed())
}

/// Whether a failed load got past `BPF_PROG_LOAD`, i.e. the kernel verified the signed loader
/// (which proves the protocol; the failure is then the load's own). An allow-list: a stage not
/// named here counts as "not accepted", which only costs a probe.
fn kernel_accepted_loader(e: &Error) -> bool {
    matches!(e.stage(), Stage::LoaderRun | Stage::Mmap)
}

/// [`load`] with a substitutable kernel, `BPFSIGN_PROTOCOL` value and probe, without a first
/// try: selects and validates the variant, then [`load_variant`].
pub(crate) fn load_impl<'p>(
    sys: &dyn Sys,
    spec: &SkeletonSpec<'_>,
    opts: &LoadOptions,
    env: Option<&str>,
    probe: impl FnOnce() -> &'p KernelProbe,
) -> Result<LoadedSkeleton, Error> {
    load_after_refusal(sys, spec, opts, env, probe, None)
}

/// [`load_impl`] after an optional refused first try (`refused`, which carries its protocol):
/// when the selected variant is the one the kernel refused, or when the probe cannot decide,
/// that refusal is the result.
fn load_after_refusal<'p>(
    sys: &dyn Sys,
    spec: &SkeletonSpec<'_>,
    opts: &LoadOptions,
    env: Option<&str>,
    probe: impl FnOnce() -> &'p KernelProbe,
    refused: Option<Error>,
) -> Result<LoadedSkeleton, Error> {
    let mut ctx = load_ctx(spec, opts, None);
    let variant = match select_variant(spec, opts, env, probe, &mut ctx) {
        Ok(v) => v,
        // The refused load's own error (stage, errno, protocol, log) says more.
        Err(e) if e.stage() == Stage::ProbeKernel => return Err(refused.unwrap_or(e)),
        Err(e) => return Err(e),
    };
    if let Some(e) = refused.filter(|e| e.protocol() == Some(variant.protocol)) {
        return Err(e);
    }
    validated_load(sys, spec, variant, opts, &ctx)
}

/// The error context of a load of `spec` (the protocol is filled in once known).
fn load_ctx(spec: &SkeletonSpec<'_>, opts: &LoadOptions, protocol: Option<Protocol>) -> Ctx {
    Ctx {
        skeleton: Some(spec.name.to_string()),
        protocol,
        keyring: Some(opts.keyring),
        signer_skid: spec.signer_skid.map(str::to_string),
    }
}

/// [`validate`], then [`load_variant`].
fn validated_load(
    sys: &dyn Sys,
    spec: &SkeletonSpec<'_>,
    variant: &LoaderVariant<'_>,
    opts: &LoadOptions,
    ctx: &Ctx,
) -> Result<LoadedSkeleton, Error> {
    validate(spec, variant, opts.without_signature, ctx)?;
    load_variant(sys, spec, variant, opts, ctx)
}

/// Runs [`attempt`]s of `variant`, growing the verifier log buffer on ENOSPC.
fn load_variant(
    sys: &dyn Sys,
    spec: &SkeletonSpec<'_>,
    variant: &LoaderVariant<'_>,
    opts: &LoadOptions,
    ctx: &Ctx,
) -> Result<LoadedSkeleton, Error> {
    // A log of level 0 is no log (the kernel rejects a buffer without a level).
    let log_opts = opts.log.filter(|l| l.level != 0);
    let mut log = log_opts.map(|l| vec![0u8; l.size.clamp(MIN_LOG, MAX_LOG)]);
    loop {
        let level = log_opts.map_or(0, |l| l.level);
        let result = attempt(
            sys,
            spec,
            variant,
            opts,
            log.as_deref_mut().map(|b| (level, b)),
            ctx,
        );
        let text = log.as_deref().map(log_string);
        match result {
            Err(e) if log.as_ref().is_some_and(|l| l.len() < MAX_LOG) && is_log_enospc(&e) => {
                let size = log.as_ref().map_or(MIN_LOG, |l| l.len() * 2).min(MAX_LOG);
                log = Some(vec![0u8; size]);
            }
            Err(e) => return Err(e.with_log(text)),
            Ok(mut sk) => {
                sk.log = text;
                return Ok(sk);
            }
        }
    }
}

/// Picks the protocol (`opts.protocol`, else `env`, else the probe) and the skeleton's loader
/// variant for it; records the protocol (and whether a keyring is used) in `ctx`.
///
/// Only embedded loaders can be chosen: a protocol the build left out (the unsigned loader
/// without `allow_unsigned`, a signed protocol missing from the build's protocol list) fails
/// with [`ErrorKind::ProtocolNotEmbedded`]. One fallback exists: when the *probe* finds a P1b
/// kernel and the skeleton has no P1b loader but a P1 loader, the P1 loader is used (spec: a P1
/// loader also passes on P1b kernels). It is no weaker than what the binary already allows:
/// anyone holding the binary can replay its signed P1 loader on a P1b kernel, so a build that
/// must not run P1 there leaves P1 out. An explicit protocol (`opts.protocol`,
/// `BPFSIGN_PROTOCOL`) never falls back.
fn select_variant<'s, 'p>(
    spec: &SkeletonSpec<'s>,
    opts: &LoadOptions,
    env: Option<&str>,
    probe: impl FnOnce() -> &'p KernelProbe,
    ctx: &mut Ctx,
) -> Result<&'s LoaderVariant<'s>, Error> {
    let probed = !protocol_chosen(opts, env);
    // A skeleton built without signed variants has nothing to probe for: its unsigned loader is
    // the only choice. An explicit protocol or `BPFSIGN_PROTOCOL` still wins (and fails below
    // when the skeleton lacks that variant).
    let needed = if probed && !embeds_signed(spec) {
        Protocol::Unsigned
    } else {
        probe::select_with(opts.protocol, env, probe, ctx)?
    };
    let variant = match spec.variant(needed) {
        Some(v) => Some(v),
        None if probed && needed == Protocol::P1b => spec.variant(Protocol::P1),
        None => None,
    };
    let Some(variant) = variant else {
        ctx.protocol = Some(needed);
        return Err(not_embedded(spec, needed, probed, ctx));
    };
    ctx.protocol = Some(variant.protocol);
    if !variant.protocol.is_signed() || opts.without_signature {
        ctx.keyring = None;
    }
    Ok(variant)
}

/// The [`ErrorKind::ProtocolNotEmbedded`] error: which protocol the load needs, which the
/// skeleton embeds, and how the build embeds the missing one.
fn not_embedded(spec: &SkeletonSpec<'_>, needed: Protocol, probed: bool, ctx: &Ctx) -> Error {
    let embedded: Vec<Protocol> = Protocol::ALL
        .into_iter()
        .filter(|p| spec.variant(*p).is_some())
        .collect();
    let names: Vec<&str> = embedded.iter().map(|p| p.as_str()).collect();
    let list = if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    };
    let why = if probed {
        format!("this kernel needs the {needed} loader")
    } else {
        format!("the {needed} loader was asked for ({PROTOCOL_ENV} or LoadOptions::protocol)")
    };
    let detail = format!("{why}, but the build did not embed it (the skeleton embeds: {list})");
    let guidance = if needed == Protocol::Unsigned {
        format!(
            "the build did not allow unsigned loading, so this binary loads only with a signature; \
             unset {PROTOCOL_ENV} (and do not force Protocol::Unsigned) to load a signed loader. \
             Embedding the unsigned loader is a build-time opt-in: `include_signed_skel!(…, \
             allow_unsigned = true)`, `BpfCompiler::allow_unsigned(true)` or `bpfsign gen --allow-unsigned`"
        )
    } else {
        let unset = if probed {
            String::new()
        } else {
            format!(
                "unset {PROTOCOL_ENV} / LoadOptions::protocol to use the kernel's protocol, or "
            )
        };
        format!(
            "{unset}rebuild with {needed} in the protocol list (`protocols = [{needed}, …]` in \
             include_signed_skel!, `BpfCompiler::protocols`, `bpfsign gen --protocols`); kernels by \
             protocol: p1 6.18.0–6.18.39, 6.19, 7.0, 7.1.0–7.1.4; p1b 6.18.40+, 7.1.5+, 7.2; p2 7.3+"
        )
    };
    Error::other(Stage::SelectVariant, detail, guidance, ctx)
        .with_kind(ErrorKind::ProtocolNotEmbedded { needed, embedded })
}

/// Whether a failed attempt should be retried with a larger verifier log buffer.
fn is_log_enospc(e: &Error) -> bool {
    e.errno() == Some(libc::ENOSPC) && matches!(e.stage(), Stage::ProgLoad | Stage::LoaderRun)
}

/// Checks the spec and the variant before any syscall: loader and data sizes, the signature, the
/// ctx size limit, non-empty data maps.
fn validate(
    spec: &SkeletonSpec<'_>,
    v: &LoaderVariant<'_>,
    without_signature: bool,
    ctx: &Ctx,
) -> Result<(), Error> {
    let bad = |what: String| {
        Error::other(
            Stage::SelectVariant,
            what,
            "the skeleton spec is inconsistent; regenerate it with bpfsign",
            ctx,
        )
    };
    if v.insns.is_empty() || !v.insns.len().is_multiple_of(8) {
        return Err(bad(format!(
            "loader instructions are {} bytes, not a non-empty multiple of 8",
            v.insns.len()
        )));
    }
    if u32::try_from(v.insns.len() / 8).is_err() {
        return Err(bad("too many loader instructions".into()));
    }
    if spec.data.is_empty() || u32::try_from(spec.data.len()).is_err() {
        return Err(bad(format!("data blob of {} bytes", spec.data.len())));
    }
    if v.protocol.is_signed() && !without_signature && v.signature.is_none_or(<[u8]>::is_empty) {
        return Err(Error::other(
            Stage::SelectVariant,
            format!("the {} loader variant carries no signature", v.protocol),
            "the build embedded it without a signature (`allow_unsigned`): sign the skeleton \
             (a key at build time, or `bpfsign payload` + `bpfsign attach-sig`) and rebuild",
            ctx,
        ));
    }
    if ctx_size(spec) > MAX_CTX_SIZE {
        return Err(bad(format!(
            "{} maps and {} programs need a {}-byte ctx; the kernel allows {MAX_CTX_SIZE}",
            spec.maps.len(),
            spec.progs.len(),
            ctx_size(spec)
        )));
    }
    for m in spec.maps.iter().filter(|m| m.mmapable) {
        if m.value_size == 0 || m.max_entries == 0 {
            return Err(bad(format!("data map {} has an empty value", m.name)));
        }
    }
    Ok(())
}

/// `sizeof(struct bpf_loader_ctx) + 16 * maps + 4 * progs` (docs/protocol.md §6.3), saturating.
fn ctx_size(spec: &SkeletonSpec<'_>) -> usize {
    loader_ctx::size(spec.maps.len(), spec.progs.len())
}

/// Offset of the `map_fd` slot of map `i` in the ctx.
fn map_fd_slot(i: usize) -> usize {
    loader_ctx::map_desc(i) + loader_ctx::MAP_DESC_FD
}

/// Offset of the `prog_fd` slot of program descriptor `j` in a ctx with `n_maps` maps.
fn prog_fd_slot(n_maps: usize, j: usize) -> usize {
    loader_ctx::prog_desc(n_maps, j)
}

/// One load with one log buffer: the protocol's user-space sequence, the loader run, and the
/// skeleton built from the fds the loader returned. Every fd opened on the way is owned by an
/// [`OwnedFd`] from the moment it exists, so any error return closes them all.
fn attempt(
    sys: &dyn Sys,
    spec: &SkeletonSpec<'_>,
    variant: &LoaderVariant<'_>,
    opts: &LoadOptions,
    log: Option<(u32, &mut [u8])>,
    ctx: &Ctx,
) -> Result<LoadedSkeleton, Error> {
    let map = metadata_map(sys, spec, variant, ctx)?;
    let log = log.map(|(level, buf)| LogBuf {
        level,
        buf: buf.as_mut_ptr(),
        size: buf.len() as u32,
    });
    let prog = load_loader(sys, variant, opts, map.as_fd(), log, ctx)?;

    let mut c = loader_ctx_bytes(spec, log);
    let run = sys::prog_run(sys, prog.as_fd(), &mut c);
    // Take every fd the loader wrote before looking at the run's result or the loader's return
    // value, so that all of them are closed on any error below.
    let fds = take_ctx_fds(spec, &c, [map.as_raw_fd(), prog.as_raw_fd()]);
    // The loader's own map and program are no longer needed.
    drop(prog);
    drop(map);
    check_loader_run(run, fds.dup, ctx)?;

    let mut maps = loaded_maps(spec, fds.maps, ctx)?;
    let progs = loaded_progs(spec, fds.progs, ctx)?;
    mmap_data_maps(spec, &mut maps, ctx)?;
    Ok(LoadedSkeleton {
        name: spec.name.to_string(),
        protocol: variant.protocol,
        maps,
        progs,
        log: None,
    })
}

/// The metadata map `__loader.map` (docs/protocol.md §3, §8): created (exclusive to the loader's hash for
/// signed variants), filled with the data blob, frozen, and for P1/P1b hashed by the kernel.
fn metadata_map(
    sys: &dyn Sys,
    spec: &SkeletonSpec<'_>,
    variant: &LoaderVariant<'_>,
    ctx: &Ctx,
) -> Result<OwnedFd, Error> {
    let protocol = variant.protocol;
    let map = sys::map_create(
        sys,
        &MapCreate {
            map_type: sys::BPF_MAP_TYPE_ARRAY,
            key_size: 4,
            value_size: spec.data.len() as u32,
            max_entries: 1,
            map_flags: 0,
            name: "__loader.map",
            excl_prog_hash: protocol.is_signed().then_some(&variant.excl_prog_hash),
        },
    )
    .map_err(|e| {
        Error::sys(
            Stage::MapCreate,
            &e,
            "BPF_MAP_CREATE of the metadata map __loader.map",
            ctx,
        )
    })?;
    sys::map_update_elem(sys, map.as_fd(), &0u32.to_ne_bytes(), spec.data, 0).map_err(|e| {
        Error::sys(
            Stage::MapUpdate,
            &e,
            "BPF_MAP_UPDATE_ELEM of the data blob into __loader.map",
            ctx,
        )
    })?;
    sys::map_freeze(sys, map.as_fd())
        .map_err(|e| Error::sys(Stage::MapFreeze, &e, "BPF_MAP_FREEZE of __loader.map", ctx))?;
    if matches!(protocol, Protocol::P1 | Protocol::P1b) {
        sys::map_get_info_hash(sys, map.as_fd()).map_err(|e| {
            Error::sys(
                Stage::MapHash,
                &e,
                "BPF_OBJ_GET_INFO_BY_FD computing the hash of __loader.map",
                ctx,
            )
        })?;
    }
    Ok(map)
}

/// `BPF_PROG_LOAD` of the loader program with `map` in its `fd_array`; with the signature and
/// keyring unless the variant is unsigned or run in its unsigned form.
fn load_loader(
    sys: &dyn Sys,
    variant: &LoaderVariant<'_>,
    opts: &LoadOptions,
    map: BorrowedFd<'_>,
    log: Option<LogBuf>,
    ctx: &Ctx,
) -> Result<OwnedFd, Error> {
    let protocol = variant.protocol;
    // Whether PROG_LOAD carries the signature (not in the unsigned form of a signed variant).
    let send_signature = protocol.is_signed() && !opts.without_signature;
    let fd_array = [map.as_raw_fd()];
    sys::prog_load(
        sys,
        &ProgLoad {
            prog_type: sys::BPF_PROG_TYPE_SYSCALL,
            expected_attach_type: 0,
            insns: variant.insns,
            license: c"Dual BSD/GPL",
            prog_flags: sys::BPF_F_SLEEPABLE,
            name: "__loader.prog",
            fd_array: Some(&fd_array),
            fd_array_cnt: u32::from(protocol == Protocol::P2 && send_signature),
            signature: if send_signature {
                variant.signature
            } else {
                None
            },
            keyring_id: if send_signature { opts.keyring.id() } else { 0 },
            log,
        },
    )
    .map_err(|e| {
        Error::sys(
            Stage::ProgLoad,
            &e,
            "BPF_PROG_LOAD of the signed loader __loader.prog",
            ctx,
        )
    })
}

/// The loader's ctx (docs/protocol.md §6.3): `struct bpf_loader_ctx` (size, log request), then the map
/// descriptors and the program descriptors.
///
/// Every fd slot (`map_fd` of each map desc, `prog_fd` of each prog desc) is pre-filled with -1,
/// so that a slot the loader leaves alone reads as "no fd" while a loader-created fd 0 (possible
/// when stdin is closed) is taken like any other. The loader only reads `max_entries` and
/// `initial_value` of a map desc and never a `*_fd` slot; its epilogue overwrites every map slot
/// and the first L prog slots (docs/protocol.md §6.3, §6.5, §6.6).
fn loader_ctx_bytes(spec: &SkeletonSpec<'_>, log: Option<LogBuf>) -> Vec<u8> {
    let n_maps = spec.maps.len();
    let size = ctx_size(spec);
    let mut c = vec![0u8; size];
    let mut put = |off: usize, bytes: &[u8]| c[off..off + bytes.len()].copy_from_slice(bytes);
    put(loader_ctx::SZ, &(size as u32).to_ne_bytes());
    if let Some(l) = log {
        put(loader_ctx::LOG_LEVEL, &l.level.to_ne_bytes());
        put(loader_ctx::LOG_SIZE, &l.size.to_ne_bytes());
        put(loader_ctx::LOG_BUF, &(l.buf as usize as u64).to_ne_bytes());
    }
    for off in (0..n_maps)
        .map(map_fd_slot)
        .chain((0..spec.progs.len()).map(|j| prog_fd_slot(n_maps, j)))
    {
        put(off, &(-1i32).to_ne_bytes());
    }
    c
}

/// The fds the loader wrote into the ctx, owned.
struct CtxFds {
    /// One entry per map desc, `None` where the slot holds no fd.
    maps: Vec<Option<OwnedFd>>,
    /// One entry per prog desc, `None` where the slot holds no fd.
    progs: Vec<Option<OwnedFd>>,
    /// An fd found twice, or one of the runtime's own fds; not taken.
    dup: Option<RawFd>,
}

/// Takes ownership of every fd in the ctx's fd slots, never twice and never one of `own` (the
/// runtime's metadata map and loader program).
///
/// Called even when `BPF_PROG_RUN` failed. With the real kernel that finds nothing: it copies the
/// ctx back only after the loader ran, and when that copy (or the one of the return value) fails
/// the call returns EFAULT with the ctx not copied back, so fds the loader created are out of our
/// reach. A partial copy or a fake `Sys` may still have written fds, and those are closed.
fn take_ctx_fds(spec: &SkeletonSpec<'_>, c: &[u8], own: [RawFd; 2]) -> CtxFds {
    let n_maps = spec.maps.len();
    let mut seen: HashSet<RawFd> = own.into_iter().collect();
    let mut dup = None;
    let mut take = |off: usize| -> Option<OwnedFd> {
        let raw = RawFd::from_ne_bytes(c.get(off..off + 4)?.try_into().ok()?);
        if raw < 0 {
            return None;
        }
        if !seen.insert(raw) {
            dup = Some(raw);
            return None;
        }
        // SAFETY: the loader created this fd in our fd table for us and nothing else owns it
        // (checked above against our own fds and the other ctx slots; slots the loader did not
        // write hold -1).
        Some(unsafe { OwnedFd::from_raw_fd(raw) })
    };
    let maps = (0..n_maps).map(|i| take(map_fd_slot(i))).collect();
    let progs = (0..spec.progs.len())
        .map(|j| take(prog_fd_slot(n_maps, j)))
        .collect();
    CtxFds { maps, progs, dup }
}

/// The outcome of `BPF_PROG_RUN`: the syscall's error, a negative loader return value, or an fd
/// the loader returned twice.
fn check_loader_run(run: io::Result<u32>, dup: Option<RawFd>, ctx: &Ctx) -> Result<(), Error> {
    let retval = run
        .map_err(|e| Error::sys(Stage::LoaderRun, &e, "BPF_PROG_RUN of the loader", ctx))?
        as i32;
    if retval < 0 {
        // `checked_neg`: i32::MIN has no positive counterpart (and is no errno anyway).
        return Err(Error::with_errno(
            Stage::LoaderRun,
            retval.checked_neg().unwrap_or(i32::MAX),
            true,
            format!("the loader program returned {retval}"),
            ctx,
        ));
    }
    if let Some(raw) = dup {
        return Err(Error::other(
            Stage::LoaderRun,
            format!("the loader returned fd {raw} twice or one of the runtime's own fds"),
            "the loader does not match this runtime; regenerate the skeleton with bpfsign",
            ctx,
        ));
    }
    Ok(())
}

/// An error for a loader whose output does not fit the spec.
fn mismatch(what: String, ctx: &Ctx) -> Error {
    Error::other(
        Stage::LoaderRun,
        what,
        "the skeleton spec (maps/programs/autoload) does not match the loader; regenerate it with bpfsign",
        ctx,
    )
}

/// The skeleton's maps with the fds from their ctx slots; every map must have one.
fn loaded_maps(
    spec: &SkeletonSpec<'_>,
    fds: Vec<Option<OwnedFd>>,
    ctx: &Ctx,
) -> Result<Vec<LoadedMap>, Error> {
    spec.maps
        .iter()
        .zip(fds)
        .map(|(m, fd)| {
            let fd = fd.ok_or_else(|| {
                mismatch(format!("the loader returned no fd for map {}", m.name), ctx)
            })?;
            Ok(LoadedMap {
                name: m.name.to_string(),
                info: crate::maps::MapInfo {
                    map_type: m.map_type,
                    key_size: m.key_size,
                    value_size: m.value_size,
                    max_entries: m.max_entries,
                },
                data: None,
                ring: None,
                fd,
            })
        })
        .collect()
}

/// The skeleton's programs: ctx prog slot j holds the j-th *loaded* (autoload) program (docs/protocol.md §6.3
/// quirk). Every autoload program must have an fd, and no slot beyond them may hold one.
fn loaded_progs(
    spec: &SkeletonSpec<'_>,
    slots: Vec<Option<OwnedFd>>,
    ctx: &Ctx,
) -> Result<Vec<LoadedProg>, Error> {
    let mut slots = slots.into_iter();
    let mut progs = Vec::with_capacity(spec.progs.len());
    for p in spec.progs {
        let fd = if p.autoload {
            let fd = slots.next().flatten();
            Some(fd.ok_or_else(|| {
                mismatch(
                    format!("the loader returned no fd for program {}", p.name),
                    ctx,
                )
            })?)
        } else {
            None
        };
        progs.push(LoadedProg {
            name: p.name.to_string(),
            section: p.section.to_string(),
            prog_type: p.prog_type,
            expected_attach_type: p.expected_attach_type,
            attach: owned_attach(p.attach),
            fd,
        });
    }
    if slots.any(|s| s.is_some()) {
        return Err(mismatch(
            "the loader returned more program fds than the spec has autoload programs".into(),
            ctx,
        ));
    }
    Ok(progs)
}

/// An owned copy of a spec's attach kind.
fn owned_attach(a: AttachKind<&str>) -> AttachKind<String> {
    a.map(str::to_string)
}

/// mmaps the skeleton data maps with the run-time page size (read-only for `BPF_F_RDONLY_PROG`
/// and `BPF_F_RDONLY` maps), and the consumer and producer pages of every ring buffer.
fn mmap_data_maps(spec: &SkeletonSpec<'_>, maps: &mut [LoadedMap], ctx: &Ctx) -> Result<(), Error> {
    for (m, loaded) in spec.maps.iter().zip(maps.iter_mut()) {
        if m.map_type == crate::maps::RINGBUF_TYPE {
            loaded.ring = Some(
                crate::maps::RingMapping::new(loaded.fd.as_fd(), m.max_entries).map_err(|e| {
                    Error::sys(
                        Stage::Mmap,
                        &e,
                        format!("mmap of ring buffer {}", m.name),
                        ctx,
                    )
                })?,
            );
            continue;
        }
        if !m.mmapable {
            continue;
        }
        let writable = m.map_flags & (map_flags::RDONLY_PROG | map_flags::RDONLY) == 0;
        loaded.data = Some(
            map_data(loaded.fd.as_fd(), m.value_size, m.max_entries, writable).map_err(|e| {
                Error::sys(Stage::Mmap, &e, format!("mmap of data map {}", m.name), ctx)
            })?,
        );
    }
    Ok(())
}

pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as usize
    } else {
        4096
    }
}

/// `mmap(NULL, roundup(roundup(value_size, 8) * max_entries, page), prot, MAP_SHARED, fd, 0)`.
fn map_data(
    fd: BorrowedFd<'_>,
    value_size: u32,
    max_entries: u32,
    writable: bool,
) -> io::Result<MapData> {
    let overflow = || io::Error::from_raw_os_error(libc::EOVERFLOW);
    let stride = (value_size as usize)
        .checked_next_multiple_of(8)
        .ok_or_else(overflow)?;
    let total = stride
        .checked_mul(max_entries as usize)
        .ok_or_else(overflow)?;
    let mapped = total
        .checked_next_multiple_of(page_size())
        .ok_or_else(overflow)?;
    let len = stride * (max_entries as usize).saturating_sub(1) + value_size as usize;
    let prot = if writable {
        libc::PROT_READ | libc::PROT_WRITE
    } else {
        libc::PROT_READ
    };
    // SAFETY: a fresh shared mapping of a map fd; the kernel validates size and protection.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            mapped,
            prot,
            libc::MAP_SHARED,
            fd.as_raw_fd(),
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    let ptr =
        NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::from_raw_os_error(libc::EFAULT))?;
    Ok(MapData {
        ptr,
        mapped,
        len,
        writable,
    })
}
