//! Applies the build configuration ([`GenOptions::globals`], [`GenOptions::max_entries`]) to a
//! parsed [`Object`]: new initial values go into the global-data maps' initial bytes (and so
//! into the data blob), new `max_entries` into the map definitions. Every value is checked
//! against the object's BTF first.

use super::btf::{self, kind, Btf};
use super::{MapKind, Object};
use crate::error::{ConfigError, Ctx, Error, ErrorKind, Stage};
use crate::options::{GenOptions, GlobalValue};

/// `BTF_INT_SIGNED`.
const INT_SIGNED: u32 = 1;
/// `BTF_INT_BOOL`.
const INT_BOOL: u32 = 4;

fn config_error(file: &str, section: Option<&str>, e: ConfigError, hint: &str) -> Error {
    Ctx::new(file).err(
        Stage::Config,
        ErrorKind::Config(Box::new(e.clone())),
        section,
        e.to_string(),
        hint,
    )
}

/// The object with the configuration applied, or `None` when the configuration sets nothing
/// (the object is then used as parsed).
pub(crate) fn apply(obj: &Object, opts: &GenOptions) -> Result<Option<Object>, Error> {
    if opts.globals.is_empty() && opts.max_entries.is_empty() {
        return Ok(None);
    }
    let mut out = obj.clone();
    for (map, &n) in &opts.max_entries {
        set_max_entries(&mut out, map, n)?;
    }
    for (name, value) in &opts.globals {
        set_global(&mut out, name, value)?;
    }
    Ok(Some(out))
}

fn set_max_entries(obj: &mut Object, map: &str, n: u32) -> Result<(), Error> {
    let file = obj.file.clone();
    let Some(m) = obj.maps.iter_mut().find(|m| m.name == map) else {
        let mut known: Vec<String> = obj
            .maps
            .iter()
            .filter(|m| m.kind == MapKind::User)
            .map(|m| m.name.clone())
            .collect();
        known.sort();
        return Err(config_error(
            &file,
            Some(".maps"),
            ConfigError::UnknownMap {
                name: map.to_string(),
                known,
            },
            "name a map declared in the object's SEC(\".maps\")",
        ));
    };
    if m.kind != MapKind::User {
        return Err(config_error(
            &file,
            Some(&m.name.clone()),
            ConfigError::BadMaxEntries {
                map: map.to_string(),
                reason: "a global data section is a map of exactly one entry".to_string(),
            },
            "set max_entries of BTF-defined maps only",
        ));
    }
    if n == 0 {
        return Err(config_error(
            &file,
            Some(".maps"),
            ConfigError::BadMaxEntries {
                map: map.to_string(),
                reason: "0 entries".to_string(),
            },
            "give at least 1 (a perf event array's CPU count is the cpu count option)",
        ));
    }
    m.max_entries = n;
    Ok(())
}

/// Where a global variable lives: map index, offset and size in the map value, BTF type.
struct VarLoc {
    map: usize,
    offset: u32,
    size: u32,
    ty: u32,
}

fn find_var(obj: &Object, btf: &Btf, name: &str) -> (Option<VarLoc>, Vec<String>) {
    let mut known = Vec::new();
    let mut found = None;
    for (i, m) in obj.maps.iter().enumerate() {
        if !matches!(m.kind, MapKind::Data | MapKind::Bss | MapKind::Rodata) {
            continue;
        }
        let Some(t) = btf
            .ty(m.btf_value_type_id)
            .filter(|t| t.kind() == kind::DATASEC)
        else {
            continue;
        };
        for j in 0..t.vlen() {
            let (vtype, offset, size) = btf.datasec_entry(&t, j);
            let Some(vt) = btf.ty(vtype).filter(|v| v.kind() == kind::VAR) else {
                continue;
            };
            if btf.u32(&vt, 0) == btf::VAR_STATIC {
                continue;
            }
            if u64::from(offset) + u64::from(size) > m.initial.len() as u64 {
                continue;
            }
            let var_name = btf.name(vtype);
            known.push(var_name.to_string());
            if var_name == name && found.is_none() {
                found = Some(VarLoc {
                    map: i,
                    offset,
                    size,
                    ty: vt.size_or_type,
                });
            }
        }
    }
    known.sort();
    known.dedup();
    (found, known)
}

/// The C spelling of a type for messages (`u32`, `s8`, `bool`, `char[16]`, `enum e`, …).
fn describe(btf: &Btf, id: u32) -> String {
    let id = btf.skip_mods_and_typedefs(id);
    let Some(t) = btf.ty(id) else {
        return "an unknown type".to_string();
    };
    let named = |what: &str| {
        let n = btf.name(id);
        if n.is_empty() {
            format!("{what} (anonymous)")
        } else {
            format!("{what} {n}")
        }
    };
    match t.kind() {
        kind::INT => {
            let enc = btf.u32(&t, 0) >> 24;
            if enc & INT_BOOL != 0 {
                "bool".to_string()
            } else {
                let sign = if enc & INT_SIGNED != 0 { 's' } else { 'u' };
                format!("{sign}{}", t.size_or_type * 8)
            }
        }
        kind::ENUM | kind::ENUM64 => named("enum"),
        kind::STRUCT => named("struct"),
        kind::UNION => named("union"),
        kind::PTR => "a pointer".to_string(),
        kind::FLOAT => format!("float of {} bytes", t.size_or_type),
        kind::ARRAY => {
            let elem = btf.u32(&t, 0);
            format!("{}[{}]", describe(btf, elem), btf.u32(&t, 2))
        }
        _ => "a type".to_string(),
    }
}

/// Integer range of a type: `(signed, bits, is_bool)`, or `None` when it is not an integer.
fn int_shape(btf: &Btf, id: u32) -> Option<(bool, u32, bool)> {
    let t = btf.ty(btf.skip_mods_and_typedefs(id))?;
    match t.kind() {
        kind::INT => {
            let enc = btf.u32(&t, 0) >> 24;
            let size = t.size_or_type;
            if !matches!(size, 1 | 2 | 4 | 8 | 16) {
                return None;
            }
            Some((enc & INT_SIGNED != 0, size * 8, enc & INT_BOOL != 0))
        }
        kind::ENUM | kind::ENUM64 => {
            let size = t.size_or_type;
            if !matches!(size, 1 | 2 | 4 | 8) {
                return None;
            }
            Some((t.kflag(), size * 8, false))
        }
        _ => None,
    }
}

/// Whether `id` is an array of 1-byte integers (`char[N]`); returns `N`.
fn char_array(btf: &Btf, id: u32) -> Option<u32> {
    let t = btf.ty(btf.skip_mods_and_typedefs(id))?;
    if t.kind() != kind::ARRAY {
        return None;
    }
    let elem = btf.ty(btf.skip_mods_and_typedefs(btf.u32(&t, 0)))?;
    (elem.kind() == kind::INT && elem.size_or_type == 1).then(|| btf.u32(&t, 2))
}

fn fits(value: i128, signed: bool, bits: u32, is_bool: bool) -> bool {
    if is_bool {
        return value == 0 || value == 1;
    }
    if signed {
        let min = -(1i128 << (bits - 1));
        let max = (1i128 << (bits - 1)) - 1;
        (min..=max).contains(&value)
    } else if bits >= 128 {
        value >= 0
    } else {
        (0..=(1i128 << bits) - 1).contains(&value)
    }
}

/// The bytes `value` gives variable `name` of BTF type `ty` and `size` bytes.
fn encode(
    btf: &Btf,
    name: &str,
    ty: u32,
    size: u32,
    value: &GlobalValue,
) -> Result<Vec<u8>, ConfigError> {
    let size64 = u64::from(size);
    let wrong_type = || ConfigError::WrongType {
        name: name.to_string(),
        ty: describe(btf, ty),
        value: value.describe(),
    };
    match value {
        GlobalValue::Bytes(b) => {
            if b.len() as u64 != size64 {
                return Err(ConfigError::WrongSize {
                    name: name.to_string(),
                    expected: size64,
                    got: b.len() as u64,
                });
            }
            Ok(b.clone())
        }
        GlobalValue::Int(_) | GlobalValue::Bool(_) => {
            let Some((signed, bits, is_bool)) = int_shape(btf, ty) else {
                return Err(wrong_type());
            };
            if u64::from(bits / 8) != size64 {
                return Err(wrong_type());
            }
            let v = match value {
                GlobalValue::Int(v) => *v,
                _ => i128::from(matches!(value, GlobalValue::Bool(true))),
            };
            if !fits(v, signed, bits, is_bool) {
                return Err(ConfigError::OutOfRange {
                    name: name.to_string(),
                    value: v,
                    ty: describe(btf, ty),
                });
            }
            Ok(v.to_le_bytes()[..size as usize].to_vec())
        }
        GlobalValue::Str(s) => {
            let Some(n) = char_array(btf, ty).filter(|&n| u64::from(n) == size64) else {
                return Err(wrong_type());
            };
            let got = s.len() as u64 + 1;
            if got > u64::from(n) {
                return Err(ConfigError::WrongSize {
                    name: name.to_string(),
                    expected: u64::from(n),
                    got,
                });
            }
            let mut out = vec![0u8; n as usize];
            out[..s.len()].copy_from_slice(s.as_bytes());
            Ok(out)
        }
    }
}

fn set_global(obj: &mut Object, name: &str, value: &GlobalValue) -> Result<(), Error> {
    let file = obj.file.clone();
    if obj.externs.iter().any(|e| e.name == name) {
        return Err(config_error(
            &file,
            Some(".kconfig"),
            ConfigError::KconfigExtern {
                name: name.to_string(),
            },
            "set .kconfig externs with the kconfig option, LINUX_KERNEL_VERSION with the kernel version option",
        ));
    }
    let Some(btf) = obj.btf.as_ref() else {
        return Err(config_error(
            &file,
            None,
            ConfigError::UnknownVariable {
                name: name.to_string(),
                known: Vec::new(),
            },
            "the object has no .BTF: compile it with -g so global variables are described",
        ));
    };
    let (loc, known) = find_var(obj, btf, name);
    let Some(loc) = loc else {
        return Err(config_error(
            &file,
            None,
            ConfigError::UnknownVariable {
                name: name.to_string(),
                known,
            },
            "name a non-static global variable of .data*, .rodata* or .bss*",
        ));
    };
    let section = obj.maps[loc.map].name.clone();
    let bytes = encode(btf, name, loc.ty, loc.size, value).map_err(|e| {
        config_error(
            &file,
            Some(&section),
            e,
            "give a value of the variable's type and size",
        )
    })?;
    let start = loc.offset as usize;
    obj.maps[loc.map].initial[start..start + bytes.len()].copy_from_slice(&bytes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_ranges() {
        assert!(fits(255, false, 8, false));
        assert!(!fits(256, false, 8, false));
        assert!(!fits(-1, false, 64, false));
        assert!(fits(u64::MAX.into(), false, 64, false));
        assert!(!fits(i128::from(u64::MAX) + 1, false, 64, false));
        assert!(fits(-128, true, 8, false));
        assert!(!fits(-129, true, 8, false));
        assert!(!fits(128, true, 8, false));
        assert!(fits(i64::MIN.into(), true, 64, false));
        assert!(fits(1, false, 8, true));
        assert!(!fits(2, false, 8, true));
    }
}
