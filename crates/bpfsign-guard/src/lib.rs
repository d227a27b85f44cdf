//! bpfsign-guard: a BPF LSM policy, signed with *your* key, that makes the kernel refuse every BPF
//! program load from user space that carries no verified signature — and the API to install it
//! pinned, read its status and remove it.
//!
//! The guard is one program on the `lsm/bpf_prog_load` hook (`src/bpf/guard.bpf.c`, compiled by
//! this crate's build script). It allows a load when
//!
//! * the kernel issues it (`kernel == true`): the inner loads of a verified light-skeleton
//!   loader, made through `bpf_sys_bpf`;
//! * it carries a signature (`attr->signature != 0`): the kernel verifies every signature it is
//!   given and fails the load when it does not verify, so a signed load that gets past the hook
//!   is a verified load (6.18 and 7.2 check in `bpf_prog_load`, 7.3 in `bpf_check` before the
//!   hook). Where the kernel records the outcome (`prog->aux->sig`, 7.2+, found with CO-RE) the
//!   keyring kind and serial come from there, else from `attr->keyring_id`;
//!
//! and, when a keyring filter is set, only if the signature was checked against an accepted
//! keyring. Everything else gets `EPERM` (or, in audit mode, is allowed and recorded). Each
//! refused or audited load is recorded with pid, uid, comm and program type; counters of allowed
//! and refused loads are kept in the program's maps and read back by [`Guard::status`].
//!
//! The guard is signed at *your* build: [`signed_guard!`] runs `include_signed_skel!` in your
//! crate on the object this crate compiled, with the key you name.
//!
//! ```no_run
//! # macro_rules! signed_guard { (key = $k:expr) => { unimplemented!() } }
//! use bpfsign_guard::{Guard, DEFAULT_PIN};
//! let spec = signed_guard!(key = env!("BPF_KEY"));
//! let status = Guard::builder(spec).audit(false).install_pinned(DEFAULT_PIN)?;
//! println!("guard active, program id {}", status.prog_id);
//! # Ok::<(), bpfsign_guard::GuardError>(())
//! ```
//!
//! Limits (see the README section "Enforcing signed BPF"): root can remove the pin (and so the
//! guard); the kernel must run the BPF LSM (`bpf` in `/sys/kernel/security/lsm`); programs
//! loaded before the guard keep running; and a program loaded earlier that can issue loads
//! from the kernel (`bpf_sys_bpf`) is trusted as a loader.

#![deny(missing_docs)]

mod sys;

use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use bpfsign_runtime::{Keyring, LoadOptions, SkeletonSpec};

include!(concat!(env!("OUT_DIR"), "/guard_macro.rs"));

/// Where `example-hello --guard` pins the guard's link.
pub const DEFAULT_PIN: &str = "/sys/fs/bpf/bpfsign-guard";

/// The guard program's name as the kernel reports it.
pub const PROG_NAME: &str = "bpfsign_guard";

const MAP_CONFIG: &str = "guard_config";
const MAP_COUNTERS: &str = "guard_counters";
const MAP_RECORDS: &str = "guard_records";
/// Slots of the counters map (must match guard.bpf.c).
const C_ALLOWED_SIGNED: u32 = 0;
const C_ALLOWED_KERNEL: u32 = 1;
const C_DENIED: u32 = 2;
const C_AUDITED: u32 = 3;
const C_WRONG_KEYRING: u32 = 4;
const C_RECORDS: u32 = 5;
const MAX_RECORDS: u32 = 32;
const CONFIG_SIZE: usize = 16;
const RECORD_SIZE: usize = 48;

/// A keyring kind the guard can require signatures to be checked against (the kernel's
/// `enum bpf_sig_keyring`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyringKind {
    /// `.builtin_trusted_keys` (`keyring_id` 0).
    Builtin,
    /// `.secondary_trusted_keys` (`keyring_id` 1).
    Secondary,
    /// `.platform` (`keyring_id` 2).
    Platform,
    /// Any other keyring (session, user, or a serial).
    User,
}

impl KeyringKind {
    fn bit(self) -> u32 {
        1 << match self {
            KeyringKind::Builtin => 1,
            KeyringKind::Secondary => 2,
            KeyringKind::Platform => 3,
            KeyringKind::User => 4,
        }
    }

    const ALL: [KeyringKind; 4] = [
        KeyringKind::Builtin,
        KeyringKind::Secondary,
        KeyringKind::Platform,
        KeyringKind::User,
    ];
}

/// Errors of installing, reading or removing the guard.
#[derive(Debug)]
pub enum GuardError {
    /// Loading or attaching the signed guard failed (signature rejected, no BPF LSM, ...).
    Load(bpfsign_runtime::Error),
    /// Something is already pinned at the path.
    AlreadyInstalled(String),
    /// The object pinned at the path is not a bpfsign guard link.
    NotAGuard(String),
    /// The BPF LSM is not active (`bpf` is missing from the list in
    /// `/sys/kernel/security/lsm`, given here): an attached guard would never run.
    NoBpfLsm(String),
    /// A `bpf(2)` call or file operation failed.
    Sys {
        /// What was being done.
        what: String,
        /// The OS error.
        source: io::Error,
    },
}

impl GuardError {
    fn sys(what: impl Into<String>, source: io::Error) -> Self {
        GuardError::Sys {
            what: what.into(),
            source,
        }
    }

    /// The errno behind the error, if there is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            GuardError::Load(e) => e.errno(),
            GuardError::Sys { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

impl fmt::Display for GuardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GuardError::Load(e) => write!(f, "loading the guard: {e}"),
            GuardError::AlreadyInstalled(p) => {
                write!(
                    f,
                    "{p} already exists (a guard is installed; remove it first)"
                )
            }
            GuardError::NotAGuard(p) => write!(f, "{p} is not a pinned bpfsign guard link"),
            GuardError::NoBpfLsm(list) => write!(
                f,
                "the BPF LSM is not active (active LSMs: {list}): boot with `bpf` added to lsm= \
                 (for example lsm={list},bpf)"
            ),
            GuardError::Sys { what, source } => write!(f, "{what}: {source}"),
        }
    }
}

impl std::error::Error for GuardError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GuardError::Load(e) => Some(e),
            GuardError::Sys { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<bpfsign_runtime::Error> for GuardError {
    fn from(e: bpfsign_runtime::Error) -> Self {
        GuardError::Load(e)
    }
}

/// Entry points: [`Guard::builder`], [`Guard::status`], [`Guard::remove`].
#[derive(Debug)]
pub struct Guard;

impl Guard {
    /// A builder for the guard whose signed skeleton is `spec` (from [`signed_guard!`]).
    pub fn builder(spec: &'static SkeletonSpec<'static>) -> GuardBuilder {
        GuardBuilder {
            spec,
            audit: false,
            keyrings: SYSTEM_KEYRINGS.to_vec(),
            user_serial: 0,
            load: LoadOptions::new().keyring(Keyring::Session),
        }
    }

    /// The guard pinned at `path`: `Ok(None)` when nothing is pinned there.
    pub fn status(path: &str) -> Result<Option<GuardStatus>, GuardError> {
        let link = match sys::obj_get(path) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
            Err(e) => return Err(GuardError::sys(format!("BPF_OBJ_GET {path}"), e)),
        };
        read_status(path, link.as_fd()).map(Some)
    }

    /// Removes the guard pinned at `path` (unpins its link; the program detaches once no other
    /// process holds the link). `Ok(false)` when nothing was pinned there.
    pub fn remove(path: &str) -> Result<bool, GuardError> {
        let link = match sys::obj_get(path) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(false),
            Err(e) => return Err(GuardError::sys(format!("BPF_OBJ_GET {path}"), e)),
        };
        read_status(path, link.as_fd())?;
        std::fs::remove_file(path).map_err(|e| GuardError::sys(format!("unlink {path}"), e))?;
        Ok(true)
    }
}

/// The keyrings whose signatures the guard accepts by default: the kernel's own (builtin,
/// secondary and platform). User and session keyrings count only when asked for.
pub const SYSTEM_KEYRINGS: [KeyringKind; 3] = [
    KeyringKind::Builtin,
    KeyringKind::Secondary,
    KeyringKind::Platform,
];

/// Options of the guard; [`GuardBuilder::install_pinned`] loads, configures, attaches and pins it.
#[derive(Debug)]
pub struct GuardBuilder {
    spec: &'static SkeletonSpec<'static>,
    audit: bool,
    keyrings: Vec<KeyringKind>,
    user_serial: i32,
    load: LoadOptions,
}

impl GuardBuilder {
    /// Audit mode: record loads the guard would refuse, but allow them (default: enforce).
    pub fn audit(mut self, on: bool) -> Self {
        self.audit = on;
        self
    }

    /// Accept only signatures checked against these keyring kinds. Default: the kernel's
    /// system keyrings ([`SYSTEM_KEYRINGS`]: builtin, secondary, platform), whose certificates
    /// only the kernel build, the administrator or the firmware put there.
    /// [`KeyringKind::User`] (any user or session keyring — also one a process creates and adds
    /// its own certificate to) is accepted only when listed here; pin it to one keyring with
    /// [`GuardBuilder::user_keyring_serial`]. An empty list means the default.
    pub fn keyrings(mut self, kinds: &[KeyringKind]) -> Self {
        self.keyrings = if kinds.is_empty() {
            SYSTEM_KEYRINGS.to_vec()
        } else {
            kinds.to_vec()
        };
        self
    }

    /// With [`KeyringKind::User`] accepted: only this keyring serial counts (0 = any). On 6.18
    /// kernels, which do not record the resolved keyring, this is compared with the
    /// `keyring_id` the loader passed (a special id such as -3 stays -3).
    pub fn user_keyring_serial(mut self, serial: i32) -> Self {
        self.user_serial = serial;
        self
    }

    /// The keyring the kernel searches for the key that signed the guard itself (default: the
    /// session keyring).
    pub fn load_keyring(mut self, keyring: Keyring) -> Self {
        self.load = self.load.keyring(keyring);
        self
    }

    /// Load options of the guard's own signed load (protocol override, verifier log).
    pub fn load_options(mut self, options: LoadOptions) -> Self {
        self.load = options;
        self
    }

    /// Loads the signed guard, writes and freezes its policy, attaches it to the program-load
    /// LSM hook and pins the link at `path` (on a bpffs), so it stays active after this process
    /// exits. Fails with [`GuardError::AlreadyInstalled`] when `path` exists.
    pub fn install_pinned(self, path: &str) -> Result<GuardStatus, GuardError> {
        if std::fs::symlink_metadata(path).is_ok() {
            return Err(GuardError::AlreadyInstalled(path.to_string()));
        }
        if let Some(list) = inactive_bpf_lsm(std::fs::read_to_string(LSM_LIST).ok().as_deref()) {
            return Err(GuardError::NoBpfLsm(list));
        }
        let skel = bpfsign_runtime::load(self.spec, &self.load)?;
        let config = skel
            .map_index(MAP_CONFIG)
            .and_then(|i| skel.map_fd(i))
            .ok_or_else(|| GuardError::NotAGuard(format!("skeleton {}", skel.name())))?;
        let mask = self.keyrings.iter().fold(0u32, |m, k| m | k.bit());
        let mut value = [0u8; CONFIG_SIZE];
        value[0..4].copy_from_slice(&1u32.to_ne_bytes());
        value[4..8].copy_from_slice(&u32::from(self.audit).to_ne_bytes());
        value[8..12].copy_from_slice(&mask.to_ne_bytes());
        value[12..16].copy_from_slice(&self.user_serial.to_ne_bytes());
        sys::map_update(config, 0, &value)
            .map_err(|e| GuardError::sys("BPF_MAP_UPDATE_ELEM guard_config", e))?;
        sys::map_freeze(config).map_err(|e| GuardError::sys("BPF_MAP_FREEZE guard_config", e))?;
        let links = skel.attach_all()?;
        let link = links
            .first()
            .ok_or_else(|| GuardError::NotAGuard(format!("skeleton {}", skel.name())))?;
        sys::obj_pin(link.fd(), path)
            .map_err(|e| GuardError::sys(format!("BPF_OBJ_PIN {path}"), e))?;
        read_status(path, link.fd())
    }
}

/// Counters kept by the guard since it was installed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GuardCounters {
    /// Signed (verified) loads from user space that were allowed.
    pub allowed_signed: u64,
    /// Loads issued from the kernel (by verified loaders) that were allowed.
    pub allowed_kernel: u64,
    /// Loads refused with `EPERM`.
    pub denied: u64,
    /// Loads that would have been refused, allowed in audit mode.
    pub audited: u64,
    /// Of the refused or audited loads: signed, but checked against a keyring not accepted.
    pub wrong_keyring: u64,
}

/// Why a load was recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordReason {
    /// No signature.
    Unsigned,
    /// A signature checked against a keyring the policy does not accept.
    WrongKeyring,
    /// A value this version does not know.
    Other(u32),
}

/// One refused (or audited) program load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadRecord {
    /// `CLOCK_MONOTONIC` time of the load, in nanoseconds.
    pub ktime_ns: u64,
    /// Process id (thread-group id) of the loading process.
    pub pid: u32,
    /// Its uid.
    pub uid: u32,
    /// Its command name.
    pub comm: String,
    /// `BPF_PROG_TYPE_*` of the refused program.
    pub prog_type: u32,
    /// Why.
    pub reason: RecordReason,
    /// Whether the guard was in audit mode (the load was allowed).
    pub audit: bool,
}

/// What [`Guard::status`] reads from a pinned guard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuardStatus {
    /// The pin path.
    pub path: String,
    /// The link id.
    pub link_id: u32,
    /// The guard program's id.
    pub prog_id: u32,
    /// Audit mode (record and allow).
    pub audit: bool,
    /// Accepted keyring kinds (all four when no filter is set).
    pub keyrings: Vec<KeyringKind>,
    /// Accepted user keyring serial (0 = any).
    pub user_serial: i32,
    /// The counters.
    pub counters: GuardCounters,
    /// The last refused or audited loads (up to 32), oldest first.
    pub records: Vec<LoadRecord>,
}

/// The active LSMs, in order.
const LSM_LIST: &str = "/sys/kernel/security/lsm";

/// `Some(list)` when the LSM list could be read and has no `bpf`; `None` when `bpf` is active
/// or the list is unreadable (securityfs not mounted: the attach is attempted anyway).
fn inactive_bpf_lsm(list: Option<&str>) -> Option<String> {
    let list = list?.trim();
    (!list.split(',').any(|l| l.trim() == "bpf")).then(|| list.to_string())
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    let mut v = [0u8; 4];
    v.copy_from_slice(&b[off..off + 4]);
    u32::from_ne_bytes(v)
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[off..off + 8]);
    u64::from_ne_bytes(v)
}

fn c_name(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Reads link → program → maps and decodes the guard's state; checks it is a guard.
fn read_status(path: &str, link: BorrowedFd<'_>) -> Result<GuardStatus, GuardError> {
    let mut link_info = [0u8; 64];
    sys::obj_info(link, &mut link_info)
        .map_err(|e| GuardError::sys(format!("link info of {path}"), e))?;
    let link_id = u32_at(&link_info, 4);
    let prog_id = u32_at(&link_info, 8);
    let prog = sys::prog_fd_by_id(prog_id)
        .map_err(|e| GuardError::sys(format!("BPF_PROG_GET_FD_BY_ID {prog_id}"), e))?;
    let mut map_ids = [0u32; 8];
    let mut info = [0u8; 256];
    info[52..56].copy_from_slice(&(map_ids.len() as u32).to_ne_bytes());
    info[56..64].copy_from_slice(&(map_ids.as_mut_ptr() as u64).to_ne_bytes());
    sys::obj_info(prog.as_fd(), &mut info)
        .map_err(|e| GuardError::sys(format!("program info of {prog_id}"), e))?;
    if c_name(&info[64..80]) != PROG_NAME {
        return Err(GuardError::NotAGuard(path.to_string()));
    }
    let nr = (u32_at(&info, 52) as usize).min(map_ids.len());
    let mut config = None;
    let mut counters = None;
    let mut records = None;
    for &id in &map_ids[..nr] {
        let fd = sys::map_fd_by_id(id)
            .map_err(|e| GuardError::sys(format!("BPF_MAP_GET_FD_BY_ID {id}"), e))?;
        let mut mi = [0u8; 88];
        sys::obj_info(fd.as_fd(), &mut mi)
            .map_err(|e| GuardError::sys(format!("map info of {id}"), e))?;
        match c_name(&mi[24..40]).as_str() {
            MAP_CONFIG => config = Some(fd),
            MAP_COUNTERS => counters = Some(fd),
            MAP_RECORDS => records = Some(fd),
            _ => {}
        }
    }
    let (Some(config), Some(counters), Some(records)) = (config, counters, records) else {
        return Err(GuardError::NotAGuard(path.to_string()));
    };
    decode(path, link_id, prog_id, &config, &counters, &records)
}

fn decode(
    path: &str,
    link_id: u32,
    prog_id: u32,
    config: &OwnedFd,
    counters: &OwnedFd,
    records: &OwnedFd,
) -> Result<GuardStatus, GuardError> {
    let mut cfg = [0u8; CONFIG_SIZE];
    sys::map_lookup(config.as_fd(), 0, &mut cfg)
        .map_err(|e| GuardError::sys("lookup guard_config", e))?;
    let counter = |slot: u32| -> Result<u64, GuardError> {
        let mut v = [0u8; 8];
        sys::map_lookup(counters.as_fd(), slot, &mut v)
            .map_err(|e| GuardError::sys("lookup guard_counters", e))?;
        Ok(u64::from_ne_bytes(v))
    };
    let mask = u32_at(&cfg, 8);
    let keyrings = KeyringKind::ALL
        .into_iter()
        .filter(|k| mask == 0 || mask & k.bit() != 0)
        .collect();
    let total = counter(C_RECORDS)?;
    let mut list = Vec::new();
    for i in 0..total.min(u64::from(MAX_RECORDS)) as u32 {
        let mut r = [0u8; RECORD_SIZE];
        sys::map_lookup(records.as_fd(), i, &mut r)
            .map_err(|e| GuardError::sys("lookup guard_records", e))?;
        list.push(LoadRecord {
            ktime_ns: u64_at(&r, 0),
            pid: u32_at(&r, 8),
            uid: u32_at(&r, 12),
            prog_type: u32_at(&r, 16),
            reason: match u32_at(&r, 20) {
                1 => RecordReason::Unsigned,
                2 => RecordReason::WrongKeyring,
                n => RecordReason::Other(n),
            },
            audit: u32_at(&r, 24) != 0,
            comm: c_name(&r[32..48]),
        });
    }
    list.sort_by_key(|r| r.ktime_ns);
    Ok(GuardStatus {
        path: path.to_string(),
        link_id,
        prog_id,
        audit: u32_at(&cfg, 4) != 0,
        keyrings,
        user_serial: u32_at(&cfg, 12) as i32,
        counters: GuardCounters {
            allowed_signed: counter(C_ALLOWED_SIGNED)?,
            allowed_kernel: counter(C_ALLOWED_KERNEL)?,
            denied: counter(C_DENIED)?,
            audited: counter(C_AUDITED)?,
            wrong_keyring: counter(C_WRONG_KEYRING)?,
        },
        records: list,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = include_str!("bpf/guard.bpf.c");

    /// The value of `#define NAME value` in guard.bpf.c.
    fn define(name: &str) -> u32 {
        SOURCE
            .lines()
            .find_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some("#define") && w.next() == Some(name))
                    .then(|| w.next().and_then(|v| v.parse().ok()))
                    .flatten()
            })
            .unwrap_or_else(|| panic!("no #define {name} in guard.bpf.c"))
    }

    #[test]
    fn constants_match_the_bpf_program() {
        assert_eq!(define("C_ALLOWED_SIGNED"), C_ALLOWED_SIGNED);
        assert_eq!(define("C_ALLOWED_KERNEL"), C_ALLOWED_KERNEL);
        assert_eq!(define("C_DENIED"), C_DENIED);
        assert_eq!(define("C_AUDITED"), C_AUDITED);
        assert_eq!(define("C_WRONG_KEYRING"), C_WRONG_KEYRING);
        assert_eq!(define("C_RECORDS"), C_RECORDS);
        assert_eq!(define("MAX_RECORDS"), MAX_RECORDS);
        assert_eq!(1 << define("KR_BUILTIN"), KeyringKind::Builtin.bit());
        assert_eq!(1 << define("KR_SECONDARY"), KeyringKind::Secondary.bit());
        assert_eq!(1 << define("KR_PLATFORM"), KeyringKind::Platform.bit());
        assert_eq!(1 << define("KR_USER"), KeyringKind::User.bit());
        assert!(SOURCE.contains(&format!("int BPF_PROG({PROG_NAME},")));
        for map in [MAP_CONFIG, MAP_COUNTERS, MAP_RECORDS] {
            assert!(
                SOURCE.contains(&format!("}} {map} SEC(\".maps\");")),
                "{map}"
            );
        }
    }

    #[test]
    fn the_bpf_lsm_must_be_in_the_active_list() {
        assert_eq!(
            inactive_bpf_lsm(Some("lockdown,capability,bpf,ipe\n")),
            None
        );
        assert_eq!(inactive_bpf_lsm(Some("bpf")), None);
        assert_eq!(
            inactive_bpf_lsm(Some("lockdown,capability,bpfx\n")).as_deref(),
            Some("lockdown,capability,bpfx")
        );
        assert_eq!(inactive_bpf_lsm(None), None);
        let e = GuardError::NoBpfLsm("lockdown,yama".into());
        assert!(e.to_string().contains("lsm=lockdown,yama,bpf"));
    }

    #[test]
    fn names_stop_at_nul_and_survive_bad_utf8() {
        assert_eq!(c_name(b"guard_config\0\0\0\0"), "guard_config");
        assert_eq!(c_name(b"abc"), "abc");
        assert_eq!(c_name(b"a\xffb\0c"), "a\u{fffd}b");
    }

    #[test]
    fn errors_name_the_path_and_errno() {
        let e = GuardError::sys("BPF_OBJ_GET /x", io::Error::from_raw_os_error(libc::EPERM));
        assert_eq!(e.errno(), Some(libc::EPERM));
        assert!(e.to_string().starts_with("BPF_OBJ_GET /x: "));
        let e = GuardError::AlreadyInstalled("/sys/fs/bpf/g".into());
        assert_eq!(e.errno(), None);
        assert!(e.to_string().contains("/sys/fs/bpf/g already exists"));
    }

    #[test]
    fn status_of_a_missing_pin_is_none_and_remove_is_false() {
        let path = std::env::temp_dir().join(format!("bpfsign-guard-none-{}", std::process::id()));
        let path = path.to_str().unwrap();
        // Nothing exists there: BPF_OBJ_GET fails with ENOENT (or, without bpf(2) permission,
        // with EPERM, which is an error, not "not installed").
        match Guard::status(path) {
            Ok(s) => assert!(s.is_none()),
            Err(e) => assert_eq!(e.errno(), Some(libc::EPERM), "{e}"),
        }
        match Guard::remove(path) {
            Ok(removed) => assert!(!removed),
            Err(e) => assert_eq!(e.errno(), Some(libc::EPERM), "{e}"),
        }
    }
}
