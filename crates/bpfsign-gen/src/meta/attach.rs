//! How a program attaches, from its section name: libbpf's auto-attach rules (`attach_kprobe`,
//! `attach_ksyscall`, `attach_kprobe_multi`, `attach_uprobe`, `attach_uprobe_multi`,
//! `attach_tp`, `attach_raw_tp`, `attach_trace`, `attach_lsm`, `attach_iter` of libbpf.c).
//!
//! A section without a target (`kprobe`, `uprobe`, `tp`, `xdp`, `tc`, `cgroup_skb/ingress`, …)
//! is [`AttachKind::Manual`]: libbpf does not auto-attach it either. A section whose target
//! libbpf's auto-attach rejects (`kprobe/+1`, `uprobe/bin` without `:func`, `tp/cat`,
//! `kretprobe/f+8`) still loads in libbpf (only its skeleton attach fails); here it is
//! [`AttachKind::Manual`] too, so the object still builds and loads, the generated `attach()`
//! leaves the program out, and the program's explicit attach methods work.
//! [`parse_target`] tells why a target was rejected.
//!
//! Not auto-attached here (so [`AttachKind::Manual`]): USDT (`usdt/...`), `kprobe.session`,
//! `uprobe.session`.

use bpfsign_abi::{attach_type, prog_type};

use super::AttachKind;
use crate::parse::secdef::SecDef;

/// The attach kind of a program in section `sec_name` matched by `def`, loaded as `prog_type`
/// with expected attach type `eat`; a malformed target gives [`AttachKind::Manual`].
pub(crate) fn attach_kind(
    def: Option<&SecDef>,
    sec_name: &str,
    prog_type_: u32,
    eat: u32,
) -> AttachKind {
    parse_target(def, sec_name, prog_type_, eat).unwrap_or(AttachKind::Manual)
}

/// [`attach_kind`], or why libbpf's auto-attach would reject the section's target.
pub(crate) fn parse_target(
    def: Option<&SecDef>,
    sec_name: &str,
    prog_type_: u32,
    eat: u32,
) -> Result<AttachKind, String> {
    let target = sec_name.split_once('/').map(|(_, t)| t.to_string());
    match prog_type_ {
        prog_type::RAW_TRACEPOINT => {
            return Ok(match target {
                Some(t) => AttachKind::RawTracepoint { tp_name: Some(t) },
                None => AttachKind::Manual,
            })
        }
        prog_type::TRACING | prog_type::LSM if eat == attach_type::TRACE_ITER => {
            return Ok(AttachKind::Iter)
        }
        prog_type::TRACING | prog_type::LSM => {
            return Ok(AttachKind::RawTracepoint { tp_name: None })
        }
        prog_type::KPROBE | prog_type::TRACEPOINT => {}
        _ => return Ok(AttachKind::Manual),
    }
    let Some(def) = def else {
        return Ok(AttachKind::Manual);
    };
    // The section's kind (`kprobe`, `uretprobe.s`, `tp`, ...) and its target after the `/`.
    let base = def.sec.trim_end_matches('+');
    let Some(rest) = sec_name.strip_prefix(base) else {
        return Ok(AttachKind::Manual);
    };
    let spec = match rest.strip_prefix('/') {
        Some(s) => s,
        // `kprobe`, `uprobe.multi`, `tp`: valid, but nothing to attach to automatically.
        None => return Ok(AttachKind::Manual),
    };
    match base {
        "kprobe" | "kretprobe" => {
            let retprobe = base == "kretprobe";
            let (func, offset) = parse_func_offset(spec, |c| {
                c.is_ascii_alphanumeric() || c == '_' || c == '.'
            })
            .ok_or_else(|| {
                format!(
                    "kprobe target {spec:?} is not FUNC[+OFFSET] (a kernel symbol of [A-Za-z0-9_.] and an optional +offset)"
                )
            })?;
            if retprobe && offset != 0 {
                return Err(format!(
                    "kretprobe target {spec:?} has an offset; return probes attach at the function entry only"
                ));
            }
            Ok(AttachKind::Kprobe {
                func,
                offset,
                retprobe,
            })
        }
        "ksyscall" | "kretsyscall" => {
            if spec.is_empty() || !spec.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "ksyscall target {spec:?} is not a system call name (like `getpid`)"
                ));
            }
            Ok(AttachKind::Ksyscall {
                name: spec.to_string(),
                retprobe: base == "kretsyscall",
            })
        }
        "kprobe.multi" | "kretprobe.multi" => {
            let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '*' | '?');
            if spec.is_empty() || !spec.chars().all(ok) {
                return Err(format!(
                    "kprobe.multi pattern {spec:?} is not a glob of [A-Za-z0-9_.*?]"
                ));
            }
            Ok(AttachKind::KprobeMulti {
                pattern: spec.to_string(),
                retprobe: base == "kretprobe.multi",
            })
        }
        "uprobe" | "uretprobe" | "uprobe.s" | "uretprobe.s" => {
            let retprobe = base.starts_with("uret");
            let (path, func) = split_path_func(spec, "FUNC[+OFFSET]")?;
            // Like libbpf: a trailing `+OFFSET` that parses to the end is the offset;
            // otherwise the whole text is the symbol.
            let (func, offset) = match func.rfind('+') {
                Some(i) => match parse_c_long(&func[i + 1..]) {
                    Some(off) => (func[..i].to_string(), off),
                    None => (func.to_string(), 0),
                },
                None => (func.to_string(), 0),
            };
            if retprobe && offset != 0 {
                return Err(format!(
                    "uretprobe target {spec:?} has an offset; return probes attach at the function entry only"
                ));
            }
            Ok(AttachKind::Uprobe {
                path: path.to_string(),
                func,
                offset,
                retprobe,
            })
        }
        "uprobe.multi" | "uretprobe.multi" | "uprobe.multi.s" | "uretprobe.multi.s" => {
            let (path, pattern) = split_path_func(spec, "PATTERN")?;
            Ok(AttachKind::UprobeMulti {
                path: path.to_string(),
                pattern: pattern.to_string(),
                retprobe: base.starts_with("uret"),
            })
        }
        "tracepoint" | "tp" | "tracepoint.s" | "tp.s" => match spec.split_once('/') {
            Some((cat, name)) if !cat.is_empty() && !name.is_empty() && !name.contains('/') => {
                Ok(AttachKind::Tracepoint {
                    category: cat.to_string(),
                    name: name.to_string(),
                })
            }
            _ => Err(format!(
                "tracepoint target {spec:?} is not CATEGORY/NAME (like `syscalls/sys_enter_getpid`)"
            )),
        },
        _ => Ok(AttachKind::Manual),
    }
}

/// `PATH:REST` of an uprobe section; both parts non-empty.
fn split_path_func<'s>(spec: &'s str, what: &str) -> Result<(&'s str, &'s str), String> {
    match spec.split_once(':') {
        Some((path, rest)) if !path.is_empty() && !rest.is_empty() && !rest.contains('\n') => {
            Ok((path, rest))
        }
        Some(("", _)) => Err(format!("uprobe target {spec:?} has an empty binary path")),
        _ => Err(format!(
            "uprobe target {spec:?} is missing the `:{what}` part (expected PATH:{what})"
        )),
    }
}

/// `NAME[+OFFSET]` where NAME is a non-empty run of `name_char` and OFFSET a C integer.
fn parse_func_offset(spec: &str, name_char: impl Fn(char) -> bool) -> Option<(String, u64)> {
    let end = spec.find(|c| !name_char(c)).unwrap_or(spec.len());
    let (name, rest) = spec.split_at(end);
    if name.is_empty() {
        return None;
    }
    let offset = match rest.strip_prefix('+') {
        Some(off) => parse_c_long(off)?,
        None if rest.is_empty() => 0,
        None => return None,
    };
    Some((name.to_string(), offset))
}

/// A non-negative integer as C's `%li` reads it: decimal, `0x` hex or leading-`0` octal.
fn parse_c_long(s: &str) -> Option<u64> {
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::secdef::find_sec_def;

    fn kind(sec: &str) -> Result<AttachKind, String> {
        let def = find_sec_def(sec).unwrap_or_else(|| panic!("no sec def for {sec}"));
        let k = parse_target(Some(def), sec, def.prog_type, def.attach);
        // Malformed targets are left for explicit attach.
        assert_eq!(
            attach_kind(Some(def), sec, def.prog_type, def.attach),
            k.clone().unwrap_or(AttachKind::Manual)
        );
        k
    }

    fn s(x: &str) -> String {
        x.to_string()
    }

    #[test]
    fn kprobes() {
        assert_eq!(
            kind("kprobe/do_unlinkat").unwrap(),
            AttachKind::Kprobe {
                func: s("do_unlinkat"),
                offset: 0,
                retprobe: false
            }
        );
        assert_eq!(
            kind("kprobe/foo.isra.0+0x10").unwrap(),
            AttachKind::Kprobe {
                func: s("foo.isra.0"),
                offset: 16,
                retprobe: false
            }
        );
        assert_eq!(
            kind("kprobe/f+010").unwrap(),
            AttachKind::Kprobe {
                func: s("f"),
                offset: 8,
                retprobe: false
            }
        );
        assert_eq!(
            kind("kretprobe/do_exit").unwrap(),
            AttachKind::Kprobe {
                func: s("do_exit"),
                offset: 0,
                retprobe: true
            }
        );
        assert_eq!(kind("kprobe").unwrap(), AttachKind::Manual);
        assert_eq!(kind("kretprobe").unwrap(), AttachKind::Manual);
        for bad in [
            "kprobe/",
            "kprobe/+4",
            "kprobe/f+",
            "kprobe/f+x",
            "kprobe/f g",
            "kretprobe/f+8",
        ] {
            assert!(kind(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ksyscalls_and_kprobe_multi() {
        assert_eq!(
            kind("ksyscall/getpid").unwrap(),
            AttachKind::Ksyscall {
                name: s("getpid"),
                retprobe: false
            }
        );
        assert_eq!(
            kind("kretsyscall/openat").unwrap(),
            AttachKind::Ksyscall {
                name: s("openat"),
                retprobe: true
            }
        );
        assert_eq!(kind("ksyscall").unwrap(), AttachKind::Manual);
        assert!(kind("ksyscall/").is_err());
        assert!(kind("ksyscall/a-b").is_err());
        assert_eq!(
            kind("kprobe.multi/__x64_sys_get*").unwrap(),
            AttachKind::KprobeMulti {
                pattern: s("__x64_sys_get*"),
                retprobe: false
            }
        );
        assert_eq!(
            kind("kretprobe.multi/vfs_rea?").unwrap(),
            AttachKind::KprobeMulti {
                pattern: s("vfs_rea?"),
                retprobe: true
            }
        );
        assert_eq!(kind("kprobe.multi").unwrap(), AttachKind::Manual);
        assert!(kind("kprobe.multi/").is_err());
        assert!(kind("kprobe.multi/a[bc]").is_err());
        // Not auto-attached by bpfsign.
        assert_eq!(kind("kprobe.session/f*").unwrap(), AttachKind::Manual);
    }

    #[test]
    fn uprobes() {
        assert_eq!(
            kind("uprobe//usr/bin/bash:readline").unwrap(),
            AttachKind::Uprobe {
                path: s("/usr/bin/bash"),
                func: s("readline"),
                offset: 0,
                retprobe: false
            }
        );
        assert_eq!(
            kind("uretprobe.s/libc.so.6:malloc").unwrap(),
            AttachKind::Uprobe {
                path: s("libc.so.6"),
                func: s("malloc"),
                offset: 0,
                retprobe: true
            }
        );
        assert_eq!(
            kind("uprobe/bin:f+0x20").unwrap(),
            AttachKind::Uprobe {
                path: s("bin"),
                func: s("f"),
                offset: 0x20,
                retprobe: false
            }
        );
        // A file offset without symbol.
        assert_eq!(
            kind("uprobe/bin:+0x1000").unwrap(),
            AttachKind::Uprobe {
                path: s("bin"),
                func: s(""),
                offset: 0x1000,
                retprobe: false
            }
        );
        // `+` not followed by a number to the end: part of the symbol, as in libbpf.
        assert_eq!(
            kind("uprobe/bin:operator+x").unwrap(),
            AttachKind::Uprobe {
                path: s("bin"),
                func: s("operator+x"),
                offset: 0,
                retprobe: false
            }
        );
        assert_eq!(kind("uprobe").unwrap(), AttachKind::Manual);
        assert_eq!(kind("uretprobe.s").unwrap(), AttachKind::Manual);
        for bad in [
            "uprobe/bin",
            "uprobe/bin:",
            "uprobe/:f",
            "uretprobe/bin:f+8",
            "uprobe.multi/bin",
        ] {
            assert!(kind(bad).is_err(), "{bad}");
        }
        assert_eq!(
            kind("uprobe.multi//proc/self/exe:uprobe_*").unwrap(),
            AttachKind::UprobeMulti {
                path: s("/proc/self/exe"),
                pattern: s("uprobe_*"),
                retprobe: false
            }
        );
        assert_eq!(
            kind("uretprobe.multi.s/bin:f?").unwrap(),
            AttachKind::UprobeMulti {
                path: s("bin"),
                pattern: s("f?"),
                retprobe: true
            }
        );
        assert_eq!(kind("uprobe.multi").unwrap(), AttachKind::Manual);
        assert_eq!(kind("usdt/bin:p:n").unwrap(), AttachKind::Manual);
    }

    #[test]
    fn tracepoints_and_others() {
        for sec in [
            "tracepoint/syscalls/sys_enter_getpid",
            "tp/syscalls/sys_enter_getpid",
        ] {
            assert_eq!(
                kind(sec).unwrap(),
                AttachKind::Tracepoint {
                    category: s("syscalls"),
                    name: s("sys_enter_getpid")
                }
            );
        }
        assert_eq!(kind("tp").unwrap(), AttachKind::Manual);
        assert_eq!(kind("tracepoint").unwrap(), AttachKind::Manual);
        for bad in ["tp/sched", "tp/sched/", "tp//x", "tp/a/b/c"] {
            assert!(kind(bad).is_err(), "{bad}");
        }
        assert_eq!(kind("xdp").unwrap(), AttachKind::Manual);
        assert_eq!(kind("tc").unwrap(), AttachKind::Manual);
        assert_eq!(kind("cgroup_skb/ingress").unwrap(), AttachKind::Manual);
        assert_eq!(
            kind("raw_tp/sys_enter").unwrap(),
            AttachKind::RawTracepoint {
                tp_name: Some(s("sys_enter"))
            }
        );
        assert_eq!(
            kind("fentry/do_unlinkat").unwrap(),
            AttachKind::RawTracepoint { tp_name: None }
        );
    }
}
