//! `.kconfig` / `.ksyms` externs (libbpf's `bpf_object__collect_externs`), including the BTF
//! rewrite libbpf performs at open time (`dummy_ksym`, `.ksyms` offsets, `.kconfig` layout).

use std::collections::{HashMap, HashSet};

use super::btf::{self, kind, Btf};
use super::{NameBudget, Object};
use crate::error::{Ctx, Error, ErrorKind, Limit, Stage};

/// Type class of a `.kconfig` extern (libbpf's `enum kcfg_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KcfgType {
    /// `char`.
    Char,
    /// `bool`.
    Bool,
    /// Integer of 1, 2, 4 or 8 bytes.
    Int,
    /// `enum libbpf_tristate`.
    Tristate,
    /// `char[N]`.
    CharArr,
}

/// What an extern is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExternKind {
    /// `__kconfig` extern, stored in the `.kconfig` map.
    Kcfg {
        /// Type class.
        typ: KcfgType,
        /// Size in bytes.
        sz: u32,
        /// Alignment.
        align: u32,
        /// Offset in the `.kconfig` map value.
        data_off: u32,
        /// Signed integer.
        is_signed: bool,
    },
    /// `__ksym` extern (variable or kfunc).
    Ksym {
        /// Local BTF type id of the extern's type (0 = typeless).
        type_id: u32,
    },
}

/// One extern symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extern {
    /// Name.
    pub name: String,
    /// ELF symbol index.
    pub sym_idx: usize,
    /// BTF id of the VAR or FUNC.
    pub btf_id: u32,
    /// BTF id of the DATASEC containing it.
    pub sec_btf_id: u32,
    /// `__weak`.
    pub is_weak: bool,
    /// Kind.
    pub kind: ExternKind,
}

impl Extern {
    /// Is this a kfunc / function ksym (BTF FUNC)?
    pub fn is_func(&self, btf: &Btf) -> bool {
        btf.kind_of(self.btf_id) == kind::FUNC
    }
}

fn kcfg_type(btf: &Btf, id: u32, depth: usize) -> Option<(KcfgType, bool)> {
    if depth > 8 {
        return None;
    }
    let t = btf.ty(btf.skip_mods_and_typedefs(id))?;
    match t.kind() {
        kind::INT => {
            let enc = (btf.u32(&t, 0) >> 24) & 0xf;
            let size = t.size_or_type;
            if enc & 4 != 0 {
                return (size == 1).then_some((KcfgType::Bool, false));
            }
            let signed = enc & 1 != 0;
            if size == 1 {
                return Some((KcfgType::Char, signed));
            }
            if !matches!(size, 2 | 4 | 8) {
                return None;
            }
            Some((KcfgType::Int, signed))
        }
        kind::ENUM => (t.size_or_type == 4 && btf.str_at(t.name_off) == Some("libbpf_tristate"))
            .then_some((KcfgType::Tristate, false)),
        kind::ENUM64 => (btf.str_at(t.name_off) == Some("libbpf_tristate"))
            .then_some((KcfgType::Tristate, false)),
        kind::ARRAY => {
            if btf.u32(&t, 2) == 0 {
                return None;
            }
            match kcfg_type(btf, btf.u32(&t, 0), depth + 1) {
                Some((KcfgType::Char, _)) => Some((KcfgType::CharArr, false)),
                _ => None,
            }
        }
        _ => None,
    }
}

fn find_int_btf_id(btf: &Btf) -> u32 {
    (1..btf.type_cnt())
        .find(|&id| {
            let t = btf.ty(id).expect("in range");
            t.kind() == kind::INT && btf.u32(&t, 0) & 0xff == 32
        })
        .unwrap_or(0)
}

/// Runs libbpf's extern collection on `obj` (requires the symbols and BTF to be loaded).
pub(crate) fn collect_externs(
    ctx: &Ctx,
    obj: &mut Object,
    names: &mut NameBudget,
) -> Result<(), Error> {
    let mut btf = obj.btf.take();
    let res = collect(ctx, obj, &mut btf, names);
    obj.btf = btf;
    res
}

fn bad(ctx: &Ctx, section: Option<&str>, m: String) -> Error {
    ctx.err(
        Stage::Externs,
        ErrorKind::BadBtf,
        section,
        m,
        "declare externs with __kconfig or __ksym from bpf_helpers.h and compile with -g",
    )
}

fn collect(
    ctx: &Ctx,
    obj: &mut Object,
    btf_opt: &mut Option<Btf>,
    names: &mut NameBudget,
) -> Result<(), Error> {
    let dummy_var_id = match btf_opt.as_mut() {
        Some(btf) => add_dummy_ksym_var(ctx, btf)?,
        None => 0,
    };
    let mut found = find_externs(ctx, obj, btf_opt.as_ref(), names)?;
    if found.externs.is_empty() {
        return Ok(());
    }
    sort_externs(&mut found.externs);
    let btf = btf_opt.as_mut().expect("externs imply BTF");
    if let Some(sec_id) = found.ksym_sec {
        rewrite_ksyms(ctx, btf, &found.externs, sec_id, dummy_var_id)?;
    }
    if let Some(sec_id) = found.kcfg_sec {
        layout_kconfig(ctx, btf, &mut found.externs, sec_id)?;
    }
    obj.externs = found.externs;
    Ok(())
}

/// libbpf's `add_dummy_ksym_var`: a `dummy_ksym` VAR for `.ksyms` DATASECs holding FUNCs.
fn add_dummy_ksym_var(ctx: &Ctx, btf: &mut Btf) -> Result<u32, Error> {
    let Some(sec_id) = btf.find_by_name_kind(".ksyms", Some(kind::DATASEC)) else {
        return Ok(0);
    };
    let t = btf.ty(sec_id).expect("id");
    let has_func = (0..t.vlen()).any(|i| btf.kind_of(btf.datasec_entry(&t, i).0) == kind::FUNC);
    if !has_func {
        return Ok(0);
    }
    let int_id = find_int_btf_id(btf);
    btf.add_var(ctx, "dummy_ksym", btf::VAR_GLOBAL_ALLOCATED, int_id)
}

/// Externs found in the symbol table, with the `.ksyms` / `.kconfig` DATASECs they live in.
struct Found {
    externs: Vec<Extern>,
    ksym_sec: Option<u32>,
    kcfg_sec: Option<u32>,
}

/// Look-up tables over the BTF, built once: the first VAR/FUNC of each name and the first
/// DATASEC holding each VAR/FUNC (libbpf scans all types per extern).
struct BtfIndex<'b> {
    var_or_func: HashMap<&'b str, u32>,
    datasec_of: HashMap<u32, u32>,
}

impl<'b> BtfIndex<'b> {
    fn new(btf: &'b Btf) -> Self {
        let mut var_or_func = HashMap::new();
        let mut datasec_of = HashMap::new();
        for id in 1..btf.type_cnt() {
            let t = btf.ty(id).expect("id");
            match t.kind() {
                kind::VAR | kind::FUNC => {
                    if let Some(n) = btf.str_at(t.name_off) {
                        var_or_func.entry(n).or_insert(id);
                    }
                }
                kind::DATASEC => {
                    for j in 0..t.vlen() {
                        datasec_of.entry(btf.datasec_entry(&t, j).0).or_insert(id);
                    }
                }
                _ => {}
            }
        }
        BtfIndex {
            var_or_func,
            datasec_of,
        }
    }
}

/// The first part of `bpf_object__collect_externs`: one [`Extern`] per extern symbol.
fn find_externs(
    ctx: &Ctx,
    obj: &Object,
    btf: Option<&Btf>,
    names: &mut NameBudget,
) -> Result<Found, Error> {
    let mut found = Found {
        externs: Vec::new(),
        ksym_sec: None,
        kcfg_sec: None,
    };
    let mut index = None;
    let mut seen = HashSet::new();
    for (i, sym) in obj.symbols.iter().enumerate() {
        if !sym.is_extern() || sym.name_len == 0 {
            continue;
        }
        let name = obj.sym_name(sym);
        let Some(btf) = btf else {
            return Err(bad(
                ctx,
                None,
                format!("extern '{name}' needs BTF, but the object has no .BTF"),
            ));
        };
        if !seen.insert(obj.sym_name_bytes(sym)) {
            return Err(ctx.malformed(
                Stage::Externs,
                Some(".symtab"),
                format!("extern '{name}' is declared by more than one symbol"),
            ));
        }
        let index = index.get_or_insert_with(|| BtfIndex::new(btf));
        let e = extern_of(ctx, btf, index, &name, i, sym.bind() == 2, &mut found)?;
        let e = Extern {
            name: names.copy(ctx, Stage::Externs, None, &e.name)?,
            ..e
        };
        found.externs.push(e);
    }
    Ok(found)
}

/// Classifies the extern symbol `sym_idx` named `name` from its BTF VAR/FUNC and DATASEC.
fn extern_of(
    ctx: &Ctx,
    btf: &Btf,
    index: &BtfIndex<'_>,
    name: &str,
    sym_idx: usize,
    is_weak: bool,
    found: &mut Found,
) -> Result<Extern, Error> {
    let Some(&btf_id) = index.var_or_func.get(name) else {
        return Err(bad(
            ctx,
            None,
            format!("failed to find BTF for extern '{name}'"),
        ));
    };
    let t = btf.ty(btf_id).expect("id");
    let bad_linkage = if t.kind() == kind::VAR {
        btf.u32(&t, 0) != btf::VAR_GLOBAL_EXTERN
    } else {
        t.vlen() as u32 != btf::FUNC_EXTERN
    };
    if bad_linkage {
        return Err(bad(
            ctx,
            None,
            format!("extern '{name}': BTF entry is not an extern"),
        ));
    }
    let Some(&sec_btf_id) = index.datasec_of.get(&btf_id) else {
        return Err(bad(
            ctx,
            None,
            format!("failed to find BTF DATASEC for extern '{name}'"),
        ));
    };
    let kind_ = match btf.name(sec_btf_id) {
        ".kconfig" => {
            found.kcfg_sec = Some(sec_btf_id);
            kcfg_kind(ctx, btf, &t, name)?
        }
        ".ksyms" => {
            found.ksym_sec = Some(sec_btf_id);
            ExternKind::Ksym {
                type_id: btf.skip_mods_and_typedefs(t.size_or_type),
            }
        }
        sec_name => {
            return Err(ctx.unsupported(
                Stage::Externs,
                Some(sec_name),
                format!("unrecognized extern section '{sec_name}'"),
                "externs must be __kconfig or __ksym",
            ))
        }
    };
    Ok(Extern {
        name: btf.name(btf_id).to_string(),
        sym_idx,
        btf_id,
        sec_btf_id,
        is_weak,
        kind: kind_,
    })
}

/// Type class, size and alignment of a `.kconfig` extern.
fn kcfg_kind(ctx: &Ctx, btf: &Btf, t: &btf::Ty, name: &str) -> Result<ExternKind, Error> {
    let sec = Some(".kconfig");
    if t.kind() == kind::FUNC {
        return Err(ctx.unsupported(
            Stage::Externs,
            sec,
            format!("extern function {name} under .kconfig"),
            "only variables can be __kconfig externs",
        ));
    }
    let sz = btf
        .resolve_size(t.size_or_type)
        .filter(|&s| s > 0)
        .and_then(|s| u32::try_from(s).ok())
        .ok_or_else(|| {
            bad(
                ctx,
                sec,
                format!("failed to resolve size of extern (kcfg) '{name}'"),
            )
        })?;
    let align = btf.align_of(t.size_or_type);
    if align == 0 {
        return Err(bad(
            ctx,
            sec,
            format!("failed to determine alignment of extern '{name}'"),
        ));
    }
    let Some((typ, is_signed)) = kcfg_type(btf, t.size_or_type, 0) else {
        return Err(ctx.unsupported(
            Stage::Externs,
            sec,
            format!("extern (kcfg) '{name}': type is unsupported"),
            "use bool, char, an integer, enum libbpf_tristate or char[N]",
        ));
    };
    Ok(ExternKind::Kcfg {
        typ,
        sz,
        align,
        data_off: 0,
        is_signed,
    })
}

/// libbpf's `cmp_externs` (stable merge sort like glibc qsort).
fn sort_externs(externs: &mut [Extern]) {
    externs.sort_by(|a, b| {
        let ta = matches!(a.kind, ExternKind::Ksym { .. }) as u8;
        let tb = matches!(b.kind, ExternKind::Ksym { .. }) as u8;
        ta.cmp(&tb)
            .then_with(|| match (&a.kind, &b.kind) {
                (
                    ExternKind::Kcfg {
                        align: aa, sz: sa, ..
                    },
                    ExternKind::Kcfg {
                        align: ab, sz: sb, ..
                    },
                ) => ab.cmp(aa).then(sa.cmp(sb)),
                _ => std::cmp::Ordering::Equal,
            })
            .then_with(|| a.name.as_bytes().cmp(b.name.as_bytes()))
    });
}

/// The first extern of each name.
fn by_name(externs: &[Extern]) -> HashMap<&str, usize> {
    let mut m = HashMap::new();
    for (i, e) in externs.iter().enumerate() {
        m.entry(e.name.as_str()).or_insert(i);
    }
    m
}

/// The `.ksyms` BTF rewrite: FUNC entries point at `dummy_ksym`, VARs become 4-byte ints.
fn rewrite_ksyms(
    ctx: &Ctx,
    btf: &mut Btf,
    externs: &[Extern],
    sec_id: u32,
    dummy_var_id: u32,
) -> Result<(), Error> {
    let sec = Some(".ksyms");
    let known = by_name(externs);
    let int_id = find_int_btf_id(btf);
    let dummy_name_off = btf.ty(dummy_var_id).map(|t| t.name_off).unwrap_or(0);
    let st = btf.ty(sec_id).expect("id");
    for i in 0..st.vlen() {
        let (vtype, _, _) = btf.datasec_entry(&st, i);
        let vname = btf.name(vtype);
        if !known.contains_key(vname) {
            return Err(bad(
                ctx,
                sec,
                format!("failed to find extern definition for BTF '{vname}'"),
            ));
        }
        let Some(vt) = btf.ty(vtype) else {
            return Err(bad(ctx, sec, format!("bad .ksyms entry #{i}")));
        };
        if vt.kind() == kind::FUNC {
            if let Some(proto) = btf.ty(vt.size_or_type) {
                for j in 0..proto.vlen() {
                    let (pname, ptype) = (btf.u32(&proto, j * 2), btf.u32(&proto, j * 2 + 1));
                    if ptype != 0 && pname == 0 {
                        btf.set_u32(&proto, j * 2, dummy_name_off);
                    }
                }
            }
            btf.set_u32(&st, i * 3, dummy_var_id);
            btf.set_info(vtype, (vt.info & !0xffff) | btf::FUNC_GLOBAL);
        } else {
            btf.set_u32(&vt, 0, btf::VAR_GLOBAL_ALLOCATED);
            btf.set_size_or_type(vtype, int_id);
        }
        // vlen ≤ 0xffff, so 4 * vlen fits a u32.
        btf.set_u32(&st, i * 3 + 1, 4 * i as u32);
        btf.set_u32(&st, i * 3 + 2, 4);
    }
    btf.set_size_or_type(sec_id, 4 * st.vlen() as u32);
    Ok(())
}

/// The `.kconfig` layout: each extern at the next offset of its alignment, in sorted order.
/// The sizes come from BTF (up to 4 GiB each), so the running offset is computed in `u64`
/// and must stay within the loader's data blob.
fn layout_kconfig(
    ctx: &Ctx,
    btf: &mut Btf,
    externs: &mut [Extern],
    sec_id: u32,
) -> Result<(), Error> {
    let sec = Some(".kconfig");
    let mut off = 0u64;
    for e in externs.iter_mut() {
        if let ExternKind::Kcfg {
            sz,
            align,
            data_off,
            ..
        } = &mut e.kind
        {
            let start = off.div_ceil(u64::from(*align)) * u64::from(*align);
            let end = start + u64::from(*sz);
            if end > bpfsign_abi::limits::MAX_DATA_SIZE as u64 {
                return Err(ctx.limit(
                    Limit::DataSize,
                    sec,
                    format!(
                        "extern '{}' ends at byte {end} of the .kconfig map; the loader's data blob holds at most {}",
                        e.name,
                        bpfsign_abi::limits::MAX_DATA_SIZE
                    ),
                ));
            }
            // end ≤ MAX_DATA_SIZE < 4 GiB
            *data_off = start as u32;
            off = end;
        }
    }
    btf.set_size_or_type(sec_id, off as u32);
    let known = by_name(externs);
    let st = btf.ty(sec_id).expect("id");
    for i in 0..st.vlen() {
        let (vtype, _, _) = btf.datasec_entry(&st, i);
        let vname = btf.name(vtype);
        let Some(&ei) = known.get(vname) else {
            return Err(bad(
                ctx,
                sec,
                format!("failed to find extern definition for BTF var '{vname}'"),
            ));
        };
        let ExternKind::Kcfg { data_off, .. } = externs[ei].kind else {
            return Err(bad(ctx, sec, format!("'{vname}' is not a kconfig extern")));
        };
        if let Some(vt) = btf.ty(vtype) {
            btf.set_u32(&vt, 0, btf::VAR_GLOBAL_ALLOCATED);
        }
        btf.set_u32(&st, i * 3 + 1, data_off);
    }
    Ok(())
}
