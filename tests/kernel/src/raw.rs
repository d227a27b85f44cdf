//! The light-skeleton user-space sequence (docs/protocol.md §3, §8) written out with raw `bpf(2)` calls,
//! independent of bpfsign-runtime, with every knob a hostile or broken host could turn: a
//! metadata map that is not exclusive, a hash never computed, any `fd_array_cnt`, any signature.
//! The kernel and the signed loader must defend against those; bpfsign-runtime never does them.

use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_RUN: libc::c_long = 10;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
const BPF_MAP_FREEZE: libc::c_long = 22;
const BPF_PROG_TYPE_SYSCALL: u32 = 31;
const BPF_F_SLEEPABLE: u32 = 16;
/// `BPF_MAP_TYPE_ARRAY`, the metadata map's type.
pub const BPF_MAP_TYPE_ARRAY: u32 = 2;
/// `BPF_MAP_TYPE_HASH`.
pub const BPF_MAP_TYPE_HASH: u32 = 1;

fn sys_bpf(cmd: libc::c_long, attr: &mut [u8]) -> io::Result<i64> {
    // SAFETY: `attr` is a live buffer of the given size; every pointer inside it points at
    // memory the caller keeps alive for the duration of the call.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len()) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn put32(a: &mut [u8], off: usize, v: u32) {
    a[off..off + 4].copy_from_slice(&v.to_ne_bytes());
}

fn put64(a: &mut [u8], off: usize, v: u64) {
    a[off..off + 8].copy_from_slice(&v.to_ne_bytes());
}

fn owned(fd: i64) -> OwnedFd {
    // SAFETY: `fd` was just returned by bpf(2) for this process and is owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// `BPF_MAP_CREATE` (attr 92 bytes), optionally exclusive to a program hash.
pub fn map_create(
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    name: &str,
    excl_prog_hash: Option<&[u8; 32]>,
) -> io::Result<OwnedFd> {
    let mut a = [0u8; 92];
    put32(&mut a, 0, map_type);
    put32(&mut a, 4, key_size);
    put32(&mut a, 8, value_size);
    put32(&mut a, 12, max_entries);
    let n = name.as_bytes();
    a[28..28 + n.len().min(15)].copy_from_slice(&n[..n.len().min(15)]);
    if let Some(h) = excl_prog_hash {
        put64(&mut a, 80, h.as_ptr() as u64);
        put32(&mut a, 88, 32);
    }
    sys_bpf(BPF_MAP_CREATE, &mut a).map(owned)
}

/// Where a raw load stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RawError {
    /// `BPF_MAP_CREATE` of the metadata map failed with this errno.
    MapCreate(i32),
    /// `BPF_MAP_UPDATE_ELEM` failed.
    MapUpdate(i32),
    /// `BPF_MAP_FREEZE` failed.
    MapFreeze(i32),
    /// `BPF_OBJ_GET_INFO_BY_FD` (hash) failed.
    MapHash(i32),
    /// `BPF_PROG_LOAD` of the loader failed: errno and verifier log.
    ProgLoad(i32, String),
    /// `BPF_PROG_RUN` itself failed.
    ProgRun(i32),
}

/// One run of a light-skeleton loader with explicit choices for every step.
#[derive(Clone, Debug)]
pub struct RawLoad<'a> {
    /// Loader instructions.
    pub insns: &'a [u8],
    /// The data blob put into the metadata map.
    pub data: &'a [u8],
    /// `BPF_MAP_TYPE_*` of the metadata map (the loader expects `BPF_MAP_TYPE_ARRAY`, 2).
    pub map_type: u32,
    /// `excl_prog_hash` of the metadata map (`None`: a map any program may use).
    pub excl_prog_hash: Option<[u8; 32]>,
    /// Whether to freeze the metadata map after filling it (every protocol does).
    pub freeze: bool,
    /// Whether to compute the map hash with `BPF_OBJ_GET_INFO_BY_FD` (P1/P1b do).
    pub hash_map: bool,
    /// The signature passed to `BPF_PROG_LOAD` (`None`: unsigned load).
    pub signature: Option<&'a [u8]>,
    /// `keyring_id` (only sent with a signature).
    pub keyring_id: i32,
    /// `fd_array_cnt` (P2 signed: 1; otherwise 0). `fd_array` holds the metadata map's fd
    /// `max(1, fd_array_cnt)` times.
    pub fd_array_cnt: u32,
    /// Number of maps in the ctx.
    pub n_maps: usize,
    /// Number of program slots in the ctx.
    pub n_progs: usize,
}

impl RawLoad<'_> {
    /// Runs the sequence; returns the loader's return value. Every fd, including those the
    /// loader put into the ctx, is closed before returning.
    pub fn run(&self) -> Result<i32, RawError> {
        let errno = |e: io::Error| e.raw_os_error().unwrap_or(0);
        let map = map_create(
            self.map_type,
            4,
            self.data.len() as u32,
            1,
            "__loader.map",
            self.excl_prog_hash.as_ref(),
        )
        .map_err(|e| RawError::MapCreate(errno(e)))?;
        let key = 0u32;
        let mut a = [0u8; 32];
        put32(&mut a, 0, map.as_raw_fd() as u32);
        put64(&mut a, 8, &key as *const u32 as u64);
        put64(&mut a, 16, self.data.as_ptr() as u64);
        sys_bpf(BPF_MAP_UPDATE_ELEM, &mut a).map_err(|e| RawError::MapUpdate(errno(e)))?;
        if self.freeze {
            let mut a = [0u8; 4];
            put32(&mut a, 0, map.as_raw_fd() as u32);
            sys_bpf(BPF_MAP_FREEZE, &mut a).map_err(|e| RawError::MapFreeze(errno(e)))?;
        }
        if self.hash_map {
            let mut hash = [0u8; 32];
            let mut info = [0u8; 104];
            put64(&mut info, 88, hash.as_mut_ptr() as u64);
            put32(&mut info, 96, 32);
            let mut a = [0u8; 16];
            put32(&mut a, 0, map.as_raw_fd() as u32);
            put32(&mut a, 4, 104);
            put64(&mut a, 8, info.as_mut_ptr() as u64);
            sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &mut a).map_err(|e| RawError::MapHash(errno(e)))?;
        }

        let license = b"Dual BSD/GPL\0";
        let fd_array = vec![map.as_raw_fd(); (self.fd_array_cnt as usize).max(1)];
        let mut log = vec![0u8; 1 << 20];
        let mut a = [0u8; 168];
        put32(&mut a, 0, BPF_PROG_TYPE_SYSCALL);
        put32(&mut a, 4, (self.insns.len() / 8) as u32);
        put64(&mut a, 8, self.insns.as_ptr() as u64);
        put64(&mut a, 16, license.as_ptr() as u64);
        put32(&mut a, 24, 1);
        put32(&mut a, 28, log.len() as u32);
        put64(&mut a, 32, log.as_mut_ptr() as u64);
        put32(&mut a, 44, BPF_F_SLEEPABLE);
        a[48..61].copy_from_slice(b"__loader.prog");
        put64(&mut a, 120, fd_array.as_ptr() as u64);
        put32(&mut a, 148, self.fd_array_cnt);
        if let Some(sig) = self.signature {
            put64(&mut a, 152, sig.as_ptr() as u64);
            put32(&mut a, 160, sig.len() as u32);
            put32(&mut a, 164, self.keyring_id as u32);
        }
        let prog = sys_bpf(BPF_PROG_LOAD, &mut a).map(owned).map_err(|e| {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            RawError::ProgLoad(errno(e), String::from_utf8_lossy(&log[..end]).into_owned())
        })?;

        let size = 24 + 16 * self.n_maps + 4 * self.n_progs;
        let mut ctx = vec![0u8; size];
        put32(&mut ctx, 0, size as u32);
        let mut a = [0u8; 80];
        put32(&mut a, 0, prog.as_fd().as_raw_fd() as u32);
        put32(&mut a, 40, size as u32);
        put64(&mut a, 48, ctx.as_mut_ptr() as u64);
        let run = sys_bpf(BPF_PROG_RUN, &mut a);
        // Close whatever the loader left in the ctx (map fds, then program fds).
        let slots = (0..self.n_maps)
            .map(|i| 24 + 16 * i)
            .chain((0..self.n_progs).map(|j| 24 + 16 * self.n_maps + 4 * j));
        for off in slots {
            let fd = i32::from_ne_bytes(ctx[off..off + 4].try_into().expect("4 bytes"));
            if fd > 0 && fd != map.as_raw_fd() && fd != prog.as_raw_fd() {
                drop(owned(i64::from(fd)));
            }
        }
        run.map_err(|e| RawError::ProgRun(errno(e)))?;
        Ok(i32::from_ne_bytes(a[4..8].try_into().expect("4 bytes")))
    }
}

/// SHA-256 of `bytes`, computed by the kernel: the hash `BPF_OBJ_GET_INFO_BY_FD` reports for a
/// frozen array map holding `bytes` (the metadata-map hash of docs/protocol.md §2.6). The test binaries do
/// not link a SHA-256 implementation; this is the digest the kernel itself compares with.
pub fn kernel_sha256(bytes: &[u8]) -> io::Result<[u8; 32]> {
    let map = map_create(
        BPF_MAP_TYPE_ARRAY,
        4,
        bytes.len() as u32,
        1,
        "bpfsign_sha",
        None,
    )?;
    let key = 0u32;
    let mut a = [0u8; 32];
    put32(&mut a, 0, map.as_raw_fd() as u32);
    put64(&mut a, 8, &key as *const u32 as u64);
    put64(&mut a, 16, bytes.as_ptr() as u64);
    sys_bpf(BPF_MAP_UPDATE_ELEM, &mut a)?;
    let mut a = [0u8; 4];
    put32(&mut a, 0, map.as_raw_fd() as u32);
    sys_bpf(BPF_MAP_FREEZE, &mut a)?;
    let mut hash = [0u8; 32];
    let mut info = [0u8; 104];
    put64(&mut info, 88, hash.as_mut_ptr() as u64);
    put32(&mut info, 96, 32);
    let mut a = [0u8; 16];
    put32(&mut a, 0, map.as_raw_fd() as u32);
    put32(&mut a, 4, 104);
    put64(&mut a, 8, info.as_mut_ptr() as u64);
    sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &mut a)?;
    Ok(hash)
}
