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
mod externs;
pub mod maps;
pub mod secdef;

use std::collections::BTreeMap;

use crate::error::{Ctx, Error, ErrorKind, Stage};
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

/// An ELF symbol (`Elf64_Sym`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Symbol {
    /// Name.
    pub name: String,
    /// `st_name` (0 = unnamed).
    pub name_off: u32,
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
}

struct Elf<'a> {
    ctx: &'a Ctx,
}

impl Elf<'_> {
    fn malformed(&self, sec: Option<&str>, m: impl Into<String>) -> Error {
        self.ctx.malformed(Stage::Elf, sec, m)
    }
}

fn cstr(tab: &[u8], off: usize) -> Option<String> {
    let rest = tab.get(off..)?;
    let end = rest.iter().position(|&b| b == 0)?;
    Some(String::from_utf8_lossy(&rest[..end]).into_owned())
}

/// Parses `elf_bytes` (the contents of `file_name`) into an [`Object`].
pub fn parse(file_name: &str, data: &[u8]) -> Result<Object, Error> {
    let ctx = Ctx::new(file_name);
    let elf = Elf { ctx: &ctx };
    if data.len() < 16 || &data[..4] != b"\x7fELF" {
        return Err(ctx.err(
            Stage::Elf,
            ErrorKind::NotElf,
            None,
            "missing ELF magic",
            "pass the .bpf.o produced by clang -target bpf (or bpf-unknown-none-gcc)",
        ));
    }
    let not_bpf = |m: &str| {
        ctx.err(
            Stage::Elf,
            ErrorKind::NotBpf,
            None,
            m.to_string(),
            "compile the program with clang -target bpf -g -O2 -c (a relocatable BPF object)",
        )
    };
    if data[4] != 2 {
        return Err(not_bpf("not a 64-bit ELF object"));
    }
    match data[5] {
        1 => {}
        2 => {
            return Err(ctx.unsupported(
                Stage::Elf,
                None,
                "big-endian BPF object",
                "build for the little-endian BPF target (-target bpf or bpfel)",
            ))
        }
        _ => return Err(not_bpf("unknown ELF byte order")),
    }
    use object::read::elf::{FileHeader, SectionHeader};
    let le = object::LittleEndian;
    let hdr = object::elf::FileHeader64::<object::LittleEndian>::parse(data)
        .map_err(|e| elf.malformed(None, format!("ELF header: {e}")))?;
    let e_type = hdr.e_type.get(le);
    let e_machine = hdr.e_machine.get(le);
    if e_type != object::elf::ET_REL || (e_machine != 0 && e_machine != object::elf::EM_BPF) {
        return Err(not_bpf(&format!(
            "e_type {e_type}, e_machine {e_machine} is not a relocatable BPF object"
        )));
    }
    let table = hdr
        .sections(le, data)
        .map_err(|e| elf.malformed(None, format!("section table: {e}")))?;
    let mut sections = Vec::with_capacity(table.len());
    for (i, sh) in table.iter().enumerate() {
        let name = table
            .section_name(le, sh)
            .map_err(|e| elf.malformed(None, format!("section #{i} name: {e}")))?;
        let name = String::from_utf8_lossy(name).into_owned();
        let sh_type = sh.sh_type(le);
        let size = sh.sh_size(le);
        let content = if sh_type == SHT_NOBITS || i == 0 {
            Vec::new()
        } else {
            sh.data(le, data)
                .map_err(|e| {
                    elf.malformed(Some(&name), format!("section data out of bounds: {e}"))
                })?
                .to_vec()
        };
        sections.push(Section {
            idx: i,
            name,
            sh_type,
            flags: sh.sh_flags(le),
            size,
            data: content,
            info: sh.sh_info(le),
            entsize: sh.sh_entsize(le),
            sec_type: SecType::Unused,
        });
        let _ = sh.sh_link(le);
    }
    // symbol table (first pass)
    let mut symtab_idx = None;
    for s in &sections {
        if s.sh_type == SHT_SYMTAB {
            if symtab_idx.is_some() {
                return Err(elf.malformed(Some(&s.name), "multiple symbol tables"));
            }
            symtab_idx = Some(s.idx);
        }
    }
    let Some(symtab_idx) = symtab_idx else {
        return Err(ctx.err(
            Stage::Elf,
            ErrorKind::Malformed,
            None,
            "no symbol table (stripped object?)",
            "do not strip the BPF object",
        ));
    };
    let strtab_idx = table
        .section(object::SectionIndex(symtab_idx))
        .map(|sh| sh.sh_link(le) as usize)
        .unwrap_or(0);
    if strtab_idx == 0 || strtab_idx >= sections.len() {
        return Err(elf.malformed(Some(".symtab"), "symbol strings section missing or invalid"));
    }
    let symtab = &sections[symtab_idx];
    if symtab.entsize != 24 {
        return Err(elf.malformed(Some(&symtab.name), "symbol entry size is not 24"));
    }
    let strtab = sections[strtab_idx].data.clone();
    let mut symbols = Vec::with_capacity(symtab.data.len() / 24);
    for (i, e) in symtab.data.chunks_exact(24).enumerate() {
        let name_off = u32::from_le_bytes([e[0], e[1], e[2], e[3]]);
        let name = if name_off == 0 {
            String::new()
        } else {
            cstr(&strtab, name_off as usize).ok_or_else(|| {
                elf.malformed(
                    Some(".strtab"),
                    format!("symbol #{i}: name offset {name_off} out of range"),
                )
            })?
        };
        symbols.push(Symbol {
            name,
            name_off,
            info: e[4],
            other: e[5],
            shndx: u16::from_le_bytes([e[6], e[7]]),
            value: u64::from_le_bytes(e[8..16].try_into().expect("8 bytes")),
            size: u64::from_le_bytes(e[16..24].try_into().expect("8 bytes")),
        });
    }

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
    };

    let mut funcs_by_sec: BTreeMap<u16, Vec<usize>> = BTreeMap::new();
    for (i, s) in obj.symbols.iter().enumerate() {
        funcs_by_sec.entry(s.shndx).or_default().push(i);
    }
    let mut btf_data: Option<Vec<u8>> = None;
    let mut btf_ext_data: Option<Vec<u8>> = None;
    for i in 1..sections.len() {
        let (name, sh_type, size, flags) = (
            sections[i].name.clone(),
            sections[i].sh_type,
            sections[i].size,
            sections[i].flags,
        );
        if ignore_section(sh_type, size, &name) {
            continue;
        }
        let sdata = &sections[i].data;
        let data_len = if sh_type == SHT_NOBITS {
            size
        } else {
            sdata.len() as u64
        };
        if name == "license" {
            // libbpf_strlcpy(license, data, min(size + 1, 64))
            let n = sdata.len().min(63);
            let end = sdata[..n].iter().position(|&b| b == 0).unwrap_or(n);
            obj.license = String::from_utf8_lossy(&sdata[..end]).into_owned();
        } else if name == "version" {
            if sdata.len() != 4 {
                return Err(elf.malformed(Some(&name), "invalid kernel version section"));
            }
            obj.kern_version = Some(u32::from_le_bytes([sdata[0], sdata[1], sdata[2], sdata[3]]));
        } else if name == "maps" {
            return Err(ctx.unsupported(
                Stage::Maps,
                Some("maps"),
                "legacy map definitions in 'maps' section",
                "declare maps with BTF in SEC(\".maps\") (libbpf v1.0+ style)",
            ));
        } else if name == ".maps" {
            obj.maps_shndx = Some(i);
        } else if name == ".BTF" {
            if sh_type != SHT_PROGBITS {
                return Err(ctx.bad_btf(Some(".BTF"), "not a PROGBITS section"));
            }
            btf_data = Some(sdata.clone());
        } else if name == ".BTF.ext" {
            if sh_type != SHT_PROGBITS {
                return Err(ctx.bad_btf(Some(".BTF.ext"), "not a PROGBITS section"));
            }
            btf_ext_data = Some(sdata.clone());
        } else if sh_type == SHT_SYMTAB {
        } else if sh_type == SHT_PROGBITS && data_len > 0 {
            if flags & SHF_EXECINSTR != 0 {
                if name == ".text" {
                    obj.text_shndx = i;
                }
                add_programs(&ctx, &mut obj, &sections[i], &funcs_by_sec)?;
            } else if name == ".data" || name.starts_with(".data.") {
                sections[i].sec_type = SecType::Data;
            } else if name == ".rodata" || name.starts_with(".rodata.") {
                sections[i].sec_type = SecType::Rodata;
            } else if matches!(
                name.as_str(),
                ".struct_ops" | ".struct_ops.link" | "?.struct_ops" | "?.struct_ops.link"
            ) {
                return Err(ctx.unsupported(
                    Stage::Maps,
                    Some(&name),
                    "struct_ops maps",
                    "struct_ops need the kernel's BTF at generation time; load them with libbpf",
                ));
            } else if name == ".addr_space.1" {
                return Err(ctx.unsupported(
                    Stage::Maps,
                    Some(&name),
                    "arena global variables",
                    "remove __arena globals",
                ));
            } else if name == ".jumptables" {
                return Err(ctx.unsupported(
                    Stage::Programs,
                    Some(&name),
                    "BPF jump tables (indirect jumps)",
                    "compile without -mcpu=v4 gotox jump tables",
                ));
            } else if name == ".percpu" {
                return Err(ctx.unsupported(
                    Stage::Maps,
                    Some(&name),
                    ".percpu global data",
                    "only the kernel 7.3 bpftool supports it; use a PERCPU_ARRAY map in .maps instead",
                ));
            }
        } else if sh_type == SHT_REL {
            let targ = sections[i].info as usize;
            if sections[i].entsize != 16 || targ >= sections.len() {
                return Err(elf.malformed(Some(&name), "bad relocation section header"));
            }
            let targ_exec =
                sections[targ].sh_type == SHT_PROGBITS && sections[targ].flags & SHF_EXECINSTR != 0;
            let st_ops = matches!(
                name.as_str(),
                ".rel.struct_ops"
                    | ".rel.struct_ops.link"
                    | ".rel?.struct_ops"
                    | ".rel?.struct_ops.link"
            );
            if !targ_exec && !st_ops && name != ".rel.maps" {
                continue;
            }
            sections[i].sec_type = SecType::Relo;
        } else if sh_type == SHT_NOBITS && (name == ".bss" || name.starts_with(".bss.")) {
            sections[i].sec_type = SecType::Bss;
        }
    }
    obj.sections = sections;
    obj.progs.sort_by_key(|p| (p.sec_idx, p.sec_insn_off));

    // BTF (bpf_object__init_btf)
    if let Some(b) = btf_data {
        obj.btf = Some(Btf::parse(&ctx, &b)?);
    }
    if let Some(b) = btf_ext_data {
        if let Some(btf) = &obj.btf {
            let ext = BtfExt::parse(&ctx, &b)?;
            let map_secs = |info: &btf_ext::ExtInfo| -> Vec<usize> {
                info.secs
                    .iter()
                    .map(|s| match btf.str_at(s.sec_name_off) {
                        Some(n) if !n.is_empty() => {
                            obj.sections.iter().position(|x| x.name == n).unwrap_or(0)
                        }
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
    }
    if obj.btf.is_none() && obj.maps_shndx.is_some() {
        return Err(ctx.bad_btf(
            Some(".maps"),
            "BTF is required for BTF-defined maps but .BTF is missing",
        ));
    }

    externs::collect_externs(&ctx, &mut obj)?;
    fixup_btf(&ctx, &mut obj)?;
    maps::init_maps(&ctx, &mut obj)?;
    init_progs(&ctx, &mut obj)?;
    collect_relos(&ctx, &mut obj)?;
    Ok(obj)
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
    by_sec: &BTreeMap<u16, Vec<usize>>,
) -> Result<(), Error> {
    let Ok(shndx) = u16::try_from(sec.idx) else {
        return Ok(());
    };
    for &si in by_sec.get(&shndx).map(Vec::as_slice).unwrap_or(&[]) {
        let sym = &obj.symbols[si];
        if sym.typ() != STT_FUNC {
            continue;
        }
        let (off, sz) = (sym.value, sym.size);
        if off
            .checked_add(sz)
            .is_none_or(|e| e > sec.data.len() as u64)
        {
            return Err(ctx.malformed(
                Stage::Programs,
                Some(&sec.name),
                format!(
                    "program '{}' at offset {off} crosses section boundary",
                    sym.name
                ),
            ));
        }
        if sec.idx != obj.text_shndx && sym.bind() == STB_LOCAL {
            return Err(ctx.unsupported(
                Stage::Programs,
                Some(&sec.name),
                format!("program '{}' is static", sym.name),
                "make entry-point programs global (non-static) functions",
            ));
        }
        if sz == 0 || sz % 8 != 0 || off % 8 != 0 {
            return Err(ctx.malformed(
                Stage::Programs,
                Some(&sec.name),
                format!("corrupted program '{}', offset {off}, size {sz}", sym.name),
            ));
        }
        let (autoload, sec_name) = match sec.name.strip_prefix('?') {
            Some(rest) => (false, rest.to_string()),
            None => (true, sec.name.clone()),
        };
        let sym_global = sym.bind() != STB_LOCAL;
        obj.progs.push(Program {
            name: sym.name.clone(),
            sec_name,
            sec_idx: sec.idx,
            sec_insn_off: (off / 8) as usize,
            insns: insn::decode(&sec.data[off as usize..(off + sz) as usize]),
            autoload,
            sym_global,
            mark_btf_static: sym_global && sym.is_hidden(),
            sec_def: None,
            prog_type: 0,
            expected_attach_type: 0,
            relos: Vec::new(),
        });
    }
    Ok(())
}

/// libbpf's `find_elf_var_sym`.
fn find_elf_var_sym<'a>(obj: &'a Object, name: &str) -> Option<&'a Symbol> {
    obj.symbols.iter().find(|s| {
        s.typ() == STT_OBJECT && matches!(s.bind(), STB_GLOBAL | STB_WEAK) && s.name == name
    })
}

/// libbpf's `bpf_object_fixup_btf` / `btf_fixup_datasec`.
fn fixup_btf(ctx: &Ctx, obj: &mut Object) -> Result<(), Error> {
    let Some(mut btf) = obj.btf.take() else {
        return Ok(());
    };
    let ids: Vec<u32> = btf.datasecs().collect();
    for id in ids {
        let sec_name = btf.name(id).to_string();
        if sec_name != ".kconfig" && sec_name != ".ksyms" {
            let t = btf.ty(id).expect("datasec id");
            let mut fixup_offsets = false;
            if t.size_or_type == 0 {
                let size = obj
                    .sections
                    .iter()
                    .find(|s| s.name == sec_name && s.idx != 0)
                    .map(|s| {
                        if s.sh_type == SHT_NOBITS {
                            s.size
                        } else {
                            s.data.len() as u64
                        }
                    })
                    .unwrap_or(0);
                if size == 0 {
                    return Err(ctx.bad_btf(
                        Some(&sec_name),
                        format!("DATASEC '{sec_name}': failed to determine its size from the ELF section"),
                    ));
                }
                btf.set_size_or_type(id, size as u32);
                fixup_offsets = true;
            }
            let t = btf.ty(id).expect("datasec id");
            for i in 0..t.vlen() {
                let (vtype, _, _) = btf.datasec_entry(&t, i);
                let Some(vt) = btf.ty(vtype).filter(|v| v.kind() == btf::kind::VAR) else {
                    return Err(ctx.bad_btf(
                        Some(&sec_name),
                        format!("DATASEC '{sec_name}': non-VAR entry #{i}"),
                    ));
                };
                let linkage = btf.u32(&vt, 0);
                if linkage == btf::VAR_STATIC || linkage == btf::VAR_GLOBAL_EXTERN {
                    continue;
                }
                let var_name = btf.name(vtype).to_string();
                let Some(sym) = find_elf_var_sym(obj, &var_name) else {
                    return Err(ctx.bad_btf(
                        Some(&sec_name),
                        format!("DATASEC '{sec_name}': no ELF symbol for VAR '{var_name}'"),
                    ));
                };
                let (value, hidden) = (sym.value, sym.is_hidden());
                if fixup_offsets {
                    btf.set_u32(&t, i * 3 + 1, value as u32);
                }
                if hidden {
                    btf.set_u32(&vt, 0, btf::VAR_STATIC);
                }
            }
        }
        btf.sort_datasec_vars(id);
    }
    obj.btf = Some(btf);
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
    for ri in relo_secs {
        let targ = obj.sections[ri].info as usize;
        if Some(targ) == obj.maps_shndx {
            maps::collect_map_relos(ctx, obj, ri)?;
        } else {
            collect_prog_relos(ctx, obj, ri)?;
        }
    }
    for p in obj.progs.iter_mut() {
        p.relos.sort_by_key(|r| (r.insn_idx, r.kind.order()));
    }
    Ok(())
}

fn collect_prog_relos(ctx: &Ctx, obj: &mut Object, ri: usize) -> Result<(), Error> {
    let rs = &obj.sections[ri];
    let rname = rs.name.clone();
    let sec_idx = rs.info as usize;
    let sec_len = obj.sections[sec_idx].data.len() as u64;
    let entries: Vec<(u64, u64)> = rs
        .data
        .chunks_exact(16)
        .map(|e| {
            (
                u64::from_le_bytes(e[0..8].try_into().expect("8")),
                u64::from_le_bytes(e[8..16].try_into().expect("8")),
            )
        })
        .collect();
    let mal = |m: String| ctx.malformed(Stage::Link, Some(&rname), m);
    for (i, (r_offset, r_info)) in entries.into_iter().enumerate() {
        let sym_idx = (r_info >> 32) as usize;
        let Some(sym) = obj.symbols.get(sym_idx).cloned() else {
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
        let sym_name = if sym.typ() == STT_SECTION && sym.name_off == 0 {
            obj.sec_name(sym.shndx as usize).to_string()
        } else {
            sym.name.clone()
        };
        let Some(pi) = obj.find_prog_by_sec_insn(sec_idx, insn_idx) else {
            continue; // overridden weak function
        };
        let local = insn_idx - obj.progs[pi].sec_insn_off;
        let kind = record_reloc(ctx, obj, pi, local, &sym_name, &sym, sym_idx)?;
        obj.progs[pi].relos.push(Reloc {
            insn_idx: local,
            kind,
        });
    }
    Ok(())
}

fn record_reloc(
    ctx: &Ctx,
    obj: &Object,
    pi: usize,
    insn_idx: usize,
    sym_name: &str,
    sym: &Symbol,
    sym_idx: usize,
) -> Result<RelocKind, Error> {
    let prog = &obj.progs[pi];
    let insn = prog.insns[insn_idx];
    let sec = Some(prog.sec_name.as_str());
    let bad = |m: String| {
        ctx.err(
            Stage::Link,
            ErrorKind::Malformed,
            sec,
            format!("prog '{}': {m}", prog.name),
            "the object's relocations are inconsistent; rebuild it",
        )
    };
    if !insn.is_call() && !insn.is_ldimm64() {
        return Err(bad(format!(
            "invalid relo against '{sym_name}' for insn #{insn_idx} (code {:#x})",
            insn.code
        )));
    }
    if sym.is_extern() {
        let Some(ext) = obj.externs.iter().position(|e| e.sym_idx == sym_idx) else {
            return Err(bad(format!(
                "extern relo failed to find extern for '{sym_name}'"
            )));
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
            return Err(bad("incorrect bpf_call opcode".into()));
        }
        if shndx == 0 || shndx != obj.text_shndx {
            return Err(bad(format!(
                "bad call relo against '{sym_name}' in section '{}'",
                obj.sec_name(shndx)
            )));
        }
        if !sym.value.is_multiple_of(8) {
            return Err(bad(format!(
                "bad call relo against '{sym_name}' at offset {}",
                sym.value
            )));
        }
        return Ok(RelocKind::Call { sym_off: sym.value });
    }
    if sym.shndx == 0 || sym.shndx >= SHN_LORESERVE {
        return Err(bad(format!(
            "relo against '{sym_name}' in special section {:#x}; uninitialised global?",
            sym.shndx
        )));
    }
    let is_subprog = shndx == obj.text_shndx
        && ((sym.bind() == STB_LOCAL && sym.typ() == STT_SECTION)
            || (matches!(sym.bind(), STB_GLOBAL | STB_WEAK) && sym.typ() == STT_FUNC));
    if is_subprog {
        if !sym.value.is_multiple_of(8) || insn.imm % 8 != 0 {
            return Err(bad(format!("bad subprog addr relo against '{sym_name}'")));
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
                return Err(bad(format!(
                    "bad map relo against '{sym_name}' in section '{}'",
                    obj.sec_name(shndx)
                )));
            }
            let Some(map) = obj.maps.iter().position(|m| {
                m.kind == MapKind::User && m.sec_idx == shndx && m.sec_offset == sym.value
            }) else {
                return Err(bad(format!(
                    "map relo failed to find map at offset {}",
                    sym.value
                )));
            };
            Ok(RelocKind::Ld64 { map })
        }
        Some(kind) => {
            let Some(map) = obj
                .maps
                .iter()
                .position(|m| m.kind == kind && m.sec_idx == shndx)
            else {
                return Err(bad(format!(
                    "data relo failed to find map for section '{}'",
                    obj.sec_name(shndx)
                )));
            };
            Ok(RelocKind::Data {
                map,
                sym_off: sym.value,
            })
        }
    }
}
