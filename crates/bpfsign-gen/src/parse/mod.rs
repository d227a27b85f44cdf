//! Object model of a compiled BPF ELF (`.bpf.o`), built the way libbpf's `bpf_object__open()`
//! builds it: ELF collection, extern collection, DATASEC fix-ups, maps, program types and
//! relocation records.
//!
//! # Why hand-written BTF parsing
//!
//! The ELF container is read with the `object` crate. BTF and `.BTF.ext` are parsed here by
//! hand ([`btf`], [`btf_ext`]). `aya-obj` and `btf-rs` were evaluated: both decode BTF into
//! their own type models and re-encode it (aya-obj also applies its own sanitisation and
//! fix-ups with different rules and orderings), while bpfsign must reproduce libbpf's
//! fix-ups *in place on the raw bytes* so the BTF inside the signed blob is byte-identical to
//! `btf__raw_data()` (including libbpf's string de-duplication when it appends `dummy_ksym`).
//! Neither crate exposes the raw encoding or libbpf's exact rules, so a thin raw reader is the
//! smaller and safer choice.
//!
//! Libbpf's open-time BTF edits (`.kconfig`/`.ksyms` rewrite, DATASEC sizes and offsets,
//! hidden VARs made static, VAR sorting) happen here because the map model (for example the
//! `BPF_F_MMAPABLE` flag) depends on them, exactly as in libbpf. Load-time edits (hidden
//! subprograms made static) and serialisation live in [`crate::link`].

pub mod btf;
pub mod btf_ext;
pub(crate) mod config;
mod externs;
pub mod limits;
pub mod maps;
pub mod secdef;

use std::borrow::Cow;
use std::collections::HashMap;

use crate::error::{Ctx, Error, ErrorKind, Limit, Stage};
use crate::insn::{self, Insn};
use btf::Btf;
use btf_ext::BtfExt;
pub use externs::{Extern, ExternKind, KcfgType};
pub use maps::{MapDef, MapKind, SlotTarget};

const SHT_PROGBITS: u32 = 1;
const SHT_SYMTAB: u32 = 2;
const SHT_STRTAB: u32 = 3;
const SHT_NOBITS: u32 = 8;
const SHT_REL: u32 = 9;
const SHT_LLVM_ADDRSIG: u32 = 0x6fff_4c03;
const SHF_EXECINSTR: u64 = 4;
const STT_OBJECT: u8 = 1;
const STT_FUNC: u8 = 2;
const STT_SECTION: u8 = 3;
const STT_NOTYPE: u8 = 0;
const STB_LOCAL: u8 = 0;
const STB_GLOBAL: u8 = 1;
const STB_WEAK: u8 = 2;
const STV_INTERNAL: u8 = 1;
const STV_HIDDEN: u8 = 2;
const SHN_UNDEF: u16 = 0;
const SHN_LORESERVE: u16 = 0xff00;

/// An ELF symbol (`Elf64_Sym`). Its name stays in the object's string table
/// ([`Object::sym_name`]): a hostile object whose symbols all point at one long name costs one
/// copy of that name, not one per symbol.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Symbol {
    /// `st_name` (0 = unnamed).
    pub name_off: u32,
    /// Length of the name in bytes (without the NUL).
    pub name_len: u32,
    /// `st_info`.
    pub info: u8,
    /// `st_other`.
    pub other: u8,
    /// `st_shndx`.
    pub shndx: u16,
    /// `st_value`.
    pub value: u64,
    /// `st_size`.
    pub size: u64,
}

impl Symbol {
    /// `ELF64_ST_TYPE`.
    pub fn typ(&self) -> u8 {
        self.info & 0xf
    }
    /// `ELF64_ST_BIND`.
    pub fn bind(&self) -> u8 {
        self.info >> 4
    }
    /// `ELF64_ST_VISIBILITY`.
    pub fn visibility(&self) -> u8 {
        self.other & 3
    }
    /// Hidden or internal visibility.
    pub fn is_hidden(&self) -> bool {
        matches!(self.visibility(), STV_HIDDEN | STV_INTERNAL)
    }
    /// libbpf's `sym_is_extern`.
    pub fn is_extern(&self) -> bool {
        self.shndx == SHN_UNDEF
            && matches!(self.bind(), STB_GLOBAL | STB_WEAK)
            && self.typ() == STT_NOTYPE
    }
}

/// Kind of an ELF section as libbpf classifies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecType {
    /// Not used by libbpf.
    Unused,
    /// Relocations for code or `.maps`.
    Relo,
    /// `.bss*`.
    Bss,
    /// `.data*`.
    Data,
    /// `.rodata*`.
    Rodata,
}

/// An ELF section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// Index in the section table.
    pub idx: usize,
    /// Name.
    pub name: String,
    /// `sh_type`.
    pub sh_type: u32,
    /// `sh_flags`.
    pub flags: u64,
    /// Size (`sh_size`; for NOBITS the logical size).
    pub size: u64,
    /// Contents (empty for NOBITS).
    pub data: Vec<u8>,
    /// `sh_info` (target of a REL section).
    pub info: u32,
    /// `sh_entsize`.
    pub entsize: u64,
    /// libbpf classification.
    pub sec_type: SecType,
}

/// A relocation record of a program, as libbpf's `struct reloc_desc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelocKind {
    /// `ld_imm64` of a BTF-defined map.
    Ld64 {
        /// Map index.
        map: usize,
    },
    /// bpf-to-bpf call.
    Call {
        /// Symbol value (byte offset in `.text`).
        sym_off: u64,
    },
    /// `ld_imm64` of global data.
    Data {
        /// Map index.
        map: usize,
        /// Symbol value.
        sym_off: u64,
    },
    /// `ld_imm64` of an extern (`.kconfig` or `.ksyms`).
    ExternLd64 {
        /// Index into [`Object::externs`].
        ext: usize,
    },
    /// kfunc call.
    ExternCall {
        /// Index into [`Object::externs`].
        ext: usize,
    },
    /// `ld_imm64` of a subprogram address (callbacks).
    SubprogAddr {
        /// Symbol value.
        sym_off: u64,
    },
    /// CO-RE relocation record (added at link time).
    Core {
        /// `type_id`.
        type_id: u32,
        /// `access_str_off`.
        access_str_off: u32,
        /// `kind`.
        kind: u32,
    },
}

impl RelocKind {
    /// libbpf's `enum reloc_type` order (used to sort relocations on the same instruction).
    pub fn order(&self) -> u8 {
        match self {
            RelocKind::Ld64 { .. } => 0,
            RelocKind::Call { .. } => 1,
            RelocKind::Data { .. } => 2,
            RelocKind::ExternLd64 { .. } => 3,
            RelocKind::ExternCall { .. } => 4,
            RelocKind::SubprogAddr { .. } => 5,
            RelocKind::Core { .. } => 6,
        }
    }
}

/// A relocation of one instruction of a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reloc {
    /// Instruction index in the program's frame.
    pub insn_idx: usize,
    /// What to do.
    pub kind: RelocKind,
}

/// A BPF function: an entry-point program or a `.text` subprogram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// Function name.
    pub name: String,
    /// Section name without a leading `?`.
    pub sec_name: String,
    /// ELF section index.
    pub sec_idx: usize,
    /// Offset in instructions inside the section.
    pub sec_insn_off: usize,
    /// Original instructions.
    pub insns: Vec<Insn>,
    /// `false` for `SEC("?...")`.
    pub autoload: bool,
    /// Global or weak symbol.
    pub sym_global: bool,
    /// Global but hidden: its BTF FUNC is made static at load.
    pub mark_btf_static: bool,
    /// Matching libbpf section definition (None for `.text` subprograms).
    pub sec_def: Option<&'static secdef::SecDef>,
    /// `BPF_PROG_TYPE_*` (0 when unknown).
    pub prog_type: u32,
    /// Expected attach type.
    pub expected_attach_type: u32,
    /// Relocations sorted by instruction.
    pub relos: Vec<Reloc>,
}

/// A parsed BPF object (libbpf's `struct bpf_object` after open).
#[derive(Clone, Debug)]
pub struct Object {
    /// Name used in error messages.
    pub file: String,
    /// The `license` section (at most 63 bytes).
    pub license: String,
    /// The `version` section, if present.
    pub kern_version: Option<u32>,
    /// Sections.
    pub sections: Vec<Section>,
    /// Symbols.
    pub symbols: Vec<Symbol>,
    /// `.symtab` index.
    pub symbols_shndx: usize,
    /// `.text` index (0 if none).
    pub text_shndx: usize,
    /// `.maps` index.
    pub maps_shndx: Option<usize>,
    /// BTF after open-time fix-ups.
    pub btf: Option<Btf>,
    /// `.BTF.ext`.
    pub btf_ext: Option<BtfExt>,
    /// ELF section index of each `.BTF.ext` section entry, per info kind (func, line, core).
    pub btf_ext_sec_idx: [Vec<usize>; 3],
    /// Programs and subprograms sorted by (section, offset).
    pub progs: Vec<Program>,
    /// Maps in libbpf order (= loader `map_idx`).
    pub maps: Vec<MapDef>,
    /// Externs sorted as libbpf sorts them.
    pub externs: Vec<Extern>,
    /// Index of the `.kconfig` map.
    pub kconfig_map: Option<usize>,
    /// Contents of the symbol string table (`.strtab`), which the symbol names point into.
    pub strtab: Vec<u8>,
}

impl Object {
    /// Is `p` a `.text` subprogram?
    pub fn is_subprog(&self, p: &Program) -> bool {
        p.sec_idx == self.text_shndx && self.text_shndx != 0
    }

    /// Section name by index.
    pub fn sec_name(&self, idx: usize) -> &str {
        self.sections
            .get(idx)
            .map(|s| s.name.as_str())
            .unwrap_or("")
    }

    /// libbpf's `find_prog_by_sec_insn`.
    pub fn find_prog_by_sec_insn(&self, sec_idx: usize, insn_idx: usize) -> Option<usize> {
        // progs are sorted by (section, offset): the candidate is the last one starting at or
        // before (sec_idx, insn_idx).
        let n = self
            .progs
            .partition_point(|p| (p.sec_idx, p.sec_insn_off) <= (sec_idx, insn_idx));
        let i = n.checked_sub(1)?;
        let p = &self.progs[i];
        (p.sec_idx == sec_idx
            && insn_idx >= p.sec_insn_off
            && insn_idx < p.sec_insn_off + p.insns.len())
        .then_some(i)
    }

    pub(crate) fn ctx(&self) -> Ctx {
        Ctx::new(&self.file)
    }

    /// Raw bytes of a symbol's name (empty when unnamed).
    pub fn sym_name_bytes(&self, sym: &Symbol) -> &[u8] {
        let start = sym.name_off as usize;
        start
            .checked_add(sym.name_len as usize)
            .and_then(|end| self.strtab.get(start..end))
            .unwrap_or(&[])
    }

    /// A symbol's name (invalid UTF-8 replaced by U+FFFD).
    pub fn sym_name(&self, sym: &Symbol) -> Cow<'_, str> {
        String::from_utf8_lossy(self.sym_name_bytes(sym))
    }
}

/// Bytes of names copied out of the string tables into the object model (section, program,
/// extern and map names), charged against [`limits::MAX_NAME_BYTES`].
pub(crate) struct NameBudget {
    left: usize,
}

impl NameBudget {
    fn new() -> Self {
        NameBudget {
            left: limits::MAX_NAME_BYTES,
        }
    }

    /// Charges `name` (about to be copied) and returns it as an owned string.
    pub(crate) fn copy(
        &mut self,
        ctx: &Ctx,
        stage: Stage,
        section: Option<&str>,
        name: &str,
    ) -> Result<String, Error> {
        self.left = self.left.checked_sub(name.len()).ok_or_else(|| {
            input_limit(
                ctx,
                Limit::NameBytes,
                stage,
                section,
                format!(
                    "the names of sections, programs, externs and maps add up to more than {} bytes",
                    limits::MAX_NAME_BYTES
                ),
            )
        })?;
        Ok(name.to_string())
    }
}

/// Error for an input over one of the [`limits`].
pub(crate) fn input_limit(
    ctx: &Ctx,
    limit: Limit,
    stage: Stage,
    section: Option<&str>,
    message: String,
) -> Error {
    ctx.err(
        stage,
        ErrorKind::Limit(limit),
        section,
        message,
        "pass the object clang or gcc built for the BPF target; a real object is far below this limit",
    )
}

type SectionTable<'d> =
    object::read::elf::SectionTable<'d, object::elf::FileHeader64<object::LittleEndian>>;

/// Parses `elf_bytes` (the contents of `file_name`) into an [`Object`].
pub fn parse(file_name: &str, data: &[u8]) -> Result<Object, Error> {
    // The ELF reader needs 8-byte aligned input; a slice of a larger buffer or
    // `include_bytes!` data need not be, so parse an aligned copy of such input.
    // Checked before the copy too: an oversized input is refused without allocating.
    check_ident(&Ctx::new(file_name), data)?;
    let misalignment = data.as_ptr().align_offset(8);
    if misalignment == 0 {
        return parse_aligned(file_name, data);
    }
    let mut buf = vec![0u8; data.len() + 7];
    let start = buf.as_ptr().align_offset(8).min(7);
    buf[start..start + data.len()].copy_from_slice(data);
    parse_aligned(file_name, &buf[start..start + data.len()])
}

/// [`parse`] of 8-byte aligned input.
fn parse_aligned(file_name: &str, data: &[u8]) -> Result<Object, Error> {
    let ctx = Ctx::new(file_name);
    check_ident(&ctx, data)?;
    let table = section_table(&ctx, data)?;
    let mut names = NameBudget::new();
    let mut sections = read_sections(&ctx, data, &table, &mut names)?;
    let symtab_idx = find_symtab(&ctx, &sections)?;
    let strtab_idx = table
        .section(object::SectionIndex(symtab_idx))
        .map(|sh| {
            use object::read::elf::SectionHeader;
            sh.sh_link(object::LittleEndian) as usize
        })
        .unwrap_or(0);
    if strtab_idx == 0 || strtab_idx >= sections.len() {
        return Err(ctx.malformed(
            Stage::Elf,
            Some(".symtab"),
            "symbol strings section missing or invalid",
        ));
    }
    let strtab = std::mem::take(&mut sections[strtab_idx].data);
    let symbols = read_symbols(&ctx, &sections[symtab_idx], &strtab)?;
    // The string table may also hold the section names or be a section libbpf reads.
    sections[strtab_idx].data = strtab.clone();
    let mut obj = Object {
        file: file_name.to_string(),
        license: String::new(),
        kern_version: None,
        sections: Vec::new(),
        symbols,
        symbols_shndx: symtab_idx,
        text_shndx: 0,
        maps_shndx: None,
        btf: None,
        btf_ext: None,
        btf_ext_sec_idx: Default::default(),
        progs: Vec::new(),
        maps: Vec::new(),
        externs: Vec::new(),
        kconfig_map: None,
        strtab,
    };
    let raw = classify_sections(&ctx, &mut obj, &mut sections, &mut names)?;
    obj.sections = sections;
    obj.progs.sort_by_key(|p| (p.sec_idx, p.sec_insn_off));
    load_btf(&ctx, &mut obj, raw)?;
    externs::collect_externs(&ctx, &mut obj, &mut names)?;
    fixup_btf(&ctx, &mut obj)?;
    maps::init_maps(&ctx, &mut obj, &mut names)?;
    init_progs(&ctx, &mut obj)?;
    collect_relos(&ctx, &mut obj)?;
    Ok(obj)
}

/// ELF identification: magic, 64-bit, little-endian; and the input size limit.
fn check_ident(ctx: &Ctx, data: &[u8]) -> Result<(), Error> {
    if data.len() < 16 || &data[..4] != b"\x7fELF" {
        return Err(ctx.err(
            Stage::Elf,
            ErrorKind::NotElf,
            None,
            "missing ELF magic",
            "pass the .bpf.o produced by clang -target bpf (or bpf-unknown-none-gcc)",
        ));
    }
    if data.len() > limits::MAX_OBJECT_SIZE {
        return Err(input_limit(
            ctx,
            Limit::ObjectSize,
            Stage::Elf,
            None,
            format!(
                "object of {} bytes; at most {} are accepted",
                data.len(),
                limits::MAX_OBJECT_SIZE
            ),
        ));
    }
    if data[4] != 2 {
        return Err(not_bpf(ctx, "not a 64-bit ELF object".into()));
    }
    match data[5] {
        1 => Ok(()),
        2 => Err(ctx.unsupported(
            Stage::Elf,
            None,
            "big-endian BPF object",
            "build for the little-endian BPF target (-target bpf or bpfel)",
        )),
        _ => Err(not_bpf(ctx, "unknown ELF byte order".into())),
    }
}

fn not_bpf(ctx: &Ctx, m: String) -> Error {
    ctx.err(
        Stage::Elf,
        ErrorKind::NotBpf,
        None,
        m,
        "compile the program with clang -target bpf -g -O2 -c (a relocatable BPF object)",
    )
}

/// File header checks (relocatable BPF) and the section table, within [`limits::MAX_SECTIONS`].
fn section_table<'d>(ctx: &Ctx, data: &'d [u8]) -> Result<SectionTable<'d>, Error> {
    use object::read::elf::FileHeader;
    let le = object::LittleEndian;
    let hdr = object::elf::FileHeader64::<object::LittleEndian>::parse(data)
        .map_err(|e| ctx.malformed(Stage::Elf, None, format!("ELF header: {e}")))?;
    let e_type = hdr.e_type.get(le);
    let e_machine = hdr.e_machine.get(le);
    if e_type != object::elf::ET_REL || (e_machine != 0 && e_machine != object::elf::EM_BPF) {
        return Err(not_bpf(
            ctx,
            format!("e_type {e_type}, e_machine {e_machine} is not a relocatable BPF object"),
        ));
    }
    let table = hdr
        .sections(le, data)
        .map_err(|e| ctx.malformed(Stage::Elf, None, format!("section table: {e}")))?;
    if table.len() > limits::MAX_SECTIONS {
        return Err(input_limit(
            ctx,
            Limit::Sections,
            Stage::Elf,
            None,
            format!(
                "{} sections; at most {} are accepted",
                table.len(),
                limits::MAX_SECTIONS
            ),
        ));
    }
    Ok(table)
}

/// Reads every section header and copies the contents. Sections of a relocatable object do
/// not overlap, so the copies add up to at most the file size; more means overlapping
/// sections (a hostile object could otherwise multiply its size by the section count).
fn read_sections(
    ctx: &Ctx,
    data: &[u8],
    table: &SectionTable<'_>,
    names: &mut NameBudget,
) -> Result<Vec<Section>, Error> {
    use object::read::elf::SectionHeader;
    let le = object::LittleEndian;
    let mut sections = Vec::with_capacity(table.len());
    let mut copied = 0usize;
    for (i, sh) in table.iter().enumerate() {
        let name = table
            .section_name(le, sh)
            .map_err(|e| ctx.malformed(Stage::Elf, None, format!("section #{i} name: {e}")))?;
        let name = names.copy(ctx, Stage::Elf, None, &String::from_utf8_lossy(name))?;
        let sh_type = sh.sh_type(le);
        let content = if sh_type == SHT_NOBITS || i == 0 {
            Vec::new()
        } else {
            let bytes = sh.data(le, data).map_err(|e| {
                ctx.malformed(
                    Stage::Elf,
                    Some(&name),
                    format!("section data out of bounds: {e}"),
                )
            })?;
            copied = copied.saturating_add(bytes.len());
            if copied > data.len() {
                return Err(ctx.malformed(
                    Stage::Elf,
                    Some(&name),
                    "section contents overlap: together they are larger than the file",
                ));
            }
            bytes.to_vec()
        };
        sections.push(Section {
            idx: i,
            name,
            sh_type,
            flags: sh.sh_flags(le),
            size: sh.sh_size(le),
            data: content,
            info: sh.sh_info(le),
            entsize: sh.sh_entsize(le),
            sec_type: SecType::Unused,
        });
    }
    Ok(sections)
}

/// The one `SHT_SYMTAB` section.
fn find_symtab(ctx: &Ctx, sections: &[Section]) -> Result<usize, Error> {
    let mut symtab_idx = None;
    for s in sections.iter().filter(|s| s.sh_type == SHT_SYMTAB) {
        if symtab_idx.is_some() {
            return Err(ctx.malformed(Stage::Elf, Some(&s.name), "multiple symbol tables"));
        }
        symtab_idx = Some(s.idx);
    }
    symtab_idx.ok_or_else(|| {
        ctx.err(
            Stage::Elf,
            ErrorKind::Malformed,
            None,
            "no symbol table (stripped object?)",
            "do not strip the BPF object",
        )
    })
}

/// Decodes the symbol table; names stay in `strtab` (see [`name_lengths`]).
fn read_symbols(ctx: &Ctx, symtab: &Section, strtab: &[u8]) -> Result<Vec<Symbol>, Error> {
    if symtab.entsize != 24 {
        return Err(ctx.malformed(
            Stage::Elf,
            Some(&symtab.name),
            "symbol entry size is not 24",
        ));
    }
    let count = symtab.data.len() / 24;
    if count > limits::MAX_SYMBOLS {
        return Err(input_limit(
            ctx,
            Limit::Symbols,
            Stage::Elf,
            Some(&symtab.name),
            format!(
                "{count} symbols; at most {} are accepted",
                limits::MAX_SYMBOLS
            ),
        ));
    }
    let mut symbols: Vec<Symbol> = symtab
        .data
        .chunks_exact(24)
        .map(|e| Symbol {
            name_off: u32::from_le_bytes([e[0], e[1], e[2], e[3]]),
            name_len: 0,
            info: e[4],
            other: e[5],
            shndx: u16::from_le_bytes([e[6], e[7]]),
            value: u64::from_le_bytes(e[8..16].try_into().expect("8 bytes")),
            size: u64::from_le_bytes(e[16..24].try_into().expect("8 bytes")),
        })
        .collect();
    name_lengths(strtab, &mut symbols).map_err(|i| {
        ctx.malformed(
            Stage::Elf,
            Some(".strtab"),
            format!(
                "symbol #{i}: name offset {} out of range",
                symbols[i].name_off
            ),
        )
    })?;
    Ok(symbols)
}

/// Sets `name_len` of every symbol in one pass over `strtab`: offsets are visited in
/// ascending order and a NUL found for one offset serves every later offset before it, so
/// the table is scanned at most once however many symbols share (suffixes of) one name.
/// Returns the index of a symbol whose name is not a NUL-terminated string in the table.
fn name_lengths(strtab: &[u8], symbols: &mut [Symbol]) -> Result<(), usize> {
    let mut order: Vec<usize> = (0..symbols.len())
        .filter(|&i| symbols[i].name_off != 0)
        .collect();
    order.sort_by_key(|&i| symbols[i].name_off);
    // [start, nul]: a range known to hold no NUL before `nul`.
    let mut known: Option<(usize, usize)> = None;
    for i in order {
        let off = symbols[i].name_off as usize;
        let nul = match known {
            Some((start, nul)) if start <= off && off <= nul => nul,
            _ => {
                let rest = strtab.get(off..).ok_or(i)?;
                let nul = off + rest.iter().position(|&b| b == 0).ok_or(i)?;
                known = Some((off, nul));
                nul
            }
        };
        symbols[i].name_len = (nul - off) as u32;
    }
    Ok(())
}

/// `.BTF` / `.BTF.ext` bytes found while classifying the sections.
#[derive(Default)]
struct RawBtf {
    btf: Option<Vec<u8>>,
    ext: Option<Vec<u8>>,
}

/// libbpf's `bpf_object__elf_collect`: license, version, BTF, programs, data sections and
/// relocation sections.
fn classify_sections(
    ctx: &Ctx,
    obj: &mut Object,
    sections: &mut [Section],
    names: &mut NameBudget,
) -> Result<RawBtf, Error> {
    let mut funcs_by_sec: HashMap<u16, Vec<usize>> = HashMap::new();
    for (i, s) in obj.symbols.iter().enumerate() {
        if s.typ() == STT_FUNC {
            funcs_by_sec.entry(s.shndx).or_default().push(i);
        }
    }
    let mut raw = RawBtf::default();
    for i in 1..sections.len() {
        let s = &sections[i];
        if ignore_section(s.sh_type, s.size, &s.name) {
            continue;
        }
        match s.name.as_str() {
            "license" => {
                // libbpf_strlcpy(license, data, min(size + 1, 64))
                let n = s.data.len().min(63);
                let end = s.data[..n].iter().position(|&b| b == 0).unwrap_or(n);
                obj.license = String::from_utf8_lossy(&s.data[..end]).into_owned();
            }
            "version" => {
                let Ok(v) = <[u8; 4]>::try_from(s.data.as_slice()) else {
                    return Err(ctx.malformed(
                        Stage::Elf,
                        Some(&s.name),
                        "invalid kernel version section",
                    ));
                };
                obj.kern_version = Some(u32::from_le_bytes(v));
            }
            "maps" => {
                return Err(ctx.unsupported(
                    Stage::Maps,
                    Some("maps"),
                    "legacy map definitions in 'maps' section",
                    "declare maps with BTF in SEC(\".maps\") (libbpf v1.0+ style)",
                ))
            }
            ".maps" => obj.maps_shndx = Some(i),
            ".BTF" | ".BTF.ext" => {
                if s.sh_type != SHT_PROGBITS {
                    return Err(ctx.bad_btf(Some(&s.name), "not a PROGBITS section"));
                }
                let slot = if s.name == ".BTF" {
                    &mut raw.btf
                } else {
                    &mut raw.ext
                };
                *slot = Some(s.data.clone());
            }
            _ if s.sh_type == SHT_SYMTAB => {}
            _ if s.sh_type == SHT_PROGBITS && !s.data.is_empty() => {
                if s.flags & SHF_EXECINSTR != 0 {
                    if s.name == ".text" {
                        obj.text_shndx = i;
                    }
                    add_programs(ctx, obj, &sections[i], &funcs_by_sec, names)?;
                } else {
                    sections[i].sec_type = classify_data(ctx, &sections[i])?;
                }
            }
            _ if s.sh_type == SHT_REL && is_relo_section(ctx, sections, i)? => {
                sections[i].sec_type = SecType::Relo;
            }
            _ if s.sh_type == SHT_NOBITS && (s.name == ".bss" || s.name.starts_with(".bss.")) => {
                sections[i].sec_type = SecType::Bss;
            }
            _ => {}
        }
    }
    Ok(raw)
}

/// Class of a non-executable PROGBITS section; errors for the kinds bpfsign does not support.
fn classify_data(ctx: &Ctx, s: &Section) -> Result<SecType, Error> {
    let name = s.name.as_str();
    if name == ".data" || name.starts_with(".data.") {
        return Ok(SecType::Data);
    }
    if name == ".rodata" || name.starts_with(".rodata.") {
        return Ok(SecType::Rodata);
    }
    let (stage, what, hint) = match name {
        ".struct_ops" | ".struct_ops.link" | "?.struct_ops" | "?.struct_ops.link" => (
            Stage::Maps,
            "struct_ops maps",
            "struct_ops need the kernel's BTF at generation time; load them with libbpf",
        ),
        ".addr_space.1" => (
            Stage::Maps,
            "arena global variables",
            "remove __arena globals",
        ),
        ".jumptables" => (
            Stage::Programs,
            "BPF jump tables (indirect jumps)",
            "compile without -mcpu=v4 gotox jump tables",
        ),
        ".percpu" => (
            Stage::Maps,
            ".percpu global data",
            "only the kernel 7.3 bpftool supports it; use a PERCPU_ARRAY map in .maps instead",
        ),
        _ => return Ok(SecType::Unused),
    };
    Err(ctx.unsupported(stage, Some(name), what, hint))
}

/// Is REL section `i` one libbpf collects (code, `.maps` or struct_ops relocations)?
fn is_relo_section(ctx: &Ctx, sections: &[Section], i: usize) -> Result<bool, Error> {
    let s = &sections[i];
    let targ = s.info as usize;
    if s.entsize != 16 || targ >= sections.len() {
        return Err(ctx.malformed(Stage::Elf, Some(&s.name), "bad relocation section header"));
    }
    let t = &sections[targ];
    let targ_exec = t.sh_type == SHT_PROGBITS && t.flags & SHF_EXECINSTR != 0;
    let st_ops = matches!(
        s.name.as_str(),
        ".rel.struct_ops" | ".rel.struct_ops.link" | ".rel?.struct_ops" | ".rel?.struct_ops.link"
    );
    Ok(targ_exec || st_ops || s.name == ".rel.maps")
}

/// `bpf_object__init_btf`: parses `.BTF` and `.BTF.ext` and maps the `.BTF.ext` sections to
/// ELF section indices.
fn load_btf(ctx: &Ctx, obj: &mut Object, raw: RawBtf) -> Result<(), Error> {
    if let Some(b) = raw.btf {
        obj.btf = Some(Btf::parse(ctx, &b)?);
    }
    if let (Some(b), Some(btf)) = (raw.ext, &obj.btf) {
        let ext = BtfExt::parse(ctx, &b)?;
        let mut by_name: HashMap<&str, usize> = HashMap::new();
        for s in &obj.sections {
            by_name.entry(s.name.as_str()).or_insert(s.idx);
        }
        let map_secs = |info: &btf_ext::ExtInfo| -> Vec<usize> {
            info.secs
                .iter()
                .map(|s| match btf.str_at(s.sec_name_off) {
                    Some(n) if !n.is_empty() => by_name.get(n).copied().unwrap_or(0),
                    _ => 0,
                })
                .collect()
        };
        obj.btf_ext_sec_idx = [
            map_secs(&ext.func_info),
            map_secs(&ext.line_info),
            map_secs(&ext.core_relo),
        ];
        obj.btf_ext = Some(ext);
    }
    if obj.btf.is_none() && obj.maps_shndx.is_some() {
        return Err(ctx.bad_btf(
            Some(".maps"),
            "BTF is required for BTF-defined maps but .BTF is missing",
        ));
    }
    Ok(())
}

fn ignore_section(sh_type: u32, size: u64, name: &str) -> bool {
    if sh_type == SHT_STRTAB || sh_type == SHT_LLVM_ADDRSIG {
        return true;
    }
    if sh_type == SHT_PROGBITS && size == 0 && name == ".text" {
        return true;
    }
    if name.starts_with(".debug_") {
        return true;
    }
    if let Some(rest) = name.strip_prefix(".rel") {
        if rest.starts_with(".debug_") || rest == ".BTF" || rest == ".BTF.ext" {
            return true;
        }
    }
    false
}

fn add_programs(
    ctx: &Ctx,
    obj: &mut Object,
    sec: &Section,
    by_sec: &HashMap<u16, Vec<usize>>,
    names: &mut NameBudget,
) -> Result<(), Error> {
    let Ok(shndx) = u16::try_from(sec.idx) else {
        return Ok(());
    };
    let funcs = by_sec.get(&shndx).map(Vec::as_slice).unwrap_or(&[]);
    if obj.progs.len() + funcs.len() > limits::MAX_PROGRAMS {
        return Err(input_limit(
            ctx,
            Limit::Programs,
            Stage::Programs,
            Some(&sec.name),
            format!(
                "more than {} programs and subprograms; the loader takes at most {}",
                limits::MAX_PROGRAMS,
                bpfsign_abi::limits::MAX_PROGS
            ),
        ));
    }
    // Functions of one section do not overlap; overlapping ones would copy the section once
    // per symbol.
    let mut spans: Vec<(u64, u64)> = funcs
        .iter()
        .map(|&si| {
            let s = &obj.symbols[si];
            (s.value, s.value.saturating_add(s.size))
        })
        .collect();
    spans.sort_unstable();
    if let Some(w) = spans.windows(2).find(|w| w[0].1 > w[1].0) {
        return Err(ctx.malformed(
            Stage::Programs,
            Some(&sec.name),
            format!(
                "functions at byte offsets {} and {} overlap",
                w[0].0, w[1].0
            ),
        ));
    }
    for &si in funcs {
        let prog = program_of(ctx, obj, sec, &obj.symbols[si], names)?;
        obj.progs.push(prog);
    }
    Ok(())
}

/// One FUNC symbol of an executable section as a [`Program`] (`bpf_object__add_programs`).
fn program_of(
    ctx: &Ctx,
    obj: &Object,
    sec: &Section,
    sym: &Symbol,
    names: &mut NameBudget,
) -> Result<Program, Error> {
    let (off, sz) = (sym.value, sym.size);
    let name = || obj.sym_name(sym);
    let end = off.checked_add(sz).filter(|&e| e <= sec.data.len() as u64);
    let Some(end) = end else {
        return Err(ctx.malformed(
            Stage::Programs,
            Some(&sec.name),
            format!(
                "program '{}' at offset {off} crosses section boundary",
                name()
            ),
        ));
    };
    if sec.idx != obj.text_shndx && sym.bind() == STB_LOCAL {
        return Err(ctx.unsupported(
            Stage::Programs,
            Some(&sec.name),
            format!("program '{}' is static", name()),
            "make entry-point programs global (non-static) functions",
        ));
    }
    if sz == 0 || sz % 8 != 0 || off % 8 != 0 {
        return Err(ctx.malformed(
            Stage::Programs,
            Some(&sec.name),
            format!("corrupted program '{}', offset {off}, size {sz}", name()),
        ));
    }
    let (autoload, sec_name) = match sec.name.strip_prefix('?') {
        Some(rest) => (false, rest),
        None => (true, sec.name.as_str()),
    };
    let sym_global = sym.bind() != STB_LOCAL;
    Ok(Program {
        name: names.copy(ctx, Stage::Programs, Some(&sec.name), &name())?,
        sec_name: names.copy(ctx, Stage::Programs, Some(&sec.name), sec_name)?,
        sec_idx: sec.idx,
        sec_insn_off: (off / 8) as usize,
        insns: insn::decode(&sec.data[off as usize..end as usize]),
        autoload,
        sym_global,
        mark_btf_static: sym_global && sym.is_hidden(),
        sec_def: None,
        prog_type: 0,
        expected_attach_type: 0,
        relos: Vec::new(),
    })
}

/// libbpf's `find_elf_var_sym` for every name at once: the first global or weak OBJECT symbol
/// of each name (one pass over the symbols instead of one per DATASEC variable).
fn elf_var_syms(obj: &Object) -> HashMap<&[u8], &Symbol> {
    let mut by_name = HashMap::new();
    for s in &obj.symbols {
        if s.typ() == STT_OBJECT && matches!(s.bind(), STB_GLOBAL | STB_WEAK) {
            by_name.entry(obj.sym_name_bytes(s)).or_insert(s);
        }
    }
    by_name
}

/// libbpf's `bpf_object_fixup_btf` / `btf_fixup_datasec`.
fn fixup_btf(ctx: &Ctx, obj: &mut Object) -> Result<(), Error> {
    let Some(mut btf) = obj.btf.take() else {
        return Ok(());
    };
    let res = fixup_datasecs(ctx, obj, &mut btf);
    obj.btf = Some(btf);
    res
}

fn fixup_datasecs(ctx: &Ctx, obj: &Object, btf: &mut Btf) -> Result<(), Error> {
    let var_syms = elf_var_syms(obj);
    let mut sec_size: HashMap<&str, u64> = HashMap::new();
    for s in obj.sections.iter().filter(|s| s.idx != 0) {
        let size = if s.sh_type == SHT_NOBITS {
            s.size
        } else {
            s.data.len() as u64
        };
        sec_size.entry(s.name.as_str()).or_insert(size);
    }
    let ids: Vec<u32> = btf.datasecs().collect();
    for id in ids {
        let sec_name = btf.name(id).to_string();
        if sec_name != ".kconfig" && sec_name != ".ksyms" {
            fixup_datasec(ctx, btf, id, &sec_name, &sec_size, &var_syms)?;
        }
        btf.sort_datasec_vars(id);
        if sec_name != ".kconfig" && sec_name != ".ksyms" {
            check_datasec_layout(ctx, btf, id, &sec_name)?;
        }
    }
    Ok(())
}

/// `btf_fixup_datasec` for one DATASEC: its size from the ELF section (when 0), variable
/// offsets from the ELF symbols, hidden globals made static.
fn fixup_datasec(
    ctx: &Ctx,
    btf: &mut Btf,
    id: u32,
    sec_name: &str,
    sec_size: &HashMap<&str, u64>,
    var_syms: &HashMap<&[u8], &Symbol>,
) -> Result<(), Error> {
    let bad = |m: String| ctx.bad_btf(Some(sec_name), format!("DATASEC '{sec_name}': {m}"));
    let t = btf.ty(id).expect("datasec id");
    let mut fixup_offsets = false;
    if t.size_or_type == 0 {
        let size = sec_size.get(sec_name).copied().unwrap_or(0);
        if size == 0 {
            return Err(bad(
                "failed to determine its size from the ELF section".into()
            ));
        }
        let Ok(size) = u32::try_from(size) else {
            return Err(bad(format!(
                "section of {size} bytes does not fit BTF's u32 size"
            )));
        };
        btf.set_size_or_type(id, size);
        fixup_offsets = true;
    }
    let t = btf.ty(id).expect("datasec id");
    for i in 0..t.vlen() {
        let (vtype, _, vsize) = btf.datasec_entry(&t, i);
        let Some(vt) = btf.ty(vtype).filter(|v| v.kind() == btf::kind::VAR) else {
            return Err(bad(format!("non-VAR entry #{i}")));
        };
        let linkage = btf.u32(&vt, 0);
        if linkage == btf::VAR_STATIC || linkage == btf::VAR_GLOBAL_EXTERN {
            continue;
        }
        let var_name = btf.name(vtype);
        let Some(sym) = var_syms.get(var_name.as_bytes()) else {
            return Err(bad(format!("no ELF symbol for VAR '{var_name}'")));
        };
        let (value, hidden) = (sym.value, sym.is_hidden());
        if fixup_offsets {
            // The variable must lie inside the section (the kernel checks the same on load).
            if value
                .checked_add(u64::from(vsize))
                .is_none_or(|e| e > u64::from(t.size_or_type))
            {
                return Err(bad(format!(
                    "symbol '{var_name}' at offset {value} (size {vsize}) lies outside the section of {} bytes",
                    t.size_or_type
                )));
            }
            btf.set_u32(&t, i * 3 + 1, value as u32);
        }
        if hidden {
            btf.set_u32(&vt, 0, btf::VAR_STATIC);
        }
    }
    Ok(())
}

/// Every variable of a DATASEC must lie inside it (`btf_datasec_check_meta` of the kernel):
/// later stages index the section's data with these offsets.
fn check_datasec_layout(ctx: &Ctx, btf: &Btf, id: u32, sec_name: &str) -> Result<(), Error> {
    let t = btf.ty(id).expect("datasec id");
    for i in 0..t.vlen() {
        let (_, off, size) = btf.datasec_entry(&t, i);
        if u64::from(off) + u64::from(size) > u64::from(t.size_or_type) {
            return Err(ctx.bad_btf(
                Some(sec_name),
                format!(
                    "DATASEC '{sec_name}': entry #{i} at offset {off}, size {size} lies outside its {} bytes",
                    t.size_or_type
                ),
            ));
        }
    }
    Ok(())
}

/// libbpf's `bpf_object_init_progs`: program types from section names.
fn init_progs(ctx: &Ctx, obj: &mut Object) -> Result<(), Error> {
    let text = obj.text_shndx;
    for p in obj.progs.iter_mut() {
        if p.sec_idx == text && text != 0 {
            // .text subprograms match no section definition
            continue;
        }
        let Some(def) = secdef::find_sec_def(&p.sec_name) else {
            return Err(ctx.err(
                Stage::Programs,
                ErrorKind::UnknownSection,
                Some(&p.sec_name),
                format!("program '{}': libbpf does not recognise this SEC() name", p.name),
                "use a libbpf section name such as fentry/<fn>, kprobe/<fn>, tracepoint/<cat>/<name>, xdp, tc, lsm/<hook>",
            ));
        };
        p.sec_def = Some(def);
        p.prog_type = def.prog_type;
        p.expected_attach_type = def.attach;
    }
    Ok(())
}

fn collect_relos(ctx: &Ctx, obj: &mut Object) -> Result<(), Error> {
    let relo_secs: Vec<usize> = obj
        .sections
        .iter()
        .filter(|s| s.sec_type == SecType::Relo)
        .map(|s| s.idx)
        .collect();
    let index = RelocIndex::new(obj);
    let mut found = Vec::new();
    for ri in relo_secs {
        let targ = obj.sections[ri].info as usize;
        if Some(targ) == obj.maps_shndx {
            maps::collect_map_relos(ctx, obj, ri)?;
        } else {
            collect_prog_relos(ctx, obj, &index, ri, &mut found)?;
        }
    }
    for (pi, r) in found {
        obj.progs[pi].relos.push(r);
    }
    for p in obj.progs.iter_mut() {
        p.relos.sort_by_key(|r| (r.insn_idx, r.kind.order()));
        // One ELF relocation per instruction (a call or an ld_imm64): more would be copied
        // into every program that calls this one.
        if let Some(w) = p.relos.windows(2).find(|w| w[0].insn_idx == w[1].insn_idx) {
            return Err(ctx.malformed(
                Stage::Link,
                Some(&p.sec_name),
                format!(
                    "prog '{}': several relocations for instruction #{}",
                    p.name, w[0].insn_idx
                ),
            ));
        }
    }
    Ok(())
}

/// Look-up tables for [`record_reloc`], built once so each relocation costs O(1) whatever
/// the number of externs and maps.
struct RelocIndex {
    /// ELF symbol index → extern index (first extern of that symbol).
    ext_of_sym: HashMap<usize, usize>,
    /// (section, offset) → first user map there.
    user_map_at: HashMap<(usize, u64), usize>,
    /// (kind, section) → first global-data map of that section.
    data_map_of: HashMap<(MapKind, usize), usize>,
}

impl RelocIndex {
    fn new(obj: &Object) -> Self {
        let mut ix = RelocIndex {
            ext_of_sym: HashMap::new(),
            user_map_at: HashMap::new(),
            data_map_of: HashMap::new(),
        };
        for (i, e) in obj.externs.iter().enumerate() {
            ix.ext_of_sym.entry(e.sym_idx).or_insert(i);
        }
        for (i, m) in obj.maps.iter().enumerate() {
            if m.kind == MapKind::User {
                ix.user_map_at.entry((m.sec_idx, m.sec_offset)).or_insert(i);
            }
            ix.data_map_of.entry((m.kind, m.sec_idx)).or_insert(i);
        }
        ix
    }
}

fn collect_prog_relos(
    ctx: &Ctx,
    obj: &Object,
    index: &RelocIndex,
    ri: usize,
    found: &mut Vec<(usize, Reloc)>,
) -> Result<(), Error> {
    let rs = &obj.sections[ri];
    let sec_idx = rs.info as usize;
    let sec_len = obj.sections[sec_idx].data.len() as u64;
    let mal = |m: String| ctx.malformed(Stage::Link, Some(&rs.name), m);
    for (i, e) in rs.data.chunks_exact(16).enumerate() {
        let r_offset = u64::from_le_bytes(e[0..8].try_into().expect("8"));
        let r_info = u64::from_le_bytes(e[8..16].try_into().expect("8"));
        let sym_idx = (r_info >> 32) as usize;
        let Some(sym) = obj.symbols.get(sym_idx) else {
            return Err(mal(format!("relo #{i}: symbol #{sym_idx} not found")));
        };
        if sym.shndx as usize >= obj.sections.len() {
            return Err(mal(format!(
                "relo #{i}: symbol #{sym_idx} points to invalid section {}",
                sym.shndx
            )));
        }
        if r_offset % 8 != 0 || r_offset >= sec_len {
            return Err(mal(format!("relo #{i}: invalid offset {r_offset:#x}")));
        }
        let insn_idx = (r_offset / 8) as usize;
        let Some(pi) = obj.find_prog_by_sec_insn(sec_idx, insn_idx) else {
            continue; // overridden weak function
        };
        let local = insn_idx - obj.progs[pi].sec_insn_off;
        let kind = record_reloc(ctx, obj, index, pi, local, sym, sym_idx)?;
        found.push((
            pi,
            Reloc {
                insn_idx: local,
                kind,
            },
        ));
    }
    Ok(())
}

/// Name of a relocation's symbol for messages (section symbols are named by their section).
fn reloc_sym_name(obj: &Object, sym: &Symbol) -> String {
    if sym.typ() == STT_SECTION && sym.name_off == 0 {
        obj.sec_name(sym.shndx as usize).to_string()
    } else {
        obj.sym_name(sym).into_owned()
    }
}

fn record_reloc(
    ctx: &Ctx,
    obj: &Object,
    index: &RelocIndex,
    pi: usize,
    insn_idx: usize,
    sym: &Symbol,
    sym_idx: usize,
) -> Result<RelocKind, Error> {
    let prog = &obj.progs[pi];
    let insn = prog.insns[insn_idx];
    let sec = Some(prog.sec_name.as_str());
    let bad = |m: &dyn Fn(&str) -> String| {
        ctx.err(
            Stage::Link,
            ErrorKind::Malformed,
            sec,
            format!("prog '{}': {}", prog.name, m(&reloc_sym_name(obj, sym))),
            "the object's relocations are inconsistent; rebuild it",
        )
    };
    if !insn.is_call() && !insn.is_ldimm64() {
        return Err(bad(&|n| {
            format!(
                "invalid relo against '{n}' for insn #{insn_idx} (code {:#x})",
                insn.code
            )
        }));
    }
    if sym.is_extern() {
        let Some(&ext) = index.ext_of_sym.get(&sym_idx) else {
            return Err(bad(&|n| {
                format!("extern relo failed to find extern for '{n}'")
            }));
        };
        return Ok(if insn.is_call() {
            RelocKind::ExternCall { ext }
        } else {
            RelocKind::ExternLd64 { ext }
        });
    }
    let shndx = sym.shndx as usize;
    if insn.is_call() {
        if insn.src != insn::pseudo::CALL {
            return Err(bad(&|_| "incorrect bpf_call opcode".into()));
        }
        if shndx == 0 || shndx != obj.text_shndx {
            return Err(bad(&|n| {
                format!(
                    "bad call relo against '{n}' in section '{}'",
                    obj.sec_name(shndx)
                )
            }));
        }
        if !sym.value.is_multiple_of(8) {
            return Err(bad(&|n| {
                format!("bad call relo against '{n}' at offset {}", sym.value)
            }));
        }
        return Ok(RelocKind::Call { sym_off: sym.value });
    }
    if sym.shndx == 0 || sym.shndx >= SHN_LORESERVE {
        return Err(bad(&|n| {
            format!(
                "relo against '{n}' in special section {:#x}; uninitialised global?",
                sym.shndx
            )
        }));
    }
    let is_subprog = shndx == obj.text_shndx
        && ((sym.bind() == STB_LOCAL && sym.typ() == STT_SECTION)
            || (matches!(sym.bind(), STB_GLOBAL | STB_WEAK) && sym.typ() == STT_FUNC));
    if is_subprog {
        if !sym.value.is_multiple_of(8) || insn.imm % 8 != 0 {
            return Err(bad(&|n| format!("bad subprog addr relo against '{n}'")));
        }
        return Ok(RelocKind::SubprogAddr { sym_off: sym.value });
    }
    let sec_type = if shndx == obj.symbols_shndx {
        None
    } else {
        match obj.sections[shndx].sec_type {
            SecType::Bss => Some(MapKind::Bss),
            SecType::Data => Some(MapKind::Data),
            SecType::Rodata => Some(MapKind::Rodata),
            _ => None,
        }
    };
    match sec_type {
        None => {
            if Some(shndx) != obj.maps_shndx {
                return Err(bad(&|n| {
                    format!(
                        "bad map relo against '{n}' in section '{}'",
                        obj.sec_name(shndx)
                    )
                }));
            }
            let Some(&map) = index.user_map_at.get(&(shndx, sym.value)) else {
                return Err(bad(&|_| {
                    format!("map relo failed to find map at offset {}", sym.value)
                }));
            };
            Ok(RelocKind::Ld64 { map })
        }
        Some(kind) => {
            let Some(&map) = index.data_map_of.get(&(kind, shndx)) else {
                return Err(bad(&|_| {
                    format!(
                        "data relo failed to find map for section '{}'",
                        obj.sec_name(shndx)
                    )
                }));
            };
            Ok(RelocKind::Data {
                map,
                sym_off: sym.value,
            })
        }
    }
}
