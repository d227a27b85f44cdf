//! Checked, typed access to a loaded skeleton: fds by index, and the global-data maps
//! (`.bss`, `.data`, `.rodata`, …) as [`Plain`] Rust types — by reference, or copied with
//! atomic loads.
//!
//! See [`Plain`] for what sharing memory with BPF programs means.

use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::os::fd::BorrowedFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering};

use crate::error::{Ctx, Error, Stage};
use crate::load::LoadedSkeleton;

/// Plain data: a type that may be viewed over the bytes of a global-data map.
///
/// Implemented for the integer and float types, arrays of `Plain` types, and (by the code
/// `include_signed_skel!` generates) the `#[repr(C)]` layouts of the sections and of the C types
/// they use.
///
/// # Memory shared with BPF programs
///
/// A global-data map is mmapped memory that the BPF programs read and write while user space
/// holds a view of it. A Rust reference to such memory would promise the compiler that it
/// does not change while borrowed (`&T`) or that nothing else accesses it (`&mut T`), which the
/// programs' stores break: that is a data race. So the safe accessors never hand one out for a
/// writable section:
///
/// * [`LoadedSkeleton::read_global`] copies a whole section with atomic byte loads (a
///   snapshot; values the programs change meanwhile may be torn);
/// * [`LoadedSkeleton::global_var_mut`] gives a [`GlobalVarMut`] per variable, loaded and
///   stored atomically when it is a naturally aligned 1/2/4/8-byte value (atomic byte copies
///   otherwise);
/// * [`LoadedSkeleton::global`] gives a `&T` only for read-only, frozen sections (`.rodata*`,
///   `.kconfig`), which nothing writes after load; [`LoadedSkeleton::global_var`] their
///   variables one by one.
///
/// [`LoadedSkeleton::global_shared`] and [`LoadedSkeleton::global_mut`] are the `unsafe`
/// reference views of writable sections, for when no program that writes the section runs
/// (before attaching, after detaching).
///
/// # Safety
///
/// Every bit pattern of `size_of::<Self>()` bytes must be a valid value of the type (integers,
/// floats, arrays, and `#[repr(C)]` structs made only of such types; no `bool`, `char`, enums,
/// references, pointers or niches), and the type must hold no resources. Every byte of every
/// value must be initialised, because values are read byte for byte (copied to and from map
/// memory, viewed as `&[u8]`): so no implicit padding (make padding an explicit field, as the
/// generated layouts do) and no unions (a union built from a smaller member leaves the rest
/// uninitialised; the generated layouts wrap a C union's bytes in a struct over a byte array
/// instead).
pub unsafe trait Plain: Copy + 'static {}

macro_rules! plain {
    ($($t:ty),*) => {
        // SAFETY: every bit pattern is a valid integer or float.
        $(unsafe impl Plain for $t {})*
    };
}
plain!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64);
// SAFETY: an array of plain data is plain data.
unsafe impl<T: Plain, const N: usize> Plain for [T; N] {}

fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(p).ok().filter(|p| *p > 0).unwrap_or(4096)
}

impl LoadedSkeleton {
    fn access_ctx(&self) -> Ctx {
        Ctx {
            skeleton: Some(self.name().to_string()),
            protocol: Some(self.protocol()),
            ..Ctx::default()
        }
    }

    fn access_error(&self, detail: String, guidance: &str) -> Error {
        Error::other(Stage::Access, detail, guidance, &self.access_ctx())
    }

    /// The fd of program `i`, or an error saying why there is none: no such program, or the
    /// program was not loaded (`SEC("?...")`, autoload off when the skeleton was signed).
    pub fn loaded_prog_fd(&self, i: usize) -> Result<BorrowedFd<'_>, Error> {
        match (self.prog_fd(i), self.prog_name(i)) {
            (Some(fd), _) => Ok(fd),
            (None, Some(name)) => Err(self.access_error(
                format!("program {name} (#{i}) was not loaded"),
                "its autoload was off when the skeleton was signed (a SEC(\"?...\") program); \
                 the signed loader never loads it",
            )),
            (None, None) => Err(self.access_error(
                format!("no program #{i} (the skeleton has {})", self.prog_count()),
                "the generated code does not match the skeleton; rebuild the crate",
            )),
        }
    }

    /// The fd of map `i`, or an error when the skeleton has no map `i`.
    pub fn loaded_map_fd(&self, i: usize) -> Result<BorrowedFd<'_>, Error> {
        self.map_fd(i).ok_or_else(|| {
            self.access_error(
                format!("no map #{i} (the skeleton has {})", self.map_count()),
                "the generated code does not match the skeleton; rebuild the crate",
            )
        })
    }

    /// The mapping of data map `i` as a `T`, after checking that it is mapped (writable if
    /// `writable`), that `T` fits and that the address suits `T`'s alignment.
    fn global_ptr<T: Plain>(&self, i: usize, writable: bool) -> Result<NonNull<T>, Error> {
        let name = self.map_name(i).unwrap_or("?");
        // SAFETY: only the address is used here; accesses below stay within the checked length.
        let (ptr, len) = match (unsafe { self.map_data_ptr(i) }, self.map_data_len(i)) {
            (Some(p), Some(len)) => (p, len),
            _ => {
                return Err(self.access_error(
                    format!("map #{i} ({name}) is not a mmapped global-data map"),
                    "only mmapable single-value maps (.bss, .data, .rodata, .data.*) are \
                     mapped; use the map's fd for other maps",
                ))
            }
        };
        let size = size_of::<T>();
        let align = align_of::<T>();
        // The mapping is page-rounded; a layout may round the section up to its alignment.
        let room = len
            .next_multiple_of(align.max(8))
            .min(len.next_multiple_of(page_size()));
        if size > room {
            return Err(self.access_error(
                format!("a {size}-byte view does not fit the {len}-byte value of map {name}"),
                "the type does not describe this map; rebuild the crate after changing the object",
            ));
        }
        if !(ptr.as_ptr() as usize).is_multiple_of(align) {
            return Err(self.access_error(
                format!("map {name} is mapped at an address not aligned to {align}"),
                "view it through a type with a smaller alignment",
            ));
        }
        if writable && !self.map_data_writable(i) {
            return Err(self.access_error(
                format!("map {name} is read-only (BPF_F_RDONLY_PROG or BPF_F_RDONLY)"),
                "read-only globals (.rodata) keep the values fixed at signing; only .bss and \
                 .data can be changed after load",
            ));
        }
        Ok(ptr.cast())
    }

    /// Read-only data map `i` (`.rodata*`, `.kconfig`) viewed as a `&T`.
    ///
    /// Safe because nothing writes that memory while the skeleton lives: the map is created
    /// with `BPF_F_RDONLY_PROG` (programs cannot store to it), the signed loader freezes it
    /// after writing its initial value (no `bpf(BPF_MAP_UPDATE_ELEM)` or writable mapping can
    /// follow), and user space maps it read-only. A writable map (`.bss`, `.data`) is an error:
    /// read it with [`LoadedSkeleton::read_global`] or per variable
    /// ([`LoadedSkeleton::global_var`]), or take the reference with the `unsafe`
    /// [`LoadedSkeleton::global_shared`].
    pub fn global<T: Plain>(&self, i: usize) -> Result<&T, Error> {
        let ptr = self.global_ptr::<T>(i, false)?;
        if self.map_data_writable(i) {
            return Err(self.access_error(
                format!(
                    "map {} is written by the BPF programs: a shared reference to it would race with them",
                    self.map_name(i).unwrap_or("?")
                ),
                "copy it with read_global (read_<section>() in a skeleton) or use the \
                 per-variable accessors (<section>_vars())",
            ));
        }
        // SAFETY: checked mapping of at least size_of::<T>() readable, aligned bytes that lives
        // as long as `self`; every bit pattern is a valid `T`; the map is frozen and read-only
        // for the programs and for user space, so the memory does not change while borrowed.
        Ok(unsafe { ptr.as_ref() })
    }

    /// Data map `i` viewed as a `&T`, whatever its permissions.
    ///
    /// # Safety
    ///
    /// For a writable map (`.bss`, `.data`) the BPF programs may store to the memory at any
    /// time, which is a data race with every read made through the reference: the caller must
    /// make sure no program that writes the map runs while the reference lives (not attached
    /// yet, or detached), and that no other user-space access writes it (through
    /// [`LoadedSkeleton::global_var_mut`] handles or another process's mapping). Prefer
    /// [`LoadedSkeleton::read_global`] and the per-variable handles.
    pub unsafe fn global_shared<T: Plain>(&self, i: usize) -> Result<&T, Error> {
        let ptr = self.global_ptr::<T>(i, false)?;
        // SAFETY: checked, aligned, readable, valid for any bits; the caller excludes writers.
        Ok(unsafe { ptr.as_ref() })
    }

    /// Writable data map `i` viewed as a `&mut T` (an error for read-only maps). Stores reach
    /// the BPF programs at once.
    ///
    /// # Safety
    ///
    /// The BPF programs may read and write the memory at any time: the caller must make sure no
    /// program that accesses the map runs while the reference lives (not attached yet, or
    /// detached), and that nothing else (per-variable handles, another mapping) accesses it.
    /// Prefer the per-variable handles ([`LoadedSkeleton::global_var_mut`]).
    pub unsafe fn global_mut<T: Plain>(&mut self, i: usize) -> Result<&mut T, Error> {
        let mut ptr = self.global_ptr::<T>(i, true)?;
        // SAFETY: as in `global_shared`, and the mapping is writable; `&mut self` makes this the
        // only reference user space holds to it; the caller excludes the programs.
        Ok(unsafe { ptr.as_mut() })
    }

    /// A copy of data map `i` as a `T`, read from the memory on every call (relaxed atomic
    /// byte loads), so that values the BPF programs or other threads change are seen (not
    /// atomic as a whole: a value changed meanwhile may be torn; see [`GlobalVarMut`] for
    /// single variables).
    pub fn read_global<T: Plain>(&self, i: usize) -> Result<T, Error> {
        let ptr = self.global_ptr::<T>(i, false)?;
        let mut out = MaybeUninit::<T>::uninit();
        // SAFETY: checked, readable for size_of::<T>() bytes of a live mapping that safe code
        // only accesses atomically; `out` is a private buffer of that size; any bits are a
        // valid `T` (`Plain`), so it is initialised once every byte is written.
        unsafe {
            copy_from_shared(ptr.as_ptr().cast(), out.as_mut_ptr().cast(), size_of::<T>());
            Ok(out.assume_init())
        }
    }

    /// The address of a `T` at byte `offset` of data map `i`, after checking that it lies
    /// inside the value (and that the map is writable if `writable`).
    fn var_ptr<T: Plain>(
        &self,
        i: usize,
        offset: usize,
        writable: bool,
    ) -> Result<NonNull<u8>, Error> {
        let name = self.map_name(i).unwrap_or("?");
        // SAFETY: only the address is used; accesses stay within the checked length.
        let (ptr, len) =
            match (unsafe { self.map_data_ptr(i) }, self.map_data_len(i)) {
                (Some(p), Some(len)) => (p, len),
                _ => return Err(self.access_error(
                    format!("map #{i} ({name}) is not a mmapped global-data map"),
                    "only mmapable single-value maps (.bss, .data, .rodata, .data.*) are mapped",
                )),
            };
        let size = size_of::<T>();
        if offset.checked_add(size).is_none_or(|end| end > len) {
            return Err(self.access_error(
                format!("a {size}-byte variable at byte {offset} does not fit the {len}-byte value of map {name}"),
                "the type does not describe this map; rebuild the crate after changing the object",
            ));
        }
        if writable && !self.map_data_writable(i) {
            return Err(self.access_error(
                format!("map {name} is read-only (BPF_F_RDONLY_PROG or BPF_F_RDONLY)"),
                "read-only globals (.rodata) keep the values fixed at signing; set them at build \
                 time (the macro's rodata = { .. }) instead",
            ));
        }
        // SAFETY: offset + size <= len, inside the mapping.
        Ok(unsafe { ptr.add(offset) })
    }

    /// Variable of type `T` at byte `offset` of read-only data map `i` (`.rodata*`), read with
    /// [`GlobalVar::get`]. An error for a writable map (use [`Self::global_var_mut`]).
    pub fn global_var<T: Plain>(&self, i: usize, offset: usize) -> Result<GlobalVar<'_, T>, Error> {
        let ptr = self.var_ptr::<T>(i, offset, false)?;
        if self.map_data_writable(i) {
            return Err(self.access_error(
                format!("map {} is writable", self.map_name(i).unwrap_or("?")),
                "use global_var_mut for variables of writable sections",
            ));
        }
        Ok(GlobalVar {
            ptr,
            _skel: PhantomData,
        })
    }

    /// Variable of type `T` at byte `offset` of writable data map `i` (`.bss*`, `.data*`):
    /// [`GlobalVarMut::load`] and [`GlobalVarMut::store`] are atomic (relaxed) for naturally
    /// aligned 1/2/4/8-byte values, atomic byte-by-byte copies otherwise.
    pub fn global_var_mut<T: Plain>(
        &self,
        i: usize,
        offset: usize,
    ) -> Result<GlobalVarMut<'_, T>, Error> {
        let ptr = self.var_ptr::<T>(i, offset, true)?;
        Ok(GlobalVarMut {
            ptr,
            _skel: PhantomData,
        })
    }
}

/// A variable of a read-only, frozen section (`.rodata*`): nothing writes it after load, so
/// [`GlobalVar::get`] is a plain copy.
#[derive(Clone, Copy)]
pub struct GlobalVar<'a, T> {
    ptr: NonNull<u8>,
    _skel: PhantomData<(&'a LoadedSkeleton, T)>,
}

impl<T: Plain> GlobalVar<'_, T> {
    /// The variable's value.
    pub fn get(&self) -> T {
        // SAFETY: `ptr` points at size_of::<T>() readable bytes of a live, frozen mapping
        // (checked by `global_var`); any bits are a valid `T`; unaligned reads are allowed.
        unsafe { self.ptr.as_ptr().cast::<T>().read_unaligned() }
    }
}

/// A variable of a writable section (`.bss*`, `.data*`) that the BPF programs may access
/// concurrently. Nothing hands out a Rust reference to the memory:
///
/// * a value of 1, 2, 4 or 8 bytes at an address aligned to its size (every naturally aligned
///   C integer, enum, float or pointer-sized value) is loaded and stored with one atomic
///   instruction (`AtomicU*::from_ptr`, [`Ordering::Relaxed`]): never torn, but not ordered
///   with other memory accesses — pair it with the programs' own atomics
///   (`__sync_fetch_and_add`, `__atomic_store_n`) when it signals other data;
/// * any other value (structs, arrays, packed fields) is copied byte by byte with relaxed
///   atomic byte accesses: a store or load racing with a program's (or another thread's) may
///   see a mix of old and new bytes, but never races in the Rust sense.
///
/// Handles are neither `Send` nor `Sync`: each thread takes its own from the skeleton
/// (`bss_vars()`), and several threads storing the same non-atomic variable must synchronise
/// among themselves.
pub struct GlobalVarMut<'a, T> {
    ptr: NonNull<u8>,
    _skel: PhantomData<(&'a LoadedSkeleton, T)>,
}

impl<T> std::fmt::Debug for GlobalVar<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalVar")
            .field("addr", &self.ptr)
            .field("type", &std::any::type_name::<T>())
            .finish()
    }
}

impl<T> std::fmt::Debug for GlobalVarMut<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalVarMut")
            .field("addr", &self.ptr)
            .field("type", &std::any::type_name::<T>())
            .finish()
    }
}

/// Copies `n` bytes of shared map memory at `src` to the private buffer `dst`, one relaxed
/// atomic byte load each: other threads (and the BPF programs) may store into `src`
/// meanwhile, so the copy may mix old and new bytes, but it is not a data race.
///
/// # Safety
/// `src` must be valid for `n` bytes of reads that are only ever accessed atomically or by the
/// BPF programs, `dst` valid for `n` bytes of writes and not overlapping `src`.
unsafe fn copy_from_shared(src: *mut u8, dst: *mut u8, n: usize) {
    for k in 0..n {
        // SAFETY: guaranteed by the caller; an AtomicU8 has no alignment requirement.
        unsafe {
            dst.add(k)
                .write(AtomicU8::from_ptr(src.add(k)).load(Ordering::Relaxed))
        };
    }
}

/// Copies `n` bytes of the private buffer `src` into shared map memory at `dst`, one relaxed
/// atomic byte store each (see [`copy_from_shared`]).
///
/// # Safety
/// `src` must be valid for `n` bytes of initialised reads, `dst` valid for `n` bytes of writes
/// that are only ever accessed atomically or by the BPF programs, and they must not overlap.
unsafe fn copy_to_shared(src: *const u8, dst: *mut u8, n: usize) {
    for k in 0..n {
        // SAFETY: guaranteed by the caller; an AtomicU8 has no alignment requirement.
        unsafe { AtomicU8::from_ptr(dst.add(k)).store(src.add(k).read(), Ordering::Relaxed) };
    }
}

/// Whether a `T` at `p` is accessed atomically: size 1/2/4/8 and aligned to it.
fn atomic_width<T>(p: *mut u8) -> Option<usize> {
    let size = size_of::<T>();
    (matches!(size, 1 | 2 | 4 | 8) && (p as usize).is_multiple_of(size)).then_some(size)
}

impl<T: Plain> GlobalVarMut<'_, T> {
    /// Whether loads and stores of this variable are single atomic accesses.
    pub fn is_atomic(&self) -> bool {
        atomic_width::<T>(self.ptr.as_ptr()).is_some()
    }

    /// The variable's current value.
    pub fn load(&self) -> T {
        let p = self.ptr.as_ptr();
        let mut out = MaybeUninit::<T>::uninit();
        let dst = out.as_mut_ptr().cast::<u8>();
        // SAFETY: `p` points at size_of::<T>() readable and writable bytes of a live mapping
        // (checked by `global_var_mut`), aligned to the atomic width when one is used; the
        // memory is only ever accessed through atomics (of that width, or per byte) by safe
        // user-space code. `dst` is a local buffer of size_of::<T>() bytes; every bit pattern is
        // a valid `T` (`Plain`), so `assume_init` is sound once all bytes are written.
        unsafe {
            match atomic_width::<T>(p) {
                Some(1) => dst.write(AtomicU8::from_ptr(p).load(Ordering::Relaxed)),
                Some(2) => dst.cast::<[u8; 2]>().write_unaligned(
                    AtomicU16::from_ptr(p.cast())
                        .load(Ordering::Relaxed)
                        .to_ne_bytes(),
                ),
                Some(4) => dst.cast::<[u8; 4]>().write_unaligned(
                    AtomicU32::from_ptr(p.cast())
                        .load(Ordering::Relaxed)
                        .to_ne_bytes(),
                ),
                Some(_) => dst.cast::<[u8; 8]>().write_unaligned(
                    AtomicU64::from_ptr(p.cast())
                        .load(Ordering::Relaxed)
                        .to_ne_bytes(),
                ),
                None => copy_from_shared(p, dst, size_of::<T>()),
            }
            out.assume_init()
        }
    }

    /// Stores `value` into the variable; the BPF programs see it at once.
    pub fn store(&self, value: T) {
        let p = self.ptr.as_ptr();
        let src = (&raw const value).cast::<u8>();
        // SAFETY: as in `load`; `src` points at size_of::<T>() initialised bytes of `value`
        // (`Plain` types have no padding-dependent invariants: their bytes are copied as is).
        unsafe {
            match atomic_width::<T>(p) {
                Some(1) => AtomicU8::from_ptr(p).store(src.read(), Ordering::Relaxed),
                Some(2) => AtomicU16::from_ptr(p.cast()).store(
                    u16::from_ne_bytes(src.cast::<[u8; 2]>().read_unaligned()),
                    Ordering::Relaxed,
                ),
                Some(4) => AtomicU32::from_ptr(p.cast()).store(
                    u32::from_ne_bytes(src.cast::<[u8; 4]>().read_unaligned()),
                    Ordering::Relaxed,
                ),
                Some(_) => AtomicU64::from_ptr(p.cast()).store(
                    u64::from_ne_bytes(src.cast::<[u8; 8]>().read_unaligned()),
                    Ordering::Relaxed,
                ),
                // (`Plain` types have no padding, so every byte of `value` is initialised.)
                None => copy_to_shared(src, p, size_of::<T>()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    use crate::fake::{FakeKernel, Loader};
    use crate::*;

    const DATA: &[u8] = include_bytes!("../../tests/fixtures/golden/hello/data.bin");
    const P2_INSNS: &[u8] = include_bytes!("../../tests/fixtures/golden/hello/p2.insns");
    const P2_SIG: &[u8] = include_bytes!("../../tests/fixtures/golden/hello/p2.sig");
    const P2_EXCL: &[u8; 32] = include_bytes!("../../tests/fixtures/golden/hello/p2.excl");

    const fn map(name: &str, value_size: u32, map_flags: u32, mmapable: bool) -> MapSpec<'_> {
        MapSpec {
            name,
            map_type: 2,
            key_size: 4,
            value_size,
            max_entries: 1,
            map_flags,
            mmapable,
        }
    }

    const fn prog(name: &str, autoload: bool) -> ProgSpec<'_> {
        ProgSpec {
            name,
            section: "fentry/__do_sys_getpid",
            prog_type: 26,
            expected_attach_type: 24,
            autoload,
            attach: AttachKind::RawTracepoint { tp_name: None },
        }
    }

    const SPEC: SkeletonSpec<'static> = SkeletonSpec {
        name: "views",
        data: DATA,
        variants: &[LoaderVariant {
            protocol: Protocol::P2,
            insns: P2_INSNS,
            excl_prog_hash: *P2_EXCL,
            signature: Some(P2_SIG),
        }],
        maps: &[
            map("bss", 12, BPF_F_MMAPABLE, true),
            map("rodata", 8, BPF_F_MMAPABLE | BPF_F_RDONLY_PROG, true),
            map("counts", 8, 0, false),
        ],
        progs: &[prog("on", true), prog("optional", false)],
        signer_skid: None,
    };

    /// A `.bss` of 12 bytes whose Rust layout (align 8) rounds up to 16.
    #[derive(Clone, Copy, Debug, PartialEq)]
    #[repr(C)]
    struct Bss {
        counter: u64,
        flag: u32,
        _pad: u32,
    }
    // SAFETY: integers only.
    unsafe impl Plain for Bss {}

    fn loaded(k: &FakeKernel) -> LoadedSkeleton {
        let opts = LoadOptions::new().protocol(Protocol::P2);
        crate::load::load_impl(k, &SPEC, &opts, None, || unreachable!("protocol given")).unwrap()
    }

    fn fake() -> FakeKernel {
        FakeKernel::new().loader(Loader {
            retval: 0,
            maps: 3,
            progs: 1,
            ctx_progs: 2,
            ..Loader::default()
        })
    }

    #[test]
    fn fds_are_checked() {
        let k = fake();
        let sk = loaded(&k);
        assert!(sk.loaded_prog_fd(0).is_ok());
        assert!(sk.loaded_map_fd(2).is_ok());
        let e = sk.loaded_prog_fd(1).unwrap_err();
        assert_eq!(e.stage(), Stage::Access);
        assert!(
            e.to_string()
                .contains("program optional (#1) was not loaded"),
            "{e}"
        );
        assert!(e.guidance().contains("SEC(\"?...\")"), "{e}");
        let e = sk.loaded_prog_fd(7).unwrap_err();
        assert!(
            e.to_string().contains("no program #7 (the skeleton has 2)"),
            "{e}"
        );
        let e = sk.loaded_map_fd(3).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("views: access loaded skeleton failed"),
            "{e}"
        );
        assert!(e.to_string().contains("no map #3"), "{e}");
    }

    #[test]
    fn typed_views_share_the_map_memory() {
        let k = fake();
        let mut sk = loaded(&k);
        // SAFETY: no BPF program runs in the fake kernel.
        let bss = unsafe { sk.global_mut::<Bss>(0) }.unwrap();
        bss.counter = 41;
        bss.flag = 1;
        // SAFETY: as above.
        assert_eq!(unsafe { sk.global_shared::<Bss>(0) }.unwrap().counter, 41);
        // Another writer (standing in for a BPF program) changes the map through its fd; the
        // volatile copy sees it.
        let fd = sk.loaded_map_fd(0).unwrap().as_raw_fd();
        let v = 42u64.to_ne_bytes();
        // SAFETY: writes 8 bytes from a local buffer to an fd the skeleton owns.
        assert_eq!(unsafe { libc::pwrite(fd, v.as_ptr().cast(), 8, 0) }, 8);
        let snap: Bss = sk.read_global(0).unwrap();
        assert_eq!((snap.counter, snap.flag), (42, 1));
        assert_eq!(sk.read_global::<[u8; 4]>(0).unwrap(), [42, 0, 0, 0]);
        // Read-only maps read fine, by reference too, and refuse `&mut`.
        assert_eq!(sk.read_global::<u64>(1).unwrap(), 0);
        assert_eq!(*sk.global::<u64>(1).unwrap(), 0);
        // SAFETY: as above.
        let e = unsafe { sk.global_mut::<u64>(1) }.unwrap_err();
        assert!(e.to_string().contains("map rodata is read-only"), "{e}");
        // The safe shared reference is refused for a writable map.
        let e = sk.global::<Bss>(0).unwrap_err();
        assert!(e.to_string().contains("written by the BPF programs"), "{e}");
        assert!(e.guidance().contains("read_global"), "{e}");
    }

    #[test]
    fn variables_are_loaded_and_stored_in_place() {
        let k = fake();
        let sk = loaded(&k);
        let counter = sk.global_var_mut::<u64>(0, 0).unwrap();
        let flag = sk.global_var_mut::<u32>(0, 8).unwrap();
        assert!(counter.is_atomic() && flag.is_atomic());
        counter.store(0x1122_3344_5566_7788);
        flag.store(7);
        assert_eq!(counter.load(), 0x1122_3344_5566_7788);
        let snap: Bss = sk.read_global(0).unwrap();
        assert_eq!((snap.counter, snap.flag), (0x1122_3344_5566_7788, 7));
        // A writer behind the handle's back (a BPF program) is seen by the next load.
        let fd = sk.loaded_map_fd(0).unwrap().as_raw_fd();
        let v = 9u32.to_ne_bytes();
        // SAFETY: writes 4 bytes from a local buffer to an fd the skeleton owns.
        assert_eq!(unsafe { libc::pwrite(fd, v.as_ptr().cast(), 4, 8) }, 4);
        assert_eq!(flag.load(), 9);
        // Unaligned and odd-sized values are copied byte by byte.
        let odd = sk.global_var_mut::<u16>(0, 1).unwrap();
        assert!(!odd.is_atomic());
        let arr = sk.global_var_mut::<[u8; 3]>(0, 8).unwrap();
        assert!(!arr.is_atomic());
        arr.store([1, 2, 3]);
        assert_eq!(flag.load(), u32::from_ne_bytes([1, 2, 3, 0]));
        odd.store(0xabcd);
        assert_eq!(counter.load().to_ne_bytes()[1..3], 0xabcdu16.to_ne_bytes());
        assert_eq!(odd.load(), 0xabcd);
        // Bounds and permissions.
        let e = sk.global_var_mut::<u64>(0, 8).unwrap_err();
        assert!(
            e.to_string().contains("does not fit the 12-byte value"),
            "{e}"
        );
        assert!(sk.global_var_mut::<u8>(0, usize::MAX).is_err());
        let e = sk.global_var_mut::<u32>(1, 0).unwrap_err();
        assert!(e.to_string().contains("read-only"), "{e}");
        assert_eq!(sk.global_var::<u32>(1, 4).unwrap().get(), 0);
        assert!(
            sk.global_var::<u32>(0, 0).is_err(),
            "writable: use global_var_mut"
        );
        assert!(sk.global_var_mut::<u32>(2, 0).is_err(), "not mmapped");
    }

    #[test]
    fn views_that_do_not_fit_are_errors() {
        let k = fake();
        let mut sk = loaded(&k);
        let e = sk.read_global::<[u64; 3]>(0).unwrap_err();
        assert!(
            e.to_string()
                .contains("a 24-byte view does not fit the 12-byte value of map bss"),
            "{e}"
        );
        assert!(
            sk.read_global::<u128>(0).is_ok(),
            "rounded up to the type's alignment"
        );
        assert!(sk.read_global::<[u8; 17]>(0).is_err());
        for i in [2, 9] {
            let e = sk.read_global::<u32>(i).unwrap_err();
            assert_eq!(e.stage(), Stage::Access);
            assert!(
                e.to_string().contains("is not a mmapped global-data map"),
                "{e}"
            );
            // SAFETY: no BPF program runs in the fake kernel.
            assert!(unsafe { sk.global_mut::<u32>(i) }.is_err());
        }
    }
}
