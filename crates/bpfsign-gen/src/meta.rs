//! Skeleton metadata: what the macro and the runtime need to know about the maps, programs and
//! global-data layouts of a generated light skeleton (serde, deterministic).

use bpfsign_abi::{attach_type, map_flags};
use serde::{Deserialize, Serialize};

use crate::link::Linked;
use crate::parse::btf::{self, kind, Btf};
use crate::parse::secdef;
use crate::parse::Object;

mod attach;

pub use bpfsign_abi::Protocol;

/// Skeleton-level metadata.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkeletonMeta {
    /// Object name (skeleton name).
    pub name: String,
    /// Maps in loader `map_idx` order (= ctx order).
    pub maps: Vec<MapMeta>,
    /// Every non-subprogram, including `autoload = false` ones, in libbpf order.
    pub progs: Vec<ProgMeta>,
    /// Layouts of the mmapable global-data maps.
    pub datasecs: Vec<DatasecMeta>,
}

/// One map.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapMeta {
    /// Skeleton field name: "bss", "rodata", "data_custom", "my_map".
    pub ident: String,
    /// Name given to the kernel, e.g. "hello.bss".
    pub kernel_name: String,
    /// `BPF_MAP_TYPE_*`.
    pub map_type: u32,
    /// Key size.
    pub key_size: u32,
    /// Value size.
    pub value_size: u32,
    /// Max entries as created (ring buffers rounded).
    pub max_entries: u32,
    /// Map flags.
    pub map_flags: u32,
    /// ELF section of internal maps (".bss", ".rodata", ...).
    pub section: Option<String>,
    /// Skeleton data map (internal map with `BPF_F_MMAPABLE`).
    pub mmapable: bool,
    /// BTF type of the key (`__type(key, …)`), when the object has one; absent for internal
    /// maps and maps declared with sizes only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_type: Option<TypeMeta>,
    /// BTF type of the value (`__type(value, …)`), when the object has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_type: Option<TypeMeta>,
}

/// How the skeleton attaches a program: the contract's [`bpfsign_abi::AttachKind`] with owned
/// names (same serde form).
pub type AttachKind = bpfsign_abi::AttachKind<String>;

/// One program.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgMeta {
    /// Function name.
    pub name: String,
    /// Section name (without the `?` autoload marker).
    pub section: String,
    /// `BPF_PROG_TYPE_*`.
    pub prog_type: u32,
    /// Expected attach type.
    pub expected_attach_type: u32,
    /// BTF attach target named in the section (fentry/fexit/lsm/tp_btf/iter ...).
    pub attach_target: Option<String>,
    /// Sleepable section (`.s`).
    pub sleepable: bool,
    /// `false` for `SEC("?...")`: the loader does not load it.
    pub autoload: bool,
    /// Attach method.
    pub attach: AttachKind,
}

/// Layout of a global-data map.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasecMeta {
    /// Index into [`SkeletonMeta::maps`].
    pub map_index: usize,
    /// ELF section.
    pub section: String,
    /// Skeleton identifier.
    pub ident: String,
    /// Value size.
    pub size: u32,
    /// Read-only for programs (`.rodata*`, `.kconfig`).
    pub readonly: bool,
    /// Exposed (non-static) variables, by offset.
    pub vars: Vec<VarMeta>,
}

/// One global variable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VarMeta {
    /// Sanitised identifier.
    pub name: String,
    /// Offset in the section.
    pub offset: u32,
    /// Size.
    pub size: u32,
    /// Type.
    pub ty: TypeMeta,
}

/// A C type, enough to generate a `#[repr(C)]` mirror.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TypeMeta {
    /// Integer.
    Int {
        /// Bytes.
        size: u32,
        /// Signed.
        signed: bool,
        /// `_Bool`.
        is_bool: bool,
        /// `char`.
        is_char: bool,
    },
    /// Floating point.
    Float {
        /// Bytes.
        size: u32,
    },
    /// Any pointer (8 bytes in BPF).
    Pointer,
    /// Array.
    Array {
        /// Element type.
        elem: Box<TypeMeta>,
        /// Element count.
        len: u32,
    },
    /// Struct.
    Struct {
        /// Name, if any.
        name: Option<String>,
        /// Bytes.
        size: u32,
        /// Members.
        members: Vec<MemberMeta>,
    },
    /// Union.
    Union {
        /// Name, if any.
        name: Option<String>,
        /// Bytes.
        size: u32,
        /// Members.
        members: Vec<MemberMeta>,
    },
    /// Enum.
    Enum {
        /// Name, if any.
        name: Option<String>,
        /// Bytes.
        size: u32,
        /// Signed values.
        signed: bool,
    },
    /// Bytes without a usable type (bitfields, function pointers, unknown).
    Opaque {
        /// Bytes.
        size: u32,
    },
}

/// A struct/union member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberMeta {
    /// Name (anonymous members get `__anon<offset>`; merged bitfields `__bitfield<offset>`).
    pub name: String,
    /// Byte offset.
    pub offset: u32,
    /// Type.
    pub ty: TypeMeta,
}

/// bpftool's `sanitize_identifier`.
pub(crate) fn sanitize_ident(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// bpftool's `get_map_ident` for internal maps (on the kernel name).
fn internal_ident(kernel_name: &str) -> String {
    for sfx in [".data", ".rodata", ".bss", ".kconfig"] {
        if let Some(p) = kernel_name.find(sfx) {
            return sanitize_ident(&kernel_name[p + 1..]);
        }
    }
    sanitize_ident(kernel_name)
}

fn opt_name(btf: &Btf, off: u32) -> Option<String> {
    btf.str_at(off)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Work budget of the types of one variable.
const TYPE_META_BUDGET: u32 = 100_000;

/// Work budget of all the variables of one skeleton: a DATASEC of 65,535 variables, each of a
/// type that uses up [`TYPE_META_BUDGET`], would otherwise cost 6.5 billion steps. Real
/// objects stay far below it, so their metadata is the same as with the per-call budget alone.
const SKELETON_TYPE_META_BUDGET: u32 = 2_000_000;

/// Converts a BTF type to [`TypeMeta`].
#[cfg(test)]
fn type_meta(btf: &Btf, id: u32) -> TypeMeta {
    type_meta_depth(btf, id, 0, &mut { TYPE_META_BUDGET })
}

/// `budget` bounds the total work so hostile BTF (deep DAGs) cannot explode.
fn type_meta_depth(btf: &Btf, id: u32, depth: usize, budget: &mut u32) -> TypeMeta {
    let id = btf.skip_mods_and_typedefs(id);
    let size = btf.resolve_size(id).unwrap_or(0) as u32;
    // Every visit costs budget, also the ones cut off by depth: otherwise a wide struct
    // referenced below the depth limit would be walked for free, vlen² times in total.
    if *budget == 0 {
        return TypeMeta::Opaque { size };
    }
    *budget -= 1;
    if depth > 32 {
        return TypeMeta::Opaque { size };
    }
    let Some(t) = btf.ty(id) else {
        return TypeMeta::Opaque { size: 0 };
    };
    match t.kind() {
        kind::INT => {
            let enc = (btf.u32(&t, 0) >> 24) & 0xf;
            let bits = btf.u32(&t, 0) & 0xff;
            let off = (btf.u32(&t, 0) >> 16) & 0xff;
            if off != 0 || u64::from(bits) != u64::from(t.size_or_type) * 8 {
                return TypeMeta::Opaque {
                    size: t.size_or_type,
                };
            }
            TypeMeta::Int {
                size: t.size_or_type,
                signed: enc & 1 != 0,
                is_bool: enc & 4 != 0,
                is_char: enc & 2 != 0 || btf.str_at(t.name_off) == Some("char"),
            }
        }
        kind::FLOAT => TypeMeta::Float {
            size: t.size_or_type,
        },
        kind::PTR => TypeMeta::Pointer,
        kind::ARRAY => TypeMeta::Array {
            elem: Box::new(type_meta_depth(btf, btf.u32(&t, 0), depth + 1, budget)),
            len: btf.u32(&t, 2),
        },
        kind::STRUCT | kind::UNION => {
            // Members cost budget up front (the loop below walks all of them).
            let vlen = u32::try_from(t.vlen()).unwrap_or(u32::MAX);
            if *budget < vlen {
                *budget = 0;
                return TypeMeta::Opaque { size };
            }
            *budget -= vlen;
            let mut members: Vec<MemberMeta> = Vec::new();
            let mut bf_end = 0u32;
            for i in 0..t.vlen() {
                let (name_off, mtype, raw) = (
                    btf.u32(&t, i * 3),
                    btf.u32(&t, i * 3 + 1),
                    btf.u32(&t, i * 3 + 2),
                );
                let (bit_off, bits) = if t.kflag() {
                    (raw & 0xff_ffff, raw >> 24)
                } else {
                    (raw, 0)
                };
                let is_bitfield = bits != 0 || (bit_off % 8 != 0);
                if is_bitfield {
                    let bits = if bits == 0 { 1 } else { bits };
                    let start = bit_off / 8;
                    // A bitfield reaching past the struct is malformed BTF: no usable layout.
                    let end = (u64::from(bit_off) + u64::from(bits)).div_ceil(8);
                    if end > u64::from(t.size_or_type) {
                        return TypeMeta::Opaque { size };
                    }
                    let end = end as u32;
                    if let Some(last) = members.last_mut() {
                        if last.name.starts_with("__bitfield") && start < bf_end {
                            bf_end = bf_end.max(end);
                            last.ty = TypeMeta::Opaque {
                                size: bf_end - last.offset,
                            };
                            continue;
                        }
                    }
                    bf_end = end;
                    members.push(MemberMeta {
                        name: format!("__bitfield{start}"),
                        offset: start,
                        ty: TypeMeta::Opaque { size: end - start },
                    });
                    continue;
                }
                let name =
                    opt_name(btf, name_off).unwrap_or_else(|| format!("__anon{}", bit_off / 8));
                members.push(MemberMeta {
                    name: sanitize_ident(&name),
                    offset: bit_off / 8,
                    ty: type_meta_depth(btf, mtype, depth + 1, budget),
                });
            }
            let name = opt_name(btf, t.name_off);
            if t.kind() == kind::STRUCT {
                TypeMeta::Struct {
                    name,
                    size: t.size_or_type,
                    members,
                }
            } else {
                TypeMeta::Union {
                    name,
                    size: t.size_or_type,
                    members,
                }
            }
        }
        kind::ENUM | kind::ENUM64 => TypeMeta::Enum {
            name: opt_name(btf, t.name_off),
            size: t.size_or_type,
            signed: t.kflag(),
        },
        _ => TypeMeta::Opaque { size },
    }
}

/// Builds the skeleton metadata of a linked object.
pub(crate) fn build(obj: &Object, linked: &Linked, name: &str) -> SkeletonMeta {
    let mut maps = Vec::new();
    let mut datasecs = Vec::new();
    let mut total_budget = SKELETON_TYPE_META_BUDGET;
    for (i, (m, lm)) in obj.maps.iter().zip(&linked.maps).enumerate() {
        let ident = if m.is_internal() {
            internal_ident(&lm.kernel_name)
        } else {
            m.name.clone()
        };
        let mmapable = m.is_internal() && lm.map_flags & map_flags::MMAPABLE != 0;
        // Key and value types of user maps, as the global variables' types are described.
        let mut kv_type = |id: u32, size: u32| -> Option<TypeMeta> {
            let btf = obj.btf.as_ref().filter(|_| id != 0 && !m.is_internal())?;
            let mut budget = TYPE_META_BUDGET.min(total_budget);
            let ty = type_meta_depth(btf, id, 0, &mut budget);
            total_budget -= TYPE_META_BUDGET.min(total_budget) - budget;
            // A type that does not describe the key or value as created is no use.
            (type_size(&ty) == Some(size)).then_some(ty)
        };
        let key_type = kv_type(m.btf_key_type_id, lm.key_size);
        let value_type = kv_type(m.btf_value_type_id, lm.value_size);
        maps.push(MapMeta {
            ident: ident.clone(),
            kernel_name: truncate15(&lm.kernel_name),
            map_type: lm.map_type,
            key_size: lm.key_size,
            value_size: lm.value_size,
            max_entries: lm.max_entries,
            map_flags: lm.map_flags,
            section: m.is_internal().then(|| m.name.clone()),
            mmapable,
            key_type,
            value_type,
        });
        if !mmapable {
            continue;
        }
        let mut vars = Vec::new();
        if let Some(btf) = &obj.btf {
            if let Some(t) = btf
                .ty(m.btf_value_type_id)
                .filter(|t| t.kind() == kind::DATASEC)
            {
                for j in 0..t.vlen() {
                    let (vtype, off, size) = btf.datasec_entry(&t, j);
                    let Some(vt) = btf.ty(vtype).filter(|v| v.kind() == kind::VAR) else {
                        continue;
                    };
                    if btf.u32(&vt, 0) == btf::VAR_STATIC {
                        continue;
                    }
                    // A variable must lie inside the map value (parse checks the DATASEC;
                    // this keeps the layout sound whatever the value size).
                    if u64::from(off) + u64::from(size) > u64::from(lm.value_size) {
                        continue;
                    }
                    let mut budget = TYPE_META_BUDGET.min(total_budget);
                    let ty = type_meta_depth(btf, vt.size_or_type, 0, &mut budget);
                    total_budget -= TYPE_META_BUDGET.min(total_budget) - budget;
                    vars.push(VarMeta {
                        name: sanitize_ident(btf.name(vtype)),
                        offset: off,
                        size,
                        ty,
                    });
                }
            }
        }
        datasecs.push(DatasecMeta {
            map_index: i,
            section: m.name.clone(),
            ident,
            size: lm.value_size,
            readonly: lm.map_flags & map_flags::RDONLY_PROG != 0,
            vars,
        });
    }
    let progs = obj
        .progs
        .iter()
        .filter(|p| !obj.is_subprog(p))
        .map(|p| {
            let def = p.sec_def;
            let flags = def.map(|d| d.flags).unwrap_or(0);
            let target = p.sec_name.split_once('/').map(|(_, t)| t.to_string());
            let eat = if flags & secdef::F_USDT != 0 {
                attach_type::TRACE_UPROBE_MULTI
            } else {
                p.expected_attach_type
            };
            let attach = attach::attach_kind(def, &p.sec_name, p.prog_type, eat);
            ProgMeta {
                name: p.name.clone(),
                section: p.sec_name.clone(),
                prog_type: p.prog_type,
                expected_attach_type: eat,
                attach_target: if flags & secdef::F_ATTACH_BTF != 0 {
                    target
                } else {
                    None
                },
                sleepable: flags & secdef::F_SLEEPABLE != 0,
                autoload: p.autoload,
                attach,
            }
        })
        .collect();
    SkeletonMeta {
        name: name.to_string(),
        maps,
        progs,
        datasecs,
    }
}

/// Size in bytes of a described type (`None` for a pointer-free array whose size overflows).
fn type_size(t: &TypeMeta) -> Option<u32> {
    match t {
        TypeMeta::Int { size, .. }
        | TypeMeta::Float { size }
        | TypeMeta::Struct { size, .. }
        | TypeMeta::Union { size, .. }
        | TypeMeta::Enum { size, .. }
        | TypeMeta::Opaque { size } => Some(*size),
        TypeMeta::Pointer => Some(8),
        TypeMeta::Array { elem, len } => type_size(elem)?.checked_mul(*len),
    }
}

fn truncate15(s: &str) -> String {
    let b = &s.as_bytes()[..s.len().min(15)];
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Ctx;

    #[test]
    fn attach_kind_json_form() {
        // The artifact format: externally tagged, as the generator's own enum wrote it.
        let cases = [
            (
                AttachKind::RawTracepoint {
                    tp_name: Some("sys_enter".to_string()),
                },
                r#"{"RawTracepoint":{"tp_name":"sys_enter"}}"#,
            ),
            (
                AttachKind::RawTracepoint { tp_name: None },
                r#"{"RawTracepoint":{"tp_name":null}}"#,
            ),
            (AttachKind::Iter, r#""Iter""#),
            (AttachKind::Manual, r#""Manual""#),
            (
                AttachKind::Kprobe {
                    func: "f".to_string(),
                    offset: 8,
                    retprobe: false,
                },
                r#"{"Kprobe":{"func":"f","offset":8,"retprobe":false}}"#,
            ),
            (
                AttachKind::KprobeMulti {
                    pattern: "f*".to_string(),
                    retprobe: true,
                },
                r#"{"KprobeMulti":{"pattern":"f*","retprobe":true}}"#,
            ),
            (
                AttachKind::Ksyscall {
                    name: "getpid".to_string(),
                    retprobe: false,
                },
                r#"{"Ksyscall":{"name":"getpid","retprobe":false}}"#,
            ),
            (
                AttachKind::Uprobe {
                    path: "/b".to_string(),
                    func: "f".to_string(),
                    offset: 0,
                    retprobe: true,
                },
                r#"{"Uprobe":{"path":"/b","func":"f","offset":0,"retprobe":true}}"#,
            ),
            (
                AttachKind::UprobeMulti {
                    path: "/b".to_string(),
                    pattern: "f?".to_string(),
                    retprobe: false,
                },
                r#"{"UprobeMulti":{"path":"/b","pattern":"f?","retprobe":false}}"#,
            ),
            (
                AttachKind::Tracepoint {
                    category: "sched".to_string(),
                    name: "sched_switch".to_string(),
                },
                r#"{"Tracepoint":{"category":"sched","name":"sched_switch"}}"#,
            ),
        ];
        for (kind, json) in cases {
            assert_eq!(serde_json::to_string(&kind).unwrap(), json);
            assert_eq!(serde_json::from_str::<AttachKind>(json).unwrap(), kind);
        }
    }

    /// Raw `.BTF` with the given type records and a string table holding only "".
    fn raw_btf(types: &[u32]) -> Vec<u8> {
        let type_len = (types.len() * 4) as u32;
        let mut b = Vec::new();
        b.extend_from_slice(&0xeb9f_u16.to_le_bytes());
        b.extend_from_slice(&[1, 0]);
        for v in [24, 0, type_len, type_len, 1] {
            b.extend_from_slice(&u32::to_le_bytes(v));
        }
        for v in types {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.push(0);
        b
    }

    #[test]
    fn int_whose_bit_size_overflows_u32_is_opaque() {
        // INT of 2^29 bytes: `size * 8` does not fit a u32.
        let int = [0, kind::INT << 24, 1 << 29, 32];
        let btf = Btf::parse(&Ctx::new("t.o"), &raw_btf(&int)).unwrap();
        assert_eq!(type_meta(&btf, 1), TypeMeta::Opaque { size: 1 << 29 });
    }

    #[test]
    fn wide_struct_visits_are_charged_to_the_budget() {
        // STRUCT of 3 members of INT: 1 + 3 (members) + 3 (the INTs) = 7 units of work.
        let mut types = vec![0, kind::INT << 24, 4, 32];
        types.extend([0, (kind::STRUCT << 24) | 3, 12]);
        for i in 0..3 {
            types.extend([0, 1, i * 32]);
        }
        let btf = Btf::parse(&Ctx::new("t.o"), &raw_btf(&types)).unwrap();
        let mut budget = 7;
        assert!(matches!(
            type_meta_depth(&btf, 2, 0, &mut budget),
            TypeMeta::Struct { .. }
        ));
        assert_eq!(budget, 0);
        let mut budget = 3;
        assert_eq!(
            type_meta_depth(&btf, 2, 0, &mut budget),
            TypeMeta::Opaque { size: 12 }
        );
        // Below the depth limit a visit still costs one unit.
        let mut budget = 5;
        type_meta_depth(&btf, 2, 33, &mut budget);
        assert_eq!(budget, 4);
    }
}
