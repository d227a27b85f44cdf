//! Checked, typed access to a loaded skeleton: fds by index, and the global-data maps
//! (`.bss`, `.data`, `.rodata`, …) as [`Plain`] Rust types — by reference, or copied with
//! volatile reads.
//!
//! See [`Plain`] for what sharing memory with BPF programs means.

use std::os::fd::BorrowedFd;
use std::ptr::NonNull;

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
/// holds a view of it. A `&T` from [`LoadedSkeleton::global`] (or `&mut T` from
/// [`LoadedSkeleton::global_mut`]) tells the compiler the memory does not change while it is
/// borrowed, which is not true of what the programs store: a value read twice through one
/// reference may be read once, a loop polling a field may never see it change, and a multi-byte
/// value may be torn by a concurrent store. libbpf-rs skeletons hand out the same references
/// with the same caveat. Short-lived references (take one, read or write a field, drop it) are
/// how they are meant to be used; to observe values the programs change, copy the section with
/// [`LoadedSkeleton::read_global`], whose volatile reads happen on every call. Neither makes
/// accesses atomic or ordered with the programs' accesses: use the programs' atomics
/// (`__sync_fetch_and_add`) on their side, and treat values read here as snapshots.
///
/// # Safety
///
/// Every bit pattern of `size_of::<Self>()` bytes must be a valid value of the type (integers,
/// floats, arrays, and `#[repr(C)]` structs or unions made only of such types; no `bool`,
/// `char`, enums, references, pointers or niches), and the type must hold no resources.
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

    /// Data map `i` viewed as a `T` (see the [`Plain`](crate::Plain#memory-shared-with-bpf-programs) on memory shared with BPF
    /// programs: the programs may change it while the reference lives).
    pub fn global<T: Plain>(&self, i: usize) -> Result<&T, Error> {
        let ptr = self.global_ptr::<T>(i, false)?;
        // SAFETY: checked mapping of at least size_of::<T>() readable, aligned bytes that lives
        // as long as `self`; every bit pattern is a valid `T`.
        Ok(unsafe { ptr.as_ref() })
    }

    /// Writable data map `i` viewed as a `&mut T` (an error for read-only maps). Stores reach
    /// the BPF programs at once; they may change the memory too (see the [`Plain`](crate::Plain#memory-shared-with-bpf-programs)).
    pub fn global_mut<T: Plain>(&mut self, i: usize) -> Result<&mut T, Error> {
        let mut ptr = self.global_ptr::<T>(i, true)?;
        // SAFETY: as in `global`, and the mapping is writable; `&mut self` makes this the only
        // reference user space holds to it.
        Ok(unsafe { ptr.as_mut() })
    }

    /// A copy of data map `i` as a `T`, read with volatile reads on every call, so that values
    /// the BPF programs change are seen (not atomic: see the [`Plain`](crate::Plain#memory-shared-with-bpf-programs)).
    pub fn read_global<T: Plain>(&self, i: usize) -> Result<T, Error> {
        let ptr = self.global_ptr::<T>(i, false)?;
        // SAFETY: checked, aligned, readable for size_of::<T>() bytes; any bits are a valid `T`.
        Ok(unsafe { ptr.as_ptr().read_volatile() })
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
        let bss = sk.global_mut::<Bss>(0).unwrap();
        bss.counter = 41;
        bss.flag = 1;
        assert_eq!(sk.global::<Bss>(0).unwrap().counter, 41);
        // Another writer (standing in for a BPF program) changes the map through its fd; the
        // volatile copy sees it.
        let fd = sk.loaded_map_fd(0).unwrap().as_raw_fd();
        let v = 42u64.to_ne_bytes();
        // SAFETY: writes 8 bytes from a local buffer to an fd the skeleton owns.
        assert_eq!(unsafe { libc::pwrite(fd, v.as_ptr().cast(), 8, 0) }, 8);
        let snap: Bss = sk.read_global(0).unwrap();
        assert_eq!((snap.counter, snap.flag), (42, 1));
        assert_eq!(sk.read_global::<[u8; 4]>(0).unwrap(), [42, 0, 0, 0]);
        // Read-only maps read fine and refuse `&mut`.
        assert_eq!(sk.read_global::<u64>(1).unwrap(), 0);
        let e = sk.global_mut::<u64>(1).unwrap_err();
        assert!(e.to_string().contains("map rodata is read-only"), "{e}");
    }

    #[test]
    fn views_that_do_not_fit_are_errors() {
        let k = fake();
        let mut sk = loaded(&k);
        let e = sk.global::<[u64; 3]>(0).unwrap_err();
        assert!(
            e.to_string()
                .contains("a 24-byte view does not fit the 12-byte value of map bss"),
            "{e}"
        );
        assert!(
            sk.global::<u128>(0).is_ok(),
            "rounded up to the type's alignment"
        );
        assert!(sk.global::<[u8; 17]>(0).is_err());
        for i in [2, 9] {
            let e = sk.read_global::<u32>(i).unwrap_err();
            assert_eq!(e.stage(), Stage::Access);
            assert!(
                e.to_string().contains("is not a mmapped global-data map"),
                "{e}"
            );
            assert!(sk.global_mut::<u32>(i).is_err());
        }
    }
}
