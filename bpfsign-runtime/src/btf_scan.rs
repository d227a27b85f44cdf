//! A scanner for raw BTF (the vmlinux type information in `/sys/kernel/btf/vmlinux`): finds a
//! struct by name and the bit offset of one of its members, in place and without building a type
//! table. The kernel probe uses it to tell P1 from P1b kernels (docs/protocol.md §7.2).

use std::fmt;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::ptr::NonNull;

/// Where vmlinux BTF lives.
pub(crate) const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

/// Malformed or unexpected BTF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BtfError(String);

impl fmt::Display for BtfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The bytes of vmlinux BTF: mapped read-only (Linux 6.16+ supports `mmap` of the sysfs file) or,
/// where mapping fails, read into memory.
pub(crate) enum BtfBytes {
    /// A private read-only mapping of `len` bytes, unmapped on drop.
    Mapped { ptr: NonNull<u8>, len: usize },
    /// The file's bytes read into memory.
    Read(Vec<u8>),
}

impl BtfBytes {
    /// Maps `path` read-only, or reads it when it cannot be mapped (older kernels, empty files).
    pub(crate) fn open(path: &str) -> io::Result<BtfBytes> {
        let file = std::fs::File::open(path)?;
        let len = usize::try_from(file.metadata()?.len()).unwrap_or(0);
        if len > 0 {
            // SAFETY: a fresh PROT_READ/MAP_PRIVATE mapping of an open file; the pointer is only
            // used through `as_ref` while `self` lives and unmapped once in `drop`.
            let ptr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE,
                    file.as_raw_fd(),
                    0,
                )
            };
            if ptr != libc::MAP_FAILED {
                if let Some(ptr) = NonNull::new(ptr.cast::<u8>()) {
                    return Ok(BtfBytes::Mapped { ptr, len });
                }
            }
        }
        // sysfs hands out at most a page per read(2); the size hint avoids regrowing the buffer.
        let mut buf = Vec::with_capacity(len);
        (&file).read_to_end(&mut buf)?;
        Ok(BtfBytes::Read(buf))
    }
}

impl From<Vec<u8>> for BtfBytes {
    fn from(v: Vec<u8>) -> Self {
        BtfBytes::Read(v)
    }
}

impl AsRef<[u8]> for BtfBytes {
    fn as_ref(&self) -> &[u8] {
        match self {
            // SAFETY: the mapping is `len` readable bytes until `drop`; nothing writes to it.
            BtfBytes::Mapped { ptr, len } => unsafe {
                std::slice::from_raw_parts(ptr.as_ptr(), *len)
            },
            BtfBytes::Read(v) => v,
        }
    }
}

impl Drop for BtfBytes {
    fn drop(&mut self) {
        if let BtfBytes::Mapped { ptr, len } = self {
            // SAFETY: unmaps exactly the mapping made in `open`, once.
            unsafe { libc::munmap(ptr.as_ptr().cast(), *len) };
        }
    }
}

fn rd32(b: &[u8], off: usize) -> Result<u32, BtfError> {
    off.checked_add(4)
        .and_then(|end| b.get(off..end))
        .map(|s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| BtfError(format!("truncated at byte {off}")))
}

/// Finds `struct <name>` in raw BTF and returns the bit offset of `member`, `None` if the struct
/// has no such member, an error if the struct is missing or the BTF is malformed.
pub(crate) fn struct_member_bit_offset(
    btf: &[u8],
    name: &str,
    member: &str,
) -> Result<Option<u32>, BtfError> {
    find_struct(btf, name)?
        .ok_or_else(|| BtfError(format!("struct {name} not found")))?
        .member_bit_offset(member)
}

/// One BTF struct found by [`find_struct`], borrowed from the raw BTF.
pub(crate) struct BtfStruct<'b> {
    /// The `vlen` 12-byte `btf_member` records.
    members: &'b [u8],
    kind_flag: bool,
    strs: &'b [u8],
}

impl BtfStruct<'_> {
    /// The bit offset of the first member called `member`, `None` if there is none.
    pub(crate) fn member_bit_offset(&self, member: &str) -> Result<Option<u32>, BtfError> {
        for m in self.members.chunks_exact(12) {
            if name_is(self.strs, rd32(m, 0)?, member) {
                let off = rd32(m, 8)?;
                // With kind_flag set, the top 8 bits hold the bitfield size.
                return Ok(Some(if self.kind_flag { off & 0xff_ffff } else { off }));
            }
        }
        Ok(None)
    }
}

/// Whether the NUL-terminated string at `off` in `strs` is exactly `name`, compared in place.
fn name_is(strs: &[u8], off: u32, name: &str) -> bool {
    let n = name.len();
    match strs.get(off as usize..).and_then(|s| s.get(..=n)) {
        Some(s) => s[n] == 0 && &s[..n] == name.as_bytes(),
        None => false,
    }
}

/// `BTF_KIND_STRUCT`.
const KIND_STRUCT: usize = 4;
/// [`KIND_FIXED`] of a kind this scanner does not know.
const UNKNOWN_KIND: u8 = u8::MAX;
/// Bytes that follow a type's 12-byte header regardless of `vlen`, per BTF kind (index = kind).
const KIND_FIXED: [u8; 32] = {
    let mut t = [UNKNOWN_KIND; 32];
    // PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FLOAT, TYPE_TAG.
    let none = [2, 7, 8, 9, 10, 11, 12, 16, 18];
    let mut i = 0;
    while i < none.len() {
        t[none[i]] = 0;
        i += 1;
    }
    t[1] = 4; // INT
    t[14] = 4; // VAR
    t[17] = 4; // DECL_TAG
    t[3] = 12; // ARRAY
    t[4] = 0; // STRUCT (vlen members)
    t[5] = 0; // UNION (vlen members)
    t[15] = 0; // DATASEC (vlen vars)
    t[19] = 0; // ENUM64 (vlen values)
    t[6] = 0; // ENUM (vlen values)
    t[13] = 0; // FUNC_PROTO (vlen params)
    t
};
/// Bytes per `vlen` entry after a type's header, per BTF kind (index = kind).
const KIND_PER_VLEN: [u8; 32] = {
    let mut t = [0; 32];
    t[4] = 12; // STRUCT: btf_member
    t[5] = 12; // UNION: btf_member
    t[15] = 12; // DATASEC: btf_var_secinfo
    t[19] = 12; // ENUM64: btf_enum64
    t[6] = 8; // ENUM: btf_enum
    t[13] = 8; // FUNC_PROTO: btf_param
    t
};

/// The first `struct <name>` in raw BTF; `None` if there is no such struct, an error if the BTF
/// is malformed. Scans the type section in place and stops at the match: types are skipped by
/// their kind and `vlen`, and only STRUCT names are compared (without building anything).
pub(crate) fn find_struct<'b>(
    btf: &'b [u8],
    name: &str,
) -> Result<Option<BtfStruct<'b>>, BtfError> {
    let magic = btf
        .get(0..2)
        .map(|m| u16::from_ne_bytes([m[0], m[1]]))
        .ok_or_else(|| BtfError("empty".into()))?;
    if magic != 0xeb9f {
        return Err(BtfError(format!("bad magic {magic:#x}")));
    }
    let hdr_len = rd32(btf, 4)? as usize;
    let section = |off_at: usize, what: &str| -> Result<&'b [u8], BtfError> {
        let (off, len) = (rd32(btf, off_at)? as usize, rd32(btf, off_at + 4)? as usize);
        hdr_len
            .checked_add(off)
            .and_then(|start| Some(start..start.checked_add(len)?))
            .and_then(|r| btf.get(r))
            .ok_or_else(|| BtfError(format!("{what} section out of bounds")))
    };
    let types = section(8, "type")?;
    let strs = section(16, "string")?;
    let mut pos = 0usize;
    while pos < types.len() {
        let Some(rec) = types.get(pos..).and_then(<[u8]>::first_chunk::<8>) else {
            return Err(BtfError(format!("truncated at byte {pos}")));
        };
        let info = u32::from_ne_bytes([rec[4], rec[5], rec[6], rec[7]]);
        let kind = ((info >> 24) & 0x1f) as usize;
        // Table lookups instead of a `match`: no indirect jump per type, which is what a
        // jump table costs most under binary translation (qemu TCG), on the ~10^5 types
        // vmlinux BTF has before `struct bpf_map` in name-sorted BTF (7.2+).
        let fixed = KIND_FIXED[kind];
        if fixed == UNKNOWN_KIND {
            return Err(BtfError(format!(
                "unknown BTF kind {kind} at type byte {pos}"
            )));
        }
        let body = pos + 12;
        let end =
            body + usize::from(fixed) + usize::from(KIND_PER_VLEN[kind]) * (info & 0xffff) as usize;
        if kind == KIND_STRUCT
            && name_is(
                strs,
                u32::from_ne_bytes([rec[0], rec[1], rec[2], rec[3]]),
                name,
            )
        {
            let members = types
                .get(body..end)
                .ok_or_else(|| BtfError(format!("struct {name} truncated at byte {pos}")))?;
            return Ok(Some(BtfStruct {
                members,
                kind_flag: info >> 31 == 1,
                strs,
            }));
        }
        pos = end;
    }
    Ok(None)
}

/// BTF blobs for the tests of this module and of the probe.
#[cfg(test)]
pub(crate) mod testing {
    /// Builds a BTF blob with `int` and `struct bpf_map { u8 sha[32] (as int); <member> }`.
    pub(crate) fn btf(member: &str, bit_off: u32, kind_flag: bool) -> Vec<u8> {
        btf_struct("bpf_map", member, bit_off, kind_flag)
    }

    /// Builds a BTF blob with `int` and `struct <sname> { sha (as int); <member> }`.
    pub(crate) fn btf_struct(sname: &str, member: &str, bit_off: u32, kind_flag: bool) -> Vec<u8> {
        let mut strs = b"\0int\0".to_vec();
        let sname_off = strs.len() as u32;
        strs.extend_from_slice(sname.as_bytes());
        strs.push(0);
        let sha_off = strs.len() as u32;
        strs.extend_from_slice(b"sha\0");
        let member_off = strs.len() as u32;
        strs.extend_from_slice(member.as_bytes());
        strs.push(0);
        let mut types = Vec::new();
        let w = |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&x.to_ne_bytes());
        // [1] INT "int" size 4
        w(&mut types, 1);
        w(&mut types, 1 << 24);
        w(&mut types, 4);
        w(&mut types, 32);
        // [2] PTR -> 1 (padding kind)
        w(&mut types, 0);
        w(&mut types, 2 << 24);
        w(&mut types, 1);
        // [3] STRUCT <sname>, 2 members
        w(&mut types, sname_off);
        w(
            &mut types,
            (4 << 24) | 2 | if kind_flag { 1 << 31 } else { 0 },
        );
        w(&mut types, 64);
        for (n, off) in [(sha_off, 0u32), (member_off, bit_off)] {
            w(&mut types, n);
            w(&mut types, 1);
            w(&mut types, off);
        }
        let mut out = Vec::new();
        out.extend_from_slice(&0xeb9fu16.to_ne_bytes());
        out.push(1);
        out.push(0);
        w(&mut out, 24);
        w(&mut out, 0);
        w(&mut out, types.len() as u32);
        w(&mut out, types.len() as u32);
        w(&mut out, strs.len() as u32);
        out.extend_from_slice(&types);
        out.extend_from_slice(&strs);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::testing::btf;
    use super::*;

    #[test]
    fn btf_finds_excl() {
        assert_eq!(
            struct_member_bit_offset(&btf("excl", 256, false), "bpf_map", "excl"),
            Ok(Some(256))
        );
        assert_eq!(
            struct_member_bit_offset(&btf("excl", 256, true), "bpf_map", "excl"),
            Ok(Some(256))
        );
        assert_eq!(
            struct_member_bit_offset(&btf("ops", 256, false), "bpf_map", "excl"),
            Ok(None)
        );
        assert!(struct_member_bit_offset(&btf("excl", 256, false), "bpf_prog", "excl").is_err());
    }

    #[test]
    fn btf_rejects_garbage_without_panicking() {
        let good = btf("excl", 256, false);
        for cut in 0..good.len() {
            let _ = struct_member_bit_offset(&good[..cut], "bpf_map", "excl");
        }
        let mut bad = good.clone();
        bad[4..8].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert!(struct_member_bit_offset(&bad, "bpf_map", "excl").is_err());
        assert!(struct_member_bit_offset(b"\x9f\xeb", "bpf_map", "excl").is_err());
    }

    #[test]
    fn host_btf_if_present() {
        // Not a kernel test: only parses the file when it exists, mapped and read.
        if let Ok(read) = std::fs::read(VMLINUX_BTF) {
            let r = struct_member_bit_offset(&read, "bpf_map", "excl");
            assert!(r.is_ok(), "{r:?}");
            let opened = BtfBytes::open(VMLINUX_BTF).unwrap();
            assert_eq!(opened.as_ref(), &read[..]);
            assert_eq!(
                struct_member_bit_offset(opened.as_ref(), "bpf_map", "excl"),
                r
            );
        }
    }

    /// Appends one BTF type record: name offset, info (kind, vlen, kind_flag) and the `u32` words
    /// that follow it (size/type and the kind's trailing records).
    fn ty(out: &mut Vec<u8>, name_off: u32, kind: u32, vlen: u32, words: &[u32]) {
        for w in [name_off, (kind << 24) | vlen]
            .into_iter()
            .chain(words.iter().copied())
        {
            out.extend_from_slice(&w.to_ne_bytes());
        }
    }

    /// A BTF blob from a type section and a string section.
    fn raw_btf(types: &[u8], strs: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&0xeb9fu16.to_ne_bytes());
        out.extend_from_slice(&[1, 0]);
        for w in [
            24,
            0,
            types.len() as u32,
            types.len() as u32,
            strs.len() as u32,
        ] {
            out.extend_from_slice(&w.to_ne_bytes());
        }
        out.extend_from_slice(types);
        out.extend_from_slice(strs);
        out
    }

    #[test]
    fn btf_scan_skips_every_kind_and_finds_a_struct_at_the_end() {
        // Offsets: 1 "bpf_map_ops", 13 "bpf_map", 21 "excl", 26 "x".
        let strs = b"\0bpf_map_ops\0bpf_map\0excl\0x\0";
        let mut t = Vec::new();
        ty(&mut t, 26, 1, 0, &[4, 32]); // [1] INT
        ty(&mut t, 0, 2, 0, &[1]); // PTR
        ty(&mut t, 0, 3, 0, &[0, 1, 1, 4]); // ARRAY
        ty(&mut t, 13, 5, 1, &[8, 21, 1, 256]); // UNION "bpf_map": not a struct
        ty(&mut t, 13, 6, 2, &[4, 26, 0, 21, 1]); // ENUM "bpf_map" with 2 values
        ty(&mut t, 13, 7, 0, &[0]); // FWD "bpf_map"
        ty(&mut t, 13, 8, 0, &[1]); // TYPEDEF "bpf_map"
        ty(&mut t, 0, 13, 2, &[1, 0, 1, 0, 1]); // FUNC_PROTO, 2 params
        ty(&mut t, 26, 12, 0, &[8]); // FUNC
        ty(&mut t, 26, 14, 0, &[1, 1]); // VAR
        ty(&mut t, 26, 15, 1, &[8, 10, 0, 4]); // DATASEC, 1 var
        ty(&mut t, 26, 16, 0, &[8]); // FLOAT
        ty(&mut t, 26, 17, 0, &[1, u32::MAX]); // DECL_TAG
        ty(&mut t, 26, 18, 0, &[1]); // TYPE_TAG
        ty(&mut t, 26, 19, 1, &[8, 21, 0, 0]); // ENUM64, 1 value
                                               // STRUCT "bpf_map_ops" shares the prefix and has `excl` elsewhere.
        ty(&mut t, 1, 4, 1, &[8, 21, 1, 64]);
        let prefix_only = raw_btf(&t, strs);
        assert_eq!(
            struct_member_bit_offset(&prefix_only, "bpf_map", "excl"),
            Err(BtfError("struct bpf_map not found".into()))
        );
        assert_eq!(
            struct_member_bit_offset(&prefix_only, "bpf_map_ops", "excl"),
            Ok(Some(64))
        );
        // The real one is the last type.
        ty(&mut t, 13, 4, 2, &[64, 26, 1, 0, 21, 1, 256]);
        let full = raw_btf(&t, strs);
        assert_eq!(
            struct_member_bit_offset(&full, "bpf_map", "excl"),
            Ok(Some(256))
        );
        assert_eq!(struct_member_bit_offset(&full, "bpf_map", "exc"), Ok(None));
        assert_eq!(struct_member_bit_offset(&full, "bpf_ma", "excl").ok(), None);
        // Every truncation of the type section is an error or a miss, never a panic or a hit.
        for cut in 0..t.len() {
            let r = struct_member_bit_offset(&raw_btf(&t[..cut], strs), "bpf_map", "excl");
            assert!(r.is_err(), "cut {cut}: {r:?}");
        }
    }

    #[test]
    fn btf_scan_rejects_malformed_names_and_sizes() {
        let mut t = Vec::new();
        // A name offset past the string section and a name missing its NUL never match.
        ty(&mut t, 1000, 4, 0, &[0]);
        ty(&mut t, u32::MAX, 4, 0, &[0]);
        ty(&mut t, 1, 4, 0, &[0]);
        let b = raw_btf(&t, b"\0bpf_map");
        assert_eq!(find_struct(&b, "bpf_map").map(|s| s.is_some()), Ok(false));
        // A struct whose vlen runs past the type section is an error, not a short member list.
        let mut t = Vec::new();
        ty(&mut t, 1, 4, 0xffff, &[8, 1, 1, 0]);
        let b = raw_btf(&t, b"\0bpf_map\0");
        assert!(find_struct(&b, "bpf_map").is_err());
        // An unknown kind stops the scan.
        let mut t = Vec::new();
        ty(&mut t, 0, 31, 0, &[]);
        ty(&mut t, 1, 4, 0, &[0]);
        let e = find_struct(&raw_btf(&t, b"\0bpf_map\0"), "bpf_map")
            .err()
            .unwrap();
        assert!(e.to_string().contains("unknown BTF kind 31"), "{e}");
        // Section offsets that overflow or point outside the blob.
        let mut b = raw_btf(&t, b"\0bpf_map\0");
        b[16..20].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert!(find_struct(&b, "bpf_map").is_err());
        // Pseudo-random garbage after a valid header: errors or misses, no panic.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for len in [0usize, 3, 12, 100, 4096] {
            for _ in 0..64 {
                let garbage: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x as u8
                    })
                    .collect();
                let _ = struct_member_bit_offset(
                    &raw_btf(&garbage, b"\0bpf_map\0excl\0"),
                    "bpf_map",
                    "excl",
                );
            }
        }
    }

    #[test]
    fn btf_bytes_open_maps_or_reads_files() {
        let dir = std::env::temp_dir().join(format!("bpfsign-btf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let full = dir.join("btf");
        let blob = btf("excl", 256, false);
        std::fs::write(&full, &blob).unwrap();
        let opened = BtfBytes::open(full.to_str().unwrap()).unwrap();
        assert!(matches!(opened, BtfBytes::Mapped { .. }));
        assert_eq!(opened.as_ref(), &blob[..]);
        let empty = dir.join("empty");
        std::fs::write(&empty, b"").unwrap();
        let opened_empty = BtfBytes::open(empty.to_str().unwrap()).unwrap();
        assert!(matches!(opened_empty, BtfBytes::Read(ref v) if v.is_empty()));
        let missing = BtfBytes::open(dir.join("missing").to_str().unwrap());
        assert_eq!(
            missing.err().map(|e| e.kind()),
            Some(io::ErrorKind::NotFound)
        );
        drop(opened);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
