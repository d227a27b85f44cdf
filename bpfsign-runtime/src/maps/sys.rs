//! `bpf(2)` wrappers of the map commands (element access, iteration, batches, pinning).
//!
//! Same conventions as `crate::sys`: attr sizes as libbpf's `bpf.c` passes them, every call
//! through the [`Sys`] trait so the fake kernel can check the bytes.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use crate::sys::{Attr, Sys};

/// `BPF_MAP_LOOKUP_ELEM`.
pub(crate) const BPF_MAP_LOOKUP_ELEM: u32 = 1;
/// `BPF_MAP_UPDATE_ELEM`.
pub(crate) const BPF_MAP_UPDATE_ELEM: u32 = 2;
/// `BPF_MAP_DELETE_ELEM`.
pub(crate) const BPF_MAP_DELETE_ELEM: u32 = 3;
/// `BPF_MAP_GET_NEXT_KEY`.
pub(crate) const BPF_MAP_GET_NEXT_KEY: u32 = 4;
/// `BPF_OBJ_PIN`.
pub(crate) const BPF_OBJ_PIN: u32 = 6;
/// `BPF_MAP_LOOKUP_AND_DELETE_ELEM`.
pub(crate) const BPF_MAP_LOOKUP_AND_DELETE_ELEM: u32 = 21;
/// `BPF_MAP_LOOKUP_BATCH`.
pub(crate) const BPF_MAP_LOOKUP_BATCH: u32 = 24;
/// `BPF_MAP_UPDATE_BATCH`.
pub(crate) const BPF_MAP_UPDATE_BATCH: u32 = 26;
/// `BPF_MAP_DELETE_BATCH`.
pub(crate) const BPF_MAP_DELETE_BATCH: u32 = 27;

/// `offsetofend(union bpf_attr, flags)` of the element commands.
pub(crate) const ELEM_ATTR_SZ: usize = 32;
/// `offsetofend(union bpf_attr, batch)`.
pub(crate) const BATCH_ATTR_SZ: usize = 56;
/// `offsetofend(union bpf_attr, path_fd)` of `BPF_OBJ_PIN`.
pub(crate) const OBJ_PIN_ATTR_SZ: usize = 20;

/// An element command: `map_fd` at 0, `key` at 8, `value`/`next_key` at 16, `flags` at 24.
fn elem(
    sys: &dyn Sys,
    cmd: u32,
    map: BorrowedFd<'_>,
    key: Option<&[u8]>,
    value: *const u8,
    flags: u64,
) -> io::Result<()> {
    let mut attr = Attr::new();
    attr.i32(0, map.as_raw_fd());
    if let Some(k) = key {
        attr.ptr(8, k.as_ptr());
    }
    attr.ptr(16, value).u64(24, flags);
    sys.bpf(cmd, &mut attr_bytes(&mut attr)[..ELEM_ATTR_SZ])
        .map(drop)
}

fn attr_bytes(a: &mut Attr) -> &mut [u8] {
    a.as_mut_bytes()
}

/// `BPF_MAP_LOOKUP_ELEM(key) -> value` (`value.len()` bytes written by the kernel).
pub(crate) fn lookup(
    sys: &dyn Sys,
    map: BorrowedFd<'_>,
    key: &[u8],
    value: &mut [u8],
    flags: u64,
) -> io::Result<()> {
    elem(
        sys,
        BPF_MAP_LOOKUP_ELEM,
        map,
        Some(key),
        value.as_mut_ptr(),
        flags,
    )
}

/// `BPF_MAP_LOOKUP_AND_DELETE_ELEM(key) -> value`; `key` is empty for queues and stacks.
pub(crate) fn lookup_and_delete(
    sys: &dyn Sys,
    map: BorrowedFd<'_>,
    key: &[u8],
    value: &mut [u8],
) -> io::Result<()> {
    let key = (!key.is_empty()).then_some(key);
    elem(
        sys,
        BPF_MAP_LOOKUP_AND_DELETE_ELEM,
        map,
        key,
        value.as_mut_ptr(),
        0,
    )
}

/// `BPF_MAP_UPDATE_ELEM(key, value, flags)`.
pub(crate) fn update(
    sys: &dyn Sys,
    map: BorrowedFd<'_>,
    key: &[u8],
    value: &[u8],
    flags: u64,
) -> io::Result<()> {
    elem(
        sys,
        BPF_MAP_UPDATE_ELEM,
        map,
        Some(key),
        value.as_ptr(),
        flags,
    )
}

/// `BPF_MAP_DELETE_ELEM(key)`.
pub(crate) fn delete(sys: &dyn Sys, map: BorrowedFd<'_>, key: &[u8]) -> io::Result<()> {
    elem(
        sys,
        BPF_MAP_DELETE_ELEM,
        map,
        Some(key),
        std::ptr::null(),
        0,
    )
}

/// `BPF_MAP_GET_NEXT_KEY(key or NULL for the first) -> next`.
pub(crate) fn next_key(
    sys: &dyn Sys,
    map: BorrowedFd<'_>,
    key: Option<&[u8]>,
    next: &mut [u8],
) -> io::Result<()> {
    elem(sys, BPF_MAP_GET_NEXT_KEY, map, key, next.as_mut_ptr(), 0)
}

/// Arguments of a batch command (`struct bpf_attr::batch`): `in_batch` at 0, `out_batch` at 8,
/// `keys` at 16, `values` at 24, `count` at 32, `map_fd` at 36, `elem_flags` at 40, `flags`
/// at 48.
pub(crate) struct Batch {
    pub in_batch: *const u8,
    pub out_batch: *mut u8,
    pub keys: *const u8,
    pub values: *const u8,
    pub count: u32,
    pub elem_flags: u64,
}

/// A batch command; returns the `count` the kernel wrote back (elements processed), also on
/// error (`ENOENT` ends a lookup batch with the last elements).
pub(crate) fn batch(
    sys: &dyn Sys,
    cmd: u32,
    map: BorrowedFd<'_>,
    b: &Batch,
) -> (u32, io::Result<()>) {
    let mut attr = Attr::new();
    attr.ptr(0, b.in_batch)
        .ptr(8, b.out_batch)
        .ptr(16, b.keys)
        .ptr(24, b.values)
        .u32(32, b.count)
        .i32(36, map.as_raw_fd())
        .u64(40, b.elem_flags);
    let bytes = attr_bytes(&mut attr);
    let r = sys.bpf(cmd, &mut bytes[..BATCH_ATTR_SZ]).map(drop);
    let count = u32::from_ne_bytes(bytes[32..36].try_into().unwrap_or([0; 4]));
    (count, r)
}

/// `BPF_OBJ_PIN(path, fd)`: `pathname` at 0, `bpf_fd` at 8.
pub(crate) fn obj_pin(sys: &dyn Sys, fd: BorrowedFd<'_>, path: &CStr) -> io::Result<()> {
    let mut attr = Attr::new();
    attr.ptr(0, path.as_ptr()).i32(8, fd.as_raw_fd());
    sys.bpf(BPF_OBJ_PIN, &mut attr_bytes(&mut attr)[..OBJ_PIN_ATTR_SZ])
        .map(drop)
}
