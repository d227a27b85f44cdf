//! Input limits of the parser: bounds on what a hostile object can make the generator read,
//! copy or walk, each answered with [`crate::ErrorKind::Limit`].
//!
//! Budget reference: an object of up to 16 MiB is answered (artifact or typed error) in at most
//! 2 s and 256 MiB of memory by the release build. The limits sit far above real objects (the
//! largest BPF objects in the kernel selftests are a few MiB, with a few thousand symbols and
//! some tens of thousands of BTF types) and low enough that the work they allow stays linear
//! and inside that budget: every per-symbol, per-type and per-section step is O(1) amortised
//! (hash-map look-ups), and no name is copied per symbol.

/// Largest object accepted: 64 MiB, four times the 16 MiB budget reference. The loader's data
/// blob (BTF + map initial values) is capped at 4 MiB anyway, and debug info, the bulk of a
/// big object, is never read.
pub const MAX_OBJECT_SIZE: usize = 64 << 20;

/// Most ELF sections accepted: 65,536, the count the ELF header can state without the
/// extended-numbering escape. A clang object with one section per function has a few hundred.
pub const MAX_SECTIONS: usize = 1 << 16;

/// Most ELF symbols accepted: 1,048,576 (24 MiB of `.symtab`). Real objects hold hundreds.
pub const MAX_SYMBOLS: usize = 1 << 20;

/// Most BTF types accepted: 1,048,576. The kernel's own `vmlinux` BTF has about 150,000; an
/// object's BTF is a small subset of that.
pub const MAX_BTF_TYPES: usize = 1 << 20;

/// Most bytes of names copied out of the string tables into the object model (section,
/// program, extern and map names): 16 MiB. A real object copies a few KiB; the bound stops an
/// object whose many entries all name one long string from multiplying it.
pub const MAX_NAME_BYTES: usize = 16 << 20;

/// Most programs and subprograms collected: 4,096. The loader accepts at most 126 (checked when
/// linking, with [`crate::Limit::Programs`]); parsing keeps headroom so that error still names
/// the count, while a hostile object cannot create millions of program records.
pub const MAX_PROGRAMS: usize = 4096;
