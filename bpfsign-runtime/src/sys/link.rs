//! bpf(2) wrappers for links beyond `BPF_RAW_TRACEPOINT_OPEN`: `BPF_LINK_CREATE` with a target
//! (ifindex, cgroup, netns, sockmap) and flags, pinning (`BPF_OBJ_PIN`/`BPF_OBJ_GET`), iterators
//! (`BPF_ITER_CREATE`), `BPF_LINK_DETACH` and link info.
//!
//! Attr layouts (`union bpf_attr`, include/uapi/linux/bpf.h):
//! * `link_create`: `prog_fd` @0, `target_fd`/`target_ifindex` @4, `attach_type` @8, `flags` @12,
//!   then a per-kind union @16 (`tcx`/`netkit`: `relative_fd` @16, `expected_revision` @24);
//! * `BPF_OBJ_PIN`/`BPF_OBJ_GET`: `pathname` @0, `bpf_fd` @8, `file_flags` @12;
//! * `iter_create`: `link_fd` @0, `flags` @4;  `link_detach`: `link_fd` @0;
//! * `info`: `bpf_fd` @0, `info_len` @4, `info` @8; `struct bpf_link_info` starts with `type`,
//!   `id`, `prog_id` (u32 each).

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use super::{owned_fd, Attr, Sys, BPF_LINK_CREATE, BPF_OBJ_GET_INFO_BY_FD, OBJ_GET_INFO_ATTR_SZ};

pub(crate) use bpfsign_abi::cmd::{
    ITER_CREATE as BPF_ITER_CREATE, OBJ_GET as BPF_OBJ_GET, OBJ_PIN as BPF_OBJ_PIN,
};
/// `BPF_LINK_DETACH`.
pub(crate) const BPF_LINK_DETACH: u32 = 34;

// `enum bpf_attach_type` values the link attach methods use.
/// `BPF_CGROUP_INET_INGRESS`.
pub(crate) const BPF_CGROUP_INET_INGRESS: u32 = 0;
/// `BPF_CGROUP_INET_EGRESS`.
pub(crate) const BPF_CGROUP_INET_EGRESS: u32 = 1;
/// `BPF_SK_SKB_STREAM_PARSER`.
pub(crate) const BPF_SK_SKB_STREAM_PARSER: u32 = 4;
/// `BPF_SK_SKB_STREAM_VERDICT`.
pub(crate) const BPF_SK_SKB_STREAM_VERDICT: u32 = 5;
/// `BPF_SK_MSG_VERDICT`.
pub(crate) const BPF_SK_MSG_VERDICT: u32 = 7;
/// `BPF_FLOW_DISSECTOR`.
pub(crate) const BPF_FLOW_DISSECTOR: u32 = 17;
/// `BPF_SK_LOOKUP`.
pub(crate) const BPF_SK_LOOKUP: u32 = 36;
/// `BPF_XDP`.
pub(crate) const BPF_XDP: u32 = 37;
/// `BPF_SK_SKB_VERDICT`.
pub(crate) const BPF_SK_SKB_VERDICT: u32 = 38;
/// `BPF_TCX_INGRESS`.
pub(crate) const BPF_TCX_INGRESS: u32 = 46;
/// `BPF_TCX_EGRESS`.
pub(crate) const BPF_TCX_EGRESS: u32 = 47;
/// `BPF_NETKIT_PRIMARY`.
pub(crate) const BPF_NETKIT_PRIMARY: u32 = 54;
/// `BPF_NETKIT_PEER`.
pub(crate) const BPF_NETKIT_PEER: u32 = 55;

/// `offsetofend(union bpf_attr, link_create.tcx.expected_revision)`.
pub(crate) const LINK_CREATE_TARGET_ATTR_SZ: usize = 32;
/// `offsetofend(union bpf_attr, file_flags)` (`BPF_OBJ_PIN`, `BPF_OBJ_GET`).
pub(crate) const OBJ_ATTR_SZ: usize = 16;
/// `offsetofend(union bpf_attr, iter_create.flags)`.
pub(crate) const ITER_CREATE_ATTR_SZ: usize = 8;
/// `offsetofend(union bpf_attr, link_detach.link_fd)`.
pub(crate) const LINK_DETACH_ATTR_SZ: usize = 4;
/// The leading `type`, `id`, `prog_id` of `struct bpf_link_info`, padded to its alignment.
pub(crate) const LINK_INFO_HEAD_SZ: usize = 16;

/// `BPF_LINK_CREATE(prog_fd, target, attach_type, flags)` for targets named by an fd or an
/// ifindex, attr size 32 (the per-kind fields stay zero: no relative program, no revision).
pub(crate) fn link_create_target(
    sys: &dyn Sys,
    prog: BorrowedFd<'_>,
    target: u32,
    attach_type: u32,
    flags: u32,
) -> io::Result<OwnedFd> {
    let mut attr = Attr::new();
    attr.i32(0, prog.as_raw_fd())
        .u32(4, target)
        .u32(8, attach_type)
        .u32(12, flags);
    owned_fd(attr.call(sys, BPF_LINK_CREATE, LINK_CREATE_TARGET_ATTR_SZ)?)
}

/// `BPF_OBJ_PIN(fd, path)`, attr size 16.
pub(crate) fn obj_pin(sys: &dyn Sys, fd: BorrowedFd<'_>, path: &CStr) -> io::Result<()> {
    let mut attr = Attr::new();
    attr.ptr(0, path.as_ptr()).i32(8, fd.as_raw_fd());
    attr.call(sys, BPF_OBJ_PIN, OBJ_ATTR_SZ).map(drop)
}

/// `BPF_OBJ_GET(path)` (read-write), attr size 16; returns the object's new fd.
pub(crate) fn obj_get(sys: &dyn Sys, path: &CStr) -> io::Result<OwnedFd> {
    let mut attr = Attr::new();
    attr.ptr(0, path.as_ptr());
    owned_fd(attr.call(sys, BPF_OBJ_GET, OBJ_ATTR_SZ)?)
}

/// `BPF_ITER_CREATE(link_fd)`, attr size 8; returns the fd to read the iterator's output from.
pub(crate) fn iter_create(sys: &dyn Sys, link: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    let mut attr = Attr::new();
    attr.i32(0, link.as_raw_fd());
    owned_fd(attr.call(sys, BPF_ITER_CREATE, ITER_CREATE_ATTR_SZ)?)
}

/// `BPF_LINK_DETACH(link_fd)`, attr size 4.
pub(crate) fn link_detach(sys: &dyn Sys, link: BorrowedFd<'_>) -> io::Result<()> {
    let mut attr = Attr::new();
    attr.i32(0, link.as_raw_fd());
    attr.call(sys, BPF_LINK_DETACH, LINK_DETACH_ATTR_SZ)
        .map(drop)
}

/// `BPF_OBJ_GET_INFO_BY_FD` on a link with a 16-byte `bpf_link_info`: `(type, id, prog_id)`.
pub(crate) fn link_info(sys: &dyn Sys, link: BorrowedFd<'_>) -> io::Result<(u32, u32, u32)> {
    #[repr(C, align(8))]
    struct Info([u8; LINK_INFO_HEAD_SZ]);
    let mut info = Info([0; LINK_INFO_HEAD_SZ]);
    let mut attr = Attr::new();
    attr.i32(0, link.as_raw_fd())
        .u32(4, LINK_INFO_HEAD_SZ as u32)
        .ptr(8, info.0.as_mut_ptr());
    attr.call(sys, BPF_OBJ_GET_INFO_BY_FD, OBJ_GET_INFO_ATTR_SZ)?;
    // The kernel wrote through the raw pointer: read the buffer back volatilely so the compiler
    // does not assume it is still zero.
    // SAFETY: `info` is a live local.
    let info = unsafe { std::ptr::read_volatile(&info) };
    let word = |off: usize| {
        u32::from_ne_bytes([
            info.0[off],
            info.0[off + 1],
            info.0[off + 2],
            info.0[off + 3],
        ])
    };
    Ok((word(0), word(4), word(8)))
}
