//! The single error type of the runtime: which stage failed, with which errno, and what to do.

use std::fmt;
use std::io;
use std::sync::Arc;

use crate::keyring::Keyring;
use crate::spec::Protocol;

/// Where a load, attach or keyring operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Stage {
    /// Probing the kernel's signing protocol, or reading `BPFSIGN_PROTOCOL`.
    ProbeKernel,
    /// Picking the loader variant of the skeleton for the chosen protocol, or validating it.
    SelectVariant,
    /// `BPF_MAP_CREATE` of the metadata map.
    MapCreate,
    /// `BPF_MAP_UPDATE_ELEM` of the metadata map with the data blob.
    MapUpdate,
    /// `BPF_MAP_FREEZE` of the metadata map.
    MapFreeze,
    /// `BPF_OBJ_GET_INFO_BY_FD` computing the metadata map hash (P1/P1b).
    MapHash,
    /// `BPF_PROG_LOAD` of the signed loader program (signature verification happens here).
    ProgLoad,
    /// `BPF_PROG_RUN` of the loader, or the loader's return value / output.
    LoaderRun,
    /// Mapping a skeleton data map (`.bss`, `.data`, ...) into memory.
    Mmap,
    /// Attaching a program.
    Attach,
    /// Registering a certificate or using a keyring.
    Keyring,
    /// Using a loaded skeleton: a program or map fd, or a typed view of a global-data map.
    Access,
}

impl Stage {
    /// A short human-readable name of the stage.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::ProbeKernel => "probe kernel signing protocol",
            Stage::SelectVariant => "select loader variant",
            Stage::MapCreate => "create metadata map",
            Stage::MapUpdate => "fill metadata map",
            Stage::MapFreeze => "freeze metadata map",
            Stage::MapHash => "hash metadata map",
            Stage::ProgLoad => "load signed loader program",
            Stage::LoaderRun => "run loader program",
            Stage::Mmap => "mmap data map",
            Stage::Attach => "attach program",
            Stage::Keyring => "keyring",
            Stage::Access => "access loaded skeleton",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of failure an [`Error`] is, where the stage and errno alone do not say it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Any other failure: see [`Error::stage`], [`Error::errno`] and the message.
    Other,
    /// The load needs a protocol whose loader the skeleton does not embed: the build left it
    /// out (a protocol list without it, or the unsigned loader without `allow_unsigned`).
    /// Stage [`Stage::SelectVariant`]; nothing was loaded.
    ProtocolNotEmbedded {
        /// The protocol the load needs: the kernel's (probed), or the one asked for with
        /// `BPFSIGN_PROTOCOL` or [`crate::LoadOptions::protocol`].
        needed: Protocol,
        /// The protocols whose loaders the skeleton embeds, in generator order.
        embedded: Vec<Protocol>,
    },
    /// A program's attach target could not be found or resolved before any attach system call:
    /// a kernel function missing from `available_filter_functions`, a symbol missing from an
    /// ELF file, a tracepoint or PMU missing from sysfs/tracefs, an unreadable binary. Stage
    /// [`Stage::Attach`]; nothing was attached.
    AttachTarget {
        /// The program's name.
        program: String,
        /// The target as given (`do_unlinkat`, `/bin/bash:readline`, `sched/sched_switch`).
        target: String,
    },
    /// A typed map handle or a buffer does not fit the map: its map type, key size or value
    /// size differs from the map's. Stage [`Stage::Access`]; no system call was made.
    MapMismatch {
        /// The map's skeleton identifier.
        map: String,
        /// What differs: `"map type"`, `"key size"`, `"value size"`, `"key"` or `"value"`.
        what: &'static str,
        /// The map's value: its `BPF_MAP_TYPE_*`, or its size in bytes.
        expected: u64,
        /// The handle's or buffer's value (for a map type: the first type the handle accepts).
        found: u64,
    },
}

/// Context that sharpens the guidance of an error.
#[derive(Clone, Debug, Default)]
pub(crate) struct Ctx {
    pub skeleton: Option<String>,
    pub protocol: Option<Protocol>,
    pub keyring: Option<Keyring>,
    pub signer_skid: Option<String>,
}

/// A failed runtime operation: stage, errno, protocol, optional verifier log and guidance.
///
/// `Display` and `Debug` print the same sentence (stage, errno, protocol, what was done, what to
/// do), so `fn main() -> Result<(), bpfsign_runtime::Error>` reports it readably; `{:#?}` shows
/// the fields instead. [`std::error::Error::source`] is the `io::Error` of the failing system
/// call, if there was one, and the error converts into an `io::Error` (see the `From` impl).
#[derive(Clone)]
pub struct Error(Box<Inner>);

#[derive(Clone, Debug)]
struct Inner {
    stage: Stage,
    kind: ErrorKind,
    errno: Option<i32>,
    /// The error of the failing system call (shared so that `Error` stays `Clone`).
    source: Option<Arc<io::Error>>,
    from_loader: bool,
    detail: String,
    guidance: String,
    ctx: Ctx,
    log: Option<String>,
}

impl Error {
    /// An error from a syscall (`errno` set) at `stage`.
    pub(crate) fn sys(stage: Stage, err: &io::Error, detail: impl Into<String>, ctx: &Ctx) -> Self {
        let errno = err.raw_os_error().unwrap_or(libc::EIO);
        // `io::Error` is not `Clone`: an OS error is rebuilt from its code (an equal value), any
        // other from its kind and message.
        let source = match err.raw_os_error() {
            Some(code) => io::Error::from_raw_os_error(code),
            None => io::Error::new(err.kind(), err.to_string()),
        };
        let mut e = Self::with_errno(stage, errno, false, detail, ctx);
        e.0.source = Some(Arc::new(source));
        e
    }

    /// An error carrying `errno`; `from_loader` marks a negative loader return value.
    pub(crate) fn with_errno(
        stage: Stage,
        errno: i32,
        from_loader: bool,
        detail: impl Into<String>,
        ctx: &Ctx,
    ) -> Self {
        let guidance = guidance(stage, errno, from_loader, ctx);
        Error(Box::new(Inner {
            stage,
            kind: ErrorKind::Other,
            errno: Some(errno),
            source: None,
            from_loader,
            detail: detail.into(),
            guidance,
            ctx: ctx.clone(),
            log: None,
        }))
    }

    /// The same error with `guidance` instead of the generic advice.
    pub(crate) fn with_guidance(mut self, guidance: impl Into<String>) -> Self {
        self.0.guidance = guidance.into();
        self
    }

    /// An error without errno (bad input, inconsistent skeleton, ...).
    pub(crate) fn other(
        stage: Stage,
        detail: impl Into<String>,
        guidance: impl Into<String>,
        ctx: &Ctx,
    ) -> Self {
        Error(Box::new(Inner {
            stage,
            kind: ErrorKind::Other,
            errno: None,
            source: None,
            from_loader: false,
            detail: detail.into(),
            guidance: guidance.into(),
            ctx: ctx.clone(),
            log: None,
        }))
    }

    /// The same error, of `kind`.
    pub(crate) fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.0.kind = kind;
        self
    }

    pub(crate) fn with_log(mut self, log: Option<String>) -> Self {
        if log.as_deref().is_some_and(|l| !l.is_empty()) {
            self.0.log = log;
        }
        self
    }

    /// The stage that failed.
    pub fn stage(&self) -> Stage {
        self.0.stage
    }

    /// What kind of failure this is ([`ErrorKind::Other`] unless a more precise kind applies).
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// The positive errno, if the failure came from the kernel (a syscall or the loader's return value).
    pub fn errno(&self) -> Option<i32> {
        self.0.errno
    }

    /// Symbolic name of [`Error::errno`] (`"ENOKEY"`), if any.
    pub fn errno_name(&self) -> Option<&'static str> {
        self.0.errno.map(errno_name)
    }

    /// Whether the errno is the negative return value of the loader program (not of a syscall).
    pub fn from_loader(&self) -> bool {
        self.0.from_loader
    }

    /// The protocol (loader variant) in use when the error happened.
    pub fn protocol(&self) -> Option<Protocol> {
        self.0.ctx.protocol
    }

    /// The keyring the kernel searched for the signer's key, for load errors.
    pub fn keyring(&self) -> Option<Keyring> {
        self.0.ctx.keyring
    }

    /// The verifier log, if one was requested with [`crate::LoadOptions::verifier_log`] and the kernel wrote one.
    pub fn verifier_log(&self) -> Option<&str> {
        self.0.log.as_deref()
    }

    /// What was being done when the error happened.
    pub fn detail(&self) -> &str {
        &self.0.detail
    }

    /// One or two sentences on what to do about it.
    pub fn guidance(&self) -> &str {
        &self.0.guidance
    }

    /// True when the kernel refused the signature itself (ENOKEY, EKEYREJECTED, EBADMSG, ENOPKG,
    /// EKEYREVOKED, EKEYEXPIRED at [`Stage::ProgLoad`]), as opposed to missing support or privileges.
    pub fn is_signature_rejection(&self) -> bool {
        self.0.stage == Stage::ProgLoad
            && matches!(
                self.0.errno,
                Some(libc::ENOKEY)
                    | Some(libc::EKEYREJECTED)
                    | Some(libc::EBADMSG)
                    | Some(libc::ENOPKG)
                    | Some(libc::EKEYREVOKED)
                    | Some(libc::EKEYEXPIRED)
            )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = &self.0.ctx.skeleton {
            write!(f, "{name}: ")?;
        }
        write!(f, "{} failed", self.0.stage)?;
        if let Some(errno) = self.0.errno {
            let what = if self.0.from_loader {
                "loader returned"
            } else {
                "errno"
            };
            write!(
                f,
                " ({what} {} = {errno}, {})",
                errno_name(errno),
                io::Error::from_raw_os_error(errno)
            )?;
        }
        if let Some(p) = self.0.ctx.protocol {
            write!(f, " [protocol {p}]")?;
        }
        if !self.0.detail.is_empty() {
            write!(f, ": {}", self.0.detail)?;
        }
        if !self.0.guidance.is_empty() {
            write!(f, ". {}", self.0.guidance)?;
        }
        if let Some(log) = &self.0.log {
            write!(
                f,
                " (verifier log: {} bytes, see Error::verifier_log())",
                log.len()
            )?;
        }
        Ok(())
    }
}

/// The same sentence as `Display`; with `{:#?}`, the fields.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !f.alternate() {
            return fmt::Display::fmt(self, f);
        }
        let i = &self.0;
        f.debug_struct("Error")
            .field("stage", &i.stage)
            .field("kind", &i.kind)
            .field("errno", &i.errno)
            .field("from_loader", &i.from_loader)
            .field("protocol", &i.ctx.protocol)
            .field("keyring", &i.ctx.keyring)
            .field("skeleton", &i.ctx.skeleton)
            .field("detail", &i.detail)
            .field("guidance", &i.guidance)
            .field("source", &i.source)
            .field("verifier_log_bytes", &i.log.as_ref().map(String::len))
            .finish()
    }
}

impl std::error::Error for Error {
    /// The `io::Error` of the failing system call; `None` for a negative loader return value and
    /// for errors without errno (bad input, an inconsistent skeleton).
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Wraps the error in an `io::Error` of the errno's kind (`ErrorKind::Other` without errno),
/// keeping its message; `get_ref()` / `into_inner()` give the [`Error`] back. The result has no
/// `raw_os_error()`: use [`Error::errno`] before converting when the number matters.
impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        let kind = e.errno().map_or(io::ErrorKind::Other, |n| {
            io::Error::from_raw_os_error(n).kind()
        });
        io::Error::new(kind, e)
    }
}

/// `ENOTSUPP`, a kernel-internal errno that still reaches user space.
pub const ENOTSUPP: i32 = 524;

/// The symbolic name of a (positive) Linux errno, or `"E?"` when unknown.
pub fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::E2BIG => "E2BIG",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EINVAL => "EINVAL",
        libc::EMFILE => "EMFILE",
        libc::ENOSPC => "ENOSPC",
        libc::ERANGE => "ERANGE",
        libc::ENOSYS => "ENOSYS",
        libc::ELOOP => "ELOOP",
        libc::ENOPKG => "ENOPKG",
        libc::EBADMSG => "EBADMSG",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EDQUOT => "EDQUOT",
        libc::ENOKEY => "ENOKEY",
        libc::EKEYEXPIRED => "EKEYEXPIRED",
        libc::EKEYREVOKED => "EKEYREVOKED",
        libc::EKEYREJECTED => "EKEYREJECTED",
        ENOTSUPP => "ENOTSUPP",
        _ => "E?",
    }
}

fn protocol_hint(ctx: &Ctx) -> String {
    match ctx.protocol {
        Some(p) => format!("the {p} loader"),
        None => "the loader".to_string(),
    }
}

/// The guidance sentence for `errno` at `stage`.
fn guidance(stage: Stage, errno: i32, from_loader: bool, ctx: &Ctx) -> String {
    let keyring = ctx
        .keyring
        .map(|k| k.describe())
        .unwrap_or_else(|| "the keyring given by keyring_id".to_string());
    let signer = match &ctx.signer_skid {
        Some(s) => format!("the signer (subjectKeyIdentifier {s})"),
        None => "the signer".to_string(),
    };
    let loader = protocol_hint(ctx);
    // No guidance here suggests the unsigned loader: a signed skeleton must not be talked into
    // loading without its signature (the unsigned loader is a build-time opt-in).
    let no_signing = "signed skeletons need a kernel that verifies BPF program signatures";
    match (stage, errno) {
        (Stage::ProgLoad, libc::ENOKEY) => format!(
            "the kernel found no key for {signer} in {keyring}: register the signing certificate there \
             (bpfsign_runtime::register_cert, or `keyctl padd asymmetric '' @s < cert.der` for the session \
             keyring) or load with the keyring that holds it; if the skeleton was signed with a TEST-ONLY \
             key (bpfsign warned about it at build time), do not register that certificate outside a \
             throwaway test system (its private key is public): rebuild with your own key"
        ),
        (Stage::ProgLoad, libc::EKEYREJECTED) => format!(
            "the signer's key was found but the signature does not match the signed bytes: {loader} does not \
             fit this kernel's signing protocol (a P2 signature is rejected this way on P1/P1b kernels; check \
             the probe or BPFSIGN_PROTOCOL), or the skeleton was modified after signing, or the key is blacklisted"
        ),
        (Stage::ProgLoad, libc::EBADMSG) => {
            "the signature is not a valid detached PKCS#7 message: the skeleton is corrupted or was not \
             signed by bpfsign/bpftool; rebuild it"
                .to_string()
        }
        (Stage::ProgLoad, libc::ENOPKG) => {
            "the kernel lacks the digest or public-key algorithm of the signature; sign with RSA \
             (rsaEncryption) or ECDSA P-256/P-384 and SHA-256"
                .to_string()
        }
        (Stage::ProgLoad, libc::EKEYREVOKED) | (Stage::ProgLoad, libc::EKEYEXPIRED) => format!(
            "the signer's key or {keyring} has been revoked or has expired; register a valid certificate"
        ),
        (_, libc::EOPNOTSUPP) if stage != Stage::Attach && stage != Stage::Mmap => format!(
            "this kernel cannot verify BPF program signatures (built without \
             CONFIG_SYSTEM_DATA_VERIFICATION): {no_signing}"
        ),
        (Stage::ProgLoad, libc::EACCES) => format!(
            "protocol mismatch or missing privilege: the kernel refused {loader} after checking its signature \
             (P1/P1b loaders fail this way on 7.3+ kernels, a P1b loader on P1 kernels; check the probe or \
             BPFSIGN_PROTOCOL); P1/P1b loaders also need CAP_PERFMON"
        ),
        (Stage::ProgLoad, libc::EPERM) => {
            "missing privileges: loading a BPF light skeleton needs CAP_BPF and CAP_PERFMON (or root); on 7.3+ \
             kernels EPERM also means the metadata map is not frozen or not exclusive (protocol mismatch)"
                .to_string()
        }
        (Stage::ProgLoad, libc::EINVAL) => format!(
            "the kernel rejected the load attributes: {keyring} may not exist (keyring_id does not resolve, or \
             CONFIG_KEYS is off), the signature may exceed 8 KiB, the kernel may predate BPF signing \
             (Linux < 6.18: {no_signing}), or CAP_PERFMON is missing (bpf_sys_bpf unavailable)"
        ),
        (Stage::ProgLoad, libc::E2BIG) | (Stage::MapHash, libc::E2BIG) | (Stage::ProbeKernel, libc::E2BIG) => {
            format!(
                "the kernel predates BPF program signing (Linux < 6.18 does not know the signature fields): \
                 {no_signing}"
            )
        }
        (Stage::ProgLoad, ENOTSUPP) => {
            "the kernel lacks CONFIG_DEBUG_INFO_BTF, which P1/P1b loaders need to read struct bpf_map".to_string()
        }
        (Stage::ProgLoad, libc::ENOSPC) => {
            "the verifier log buffer is too small; request a larger one with LoadOptions::verifier_log".to_string()
        }
        (Stage::MapCreate, libc::EINVAL) => format!(
            "the kernel refused an exclusive map (excl_prog_hash needs Linux 6.18+): {no_signing}"
        ),
        (_, libc::EPERM) | (_, libc::EACCES)
            if matches!(stage, Stage::MapCreate | Stage::MapUpdate | Stage::ProbeKernel) =>
        {
            "missing privileges: BPF needs CAP_BPF and CAP_PERFMON (or root), and \
             kernel.unprivileged_bpf_disabled may forbid unprivileged use"
                .to_string()
        }
        (Stage::MapHash, libc::EPERM) => {
            "the kernel requires the metadata map to be frozen before hashing; another process may hold a \
             writable mapping"
                .to_string()
        }
        (Stage::MapFreeze, libc::EBUSY) => {
            "the metadata map is mapped writable or already frozen".to_string()
        }
        (Stage::LoaderRun, libc::EINVAL)
            if from_loader && matches!(ctx.protocol, Some(Protocol::P1) | Some(Protocol::P1b)) =>
        {
            format!(
                "{loader} refused the metadata map: its hash does not match the one in the signed loader (data \
                 blob tampered with or not hashed) or, on P1b, the map is not exclusive; an inner BPF load may \
                 also have failed with EINVAL (load with LoadOptions::verifier_log to see the verifier's reason)"
            )
        }
        (Stage::LoaderRun, libc::ENOSPC) if from_loader => {
            "a BPF object of the skeleton was rejected with ENOSPC, usually a too small verifier log; request \
             a larger one with LoadOptions::verifier_log"
                .to_string()
        }
        (Stage::LoaderRun, _) if from_loader => {
            "the loader's own bpf() call for a map, BTF or program of the skeleton failed on this kernel; load \
             with LoadOptions::verifier_log to see the verifier's reason"
                .to_string()
        }
        (Stage::LoaderRun, _) => {
            "BPF_PROG_RUN of the loader failed; the kernel may not support running SYSCALL programs".to_string()
        }
        (Stage::Mmap, libc::EINVAL) | (Stage::Mmap, libc::ENODEV) | (Stage::Mmap, ENOTSUPP) => {
            "the map cannot be mmapped (created without BPF_F_MMAPABLE): the spec marks it as a data map \
             but the loader did not create it that way; regenerate the skeleton"
                .to_string()
        }
        (Stage::Mmap, libc::EPERM) | (Stage::Mmap, libc::EACCES) => {
            "the map is frozen or read-only and cannot be mapped writable".to_string()
        }
        (Stage::Mmap, _) => "the data map could not be mapped (address space or memory limits)".to_string(),
        (Stage::Attach, libc::ENOENT) | (Stage::Attach, libc::ESRCH) => {
            "the attach target does not exist on this kernel (function, tracepoint or iterator missing)".to_string()
        }
        (Stage::Attach, libc::EBUSY) | (Stage::Attach, libc::EEXIST) => {
            "the attach point is already in use".to_string()
        }
        (Stage::Attach, libc::EPERM) | (Stage::Attach, libc::EACCES) => {
            "attaching needs CAP_BPF and CAP_PERFMON (or root); the kernel lockdown mode may also forbid it".to_string()
        }
        (Stage::Attach, libc::EINVAL) | (Stage::Attach, libc::ENOTSUP) | (Stage::Attach, ENOTSUPP) => {
            "the kernel cannot attach this program type this way (tracing trampolines need \
             CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS on x86)"
                .to_string()
        }
        (Stage::Keyring, libc::EKEYREJECTED) | (Stage::Keyring, libc::EBADMSG) | (Stage::Keyring, libc::EINVAL) => {
            "the kernel could not parse the certificate as X.509 (or lacks CONFIG_X509_CERTIFICATE_PARSER); \
             pass the DER or PEM certificate of the signing key"
                .to_string()
        }
        (Stage::Keyring, libc::ENODEV) => {
            "the kernel has no 'asymmetric' key type (CONFIG_ASYMMETRIC_KEY_TYPE off)".to_string()
        }
        (Stage::Keyring, libc::ENOKEY) => "the target keyring does not exist".to_string(),
        (Stage::Keyring, libc::EACCES) | (Stage::Keyring, libc::EPERM) => {
            "no permission to write to the target keyring".to_string()
        }
        (Stage::Keyring, libc::EDQUOT) => "the key quota of this user is exhausted".to_string(),
        (Stage::Keyring, libc::ENOSYS) => "the kernel was built without CONFIG_KEYS".to_string(),
        (_, libc::ENOMEM) => "the kernel ran out of memory (or RLIMIT_MEMLOCK is too low on old kernels)".to_string(),
        (_, libc::ENOSYS) => "the kernel was built without the bpf() syscall (CONFIG_BPF_SYSCALL)".to_string(),
        (_, libc::EMFILE) => "the process ran out of file descriptors (RLIMIT_NOFILE)".to_string(),
        (_, libc::EAGAIN) | (_, libc::EINTR) => {
            "a signal interrupted the kernel (the verifier stops when a signal is pending); nothing \
             stayed loaded: retry the load, or block the signal around it"
                .to_string()
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enokey_guidance_names_keyring_and_skid() {
        let ctx = Ctx {
            skeleton: Some("hello".into()),
            protocol: Some(Protocol::P2),
            keyring: Some(Keyring::Session),
            signer_skid: Some("f2d4".into()),
        };
        let e = Error::with_errno(Stage::ProgLoad, libc::ENOKEY, false, "BPF_PROG_LOAD", &ctx);
        let s = e.to_string();
        assert!(
            s.starts_with("hello: load signed loader program failed (errno ENOKEY = 126"),
            "{s}"
        );
        assert!(s.contains("session keyring"), "{s}");
        assert!(s.contains("subjectKeyIdentifier f2d4"), "{s}");
        assert!(s.contains("[protocol p2]"), "{s}");
        // The hint never asks to register a TEST-ONLY certificate on a real system.
        assert!(
            s.contains("TEST-ONLY") && s.contains("do not register that certificate"),
            "{s}"
        );
        assert!(e.is_signature_rejection());
        assert_eq!(e.errno_name(), Some("ENOKEY"));
    }

    #[test]
    fn eopnotsupp_guidance_does_not_suggest_unsigned() {
        let e = Error::with_errno(
            Stage::ProgLoad,
            libc::EOPNOTSUPP,
            false,
            "",
            &Ctx::default(),
        );
        assert!(e.guidance().contains("CONFIG_SYSTEM_DATA_VERIFICATION"));
        assert!(!e.guidance().contains("unsigned"), "{}", e.guidance());
        assert!(!e.is_signature_rejection());
    }

    #[test]
    fn loader_einval_under_p1_mentions_hash() {
        let ctx = Ctx {
            protocol: Some(Protocol::P1b),
            ..Ctx::default()
        };
        let e = Error::with_errno(Stage::LoaderRun, libc::EINVAL, true, "", &ctx);
        assert!(e.guidance().contains("hash"));
        assert!(e.to_string().contains("loader returned EINVAL"));
    }

    #[test]
    fn debug_prints_the_display_message() {
        let ctx = Ctx {
            skeleton: Some("hello".into()),
            protocol: Some(Protocol::P2),
            ..Ctx::default()
        };
        let e = Error::with_errno(Stage::ProgLoad, libc::ENOKEY, false, "BPF_PROG_LOAD", &ctx);
        assert_eq!(format!("{e:?}"), e.to_string());
        assert!(!format!("{e:?}").contains("Inner"), "{e:?}");
        // What `fn main() -> Result<(), Error>` prints after "Error: ".
        let r: Result<(), Error> = Err(e.clone());
        assert!(format!("{r:?}").starts_with("Err(hello: load signed loader program failed"));
        let pretty = format!("{e:#?}");
        assert!(pretty.contains("stage: ProgLoad"), "{pretty}");
        assert!(
            pretty.contains("errno: Some(") && pretty.contains("126"),
            "{pretty}"
        );
        assert!(pretty.contains("source: None"), "{pretty}");
    }

    #[test]
    fn source_is_the_syscall_error() {
        use std::error::Error as _;
        let ctx = Ctx::default();
        let os = io::Error::from_raw_os_error(libc::EPERM);
        let e = Error::sys(Stage::MapCreate, &os, "BPF_MAP_CREATE", &ctx);
        let src = e.source().expect("a syscall error has a source");
        let io = src.downcast_ref::<io::Error>().expect("an io::Error");
        assert_eq!(io.raw_os_error(), Some(libc::EPERM));
        assert_eq!(
            e.clone().source().map(|s| s.to_string()),
            Some(os.to_string())
        );
        // A non-OS io::Error keeps its kind and message (and counts as EIO).
        let custom = io::Error::new(io::ErrorKind::InvalidData, "bad bytes");
        let e = Error::sys(Stage::Keyring, &custom, "", &ctx);
        assert_eq!(e.errno(), Some(libc::EIO));
        let io = e
            .source()
            .and_then(|s| s.downcast_ref::<io::Error>())
            .unwrap();
        assert_eq!(io.kind(), io::ErrorKind::InvalidData);
        assert_eq!(io.to_string(), "bad bytes");
        // A loader's return value and input errors have none.
        let e = Error::with_errno(Stage::LoaderRun, libc::EINVAL, true, "", &ctx);
        assert!(e.source().is_none());
        assert!(Error::other(Stage::SelectVariant, "x", "y", &ctx)
            .source()
            .is_none());
    }

    #[test]
    fn converts_into_io_error() {
        let ctx = Ctx {
            skeleton: Some("hello".into()),
            ..Ctx::default()
        };
        let os = io::Error::from_raw_os_error(libc::EACCES);
        let e = Error::sys(Stage::ProgLoad, &os, "BPF_PROG_LOAD", &ctx);
        let text = e.to_string();
        let io: io::Error = e.into();
        assert_eq!(io.kind(), io::ErrorKind::PermissionDenied);
        assert_eq!(io.to_string(), text);
        let back = io
            .get_ref()
            .and_then(|r| r.downcast_ref::<Error>())
            .unwrap();
        assert_eq!(back.errno(), Some(libc::EACCES));
        assert_eq!(back.stage(), Stage::ProgLoad);
        let io: io::Error = Error::other(Stage::SelectVariant, "x", "y", &ctx).into();
        assert_eq!(io.kind(), io::ErrorKind::Other);
        let io: io::Error = Error::with_errno(Stage::Attach, libc::ENOENT, false, "", &ctx).into();
        assert_eq!(io.kind(), io::ErrorKind::NotFound);
        // `?` converts in functions returning io::Result.
        fn run(ctx: &Ctx) -> io::Result<()> {
            Err(Error::other(Stage::Access, "no map", "", ctx))?;
            Ok(())
        }
        assert!(run(&ctx).unwrap_err().to_string().contains("no map"));
    }

    #[test]
    fn every_listed_errno_has_a_name() {
        for e in [1, 2, 7, 13, 22, 28, 65, 74, 95, 126, 127, 128, 129, 524] {
            assert_ne!(errno_name(e), "E?", "{e}");
        }
        assert_eq!(errno_name(9999), "E?");
    }
}
