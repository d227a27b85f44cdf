//! Bad input never panics: a deterministic mutation loop (truncations, bit flips, byte
//! overwrites, section-header and BTF-targeted corruption) over fixture objects, each fed to
//! `parse_object` + `generate`. Every outcome must be `Ok` or a typed `Err`; a panic fails the
//! test and names the mutation so it can be replayed.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use bpfsign_gen::{generate, parse_object, ErrorKind, GenOptions};

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/obj")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Outcome of one run: 0 = parse error, 1 = generate error, 2 = generated.
fn run(bytes: &[u8]) -> Result<u8, String> {
    let r = catch_unwind(AssertUnwindSafe(|| {
        match parse_object("fuzz.bpf.o", bytes) {
            Ok(obj) => match generate(&obj, &GenOptions::default()) {
                Ok(_) => 2,
                Err(_) => 1,
            },
            Err(_) => 0,
        }
    }));
    r.map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

/// Offsets of `.BTF`/`.BTF.ext`/symtab/relocation contents, to aim mutations where parsers work.
fn interesting_ranges(elf: &[u8]) -> Vec<(usize, usize)> {
    let shoff = u64::from_le_bytes(elf[0x28..0x30].try_into().unwrap()) as usize;
    let shnum = u16::from_le_bytes([elf[0x3c], elf[0x3d]]) as usize;
    let mut v = vec![(shoff, shnum * 64)];
    for i in 0..shnum {
        let h = &elf[shoff + 64 * i..shoff + 64 * (i + 1)];
        let typ = u32::from_le_bytes(h[4..8].try_into().unwrap());
        let off = u64::from_le_bytes(h[24..32].try_into().unwrap()) as usize;
        let size = u64::from_le_bytes(h[32..40].try_into().unwrap()) as usize;
        if matches!(typ, 1 | 2 | 9) && size > 0 && off + size <= elf.len() {
            v.push((off, size));
        }
    }
    v
}

fn mutate_and_check(name: &str, iterations: usize, seed: u64) {
    let orig = fixture(name);
    let ranges = interesting_ranges(&orig);
    let mut rng = XorShift(seed);
    let mut failures = Vec::new();
    let mut outcomes = [0usize; 3];
    // every truncation length on an 8-byte grid, plus a few odd ones
    for len in (0..orig.len()).step_by(8).chain([1, 3, 5, 17, 63, 65]) {
        if let Err(m) = run(&orig[..len.min(orig.len())]) {
            failures.push(format!("{name}: truncated to {len}: panic: {m}"));
        }
    }
    for it in 0..iterations {
        let mut b = orig.clone();
        let n = 1 + rng.below(4);
        let mut desc = Vec::new();
        for _ in 0..n {
            let (start, size) = ranges[rng.below(ranges.len())];
            let pos = if rng.below(4) == 0 {
                rng.below(b.len())
            } else {
                start + rng.below(size)
            };
            match rng.below(4) {
                0 => {
                    let bit = rng.below(8);
                    b[pos] ^= 1 << bit;
                    desc.push(format!("flip {pos}:{bit}"));
                }
                1 => {
                    b[pos] = 0xff;
                    desc.push(format!("ff@{pos}"));
                }
                2 => {
                    b[pos] = 0;
                    desc.push(format!("00@{pos}"));
                }
                _ => {
                    let v = rng.next() as u32;
                    let end = (pos + 4).min(b.len());
                    b[pos..end].copy_from_slice(&v.to_le_bytes()[..end - pos]);
                    desc.push(format!("u32 {v:#x}@{pos}"));
                }
            }
        }
        match run(&b) {
            Ok(o) => outcomes[o as usize] += 1,
            Err(m) => failures.push(format!(
                "{name}: iteration {it} [{}]: panic: {m}",
                desc.join(", ")
            )),
        }
    }
    eprintln!(
        "{name}: parse errors {}, generate errors {}, generated {}",
        outcomes[0], outcomes[1], outcomes[2]
    );
    // the mutations must reach both the error paths and the full pipeline
    assert!(
        outcomes[0] > 0 && outcomes[2] > 0,
        "{name}: mutations too weak or too strong: {outcomes:?}"
    );
    assert!(
        failures.is_empty(),
        "{} panics:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn mutated_hello_never_panics() {
    mutate_and_check("hello.bpf.o", 4000, 0x9e37_79b9_7f4a_7c15);
}

#[test]
fn mutated_feature_objects_never_panic() {
    for (i, name) in [
        "kfunc.bpf.o",
        "mapinmap.bpf.o",
        "subprogs.bpf.o",
        "core.bpf.o",
        "globals.gcc.bpf.o",
    ]
    .iter()
    .enumerate()
    {
        mutate_and_check(name, 1500, 0x1234_5678 + i as u64);
    }
}

#[test]
fn classic_bad_inputs_give_typed_errors() {
    let e = parse_object("x.o", b"hello world, definitely not ELF").unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotElf);
    assert!(
        e.to_string().starts_with("x.o: elf stage: not an ELF file"),
        "{e}"
    );
    // a 64-bit ELF that is not BPF: flip e_machine to x86-64
    let mut b = fixture("hello.bpf.o");
    b[18] = 62;
    let e = parse_object("x.o", &b).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotBpf);
    // 32-bit class
    let mut b = fixture("hello.bpf.o");
    b[4] = 1;
    assert_eq!(parse_object("x.o", &b).unwrap_err().kind, ErrorKind::NotBpf);
    // truncated section table
    let b = fixture("hello.bpf.o");
    let e = parse_object("x.o", &b[..b.len() - 100]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Malformed, "{e}");
    // empty input
    assert_eq!(
        parse_object("x.o", &[]).unwrap_err().kind,
        ErrorKind::NotElf
    );
}

/// The same object at every byte offset of a larger buffer (as `include_bytes!` or a slice of
/// a file may hand it over) parses and generates the same bytes as at an aligned address.
#[test]
fn unaligned_input_parses_like_aligned_input() {
    let elf = fixture("hello.bpf.o");
    let expected = generate(
        &parse_object("hello.bpf.o", &elf).unwrap(),
        &GenOptions::default(),
    )
    .unwrap();
    let mut buf = vec![0u8; elf.len() + 8];
    for offset in 1..8 {
        buf[offset..offset + elf.len()].copy_from_slice(&elf);
        let obj = parse_object("hello.bpf.o", &buf[offset..offset + elf.len()])
            .unwrap_or_else(|e| panic!("offset {offset}: {e}"));
        let got = generate(&obj, &GenOptions::default()).unwrap();
        assert_eq!(got, expected, "offset {offset}");
    }
}
