//! Link: libbpf's `bpf_object_prepare()` in light-skeleton (gen_loader) mode, in pure Rust.
//!
//! For every autoloaded entry-point program this appends the used `.text` subprograms in
//! libbpf's order (depth-first, first use), fixes call and callback offsets, rewrites map and
//! global-data `ld_imm64` to `BPF_PSEUDO_MAP_IDX` / `BPF_PSEUDO_MAP_IDX_VALUE`, encodes ksym and
//! kfunc references, carries func_info / line_info over (`adjust_prog_btf_ext_info`) and records
//! the CO-RE and extern relocations the loader needs (`bpf_program_record_relos`). It also
//! resolves `.kconfig` values from explicit build inputs, applies the load-time BTF fix-up
//! (hidden global subprograms → static FUNC) and serialises the BTF like `btf__raw_data()`.
//!
//! Like libbpf's gen_loader mode, nothing is read from the build host: typed ksyms, kfuncs and
//! attach targets are resolved by the loader at run time, CO-RE by the kernel.

use bpfsign_abi::limits::{MAX_LOADER_INSNS, MAX_MAPS, MAX_PROGS};
use bpfsign_abi::{attach_type, map_type, prog_type};

use crate::error::{Ctx, Error, ErrorKind, Stage};
use crate::insn::{pseudo, Insn};
use crate::options::GenOptions;
use crate::parse::btf::{self, kind};
use crate::parse::btf_ext::{rec_insn_off, rec_u32, ExtInfo};
use crate::parse::secdef;
use crate::parse::{
    ExternKind, KcfgType, MapDef, MapKind, Object, Program, Reloc, RelocKind, SlotTarget,
};

/// A map as the loader creates it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkedMap {
    /// Name given to the kernel (≤ 15 bytes are used).
    pub kernel_name: String,
    /// Map type.
    pub map_type: u32,
    /// Key size.
    pub key_size: u32,
    /// Value size.
    pub value_size: u32,
    /// Max entries.
    pub max_entries: u32,
    /// Flags.
    pub map_flags: u32,
    /// `map_extra`.
    pub map_extra: u64,
    /// NUMA node.
    pub numa_node: u32,
    /// BTF key type id passed to the kernel.
    pub btf_key_type_id: u32,
    /// BTF value type id passed to the kernel.
    pub btf_value_type_id: u32,
    /// Inner map template (created first, `map_idx = -1`).
    pub inner: Option<Box<LinkedMap>>,
    /// Initial value (internal maps).
    pub initial: Option<Vec<u8>>,
    /// Freeze after update (`.rodata*`, `.kconfig`).
    pub freeze: bool,
    /// Outer-map slots to populate: (slot, inner map index).
    pub slots: Vec<(u32, usize)>,
}

/// A ksym / kfunc relocation the loader resolves at run time (`struct ksym_relo_desc`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternRelo {
    /// Symbol name.
    pub name: String,
    /// BTF kind to look up (VAR or FUNC).
    pub kind: u32,
    /// Instruction index in the final program.
    pub insn_idx: usize,
    /// `__weak`.
    pub is_weak: bool,
    /// Typeless ksym (kallsyms lookup).
    pub is_typeless: bool,
    /// `ld_imm64` (true) or kfunc call (false).
    pub is_ld64: bool,
}

/// ".BTF.ext"-style info carried to the kernel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProgInfo {
    /// Record size.
    pub rec_size: u32,
    /// Raw records (insn_off already in final-instruction units).
    pub data: Vec<u8>,
    /// Number of records.
    pub cnt: u32,
}

/// A program as the loader loads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkedProg {
    /// Program name.
    pub name: String,
    /// Index in [`Object::progs`].
    pub prog_idx: usize,
    /// `BPF_PROG_TYPE_*`.
    pub prog_type: u32,
    /// Expected attach type.
    pub expected_attach_type: u32,
    /// `prog_flags`.
    pub prog_flags: u32,
    /// `attach_btf_id` placeholder (1 when an attach target is looked up).
    pub attach_btf_id: u32,
    /// Final instructions.
    pub insns: Vec<Insn>,
    /// func_info.
    pub func_info: ProgInfo,
    /// line_info.
    pub line_info: ProgInfo,
    /// CO-RE relocations: `{insn_off (bytes), type_id, access_str_off, kind}`.
    pub core_relos: Vec<[u32; 4]>,
    /// Attach target: (name with prefix, BTF kind).
    pub attach_target: Option<(String, u32)>,
    /// Extern relocations.
    pub externs: Vec<ExternRelo>,
}

/// Result of linking: everything the emitter needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Linked {
    /// Object name (≤ 15 bytes, as libbpf keeps it).
    pub obj_name: String,
    /// License string.
    pub license: String,
    /// Final raw BTF (None if the object has no `.BTF`).
    pub btf: Option<Vec<u8>>,
    /// Maps in `map_idx` order.
    pub maps: Vec<LinkedMap>,
    /// Programs to load, in load order.
    pub progs: Vec<LinkedProg>,
    /// `obj->nr_programs` (programs + subprograms, loaded or not): the loader's `P`.
    pub nr_programs: usize,
}

/// libbpf's `internal_map_name()`.
pub fn internal_map_name(obj_name: &str, real_name: &str) -> String {
    let obj_name = truncate(obj_name, 15);
    let sfx_len = real_name.len().clamp(7, 15);
    let pfx_len = if real_name.len() > 1 && real_name[1..].contains('.') {
        0
    } else {
        (16 - sfx_len - 1).min(obj_name.len())
    };
    let mut s: Vec<u8> = obj_name.as_bytes()[..pfx_len].to_vec();
    s.extend_from_slice(&real_name.as_bytes()[..real_name.len().min(sfx_len)]);
    s.truncate(15);
    for b in s.iter_mut() {
        if !b.is_ascii_alphanumeric() && *b != b'_' && *b != b'.' {
            *b = b'_';
        }
    }
    String::from_utf8_lossy(&s).into_owned()
}

fn truncate(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut e = n;
    while !s.is_char_boundary(e) {
        e -= 1;
    }
    &s[..e]
}

/// libbpf's `adjust_ringbuf_sz()` with an explicit page size.
pub fn adjust_ringbuf_sz(sz: u32, page: u32) -> u32 {
    if sz == 0 || page == 0 {
        return sz;
    }
    if sz.is_multiple_of(page) && (sz / page).is_power_of_two() {
        return sz;
    }
    let mut mul: u64 = 1;
    while mul <= (u32::MAX / page) as u64 {
        if mul * page as u64 > sz as u64 {
            return (mul * page as u64) as u32;
        }
        mul <<= 1;
    }
    sz
}

fn parse_u64(s: &str) -> Option<u64> {
    let t = s.trim_start();
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let v = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()?
    } else if t.len() > 1 && t.starts_with('0') {
        u64::from_str_radix(&t[1..], 8).ok()?
    } else {
        t.parse::<u64>().ok()?
    };
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Writes a numeric `.kconfig` value after range checks.
type SetNum<'a> = dyn Fn(&mut [u8], u64) -> Result<(), Error> + 'a;

struct Linker<'a> {
    obj: &'a Object,
    ctx: Ctx,
    opts: &'a GenOptions,
    /// Bytes the programs linked so far put into the loader's data blob (instructions,
    /// func_info, line_info). The blob holds at most `MAX_DATA_SIZE`, so linking stops as soon
    /// as this lower bound exceeds it: a hostile `.BTF.ext` (millions of records on one
    /// subprogram called from every program) cannot make linking copy it 32 times over.
    blob: std::cell::Cell<usize>,
}

/// Per main program working state.
struct Work {
    insns: Vec<Insn>,
    relos: Vec<Reloc>,
    func_info: Option<ProgInfo>,
    line_info: Option<ProgInfo>,
    sub_insn_off: Vec<usize>,
    /// CO-RE relocations in `relos` (each takes 16 bytes of the data blob).
    core_relos: usize,
}

fn core_count(relos: &[Reloc]) -> usize {
    relos
        .iter()
        .filter(|r| matches!(r.kind, RelocKind::Core { .. }))
        .count()
}

/// Links `obj` for the light-skeleton loader.
pub fn link(obj: &Object, opts: &GenOptions, obj_name: &str) -> Result<Linked, Error> {
    let ctx = obj.ctx();
    // Checked before linking so hostile inputs cannot drive deep subprogram recursion.
    if obj.progs.len() > MAX_PROGS {
        return Err(ctx.limit(
            crate::Limit::Programs,
            None,
            format!(
                "{} programs and subprograms; the loader's 512-byte stack holds {MAX_PROGS} program fds and every BPF function counts",
                obj.progs.len()
            ),
        ));
    }
    if obj.maps.len() > MAX_MAPS {
        return Err(ctx.limit(
            crate::Limit::Maps,
            Some(".maps"),
            format!("{} maps; the loader supports at most 64", obj.maps.len()),
        ));
    }
    let l = Linker {
        obj,
        ctx,
        opts,
        blob: std::cell::Cell::new(0),
    };
    l.run(truncate(obj_name, 15))
}

impl Linker<'_> {
    fn err(
        &self,
        stage: Stage,
        kind_: ErrorKind,
        sec: Option<&str>,
        m: String,
        hint: &str,
    ) -> Error {
        self.ctx.err(stage, kind_, sec, m, hint)
    }

    /// A `.kconfig` extern whose value from `GenOptions::kconfig` does not fit.
    fn kcfg_err(&self, m: String) -> Error {
        self.err(
            Stage::Externs,
            ErrorKind::MissingInput,
            Some(".kconfig"),
            m,
            "fix the value in GenOptions::kconfig",
        )
    }

    fn run(&self, obj_name: &str) -> Result<Linked, Error> {
        let obj = self.obj;
        // resolve externs: kconfig values go into the .kconfig map value
        let mut maps_init: Vec<Vec<u8>> = obj.maps.iter().map(|m| m.initial.clone()).collect();
        let ksym_addr = self.resolve_externs(&mut maps_init)?;

        // CO-RE relocation records per program (relocate_core)
        let mut relos: Vec<Vec<Reloc>> = obj.progs.iter().map(|p| p.relos.clone()).collect();
        if let (Some(ext), Some(btf)) = (&obj.btf_ext, &obj.btf) {
            for (si, sec) in ext.core_relo.secs.iter().enumerate() {
                let sec_idx = obj.btf_ext_sec_idx[2].get(si).copied().unwrap_or(0);
                if btf.str_at(sec.sec_name_off).is_none_or(str::is_empty) {
                    return Err(self
                        .ctx
                        .bad_btf(Some(".BTF.ext"), "CO-RE relocation section without a name"));
                }
                for rec in &sec.records {
                    let off = rec_insn_off(rec);
                    if !off.is_multiple_of(8) {
                        return Err(self.ctx.bad_btf(
                            Some(".BTF.ext"),
                            format!("CO-RE relocation at unaligned offset {off}"),
                        ));
                    }
                    let Some(pi) = obj.find_prog_by_sec_insn(sec_idx, off as usize / 8) else {
                        continue;
                    };
                    let p = &obj.progs[pi];
                    if !p.autoload {
                        continue;
                    }
                    let idx = off as usize / 8 - p.sec_insn_off;
                    relos[pi].push(Reloc {
                        insn_idx: idx,
                        kind: RelocKind::Core {
                            type_id: rec_u32(rec, 1),
                            access_str_off: rec_u32(rec, 2),
                            kind: rec_u32(rec, 3),
                        },
                    });
                }
            }
            for r in relos.iter_mut() {
                r.sort_by_key(|r| (r.insn_idx, r.kind.order()));
            }
        }
        // mark subprog-address ld_imm64 (src_reg = BPF_PSEUDO_FUNC) in every program
        let mut base_insns: Vec<Vec<Insn>> = obj.progs.iter().map(|p| p.insns.clone()).collect();
        for (pi, rs) in relos.iter().enumerate() {
            for r in rs {
                if let RelocKind::SubprogAddr { .. } = r.kind {
                    base_insns[pi][r.insn_idx].src = pseudo::FUNC;
                }
            }
        }

        let mut progs = Vec::new();
        for (pi, p) in obj.progs.iter().enumerate() {
            if obj.is_subprog(p) || !p.autoload {
                continue;
            }
            let mut w = Work {
                insns: base_insns[pi].clone(),
                relos: relos[pi].clone(),
                func_info: None,
                line_info: None,
                sub_insn_off: vec![0; obj.progs.len()],
                core_relos: core_count(&relos[pi]),
            };
            self.reloc_code(&mut w, pi, pi, &base_insns, &relos)?;
            if let Some(cb) = self.exception_cb(pi)? {
                if w.sub_insn_off[cb] == 0 {
                    self.append_subprog(&mut w, pi, cb, &base_insns, &relos);
                    self.reloc_code(&mut w, pi, cb, &base_insns, &relos)?;
                }
            }
            self.relocate_data(&mut w, p, &ksym_addr)?;
            self.blob.set(self.blob.get() + blob_bytes(&w));
            progs.push(self.prepare_load(p, pi, w)?);
        }

        // BTF: hidden global subprograms become static FUNCs
        let btf_raw = obj.btf.as_ref().map(|b| {
            let mut b = b.clone();
            for p in obj
                .progs
                .iter()
                .filter(|p| p.mark_btf_static && obj.is_subprog(p))
            {
                for id in 1..b.type_cnt() {
                    let t = b.ty(id).expect("id");
                    if t.kind() != kind::FUNC || t.vlen() as u32 != btf::FUNC_GLOBAL {
                        continue;
                    }
                    if b.str_at(t.name_off) != Some(p.name.as_str()) {
                        continue;
                    }
                    b.set_info(id, kind::FUNC << 24);
                    break;
                }
            }
            b.raw_data()
        });

        let maps = obj
            .maps
            .iter()
            .enumerate()
            .map(|(i, m)| self.link_map(obj_name, m, &maps_init[i], btf_raw.is_some()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Linked {
            obj_name: obj_name.to_string(),
            license: obj.license.clone(),
            btf: btf_raw,
            maps,
            progs,
            nr_programs: obj.progs.len(),
        })
    }

    fn link_map(
        &self,
        obj_name: &str,
        m: &MapDef,
        init: &[u8],
        has_btf: bool,
    ) -> Result<LinkedMap, Error> {
        if m.map_type == map_type::PROG_ARRAY && m.init_slots.iter().any(Option::is_some) {
            return Err(self.ctx.unsupported(
                Stage::Maps,
                Some(".maps"),
                format!("prog array '{}' with .values initialisers", m.name),
                "light skeletons cannot pre-populate prog arrays, libbpf returns -ENOTSUP too; fill it from user space after load",
            ));
        }
        let mut lm = self.link_map_def(m, has_btf)?;
        lm.kernel_name = if m.is_internal() {
            internal_map_name(obj_name, &m.name)
        } else {
            m.name.clone()
        };
        if m.is_internal() {
            lm.initial = Some(init.to_vec());
            lm.freeze = matches!(m.kind, MapKind::Rodata | MapKind::Kconfig);
        }
        lm.slots = m
            .init_slots
            .iter()
            .enumerate()
            .filter_map(|(s, t)| match t {
                Some(SlotTarget::Map(i)) => Some((s as u32, *i)),
                _ => None,
            })
            .collect();
        Ok(lm)
    }

    fn link_map_def(&self, m: &MapDef, has_btf: bool) -> Result<LinkedMap, Error> {
        let mut max_entries = m.max_entries;
        if matches!(m.map_type, map_type::RINGBUF | map_type::USER_RINGBUF) {
            max_entries = adjust_ringbuf_sz(max_entries, self.opts.page_size);
        }
        if m.map_type == map_type::PERF_EVENT_ARRAY && max_entries == 0 {
            max_entries = self.opts.possible_cpus.ok_or_else(|| {
                self.err(
                    Stage::Maps,
                    ErrorKind::MissingInput,
                    Some(".maps"),
                    format!(
                        "perf event array '{}' has max_entries 0; libbpf would use the build host's CPU count",
                        m.name
                    ),
                    "declare max_entries explicitly or set GenOptions::possible_cpus",
                )
            })?;
        }
        let (mut key_id, mut val_id) = if has_btf {
            (m.btf_key_type_id, m.btf_value_type_id)
        } else {
            (0, 0)
        };
        match m.map_type {
            map_type::PERF_EVENT_ARRAY
            | map_type::CGROUP_ARRAY
            | map_type::STACK_TRACE
            | map_type::ARRAY_OF_MAPS
            | map_type::HASH_OF_MAPS
            | map_type::DEVMAP
            | map_type::DEVMAP_HASH
            | map_type::CPUMAP
            | map_type::XSKMAP
            | map_type::SOCKMAP
            | map_type::SOCKHASH
            | map_type::QUEUE
            | map_type::STACK
            | map_type::ARENA => {
                key_id = 0;
                val_id = 0;
            }
            map_type::STRUCT_OPS => val_id = 0,
            _ => {}
        }
        let inner = match (&m.inner, m.is_map_in_map()) {
            (Some(i), true) => {
                let mut li = self.link_map_def(i, has_btf)?;
                li.kernel_name = i.name.clone();
                Some(Box::new(li))
            }
            _ => None,
        };
        Ok(LinkedMap {
            kernel_name: m.name.clone(),
            map_type: m.map_type,
            key_size: m.key_size,
            value_size: m.value_size,
            max_entries,
            map_flags: m.map_flags,
            map_extra: m.map_extra,
            numa_node: m.numa_node,
            btf_key_type_id: key_id,
            btf_value_type_id: val_id,
            inner,
            initial: None,
            freeze: false,
            slots: Vec::new(),
        })
    }

    /// Resolves `.kconfig` values into the `.kconfig` initial value; returns typeless ksym addresses.
    fn resolve_externs(&self, maps_init: &mut [Vec<u8>]) -> Result<Vec<u64>, Error> {
        let obj = self.obj;
        let mut addrs = vec![0u64; obj.externs.len()];
        for (i, e) in obj.externs.iter().enumerate() {
            match &e.kind {
                ExternKind::Ksym { type_id: 0 } => {
                    addrs[i] = self.opts.ksym_addrs.get(&e.name).copied().unwrap_or(0);
                }
                ExternKind::Ksym { .. } => {}
                ExternKind::Kcfg {
                    typ,
                    sz,
                    data_off,
                    is_signed,
                    ..
                } => {
                    let mi = obj
                        .kconfig_map
                        .expect("kconfig map exists with kcfg externs");
                    let start = *data_off as usize;
                    let buf = start
                        .checked_add(*sz as usize)
                        .and_then(|end| maps_init[mi].get_mut(start..end))
                        .ok_or_else(|| {
                            self.err(
                                Stage::Externs,
                                ErrorKind::BadBtf,
                                Some(".kconfig"),
                                format!(
                                    "extern '{}' at offset {data_off}, size {sz} lies outside the .kconfig map",
                                    e.name
                                ),
                                "declare .kconfig externs with __kconfig from bpf_helpers.h",
                            )
                        })?;
                    let bad = |m: String| self.kcfg_err(m);
                    let num = |buf: &mut [u8], v: u64| -> Result<(), Error> {
                        if !matches!(typ, KcfgType::Int | KcfgType::Char | KcfgType::Bool) {
                            return Err(bad(format!(
                                "extern '{}': value {v} implies integer, char or bool",
                                e.name
                            )));
                        }
                        if *typ == KcfgType::Bool && v > 1 {
                            return Err(bad(format!(
                                "extern '{}': value {v} isn't boolean compatible",
                                e.name
                            )));
                        }
                        let bits = *sz * 8;
                        let fits = *sz == 8
                            || if *is_signed {
                                v.wrapping_add(1u64 << (bits - 1)) < (1u64 << bits)
                            } else {
                                v >> bits == 0
                            };
                        if !fits {
                            return Err(bad(format!(
                                "extern '{}': value {v} doesn't fit in {sz} bytes",
                                e.name
                            )));
                        }
                        buf.copy_from_slice(&v.to_le_bytes()[..*sz as usize]);
                        Ok(())
                    };
                    if e.name == "LINUX_KERNEL_VERSION" {
                        let Some(v) = self.opts.kernel_version else {
                            if e.is_weak {
                                continue;
                            }
                            return Err(self.err(
                                Stage::Externs,
                                ErrorKind::MissingInput,
                                Some(".kconfig"),
                                "extern LINUX_KERNEL_VERSION needs a value; libbpf would read the build host's uname"
                                    .into(),
                                "set GenOptions::kernel_version; bpfsign never reads the build host's kernel",
                            ));
                        };
                        num(buf, v as u64)?;
                    } else if e.name == "LINUX_HAS_BPF_COOKIE"
                        || e.name == "LINUX_HAS_SYSCALL_WRAPPER"
                    {
                        num(buf, 1)?;
                    } else if e.name.starts_with("CONFIG_") {
                        match self.opts.kconfig.get(&e.name) {
                            Some(v) => self.set_kcfg(buf, e, *typ, *sz, v, &num)?,
                            None if e.is_weak => {}
                            None => {
                                return Err(self.err(
                                    Stage::Externs,
                                    ErrorKind::MissingInput,
                                    Some(".kconfig"),
                                    format!("extern '{}' (strong) is not resolved", e.name),
                                    "set its value in GenOptions::kconfig or declare it __weak; bpfsign never reads the build host's kernel config",
                                ))
                            }
                        }
                    } else if !(e.name.starts_with("LINUX_") && e.is_weak) {
                        return Err(bad(format!(
                            "extern (kcfg) '{}': unrecognized virtual extern",
                            e.name
                        )));
                    }
                }
            }
        }
        Ok(addrs)
    }

    fn set_kcfg(
        &self,
        buf: &mut [u8],
        e: &crate::parse::Extern,
        typ: KcfgType,
        sz: u32,
        value: &str,
        num: &SetNum<'_>,
    ) -> Result<(), Error> {
        let bad = |m: String| self.kcfg_err(m);
        match value.as_bytes().first() {
            Some(c @ (b'y' | b'n' | b'm')) => match typ {
                KcfgType::Bool if *c == b'm' => Err(bad(format!(
                    "extern '{}': 'm' implies tristate or char",
                    e.name
                ))),
                KcfgType::Bool => {
                    buf[0] = (*c == b'y') as u8;
                    Ok(())
                }
                KcfgType::Tristate => {
                    let v: u32 = match c {
                        b'y' => 1,
                        b'm' => 2,
                        _ => 0,
                    };
                    // An ENUM64 tristate may declare fewer than 4 bytes.
                    let Some(dst) = buf.get_mut(..4) else {
                        return Err(bad(format!("extern '{}': tristate of {sz} bytes", e.name)));
                    };
                    dst.copy_from_slice(&v.to_le_bytes());
                    Ok(())
                }
                KcfgType::Char => {
                    buf[0] = *c;
                    Ok(())
                }
                _ => Err(bad(format!(
                    "extern '{}': value '{}' implies bool, tristate or char",
                    e.name, *c as char
                ))),
            },
            Some(b'"') => {
                if typ != KcfgType::CharArr {
                    return Err(bad(format!(
                        "extern '{}': string value implies char array",
                        e.name
                    )));
                }
                let b = value.as_bytes();
                if b.len() < 2 || b[b.len() - 1] != b'"' {
                    return Err(bad(format!(
                        "extern '{}': invalid string config {value}",
                        e.name
                    )));
                }
                let mut len = b.len() - 2;
                if len >= sz as usize {
                    len = sz as usize - 1;
                }
                buf[..len].copy_from_slice(&b[1..1 + len]);
                buf[len] = 0;
                Ok(())
            }
            _ => {
                let Some(v) = parse_u64(value) else {
                    return Err(bad(format!(
                        "extern '{}': value '{value}' isn't a valid integer",
                        e.name
                    )));
                };
                if !matches!(typ, KcfgType::Int | KcfgType::Char) {
                    return Err(bad(format!(
                        "extern '{}': value '{value}' implies integer type",
                        e.name
                    )));
                }
                num(buf, v)
            }
        }
    }

    fn link_err(&self, p: &Program, m: String) -> Error {
        self.err(
            Stage::Link,
            ErrorKind::Malformed,
            Some(&p.sec_name),
            format!("prog '{}': {m}", p.name),
            "the object's calls or relocations are inconsistent; rebuild it",
        )
    }

    fn append_subprog(
        &self,
        w: &mut Work,
        main: usize,
        sub: usize,
        base: &[Vec<Insn>],
        relos: &[Vec<Reloc>],
    ) {
        let off = w.insns.len();
        w.sub_insn_off[sub] = off;
        w.insns.extend_from_slice(&base[sub]);
        if main != sub {
            w.relos.extend(relos[sub].iter().map(|r| Reloc {
                insn_idx: r.insn_idx + off,
                kind: r.kind,
            }));
            w.core_relos += core_count(&relos[sub]);
        }
    }

    fn reloc_code(
        &self,
        w: &mut Work,
        main: usize,
        pi: usize,
        base: &[Vec<Insn>],
        relos: &[Vec<Reloc>],
    ) -> Result<(), Error> {
        let obj = self.obj;
        let prog = &obj.progs[pi];
        self.reloc_func_line_info(w, main, pi)?;
        let prog_off = w.sub_insn_off[pi];
        for insn_idx in 0..prog.insns.len() {
            let insn = w.insns[prog_off + insn_idx];
            if !insn.is_subprog_call() && !insn.is_pseudo_func() {
                continue;
            }
            let own = if pi == main { &w.relos } else { &relos[pi] };
            let relo = own
                .binary_search_by_key(&insn_idx, |r| r.insn_idx)
                .ok()
                .map(|i| own[i]);
            let sub_insn_idx: i64 = match relo.map(|r| r.kind) {
                Some(RelocKind::ExternCall { .. }) => continue,
                Some(RelocKind::Call { sym_off }) => (sym_off / 8) as i64 + insn.imm as i64 + 1,
                Some(RelocKind::SubprogAddr { sym_off }) => {
                    // sym_off is an input value: a hostile one must not overflow.
                    match i64::try_from(sym_off)
                        .ok()
                        .and_then(|o| o.checked_add(i64::from(insn.imm)))
                    {
                        Some(v) => v / 8,
                        None => -1,
                    }
                }
                Some(other) => {
                    return Err(self.link_err(
                        prog,
                        format!("unexpected relocation {other:?} for insn #{insn_idx}"),
                    ))
                }
                None if insn.is_pseudo_func() => {
                    return Err(self.link_err(
                        prog,
                        format!("missing subprog addr relo for insn #{insn_idx}"),
                    ))
                }
                None => prog.sec_insn_off as i64 + insn_idx as i64 + insn.imm as i64 + 1,
            };
            let sub = (sub_insn_idx >= 0)
                .then(|| obj.find_prog_by_sec_insn(obj.text_shndx, sub_insn_idx as usize))
                .flatten()
                .filter(|_| obj.text_shndx != 0);
            let Some(sub) = sub else {
                return Err(self.link_err(
                    prog,
                    format!("call at insn #{insn_idx} does not target a .text subprogram"),
                ));
            };
            if w.sub_insn_off[sub] == 0 {
                if w.insns.len() > MAX_LOADER_INSNS {
                    return Err(self.ctx.limit(
                        crate::Limit::InsnCount,
                        Some(&prog.sec_name),
                        "program grows past 1M instructions",
                    ));
                }
                self.append_subprog(w, main, sub, base, relos);
                self.reloc_code(w, main, sub, base, relos)?;
            }
            let new_imm = w.sub_insn_off[sub] as i64 - (prog_off + insn_idx) as i64 - 1;
            w.insns[prog_off + insn_idx].imm = new_imm as i32;
        }
        Ok(())
    }

    fn reloc_func_line_info(&self, w: &mut Work, main: usize, pi: usize) -> Result<(), Error> {
        let obj = self.obj;
        let Some(ext) = &obj.btf_ext else {
            return self.check_blob(w, &obj.progs[main]);
        };
        let prog = &obj.progs[pi];
        let sub_off = w.sub_insn_off[pi];
        for (which, info) in [(0usize, &ext.func_info), (1usize, &ext.line_info)] {
            let slot = if which == 0 {
                &mut w.func_info
            } else {
                &mut w.line_info
            };
            if main != pi && slot.is_none() {
                continue;
            }
            match adjust_ext_info(obj, prog, info, &obj.btf_ext_sec_idx[which], sub_off) {
                Some(recs) => {
                    let s = slot.get_or_insert_with(|| ProgInfo {
                        rec_size: info.rec_size,
                        data: Vec::new(),
                        cnt: 0,
                    });
                    s.cnt += (recs.len() / info.rec_size as usize) as u32;
                    s.data.extend_from_slice(&recs);
                    s.rec_size = info.rec_size;
                }
                None if slot.is_some() => {
                    return Err(self.ctx.bad_btf(
                        Some(".BTF.ext"),
                        format!(
                            "prog '{}': missing .BTF.ext {} info",
                            prog.name,
                            if which == 0 { "function" } else { "line" }
                        ),
                    ))
                }
                None => {}
            }
        }
        self.check_blob(w, &obj.progs[main])
    }

    /// Fails once the programs linked so far and `w` cannot fit the loader's data blob.
    fn check_blob(&self, w: &Work, main: &Program) -> Result<(), Error> {
        let used = self.blob.get() + blob_bytes(w);
        if used > bpfsign_abi::limits::MAX_DATA_SIZE {
            return Err(self.ctx.limit(
                crate::Limit::DataSize,
                Some(&main.sec_name),
                format!(
                    "prog '{}': the programs need at least {used} bytes of the data blob (instructions, func_info, line_info); it holds at most {}",
                    main.name,
                    bpfsign_abi::limits::MAX_DATA_SIZE
                ),
            ));
        }
        Ok(())
    }

    fn exception_cb(&self, pi: usize) -> Result<Option<usize>, Error> {
        let obj = self.obj;
        let Some(btf) = &obj.btf else { return Ok(None) };
        let prog = &obj.progs[pi];
        let mut cb = None;
        for id in 1..btf.type_cnt() {
            let t = btf.ty(id).expect("id");
            if t.kind() != kind::DECL_TAG || btf.u32(&t, 0) != u32::MAX {
                continue;
            }
            let Some(tag) = btf.str_at(t.name_off) else {
                continue;
            };
            let Some(cb_name) = tag.strip_prefix("exception_callback:") else {
                continue;
            };
            let Some(ft) = btf
                .ty(t.size_or_type)
                .filter(|f| f.kind() == kind::FUNC && f.vlen() as u32 == btf::FUNC_GLOBAL)
            else {
                return Err(self.link_err(
                    prog,
                    "exception_callback decl tag not applied to the main program".into(),
                ));
            };
            if btf.str_at(ft.name_off) != Some(prog.name.as_str()) {
                continue;
            }
            if cb.is_some() {
                return Ok(None);
            }
            if cb_name.is_empty() {
                return Err(self.link_err(
                    prog,
                    "exception_callback decl tag has an empty value".into(),
                ));
            }
            let mut found = None;
            for (j, s) in obj.progs.iter().enumerate() {
                if !obj.is_subprog(s) || s.name != cb_name {
                    continue;
                }
                if !s.sym_global || s.mark_btf_static {
                    return Err(self.link_err(
                        prog,
                        format!(
                            "exception callback {cb_name} must be a global non-hidden function"
                        ),
                    ));
                }
                found = Some(j);
                break;
            }
            match found {
                Some(j) => cb = Some(j),
                None => {
                    return Err(
                        self.link_err(prog, format!("cannot find exception callback '{cb_name}'"))
                    )
                }
            }
        }
        Ok(cb)
    }

    fn relocate_data(&self, w: &mut Work, p: &Program, ksym_addr: &[u64]) -> Result<(), Error> {
        let obj = self.obj;
        for r in w.relos.clone() {
            let i = r.insn_idx;
            let needs_pair = matches!(
                r.kind,
                RelocKind::Data { .. } | RelocKind::ExternLd64 { .. }
            );
            if i >= w.insns.len() || (needs_pair && i + 1 >= w.insns.len()) {
                return Err(
                    self.link_err(p, format!("relocation at insn #{i} outside the program"))
                );
            }
            match r.kind {
                RelocKind::Ld64 { map } => {
                    w.insns[i].src = pseudo::MAP_IDX;
                    w.insns[i].imm = map as i32;
                }
                RelocKind::Data { map, sym_off } => {
                    w.insns[i + 1].imm = w.insns[i].imm.wrapping_add(sym_off as i32);
                    w.insns[i].src = pseudo::MAP_IDX_VALUE;
                    w.insns[i].imm = map as i32;
                }
                RelocKind::ExternLd64 { ext } => {
                    let e = &obj.externs[ext];
                    match e.kind {
                        ExternKind::Kcfg { data_off, .. } => {
                            w.insns[i].src = pseudo::MAP_IDX_VALUE;
                            w.insns[i].imm = obj.kconfig_map.expect("kconfig map") as i32;
                            w.insns[i + 1].imm = data_off as i32;
                        }
                        ExternKind::Ksym { type_id } if type_id != 0 => {
                            w.insns[i].src = pseudo::BTF_ID;
                            w.insns[i].imm = 0;
                            w.insns[i + 1].imm = 0;
                        }
                        ExternKind::Ksym { .. } => {
                            let a = ksym_addr[ext];
                            w.insns[i].imm = a as u32 as i32;
                            w.insns[i + 1].imm = (a >> 32) as u32 as i32;
                        }
                    }
                }
                RelocKind::ExternCall { .. } => {
                    w.insns[i].src = pseudo::KFUNC_CALL;
                    w.insns[i].imm = 0;
                    w.insns[i].off = 0;
                }
                RelocKind::SubprogAddr { .. } => {
                    if w.insns[i].src != pseudo::FUNC {
                        return Err(self.link_err(p, format!("bad subprog address insn #{i}")));
                    }
                }
                RelocKind::Call { .. } | RelocKind::Core { .. } => {}
            }
        }
        Ok(())
    }

    fn prepare_load(&self, p: &Program, pi: usize, w: Work) -> Result<LinkedProg, Error> {
        let obj = self.obj;
        let sec = Some(p.sec_name.as_str());
        let def = p.sec_def.expect("entry programs have a section definition");
        let unsupported =
            |m: String, hint: &str| self.ctx.unsupported(Stage::Programs, sec, m, hint);
        match p.prog_type {
            prog_type::STRUCT_OPS => {
                return Err(unsupported(
                    format!("struct_ops program '{}'", p.name),
                    "load struct_ops with libbpf",
                ))
            }
            prog_type::EXT => {
                return Err(unsupported(
                    format!("freplace program '{}'", p.name),
                    "freplace needs a target program fd at generation time; load it with libbpf",
                ))
            }
            _ => {}
        }
        if matches!(
            p.expected_attach_type,
            attach_type::TRACE_FENTRY_MULTI
                | attach_type::TRACE_FEXIT_MULTI
                | attach_type::TRACE_FSESSION_MULTI
        ) {
            return Err(unsupported(
                format!("tracing multi-link program '{}'", p.name),
                "use fentry/fexit per function",
            ));
        }
        let mut prog_flags = 0;
        let mut eat = p.expected_attach_type;
        if def.flags & secdef::F_SLEEPABLE != 0 {
            prog_flags |= 16;
        }
        if p.prog_type == prog_type::XDP && def.flags & secdef::F_XDP_FRAGS != 0 {
            prog_flags |= 32;
        }
        if def.flags & secdef::F_USDT != 0 {
            eat = attach_type::TRACE_UPROBE_MULTI;
        }
        let mut attach_target = None;
        let mut attach_btf_id = 0;
        if def.flags & secdef::F_ATTACH_BTF != 0 {
            let Some((_, name)) = p.sec_name.split_once('/') else {
                return Err(self.err(
                    Stage::Programs,
                    ErrorKind::Unsupported,
                    sec,
                    format!(
                        "prog '{}': no BTF-based attach target in SEC(\"{}\")",
                        p.name, p.sec_name
                    ),
                    "name the target in the section, e.g. SEC(\"fentry/do_unlinkat\")",
                ));
            };
            let (prefix, k) = match eat {
                attach_type::TRACE_RAW_TP => ("btf_trace_", kind::TYPEDEF),
                attach_type::LSM_MAC | attach_type::LSM_CGROUP => ("bpf_lsm_", kind::FUNC),
                attach_type::TRACE_ITER => ("bpf_iter_", kind::FUNC),
                _ => ("", kind::FUNC),
            };
            let full = format!("{prefix}{name}");
            if full.len() >= 128 {
                return Err(self.ctx.limit(
                    crate::Limit::AttachName,
                    sec,
                    format!("attach target '{full}' is longer than 127 bytes"),
                ));
            }
            attach_target = Some((full, k));
            attach_btf_id = 1;
        }
        // bpf_program_record_relos
        let mut externs = Vec::new();
        let mut core_relos = Vec::new();
        let btf = obj.btf.as_ref();
        for r in &w.relos {
            match r.kind {
                RelocKind::ExternLd64 { ext } => {
                    let e = &obj.externs[ext];
                    let ExternKind::Ksym { type_id } = e.kind else {
                        continue;
                    };
                    let k = if btf.map(|b| b.kind_of(e.btf_id)) == Some(kind::VAR) {
                        kind::VAR
                    } else {
                        kind::FUNC
                    };
                    externs.push(ExternRelo {
                        name: e.name.clone(),
                        kind: k,
                        insn_idx: r.insn_idx,
                        is_weak: e.is_weak,
                        is_typeless: type_id == 0,
                        is_ld64: true,
                    });
                }
                RelocKind::ExternCall { ext } => {
                    let e = &obj.externs[ext];
                    externs.push(ExternRelo {
                        name: e.name.clone(),
                        kind: kind::FUNC,
                        insn_idx: r.insn_idx,
                        is_weak: e.is_weak,
                        is_typeless: false,
                        is_ld64: false,
                    });
                }
                RelocKind::Core {
                    type_id,
                    access_str_off,
                    kind,
                } => {
                    core_relos.push([(r.insn_idx * 8) as u32, type_id, access_str_off, kind]);
                }
                _ => {}
            }
        }
        let (func_info, line_info) = if obj.btf.is_some() {
            (
                w.func_info.unwrap_or_default(),
                w.line_info.unwrap_or_default(),
            )
        } else {
            (ProgInfo::default(), ProgInfo::default())
        };
        Ok(LinkedProg {
            name: p.name.clone(),
            prog_idx: pi,
            prog_type: p.prog_type,
            expected_attach_type: eat,
            prog_flags,
            attach_btf_id,
            insns: w.insns,
            func_info,
            line_info,
            core_relos,
            attach_target,
            externs,
        })
    }
}

/// Bytes a program in the making puts into the loader's data blob (at least).
fn blob_bytes(w: &Work) -> usize {
    let info = |i: &Option<ProgInfo>| i.as_ref().map_or(0, |i| i.data.len());
    w.insns.len() * 8 + info(&w.func_info) + info(&w.line_info) + w.core_relos * 16
}

/// libbpf's `adjust_prog_btf_ext_info` for one (sub)program: the records of its instruction
/// range, with `insn_off` converted to instructions and shifted to the final position.
fn adjust_ext_info(
    obj: &Object,
    prog: &Program,
    info: &ExtInfo,
    sec_idxs: &[usize],
    sub_off: usize,
) -> Option<Vec<u8>> {
    let start = prog.sec_insn_off;
    let end = start + prog.insns.len();
    for (si, sec) in info.secs.iter().enumerate() {
        if sec_idxs.get(si).copied().unwrap_or(0) != prog.sec_idx {
            continue;
        }
        let mut first = None;
        let mut last = 0;
        for (ri, rec) in sec.records.iter().enumerate() {
            let off = (rec_insn_off(rec) / 8) as usize;
            if off < start {
                continue;
            }
            if off >= end {
                break;
            }
            first.get_or_insert(ri);
            last = ri + 1;
        }
        let first = first?;
        let adj = sub_off as i64 - start as i64;
        let mut out = Vec::with_capacity((last - first) * info.rec_size as usize);
        for rec in &sec.records[first..last] {
            let at = out.len();
            out.extend_from_slice(rec);
            let v = (rec_insn_off(rec) / 8) as i64 + adj;
            out[at..at + 4].copy_from_slice(&(v as u32).to_le_bytes());
        }
        let _ = obj;
        return Some(out);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_names_follow_libbpf() {
        assert_eq!(internal_map_name("hello", ".bss"), "hello.bss");
        assert_eq!(
            internal_map_name("my_object_name", ".rodata"),
            "my_objec.rodata"
        );
        assert_eq!(internal_map_name("my_object_name", ".bss"), "my_objec.bss");
        assert_eq!(
            internal_map_name("my_object_name", ".kconfig"),
            "my_obje.kconfig"
        );
        assert_eq!(
            internal_map_name("x", ".rodata.abracadabra"),
            ".rodata.abracad"
        );
        assert_eq!(internal_map_name("x", ".data.custom"), ".data.custom");
        assert_eq!(internal_map_name("x", ".rodata.str1.1"), ".rodata.str1.1");
    }

    #[test]
    fn ringbuf_rounding() {
        assert_eq!(adjust_ringbuf_sz(4096, 4096), 4096);
        assert_eq!(adjust_ringbuf_sz(4097, 4096), 8192);
        assert_eq!(adjust_ringbuf_sz(3 * 4096, 4096), 4 * 4096);
        assert_eq!(adjust_ringbuf_sz(1000, 4096), 4096);
        assert_eq!(adjust_ringbuf_sz(0, 4096), 0);
    }

    #[test]
    fn strtoull_like() {
        assert_eq!(parse_u64("0x10"), Some(16));
        assert_eq!(parse_u64("010"), Some(8));
        assert_eq!(parse_u64("10"), Some(10));
        assert_eq!(parse_u64("-1"), Some(u64::MAX));
        assert_eq!(parse_u64("1a"), None);
    }
}
