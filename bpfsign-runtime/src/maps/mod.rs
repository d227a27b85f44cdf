//! Maps of a loaded skeleton: the untyped [`Map`] handle and the typed handles built on it —
//! [`HashMap`] (hash, LRU hash, array, LPM trie), [`PerCpuMap`], [`RingBuf`],
//! [`PerfEventArray`], [`ProgArray`] and [`MapOfMaps`].
//!
//! Every handle borrows the [`LoadedSkeleton`], so it cannot outlive the map's fd; every handle
//! implements [`AsFd`] and can be pinned in bpffs (`pin`). Keys and values are [`Plain`] types
//! whose sizes are checked against the map when the typed handle is made.

pub(crate) mod cpus;
mod hash;
mod of_maps;
mod percpu;
pub(crate) mod perf;
mod prog_array;
mod ringbuf;
pub(crate) mod sys;

#[cfg(feature = "aya")]
mod aya_interop;
#[cfg(feature = "tokio")]
mod tokio_ringbuf;

#[cfg(test)]
mod tests;

use std::ffi::CString;
use std::fmt;
use std::io;
use std::ops::BitOr;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::error::{Ctx, Error, ErrorKind, Stage};
use crate::global::Plain;
use crate::load::LoadedSkeleton;
use crate::sys::{RealKernel, Sys};

pub use self::hash::{HashMap, MapIter, MapKeys};
pub use self::of_maps::MapOfMaps;
pub use self::percpu::PerCpuMap;
pub use self::perf::{PerfEventArray, PerfReader};
pub use self::prog_array::ProgArray;
pub use self::ringbuf::{RingBuf, RingBufReader};
#[cfg(feature = "tokio")]
pub use self::tokio_ringbuf::AsyncRingBufReader;

pub(crate) use self::ringbuf::RingMapping;

/// `BPF_MAP_TYPE_RINGBUF`: mapped at load.
pub(crate) const RINGBUF_TYPE: u32 = map_type::RINGBUF;

/// `BPF_MAP_TYPE_*` numbers the typed handles accept.
pub(crate) mod map_type {
    pub const HASH: u32 = 1;
    pub const ARRAY: u32 = 2;
    pub const PROG_ARRAY: u32 = 3;
    pub const PERF_EVENT_ARRAY: u32 = 4;
    pub const PERCPU_HASH: u32 = 5;
    pub const PERCPU_ARRAY: u32 = 6;
    pub const LRU_HASH: u32 = 9;
    pub const LRU_PERCPU_HASH: u32 = 10;
    pub const LPM_TRIE: u32 = 11;
    pub const ARRAY_OF_MAPS: u32 = 12;
    pub const HASH_OF_MAPS: u32 = 13;
    pub const RINGBUF: u32 = 27;
}

/// The shape of a map as the skeleton created it (from its `MapSpec`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MapInfo {
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
}

/// Flags of an element update (`BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`, `BPF_F_LOCK`); combine
/// with `|`. The default is [`MapFlags::ANY`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MapFlags(u64);

impl MapFlags {
    /// `BPF_ANY`: create the element or replace its value.
    pub const ANY: MapFlags = MapFlags(0);
    /// `BPF_NOEXIST`: create only; an existing key fails with `EEXIST`.
    pub const NOEXIST: MapFlags = MapFlags(1);
    /// `BPF_EXIST`: replace only; a missing key fails with `ENOENT`.
    pub const EXIST: MapFlags = MapFlags(2);
    /// `BPF_F_LOCK`: update (or look up) the value under its `struct bpf_spin_lock`.
    pub const LOCK: MapFlags = MapFlags(4);

    /// The raw `flags` value passed to the kernel.
    pub fn bits(self) -> u64 {
        self.0
    }
}

impl BitOr for MapFlags {
    type Output = MapFlags;
    fn bitor(self, rhs: MapFlags) -> MapFlags {
        MapFlags(self.0 | rhs.0)
    }
}

/// The system-call entry point of the real kernel, shared by every handle.
static REAL_KERNEL: RealKernel = RealKernel;

/// An untyped handle on one map of a loaded skeleton: its fd and shape, byte-level element
/// access, pinning. [`LoadedSkeleton::map`] makes one; the typed handles wrap it.
#[derive(Clone, Copy)]
pub struct Map<'a> {
    fd: BorrowedFd<'a>,
    name: &'a str,
    skel_name: &'a str,
    info: MapInfo,
    ring: Option<&'a RingMapping>,
    sys: &'a (dyn Sys + Sync),
}

impl fmt::Debug for Map<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map")
            .field("name", &self.name)
            .field("fd", &self.fd)
            .field("map_type", &self.info.map_type)
            .field("key_size", &self.info.key_size)
            .field("value_size", &self.info.value_size)
            .field("max_entries", &self.info.max_entries)
            .finish()
    }
}

impl LoadedSkeleton {
    /// A handle on map `i` (skeleton order, as in `SkeletonSpec::maps`), or an error when the
    /// skeleton has no map `i`.
    pub fn map(&self, i: usize) -> Result<Map<'_>, Error> {
        let fd = self.loaded_map_fd(i)?;
        let (name, info, ring) = self.map_parts(i).ok_or_else(|| {
            // `loaded_map_fd` succeeded, so the map exists; keep a typed error anyway.
            Error::other(
                Stage::Access,
                format!("no map #{i}"),
                "the generated code does not match the skeleton; rebuild the crate",
                &Ctx::default(),
            )
        })?;
        Ok(Map {
            fd,
            name,
            skel_name: self.name(),
            info,
            ring,
            sys: &REAL_KERNEL,
        })
    }

    /// Map `i` for code generated by `include_signed_skel!`, whose `load()` already made
    /// every map handle with [`LoadedSkeleton::map`] and the typed constructors.
    ///
    /// # Panics
    /// If the skeleton has no map `i`: the generated code passes only indices of its own
    /// `SPEC`, which the load checked, so this does not happen to it.
    #[doc(hidden)]
    pub fn __checked_map(&self, i: usize) -> Map<'_> {
        match self.map(i) {
            Ok(m) => m,
            Err(e) => panic!("map #{i} of a skeleton whose load checked it: {e}"),
        }
    }

    /// Handles on every map, in skeleton order.
    pub fn maps(&self) -> impl Iterator<Item = Map<'_>> + '_ {
        (0..self.map_count()).filter_map(|i| self.map(i).ok())
    }
}

impl<'a> Map<'a> {
    /// A handle from its parts (the fake kernel's tests build maps without a skeleton).
    #[cfg(test)]
    pub(crate) fn from_parts(
        fd: BorrowedFd<'a>,
        name: &'a str,
        info: MapInfo,
        ring: Option<&'a RingMapping>,
        sys: &'a (dyn Sys + Sync),
    ) -> Self {
        Map {
            fd,
            name,
            skel_name: "test",
            info,
            ring,
            sys,
        }
    }

    /// The map's fd.
    pub fn fd(&self) -> BorrowedFd<'a> {
        self.fd
    }

    /// The map's skeleton identifier (`bss`, `events`, …).
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// `BPF_MAP_TYPE_*` the map was created with.
    pub fn map_type(&self) -> u32 {
        self.info.map_type
    }

    /// Key size in bytes.
    pub fn key_size(&self) -> u32 {
        self.info.key_size
    }

    /// Value size in bytes (per CPU for per-CPU maps).
    pub fn value_size(&self) -> u32 {
        self.info.value_size
    }

    /// Maximum number of entries (the data size in bytes for ring buffers).
    pub fn max_entries(&self) -> u32 {
        self.info.max_entries
    }

    /// The map's kernel ID (`BPF_OBJ_GET_INFO_BY_FD`), as `bpftool map` lists it and
    /// [`crate::MapOfMaps::inner_id`] reports it.
    pub fn id(&self) -> Result<u32, Error> {
        crate::sys::obj_id(self.sys, self.fd)
            .map_err(|e| self.sys_error(&e, format!("BPF_OBJ_GET_INFO_BY_FD of map {}", self.name)))
    }

    /// Pins the map at `path` in a bpffs mount (`BPF_OBJ_PIN`); it stays until the file is
    /// removed, also after the skeleton is dropped.
    pub fn pin(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| {
            self.error(
                format!("pin path {} contains a NUL byte", path.display()),
                "pass a path without NUL bytes inside a bpffs mount (/sys/fs/bpf/...)",
            )
        })?;
        sys::obj_pin(self.sys, self.fd, &c).map_err(|e| {
            self.sys_error(
                &e,
                format!("BPF_OBJ_PIN of map {} at {}", self.name, path.display()),
            )
        })
    }

    /// The bytes of the value of `key` (`value_size` bytes; per-CPU maps need
    /// `roundup(value_size, 8) * possible CPUs` bytes, see [`PerCpuMap`]), or `None` when there
    /// is no such element.
    pub fn lookup(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        self.check_len("key", key.len(), self.info.key_size)?;
        let mut value = vec![0u8; self.value_buf_len()?];
        match sys::lookup(self.sys, self.fd, key, &mut value, 0) {
            Ok(()) => Ok(Some(value)),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(self.sys_error(&e, format!("BPF_MAP_LOOKUP_ELEM on map {}", self.name))),
        }
    }

    /// Sets the value of `key` (`value` as long as [`Map::lookup`] returns).
    pub fn update(&self, key: &[u8], value: &[u8], flags: MapFlags) -> Result<(), Error> {
        self.check_len("key", key.len(), self.info.key_size)?;
        let want = self.value_buf_len()?;
        self.check_len_usize("value", value.len(), want)?;
        sys::update(self.sys, self.fd, key, value, flags.bits())
            .map_err(|e| self.sys_error(&e, format!("BPF_MAP_UPDATE_ELEM on map {}", self.name)))
    }

    /// Deletes `key`; `Ok(false)` when there was no such element.
    pub fn delete(&self, key: &[u8]) -> Result<bool, Error> {
        self.check_len("key", key.len(), self.info.key_size)?;
        match sys::delete(self.sys, self.fd, key) {
            Ok(()) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
            Err(e) => Err(self.sys_error(&e, format!("BPF_MAP_DELETE_ELEM on map {}", self.name))),
        }
    }

    /// Looks up and removes `key` in one step (`BPF_MAP_LOOKUP_AND_DELETE_ELEM`; hash maps
    /// since 5.14, queues and stacks with an empty key).
    pub fn lookup_and_delete(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        if !key.is_empty() {
            self.check_len("key", key.len(), self.info.key_size)?;
        }
        let mut value = vec![0u8; self.value_buf_len()?];
        match sys::lookup_and_delete(self.sys, self.fd, key, &mut value) {
            Ok(()) => Ok(Some(value)),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(self.sys_error(
                &e,
                format!("BPF_MAP_LOOKUP_AND_DELETE_ELEM on map {}", self.name),
            )),
        }
    }

    /// Iterates over the keys as bytes (`BPF_MAP_GET_NEXT_KEY`). Elements deleted meanwhile
    /// may make a hash map restart from its first key, as with every user of the command.
    pub fn keys(&self) -> impl Iterator<Item = Result<Vec<u8>, Error>> + 'a {
        let map = *self;
        let mut prev: Option<Vec<u8>> = None;
        let mut done = false;
        std::iter::from_fn(move || {
            if done {
                return None;
            }
            let mut next = vec![0u8; map.info.key_size as usize];
            match sys::next_key(map.sys, map.fd, prev.as_deref(), &mut next) {
                Ok(()) => {
                    prev = Some(next.clone());
                    Some(Ok(next))
                }
                Err(e) => {
                    done = true;
                    if e.raw_os_error() == Some(libc::ENOENT) {
                        None
                    } else {
                        Some(Err(map.sys_error(
                            &e,
                            format!("BPF_MAP_GET_NEXT_KEY on map {}", map.name),
                        )))
                    }
                }
            }
        })
    }

    /// Converts the handle into an [`aya`](https://docs.rs/aya) map on a duplicate of its fd
    /// (feature `aya`).
    #[cfg(feature = "aya")]
    pub fn to_aya(&self) -> Result<::aya::maps::Map, Error> {
        aya_interop::to_aya(self)
    }

    /// Bytes of one value buffer: `value_size`, or one 8-byte-aligned slot per possible CPU for
    /// per-CPU maps.
    fn value_buf_len(&self) -> Result<usize, Error> {
        let vs = self.info.value_size as usize;
        if is_percpu(self.info.map_type) {
            let n = cpus::possible().map_err(|e| {
                self.sys_error(&e, "reading /sys/devices/system/cpu/possible".to_string())
            })?;
            Ok(vs.next_multiple_of(8) * n)
        } else {
            Ok(vs)
        }
    }

    fn check_len(&self, what: &'static str, got: usize, want: u32) -> Result<(), Error> {
        self.check_len_usize(what, got, want as usize)
    }

    fn check_len_usize(&self, what: &'static str, got: usize, want: usize) -> Result<(), Error> {
        if got == want {
            return Ok(());
        }
        Err(self.mismatch(what, want as u64, got as u64))
    }

    /// The typed error of a handle or buffer that does not fit the map.
    pub(crate) fn mismatch(&self, what: &'static str, expected: u64, found: u64) -> Error {
        Error::other(
            Stage::Access,
            format!(
                "map {}: {what} is {expected}{}, not {found}",
                self.name,
                if what == "map type" { "" } else { " bytes" }
            ),
            "the Rust type does not describe this map; regenerate the skeleton after changing \
             the BPF object, or use the handle that matches the map's type",
            &self.ctx(),
        )
        .with_kind(ErrorKind::MapMismatch {
            map: self.name.to_string(),
            what,
            expected,
            found,
        })
    }

    /// Checks the map type (one of `types`) for a typed handle named `handle`.
    pub(crate) fn expect_type(&self, handle: &str, types: &[u32]) -> Result<(), Error> {
        if types.contains(&self.info.map_type) {
            return Ok(());
        }
        Err(Error::other(
            Stage::Access,
            format!(
                "map {} has BPF_MAP_TYPE {}, which a {handle} does not handle (it handles {types:?})",
                self.name, self.info.map_type
            ),
            "use the handle that matches the map's type (the generated maps() does)",
            &self.ctx(),
        )
        .with_kind(ErrorKind::MapMismatch {
            map: self.name.to_string(),
            what: "map type",
            expected: u64::from(self.info.map_type),
            found: u64::from(types.first().copied().unwrap_or(0)),
        }))
    }

    /// Checks that `K` has the key size.
    pub(crate) fn expect_key<K>(&self) -> Result<(), Error> {
        let k = size_of::<K>() as u64;
        if k != u64::from(self.info.key_size) {
            return Err(self.mismatch("key size", self.info.key_size.into(), k));
        }
        Ok(())
    }

    /// Checks that `V` has the value size.
    pub(crate) fn expect_value<V>(&self) -> Result<(), Error> {
        let v = size_of::<V>() as u64;
        if v != u64::from(self.info.value_size) {
            return Err(self.mismatch("value size", self.info.value_size.into(), v));
        }
        Ok(())
    }

    pub(crate) fn ctx(&self) -> Ctx {
        Ctx {
            skeleton: Some(self.skel_name.to_string()),
            ..Ctx::default()
        }
    }

    pub(crate) fn error(&self, detail: String, guidance: &str) -> Error {
        Error::other(Stage::Access, detail, guidance, &self.ctx())
    }

    pub(crate) fn sys_error(&self, e: &io::Error, detail: String) -> Error {
        Error::sys(Stage::Access, e, detail, &self.ctx())
    }

    pub(crate) fn sys(&self) -> &'a (dyn Sys + Sync) {
        self.sys
    }

    pub(crate) fn ring(&self) -> Option<&'a RingMapping> {
        self.ring
    }

    #[allow(dead_code)] // for the interop features
    pub(crate) fn info(&self) -> MapInfo {
        self.info
    }
}

impl AsFd for Map<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd
    }
}

/// Whether lookups of `map_type` return one value per possible CPU.
fn is_percpu(map_type: u32) -> bool {
    matches!(
        map_type,
        map_type::PERCPU_HASH | map_type::PERCPU_ARRAY | map_type::LRU_PERCPU_HASH
    )
}

/// A copy of `T` from the first `size_of::<T>()` bytes of `b`, zero-filled where `b` is
/// shorter (the typed handles check the sizes, so that only happens to unchecked handles).
pub(crate) fn read_plain<T: Plain>(b: &[u8]) -> T {
    let n = b.len().min(size_of::<T>());
    let mut v = std::mem::MaybeUninit::<T>::zeroed();
    // SAFETY: `n` bytes fit both `b` and `v`; the zeroed rest plus the copied bytes form a
    // valid `T` because every bit pattern is one (`Plain`).
    unsafe {
        std::ptr::copy_nonoverlapping(b.as_ptr(), v.as_mut_ptr().cast::<u8>(), n);
        v.assume_init()
    }
}

/// The bytes of a plain value.
pub(crate) fn plain_bytes<T: Plain>(v: &T) -> &[u8] {
    // SAFETY: a `Plain` value is `size_of::<T>()` initialised bytes without padding
    // requirements on reading (its fields are plain data; padding bytes of `#[repr(C)]` layouts
    // generated by bpfsign are explicit fields).
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()) }
}

/// Implements `AsFd`, `fd()`, `pin()`, `map()` for a typed handle holding a `map: Map<'a>`.
macro_rules! handle_common {
    ($ty:ident) => {
        $crate::maps::handle_common!($ty<>);
    };
    ($ty:ident < $($gen:ident),* >) => {
        impl<'a, $($gen),*> $ty<'a, $($gen),*> {
            /// The map's fd.
            pub fn fd(&self) -> ::std::os::fd::BorrowedFd<'a> {
                self.map.fd()
            }

            /// The untyped handle (name, sizes, byte-level access).
            pub fn map(&self) -> $crate::maps::Map<'a> {
                self.map
            }

            /// The map's kernel ID (see [`Map::id`]).
            pub fn id(&self) -> Result<u32, $crate::Error> {
                self.map.id()
            }

            /// Pins the map at `path` in a bpffs mount (see [`Map::pin`]).
            pub fn pin(&self, path: impl AsRef<::std::path::Path>) -> Result<(), $crate::Error> {
                self.map.pin(path)
            }
        }

        impl<'a, $($gen),*> ::std::os::fd::AsFd for $ty<'a, $($gen),*> {
            fn as_fd(&self) -> ::std::os::fd::BorrowedFd<'_> {
                self.map.fd()
            }
        }
    };
}
pub(crate) use handle_common;
