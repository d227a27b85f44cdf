//! BPF instruction encoding (`struct bpf_insn`, little-endian) and the constructors the loader
//! emitter uses (the `BPF_*` macros of `linux/filter.h`).

/// One 8-byte BPF instruction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Insn {
    /// Opcode.
    pub code: u8,
    /// Destination register (low nibble of byte 1).
    pub dst: u8,
    /// Source register (high nibble of byte 1).
    pub src: u8,
    /// Signed offset.
    pub off: i16,
    /// Signed immediate.
    pub imm: i32,
}

/// Register numbers.
#[allow(missing_docs)]
pub(crate) mod reg {
    pub const R0: u8 = 0;
    pub const R1: u8 = 1;
    pub const R2: u8 = 2;
    pub const R3: u8 = 3;
    pub const R4: u8 = 4;
    pub const R6: u8 = 6;
    pub const R7: u8 = 7;
    pub const R8: u8 = 8;
    pub const R9: u8 = 9;
    pub const R10: u8 = 10;
}

/// `src_reg` pseudo values of `ld_imm64` and `call`.
#[allow(missing_docs)]
pub(crate) mod pseudo {
    pub const BTF_ID: u8 = 3;
    pub const FUNC: u8 = 4;
    pub const MAP_IDX: u8 = 5;
    pub const MAP_IDX_VALUE: u8 = 6;
    /// `call` src: bpf-to-bpf call.
    pub const CALL: u8 = 1;
    /// `call` src: kfunc call.
    pub const KFUNC_CALL: u8 = 2;
}

/// Memory access sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Size {
    /// 1 byte.
    B,
    /// 2 bytes.
    H,
    /// 4 bytes.
    W,
    /// 8 bytes.
    DW,
}

impl Size {
    fn bits(self) -> u8 {
        match self {
            Size::W => 0x00,
            Size::H => 0x08,
            Size::B => 0x10,
            Size::DW => 0x18,
        }
    }
    /// Size for a byte count (1, 2, 4, 8).
    pub(crate) fn from_bytes(n: usize) -> Size {
        match n {
            1 => Size::B,
            2 => Size::H,
            4 => Size::W,
            _ => Size::DW,
        }
    }
}

/// `BPF_LD | BPF_IMM | BPF_DW`.
pub(crate) const LD_IMM64: u8 = 0x18;
/// `BPF_JMP | BPF_CALL`.
pub(crate) const CALL: u8 = 0x85;

/// Jump operations (`BPF_OP`).
#[allow(missing_docs)]
pub(crate) mod op {
    pub const JA: u8 = 0x00;
    pub const JEQ: u8 = 0x10;
    pub const JSET: u8 = 0x40;
    pub const JNE: u8 = 0x50;
    pub const JSGE: u8 = 0x70;
    pub const JSLT: u8 = 0xc0;
    pub const JSLE: u8 = 0xd0;
    pub const ADD: u8 = 0x00;
    pub const RSH: u8 = 0x70;
    pub const AND: u8 = 0x50;
}

impl Insn {
    /// Decodes 8 little-endian bytes.
    pub(crate) fn from_bytes(b: &[u8]) -> Insn {
        Insn {
            code: b[0],
            dst: b[1] & 0x0f,
            src: b[1] >> 4,
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    /// Encodes to 8 little-endian bytes.
    pub(crate) fn to_bytes(self) -> [u8; 8] {
        let o = self.off.to_le_bytes();
        let i = self.imm.to_le_bytes();
        [
            self.code,
            (self.dst & 0xf) | (self.src << 4),
            o[0],
            o[1],
            i[0],
            i[1],
            i[2],
            i[3],
        ]
    }

    /// `dst = src` (64-bit).
    pub(crate) fn mov64_reg(dst: u8, src: u8) -> Insn {
        Insn {
            code: 0xbf,
            dst,
            src,
            off: 0,
            imm: 0,
        }
    }
    /// `dst = imm` (64-bit).
    pub(crate) fn mov64_imm(dst: u8, imm: i32) -> Insn {
        Insn {
            code: 0xb7,
            dst,
            src: 0,
            off: 0,
            imm,
        }
    }
    /// 64-bit ALU with immediate.
    pub(crate) fn alu64_imm(op: u8, dst: u8, imm: i32) -> Insn {
        Insn {
            code: 0x07 | op,
            dst,
            src: 0,
            off: 0,
            imm,
        }
    }
    /// 32-bit ALU with immediate.
    pub(crate) fn alu32_imm(op: u8, dst: u8, imm: i32) -> Insn {
        Insn {
            code: 0x04 | op,
            dst,
            src: 0,
            off: 0,
            imm,
        }
    }
    /// `dst = *(size *)(src + off)`.
    pub(crate) fn ldx(size: Size, dst: u8, src: u8, off: i16) -> Insn {
        Insn {
            code: 0x61 | size.bits(),
            dst,
            src,
            off,
            imm: 0,
        }
    }
    /// `*(size *)(dst + off) = src`.
    pub(crate) fn stx(size: Size, dst: u8, src: u8, off: i16) -> Insn {
        Insn {
            code: 0x63 | size.bits(),
            dst,
            src,
            off,
            imm: 0,
        }
    }
    /// `*(size *)(dst + off) = imm`.
    pub(crate) fn st(size: Size, dst: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code: 0x62 | size.bits(),
            dst,
            src: 0,
            off,
            imm,
        }
    }
    /// Conditional jump against an immediate (or `JA`).
    pub(crate) fn jmp_imm(op: u8, dst: u8, imm: i32, off: i16) -> Insn {
        Insn {
            code: 0x05 | op,
            dst,
            src: 0,
            off,
            imm,
        }
    }
    /// Conditional jump against a register.
    pub(crate) fn jmp_reg(op: u8, dst: u8, src: u8, off: i16) -> Insn {
        Insn {
            code: 0x0d | op,
            dst,
            src,
            off,
            imm: 0,
        }
    }
    /// Helper call.
    pub(crate) fn call(helper: i32) -> Insn {
        Insn {
            code: CALL,
            dst: 0,
            src: 0,
            off: 0,
            imm: helper,
        }
    }
    /// `exit`.
    pub(crate) fn exit() -> Insn {
        Insn {
            code: 0x95,
            dst: 0,
            src: 0,
            off: 0,
            imm: 0,
        }
    }
    /// `ld_imm64` pair (`BPF_LD_IMM64_RAW_FULL`).
    pub(crate) fn ld_imm64(dst: u8, src: u8, imm1: i32, imm2: i32) -> [Insn; 2] {
        [
            Insn {
                code: LD_IMM64,
                dst,
                src,
                off: 0,
                imm: imm1,
            },
            Insn {
                code: 0,
                dst: 0,
                src: 0,
                off: 0,
                imm: imm2,
            },
        ]
    }

    /// Is this the first half of an `ld_imm64`?
    pub(crate) fn is_ldimm64(&self) -> bool {
        self.code == LD_IMM64
    }
    /// Is this a `call` (any kind)?
    pub(crate) fn is_call(&self) -> bool {
        self.code == CALL
    }
    /// Is this a bpf-to-bpf call as libbpf recognises it (`insn_is_subprog_call`)?
    pub(crate) fn is_subprog_call(&self) -> bool {
        self.code == CALL && self.src == pseudo::CALL && self.dst == 0 && self.off == 0
    }
    /// Is this an `ld_imm64` of a subprogram address (`insn_is_pseudo_func`)?
    pub(crate) fn is_pseudo_func(&self) -> bool {
        self.is_ldimm64() && self.src == pseudo::FUNC
    }
}

/// Encodes a slice of instructions.
pub(crate) fn encode(insns: &[Insn]) -> Vec<u8> {
    insns.iter().flat_map(|i| i.to_bytes()).collect()
}

/// Decodes bytes (length must be a multiple of 8; a trailing partial instruction is ignored).
pub fn decode(b: &[u8]) -> Vec<Insn> {
    b.chunks_exact(8).map(Insn::from_bytes).collect()
}

/// A small disassembler for readable diffs in tests and debug output.
pub fn disasm(insns: &[Insn]) -> Vec<String> {
    let mut out = Vec::with_capacity(insns.len());
    let mut i = 0;
    while i < insns.len() {
        let x = insns[i];
        let s = if x.is_ldimm64() && i + 1 < insns.len() {
            let hi = insns[i + 1].imm;
            let s = format!(
                "r{} = ld_imm64 src={} imm={} imm2={}",
                x.dst, x.src, x.imm, hi
            );
            out.push(format!("{i:5}: {s}"));
            i += 2;
            continue;
        } else {
            let class = x.code & 0x07;
            match class {
                0x05 | 0x06 => match x.code {
                    0x85 => format!("call src={} imm={} off={}", x.src, x.imm, x.off),
                    0x95 => "exit".to_string(),
                    _ if x.code & 0x08 != 0 => {
                        format!(
                            "if r{} op{:#x} r{} goto {:+} (-> {})",
                            x.dst,
                            x.code & 0xf0,
                            x.src,
                            x.off,
                            i as i64 + 1 + x.off as i64
                        )
                    }
                    _ => format!(
                        "if r{} op{:#x} {} goto {:+} (-> {})",
                        x.dst,
                        x.code & 0xf0,
                        x.imm,
                        x.off,
                        i as i64 + 1 + x.off as i64
                    ),
                },
                0x07 | 0x04 => format!(
                    "alu{} op{:#x} r{} {} {}",
                    if class == 7 { 64 } else { 32 },
                    x.code & 0xf0,
                    x.dst,
                    if x.code & 0x08 != 0 {
                        format!("r{}", x.src)
                    } else {
                        String::new()
                    },
                    x.imm
                ),
                0x01 => format!(
                    "r{} = *(sz{:#x} *)(r{} {:+})",
                    x.dst,
                    x.code & 0x18,
                    x.src,
                    x.off
                ),
                0x03 => format!(
                    "*(sz{:#x} *)(r{} {:+}) = r{}",
                    x.code & 0x18,
                    x.dst,
                    x.off,
                    x.src
                ),
                0x02 => format!(
                    "*(sz{:#x} *)(r{} {:+}) = {}",
                    x.code & 0x18,
                    x.dst,
                    x.off,
                    x.imm
                ),
                _ => format!("{x:?}"),
            }
        };
        out.push(format!("{i:5}: {s}"));
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_encoding() {
        let i = Insn::ldx(Size::W, reg::R1, reg::R10, -136);
        let b = i.to_bytes();
        assert_eq!(b, [0x61, 0xa1, 0x78, 0xff, 0, 0, 0, 0]);
        assert_eq!(Insn::from_bytes(&b), i);
        assert_eq!(Insn::jmp_imm(op::JSLT, reg::R7, 0, -5).to_bytes()[0], 0xc5);
        assert_eq!(Insn::jmp_reg(op::JNE, 2, 3, 1).to_bytes()[0], 0x5d);
        assert_eq!(Insn::st(Size::H, 8, 2, 0).to_bytes()[0], 0x6a);
        assert_eq!(Insn::alu32_imm(op::AND, 9, 0xf).to_bytes()[0], 0x54);
        assert_eq!(Insn::alu64_imm(op::RSH, 9, 32).to_bytes()[0], 0x77);
    }
}
