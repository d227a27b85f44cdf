//! Which signing protocol does the running kernel speak? (docs/protocol.md §7)
//!
//! 1. A side-effect-free junk-signature `BPF_PROG_LOAD` tells P2 kernels (EPERM "must be frozen")
//!    from P1/P1b kernels (EBADMSG), and recognises kernels where signing is unusable (EOPNOTSUPP:
//!    no `CONFIG_SYSTEM_DATA_VERIFICATION`; EINVAL: no `CONFIG_KEYS`; E2BIG: pre-6.18).
//! 2. P1 vs P1b: `struct bpf_map` in `/sys/kernel/btf/vmlinux` has a member `excl` at bit offset
//!    256 only on P1b kernels. The file is mapped (read where mapping fails) and its type section
//!    scanned in place up to that struct, nothing built ([`crate::btf_scan`]). If BTF cannot be
//!    read, an unsigned program reading `map->excl` decides (loads on P1b, EACCES on P1).
//!
//! 3. On EINVAL (no `CONFIG_KEYS`), where the junk-signature probe cannot tell P2 from P1/P1b,
//!    `struct bpf_fd_array` in vmlinux BTF (present only on P2 kernels) marks the P2 family.
//!
//! A result that determined the protocol family is cached per process; one that did not (for
//! example a missing capability) is probed again next time. `BPFSIGN_PROTOCOL=p1|p1b|p2` skips
//! probing (`unsigned` too, but only a skeleton built with `allow_unsigned` embeds that loader).

use std::fmt;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::{Mutex, OnceLock, PoisonError};

use crate::btf_scan::{find_struct, struct_member_bit_offset, BtfBytes, VMLINUX_BTF};
use crate::error::{errno_name, Ctx, Error, Stage};
use crate::spec::Protocol;
use crate::sys::{self, LogBuf, MapCreate, ProgLoad, RealKernel, Sys};
use crate::timing::timed;

/// The environment variable that overrides the probe.
pub const PROTOCOL_ENV: &str = "BPFSIGN_PROTOCOL";

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
    /// Whether the kernel accepted a signed loader (docs/protocol.md §7.10), which verified a
    /// valid signature, rather than answering the probe.
    by_load: bool,
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
        if self.family == Some(Protocol::P2)
            && self.support == SigningSupport::Supported
            && !self.by_load
        {
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
    probe_cached(&CACHE, &UNDETERMINED, probe_uncached)
}

/// The process's result once a probe or a load determined the protocol family.
static CACHE: OnceLock<KernelProbe> = OnceLock::new();
/// Results without a family, interned (see [`probe_cached`]).
static UNDETERMINED: Mutex<Vec<&'static KernelProbe>> = Mutex::new(Vec::new());

/// The cached result, if a probe or a confirmed load of this process already determined the
/// protocol family; probes nothing.
pub(crate) fn cached() -> Option<&'static KernelProbe> {
    CACHE.get()
}

/// Records that the kernel accepted a signed `protocol` loader (docs/protocol.md §7.10): that
/// proves the family and that the kernel verified a valid signature, so later loads and
/// [`probe`] use it without probing. It does not show that a bad signature would be refused: a
/// kernel that accepts any signature (which the probe's junk-signature test reports as
/// [`SigningSupport::Unknown`]`(0)`) goes unnoticed; calling [`probe`] before the first load
/// runs that test. A result cached before (a concurrent load or probe) stays.
pub(crate) fn confirm(protocol: Protocol, evidence: String) -> &'static KernelProbe {
    confirm_in(&CACHE, protocol, evidence)
}

/// [`confirm`] with its cache.
fn confirm_in(cache: &OnceLock<KernelProbe>, protocol: Protocol, evidence: String) -> &KernelProbe {
    cache.get_or_init(|| KernelProbe {
        family: Some(protocol),
        support: SigningSupport::Supported,
        evidence,
        by_load: true,
    })
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
                format!("set {PROTOCOL_ENV} to p1, p1b or p2, or unset it to probe the kernel"),
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
            format!("set {PROTOCOL_ENV}=p1|p1b|p2 to choose the loader variant"),
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
    let (support, p2, evidence) = timed("probe:junk-signature", || junk_signature_probe(sys));
    let mut probe = KernelProbe {
        family: None,
        support,
        evidence,
        by_load: false,
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
    let btf = timed("probe:btf-open", read_btf).map_err(|e| e.to_string());
    if support == SigningSupport::NoKeys {
        // Without CONFIG_KEYS the probe fails before P2's metadata-map check, so EINVAL does not
        // tell the family. The weaker BTF hint (docs/protocol.md §7.2): only P2 kernels have struct bpf_fd_array.
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
    match btf_p1_family(btf) {
        Ok((family, note)) => {
            probe.family = Some(family);
            probe.evidence += &format!("; {note}");
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

/// P1 or P1b from vmlinux BTF (docs/protocol.md §7.3): P1b when `struct bpf_map` has `excl` at bit
/// 256, else P1 (a differently placed `excl` is neither P1b layout nor P1; the P1 loader, which
/// does not read it, is the safe choice). Returns the family and the finding, or why BTF was
/// unusable. The mapping is released before returning.
pub(crate) fn btf_p1_family(btf: Result<BtfBytes, String>) -> Result<(Protocol, String), String> {
    let btf = btf?;
    let found = timed("probe:btf-scan", || {
        struct_member_bit_offset(btf.as_ref(), "bpf_map", "excl")
    });
    timed("probe:btf-close", || drop(btf));
    Ok(match found.map_err(|e| e.to_string())? {
        Some(256) => (
            Protocol::P1b,
            "vmlinux BTF: struct bpf_map.excl at bit 256".to_string(),
        ),
        Some(off) => (
            Protocol::P1,
            format!("vmlinux BTF: struct bpf_map.excl at unexpected bit {off}"),
        ),
        None => (
            Protocol::P1,
            "vmlinux BTF: struct bpf_map has no excl".to_string(),
        ),
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btf_scan::testing::{btf, btf_struct};
    use crate::fake::FakeKernel;

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
            by_load: false,
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
            by_load: false,
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
        // A P2 kernel that accepted a signed loader has exercised the verification.
        let p = KernelProbe {
            family: Some(Protocol::P2),
            support: SigningSupport::Supported,
            evidence: "the kernel accepted the signed p2 loader".into(),
            by_load: true,
        };
        assert!(!p.to_string().contains("not yet exercised"), "{p}");
        assert_eq!(p.protocol(), Some(Protocol::P2));
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
    fn a_confirmed_load_is_cached_and_never_replaced() {
        static CACHE: OnceLock<KernelProbe> = OnceLock::new();
        static UNDETERMINED: Mutex<Vec<&'static KernelProbe>> = Mutex::new(Vec::new());
        let confirmed = confirm_in(&CACHE, Protocol::P1b, "accepted".into());
        assert_eq!(confirmed.protocol(), Some(Protocol::P1b));
        assert_eq!(confirmed.support(), SigningSupport::Supported);
        assert!(confirmed.by_load);
        // Later probes use it without probing.
        let probed = probe_cached(&CACHE, &UNDETERMINED, || {
            panic!("a confirmed protocol must not be probed again")
        });
        assert!(std::ptr::eq(confirmed, probed));
        // A second confirmation (a concurrent first load) does not replace the first.
        let again = confirm_in(&CACHE, Protocol::P2, "other".into());
        assert!(std::ptr::eq(confirmed, again));
        assert_eq!(again.protocol(), Some(Protocol::P1b));
    }

    #[test]
    fn junk_signature_is_not_asn1_sequence() {
        assert_ne!(JUNK_SIGNATURE[0], 0x30);
    }
}
