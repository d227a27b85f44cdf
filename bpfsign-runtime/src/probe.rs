//! Which signing protocol does the running kernel speak? (spec §7)
//!
//! 1. A side-effect-free junk-signature `BPF_PROG_LOAD` tells P2 kernels (EPERM "must be frozen")
//!    from P1/P1b kernels (EBADMSG), and recognises kernels where signing is unusable (EOPNOTSUPP:
//!    no `CONFIG_SYSTEM_DATA_VERIFICATION`; EINVAL: no `CONFIG_KEYS`; E2BIG: pre-6.18).
//! 2. P1 vs P1b: `struct bpf_map` in `/sys/kernel/btf/vmlinux` has a member `excl` at bit offset
//!    256 only on P1b kernels. The file is mapped (read where mapping fails) and its type section
//!    scanned in place up to that struct, nothing built. If BTF cannot be read, an unsigned program
//!    reading `map->excl` decides (loads on P1b, EACCES on P1).
//!
//! 3. On EINVAL (no `CONFIG_KEYS`), where the junk-signature probe cannot tell P2 from P1/P1b,
//!    `struct bpf_fd_array` in vmlinux BTF (present only on P2 kernels) marks the P2 family.
//!
//! A result that determined the protocol family is cached per process; one that did not (for
//! example a missing capability) is probed again next time. `BPFSIGN_PROTOCOL=p1|p1b|p2|unsigned`
//! skips probing.

use std::fmt;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::ptr::NonNull;
use std::sync::{Mutex, OnceLock, PoisonError};

use crate::error::{errno_name, Ctx, Error, Stage};
use crate::spec::Protocol;
use crate::sys::{self, LogBuf, MapCreate, ProgLoad, RealKernel, Sys};

/// The environment variable that overrides the probe.
pub const PROTOCOL_ENV: &str = "BPFSIGN_PROTOCOL";

/// Where vmlinux BTF lives.
const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

/// Whether signed loads can work on this kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigningSupport {
    /// The kernel verifies BPF program signatures.
    Supported,
    /// EOPNOTSUPP: built without `CONFIG_SYSTEM_DATA_VERIFICATION`.
    NoDataVerification,
    /// EINVAL: built without `CONFIG_KEYS` (no keyring can be resolved).
    NoKeys,
    /// E2BIG: the kernel predates BPF signing (Linux < 6.18).
    PreSigning,
    /// EPERM (or a failing probe map): the process lacks CAP_BPF / CAP_PERFMON.
    NoPermission,
    /// Any other outcome, with its errno (0 if the junk signature was accepted).
    Unknown(i32),
}

impl SigningSupport {
    /// The errno that identifies this state, if any.
    pub fn errno(self) -> Option<i32> {
        match self {
            SigningSupport::Supported => None,
            SigningSupport::NoDataVerification => Some(libc::EOPNOTSUPP),
            SigningSupport::NoKeys => Some(libc::EINVAL),
            SigningSupport::PreSigning => Some(libc::E2BIG),
            SigningSupport::NoPermission => Some(libc::EPERM),
            SigningSupport::Unknown(e) => Some(e),
        }
    }
}

impl fmt::Display for SigningSupport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SigningSupport::Supported => f.write_str("signing supported"),
            SigningSupport::NoDataVerification => {
                f.write_str("signing unsupported: EOPNOTSUPP (no CONFIG_SYSTEM_DATA_VERIFICATION)")
            }
            SigningSupport::NoKeys => f.write_str("signing unsupported: EINVAL (no CONFIG_KEYS)"),
            SigningSupport::PreSigning => {
                f.write_str("signing unsupported: E2BIG (kernel older than 6.18)")
            }
            SigningSupport::NoPermission => {
                f.write_str("probe not permitted: EPERM (needs CAP_BPF + CAP_PERFMON)")
            }
            SigningSupport::Unknown(e) => {
                write!(f, "signing state unknown: {} ({e})", errno_name(*e))
            }
        }
    }
}

/// What the probe found out about the running kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelProbe {
    family: Option<Protocol>,
    support: SigningSupport,
    evidence: String,
}

impl KernelProbe {
    /// The kernel's protocol family (P1, P1b or P2), when it could be told, even if signing is unusable.
    pub fn family(&self) -> Option<Protocol> {
        self.family
    }

    /// Whether signed loads can work.
    pub fn support(&self) -> SigningSupport {
        self.support
    }

    /// The signed protocol to use: the family when signing is supported.
    pub fn protocol(&self) -> Option<Protocol> {
        match self.support {
            SigningSupport::Supported => self.family,
            _ => None,
        }
    }

    /// How the result was reached (probe errnos, BTF finding), for diagnostics.
    pub fn evidence(&self) -> &str {
        &self.evidence
    }
}

impl fmt::Display for KernelProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.family {
            Some(p) => write!(f, "kernel protocol {p}, {}", self.support)?,
            None => write!(f, "kernel protocol unknown, {}", self.support)?,
        }
        // A P2 kernel is recognised by its metadata-map check, which runs before the signature is
        // parsed: unlike P1/P1b (EBADMSG), the PKCS#7 verification itself has not run yet.
        if self.family == Some(Protocol::P2) && self.support == SigningSupport::Supported {
            f.write_str(" (verification not yet exercised)")?;
        }
        write!(f, " ({})", self.evidence)
    }
}

/// Probes the running kernel and returns the result, cached for the process once it determined
/// the protocol family. A result without a family (for example EPERM: missing capability) is not
/// cached: the next call probes again.
///
/// Needs CAP_BPF (and CAP_PERFMON for the fallback probe); every probe fd is closed again.
pub fn probe() -> &'static KernelProbe {
    static CACHE: OnceLock<KernelProbe> = OnceLock::new();
    static UNDETERMINED: Mutex<Vec<&'static KernelProbe>> = Mutex::new(Vec::new());
    probe_cached(&CACHE, &UNDETERMINED, probe_uncached)
}

/// [`probe`] with its caches: `cache` keeps the first result with a family; a result without one
/// is interned in `undetermined` (one allocation per distinct result) and not cached.
fn probe_cached(
    cache: &'static OnceLock<KernelProbe>,
    undetermined: &'static Mutex<Vec<&'static KernelProbe>>,
    run: impl FnOnce() -> KernelProbe,
) -> &'static KernelProbe {
    if let Some(p) = cache.get() {
        return p;
    }
    let p = run();
    if p.family.is_some() {
        // A concurrent probe may have won; both saw the same kernel.
        return cache.get_or_init(|| p);
    }
    let mut seen = undetermined.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(&old) = seen.iter().find(|&&old| *old == p) {
        return old;
    }
    let leaked: &'static KernelProbe = Box::leak(Box::new(p));
    seen.push(leaked);
    leaked
}

/// Probes the running kernel without using or filling the cache.
pub fn probe_uncached() -> KernelProbe {
    probe_with(&RealKernel, || BtfBytes::open(VMLINUX_BTF))
}

/// The protocol a load will use: `explicit` if given, else `BPFSIGN_PROTOCOL`, else the probe's.
///
/// Fails when `BPFSIGN_PROTOCOL` holds an unknown value, or when signing is unusable and the probe
/// could not even tell the kernel's protocol family (then the error carries the probe's errno).
/// When signing is unusable but the family is known, the family is returned so the load itself
/// reports the kernel's errno (for example EOPNOTSUPP at [`Stage::ProgLoad`]).
pub fn selected_protocol(explicit: Option<Protocol>) -> Result<Protocol, Error> {
    select_with(
        explicit,
        std::env::var(PROTOCOL_ENV).ok().as_deref(),
        probe,
        &Ctx::default(),
    )
}

pub(crate) fn select_with<'p>(
    explicit: Option<Protocol>,
    env: Option<&str>,
    probe: impl FnOnce() -> &'p KernelProbe,
    ctx: &Ctx,
) -> Result<Protocol, Error> {
    if let Some(p) = explicit {
        return Ok(p);
    }
    if let Some(v) = env.filter(|v| !v.trim().is_empty()) {
        return v.parse().map_err(|e: crate::spec::UnknownProtocol| {
            Error::other(
                Stage::ProbeKernel,
                format!("{PROTOCOL_ENV}: {e}"),
                format!("set {PROTOCOL_ENV} to p1, p1b, p2 or unsigned, or unset it to probe the kernel"),
                ctx,
            )
        });
    }
    let probe = probe();
    if let Some(p) = probe.protocol() {
        return Ok(p);
    }
    match (probe.family, probe.support.errno()) {
        (Some(f), _) => Ok(f),
        (None, Some(errno)) => Err(Error::with_errno(
            Stage::ProbeKernel,
            errno,
            false,
            format!("{probe}"),
            ctx,
        )),
        (None, None) => Err(Error::other(
            Stage::ProbeKernel,
            format!("{probe}"),
            format!("set {PROTOCOL_ENV}=p1|p1b|p2|unsigned to choose the loader variant"),
            ctx,
        )),
    }
}

const INSN_MOV_R0_0: [u8; 8] = [0xb7, 0, 0, 0, 0, 0, 0, 0];
const INSN_EXIT: [u8; 8] = [0x95, 0, 0, 0, 0, 0, 0, 0];

/// The 64-byte "signature" of the probe: not ASN.1 (does not start with a SEQUENCE tag).
const JUNK_SIGNATURE: [u8; 64] = [0xa5; 64];

pub(crate) fn probe_with(
    sys: &dyn Sys,
    read_btf: impl FnOnce() -> io::Result<BtfBytes>,
) -> KernelProbe {
    let (support, p2, evidence) = junk_signature_probe(sys);
    let mut probe = KernelProbe {
        family: None,
        support,
        evidence,
    };
    if p2 {
        probe.family = Some(Protocol::P2);
        return probe;
    }
    // EBADMSG / EOPNOTSUPP / EINVAL come from kernels with the P1-era signature check; tell P1 from P1b.
    let p1_family = matches!(
        support,
        SigningSupport::Supported | SigningSupport::NoDataVerification | SigningSupport::NoKeys
    );
    if !p1_family {
        return probe;
    }
    let btf = read_btf().map_err(|e| e.to_string());
    if support == SigningSupport::NoKeys {
        // Without CONFIG_KEYS the probe fails before P2's metadata-map check, so EINVAL does not
        // tell the family. The weaker BTF hint (spec §7.2): only P2 kernels have struct bpf_fd_array.
        match btf
            .as_ref()
            .map(|b| find_struct(b.as_ref(), "bpf_fd_array").map(|s| s.is_some()))
        {
            Ok(Ok(true)) => {
                probe.family = Some(Protocol::P2);
                probe.evidence += "; vmlinux BTF: struct bpf_fd_array present (P2 kernel)";
                return probe;
            }
            Ok(Ok(false)) => probe.evidence += "; vmlinux BTF: no struct bpf_fd_array",
            // Reported by the excl check below.
            Ok(Err(_)) | Err(_) => {}
        }
    }
    match btf.and_then(|btf| {
        struct_member_bit_offset(btf.as_ref(), "bpf_map", "excl").map_err(|e| e.to_string())
    }) {
        Ok(Some(256)) => {
            probe.family = Some(Protocol::P1b);
            probe.evidence += "; vmlinux BTF: struct bpf_map.excl at bit 256";
        }
        Ok(Some(off)) => {
            // A differently placed `excl` is neither P1b layout nor P1; the P1 loader is the safe choice.
            probe.family = Some(Protocol::P1);
            probe.evidence +=
                &format!("; vmlinux BTF: struct bpf_map.excl at unexpected bit {off}");
        }
        Ok(None) => {
            probe.family = Some(Protocol::P1);
            probe.evidence += "; vmlinux BTF: struct bpf_map has no excl";
        }
        Err(btf_err) => {
            let (family, note) = if support == SigningSupport::Supported {
                excl_read_probe(sys)
            } else {
                (Protocol::P1, "behavioural probe skipped".to_string())
            };
            probe.family = Some(family);
            probe.evidence += &format!("; vmlinux BTF unusable ({btf_err}); {note}");
        }
    }
    probe
}

/// The one-element array map both behavioural probes pass to their program.
fn probe_map(sys: &dyn Sys) -> io::Result<std::os::fd::OwnedFd> {
    sys::map_create(
        sys,
        &MapCreate {
            map_type: sys::BPF_MAP_TYPE_ARRAY,
            key_size: 4,
            value_size: 8,
            max_entries: 1,
            map_flags: 0,
            name: "bpfsign_probe",
            excl_prog_hash: None,
        },
    )
}

/// Returns (support, is_p2, evidence).
fn junk_signature_probe(sys: &dyn Sys) -> (SigningSupport, bool, String) {
    let map = match probe_map(sys) {
        Ok(m) => m,
        Err(e) => {
            let errno = e.raw_os_error().unwrap_or(libc::EIO);
            let support = if errno == libc::EPERM || errno == libc::EACCES {
                SigningSupport::NoPermission
            } else {
                SigningSupport::Unknown(errno)
            };
            return (
                support,
                false,
                format!("probe map create: {}", errno_name(errno)),
            );
        }
    };
    let insns: Vec<u8> = [INSN_MOV_R0_0, INSN_EXIT].concat();
    let mut log = vec![0u8; 4096];
    let fds = [map.as_raw_fd()];
    let r = sys::prog_load(
        sys,
        &ProgLoad {
            prog_type: sys::BPF_PROG_TYPE_SYSCALL,
            expected_attach_type: 0,
            insns: &insns,
            license: c"GPL",
            prog_flags: sys::BPF_F_SLEEPABLE,
            name: "bpfsign_probe",
            fd_array: Some(&fds),
            fd_array_cnt: 1,
            signature: Some(&JUNK_SIGNATURE),
            keyring_id: 0,
            log: Some(LogBuf {
                level: 1,
                buf: log.as_mut_ptr(),
                size: log.len() as u32,
            }),
        },
    );
    drop(map);
    let errno = match r {
        Ok(prog) => {
            drop(prog);
            return (
                SigningSupport::Unknown(0),
                false,
                "junk-signature probe: the kernel accepted a junk signature".to_string(),
            );
        }
        Err(e) => e.raw_os_error().unwrap_or(libc::EIO),
    };
    let log_text = log_string(&log);
    let frozen = log_text.contains("must be frozen");
    let evidence = format!("junk-signature probe: {}", errno_name(errno))
        + if frozen { " \"must be frozen\"" } else { "" };
    let (support, p2) = match errno {
        libc::EPERM if frozen => (SigningSupport::Supported, true),
        libc::EBADMSG => (SigningSupport::Supported, false),
        libc::EOPNOTSUPP => (SigningSupport::NoDataVerification, false),
        libc::EINVAL => (SigningSupport::NoKeys, false),
        libc::E2BIG => (SigningSupport::PreSigning, false),
        libc::EPERM | libc::EACCES => (SigningSupport::NoPermission, false),
        e => (SigningSupport::Unknown(e), false),
    };
    (support, p2, evidence)
}

/// Unsigned SYSCALL program reading the u32 at `struct bpf_map` offset 32 (P1b: `excl`).
fn excl_read_probe(sys: &dyn Sys) -> (Protocol, String) {
    let map = match probe_map(sys) {
        Ok(m) => m,
        Err(e) => {
            return (
                Protocol::P1,
                format!("excl-read probe map failed ({e}); assuming P1, whose loader also runs on P1b kernels"),
            )
        }
    };
    let insns: Vec<u8> = [
        [0x18, 0x51, 0, 0, 0, 0, 0, 0], // r1 = map_by_idx(0)
        [0, 0, 0, 0, 0, 0, 0, 0],
        [0x61, 0x12, 32, 0, 0, 0, 0, 0], // r2 = *(u32 *)(r1 + 32)
        INSN_MOV_R0_0,
        INSN_EXIT,
    ]
    .concat();
    let fds = [map.as_raw_fd()];
    let r = sys::prog_load(
        sys,
        &ProgLoad {
            prog_type: sys::BPF_PROG_TYPE_SYSCALL,
            expected_attach_type: 0,
            insns: &insns,
            license: c"GPL",
            prog_flags: sys::BPF_F_SLEEPABLE,
            name: "bpfsign_probe",
            fd_array: Some(&fds),
            fd_array_cnt: 0,
            signature: None,
            keyring_id: 0,
            log: None,
        },
    );
    match r {
        Ok(prog) => {
            drop(prog);
            (Protocol::P1b, "excl-read probe loaded: P1b".to_string())
        }
        Err(e) if e.raw_os_error() == Some(libc::EACCES) => {
            (Protocol::P1, "excl-read probe: EACCES: P1".to_string())
        }
        Err(e) => (
            Protocol::P1,
            format!(
                "excl-read probe failed ({e}); assuming P1, whose loader also runs on P1b kernels"
            ),
        ),
    }
}

/// The text of a NUL-terminated log buffer.
pub(crate) fn log_string(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Malformed or unexpected BTF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BtfError(String);

impl fmt::Display for BtfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The bytes of vmlinux BTF: mapped read-only (Linux 6.16+ supports `mmap` of the sysfs file) or,
/// where mapping fails, read into memory.
pub(crate) enum BtfBytes {
    /// A private read-only mapping of `len` bytes, unmapped on drop.
    Mapped { ptr: NonNull<u8>, len: usize },
    /// The file's bytes read into memory.
    Read(Vec<u8>),
}

impl BtfBytes {
    /// Maps `path` read-only, or reads it when it cannot be mapped (older kernels, empty files).
    pub(crate) fn open(path: &str) -> io::Result<BtfBytes> {
        let file = std::fs::File::open(path)?;
        let len = usize::try_from(file.metadata()?.len()).unwrap_or(0);
        if len > 0 {
            // SAFETY: a fresh PROT_READ/MAP_PRIVATE mapping of an open file; the pointer is only
            // used through `as_ref` while `self` lives and unmapped once in `drop`.
            let ptr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE,
                    file.as_raw_fd(),
                    0,
                )
            };
            if ptr != libc::MAP_FAILED {
                if let Some(ptr) = NonNull::new(ptr.cast::<u8>()) {
                    return Ok(BtfBytes::Mapped { ptr, len });
                }
            }
        }
        // sysfs hands out at most a page per read(2); the size hint avoids regrowing the buffer.
        let mut buf = Vec::with_capacity(len);
        (&file).read_to_end(&mut buf)?;
        Ok(BtfBytes::Read(buf))
    }
}

impl From<Vec<u8>> for BtfBytes {
    fn from(v: Vec<u8>) -> Self {
        BtfBytes::Read(v)
    }
}

impl AsRef<[u8]> for BtfBytes {
    fn as_ref(&self) -> &[u8] {
        match self {
            // SAFETY: the mapping is `len` readable bytes until `drop`; nothing writes to it.
            BtfBytes::Mapped { ptr, len } => unsafe {
                std::slice::from_raw_parts(ptr.as_ptr(), *len)
            },
            BtfBytes::Read(v) => v,
        }
    }
}

impl Drop for BtfBytes {
    fn drop(&mut self) {
        if let BtfBytes::Mapped { ptr, len } = self {
            // SAFETY: unmaps exactly the mapping made in `open`, once.
            unsafe { libc::munmap(ptr.as_ptr().cast(), *len) };
        }
    }
}

fn rd32(b: &[u8], off: usize) -> Result<u32, BtfError> {
    off.checked_add(4)
        .and_then(|end| b.get(off..end))
        .map(|s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| BtfError(format!("truncated at byte {off}")))
}

/// Finds `struct <name>` in raw BTF and returns the bit offset of `member`, `None` if the struct
/// has no such member, an error if the struct is missing or the BTF is malformed.
pub(crate) fn struct_member_bit_offset(
    btf: &[u8],
    name: &str,
    member: &str,
) -> Result<Option<u32>, BtfError> {
    find_struct(btf, name)?
        .ok_or_else(|| BtfError(format!("struct {name} not found")))?
        .member_bit_offset(member)
}

/// One BTF struct found by [`find_struct`], borrowed from the raw BTF.
pub(crate) struct BtfStruct<'b> {
    /// The `vlen` 12-byte `btf_member` records.
    members: &'b [u8],
    kind_flag: bool,
    strs: &'b [u8],
}

impl BtfStruct<'_> {
    /// The bit offset of the first member called `member`, `None` if there is none.
    pub(crate) fn member_bit_offset(&self, member: &str) -> Result<Option<u32>, BtfError> {
        for m in self.members.chunks_exact(12) {
            if name_is(self.strs, rd32(m, 0)?, member) {
                let off = rd32(m, 8)?;
                // With kind_flag set, the top 8 bits hold the bitfield size.
                return Ok(Some(if self.kind_flag { off & 0xff_ffff } else { off }));
            }
        }
        Ok(None)
    }
}

/// Whether the NUL-terminated string at `off` in `strs` is exactly `name`, compared in place.
fn name_is(strs: &[u8], off: u32, name: &str) -> bool {
    let n = name.len();
    match strs.get(off as usize..).and_then(|s| s.get(..=n)) {
        Some(s) => s[n] == 0 && &s[..n] == name.as_bytes(),
        None => false,
    }
}

/// The first `struct <name>` in raw BTF; `None` if there is no such struct, an error if the BTF
/// is malformed. Scans the type section in place and stops at the match: types are skipped by
/// their kind and `vlen`, and only STRUCT names are compared (without building anything).
pub(crate) fn find_struct<'b>(
    btf: &'b [u8],
    name: &str,
) -> Result<Option<BtfStruct<'b>>, BtfError> {
    let magic = btf
        .get(0..2)
        .map(|m| u16::from_ne_bytes([m[0], m[1]]))
        .ok_or_else(|| BtfError("empty".into()))?;
    if magic != 0xeb9f {
        return Err(BtfError(format!("bad magic {magic:#x}")));
    }
    let hdr_len = rd32(btf, 4)? as usize;
    let section = |off_at: usize, what: &str| -> Result<&'b [u8], BtfError> {
        let (off, len) = (rd32(btf, off_at)? as usize, rd32(btf, off_at + 4)? as usize);
        hdr_len
            .checked_add(off)
            .and_then(|start| Some(start..start.checked_add(len)?))
            .and_then(|r| btf.get(r))
            .ok_or_else(|| BtfError(format!("{what} section out of bounds")))
    };
    let types = section(8, "type")?;
    let strs = section(16, "string")?;
    let mut pos = 0usize;
    while pos < types.len() {
        let name_off = rd32(types, pos)?;
        let info = rd32(types, pos + 4)?;
        let vlen = (info & 0xffff) as usize;
        let kind = (info >> 24) & 0x1f;
        let body = pos + 12;
        let extra = match kind {
            1 | 14 | 17 => 4,             // INT, VAR, DECL_TAG
            3 => 12,                      // ARRAY
            4 | 5 | 15 | 19 => vlen * 12, // STRUCT, UNION, DATASEC, ENUM64
            6 | 13 => vlen * 8,           // ENUM, FUNC_PROTO
            2 | 7..=12 | 16 | 18 => 0, // PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FLOAT, TYPE_TAG
            k => return Err(BtfError(format!("unknown BTF kind {k} at type byte {pos}"))),
        };
        let end = body + extra;
        if kind == 4 && name_is(strs, name_off, name) {
            let members = types
                .get(body..end)
                .ok_or_else(|| BtfError(format!("struct {name} truncated at byte {pos}")))?;
            return Ok(Some(BtfStruct {
                members,
                kind_flag: info >> 31 == 1,
                strs,
            }));
        }
        pos = end;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeKernel;

    /// Builds a BTF blob with `int` and `struct bpf_map { u8 sha[32] (as int); <member> }`.
    fn btf(member: &str, bit_off: u32, kind_flag: bool) -> Vec<u8> {
        btf_struct("bpf_map", member, bit_off, kind_flag)
    }

    /// Builds a BTF blob with `int` and `struct <sname> { sha (as int); <member> }`.
    fn btf_struct(sname: &str, member: &str, bit_off: u32, kind_flag: bool) -> Vec<u8> {
        let mut strs = b"\0int\0".to_vec();
        let sname_off = strs.len() as u32;
        strs.extend_from_slice(sname.as_bytes());
        strs.push(0);
        let sha_off = strs.len() as u32;
        strs.extend_from_slice(b"sha\0");
        let member_off = strs.len() as u32;
        strs.extend_from_slice(member.as_bytes());
        strs.push(0);
        let mut types = Vec::new();
        let w = |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&x.to_ne_bytes());
        // [1] INT "int" size 4
        w(&mut types, 1);
        w(&mut types, 1 << 24);
        w(&mut types, 4);
        w(&mut types, 32);
        // [2] PTR -> 1 (padding kind)
        w(&mut types, 0);
        w(&mut types, 2 << 24);
        w(&mut types, 1);
        // [3] STRUCT <sname>, 2 members
        w(&mut types, sname_off);
        w(
            &mut types,
            (4 << 24) | 2 | if kind_flag { 1 << 31 } else { 0 },
        );
        w(&mut types, 64);
        for (n, off) in [(sha_off, 0u32), (member_off, bit_off)] {
            w(&mut types, n);
            w(&mut types, 1);
            w(&mut types, off);
        }
        let mut out = Vec::new();
        out.extend_from_slice(&0xeb9fu16.to_ne_bytes());
        out.push(1);
        out.push(0);
        w(&mut out, 24);
        w(&mut out, 0);
        w(&mut out, types.len() as u32);
        w(&mut out, types.len() as u32);
        w(&mut out, strs.len() as u32);
        out.extend_from_slice(&types);
        out.extend_from_slice(&strs);
        out
    }

    #[test]
    fn btf_finds_excl() {
        assert_eq!(
            struct_member_bit_offset(&btf("excl", 256, false), "bpf_map", "excl"),
            Ok(Some(256))
        );
        assert_eq!(
            struct_member_bit_offset(&btf("excl", 256, true), "bpf_map", "excl"),
            Ok(Some(256))
        );
        assert_eq!(
            struct_member_bit_offset(&btf("ops", 256, false), "bpf_map", "excl"),
            Ok(None)
        );
        assert!(struct_member_bit_offset(&btf("excl", 256, false), "bpf_prog", "excl").is_err());
    }

    #[test]
    fn btf_rejects_garbage_without_panicking() {
        let good = btf("excl", 256, false);
        for cut in 0..good.len() {
            let _ = struct_member_bit_offset(&good[..cut], "bpf_map", "excl");
        }
        let mut bad = good.clone();
        bad[4..8].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert!(struct_member_bit_offset(&bad, "bpf_map", "excl").is_err());
        assert!(struct_member_bit_offset(b"\x9f\xeb", "bpf_map", "excl").is_err());
    }

    #[test]
    fn host_btf_if_present() {
        // Not a kernel test: only parses the file when it exists, mapped and read.
        if let Ok(read) = std::fs::read(VMLINUX_BTF) {
            let r = struct_member_bit_offset(&read, "bpf_map", "excl");
            assert!(r.is_ok(), "{r:?}");
            let opened = BtfBytes::open(VMLINUX_BTF).unwrap();
            assert_eq!(opened.as_ref(), &read[..]);
            assert_eq!(
                struct_member_bit_offset(opened.as_ref(), "bpf_map", "excl"),
                r
            );
        }
    }

    /// Appends one BTF type record: name offset, info (kind, vlen, kind_flag) and the `u32` words
    /// that follow it (size/type and the kind's trailing records).
    fn ty(out: &mut Vec<u8>, name_off: u32, kind: u32, vlen: u32, words: &[u32]) {
        for w in [name_off, (kind << 24) | vlen]
            .into_iter()
            .chain(words.iter().copied())
        {
            out.extend_from_slice(&w.to_ne_bytes());
        }
    }

    /// A BTF blob from a type section and a string section.
    fn raw_btf(types: &[u8], strs: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&0xeb9fu16.to_ne_bytes());
        out.extend_from_slice(&[1, 0]);
        for w in [
            24,
            0,
            types.len() as u32,
            types.len() as u32,
            strs.len() as u32,
        ] {
            out.extend_from_slice(&w.to_ne_bytes());
        }
        out.extend_from_slice(types);
        out.extend_from_slice(strs);
        out
    }

    #[test]
    fn btf_scan_skips_every_kind_and_finds_a_struct_at_the_end() {
        // Offsets: 1 "bpf_map_ops", 13 "bpf_map", 21 "excl", 26 "x".
        let strs = b"\0bpf_map_ops\0bpf_map\0excl\0x\0";
        let mut t = Vec::new();
        ty(&mut t, 26, 1, 0, &[4, 32]); // [1] INT
        ty(&mut t, 0, 2, 0, &[1]); // PTR
        ty(&mut t, 0, 3, 0, &[0, 1, 1, 4]); // ARRAY
        ty(&mut t, 13, 5, 1, &[8, 21, 1, 256]); // UNION "bpf_map": not a struct
        ty(&mut t, 13, 6, 2, &[4, 26, 0, 21, 1]); // ENUM "bpf_map" with 2 values
        ty(&mut t, 13, 7, 0, &[0]); // FWD "bpf_map"
        ty(&mut t, 13, 8, 0, &[1]); // TYPEDEF "bpf_map"
        ty(&mut t, 0, 13, 2, &[1, 0, 1, 0, 1]); // FUNC_PROTO, 2 params
        ty(&mut t, 26, 12, 0, &[8]); // FUNC
        ty(&mut t, 26, 14, 0, &[1, 1]); // VAR
        ty(&mut t, 26, 15, 1, &[8, 10, 0, 4]); // DATASEC, 1 var
        ty(&mut t, 26, 16, 0, &[8]); // FLOAT
        ty(&mut t, 26, 17, 0, &[1, u32::MAX]); // DECL_TAG
        ty(&mut t, 26, 18, 0, &[1]); // TYPE_TAG
        ty(&mut t, 26, 19, 1, &[8, 21, 0, 0]); // ENUM64, 1 value
                                               // STRUCT "bpf_map_ops" shares the prefix and has `excl` elsewhere.
        ty(&mut t, 1, 4, 1, &[8, 21, 1, 64]);
        let prefix_only = raw_btf(&t, strs);
        assert_eq!(
            struct_member_bit_offset(&prefix_only, "bpf_map", "excl"),
            Err(BtfError("struct bpf_map not found".into()))
        );
        assert_eq!(
            struct_member_bit_offset(&prefix_only, "bpf_map_ops", "excl"),
            Ok(Some(64))
        );
        // The real one is the last type.
        ty(&mut t, 13, 4, 2, &[64, 26, 1, 0, 21, 1, 256]);
        let full = raw_btf(&t, strs);
        assert_eq!(
            struct_member_bit_offset(&full, "bpf_map", "excl"),
            Ok(Some(256))
        );
        assert_eq!(struct_member_bit_offset(&full, "bpf_map", "exc"), Ok(None));
        assert_eq!(struct_member_bit_offset(&full, "bpf_ma", "excl").ok(), None);
        // Every truncation of the type section is an error or a miss, never a panic or a hit.
        for cut in 0..t.len() {
            let r = struct_member_bit_offset(&raw_btf(&t[..cut], strs), "bpf_map", "excl");
            assert!(r.is_err(), "cut {cut}: {r:?}");
        }
    }

    #[test]
    fn btf_scan_rejects_malformed_names_and_sizes() {
        let mut t = Vec::new();
        // A name offset past the string section and a name missing its NUL never match.
        ty(&mut t, 1000, 4, 0, &[0]);
        ty(&mut t, u32::MAX, 4, 0, &[0]);
        ty(&mut t, 1, 4, 0, &[0]);
        let b = raw_btf(&t, b"\0bpf_map");
        assert_eq!(find_struct(&b, "bpf_map").map(|s| s.is_some()), Ok(false));
        // A struct whose vlen runs past the type section is an error, not a short member list.
        let mut t = Vec::new();
        ty(&mut t, 1, 4, 0xffff, &[8, 1, 1, 0]);
        let b = raw_btf(&t, b"\0bpf_map\0");
        assert!(find_struct(&b, "bpf_map").is_err());
        // An unknown kind stops the scan.
        let mut t = Vec::new();
        ty(&mut t, 0, 31, 0, &[]);
        ty(&mut t, 1, 4, 0, &[0]);
        let e = find_struct(&raw_btf(&t, b"\0bpf_map\0"), "bpf_map")
            .err()
            .unwrap();
        assert!(e.to_string().contains("unknown BTF kind 31"), "{e}");
        // Section offsets that overflow or point outside the blob.
        let mut b = raw_btf(&t, b"\0bpf_map\0");
        b[16..20].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert!(find_struct(&b, "bpf_map").is_err());
        // Pseudo-random garbage after a valid header: errors or misses, no panic.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for len in [0usize, 3, 12, 100, 4096] {
            for _ in 0..64 {
                let garbage: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x as u8
                    })
                    .collect();
                let _ = struct_member_bit_offset(
                    &raw_btf(&garbage, b"\0bpf_map\0excl\0"),
                    "bpf_map",
                    "excl",
                );
            }
        }
    }

    #[test]
    fn btf_bytes_open_maps_or_reads_files() {
        let dir = std::env::temp_dir().join(format!("bpfsign-btf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let full = dir.join("btf");
        let blob = btf("excl", 256, false);
        std::fs::write(&full, &blob).unwrap();
        let opened = BtfBytes::open(full.to_str().unwrap()).unwrap();
        assert!(matches!(opened, BtfBytes::Mapped { .. }));
        assert_eq!(opened.as_ref(), &blob[..]);
        let empty = dir.join("empty");
        std::fs::write(&empty, b"").unwrap();
        let opened_empty = BtfBytes::open(empty.to_str().unwrap()).unwrap();
        assert!(matches!(opened_empty, BtfBytes::Read(ref v) if v.is_empty()));
        let missing = BtfBytes::open(dir.join("missing").to_str().unwrap());
        assert_eq!(
            missing.err().map(|e| e.kind()),
            Some(io::ErrorKind::NotFound)
        );
        drop(opened);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn fake_probe(
        script: Vec<Option<(i32, &str)>>,
        btf_bytes: Option<Vec<u8>>,
    ) -> (KernelProbe, FakeKernel) {
        let k = FakeKernel::new().prog_load_script(script);
        let p = probe_with(&k, || {
            btf_bytes
                .map(BtfBytes::from)
                .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))
        });
        assert!(k.open_objects().is_empty(), "probe leaked fds");
        (p, k)
    }

    #[test]
    fn probe_p2() {
        let (p, k) = fake_probe(
            vec![Some((
                libc::EPERM,
                "signed program metadata map 'bpfsign_probe' must be frozen",
            ))],
            None,
        );
        assert_eq!(p.protocol(), Some(Protocol::P2));
        let calls = k.calls();
        assert_eq!(k.cmds(), [sys::BPF_MAP_CREATE, sys::BPF_PROG_LOAD]);
        let load = &calls[1];
        assert_eq!(load.attr.len(), 168);
        assert_eq!(load.u32(0), sys::BPF_PROG_TYPE_SYSCALL);
        assert_eq!(load.u32(44), sys::BPF_F_SLEEPABLE);
        assert_eq!(load.u32(148), 1, "fd_array_cnt");
        assert_eq!(load.u32(160), 64, "signature_size");
        assert_eq!(load.u32(164), 0, "keyring_id builtin");
        assert_eq!(load.signature.as_deref(), Some(&JUNK_SIGNATURE[..]));
        assert_eq!(load.license.as_deref(), Some("GPL"));
        // The probe map is neither exclusive nor frozen.
        assert_eq!(calls[0].excl_hash, None);
        assert!(!k.cmds().contains(&sys::BPF_MAP_FREEZE));
    }

    #[test]
    fn probe_p1_p1b_via_btf() {
        let (p, _) = fake_probe(
            vec![Some((libc::EBADMSG, ""))],
            Some(btf("excl", 256, false)),
        );
        assert_eq!(p.protocol(), Some(Protocol::P1b));
        let (p, _) = fake_probe(
            vec![Some((libc::EBADMSG, ""))],
            Some(btf("ops", 256, false)),
        );
        assert_eq!(p.protocol(), Some(Protocol::P1));
    }

    #[test]
    fn probe_p1_p1b_behavioural_fallback() {
        let (p, k) = fake_probe(vec![Some((libc::EBADMSG, "")), None], None);
        assert_eq!(p.protocol(), Some(Protocol::P1b));
        let calls = k.calls();
        let excl = calls.last().unwrap();
        assert_eq!(excl.u32(148), 0);
        assert_eq!(excl.u64(152), 0, "no signature");
        assert_eq!(
            &excl.insns.as_ref().unwrap()[16..24],
            &[0x61, 0x12, 32, 0, 0, 0, 0, 0]
        );
        let (p, _) = fake_probe(
            vec![Some((libc::EBADMSG, "")), Some((libc::EACCES, ""))],
            None,
        );
        assert_eq!(p.protocol(), Some(Protocol::P1));
    }

    #[test]
    fn probe_unsupported_states() {
        let (p, _) = fake_probe(
            vec![Some((libc::EOPNOTSUPP, ""))],
            Some(btf("excl", 256, false)),
        );
        assert_eq!(p.support(), SigningSupport::NoDataVerification);
        assert_eq!(p.family(), Some(Protocol::P1b));
        assert_eq!(p.protocol(), None);
        let (p, _) = fake_probe(vec![Some((libc::E2BIG, ""))], None);
        assert_eq!(p.support(), SigningSupport::PreSigning);
        assert_eq!(p.family(), None);
        let (p, _) = fake_probe(vec![Some((libc::EINVAL, ""))], Some(btf("ops", 256, false)));
        assert_eq!(p.support(), SigningSupport::NoKeys);
        let (p, _) = fake_probe(vec![Some((libc::EPERM, ""))], None);
        assert_eq!(p.support(), SigningSupport::NoPermission);
        let k = FakeKernel::new().fail(sys::BPF_MAP_CREATE, 0, libc::EPERM);
        let p = probe_with(&k, || Err(io::Error::from_raw_os_error(libc::ENOENT)));
        assert_eq!(p.support(), SigningSupport::NoPermission);
    }

    #[test]
    fn selection_precedence() {
        let unsupported = KernelProbe {
            family: None,
            support: SigningSupport::PreSigning,
            evidence: String::new(),
        };
        let ctx = Ctx::default();
        assert_eq!(
            select_with(Some(Protocol::P1), Some("p2"), || &unsupported, &ctx).unwrap(),
            Protocol::P1
        );
        assert_eq!(
            select_with(None, Some("P1B"), || &unsupported, &ctx).unwrap(),
            Protocol::P1b
        );
        let e = select_with(None, Some("p3"), || &unsupported, &ctx).unwrap_err();
        assert_eq!(e.stage(), Stage::ProbeKernel);
        assert!(e.to_string().contains("p3"));
        let e = select_with(None, None, || &unsupported, &ctx).unwrap_err();
        assert_eq!(e.errno(), Some(libc::E2BIG));
        let host = KernelProbe {
            family: Some(Protocol::P1b),
            support: SigningSupport::NoDataVerification,
            evidence: String::new(),
        };
        assert_eq!(
            select_with(None, Some(""), || &host, &ctx).unwrap(),
            Protocol::P1b
        );
    }

    #[test]
    fn einval_uses_bpf_fd_array_hint() {
        let (p, _) = fake_probe(
            vec![Some((libc::EINVAL, ""))],
            Some(btf_struct("bpf_fd_array", "cnt", 0, false)),
        );
        assert_eq!(p.support(), SigningSupport::NoKeys);
        assert_eq!(p.family(), Some(Protocol::P2), "{p}");
        assert_eq!(p.protocol(), None);
        assert!(p.evidence().contains("bpf_fd_array"), "{p}");
        // Without the struct the P1/P1b decision stands.
        let (p, _) = fake_probe(
            vec![Some((libc::EINVAL, ""))],
            Some(btf("excl", 256, false)),
        );
        assert_eq!(p.family(), Some(Protocol::P1b), "{p}");
        assert!(p.evidence().contains("no struct bpf_fd_array"), "{p}");
        // The hint is only for EINVAL: EBADMSG kernels are P1/P1b whatever the BTF says.
        let (p, _) = fake_probe(
            vec![Some((libc::EBADMSG, "")), Some((libc::EACCES, ""))],
            Some(btf_struct("bpf_fd_array", "cnt", 0, false)),
        );
        assert_eq!(p.family(), Some(Protocol::P1), "{p}");
    }

    #[test]
    fn p2_support_says_verification_not_exercised() {
        let (p, _) = fake_probe(vec![Some((libc::EPERM, "must be frozen"))], None);
        assert_eq!(p.support(), SigningSupport::Supported);
        assert!(
            p.to_string()
                .contains("signing supported (verification not yet exercised)"),
            "{p}"
        );
        let (p, _) = fake_probe(
            vec![Some((libc::EBADMSG, ""))],
            Some(btf("excl", 256, false)),
        );
        assert!(!p.to_string().contains("not yet exercised"), "{p}");
    }

    #[test]
    fn only_results_with_a_family_are_cached() {
        static CACHE: OnceLock<KernelProbe> = OnceLock::new();
        static UNDETERMINED: Mutex<Vec<&'static KernelProbe>> = Mutex::new(Vec::new());
        let no_perm = || {
            let k = FakeKernel::new().fail(sys::BPF_MAP_CREATE, 0, libc::EPERM);
            probe_with(&k, || Err(io::Error::from_raw_os_error(libc::ENOENT)))
        };
        let first = probe_cached(&CACHE, &UNDETERMINED, no_perm);
        assert_eq!(first.support(), SigningSupport::NoPermission);
        // Not cached: the next call probes again (and reuses the interned equal result).
        let mut ran = false;
        let second = probe_cached(&CACHE, &UNDETERMINED, || {
            ran = true;
            no_perm()
        });
        assert!(ran, "a probe without a family must not be cached");
        assert!(std::ptr::eq(first, second));
        assert_eq!(UNDETERMINED.lock().unwrap().len(), 1);
        // Now the kernel answers; that result is cached for good.
        let p2 = probe_cached(&CACHE, &UNDETERMINED, || {
            let k = FakeKernel::new().prog_load_script(vec![Some((libc::EPERM, "must be frozen"))]);
            probe_with(&k, || Err(io::Error::from_raw_os_error(libc::ENOENT)))
        });
        assert_eq!(p2.protocol(), Some(Protocol::P2));
        let again = probe_cached(&CACHE, &UNDETERMINED, || {
            panic!("cached result must be used")
        });
        assert!(std::ptr::eq(p2, again));
    }

    #[test]
    fn junk_signature_is_not_asn1_sequence() {
        assert_ne!(JUNK_SIGNATURE[0], 0x30);
    }
}
