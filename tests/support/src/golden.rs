//! The goldens made by the reference bpftools (`tests/fixtures/golden`, `regen-goldens.sh`):
//! the fixture index, and mismatch reports that decode instructions instead of dumping bytes.

use std::fmt::Write as _;
use std::path::PathBuf;

use bpfsign_gen::sign::Signer;

use crate::{fixtures, read};

/// One line of `golden/index.tsv`.
pub struct Fixture {
    /// Directory under `golden/`.
    pub stem: String,
    /// The object file.
    pub object: PathBuf,
    /// The skeleton name bpftool was given.
    pub name: String,
}

impl Fixture {
    /// The bytes of `golden/<stem>/<file>`.
    pub fn golden(&self, file: &str) -> Vec<u8> {
        read(&fixtures().join("golden").join(&self.stem).join(file))
    }
}

/// Every fixture of `golden/index.tsv`.
pub fn fixture_list() -> Vec<Fixture> {
    let index = String::from_utf8(read(&fixtures().join("golden/index.tsv"))).unwrap();
    index
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 3, "bad index line {l:?}");
            Fixture {
                stem: cols[0].into(),
                object: fixtures().join("obj").join(cols[1]),
                name: cols[2].into(),
            }
        })
        .collect()
}

/// The signer of the goldens: TEST-ONLY key A.
pub fn signer() -> Signer {
    Signer::from_pem_file(fixtures().join("keys/TEST-ONLY-key-a.pem")).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Mismatch reporting

/// Human-readable form of one 8-byte BPF instruction.
pub fn decode_insn(b: &[u8]) -> String {
    if b.len() < 8 {
        return format!("(truncated: {} bytes)", b.len());
    }
    let code = b[0];
    let (dst, src) = (b[1] & 0x0f, b[1] >> 4);
    let off = i16::from_le_bytes([b[2], b[3]]);
    let imm = i32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    let class = code & 7;
    let x = code & 0x08 != 0;
    let op = code & 0xf0;
    let size = ["w", "h", "b", "dw"][usize::from((code >> 3) & 3)];
    let text = match class {
        4 | 7 => {
            let names = [
                "add", "sub", "mul", "div", "or", "and", "lsh", "rsh", "neg", "mod", "xor", "mov",
                "arsh", "end",
            ];
            let name = names.get(usize::from(op >> 4)).copied().unwrap_or("alu?");
            let w = if class == 7 { "r" } else { "w" };
            let rhs = if x {
                format!("r{src}")
            } else {
                format!("{imm}")
            };
            format!("{w}{dst} {name}= {rhs}")
        }
        5 | 6 => {
            let names = [
                "ja", "jeq", "jgt", "jge", "jset", "jne", "jsgt", "jsge", "call", "exit", "jlt",
                "jle", "jslt", "jsle",
            ];
            let name = names.get(usize::from(op >> 4)).copied().unwrap_or("jmp?");
            match op {
                0x80 => format!("call imm={imm} src={src} off={off}"),
                0x90 => "exit".to_string(),
                0x00 => format!("goto {off:+}"),
                _ => {
                    let rhs = if x {
                        format!("r{src}")
                    } else {
                        format!("{imm}")
                    };
                    format!("if r{dst} {name} {rhs} goto {off:+}")
                }
            }
        }
        0 if code == 0x18 => {
            format!("r{dst} = ld_imm64 src={src} imm={imm:#x} (second half follows)")
        }
        0 if code == 0x00 => format!("ld_imm64 second half, imm={imm:#x}"),
        1 => format!("r{dst} = *({size} *)(r{src} {off:+})"),
        2 => format!("*({size} *)(r{dst} {off:+}) = {imm}"),
        3 if code & 0xe0 == 0xc0 => format!("atomic {size} (r{dst} {off:+}) op={imm:#x} r{src}"),
        3 => format!("*({size} *)(r{dst} {off:+}) = r{src}"),
        _ => "?".to_string(),
    };
    format!("code={code:#04x} dst=r{dst} src={src} off={off} imm={imm} ({text})")
}

/// `None` when equal; otherwise the first differing instruction with context.
pub fn diff_insns(expected: &[u8], actual: &[u8]) -> Option<String> {
    if expected == actual {
        return None;
    }
    let mut s = format!(
        "{} insns expected, {} generated",
        expected.len() / 8,
        actual.len() / 8
    );
    let n = expected.len().min(actual.len()) / 8;
    let first = (0..n)
        .find(|&i| expected[8 * i..8 * i + 8] != actual[8 * i..8 * i + 8])
        .unwrap_or(n);
    let _ = write!(s, "; first difference at insn {first}");
    for i in first.saturating_sub(2)..(first + 3) {
        let e = expected.get(8 * i..8 * i + 8);
        let a = actual.get(8 * i..8 * i + 8);
        if e.is_none() && a.is_none() {
            break;
        }
        let mark = if i == first { ">>" } else { "  " };
        let show = |b: Option<&[u8]>| b.map_or("(none)".to_string(), decode_insn);
        let _ = write!(
            s,
            "\n  {mark} #{i:<5} bpftool: {}\n  {mark} {:6} bpfsign: {}",
            show(e),
            "",
            show(a)
        );
    }
    Some(s)
}

/// `None` when equal; otherwise the first differing byte offset with a short hex window.
pub fn diff_bytes(expected: &[u8], actual: &[u8]) -> Option<String> {
    if expected == actual {
        return None;
    }
    let n = expected.len().min(actual.len());
    let first = (0..n).find(|&i| expected[i] != actual[i]).unwrap_or(n);
    let start = first.saturating_sub(8) & !7;
    let hex = |b: &[u8]| {
        let end = (start + 24).min(b.len());
        b.get(start..end)
            .unwrap_or(&[])
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    Some(format!(
        "{} bytes expected, {} generated; first difference at offset {first}\n  bpftool @{start}: {}\n  bpfsign @{start}: {}",
        expected.len(),
        actual.len(),
        hex(expected),
        hex(actual)
    ))
}
