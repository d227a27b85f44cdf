//! `.BTF` reader/writer that keeps the raw encoding, so the BTF embedded in the loader blob is
//! byte-identical to what libbpf's `btf__raw_data()` produces.
//!
//! libbpf keeps the ELF `.BTF` bytes and patches them in place (DATASEC sizes, VAR offsets and
//! linkage, FUNC linkage, parameter names). Only when a type is *appended* (the `.ksyms`
//! `dummy_ksym` VAR) does it rebuild header + types + strings, deduplicating the new string
//! against the existing ones (first occurrence wins). [`Btf`] mirrors exactly that: in-place
//! edits on `types`/`strs`, and a rebuild only after `Btf::add_var`.
//!
//! Only little-endian BTF is supported (the `bpf`/`bpfel` target); big-endian objects are
//! rejected with [`crate::ErrorKind::Unsupported`].

use crate::error::{Ctx, Error, ErrorKind, Stage};

/// BTF kind numbers (`BTF_KIND_*`).
#[allow(missing_docs)]
pub(crate) mod kind {
    pub const UNKN: u32 = 0;
    pub const INT: u32 = 1;
    pub const PTR: u32 = 2;
    pub const ARRAY: u32 = 3;
    pub const STRUCT: u32 = 4;
    pub const UNION: u32 = 5;
    pub const ENUM: u32 = 6;
    pub const FWD: u32 = 7;
    pub const TYPEDEF: u32 = 8;
    pub const VOLATILE: u32 = 9;
    pub const CONST: u32 = 10;
    pub const RESTRICT: u32 = 11;
    pub const FUNC: u32 = 12;
    pub const FUNC_PROTO: u32 = 13;
    pub const VAR: u32 = 14;
    pub const DATASEC: u32 = 15;
    pub const FLOAT: u32 = 16;
    pub const DECL_TAG: u32 = 17;
    pub const TYPE_TAG: u32 = 18;
    pub const ENUM64: u32 = 19;
}

/// `BTF_VAR_STATIC`.
pub(crate) const VAR_STATIC: u32 = 0;
/// `BTF_VAR_GLOBAL_ALLOCATED`.
pub(crate) const VAR_GLOBAL_ALLOCATED: u32 = 1;
/// `BTF_VAR_GLOBAL_EXTERN`.
pub(crate) const VAR_GLOBAL_EXTERN: u32 = 2;
/// `BTF_FUNC_GLOBAL`.
pub(crate) const FUNC_GLOBAL: u32 = 1;
/// `BTF_FUNC_EXTERN`.
pub(crate) const FUNC_EXTERN: u32 = 2;

const BTF_MAGIC: u16 = 0xeb9f;
/// `sizeof(struct btf_header)` in the libbpf this mirrors (with `layout_off`/`layout_len`).
const LIBBPF_HDR_SZ: usize = 32;
const MIN_HDR_SZ: usize = 24;
const MAX_RESOLVE_DEPTH: usize = 32;

/// One type header (`struct btf_type`) plus where its trailing data starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ty {
    /// Type id.
    pub id: u32,
    /// Byte offset of the type in the type section.
    pub off: usize,
    /// `name_off`.
    pub name_off: u32,
    /// `info` (kind, vlen, kflag).
    pub info: u32,
    /// `size` or `type` union.
    pub size_or_type: u32,
}

impl Ty {
    /// BTF kind.
    pub(crate) fn kind(&self) -> u32 {
        (self.info >> 24) & 0x1f
    }
    /// `vlen`.
    pub(crate) fn vlen(&self) -> usize {
        (self.info & 0xffff) as usize
    }
    /// `kind_flag`.
    pub(crate) fn kflag(&self) -> bool {
        self.info >> 31 != 0
    }
}

/// The object's `.BTF`, parsed but kept in its raw encoding.
#[derive(Clone, Debug)]
pub struct Btf {
    raw: Vec<u8>,
    hdr_len: u32,
    version: u8,
    flags: u8,
    type_off: u32,
    str_off: u32,
    types: Vec<u8>,
    strs: Vec<u8>,
    offs: Vec<u32>,
    modified: bool,
    hdr_extra: bool,
}

fn rd32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

fn type_size(kind: u32, vlen: usize) -> Option<usize> {
    let base = 12;
    Some(match kind {
        kind::FWD
        | kind::CONST
        | kind::VOLATILE
        | kind::RESTRICT
        | kind::PTR
        | kind::TYPEDEF
        | kind::FUNC
        | kind::FLOAT
        | kind::TYPE_TAG => base,
        kind::INT => base + 4,
        kind::ENUM => base + vlen * 8,
        kind::ENUM64 => base + vlen * 12,
        kind::ARRAY => base + 12,
        kind::STRUCT | kind::UNION => base + vlen * 12,
        kind::FUNC_PROTO => base + vlen * 8,
        kind::VAR => base + 4,
        kind::DATASEC => base + vlen * 12,
        kind::DECL_TAG => base + 4,
        _ => return None,
    })
}

impl Btf {
    /// Parses `.BTF` like libbpf's `btf__new()` (header, strings, types, sanity check).
    pub(crate) fn parse(ctx: &Ctx, data: &[u8]) -> Result<Btf, Error> {
        let sec = Some(".BTF");
        let bad = |m: String| ctx.bad_btf(sec, m);
        if data.len() < MIN_HDR_SZ {
            return Err(bad(format!("header truncated: {} bytes", data.len())));
        }
        let magic = u16::from_le_bytes([data[0], data[1]]);
        if magic == BTF_MAGIC.swap_bytes() {
            return Err(ctx.unsupported(
                Stage::Btf,
                sec,
                "big-endian BTF",
                "build for the little-endian BPF target (-target bpf or bpfel)",
            ));
        }
        if magic != BTF_MAGIC {
            return Err(bad(format!("invalid magic {magic:#x}")));
        }
        let hdr_len = rd32(data, 4);
        if (data.len() as u64) < hdr_len as u64 || (hdr_len as usize) < MIN_HDR_SZ {
            return Err(bad(format!(
                "header length {hdr_len} invalid for {} bytes",
                data.len()
            )));
        }
        let type_off = rd32(data, 8);
        let type_len = rd32(data, 12);
        let str_off = rd32(data, 16);
        let str_len = rd32(data, 20);
        let (mut layout_len, mut hdr_extra) = (0u32, false);
        if hdr_len as usize >= LIBBPF_HDR_SZ {
            layout_len = rd32(data, 28);
            hdr_extra = data[LIBBPF_HDR_SZ..hdr_len as usize]
                .iter()
                .any(|&b| b != 0);
        }
        if layout_len != 0 {
            return Err(ctx.unsupported(
                Stage::Btf,
                sec,
                "BTF kind-layout section",
                "use clang/pahole output without the BTF layout section",
            ));
        }
        let meta_left = data.len() as u64 - hdr_len as u64;
        if meta_left < str_off as u64 + str_len as u64 {
            return Err(bad(format!("invalid total size {}", data.len())));
        }
        if type_off as u64 + type_len as u64 > str_off as u64 {
            return Err(bad(format!(
                "invalid layout: types at {type_off}+{type_len}, strings at {str_off}+{str_len}"
            )));
        }
        if !type_off.is_multiple_of(4) {
            return Err(bad("type section not aligned to 4 bytes".into()));
        }
        let h = hdr_len as usize;
        let strs = data[h + str_off as usize..h + str_off as usize + str_len as usize].to_vec();
        if strs.is_empty() || str_len - 1 > 0x7fff_ffff || strs[strs.len() - 1] != 0 || strs[0] != 0
        {
            return Err(bad("invalid string section".into()));
        }
        let types = data[h + type_off as usize..h + type_off as usize + type_len as usize].to_vec();
        let mut offs = Vec::new();
        let mut next = 0usize;
        while next + 12 <= types.len() {
            let info = rd32(&types, next + 4);
            let k = (info >> 24) & 0x1f;
            let vlen = (info & 0xffff) as usize;
            let sz = type_size(k, vlen)
                .ok_or_else(|| bad(format!("type [{}]: unsupported kind {k}", offs.len() + 1)))?;
            if next + sz > types.len() {
                return Err(bad(format!("type [{}] is malformed", offs.len() + 1)));
            }
            if offs.len() == super::limits::MAX_BTF_TYPES {
                return Err(super::input_limit(
                    ctx,
                    crate::error::Limit::BtfTypes,
                    Stage::Btf,
                    sec,
                    format!(
                        "more than {} types; at most {} are accepted",
                        super::limits::MAX_BTF_TYPES,
                        super::limits::MAX_BTF_TYPES
                    ),
                ));
            }
            offs.push(next as u32);
            next += sz;
        }
        if next != types.len() {
            return Err(bad("types data is malformed".into()));
        }
        let btf = Btf {
            raw: data.to_vec(),
            hdr_len,
            version: data[2],
            flags: data[3],
            type_off,
            str_off,
            types,
            strs,
            offs,
            modified: false,
            hdr_extra,
        };
        btf.sanity_check(ctx)?;
        Ok(btf)
    }

    fn sanity_check(&self, ctx: &Ctx) -> Result<(), Error> {
        let bad = |id: u32, m: &str| ctx.bad_btf(Some(".BTF"), format!("type [{id}]: {m}"));
        for id in 1..self.type_cnt() {
            let t = self.ty(id).expect("id in range");
            if self.str_at(t.name_off).is_none() {
                return Err(bad(id, "invalid type name offset"));
            }
            let check_id = |x: u32| {
                if x < self.type_cnt() {
                    Ok(())
                } else {
                    Err(bad(id, "invalid referenced type id"))
                }
            };
            match t.kind() {
                kind::PTR
                | kind::TYPEDEF
                | kind::VOLATILE
                | kind::CONST
                | kind::RESTRICT
                | kind::VAR
                | kind::DECL_TAG
                | kind::TYPE_TAG => check_id(t.size_or_type)?,
                kind::ARRAY => {
                    check_id(self.u32(&t, 0))?;
                    check_id(self.u32(&t, 1))?;
                }
                kind::STRUCT | kind::UNION => {
                    for i in 0..t.vlen() {
                        if self.str_at(self.u32(&t, i * 3)).is_none() {
                            return Err(bad(id, "invalid field name"));
                        }
                        check_id(self.u32(&t, i * 3 + 1))?;
                    }
                }
                kind::ENUM | kind::ENUM64 => {
                    let stride = if t.kind() == kind::ENUM { 2 } else { 3 };
                    for i in 0..t.vlen() {
                        if self.str_at(self.u32(&t, i * stride)).is_none() {
                            return Err(bad(id, "invalid enum name"));
                        }
                    }
                }
                kind::FUNC => {
                    check_id(t.size_or_type)?;
                    if self.ty(t.size_or_type).map(|p| p.kind()) != Some(kind::FUNC_PROTO) {
                        return Err(bad(id, "FUNC does not reference a FUNC_PROTO"));
                    }
                }
                kind::FUNC_PROTO => {
                    for i in 0..t.vlen() {
                        if self.str_at(self.u32(&t, i * 2)).is_none() {
                            return Err(bad(id, "invalid param name"));
                        }
                        check_id(self.u32(&t, i * 2 + 1))?;
                    }
                }
                kind::DATASEC => {
                    for i in 0..t.vlen() {
                        check_id(self.u32(&t, i * 3))?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Number of type ids including the implicit void type 0 (`btf__type_cnt`).
    pub(crate) fn type_cnt(&self) -> u32 {
        self.offs.len() as u32 + 1
    }

    /// Type header of `id` (None for 0 = void or out of range).
    pub(crate) fn ty(&self, id: u32) -> Option<Ty> {
        if id == 0 {
            return None;
        }
        let off = *self.offs.get(id as usize - 1)? as usize;
        Some(Ty {
            id,
            off,
            name_off: rd32(&self.types, off),
            info: rd32(&self.types, off + 4),
            size_or_type: rd32(&self.types, off + 8),
        })
    }

    /// Kind of `id`; 0 (UNKN) for void.
    pub(crate) fn kind_of(&self, id: u32) -> u32 {
        self.ty(id).map(|t| t.kind()).unwrap_or(kind::UNKN)
    }

    /// The `i`-th u32 of the data trailing the type header.
    pub(crate) fn u32(&self, t: &Ty, i: usize) -> u32 {
        rd32(&self.types, t.off + 12 + 4 * i)
    }

    /// Overwrites the `i`-th u32 of the data trailing the type header.
    pub(crate) fn set_u32(&mut self, t: &Ty, i: usize, v: u32) {
        let o = t.off + 12 + 4 * i;
        self.types[o..o + 4].copy_from_slice(&v.to_le_bytes());
    }

    /// Overwrites the `info` word of a type.
    pub(crate) fn set_info(&mut self, id: u32, info: u32) {
        if let Some(t) = self.ty(id) {
            self.types[t.off + 4..t.off + 8].copy_from_slice(&info.to_le_bytes());
        }
    }

    /// Overwrites the `size`/`type` word of a type.
    pub(crate) fn set_size_or_type(&mut self, id: u32, v: u32) {
        if let Some(t) = self.ty(id) {
            self.types[t.off + 8..t.off + 12].copy_from_slice(&v.to_le_bytes());
        }
    }

    /// The string at `off` (`btf__str_by_offset`), if `off` is inside the string section.
    pub(crate) fn str_at(&self, off: u32) -> Option<&str> {
        let off = off as usize;
        if off >= self.strs.len() {
            return None;
        }
        let end = self.strs[off..].iter().position(|&b| b == 0)? + off;
        std::str::from_utf8(&self.strs[off..end]).ok().or(Some(""))
    }

    /// Name of a type ("" when unnamed or invalid).
    pub(crate) fn name(&self, id: u32) -> &str {
        self.ty(id)
            .and_then(|t| self.str_at(t.name_off))
            .unwrap_or("")
    }

    /// `btf__find_by_name_kind`; `kind = None` matches any kind.
    pub(crate) fn find_by_name_kind(&self, name: &str, k: Option<u32>) -> Option<u32> {
        if name == "void" {
            return Some(0);
        }
        (1..self.type_cnt()).find(|&id| {
            let t = self.ty(id).expect("in range");
            k.is_none_or(|k| t.kind() == k) && self.str_at(t.name_off) == Some(name)
        })
    }

    /// Skips CONST/VOLATILE/RESTRICT/TYPE_TAG/TYPEDEF (`skip_mods_and_typedefs`); returns the id.
    pub(crate) fn skip_mods_and_typedefs(&self, mut id: u32) -> u32 {
        for _ in 0..MAX_RESOLVE_DEPTH * 4 {
            match self.ty(id) {
                Some(t)
                    if matches!(
                        t.kind(),
                        kind::CONST
                            | kind::VOLATILE
                            | kind::RESTRICT
                            | kind::TYPE_TAG
                            | kind::TYPEDEF
                    ) =>
                {
                    id = t.size_or_type
                }
                _ => return id,
            }
        }
        id
    }

    /// `btf__resolve_size`.
    pub(crate) fn resolve_size(&self, mut id: u32) -> Option<u64> {
        let mut nelems: u64 = 1;
        for _ in 0..MAX_RESOLVE_DEPTH {
            let t = self.ty(id)?;
            match t.kind() {
                kind::INT
                | kind::STRUCT
                | kind::UNION
                | kind::ENUM
                | kind::ENUM64
                | kind::DATASEC
                | kind::FLOAT => {
                    let size = t.size_or_type as u64;
                    if nelems != 0 && size > u32::MAX as u64 / nelems {
                        return None;
                    }
                    return Some(nelems * size);
                }
                kind::PTR => return Some(nelems * 8),
                kind::TYPEDEF
                | kind::VOLATILE
                | kind::CONST
                | kind::RESTRICT
                | kind::VAR
                | kind::DECL_TAG
                | kind::TYPE_TAG => id = t.size_or_type,
                kind::ARRAY => {
                    let n = self.u32(&t, 2) as u64;
                    if nelems != 0 && n > u32::MAX as u64 / nelems {
                        return None;
                    }
                    nelems *= n;
                    id = self.u32(&t, 0);
                }
                _ => return None,
            }
        }
        None
    }

    /// `btf__align_of` (0 = error).
    pub(crate) fn align_of(&self, id: u32) -> u32 {
        self.align_of_depth(id, 0, &mut std::collections::HashMap::new())
    }

    /// `memo` holds the alignment of every type already computed: a struct DAG that reuses a
    /// type in many members (`struct S1 { struct S0 a, b; }`, 24 levels deep) would otherwise
    /// take exponential time.
    fn align_of_depth(
        &self,
        id: u32,
        depth: usize,
        memo: &mut std::collections::HashMap<u32, u32>,
    ) -> u32 {
        if depth > MAX_RESOLVE_DEPTH {
            return 0;
        }
        if let Some(&a) = memo.get(&id) {
            return a;
        }
        let a = self.align_of_uncached(id, depth, memo);
        memo.insert(id, a);
        a
    }

    fn align_of_uncached(
        &self,
        id: u32,
        depth: usize,
        memo: &mut std::collections::HashMap<u32, u32>,
    ) -> u32 {
        let Some(t) = self.ty(id) else { return 0 };
        match t.kind() {
            kind::INT | kind::ENUM | kind::ENUM64 | kind::FLOAT => t.size_or_type.min(8),
            kind::PTR => 8,
            kind::TYPEDEF | kind::VOLATILE | kind::CONST | kind::RESTRICT | kind::TYPE_TAG => {
                self.align_of_depth(t.size_or_type, depth + 1, memo)
            }
            kind::ARRAY => self.align_of_depth(self.u32(&t, 0), depth + 1, memo),
            kind::STRUCT | kind::UNION => {
                let mut max_align = 1;
                for i in 0..t.vlen() {
                    let a = self.align_of_depth(self.u32(&t, i * 3 + 1), depth + 1, memo);
                    if a == 0 {
                        return 0;
                    }
                    max_align = max_align.max(a);
                    let off = self.u32(&t, i * 3 + 2);
                    let bitfield = if t.kflag() { off >> 24 } else { 0 };
                    let bit_off = if t.kflag() { off & 0xff_ffff } else { off };
                    if bitfield == 0 && bit_off % (8 * a) != 0 {
                        return 1;
                    }
                }
                if t.size_or_type % max_align != 0 {
                    return 1;
                }
                max_align
            }
            _ => 0,
        }
    }

    /// Sorts the VAR entries of a DATASEC by offset (stable, like glibc's merge sort).
    pub(crate) fn sort_datasec_vars(&mut self, id: u32) {
        let Some(t) = self.ty(id) else { return };
        let n = t.vlen();
        let mut v: Vec<[u32; 3]> = (0..n)
            .map(|i| {
                [
                    self.u32(&t, i * 3),
                    self.u32(&t, i * 3 + 1),
                    self.u32(&t, i * 3 + 2),
                ]
            })
            .collect();
        v.sort_by_key(|e| e[1]);
        for (i, e) in v.iter().enumerate() {
            for (j, x) in e.iter().enumerate() {
                self.set_u32(&t, i * 3 + j, *x);
            }
        }
    }

    /// Appends a VAR type (`btf__add_var`), switching to the rebuilt encoding. Returns its id.
    pub(crate) fn add_var(
        &mut self,
        ctx: &Ctx,
        name: &str,
        linkage: u32,
        type_id: u32,
    ) -> Result<u32, Error> {
        if self.hdr_extra {
            return Err(ctx.err(
                Stage::Btf,
                ErrorKind::Unsupported,
                Some(".BTF"),
                "BTF header carries unknown non-zero fields, so it cannot be modified",
                "use a BTF header libbpf understands",
            ));
        }
        self.modified = true;
        let name_off = self.add_str(name);
        let off = self.types.len() as u32;
        for w in [name_off, kind::VAR << 24, type_id, linkage] {
            self.types.extend_from_slice(&w.to_le_bytes());
        }
        self.offs.push(off);
        Ok(self.type_cnt() - 1)
    }

    /// Finds `s` in the string section (first occurrence at a string start) or appends it.
    pub(crate) fn add_str(&mut self, s: &str) -> u32 {
        let mut off = 0usize;
        while off < self.strs.len() {
            let end = self.strs[off..]
                .iter()
                .position(|&b| b == 0)
                .map(|p| p + off)
                .unwrap_or(self.strs.len());
            if &self.strs[off..end] == s.as_bytes() {
                return off as u32;
            }
            off = end + 1;
        }
        let at = self.strs.len() as u32;
        self.strs.extend_from_slice(s.as_bytes());
        self.strs.push(0);
        at
    }

    /// Serialises like `btf__raw_data()`.
    pub(crate) fn raw_data(&self) -> Vec<u8> {
        if !self.modified {
            let mut raw = self.raw.clone();
            let h = self.hdr_len as usize;
            let t = h + self.type_off as usize;
            raw[t..t + self.types.len()].copy_from_slice(&self.types);
            let s = h + self.str_off as usize;
            raw[s..s + self.strs.len()].copy_from_slice(&self.strs);
            return raw;
        }
        let type_len = self.types.len() as u32;
        let str_off = self.type_off + type_len;
        let mut hdr = Vec::with_capacity(LIBBPF_HDR_SZ);
        hdr.extend_from_slice(&BTF_MAGIC.to_le_bytes());
        hdr.push(self.version);
        hdr.push(self.flags);
        for w in [
            self.hdr_len,
            self.type_off,
            type_len,
            str_off,
            self.strs.len() as u32,
            0,
            0,
        ] {
            hdr.extend_from_slice(&w.to_le_bytes());
        }
        let h = self.hdr_len as usize;
        let mut out = vec![0u8; h];
        let n = h.min(LIBBPF_HDR_SZ);
        out[..n].copy_from_slice(&hdr[..n]);
        out.extend_from_slice(&self.types);
        out.extend_from_slice(&self.strs);
        out
    }

    /// Ids of all DATASEC types.
    pub(crate) fn datasecs(&self) -> impl Iterator<Item = u32> + '_ {
        (1..self.type_cnt()).filter(|&id| self.kind_of(id) == kind::DATASEC)
    }

    /// `(type, offset, size)` of the `i`-th entry of a DATASEC.
    pub(crate) fn datasec_entry(&self, t: &Ty, i: usize) -> (u32, u32, u32) {
        (
            self.u32(t, i * 3),
            self.u32(t, i * 3 + 1),
            self.u32(t, i * 3 + 2),
        )
    }
}
