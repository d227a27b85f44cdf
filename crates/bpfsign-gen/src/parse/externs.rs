//! `.kconfig` / `.ksyms` externs (libbpf's `bpf_object__collect_externs`), including the BTF
//! rewrite libbpf performs at open time (`dummy_ksym`, `.ksyms` offsets, `.kconfig` layout).

use super::btf::{self, kind, Btf};
use super::Object;
use crate::error::{Ctx, Error, ErrorKind, Stage};

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
pub(crate) fn collect_externs(ctx: &Ctx, obj: &mut Object) -> Result<(), Error> {
    let mut btf = obj.btf.take();
    let res = collect(ctx, obj, &mut btf);
    obj.btf = btf;
    res
}

fn collect(ctx: &Ctx, obj: &mut Object, btf_opt: &mut Option<Btf>) -> Result<(), Error> {
    let err = |section: Option<&str>, m: String| {
        ctx.err(
            Stage::Externs,
            ErrorKind::BadBtf,
            section,
            m,
            "declare externs with __kconfig or __ksym from bpf_helpers.h and compile with -g",
        )
    };
    // add_dummy_ksym_var
    let mut dummy_var_id = 0u32;
    if let Some(btf) = btf_opt.as_mut() {
        if let Some(sec_id) = btf.find_by_name_kind(".ksyms", Some(kind::DATASEC)) {
            let t = btf.ty(sec_id).expect("id");
            let has_func =
                (0..t.vlen()).any(|i| btf.kind_of(btf.datasec_entry(&t, i).0) == kind::FUNC);
            if has_func {
                let int_id = find_int_btf_id(btf);
                dummy_var_id = btf.add_var(ctx, "dummy_ksym", btf::VAR_GLOBAL_ALLOCATED, int_id)?;
            }
        }
    }
    let mut externs = Vec::new();
    let mut have_kcfg = None;
    let mut have_ksym = None;
    for (i, sym) in obj.symbols.iter().enumerate() {
        if !sym.is_extern() || sym.name.is_empty() {
            continue;
        }
        let Some(btf) = btf_opt.as_ref() else {
            return Err(err(
                None,
                format!(
                    "extern '{}' needs BTF, but the object has no .BTF",
                    sym.name
                ),
            ));
        };
        let mut found = None;
        for id in 1..btf.type_cnt() {
            let t = btf.ty(id).expect("id");
            if t.kind() != kind::VAR && t.kind() != kind::FUNC {
                continue;
            }
            if btf.str_at(t.name_off) != Some(sym.name.as_str()) {
                continue;
            }
            let bad_linkage = if t.kind() == kind::VAR {
                btf.u32(&t, 0) != btf::VAR_GLOBAL_EXTERN
            } else {
                t.vlen() as u32 != btf::FUNC_EXTERN
            };
            if bad_linkage {
                return Err(err(
                    None,
                    format!("extern '{}': BTF entry is not an extern", sym.name),
                ));
            }
            found = Some(id);
            break;
        }
        let Some(btf_id) = found else {
            return Err(err(
                None,
                format!("failed to find BTF for extern '{}'", sym.name),
            ));
        };
        let t = btf.ty(btf_id).expect("id");
        let sec_btf_id = btf
            .datasecs()
            .find(|&s| {
                let st = btf.ty(s).expect("id");
                (0..st.vlen()).any(|j| btf.datasec_entry(&st, j).0 == btf_id)
            })
            .ok_or_else(|| {
                err(
                    None,
                    format!("failed to find BTF DATASEC for extern '{}'", sym.name),
                )
            })?;
        let sec_name = btf.name(sec_btf_id).to_string();
        let kind_ = if sec_name == ".kconfig" {
            if t.kind() == kind::FUNC {
                return Err(ctx.unsupported(
                    Stage::Externs,
                    Some(".kconfig"),
                    format!("extern function {} under .kconfig", sym.name),
                    "only variables can be __kconfig externs",
                ));
            }
            have_kcfg = Some(sec_btf_id);
            let sz = btf
                .resolve_size(t.size_or_type)
                .filter(|&s| s > 0)
                .ok_or_else(|| {
                    err(
                        Some(".kconfig"),
                        format!("failed to resolve size of extern (kcfg) '{}'", sym.name),
                    )
                })? as u32;
            let align = btf.align_of(t.size_or_type);
            if align == 0 {
                return Err(err(
                    Some(".kconfig"),
                    format!("failed to determine alignment of extern '{}'", sym.name),
                ));
            }
            let Some((typ, is_signed)) = kcfg_type(btf, t.size_or_type, 0) else {
                return Err(ctx.unsupported(
                    Stage::Externs,
                    Some(".kconfig"),
                    format!("extern (kcfg) '{}': type is unsupported", sym.name),
                    "use bool, char, an integer, enum libbpf_tristate or char[N]",
                ));
            };
            ExternKind::Kcfg {
                typ,
                sz,
                align,
                data_off: 0,
                is_signed,
            }
        } else if sec_name == ".ksyms" {
            have_ksym = Some(sec_btf_id);
            ExternKind::Ksym {
                type_id: btf.skip_mods_and_typedefs(t.size_or_type),
            }
        } else {
            return Err(ctx.unsupported(
                Stage::Externs,
                Some(&sec_name),
                format!("unrecognized extern section '{sec_name}'"),
                "externs must be __kconfig or __ksym",
            ));
        };
        externs.push(Extern {
            name: btf.name(btf_id).to_string(),
            sym_idx: i,
            btf_id,
            sec_btf_id,
            is_weak: sym.bind() == 2,
            kind: kind_,
        });
    }
    if externs.is_empty() {
        return Ok(());
    }
    // cmp_externs (stable merge sort like glibc qsort)
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
    let btf = btf_opt.as_mut().expect("externs imply BTF");
    if let Some(sec_id) = have_ksym {
        let int_id = find_int_btf_id(btf);
        let dummy_name_off = btf.ty(dummy_var_id).map(|t| t.name_off).unwrap_or(0);
        let st = btf.ty(sec_id).expect("id");
        for i in 0..st.vlen() {
            let (vtype, _, _) = btf.datasec_entry(&st, i);
            let vname = btf.name(vtype).to_string();
            if !externs.iter().any(|e| e.name == vname) {
                return Err(err(
                    Some(".ksyms"),
                    format!("failed to find extern definition for BTF '{vname}'"),
                ));
            }
            let Some(vt) = btf.ty(vtype) else {
                return Err(err(Some(".ksyms"), format!("bad .ksyms entry #{i}")));
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
            btf.set_u32(&st, i * 3 + 1, 4 * i as u32);
            btf.set_u32(&st, i * 3 + 2, 4);
        }
        btf.set_size_or_type(sec_id, 4 * st.vlen() as u32);
    }
    if let Some(sec_id) = have_kcfg {
        let mut off = 0u32;
        for e in externs.iter_mut() {
            if let ExternKind::Kcfg {
                sz,
                align,
                data_off,
                ..
            } = &mut e.kind
            {
                *data_off = off.div_ceil(*align) * *align;
                off = *data_off + *sz;
            }
        }
        btf.set_size_or_type(sec_id, off);
        let st = btf.ty(sec_id).expect("id");
        for i in 0..st.vlen() {
            let (vtype, _, _) = btf.datasec_entry(&st, i);
            let vname = btf.name(vtype).to_string();
            let Some(e) = externs.iter().find(|e| e.name == vname) else {
                return Err(err(
                    Some(".kconfig"),
                    format!("failed to find extern definition for BTF var '{vname}'"),
                ));
            };
            let ExternKind::Kcfg { data_off, .. } = e.kind else {
                return Err(err(
                    Some(".kconfig"),
                    format!("'{vname}' is not a kconfig extern"),
                ));
            };
            if let Some(vt) = btf.ty(vtype) {
                btf.set_u32(&vt, 0, btf::VAR_GLOBAL_ALLOCATED);
            }
            btf.set_u32(&st, i * 3 + 1, data_off);
        }
    }
    obj.externs = externs;
    Ok(())
}
