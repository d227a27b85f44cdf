//! Thin typed wrappers around the bpf(2) commands the runtime uses.
//!
//! Every wrapper builds the attr bytes exactly like libbpf's `skel_internal.h` (same attr sizes, spec
//! §2) and goes through the [`Sys`] trait, so unit tests can run the runtime against a fake kernel
//! and check the bytes. File descriptors come back as [`OwnedFd`].

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

// The `bpf(2)` numbers come from the contract crate; the `BPF_*` spellings (as in the kernel's
// uapi header) are what the wrappers below, the fake kernel and the tests use.
pub(crate) use bpfsign_abi::attach_type::TRACE_ITER as BPF_TRACE_ITER;
pub(crate) use bpfsign_abi::cmd::{
    LINK_CREATE as BPF_LINK_CREATE, MAP_CREATE as BPF_MAP_CREATE, MAP_FREEZE as BPF_MAP_FREEZE,
    MAP_UPDATE_ELEM as BPF_MAP_UPDATE_ELEM, OBJ_GET_INFO_BY_FD as BPF_OBJ_GET_INFO_BY_FD,
    PROG_LOAD as BPF_PROG_LOAD, PROG_RUN as BPF_PROG_RUN,
    RAW_TRACEPOINT_OPEN as BPF_RAW_TRACEPOINT_OPEN,
};
pub(crate) use bpfsign_abi::map_type::ARRAY as BPF_MAP_TYPE_ARRAY;
pub(crate) use bpfsign_abi::prog_flags::SLEEPABLE as BPF_F_SLEEPABLE;
pub(crate) use bpfsign_abi::prog_type::SYSCALL as BPF_PROG_TYPE_SYSCALL;

mod link;
pub(crate) use link::*;

/// `offsetofend(union bpf_attr, excl_prog_hash_size)`.
pub(crate) const MAP_CREATE_ATTR_SZ: usize = 92;
/// `offsetofend(union bpf_attr, flags)`.
pub(crate) const MAP_UPDATE_ATTR_SZ: usize = 32;
/// `offsetofend(union bpf_attr, map_fd)`.
pub(crate) const MAP_FREEZE_ATTR_SZ: usize = 4;
/// `offsetofend(union bpf_attr, info)`.
pub(crate) const OBJ_GET_INFO_ATTR_SZ: usize = 16;
/// `sizeof(struct bpf_map_info)` since 6.18.
pub(crate) const MAP_INFO_SZ: usize = 104;
/// `offsetofend(union bpf_attr, keyring_id)`.
pub(crate) const PROG_LOAD_ATTR_SZ: usize = 168;
/// `offsetofend(union bpf_attr, test)`.
pub(crate) const PROG_RUN_ATTR_SZ: usize = 80;
/// `offsetofend(union bpf_attr, raw_tracepoint.prog_fd)`.
pub(crate) const RAW_TP_ATTR_SZ: usize = 12;
/// `offsetofend(union bpf_attr, link_create.iter_info_len)`.
pub(crate) const LINK_CREATE_ATTR_SZ: usize = 28;

/// The bpf(2) entry point, substitutable by a fake kernel in tests.
pub(crate) trait Sys {
    /// `bpf(cmd, attr, attr.len())`; returns the non-negative result or the errno.
    fn bpf(&self, cmd: u32, attr: &mut [u8]) -> io::Result<i64>;

    /// `perf_event_open(attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC)`; returns the new fd or the
    /// errno. The default (for fakes that do not model perf events) fails with ENOSYS.
    fn perf_event_open(&self, attr: &[u8], pid: i32, cpu: i32) -> io::Result<i64> {
        let _ = (attr, pid, cpu);
        Err(io::Error::from_raw_os_error(libc::ENOSYS))
    }

    /// `ioctl(fd, PERF_EVENT_IOC_ENABLE, 0)`. The default fails with ENOSYS.
    fn perf_event_enable(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        let _ = fd;
        Err(io::Error::from_raw_os_error(libc::ENOSYS))
    }
}

/// The real kernel.
pub(crate) struct RealKernel;

impl Sys for RealKernel {
    fn bpf(&self, cmd: u32, attr: &mut [u8]) -> io::Result<i64> {
        // Recorded only with the `stage-timing` feature (the cold-start benchmark). errno is read
        // inside the closure, before the timing hook runs any code of its own.
        crate::timing::timed(crate::timing::bpf_cmd_stage(cmd), || {
            // SAFETY: `attr` is a valid, writable buffer of `attr.len()` bytes; every pointer
            // stored in it by the wrappers below refers to memory that outlives this call.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_bpf,
                    cmd as libc::c_long,
                    attr.as_mut_ptr(),
                    attr.len() as libc::c_long,
                )
            };
            if r < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(r)
            }
        })
    }

    fn perf_event_open(&self, attr: &[u8], pid: i32, cpu: i32) -> io::Result<i64> {
        // The kernel reads `attr.size` bytes (stored in the attr itself); the buffer must hold
        // that many.
        let size = u32::from_ne_bytes(attr[4..8].try_into().unwrap_or([0; 4])) as usize;
        if size > attr.len() {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        // SAFETY: `attr` is a readable buffer of at least `attr.size` bytes; the pointers stored in
        // it (probe names, paths) refer to memory the caller keeps alive across this call.
        let r = unsafe {
            libc::syscall(
                libc::SYS_perf_event_open,
                attr.as_ptr(),
                pid as libc::c_long,
                cpu as libc::c_long,
                -1 as libc::c_long,
                PERF_FLAG_FD_CLOEXEC as libc::c_long,
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r)
        }
    }

    fn perf_event_enable(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        // SAFETY: an ioctl without argument memory on an fd the caller keeps open.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), PERF_EVENT_IOC_ENABLE as _, 0) };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}

/// `PERF_FLAG_FD_CLOEXEC`.
pub(crate) const PERF_FLAG_FD_CLOEXEC: u64 = 8;

/// `PERF_EVENT_IOC_ENABLE` (`_IO('$', 0)`).
pub(crate) const PERF_EVENT_IOC_ENABLE: u64 = 0x2400;

/// An 8-byte aligned, zeroed `union bpf_attr` (168 bytes, the 6.18+ size).
#[repr(C, align(8))]
pub(crate) struct Attr([u8; 168]);

impl Attr {
    pub(crate) fn new() -> Self {
        Attr([0; 168])
    }
    pub(crate) fn u32(&mut self, off: usize, v: u32) -> &mut Self {
        self.0[off..off + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }
    pub(crate) fn i32(&mut self, off: usize, v: i32) -> &mut Self {
        self.0[off..off + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }
    pub(crate) fn u64(&mut self, off: usize, v: u64) -> &mut Self {
        self.0[off..off + 8].copy_from_slice(&v.to_ne_bytes());
        self
    }
    pub(crate) fn ptr<T: ?Sized>(&mut self, off: usize, p: *const T) -> &mut Self {
        self.u64(off, p as *const u8 as usize as u64)
    }
    pub(crate) fn bytes(&mut self, off: usize, b: &[u8]) -> &mut Self {
        self.0[off..off + b.len()].copy_from_slice(b);
        self
    }
    pub(crate) fn get_u32(&self, off: usize) -> u32 {
        u32::from_ne_bytes(self.0[off..off + 4].try_into().unwrap_or([0; 4]))
    }
    /// The attr bytes (for wrappers outside this file).
    pub(crate) fn as_mut_bytes(&mut self) -> &mut [u8] {
        &mut self.0
    }
    pub(crate) fn call(&mut self, sys: &dyn Sys, cmd: u32, size: usize) -> io::Result<i64> {
        sys.bpf(cmd, &mut self.0[..size])
    }
}

/// Wraps a returned fd; moves fds 0..=2 above 2 like libbpf's `ensure_good_fd`, so a loader's
/// `fd <= 0` checks and stdio are never confused with BPF objects.
pub(crate) fn owned_fd(r: i64) -> io::Result<OwnedFd> {
    let fd = RawFd::try_from(r).map_err(|_| io::Error::from_raw_os_error(libc::EOVERFLOW))?;
    // SAFETY: the kernel (or the fake kernel) just returned this fd to us; nobody else owns it.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    if fd >= 3 {
        return Ok(owned);
    }
    // SAFETY: fcntl on an fd we own.
    let dup = unsafe { libc::fcntl(owned.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if dup < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: F_DUPFD_CLOEXEC returned a fresh fd we own; `owned` is closed on drop.
    Ok(unsafe { OwnedFd::from_raw_fd(dup) })
}

/// Arguments of `BPF_MAP_CREATE`.
pub(crate) struct MapCreate<'a> {
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub name: &'a str,
    pub excl_prog_hash: Option<&'a [u8; 32]>,
}

/// `BPF_MAP_CREATE`, attr size 92 (`excl_prog_hash` at 80, its size at 88).
pub(crate) fn map_create(sys: &dyn Sys, a: &MapCreate<'_>) -> io::Result<OwnedFd> {
    let mut attr = Attr::new();
    attr.u32(0, a.map_type)
        .u32(4, a.key_size)
        .u32(8, a.value_size)
        .u32(12, a.max_entries)
        .u32(16, a.map_flags);
    let name = a.name.as_bytes();
    attr.bytes(28, &name[..name.len().min(15)]);
    if let Some(h) = a.excl_prog_hash {
        attr.ptr(80, h.as_ptr()).u32(88, 32);
    }
    owned_fd(attr.call(sys, BPF_MAP_CREATE, MAP_CREATE_ATTR_SZ)?)
}

/// `BPF_MAP_UPDATE_ELEM`, attr size 32.
pub(crate) fn map_update_elem(
    sys: &dyn Sys,
    map: BorrowedFd<'_>,
    key: &[u8],
    value: &[u8],
    flags: u64,
) -> io::Result<()> {
    let mut attr = Attr::new();
    attr.i32(0, map.as_raw_fd())
        .ptr(8, key.as_ptr())
        .ptr(16, value.as_ptr())
        .u64(24, flags);
    attr.call(sys, BPF_MAP_UPDATE_ELEM, MAP_UPDATE_ATTR_SZ)
        .map(drop)
}

/// `BPF_MAP_FREEZE`, attr size 4.
pub(crate) fn map_freeze(sys: &dyn Sys, map: BorrowedFd<'_>) -> io::Result<()> {
    let mut attr = Attr::new();
    attr.i32(0, map.as_raw_fd());
    attr.call(sys, BPF_MAP_FREEZE, MAP_FREEZE_ATTR_SZ).map(drop)
}

/// `BPF_OBJ_GET_INFO_BY_FD` with a 104-byte `bpf_map_info` requesting the SHA-256 of the map value
/// (`hash` at 88, `hash_size` at 96): makes the kernel compute `map->sha`.
pub(crate) fn map_get_info_hash(sys: &dyn Sys, map: BorrowedFd<'_>) -> io::Result<[u8; 32]> {
    #[repr(C, align(8))]
    struct Info([u8; MAP_INFO_SZ]);
    let mut hash = [0u8; 32];
    let mut info = Info([0; MAP_INFO_SZ]);
    info.0[88..96].copy_from_slice(&(hash.as_mut_ptr() as usize as u64).to_ne_bytes());
    info.0[96..100].copy_from_slice(&32u32.to_ne_bytes());
    let mut attr = Attr::new();
    attr.i32(0, map.as_raw_fd())
        .u32(4, MAP_INFO_SZ as u32)
        .ptr(8, info.0.as_mut_ptr());
    attr.call(sys, BPF_OBJ_GET_INFO_BY_FD, OBJ_GET_INFO_ATTR_SZ)?;
    // The kernel wrote through the raw pointer; read it back through a volatile read so the compiler
    // does not assume `hash` is still zero.
    // SAFETY: `hash` is a live local array.
    Ok(unsafe { std::ptr::read_volatile(&hash) })
}

/// Bytes of the info head [`obj_id`] asks for: `u32 type, u32 id`, the start of `bpf_prog_info`
/// and `bpf_map_info` alike (the kernel fills at most `info_len` bytes).
pub(crate) const OBJ_ID_INFO_SZ: usize = 8;

/// `BPF_OBJ_GET_INFO_BY_FD` on a program or map fd with an 8-byte info head: its kernel ID.
pub(crate) fn obj_id(sys: &dyn Sys, fd: BorrowedFd<'_>) -> io::Result<u32> {
    #[repr(C, align(8))]
    struct Info([u8; OBJ_ID_INFO_SZ]);
    let mut info = Info([0; OBJ_ID_INFO_SZ]);
    let mut attr = Attr::new();
    attr.i32(0, fd.as_raw_fd())
        .u32(4, OBJ_ID_INFO_SZ as u32)
        .ptr(8, info.0.as_mut_ptr());
    attr.call(sys, BPF_OBJ_GET_INFO_BY_FD, OBJ_GET_INFO_ATTR_SZ)?;
    // SAFETY: `info` is a live local the kernel wrote through a raw pointer (volatile read).
    let info = unsafe { std::ptr::read_volatile(&info) };
    Ok(u32::from_ne_bytes([
        info.0[4], info.0[5], info.0[6], info.0[7],
    ]))
}

/// Verifier log destination of a `BPF_PROG_LOAD`.
#[derive(Clone, Copy)]
pub(crate) struct LogBuf {
    pub level: u32,
    pub buf: *mut u8,
    pub size: u32,
}

/// Arguments of `BPF_PROG_LOAD`.
pub(crate) struct ProgLoad<'a> {
    pub prog_type: u32,
    pub expected_attach_type: u32,
    pub insns: &'a [u8],
    pub license: &'a CStr,
    pub prog_flags: u32,
    pub name: &'a str,
    pub fd_array: Option<&'a [RawFd]>,
    pub fd_array_cnt: u32,
    pub signature: Option<&'a [u8]>,
    pub keyring_id: i32,
    pub log: Option<LogBuf>,
}

/// `BPF_PROG_LOAD`, attr size 168 (`fd_array_cnt` at 148, `signature` at 152, `signature_size` at
/// 160, `keyring_id` at 164). Retries a few times on EAGAIN like libbpf.
pub(crate) fn prog_load(sys: &dyn Sys, a: &ProgLoad<'_>) -> io::Result<OwnedFd> {
    let insn_cnt =
        u32::try_from(a.insns.len() / 8).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?;
    let mut attr = Attr::new();
    attr.u32(0, a.prog_type)
        .u32(4, insn_cnt)
        .ptr(8, a.insns.as_ptr())
        .ptr(16, a.license.as_ptr())
        .u32(44, a.prog_flags)
        .u32(68, a.expected_attach_type);
    let name = a.name.as_bytes();
    attr.bytes(48, &name[..name.len().min(15)]);
    if let Some(log) = a.log {
        attr.u32(24, log.level).u32(28, log.size).ptr(32, log.buf);
    }
    if let Some(fds) = a.fd_array {
        attr.ptr(120, fds.as_ptr());
    }
    attr.u32(148, a.fd_array_cnt);
    if let Some(sig) = a.signature {
        let size =
            u32::try_from(sig.len()).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?;
        attr.ptr(152, sig.as_ptr()).u32(160, size);
    }
    attr.i32(164, a.keyring_id);
    let mut tries = 0;
    loop {
        match attr.call(sys, BPF_PROG_LOAD, PROG_LOAD_ATTR_SZ) {
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) && tries < 5 => tries += 1,
            r => return owned_fd(r?),
        }
    }
}

/// `BPF_PROG_RUN` of a SYSCALL program with `ctx` as `ctx_in` (the kernel copies it back); attr
/// size 80. Returns `attr.test.retval`.
pub(crate) fn prog_run(sys: &dyn Sys, prog: BorrowedFd<'_>, ctx: &mut [u8]) -> io::Result<u32> {
    let size = u32::try_from(ctx.len()).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?;
    let mut attr = Attr::new();
    attr.i32(0, prog.as_raw_fd())
        .u32(40, size)
        .ptr(48, ctx.as_mut_ptr());
    attr.call(sys, BPF_PROG_RUN, PROG_RUN_ATTR_SZ)?;
    Ok(attr.get_u32(4))
}

/// `BPF_RAW_TRACEPOINT_OPEN(name or NULL, prog_fd)`, attr size 12; returns the link fd.
pub(crate) fn raw_tracepoint_open(
    sys: &dyn Sys,
    name: Option<&CStr>,
    prog: BorrowedFd<'_>,
) -> io::Result<OwnedFd> {
    let mut attr = Attr::new();
    if let Some(n) = name {
        attr.ptr(0, n.as_ptr());
    }
    attr.i32(8, prog.as_raw_fd());
    owned_fd(attr.call(sys, BPF_RAW_TRACEPOINT_OPEN, RAW_TP_ATTR_SZ)?)
}

/// `BPF_LINK_CREATE(prog_fd, target_fd, attach_type)`, attr size 28; returns the link fd.
pub(crate) fn link_create(
    sys: &dyn Sys,
    prog: BorrowedFd<'_>,
    target_fd: RawFd,
    attach_type: u32,
) -> io::Result<OwnedFd> {
    let mut attr = Attr::new();
    attr.i32(0, prog.as_raw_fd())
        .i32(4, target_fd)
        .u32(8, attach_type);
    owned_fd(attr.call(sys, BPF_LINK_CREATE, LINK_CREATE_ATTR_SZ)?)
}
