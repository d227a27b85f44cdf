//! Hostile objects built in the test: real fixture objects rewritten with a small ELF/BTF
//! editor (huge `.kconfig` arrays, many symbols sharing one long name, huge DATASECs, huge BTF
//! type counts, offsets, sizes and string offsets out of range). Every object must end in a
//! typed error or a correct artifact, without a panic, within a time and memory budget.
//!
//! Set `BPFSIGN_HOSTILE_DUMP=<dir>` to also write the objects there (to measure them with the
//! release `bpfsign gen`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bpfsign_gen::{generate, parse_object, Error, ErrorKind, GenOptions, Generated, Limit, Stage};

// ---------------------------------------------------------------------------------------------
// Memory accounting: bytes allocated by the current thread (each test runs on its own thread).

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn account(delta: isize) {
    // `try_with`: the thread-locals may be gone while a thread shuts down.
    let _ = LIVE.try_with(|l| {
        let v = l.get() + delta;
        l.set(v);
        let _ = PEAK.try_with(|p| p.set(p.get().max(v)));
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// caller's obligations carry over; the counters do not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        account(layout.size() as isize);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        account(-(layout.size() as isize));
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        account(new_size as isize - layout.size() as isize);
        // SAFETY: forwarded with the caller's pointer, layout and size.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Peak of live heap bytes on this thread while running `f`, above what was live before.
fn peak_bytes<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let r = f();
    (r, (PEAK.with(Cell::get) - base).max(0) as usize)
}

// ---------------------------------------------------------------------------------------------
// Budget per object: 2 s and 256 MiB for the release build; the unoptimised debug build is
// given 10 s (it runs 20 to 50 times slower, on machines shared with other builds).

const TIME_BUDGET: Duration = Duration::from_secs(if cfg!(debug_assertions) { 10 } else { 2 });
const MEMORY_BUDGET: usize = 256 << 20;

// The generator's limits (`bpfsign_gen::parse::limits`, `bpfsign_abi::limits::MAX_DATA_SIZE`), restated
// so a change to them shows up here.
const MAX_OBJECT_SIZE: usize = 64 << 20;
const MAX_SECTIONS: usize = 1 << 16;
const MAX_SYMBOLS: usize = 1 << 20;
const MAX_DATA_SIZE: u32 = (4 << 20) - 1024;

/// What the pipeline made of an object.
enum Outcome {
    Parse(Error),
    Generate(Error),
    Generated(Box<Generated>),
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Parse(e) => write!(f, "parse error: {e}"),
            Outcome::Generate(e) => write!(f, "generate error: {e}"),
            Outcome::Generated(g) => write!(f, "artifact ({} data bytes)", g.data.len()),
        }
    }
}

impl Outcome {
    fn err(&self) -> Option<&Error> {
        match self {
            Outcome::Parse(e) | Outcome::Generate(e) => Some(e),
            Outcome::Generated(_) => None,
        }
    }
    fn kind(&self) -> Option<ErrorKind> {
        self.err().map(|e| e.kind.clone())
    }
}

/// Runs parse + generate on `bytes`: no panic, within the time and memory budget.
fn run_with(label: &str, bytes: &[u8], opts: &GenOptions) -> Outcome {
    dump(label, bytes);
    let start = Instant::now();
    let (r, peak) = peak_bytes(|| {
        catch_unwind(AssertUnwindSafe(|| match parse_object(label, bytes) {
            Err(e) => Outcome::Parse(e),
            Ok(obj) => match generate(&obj, opts) {
                Err(e) => Outcome::Generate(e),
                Ok(g) => Outcome::Generated(Box::new(g)),
            },
        }))
    });
    let took = start.elapsed();
    let out = r.unwrap_or_else(|e| {
        let m = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        panic!("{label}: panicked: {m}")
    });
    if took > Duration::from_millis(300) {
        eprintln!("{label}: {took:?}, peak heap {} MiB", peak >> 20);
    }
    assert!(took < TIME_BUDGET, "{label}: took {took:?}");
    assert!(
        peak < MEMORY_BUDGET,
        "{label}: peak heap {} MiB (input {} KiB)",
        peak >> 20,
        bytes.len() >> 10
    );
    if let Some(e) = out.err() {
        assert_eq!(e.file, label, "{e}");
    }
    out
}

fn run(label: &str, bytes: &[u8]) -> Outcome {
    run_with(label, bytes, &GenOptions::default())
}

fn dump(label: &str, bytes: &[u8]) {
    if let Some(dir) = std::env::var_os("BPFSIGN_HOSTILE_DUMP") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("dump dir");
        std::fs::write(dir.join(label), bytes).expect("dump");
    }
}

fn fixture(rel: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn generated(label: &str, bytes: &[u8]) -> Generated {
    let opts = GenOptions {
        name: Some("hello".into()),
        ..GenOptions::default()
    };
    match run_with(label, bytes, &opts) {
        Outcome::Generated(g) => *g,
        other => panic!("{label}: expected an artifact, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// A small ELF64 little-endian editor: section contents are replaced by appending the new bytes
// and pointing the header at them; the section header table is rewritten at the end.

const SHT_PROGBITS: u32 = 1;
const SHT_SYMTAB: u32 = 2;
const SHT_NOBITS: u32 = 8;
const SHT_REL: u32 = 9;

#[derive(Clone)]
struct Elf {
    bytes: Vec<u8>,
    sh: Vec<[u8; 64]>,
    shstrndx: usize,
}

fn rd32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn rd64(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}
fn wr32(b: &mut [u8], o: usize, v: u32) {
    b[o..o + 4].copy_from_slice(&v.to_le_bytes());
}
fn wr64(b: &mut [u8], o: usize, v: u64) {
    b[o..o + 8].copy_from_slice(&v.to_le_bytes());
}

// Section header field offsets.
const SH_NAME: usize = 0;
const SH_TYPE: usize = 4;
const SH_FLAGS: usize = 8;
const SH_OFFSET: usize = 24;
const SH_SIZE: usize = 32;
const SH_LINK: usize = 40;
const SH_INFO: usize = 44;
const SH_ENTSIZE: usize = 56;
const SH_ALIGN: usize = 48;

impl Elf {
    fn new(bytes: Vec<u8>) -> Elf {
        let shoff = rd64(&bytes, 0x28) as usize;
        let shnum = u16::from_le_bytes([bytes[0x3c], bytes[0x3d]]) as usize;
        let shstrndx = u16::from_le_bytes([bytes[0x3e], bytes[0x3f]]) as usize;
        let sh = (0..shnum)
            .map(|i| {
                bytes[shoff + 64 * i..shoff + 64 * (i + 1)]
                    .try_into()
                    .unwrap()
            })
            .collect();
        Elf {
            bytes,
            sh,
            shstrndx,
        }
    }

    fn u32(&self, i: usize, f: usize) -> u32 {
        rd32(&self.sh[i], f)
    }
    fn u64(&self, i: usize, f: usize) -> u64 {
        rd64(&self.sh[i], f)
    }
    fn set_u32(&mut self, i: usize, f: usize, v: u32) {
        wr32(&mut self.sh[i], f, v)
    }
    fn set_u64(&mut self, i: usize, f: usize, v: u64) {
        wr64(&mut self.sh[i], f, v)
    }

    fn data(&self, i: usize) -> Vec<u8> {
        if self.u32(i, SH_TYPE) == SHT_NOBITS {
            return Vec::new();
        }
        let off = self.u64(i, SH_OFFSET) as usize;
        self.bytes[off..off + self.u64(i, SH_SIZE) as usize].to_vec()
    }

    fn name(&self, i: usize) -> String {
        let strs = self.data(self.shstrndx);
        let off = self.u32(i, SH_NAME) as usize;
        let end = strs[off..].iter().position(|&b| b == 0).unwrap() + off;
        String::from_utf8(strs[off..end].to_vec()).unwrap()
    }

    fn find(&self, name: &str) -> usize {
        (0..self.sh.len())
            .find(|&i| self.name(i) == name)
            .unwrap_or_else(|| panic!("no section {name}"))
    }

    fn find_type(&self, t: u32) -> usize {
        (0..self.sh.len())
            .find(|&i| self.u32(i, SH_TYPE) == t)
            .unwrap()
    }

    fn set_data(&mut self, i: usize, d: &[u8]) {
        while !self.bytes.len().is_multiple_of(8) {
            self.bytes.push(0);
        }
        let off = self.bytes.len() as u64;
        self.bytes.extend_from_slice(d);
        self.set_u64(i, SH_OFFSET, off);
        self.set_u64(i, SH_SIZE, d.len() as u64);
    }

    /// Appends `s` to the section-name string table; returns its offset.
    fn add_shstr(&mut self, s: &str) -> u32 {
        let mut strs = self.data(self.shstrndx);
        let off = strs.len() as u32;
        strs.extend_from_slice(s.as_bytes());
        strs.push(0);
        self.set_data(self.shstrndx, &strs);
        off
    }

    fn add_section(&mut self, name: &str, typ: u32, flags: u64, data: &[u8]) -> usize {
        let name_off = self.add_shstr(name);
        let mut h = [0u8; 64];
        wr32(&mut h, SH_NAME, name_off);
        wr32(&mut h, SH_TYPE, typ);
        wr64(&mut h, SH_FLAGS, flags);
        wr64(&mut h, SH_ALIGN, 8);
        self.sh.push(h);
        let i = self.sh.len() - 1;
        self.set_data(i, data);
        i
    }

    /// Index of the symbol string table.
    fn strtab(&self) -> usize {
        self.u32(self.find_type(SHT_SYMTAB), SH_LINK) as usize
    }

    /// Appends `s` to the symbol string table; returns its offset.
    fn add_symstr(&mut self, s: &[u8]) -> u32 {
        let st = self.strtab();
        let mut strs = self.data(st);
        let off = strs.len() as u32;
        strs.extend_from_slice(s);
        strs.push(0);
        self.set_data(st, &strs);
        off
    }

    fn symbols(&self) -> Vec<[u8; 24]> {
        self.data(self.find_type(SHT_SYMTAB))
            .chunks_exact(24)
            .map(|c| c.try_into().unwrap())
            .collect()
    }

    fn set_symbols(&mut self, syms: &[[u8; 24]]) {
        let i = self.find_type(SHT_SYMTAB);
        self.set_data(i, &syms.concat());
    }

    fn finish(&self) -> Vec<u8> {
        let mut b = self.bytes.clone();
        while !b.len().is_multiple_of(8) {
            b.push(0);
        }
        let shoff = b.len() as u64;
        wr64(&mut b, 0x28, shoff);
        let mut sh = self.sh.clone();
        if sh.len() >= 0xff00 {
            // Extended numbering: e_shnum 0, the count in section 0's sh_size.
            let n = sh.len() as u64;
            wr64(&mut sh[0], SH_SIZE, n);
            b[0x3c..0x3e].copy_from_slice(&0u16.to_le_bytes());
        } else {
            b[0x3c..0x3e].copy_from_slice(&(sh.len() as u16).to_le_bytes());
        }
        for h in &sh {
            b.extend_from_slice(h);
        }
        b
    }
}

fn sym(name_off: u32, bind: u8, typ: u8, shndx: u16, value: u64, size: u64) -> [u8; 24] {
    let mut s = [0u8; 24];
    wr32(&mut s, 0, name_off);
    s[4] = (bind << 4) | typ;
    s[6..8].copy_from_slice(&shndx.to_le_bytes());
    wr64(&mut s, 8, value);
    wr64(&mut s, 16, size);
    s
}

// ---------------------------------------------------------------------------------------------
// A small BTF editor: header, types and strings, rebuilt as header + types + strings.

mod kind {
    pub const INT: u32 = 1;
    pub const PTR: u32 = 2;
    pub const ARRAY: u32 = 3;
    pub const VAR: u32 = 14;
    pub const DATASEC: u32 = 15;
}

struct Btf {
    hdr: Vec<u8>,
    types: Vec<u8>,
    strs: Vec<u8>,
}

fn type_size(info: u32) -> usize {
    let (k, vlen) = ((info >> 24) & 0x1f, (info & 0xffff) as usize);
    12 + match k {
        1 | 3 => [4, 12][(k == 3) as usize],
        6 | 13 => vlen * 8,
        4 | 5 | 15 | 19 => vlen * 12,
        14 | 17 => 4,
        _ => 0,
    }
}

impl Btf {
    fn parse(b: &[u8]) -> Btf {
        let hdr_len = rd32(b, 4) as usize;
        let (toff, tlen, soff, slen) = (
            rd32(b, 8) as usize,
            rd32(b, 12) as usize,
            rd32(b, 16) as usize,
            rd32(b, 20) as usize,
        );
        Btf {
            hdr: b[..hdr_len].to_vec(),
            types: b[hdr_len + toff..hdr_len + toff + tlen].to_vec(),
            strs: b[hdr_len + soff..hdr_len + soff + slen].to_vec(),
        }
    }

    /// Byte offsets of the types (index = id - 1).
    fn offsets(&self) -> Vec<usize> {
        let mut v = Vec::new();
        let mut o = 0;
        while o < self.types.len() {
            v.push(o);
            o += type_size(rd32(&self.types, o + 4));
        }
        v
    }

    fn str_at(&self, off: u32) -> &[u8] {
        let o = off as usize;
        let end = self.strs[o..].iter().position(|&b| b == 0).unwrap() + o;
        &self.strs[o..end]
    }

    /// (id, byte offset) of the first type of `kind` named `name`.
    fn find(&self, name: &str, k: u32) -> (u32, usize) {
        self.offsets()
            .into_iter()
            .enumerate()
            .find(|&(_, o)| {
                (rd32(&self.types, o + 4) >> 24) & 0x1f == k
                    && self.str_at(rd32(&self.types, o)) == name.as_bytes()
            })
            .map(|(i, o)| (i as u32 + 1, o))
            .unwrap_or_else(|| panic!("no BTF type {name}"))
    }

    /// Id of the first 4-byte INT.
    fn int_id(&self) -> u32 {
        self.offsets()
            .into_iter()
            .position(|o| {
                (rd32(&self.types, o + 4) >> 24) == kind::INT && rd32(&self.types, o + 8) == 4
            })
            .unwrap() as u32
            + 1
    }

    fn type_cnt(&self) -> u32 {
        self.offsets().len() as u32 + 1
    }

    fn add_str(&mut self, s: &str) -> u32 {
        let off = self.strs.len() as u32;
        self.strs.extend_from_slice(s.as_bytes());
        self.strs.push(0);
        off
    }

    fn add(&mut self, words: &[u32]) {
        for w in words {
            self.types.extend_from_slice(&w.to_le_bytes());
        }
    }

    fn build(&self) -> Vec<u8> {
        let mut b = self.hdr.clone();
        wr32(&mut b, 8, 0);
        wr32(&mut b, 12, self.types.len() as u32);
        wr32(&mut b, 16, self.types.len() as u32);
        wr32(&mut b, 20, self.strs.len() as u32);
        b.extend_from_slice(&self.types);
        b.extend_from_slice(&self.strs);
        b
    }
}

fn edit_btf(elf: &mut Elf, f: impl FnOnce(&mut Btf)) {
    let i = elf.find(".BTF");
    let mut btf = Btf::parse(&elf.data(i));
    f(&mut btf);
    elf.set_data(i, &btf.build());
}

// ---------------------------------------------------------------------------------------------
// Finding 1: `.kconfig` char[N] with a huge N.

#[test]
fn kconfig_char_array_of_any_length_ends_in_a_typed_error_or_an_artifact() {
    let base = Elf::new(fixture("gen/kcfg/kcfg.bpf.o"));
    let max_data = MAX_DATA_SIZE;
    for n in [
        u32::MAX,
        u32::MAX - 15,
        0x8000_0000,
        0x7fff_ffff,
        0x0100_0000,
        max_data,
        max_data - 64,
        1000,
    ] {
        let mut elf = base.clone();
        edit_btf(&mut elf, |btf| {
            let (_, var) = btf.find("CONFIG_LOCALVERSION", kind::VAR);
            let arr = rd32(&btf.types, var + 8) as usize - 1;
            let o = btf.offsets()[arr];
            assert_eq!(rd32(&btf.types, o + 4) >> 24, kind::ARRAY);
            wr32(&mut btf.types, o + 12 + 8, n);
        });
        let bytes = elf.finish();
        for (which, opts) in [
            ("default", GenOptions::default()),
            ("pinned", bpfsign_test_support::kcfg_opts()),
        ] {
            let label = format!("kcfg_chararr_{n:#x}_{which}.bpf.o");
            let out = run_with(&label, &bytes, &opts);
            if u64::from(n) + 64 > u64::from(max_data) {
                assert_eq!(
                    out.kind(),
                    Some(ErrorKind::Limit(Limit::DataSize)),
                    "{label}: {out:?}"
                );
                let e = out.err().unwrap();
                assert_eq!(e.section.as_deref(), Some(".kconfig"), "{e}");
            } else if n <= 1000 && which == "pinned" {
                assert!(matches!(out, Outcome::Generated(_)), "{label}: {out:?}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Finding 2: many symbols sharing one long name.

const LONG_NAME: usize = 200 * 1024;

/// hello.bpf.o plus `count` local symbols named by (suffixes of) one 200 KB string.
fn shared_name_object(count: usize, suffixes: bool, bind: u8, shndx: u16) -> Vec<u8> {
    let mut elf = Elf::new(fixture("obj/hello.bpf.o"));
    let name: Vec<u8> = (0..LONG_NAME).map(|i| b'a' + (i % 26) as u8).collect();
    let off = elf.add_symstr(&name);
    let mut syms = elf.symbols();
    for i in 0..count {
        let o = if suffixes { off + i as u32 } else { off };
        syms.push(sym(o, bind, 0, shndx, 0, 0));
    }
    elf.set_symbols(&syms);
    elf.finish()
}

#[test]
fn symbols_sharing_one_long_name_cost_one_copy_and_keep_the_artifact() {
    let orig = generated("hello.bpf.o", &fixture("obj/hello.bpf.o"));
    for (label, suffixes) in [
        ("shared_name_40k.bpf.o", false),
        ("suffix_names_40k.bpf.o", true),
    ] {
        let bytes = shared_name_object(40_000, suffixes, 0, 2);
        let g = generated(label, &bytes);
        // Same programs, maps, loaders and metadata as the unmodified object.
        assert_eq!(g.data, orig.data, "{label}");
        assert_eq!(g.loaders, orig.loaders, "{label}");
        assert_eq!(g.meta, orig.meta, "{label}");
    }
}

#[test]
fn extern_symbols_sharing_one_long_name_are_rejected() {
    // 40,000 global undefined symbols of one name: one extern declared many times.
    let bytes = shared_name_object(40_000, false, 1, 0);
    let out = run("shared_extern_40k.bpf.o", &bytes);
    assert!(matches!(out, Outcome::Parse(_)), "{out:?}");
    assert_eq!(out.err().unwrap().stage, Stage::Externs);
}

// ---------------------------------------------------------------------------------------------
// Finding 3: 200,000 symbols with a 65,535-entry DATASEC.

/// hello.bpf.o plus a `.data.h` section of `vars` 4-byte globals described by one DATASEC,
/// and `fillers` local symbols before the globals.
fn big_datasec_object(vars: usize, fillers: usize, var_off: impl Fn(usize) -> u64) -> Vec<u8> {
    let mut elf = Elf::new(fixture("obj/hello.bpf.o"));
    let shndx = elf.add_section(".data.h", SHT_PROGBITS, 3, &vec![0u8; vars * 4]) as u16;
    edit_btf(&mut elf, |btf| {
        let int = btf.int_id();
        let first = btf.type_cnt();
        for i in 0..vars {
            let n = btf.add_str(&format!("v{i}"));
            btf.add(&[n, kind::VAR << 24, int, 1]);
        }
        let n = btf.add_str(".data.h");
        btf.add(&[n, (kind::DATASEC << 24) | vars as u32, 0]);
        for i in 0..vars {
            btf.add(&[first + i as u32, 0, 4]);
        }
    });
    // Fillers and variables go last (the symbol indices of the relocations stay valid), the
    // variables after the fillers: the worst case of a linear search by name.
    let mut syms = elf.symbols();
    syms.extend((0..fillers).map(|_| sym(0, 0, 0, 0, 0, 0)));
    // All names in one string-table update (each update appends a copy of the table).
    let st = elf.strtab();
    let mut strs = elf.data(st);
    for i in 0..vars {
        let n = strs.len() as u32;
        strs.extend_from_slice(format!("v{i}\0").as_bytes());
        syms.push(sym(n, 1, 1, shndx, var_off(i), 4));
    }
    elf.set_data(st, &strs);
    elf.set_symbols(&syms);
    elf.finish()
}

#[test]
fn datasec_of_65535_vars_among_200k_symbols_is_linear() {
    let bytes = big_datasec_object(65_535, 200_000 - 65_535, |i| 4 * i as u64);
    let out = run("datasec_65535_200k.bpf.o", &bytes);
    // 256 KiB of globals fit the loader: a full artifact with every variable in the layout.
    let Outcome::Generated(g) = out else {
        panic!("{out:?}")
    };
    let ds = g
        .meta
        .datasecs
        .iter()
        .find(|d| d.section == ".data.h")
        .expect(".data.h layout");
    assert_eq!(ds.vars.len(), 65_535);
    assert!(ds.vars.windows(2).all(|w| w[0].offset + 4 == w[1].offset));
}

// ---------------------------------------------------------------------------------------------
// More hostile shapes.

#[test]
fn huge_btf_type_counts_are_bounded() {
    // Past the type limit; under it (360,000 types, 4.3 MB of BTF) but too big for the blob.
    for (n, limit) in [(1_100_000u32, true), (360_000, false)] {
        let mut elf = Elf::new(fixture("obj/hello.bpf.o"));
        edit_btf(&mut elf, |btf| {
            for _ in 0..n {
                btf.add(&[0, kind::PTR << 24, 0]);
            }
        });
        let label = format!("btf_{n}_types.bpf.o");
        let out = run(&label, &elf.finish());
        if limit {
            assert!(matches!(out, Outcome::Parse(_)), "{out:?}");
            assert_eq!(out.kind(), Some(ErrorKind::Limit(Limit::BtfTypes)));
        } else {
            assert_eq!(
                out.kind(),
                Some(ErrorKind::Limit(Limit::DataSize)),
                "{out:?}"
            );
        }
    }
}

#[test]
fn datasec_entries_past_their_section_are_rejected() {
    // Variables whose symbols lie past the section (offsets are taken from the symbols).
    for (label, off) in [
        ("datasec_sym_past_end.bpf.o", u64::from(u32::MAX)),
        ("datasec_sym_at_end.bpf.o", 16 * 4),
        ("datasec_sym_huge.bpf.o", u64::MAX - 1),
    ] {
        let bytes = big_datasec_object(16, 0, |i| if i == 7 { off } else { 4 * i as u64 });
        let out = run(label, &bytes);
        assert_eq!(out.kind(), Some(ErrorKind::BadBtf), "{label}: {out:?}");
        assert_eq!(out.err().unwrap().section.as_deref(), Some(".data.h"));
    }
    // DATASEC with an explicit size: entry offsets and sizes as written.
    for (label, off, size) in [
        ("datasec_off_past_end.bpf.o", 0xffff_fff0u32, 4u32),
        ("datasec_size_past_end.bpf.o", 0, u32::MAX),
        ("datasec_off_size_wrap.bpf.o", 8, u32::MAX - 4),
    ] {
        let mut elf = Elf::new(big_datasec_object(16, 0, |i| 4 * i as u64));
        edit_btf(&mut elf, |btf| {
            let (_, o) = btf.find(".data.h", kind::DATASEC);
            wr32(&mut btf.types, o + 8, 64);
            wr32(&mut btf.types, o + 12 + 3 * 12 + 4, off);
            wr32(&mut btf.types, o + 12 + 3 * 12 + 8, size);
        });
        let out = run(label, &elf.finish());
        assert_eq!(out.kind(), Some(ErrorKind::BadBtf), "{label}: {out:?}");
    }
    // `.maps` variable past the section.
    let mut elf = Elf::new(fixture("obj/maps.bpf.o"));
    let maps_size = elf.u64(elf.find(".maps"), SH_SIZE) as u32;
    edit_btf(&mut elf, |btf| {
        let (_, o) = btf.find(".maps", kind::DATASEC);
        wr32(&mut btf.types, o + 8, maps_size);
        wr32(&mut btf.types, o + 12 + 4, u32::MAX - 8);
    });
    let out = run("maps_var_past_end.bpf.o", &elf.finish());
    assert_eq!(out.kind(), Some(ErrorKind::BadBtf), "{out:?}");
}

/// Fixtures exercising calls, callbacks, global data, maps-in-maps, kfuncs and CO-RE.
const FEATURES: [&str; 6] = [
    "obj/hello.bpf.o",
    "obj/subprogs.bpf.o",
    "obj/globals.bpf.o",
    "obj/mapinmap.bpf.o",
    "obj/kfunc.bpf.o",
    "gen/kcfg/kcfg.bpf.o",
];

#[test]
fn symbol_values_past_their_section_never_panic() {
    let mut errors = 0;
    for f in FEATURES {
        let elf = Elf::new(fixture(f));
        let syms = elf.symbols();
        for (si, s) in syms.iter().enumerate() {
            let shndx = u16::from_le_bytes([s[6], s[7]]) as usize;
            if shndx == 0 || shndx >= elf.sh.len() {
                continue;
            }
            let sec_size = elf.u64(shndx, SH_SIZE);
            for v in [
                sec_size,
                sec_size + 8,
                1 << 32,
                1 << 63,
                u64::MAX - 7,
                u64::MAX,
            ] {
                let mut e = elf.clone();
                let mut ss = syms.clone();
                wr64(&mut ss[si], 8, v);
                e.set_symbols(&ss);
                let label = format!("symval_{}_{si}_{v:#x}.bpf.o", f.replace('/', "_"));
                let out = run(&label, &e.finish());
                // A function or variable moved past its section must be refused.
                // A global function moved past its section must be refused.
                if s[4] & 0xf == 2 && s[4] >> 4 != 0 {
                    assert!(out.err().is_some(), "{label}: accepted");
                }
                errors += out.err().is_some() as usize;
            }
        }
    }
    assert!(errors > 0);
}

#[test]
fn relocation_offsets_and_symbols_out_of_range_are_typed_errors() {
    for f in FEATURES {
        let elf = Elf::new(fixture(f));
        for ri in (0..elf.sh.len()).filter(|&i| elf.u32(i, SH_TYPE) == SHT_REL) {
            let name = elf.name(ri);
            if name.contains(".debug") || name.contains(".BTF") {
                continue;
            }
            let targ_size = elf.u64(elf.u32(ri, SH_INFO) as usize, SH_SIZE);
            let data = elf.data(ri);
            // 200,000 relocations of one instruction (each would be copied into every
            // program calling it).
            let mut e = elf.clone();
            e.set_data(ri, &[&data[..], &data[..16].repeat(200_000)].concat());
            let label = format!("relo_dup_{}_{ri}.bpf.o", f.replace('/', "_"));
            let out = run(&label, &e.finish());
            // `.values` initialisers may repeat (the slot is set again); code relocations not.
            if name != ".rel.maps" {
                assert_eq!(out.kind(), Some(ErrorKind::Malformed), "{label}: {out:?}");
            }
            for k in 0..data.len() / 16 {
                for (field, v) in [
                    (0, targ_size),
                    (0, targ_size + 8),
                    (0, u64::MAX - 7),
                    (0, u64::MAX),
                    (0, 1 << 63),
                    (8, u64::MAX),
                    (8, (elf.symbols().len() as u64) << 32 | 1),
                ] {
                    let mut e = elf.clone();
                    let mut d = data.clone();
                    wr64(&mut d, 16 * k + field, v);
                    e.set_data(ri, &d);
                    let label =
                        format!("relo_{}_{ri}_{k}_{field}_{v:#x}.bpf.o", f.replace('/', "_"));
                    let out = run(&label, &e.finish());
                    assert!(out.err().is_some(), "{label}: accepted");
                }
            }
        }
    }
}

#[test]
fn string_offsets_past_their_tables_are_typed_errors() {
    let elf = Elf::new(fixture("obj/hello.bpf.o"));
    let strtab_len = elf.u64(elf.strtab(), SH_SIZE) as u32;
    // Symbol names.
    let syms = elf.symbols();
    for si in 1..syms.len() {
        for off in [strtab_len, strtab_len + 1, u32::MAX] {
            let mut e = elf.clone();
            let mut ss = syms.clone();
            wr32(&mut ss[si], 0, off);
            e.set_symbols(&ss);
            let out = run(&format!("symname_{si}_{off:#x}.bpf.o"), &e.finish());
            assert_eq!(out.kind(), Some(ErrorKind::Malformed), "{out:?}");
            assert_eq!(out.err().unwrap().stage, Stage::Elf);
        }
    }
    // A symbol table whose string table has no final NUL.
    let mut e = elf.clone();
    let st = e.strtab();
    let mut strs = e.data(st);
    strs.extend_from_slice(b"unterminated");
    e.set_data(st, &strs);
    let mut ss = syms.clone();
    wr32(&mut ss[1], 0, strtab_len);
    e.set_symbols(&ss);
    let out = run("symname_unterminated.bpf.o", &e.finish());
    assert_eq!(out.kind(), Some(ErrorKind::Malformed), "{out:?}");
    // BTF type names.
    let btf = Btf::parse(&elf.data(elf.find(".BTF")));
    for id in 0..btf.offsets().len() {
        for off in [btf.strs.len() as u32, u32::MAX] {
            let mut e = elf.clone();
            edit_btf(&mut e, |b| {
                let o = b.offsets()[id];
                wr32(&mut b.types, o, off);
            });
            let out = run(&format!("btfname_{id}_{off:#x}.bpf.o"), &e.finish());
            assert_eq!(out.kind(), Some(ErrorKind::BadBtf), "{out:?}");
        }
    }
    // Section names.
    for i in 1..elf.sh.len() {
        let mut e = elf.clone();
        e.set_u32(i, SH_NAME, u32::MAX);
        let out = run(&format!("secname_{i}.bpf.o"), &e.finish());
        assert_eq!(out.kind(), Some(ErrorKind::Malformed), "{out:?}");
    }
}

#[test]
fn section_sizes_and_offsets_past_the_file_are_typed_errors() {
    let elf = Elf::new(fixture("obj/hello.bpf.o"));
    let file_len = elf.finish().len() as u64;
    for i in 1..elf.sh.len() {
        let nobits = elf.u32(i, SH_TYPE) == SHT_NOBITS;
        for (field, v) in [
            (SH_SIZE, file_len),
            (SH_SIZE, u64::MAX),
            (SH_SIZE, 1 << 40),
            (SH_OFFSET, file_len),
            (SH_OFFSET, u64::MAX),
        ] {
            let mut e = elf.clone();
            e.set_u64(i, field, v);
            let label = format!("secsize_{i}_{field}_{v:#x}.bpf.o");
            let out = run(&label, &e.finish());
            if nobits {
                // .bss is not in the file: its size only has to fit the loader.
                // Past u32 its DATASEC cannot describe it; past the data blob the loader
                // cannot hold it.
                if field == SH_SIZE && v > u64::from(MAX_DATA_SIZE) {
                    let k = out.kind();
                    assert!(
                        k == Some(ErrorKind::Limit(Limit::DataSize))
                            || k == Some(ErrorKind::BadBtf),
                        "{label}: {out:?}"
                    );
                }
            } else if field == SH_OFFSET && elf.u64(i, SH_SIZE) == 0 {
                // An empty section reads nothing, wherever it claims to be.
            } else {
                assert_eq!(out.kind(), Some(ErrorKind::Malformed), "{label}: {out:?}");
            }
        }
    }
}

#[test]
fn overlapping_sections_and_functions_are_not_copied_again_and_again() {
    // 60,000 extra sections all covering the whole file.
    let mut elf = Elf::new(fixture("obj/hello.bpf.o"));
    let len = elf.bytes.len() as u64;
    let name = elf.add_shstr(".data.x");
    for _ in 0..60_000 {
        let mut h = [0u8; 64];
        wr32(&mut h, SH_NAME, name);
        wr32(&mut h, SH_TYPE, SHT_PROGBITS);
        wr64(&mut h, SH_SIZE, len);
        elf.sh.push(h);
    }
    let out = run("sections_overlap.bpf.o", &elf.finish());
    assert_eq!(out.kind(), Some(ErrorKind::Malformed), "{out:?}");

    // Thousands of functions covering one whole program section.
    let mut elf = Elf::new(fixture("obj/hello.bpf.o"));
    let text = elf.add_section(
        "tracepoint/x/y",
        SHT_PROGBITS,
        6,
        &[0x95, 0, 0, 0, 0, 0, 0, 0].repeat(1 << 16),
    );
    let mut syms = elf.symbols();
    let n = elf.add_symstr(b"f");
    for _ in 0..3000 {
        syms.push(sym(n, 1, 2, text as u16, 0, 8 << 16));
    }
    elf.set_symbols(&syms);
    let out = run("functions_overlap.bpf.o", &elf.finish());
    assert_eq!(out.kind(), Some(ErrorKind::Malformed), "{out:?}");
}

#[test]
fn input_limits_are_typed_errors() {
    // Object size.
    let mut big = fixture("obj/hello.bpf.o");
    big.resize(MAX_OBJECT_SIZE + 1, 0);
    let out = run("too_big.bpf.o", &big);
    assert_eq!(out.kind(), Some(ErrorKind::Limit(Limit::ObjectSize)));
    assert!(Limit::ObjectSize.is_input_limit() && !Limit::InsnCount.is_input_limit());
    // Misaligned input takes the copying path: refused before any copy is made.
    let mut shifted = vec![0u8; big.len() + 8];
    let off = (1..8)
        .find(|o| shifted[*o..].as_ptr().align_offset(8) != 0)
        .unwrap();
    shifted[off..off + big.len()].copy_from_slice(&big);
    let input = &shifted[off..off + big.len()];
    let misaligned = bpfsign_gen::parse_object("too_big.bpf.o", input);
    let e = misaligned.expect_err("still over the limit");
    assert_eq!(e.kind, ErrorKind::Limit(Limit::ObjectSize));
    assert!(e.to_string().contains("input limit"), "{e}");

    // Section count (extended numbering: the count is in section 0): at the limit the
    // empty sections are ignored; past it the object is refused.
    for (count, ok) in [(MAX_SECTIONS, true), (MAX_SECTIONS + 5000, false)] {
        let mut elf = Elf::new(fixture("obj/hello.bpf.o"));
        let name = elf.add_shstr(".note.x");
        while elf.sh.len() < count {
            let mut h = [0u8; 64];
            wr32(&mut h, SH_NAME, name);
            wr32(&mut h, SH_TYPE, 7);
            elf.sh.push(h);
        }
        let out = run(&format!("sections_{count}.bpf.o"), &elf.finish());
        if ok {
            assert!(matches!(out, Outcome::Generated(_)), "{out:?}");
        } else {
            assert_eq!(
                out.kind(),
                Some(ErrorKind::Limit(Limit::Sections)),
                "{out:?}"
            );
        }
    }

    // Names: 2,000 sections all named by one 200 KB string.
    let mut elf = Elf::new(fixture("obj/hello.bpf.o"));
    let long: String = (0..LONG_NAME)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    let name = elf.add_shstr(&long);
    for _ in 0..2000 {
        let mut h = [0u8; 64];
        wr32(&mut h, SH_NAME, name);
        wr32(&mut h, SH_TYPE, 7);
        elf.sh.push(h);
    }
    let out = run("section_names_400mb.bpf.o", &elf.finish());
    assert_eq!(
        out.kind(),
        Some(ErrorKind::Limit(Limit::NameBytes)),
        "{out:?}"
    );

    // Programs: 5,000 one-instruction functions in one section.
    let mut elf = Elf::new(fixture("obj/hello.bpf.o"));
    let tp = elf.add_section(
        "tracepoint/a/b",
        SHT_PROGBITS,
        6,
        &[0x95, 0, 0, 0, 0, 0, 0, 0].repeat(5000),
    );
    let mut syms = elf.symbols();
    let n = elf.add_symstr(b"f");
    syms.extend((0..5000).map(|i| sym(n, 1, 2, tp as u16, 8 * i, 8)));
    elf.set_symbols(&syms);
    let out = run("programs_5000.bpf.o", &elf.finish());
    assert!(matches!(out, Outcome::Parse(_)), "{out:?}");
    assert_eq!(
        out.kind(),
        Some(ErrorKind::Limit(Limit::Programs)),
        "{out:?}"
    );

    // Symbol count.
    let mut elf = Elf::new(fixture("obj/hello.bpf.o"));
    let mut syms = elf.symbols();
    syms.resize(MAX_SYMBOLS + 1, [0; 24]);
    elf.set_symbols(&syms);
    let out = run("symbols_1m.bpf.o", &elf.finish());
    assert_eq!(out.kind(), Some(ErrorKind::Limit(Limit::Symbols)));
}

#[test]
fn func_info_of_a_shared_subprogram_is_not_copied_into_every_program() {
    // 30 programs in one section (plus hello's own: 32 with the subprogram), each calling the one-instruction `.text` subprogram, which
    // carries 1,000,000 func_info records (8 MB): linking would copy them into every program.
    const MAINS: usize = 30;
    const RECORDS: u32 = 1_000_000;
    let mut elf = Elf::new(fixture("obj/hello.bpf.o"));
    let text = elf.find(".text");
    elf.set_data(text, &[0x95, 0, 0, 0, 0, 0, 0, 0]);
    let call_exit = [
        0x85, 0x10, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x95, 0, 0, 0, 0, 0, 0, 0,
    ];
    let tp = elf.add_section("tracepoint/a/b", SHT_PROGBITS, 6, &call_exit.repeat(MAINS));
    let mut syms = elf.symbols();
    let st = elf.strtab();
    let mut strs = elf.data(st);
    let sub_sym = syms.len();
    syms.push(sym(strs.len() as u32, 1, 2, text as u16, 0, 8));
    strs.extend_from_slice(b"sub\0");
    for i in 0..MAINS {
        syms.push(sym(strs.len() as u32, 1, 2, tp as u16, 16 * i as u64, 16));
        strs.extend_from_slice(format!("m{i}\0").as_bytes());
    }
    elf.set_data(st, &strs);
    elf.set_symbols(&syms);
    let rel: Vec<u8> = (0..MAINS)
        .flat_map(|i| {
            let mut e = [0u8; 16];
            wr64(&mut e, 0, 16 * i as u64);
            wr64(&mut e, 8, (sub_sym as u64) << 32 | 10);
            e
        })
        .collect();
    let ri = elf.add_section(".reltracepoint/a/b", SHT_REL, 0, &rel);
    elf.set_u64(ri, SH_ENTSIZE, 16);
    elf.set_u32(ri, SH_INFO, tp as u32);
    elf.set_u32(ri, SH_LINK, elf.find_type(SHT_SYMTAB) as u32);
    let (mut tp_name, mut text_name) = (0, 0);
    edit_btf(&mut elf, |btf| {
        tp_name = btf.add_str("tracepoint/a/b");
        text_name = btf.add_str(".text");
    });
    let mut fi = 8u32.to_le_bytes().to_vec();
    for w in [tp_name, MAINS as u32] {
        fi.extend_from_slice(&w.to_le_bytes());
    }
    for i in 0..MAINS as u32 {
        fi.extend_from_slice(&(16 * i).to_le_bytes());
        fi.extend_from_slice(&1u32.to_le_bytes());
    }
    for w in [text_name, RECORDS] {
        fi.extend_from_slice(&w.to_le_bytes());
    }
    for _ in 0..RECORDS {
        fi.extend_from_slice(&[0, 0, 0, 0, 1, 0, 0, 0]);
    }
    let mut ext = vec![0x9f, 0xeb, 1, 0];
    let len = fi.len() as u32;
    for w in [32, 0, len, len, 0, len, 0] {
        ext.extend_from_slice(&u32::to_le_bytes(w));
    }
    ext.extend_from_slice(&fi);
    let e = elf.find(".BTF.ext");
    elf.set_data(e, &ext);
    let out = run("func_info_8mb_x30.bpf.o", &elf.finish());
    assert!(matches!(out, Outcome::Generate(_)), "{out:?}");
    assert_eq!(
        out.kind(),
        Some(ErrorKind::Limit(Limit::DataSize)),
        "{out:?}"
    );

    // The same object with a few records links: the programs and subprogram are sound.
    let mut small = ext[..32].to_vec();
    let keep = 4 + 8 + 8 * MAINS + 8 + 8 * 3;
    let mut fi_small = fi[..keep].to_vec();
    let n_at = 4 + 8 + 8 * MAINS + 4;
    fi_small[n_at..n_at + 4].copy_from_slice(&3u32.to_le_bytes());
    let len = fi_small.len() as u32;
    for (at, w) in [(12, len), (16, len), (24, len)] {
        small[at..at + 4].copy_from_slice(&u32::to_le_bytes(w));
    }
    small.extend_from_slice(&fi_small);
    elf.set_data(e, &small);
    let out = run("func_info_small_x30.bpf.o", &elf.finish());
    let Outcome::Generated(g) = out else {
        panic!("{out:?}")
    };
    assert_eq!(g.meta.progs.len(), MAINS + 1);
}
