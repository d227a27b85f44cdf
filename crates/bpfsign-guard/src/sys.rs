//! The few raw `bpf(2)` commands the guard's management needs beyond the runtime: pinning,
//! opening pins, object info, fds by id, map lookup/update/freeze.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const BPF_MAP_LOOKUP_ELEM: libc::c_long = 1;
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
const BPF_OBJ_PIN: libc::c_long = 6;
const BPF_OBJ_GET: libc::c_long = 7;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_MAP_GET_FD_BY_ID: libc::c_long = 14;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
const BPF_MAP_FREEZE: libc::c_long = 22;

fn bpf(cmd: libc::c_long, attr: &mut [u8]) -> io::Result<i64> {
    // SAFETY: `attr` is a live, writable buffer of `attr.len()` bytes; every pointer stored in it
    // points at memory the caller keeps alive until this call returns.
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

fn fd_result(r: io::Result<i64>) -> io::Result<OwnedFd> {
    let fd = r?;
    let fd = i32::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: the kernel just returned this new fd to this process; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn fd_u32(fd: BorrowedFd<'_>) -> u32 {
    fd.as_raw_fd() as u32
}

fn c_path(path: &str) -> io::Result<CString> {
    CString::new(path).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// `BPF_OBJ_PIN`: pins `fd` at `path` on a bpffs.
pub(crate) fn obj_pin(fd: BorrowedFd<'_>, path: &str) -> io::Result<()> {
    let p = c_path(path)?;
    let mut a = [0u8; 24];
    put64(&mut a, 0, p.as_ptr() as u64);
    put32(&mut a, 8, fd_u32(fd));
    bpf(BPF_OBJ_PIN, &mut a).map(|_| ())
}

/// `BPF_OBJ_GET`: opens the object pinned at `path`.
pub(crate) fn obj_get(path: &str) -> io::Result<OwnedFd> {
    let p = c_path(path)?;
    let mut a = [0u8; 24];
    put64(&mut a, 0, p.as_ptr() as u64);
    fd_result(bpf(BPF_OBJ_GET, &mut a))
}

/// `BPF_OBJ_GET_INFO_BY_FD` into `info` (zeroed by the caller, or holding in-pointers).
pub(crate) fn obj_info(fd: BorrowedFd<'_>, info: &mut [u8]) -> io::Result<()> {
    let mut a = [0u8; 16];
    put32(&mut a, 0, fd_u32(fd));
    put32(&mut a, 4, info.len() as u32);
    put64(&mut a, 8, info.as_mut_ptr() as u64);
    bpf(BPF_OBJ_GET_INFO_BY_FD, &mut a).map(|_| ())
}

/// `BPF_PROG_GET_FD_BY_ID`.
pub(crate) fn prog_fd_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut a = [0u8; 12];
    put32(&mut a, 0, id);
    fd_result(bpf(BPF_PROG_GET_FD_BY_ID, &mut a))
}

/// `BPF_MAP_GET_FD_BY_ID`.
pub(crate) fn map_fd_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut a = [0u8; 12];
    put32(&mut a, 0, id);
    fd_result(bpf(BPF_MAP_GET_FD_BY_ID, &mut a))
}

/// `BPF_MAP_LOOKUP_ELEM` of a `u32` key into `value`.
///
/// The kernel writes the map's whole value (times the CPU count for per-CPU maps) into
/// `value`, so the map is checked first: a plain array (`BPF_MAP_TYPE_ARRAY`) with 4-byte keys
/// and values of exactly `value.len()` bytes; anything else is `InvalidData`, never a lookup.
pub(crate) fn map_lookup(map: BorrowedFd<'_>, key: u32, value: &mut [u8]) -> io::Result<()> {
    const BPF_MAP_TYPE_ARRAY: u32 = 2;
    let mut info = [0u8; 80];
    obj_info(map, &mut info)?;
    let field =
        |off: usize| u32::from_ne_bytes([info[off], info[off + 1], info[off + 2], info[off + 3]]);
    let (map_type, key_size, value_size) = (field(0), field(8), field(12));
    if map_type != BPF_MAP_TYPE_ARRAY || key_size != 4 || value_size as usize != value.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "not a guard map: type {map_type}, key size {key_size}, value size {value_size} \
                 (expected an array with 4-byte keys and {}-byte values)",
                value.len()
            ),
        ));
    }
    let k = key.to_ne_bytes();
    let mut a = [0u8; 32];
    put32(&mut a, 0, fd_u32(map));
    put64(&mut a, 8, k.as_ptr() as u64);
    put64(&mut a, 16, value.as_mut_ptr() as u64);
    bpf(BPF_MAP_LOOKUP_ELEM, &mut a).map(|_| ())
}

/// `BPF_MAP_UPDATE_ELEM` of a `u32` key with `value` (`BPF_ANY`).
pub(crate) fn map_update(map: BorrowedFd<'_>, key: u32, value: &[u8]) -> io::Result<()> {
    let k = key.to_ne_bytes();
    let mut a = [0u8; 32];
    put32(&mut a, 0, fd_u32(map));
    put64(&mut a, 8, k.as_ptr() as u64);
    put64(&mut a, 16, value.as_ptr() as u64);
    bpf(BPF_MAP_UPDATE_ELEM, &mut a).map(|_| ())
}

/// `BPF_MAP_FREEZE`: no more writes from user space.
pub(crate) fn map_freeze(map: BorrowedFd<'_>) -> io::Result<()> {
    let mut a = [0u8; 8];
    put32(&mut a, 0, fd_u32(map));
    bpf(BPF_MAP_FREEZE, &mut a).map(|_| ())
}
