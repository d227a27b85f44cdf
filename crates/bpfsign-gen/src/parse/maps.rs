//! Maps: BTF-defined maps in `.maps` (`parse_btf_map_def`), global-data maps (`.data*`,
//! `.rodata*`, `.bss*`), the `.kconfig` map, and `.maps` relocations (`.values` initialisers).

use std::collections::{HashMap, HashSet};

use bpfsign_abi::limits::MAX_DATA_SIZE;
use bpfsign_abi::{map_flags, map_type};

use super::btf::{self, kind, Btf};
use super::{ExternKind, NameBudget, Object, SecType};
use crate::error::{Ctx, Error, ErrorKind, Limit, Stage};

/// libbpf's map classification (`enum libbpf_map_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapKind {
    /// BTF-defined map in `.maps`.
    User,
    /// `.data*`.
    Data,
    /// `.bss*`.
    Bss,
    /// `.rodata*`.
    Rodata,
    /// `.kconfig`.
    Kconfig,
}

/// Target of a `.values` slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotTarget {
    /// Inner map (index into [`Object::maps`]).
    Map(usize),
    /// Program (index into [`Object::progs`]) of a prog array.
    Prog(usize),
}

/// A map definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapDef {
    /// BTF variable name (user maps) or ELF section name (internal maps).
    pub name: String,
    /// Classification.
    pub kind: MapKind,
    /// ELF section index.
    pub sec_idx: usize,
    /// Offset inside `.maps`.
    pub sec_offset: u64,
    /// Index of the VAR in the `.maps` DATASEC.
    pub btf_var_idx: usize,
    /// `BPF_MAP_TYPE_*`.
    pub map_type: u32,
    /// Key size.
    pub key_size: u32,
    /// Value size.
    pub value_size: u32,
    /// Max entries as declared (ring buffers are rounded at link time).
    pub max_entries: u32,
    /// Map flags.
    pub map_flags: u32,
    /// `map_extra`.
    pub map_extra: u64,
    /// NUMA node.
    pub numa_node: u32,
    /// BTF key type id.
    pub btf_key_type_id: u32,
    /// BTF value type id.
    pub btf_value_type_id: u32,
    /// Inner map template of a map-in-map.
    pub inner: Option<Box<MapDef>>,
    /// `.values` initialisers.
    pub init_slots: Vec<Option<SlotTarget>>,
    /// Initial value of internal maps (`value_size` bytes).
    pub initial: Vec<u8>,
    /// `pinning` attribute (recorded, not acted upon).
    pub pinning: u32,
}

impl MapDef {
    /// Internal (global data / kconfig) map?
    pub(crate) fn is_internal(&self) -> bool {
        self.kind != MapKind::User
    }
    /// Map-in-map?
    pub(crate) fn is_map_in_map(&self) -> bool {
        matches!(
            self.map_type,
            map_type::ARRAY_OF_MAPS | map_type::HASH_OF_MAPS
        )
    }
}

#[derive(Default)]
struct BtfMapDef {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    numa_node: u32,
    map_extra: u64,
    key_type_id: u32,
    value_type_id: u32,
    pinning: u32,
    has_inner: bool,
}

struct MapParser<'a> {
    ctx: &'a Ctx,
    btf: &'a Btf,
}

impl MapParser<'_> {
    fn err(&self, map: &str, m: String) -> Error {
        self.ctx.err(
            Stage::Maps,
            ErrorKind::Malformed,
            Some(".maps"),
            format!("map '{map}': {m}"),
            "declare maps with the __uint/__type/__array macros of bpf_helpers.h",
        )
    }

    fn field_int(&self, map: &str, name: &str, mtype: u32) -> Result<u32, Error> {
        let t = self.btf.ty(self.btf.skip_mods_and_typedefs(mtype));
        let Some(t) = t.filter(|t| t.kind() == kind::PTR) else {
            return Err(self.err(map, format!("attr '{name}': expected PTR")));
        };
        let Some(arr) = self
            .btf
            .ty(t.size_or_type)
            .filter(|a| a.kind() == kind::ARRAY)
        else {
            return Err(self.err(map, format!("attr '{name}': expected ARRAY")));
        };
        Ok(self.btf.u32(&arr, 2))
    }

    fn field_long(&self, map: &str, name: &str, mtype: u32) -> Result<u64, Error> {
        let Some(t) = self.btf.ty(self.btf.skip_mods_and_typedefs(mtype)) else {
            return Err(self.err(map, format!("attr '{name}': bad type")));
        };
        if t.kind() == kind::PTR {
            return self.field_int(map, name, mtype).map(u64::from);
        }
        if t.kind() != kind::ENUM && t.kind() != kind::ENUM64 {
            return Err(self.err(map, format!("attr '{name}': expected ENUM or ENUM64")));
        }
        if t.vlen() != 1 {
            return Err(self.err(map, format!("attr '{name}': invalid __ulong")));
        }
        if t.kind() == kind::ENUM {
            Ok(self.btf.u32(&t, 1) as i32 as i64 as u64)
        } else {
            Ok(self.btf.u32(&t, 1) as u64 | ((self.btf.u32(&t, 2) as u64) << 32))
        }
    }

    fn parse_def(
        &self,
        map: &str,
        def_id: u32,
        is_inner: bool,
        inner: &mut BtfMapDef,
    ) -> Result<BtfMapDef, Error> {
        let mut d = BtfMapDef::default();
        let def = self.btf.ty(def_id).expect("struct id");
        let vlen = def.vlen();
        for i in 0..vlen {
            let (name_off, mtype) = (self.btf.u32(&def, i * 3), self.btf.u32(&def, i * 3 + 1));
            let Some(name) = self.btf.str_at(name_off) else {
                return Err(self.err(map, format!("invalid field #{i}")));
            };
            match name {
                "type" => d.map_type = self.field_int(map, name, mtype)?,
                "max_entries" => d.max_entries = self.field_int(map, name, mtype)?,
                "map_flags" => d.map_flags = self.field_int(map, name, mtype)?,
                "numa_node" => d.numa_node = self.field_int(map, name, mtype)?,
                "key_size" | "value_size" => {
                    let sz = self.field_int(map, name, mtype)?;
                    let slot = if name == "key_size" {
                        &mut d.key_size
                    } else {
                        &mut d.value_size
                    };
                    if *slot != 0 && *slot != sz {
                        return Err(self.err(map, format!("conflicting {name} {} != {sz}", *slot)));
                    }
                    *slot = sz;
                }
                "key" | "value" => {
                    let Some(t) = self.btf.ty(mtype).filter(|t| t.kind() == kind::PTR) else {
                        return Err(self.err(map, format!("{name} spec is not PTR")));
                    };
                    let Some(sz) = self.btf.resolve_size(t.size_or_type) else {
                        return Err(self.err(map, format!("can't determine {name} size")));
                    };
                    let sz = sz as u32;
                    let (slot, tid) = if name == "key" {
                        (&mut d.key_size, &mut d.key_type_id)
                    } else {
                        (&mut d.value_size, &mut d.value_type_id)
                    };
                    if *slot != 0 && *slot != sz {
                        return Err(
                            self.err(map, format!("conflicting {name} size {} != {sz}", *slot))
                        );
                    }
                    *slot = sz;
                    *tid = t.size_or_type;
                }
                "values" => {
                    let mim =
                        matches!(d.map_type, map_type::ARRAY_OF_MAPS | map_type::HASH_OF_MAPS);
                    let pa = d.map_type == map_type::PROG_ARRAY;
                    if is_inner {
                        return Err(self.err(map, "multi-level inner maps not supported".into()));
                    }
                    if i != vlen - 1 {
                        return Err(self.err(map, "'values' member should be last".into()));
                    }
                    if !mim && !pa {
                        return Err(self.err(map, "should be map-in-map or prog-array".into()));
                    }
                    if d.value_size != 0 && d.value_size != 4 {
                        return Err(
                            self.err(map, format!("conflicting value size {} != 4", d.value_size))
                        );
                    }
                    d.value_size = 4;
                    let Some(t) = self
                        .btf
                        .ty(mtype)
                        .filter(|t| t.kind() == kind::ARRAY && self.btf.u32(t, 2) == 0)
                    else {
                        return Err(self.err(map, "values spec is not a zero-sized array".into()));
                    };
                    let p = self
                        .btf
                        .ty(self.btf.skip_mods_and_typedefs(self.btf.u32(&t, 0)));
                    let Some(p) = p.filter(|p| p.kind() == kind::PTR) else {
                        return Err(self.err(map, "values def is of unexpected kind".into()));
                    };
                    let inner_id = self.btf.skip_mods_and_typedefs(p.size_or_type);
                    let ik = self.btf.kind_of(inner_id);
                    if pa {
                        if ik != kind::FUNC_PROTO {
                            return Err(
                                self.err(map, "prog-array value def is of unexpected kind".into())
                            );
                        }
                        continue;
                    }
                    if ik != kind::STRUCT {
                        return Err(
                            self.err(map, "map-in-map inner def is of unexpected kind".into())
                        );
                    }
                    let mut dummy = BtfMapDef::default();
                    *inner = self.parse_def(&format!("{map}.inner"), inner_id, true, &mut dummy)?;
                    d.has_inner = true;
                }
                "pinning" => {
                    if is_inner {
                        return Err(self.err(map, "inner def can't be pinned".into()));
                    }
                    let v = self.field_int(map, name, mtype)?;
                    if v > 1 {
                        return Err(self.err(map, format!("invalid pinning value {v}")));
                    }
                    d.pinning = v;
                }
                "map_extra" => d.map_extra = self.field_long(map, name, mtype)?,
                other => return Err(self.err(map, format!("unknown field '{other}'"))),
            }
        }
        if d.map_type == 0 {
            return Err(self.err(map, "map type isn't specified".into()));
        }
        Ok(d)
    }
}

fn from_def(name: String, sec_idx: usize, d: &BtfMapDef) -> MapDef {
    MapDef {
        name,
        kind: MapKind::User,
        sec_idx,
        sec_offset: 0,
        btf_var_idx: 0,
        map_type: d.map_type,
        key_size: d.key_size,
        value_size: d.value_size,
        max_entries: d.max_entries,
        map_flags: d.map_flags,
        map_extra: d.map_extra,
        numa_node: d.numa_node,
        btf_key_type_id: d.key_type_id,
        btf_value_type_id: d.value_type_id,
        inner: None,
        init_slots: Vec::new(),
        initial: Vec::new(),
        pinning: d.pinning,
    }
}

/// libbpf's `bpf_object__init_maps` (user BTF maps, global data, kconfig).
pub(crate) fn init_maps(ctx: &Ctx, obj: &mut Object, names: &mut NameBudget) -> Result<(), Error> {
    let mut maps = user_maps(ctx, obj, names)?;
    let value_ids = internal_value_ids(obj);
    let value_id = |name: &str| value_ids.get(name).copied().unwrap_or(0);
    // global data maps
    for s in &obj.sections {
        let size = if s.sec_type == SecType::Bss {
            s.size
        } else {
            s.data.len() as u64
        };
        let kind_ = match s.sec_type {
            SecType::Data => MapKind::Data,
            SecType::Rodata => MapKind::Rodata,
            SecType::Bss => MapKind::Bss,
            _ => continue,
        };
        if size == 0 {
            continue;
        }
        if size > MAX_DATA_SIZE as u64 {
            return Err(ctx.limit(
                Limit::DataSize,
                Some(&s.name),
                format!("global data section of {size} bytes cannot fit in the loader's data blob"),
            ));
        }
        let initial = if kind_ == MapKind::Bss {
            vec![0; size as usize]
        } else {
            s.data.clone()
        };
        let name = names.copy(ctx, Stage::Maps, Some(&s.name), &s.name)?;
        let btf = obj.btf.as_ref();
        maps.push(internal_map(
            btf,
            kind_,
            name,
            s.idx,
            initial,
            value_id(&s.name),
        ));
    }
    // kconfig map
    let mut last = obj.externs.iter().filter_map(|e| match e.kind {
        ExternKind::Kcfg { data_off, sz, .. } => Some(u64::from(data_off) + u64::from(sz)),
        _ => None,
    });
    if let Some(sz) = last.next_back() {
        if sz > MAX_DATA_SIZE as u64 {
            return Err(ctx.limit(
                Limit::DataSize,
                Some(".kconfig"),
                format!(".kconfig map of {sz} bytes"),
            ));
        }
        maps.push(internal_map(
            obj.btf.as_ref(),
            MapKind::Kconfig,
            ".kconfig".to_string(),
            obj.symbols_shndx,
            vec![0; sz as usize],
            value_id(".kconfig"),
        ));
        obj.kconfig_map = Some(maps.len() - 1);
    }
    obj.maps = maps;
    Ok(())
}

/// `btf__find_by_name_kind(name, any kind)` for every internal map name at once: one pass
/// over the types instead of one per global-data section.
fn internal_value_ids(obj: &Object) -> HashMap<&str, u32> {
    let Some(btf) = obj.btf.as_ref() else {
        return HashMap::new();
    };
    let mut wanted: HashSet<&str> = obj
        .sections
        .iter()
        .filter(|s| matches!(s.sec_type, SecType::Data | SecType::Rodata | SecType::Bss))
        .map(|s| s.name.as_str())
        .collect();
    wanted.insert(".kconfig");
    let mut ids = HashMap::new();
    for id in 1..btf.type_cnt() {
        if ids.len() == wanted.len() {
            break;
        }
        let Some(t) = btf.ty(id) else { continue };
        if let Some(&n) = btf.str_at(t.name_off).and_then(|n| wanted.get(n)) {
            ids.entry(n).or_insert(id);
        }
    }
    ids
}

/// The BTF-defined maps of `.maps` (`bpf_object__init_user_btf_maps`).
fn user_maps(ctx: &Ctx, obj: &Object, names: &mut NameBudget) -> Result<Vec<MapDef>, Error> {
    let mut maps = Vec::new();
    let Some(shndx) = obj.maps_shndx else {
        return Ok(maps);
    };
    let btf = obj.btf.as_ref().expect("checked: .maps needs BTF");
    let Some(sec_id) = btf.find_by_name_kind(".maps", Some(kind::DATASEC)) else {
        return Err(ctx.bad_btf(Some(".maps"), "DATASEC '.maps' not found"));
    };
    let st = btf.ty(sec_id).expect("id");
    let data_len = obj.sections[shndx].data.len() as u64;
    let p = MapParser { ctx, btf };
    for i in 0..st.vlen() {
        let (vtype, voff, vsize) = btf.datasec_entry(&st, i);
        let var = btf.ty(vtype);
        let map_name = var
            .map(|v| btf.str_at(v.name_off).unwrap_or(""))
            .unwrap_or("");
        if map_name.is_empty() {
            return Err(p.err(&format!("#{i}"), "empty name".into()));
        }
        if voff as u64 + vsize as u64 > data_len {
            return Err(p.err(map_name, "BTF data is corrupted (outside .maps)".into()));
        }
        let Some(var) = var.filter(|v| v.kind() == kind::VAR) else {
            return Err(p.err(map_name, "unexpected var kind".into()));
        };
        if btf.u32(&var, 0) != btf::VAR_GLOBAL_ALLOCATED {
            return Err(ctx.unsupported(
                Stage::Maps,
                Some(".maps"),
                format!("map '{map_name}': unsupported map linkage"),
                "maps must be global, non-extern variables",
            ));
        }
        let def_id = btf.skip_mods_and_typedefs(var.size_or_type);
        let Some(def) = btf.ty(def_id).filter(|d| d.kind() == kind::STRUCT) else {
            return Err(p.err(map_name, "unexpected def kind".into()));
        };
        if def.size_or_type > vsize {
            return Err(p.err(map_name, "invalid def size".into()));
        }
        let mut inner = BtfMapDef::default();
        let d = p.parse_def(map_name, def_id, false, &mut inner)?;
        let name = names.copy(ctx, Stage::Maps, Some(".maps"), map_name)?;
        let mut m = from_def(name, shndx, &d);
        m.sec_offset = voff as u64;
        m.btf_var_idx = i;
        if d.has_inner {
            let inner_name = names.copy(
                ctx,
                Stage::Maps,
                Some(".maps"),
                &format!("{map_name}.inner"),
            )?;
            m.inner = Some(Box::new(from_def(inner_name, shndx, &inner)));
        }
        maps.push(m);
    }
    check_disjoint(&p, btf, &st, &maps)?;
    Ok(maps)
}

/// Map variables of `.maps` do not overlap (the kernel rejects overlapping DATASEC entries),
/// so a `.values` relocation falls inside at most one map.
fn check_disjoint(
    p: &MapParser<'_>,
    btf: &Btf,
    st: &btf::Ty,
    maps: &[MapDef],
) -> Result<(), Error> {
    let mut spans: Vec<(u64, u64, usize)> = maps
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let (_, off, size) = btf.datasec_entry(st, m.btf_var_idx);
            (u64::from(off), u64::from(off) + u64::from(size), i)
        })
        .collect();
    spans.sort_unstable();
    if let Some(w) = spans.windows(2).find(|w| w[0].1 > w[1].0) {
        return Err(p.err(
            &maps[w[1].2].name,
            format!("overlaps map '{}' in .maps", maps[w[0].2].name),
        ));
    }
    Ok(())
}

fn internal_map(
    btf: Option<&Btf>,
    kind_: MapKind,
    real_name: String,
    sec_idx: usize,
    initial: Vec<u8>,
    value_id: u32,
) -> MapDef {
    let mut flags = if matches!(kind_, MapKind::Rodata | MapKind::Kconfig) {
        map_flags::RDONLY_PROG
    } else {
        0
    };
    if let Some(b) = btf {
        if is_mmapable(b, value_id) {
            flags |= map_flags::MMAPABLE;
        }
    }
    MapDef {
        name: real_name,
        kind: kind_,
        sec_idx,
        sec_offset: 0,
        btf_var_idx: 0,
        map_type: map_type::ARRAY,
        key_size: 4,
        value_size: initial.len() as u32,
        max_entries: 1,
        map_flags: flags,
        map_extra: 0,
        numa_node: 0,
        btf_key_type_id: 0,
        btf_value_type_id: value_id,
        inner: None,
        init_slots: Vec::new(),
        initial,
        pinning: 0,
    }
}

/// libbpf's `map_is_mmapable`: a DATASEC with at least one non-static VAR.
pub(crate) fn is_mmapable(btf: &Btf, value_id: u32) -> bool {
    let Some(t) = btf.ty(value_id).filter(|t| t.kind() == kind::DATASEC) else {
        return false;
    };
    (0..t.vlen()).any(|i| {
        let v = btf.datasec_entry(&t, i).0;
        btf.ty(v)
            .is_some_and(|vt| vt.kind() == kind::VAR && btf.u32(&vt, 0) != btf::VAR_STATIC)
    })
}

/// libbpf's `bpf_object__collect_map_relos` (`.values` initialisers).
pub(crate) fn collect_map_relos(ctx: &Ctx, obj: &mut Object, ri: usize) -> Result<(), Error> {
    let rel = &obj.sections[ri];
    let entries: Vec<(u64, u64)> = rel
        .data
        .chunks_exact(16)
        .map(|e| {
            (
                u64::from_le_bytes(e[0..8].try_into().expect("8")),
                u64::from_le_bytes(e[8..16].try_into().expect("8")),
            )
        })
        .collect();
    let maps_shndx = obj.maps_shndx.expect("relo targets .maps");
    let btf = obj.btf.as_ref().expect(".maps needs BTF");
    let sec_id = btf
        .find_by_name_kind(".maps", Some(kind::DATASEC))
        .expect("checked in init_maps");
    let st = btf.ty(sec_id).expect("id");
    let bad = |m: String| {
        ctx.err(
            Stage::Maps,
            ErrorKind::Malformed,
            Some(".rel.maps"),
            m,
            "check the .values initialisers of map-in-map / prog-array maps",
        )
    };
    // User maps of `.maps` by (disjoint, see `check_disjoint`) variable span, and by name.
    let mut spans: Vec<(u64, u64, usize)> = Vec::new();
    let mut map_by_name: HashMap<&str, usize> = HashMap::new();
    for (mi, m) in obj.maps.iter().enumerate() {
        if m.kind != MapKind::User {
            continue;
        }
        map_by_name.entry(m.name.as_str()).or_insert(mi);
        if m.sec_idx == maps_shndx {
            let (_, off, size) = btf.datasec_entry(&st, m.btf_var_idx);
            spans.push((u64::from(off), u64::from(off) + u64::from(size), mi));
        }
    }
    spans.sort_unstable();
    let mut prog_by_name: HashMap<&str, usize> = HashMap::new();
    for (pi, p) in obj.progs.iter().enumerate() {
        if !obj.is_subprog(p) {
            prog_by_name.entry(p.name.as_str()).or_insert(pi);
        }
    }
    let mut updates = Vec::new();
    for (i, (r_offset, r_info)) in entries.into_iter().enumerate() {
        let Some(sym) = obj.symbols.get((r_info >> 32) as usize) else {
            return Err(bad(format!(".maps relo #{i}: symbol not found")));
        };
        let sym_name = obj.sym_name(sym);
        let name: &str = if sym_name.is_empty() {
            "<?>"
        } else {
            &sym_name
        };
        // The last span starting at or before r_offset is the only candidate.
        let found = r_offset.checked_add(8).and_then(|r_end| {
            let n = spans.partition_point(|s| s.0 <= r_offset);
            let &(_, end, mi) = spans.get(n.checked_sub(1)?)?;
            (r_end <= end).then_some(mi)
        });
        let Some(mi) = found else {
            return Err(bad(format!(
                ".maps relo #{i}: cannot find map '{name}' at offset {r_offset}"
            )));
        };
        let map = &obj.maps[mi];
        let target = if map.is_map_in_map() {
            if sym.shndx as usize != maps_shndx {
                return Err(bad(format!(
                    ".maps relo #{i}: '{name}' isn't a BTF-defined map"
                )));
            }
            if map.map_type == map_type::HASH_OF_MAPS && map.key_size != 4 {
                return Err(bad(format!(
                    "hash-of-maps '{}' should have key size 4",
                    map.name
                )));
            }
            let Some(&t) = map_by_name.get(name) else {
                return Err(bad(format!(
                    ".maps relo #{i}: '{name}' isn't a valid map reference"
                )));
            };
            SlotTarget::Map(t)
        } else if map.map_type == map_type::PROG_ARRAY {
            let Some(&t) = prog_by_name.get(name) else {
                return Err(bad(format!(
                    ".maps relo #{i}: '{name}' isn't a valid program reference"
                )));
            };
            let p = &obj.progs[t];
            if p.sec_idx != sym.shndx as usize || (p.sec_insn_off as u64) * 8 != sym.value {
                return Err(bad(format!(
                    ".maps relo #{i}: '{name}' isn't an entry-point program"
                )));
            }
            SlotTarget::Prog(t)
        } else {
            return Err(bad(format!(
                ".maps relo #{i}: map '{}' cannot have .values",
                map.name
            )));
        };
        let (vtype, voff, _) = btf.datasec_entry(&st, map.btf_var_idx);
        let var = btf.ty(vtype).expect("checked");
        let def = btf
            .ty(btf.skip_mods_and_typedefs(var.size_or_type))
            .expect("checked");
        if def.vlen() == 0 {
            return Err(bad(format!("map '{}': empty definition", map.name)));
        }
        let last = def.vlen() - 1;
        if btf.str_at(btf.u32(&def, last * 3)) != Some("values") {
            return Err(bad(format!(
                "map '{}': last member is not 'values'",
                map.name
            )));
        }
        let raw = btf.u32(&def, last * 3 + 2);
        let moff = (if def.kflag() { raw & 0xff_ffff } else { raw } / 8) as u64;
        if r_offset - (voff as u64) < moff {
            return Err(bad(format!(
                "map '{}': relocation before 'values'",
                map.name
            )));
        }
        let moff = r_offset - voff as u64 - moff;
        if !moff.is_multiple_of(8) {
            return Err(bad(format!("map '{}': misaligned 'values' slot", map.name)));
        }
        updates.push((mi, (moff / 8) as usize, target));
    }
    for (mi, slot, target) in updates {
        let m = &mut obj.maps[mi];
        if slot >= m.init_slots.len() {
            if slot > 1 << 20 {
                return Err(bad(format!("map '{}': slot {slot} too large", m.name)));
            }
            m.init_slots.resize(slot + 1, None);
        }
        m.init_slots[slot] = Some(target);
    }
    Ok(())
}
