//! `.BTF.ext` reader: func_info, line_info and CO-RE relocation records per ELF section,
//! validated like libbpf's `btf_ext__new()`.

use crate::error::{Ctx, Error, Stage};

/// One info subsection (func_info, line_info or core_relo).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtInfo {
    /// Record size in bytes (from the subsection header).
    pub rec_size: u32,
    /// Per ELF section: BTF string offset of the section name and the raw records.
    pub secs: Vec<ExtSec>,
}

/// Records of one ELF section.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtSec {
    /// `sec_name_off` into the BTF string section.
    pub sec_name_off: u32,
    /// Raw records, `rec_size` bytes each; the first u32 of each is `insn_off` in bytes.
    pub records: Vec<Vec<u8>>,
}

/// Parsed `.BTF.ext`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BtfExt {
    /// `func_info` records.
    pub func_info: ExtInfo,
    /// `line_info` records.
    pub line_info: ExtInfo,
    /// CO-RE relocation records (`struct bpf_core_relo`).
    pub core_relo: ExtInfo,
}

fn rd32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

impl BtfExt {
    /// Parses `.BTF.ext`.
    pub(crate) fn parse(ctx: &Ctx, data: &[u8]) -> Result<BtfExt, Error> {
        let sec = Some(".BTF.ext");
        let bad = |m: String| ctx.bad_btf(sec, m);
        if data.len() < 8 {
            return Err(bad("header too short".into()));
        }
        let magic = u16::from_le_bytes([data[0], data[1]]);
        if magic == 0xeb9fu16.swap_bytes() {
            return Err(ctx.unsupported(
                Stage::Btf,
                sec,
                "big-endian .BTF.ext",
                "build for the little-endian BPF target (-target bpf or bpfel)",
            ));
        }
        if magic != 0xeb9f {
            return Err(bad(format!("invalid magic {magic:#x}")));
        }
        if data[2] != 1 {
            return Err(bad(format!("unsupported version {}", data[2])));
        }
        if data[3] != 0 {
            return Err(bad(format!("unsupported flags {:#x}", data[3])));
        }
        let hdr_len = rd32(data, 4) as usize;
        if data.len() < hdr_len || data.len() == hdr_len {
            return Err(bad("header not found or no data".into()));
        }
        if hdr_len < 24 {
            return Err(bad("header misses func_info/line_info".into()));
        }
        let mut ext = BtfExt {
            func_info: Self::parse_info(
                ctx,
                data,
                hdr_len,
                rd32(data, 8),
                rd32(data, 12),
                8,
                "func_info",
            )?,
            line_info: Self::parse_info(
                ctx,
                data,
                hdr_len,
                rd32(data, 16),
                rd32(data, 20),
                16,
                "line_info",
            )?,
            core_relo: ExtInfo::default(),
        };
        if hdr_len >= 32 {
            ext.core_relo = Self::parse_info(
                ctx,
                data,
                hdr_len,
                rd32(data, 24),
                rd32(data, 28),
                16,
                "core_relo",
            )?;
        }
        Ok(ext)
    }

    fn parse_info(
        ctx: &Ctx,
        data: &[u8],
        hdr_len: usize,
        off: u32,
        len: u32,
        min_rec: u32,
        what: &str,
    ) -> Result<ExtInfo, Error> {
        let bad = |m: String| ctx.bad_btf(Some(".BTF.ext"), format!("{what}: {m}"));
        if len == 0 {
            return Ok(ExtInfo::default());
        }
        if off & 3 != 0 {
            return Err(bad("not aligned to 4 bytes".into()));
        }
        let start = hdr_len as u64 + off as u64;
        if start + len as u64 > data.len() as u64 {
            return Err(bad("beyond the end of the section".into()));
        }
        let info = &data[start as usize..start as usize + len as usize];
        if info.len() < 4 {
            return Err(bad("record size not found".into()));
        }
        let rec_size = rd32(info, 0);
        if rec_size < min_rec || rec_size & 3 != 0 {
            return Err(bad(format!("invalid record size {rec_size}")));
        }
        let mut p = 4usize;
        if p == info.len() {
            return Err(bad("no records".into()));
        }
        let mut secs = Vec::new();
        while p < info.len() {
            if info.len() - p < 8 {
                return Err(bad("section header not found".into()));
            }
            let sec_name_off = rd32(info, p);
            let num = rd32(info, p + 4);
            if num == 0 {
                return Err(bad("zero records in a section".into()));
            }
            let total = 8u64 + num as u64 * rec_size as u64;
            if ((info.len() - p) as u64) < total {
                return Err(bad("incorrect record count".into()));
            }
            let recs = (0..num as usize)
                .map(|i| {
                    let r = p + 8 + i * rec_size as usize;
                    info[r..r + rec_size as usize].to_vec()
                })
                .collect();
            secs.push(ExtSec {
                sec_name_off,
                records: recs,
            });
            p += total as usize;
        }
        Ok(ExtInfo { rec_size, secs })
    }
}

/// `insn_off` (first u32) of a raw record.
pub(crate) fn rec_insn_off(rec: &[u8]) -> u32 {
    rd32(rec, 0)
}

/// The `i`-th u32 of a raw record.
pub(crate) fn rec_u32(rec: &[u8], i: usize) -> u32 {
    rd32(rec, 4 * i)
}
