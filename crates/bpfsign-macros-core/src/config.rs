//! The build-configuration arguments of the macro: initial values of global variables,
//! `max_entries` per map, `.kconfig` values, kernel version, page size and CPU count. They
//! become [`bpfsign_gen::GenOptions`] before the object is generated and signed, so the
//! values are part of the signed loader and of what is verified at expansion.
//!
//! ```text
//! rodata = { target_pid: 42, threshold: 7u64, name: "abc" }   // variables of .rodata*
//! data = { limit: -1 }  bss = { seed: b"\x01\x02" }           // .data* / .bss*
//! globals = { any_var: true }                                 // any section
//! max_entries = { events: 1 << 20 }
//! kconfig = { CONFIG_HZ: 250, CONFIG_PREEMPT: y, CONFIG_LOCALVERSION: "-x" }
//! kernel_version = "6.18.0"   page_size = 4096   cpus = 8
//! ```
//!
//! Integer values are constant expressions of integer literals with `-`, `+`, `*`, `<<`, `>>`,
//! `|`, `&` and parentheses, evaluated here without overflow (a literal's suffix, if any, must
//! hold the literal); the generator then checks the value against the variable's BTF type.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::spanned::Spanned;
use syn::{BinOp, Expr, Ident, Lit, Token, UnOp};

use bpfsign_gen::{ConfigError, GenOptions, GlobalValue};

/// Argument names of the build configuration.
pub(crate) const CONFIG_ARGS: &[&str] = &[
    "rodata",
    "data",
    "bss",
    "globals",
    "max_entries",
    "kconfig",
    "kernel_version",
    "page_size",
    "cpus",
];

/// Which sections a group of global values may address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// `rodata = { … }`: `.rodata*` variables.
    Rodata,
    /// `data = { … }`: `.data*` variables.
    Data,
    /// `bss = { … }`: `.bss*` variables.
    Bss,
    /// `globals = { … }`: a variable of any global-data section.
    Any,
}

impl Group {
    fn arg(self) -> &'static str {
        match self {
            Group::Rodata => "rodata",
            Group::Data => "data",
            Group::Bss => "bss",
            Group::Any => "globals",
        }
    }

    /// Whether a variable of ELF section `section` belongs to the group.
    fn holds(self, section: &str) -> bool {
        let is = |base: &str| {
            section == base
                || section
                    .strip_prefix(base)
                    .is_some_and(|rest| rest.starts_with('.'))
        };
        match self {
            Group::Rodata => is(".rodata"),
            Group::Data => is(".data"),
            Group::Bss => is(".bss"),
            Group::Any => true,
        }
    }
}

/// One `name: value` entry, with the spans of both for errors.
#[derive(Clone, Debug)]
pub struct Entry<T> {
    /// The name (variable, map or `CONFIG_*`).
    pub name: String,
    /// Where the name is written.
    pub name_span: Span,
    /// The value.
    pub value: T,
    /// Where the value is written.
    pub value_span: Span,
}

/// The build configuration given to the macro (empty by default).
#[derive(Clone, Debug, Default)]
pub struct MacroConfig {
    /// Initial values of global variables, with the group that named them.
    pub globals: Vec<(Group, Entry<GlobalValue>)>,
    /// `max_entries` per map.
    pub max_entries: Vec<Entry<u32>>,
    /// `.kconfig` values, as `.config` text (`y`, `250`, `"str"`).
    pub kconfig: Vec<Entry<String>>,
    /// `kernel_version = "6.18.0"`: the encoded version and its span.
    pub kernel_version: Option<(u32, Span)>,
    /// `page_size = 4096`.
    pub page_size: Option<(u32, Span)>,
    /// `cpus = 8`.
    pub cpus: Option<(u32, Span)>,
    /// The first configuration argument, for errors about the configuration as a whole.
    pub first: Option<Span>,
}

fn error(span: Span, msg: impl std::fmt::Display) -> syn::Error {
    syn::Error::new(span, format!("bpfsign: {msg}"))
}

/// Evaluates a constant integer expression (see the module docs).
fn eval_int(e: &Expr) -> syn::Result<i128> {
    let overflow = || error(e.span(), "the value overflows");
    match e {
        Expr::Lit(l) => match &l.lit {
            Lit::Int(i) => {
                let v: i128 = i
                    .base10_parse()
                    .map_err(|_| error(i.span(), "the integer does not fit 128 bits"))?;
                let range: Option<(i128, i128)> = match i.suffix() {
                    "" => None,
                    "u8" => Some((0, u8::MAX.into())),
                    "u16" => Some((0, u16::MAX.into())),
                    "u32" => Some((0, u32::MAX.into())),
                    "u64" | "usize" => Some((0, u64::MAX.into())),
                    "i8" => Some((i8::MIN.into(), i8::MAX.into())),
                    "i16" => Some((i16::MIN.into(), i16::MAX.into())),
                    "i32" => Some((i32::MIN.into(), i32::MAX.into())),
                    // A negative literal is `-` applied to the positive one: allow MIN's magnitude.
                    "i64" | "isize" => Some((i64::MIN.into(), 1i128 << 63)),
                    other => {
                        return Err(error(
                            i.span(),
                            format!("unsupported integer suffix `{other}`"),
                        ))
                    }
                };
                if let Some((lo, hi)) = range {
                    if !(lo..=hi).contains(&v) {
                        return Err(error(
                            i.span(),
                            format!("{v} does not fit its suffix `{}`", i.suffix()),
                        ));
                    }
                }
                Ok(v)
            }
            _ => Err(error(l.span(), "expected an integer")),
        },
        Expr::Paren(p) => eval_int(&p.expr),
        Expr::Group(g) => eval_int(&g.expr),
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => {
            eval_int(&u.expr)?.checked_neg().ok_or_else(overflow)
        }
        Expr::Binary(b) => {
            let (l, r) = (eval_int(&b.left)?, eval_int(&b.right)?);
            let shift = || u32::try_from(r).ok().filter(|s| *s < 127);
            match b.op {
                BinOp::Add(_) => l.checked_add(r),
                BinOp::Sub(_) => l.checked_sub(r),
                BinOp::Mul(_) => l.checked_mul(r),
                BinOp::Shl(_) => shift().and_then(|s| l.checked_shl(s).filter(|v| v >> s == l)),
                BinOp::Shr(_) => shift().map(|s| l >> s),
                BinOp::BitOr(_) => Some(l | r),
                BinOp::BitAnd(_) => Some(l & r),
                _ => {
                    return Err(error(
                        b.op.span(),
                        "only + - * << >> | & are allowed in a value",
                    ))
                }
            }
            .ok_or_else(overflow)
        }
        _ => Err(error(
            e.span(),
            "expected an integer literal or a constant expression of them (e.g. 1 << 20)",
        )),
    }
}

/// A global variable's value: an integer expression, `true`/`false`, a string, a byte string.
fn global_value(e: &Expr) -> syn::Result<GlobalValue> {
    if let Expr::Lit(l) = e {
        match &l.lit {
            Lit::Bool(b) => return Ok(GlobalValue::Bool(b.value)),
            Lit::Str(s) => return Ok(GlobalValue::Str(s.value())),
            Lit::ByteStr(s) => return Ok(GlobalValue::Bytes(s.value())),
            Lit::Int(_) => {}
            _ => {
                return Err(error(
                    l.span(),
                    "expected an integer, a bool, a string or a byte string",
                ))
            }
        }
    }
    eval_int(e).map(GlobalValue::Int)
}

fn u32_value(e: &Expr, what: &str) -> syn::Result<u32> {
    let v = eval_int(e)?;
    u32::try_from(v).map_err(|_| {
        error(
            e.span(),
            format!("{what} must be in 0..=4294967295, got {v}"),
        )
    })
}

/// A `.kconfig` value in `.config` form: an integer, `y`/`m`/`n`, `true`/`false`, a string.
fn kconfig_value(e: &Expr) -> syn::Result<String> {
    match e {
        Expr::Lit(l) => match &l.lit {
            Lit::Bool(b) => return Ok(if b.value { "y" } else { "n" }.to_string()),
            Lit::Str(s) => {
                let v = s.value();
                if v.contains('"') || v.contains('\\') || v.contains('\n') {
                    return Err(error(
                        s.span(),
                        "a kconfig string cannot hold `\"`, `\\` or a newline",
                    ));
                }
                return Ok(format!("\"{v}\""));
            }
            _ => {}
        },
        Expr::Path(p) if p.qself.is_none() => {
            if let Some(id) = p.path.get_ident() {
                let s = id.to_string();
                if matches!(s.as_str(), "y" | "m" | "n") {
                    return Ok(s);
                }
            }
            return Err(error(
                p.span(),
                "expected y, m, n, an integer or a string as a kconfig value",
            ));
        }
        _ => {}
    }
    eval_int(e).map(|v| v.to_string())
}

/// Parses `{ name: value, … }` with `value` read by `f`.
fn parse_entries<T>(
    input: ParseStream<'_>,
    arg: &str,
    f: impl Fn(&Expr) -> syn::Result<T>,
) -> syn::Result<Vec<Entry<T>>> {
    if !input.peek(syn::token::Brace) {
        return Err(input.error(format!(
            "bpfsign: `{arg}` takes a braced list of `name: value`, e.g. {arg} = {{ name: 1 }}"
        )));
    }
    let content;
    syn::braced!(content in input);
    let mut out: Vec<Entry<T>> = Vec::new();
    while !content.is_empty() {
        let id: Ident = content.call(Ident::parse_any).map_err(|e| {
            syn::Error::new(e.span(), format!("bpfsign: expected a name in `{arg}`"))
        })?;
        content.parse::<Token![:]>().map_err(|e| {
            syn::Error::new(e.span(), format!("bpfsign: expected `:` after `{id}`"))
        })?;
        let expr: Expr = content.parse()?;
        let name = id.to_string();
        if out.iter().any(|e| e.name == name) {
            return Err(error(
                id.span(),
                format!("`{name}` is given twice in `{arg}`"),
            ));
        }
        let value = f(&expr)?;
        out.push(Entry {
            name,
            name_span: id.span(),
            value,
            value_span: expr.span(),
        });
        if !content.is_empty() {
            content.parse::<Token![,]>()?;
        }
    }
    Ok(out)
}

impl MacroConfig {
    /// Whether no configuration argument was given.
    pub fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// Parses the value of configuration argument `ident` (one of [`CONFIG_ARGS`]).
    pub(crate) fn parse_arg(&mut self, ident: &Ident, input: ParseStream<'_>) -> syn::Result<()> {
        let arg = ident.to_string();
        self.first.get_or_insert(ident.span());
        let dup = || error(ident.span(), format!("`{arg}` is given twice"));
        let group = match arg.as_str() {
            "rodata" => Some(Group::Rodata),
            "data" => Some(Group::Data),
            "bss" => Some(Group::Bss),
            "globals" => Some(Group::Any),
            _ => None,
        };
        if let Some(group) = group {
            if self.globals.iter().any(|(g, _)| *g == group) {
                return Err(dup());
            }
            for e in parse_entries(input, &arg, global_value)? {
                if let Some((g, _)) = self.globals.iter().find(|(_, o)| o.name == e.name) {
                    return Err(error(
                        e.name_span,
                        format!("`{}` is already given in `{}`", e.name, g.arg()),
                    ));
                }
                self.globals.push((group, e));
            }
            return Ok(());
        }
        match arg.as_str() {
            "max_entries" => {
                if !self.max_entries.is_empty() {
                    return Err(dup());
                }
                self.max_entries = parse_entries(input, &arg, |e| u32_value(e, "max_entries"))?;
            }
            "kconfig" => {
                if !self.kconfig.is_empty() {
                    return Err(dup());
                }
                self.kconfig = parse_entries(input, &arg, kconfig_value)?;
            }
            "kernel_version" => {
                let lit: syn::LitStr = input.parse().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        "bpfsign: `kernel_version` takes a string, e.g. kernel_version = \"6.18.0\"",
                    )
                })?;
                let v = bpfsign_gen::parse_kernel_version(&lit.value())
                    .map_err(|e| error(lit.span(), format!("kernel_version: {e}")))?;
                if self.kernel_version.replace((v, lit.span())).is_some() {
                    return Err(dup());
                }
            }
            _ => {
                let expr: Expr = input.parse()?;
                let v = u32_value(&expr, &arg)?;
                if v == 0 {
                    return Err(error(expr.span(), format!("`{arg}` must not be 0")));
                }
                if arg == "page_size" && (!v.is_power_of_two() || v < 4096) {
                    return Err(error(
                        expr.span(),
                        "`page_size` must be a power of two, at least 4096",
                    ));
                }
                let slot = if arg == "page_size" {
                    &mut self.page_size
                } else {
                    &mut self.cpus
                };
                if slot.replace((v, expr.span())).is_some() {
                    return Err(dup());
                }
            }
        }
        Ok(())
    }

    /// The generator options this configuration gives.
    pub fn gen_options(&self) -> GenOptions {
        let mut o = GenOptions::default();
        for (_, e) in &self.globals {
            o.globals.insert(e.name.clone(), e.value.clone());
        }
        for e in &self.max_entries {
            o.max_entries.insert(e.name.clone(), e.value);
        }
        for e in &self.kconfig {
            o.kconfig.insert(e.name.clone(), e.value.clone());
        }
        o.kernel_version = self.kernel_version.map(|(v, _)| v);
        if let Some((p, _)) = self.page_size {
            o.page_size = p;
        }
        o.possible_cpus = self.cpus.map(|(c, _)| c);
        o
    }

    /// Where to report a generator error about the configuration: the entry it names (the
    /// name when the name is unknown, else the value), or `None` when it is not about one.
    pub(crate) fn span_of(&self, e: &bpfsign_gen::Error) -> Option<Span> {
        let global = |n: &str| self.globals.iter().map(|(_, e)| e).find(|e| e.name == n);
        let map = |n: &str| self.max_entries.iter().find(|e| e.name == n);
        match &e.kind {
            bpfsign_gen::ErrorKind::Config(c) => match c.as_ref() {
                ConfigError::UnknownVariable { name, .. } | ConfigError::KconfigExtern { name } => {
                    global(name).map(|e| e.name_span)
                }
                ConfigError::WrongSize { name, .. }
                | ConfigError::OutOfRange { name, .. }
                | ConfigError::WrongType { name, .. } => global(name).map(|e| e.value_span),
                ConfigError::UnknownMap { name, .. } => map(name).map(|e| e.name_span),
                ConfigError::BadMaxEntries { map: name, .. } => map(name).map(|e| e.value_span),
            },
            _ if e.section.as_deref() == Some(".kconfig") => self
                .kconfig
                .iter()
                .find(|k| e.message.contains(&k.name))
                .map(|k| k.value_span)
                .or_else(|| self.kernel_version.map(|(_, s)| s)),
            _ => None,
        }
    }

    /// Checks that every variable given in `rodata`/`data`/`bss` lives in such a section,
    /// with `sections` mapping each variable of the generated skeleton to its ELF section.
    pub(crate) fn check_groups<'a>(
        &self,
        section_of: impl Fn(&str) -> Option<&'a str>,
    ) -> syn::Result<()> {
        for (group, e) in &self.globals {
            if let Some(section) = section_of(&e.name) {
                if !group.holds(section) {
                    return Err(error(
                        e.name_span,
                        format!(
                            "`{}` is a variable of `{section}`, not of `{}`: move it to the matching group or to `globals`",
                            e.name,
                            group.arg()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(src: &str) -> syn::Result<i128> {
        eval_int(&syn::parse_str::<Expr>(src).unwrap())
    }

    #[test]
    fn integer_expressions_evaluate_without_overflow() {
        assert_eq!(int("1 << 20").unwrap(), 1 << 20);
        assert_eq!(int("-5").unwrap(), -5);
        assert_eq!(int("(2 + 3) * 4 - 1").unwrap(), 19);
        assert_eq!(int("0xff | 0x100").unwrap(), 0x1ff);
        assert_eq!(int("7u64").unwrap(), 7);
        assert_eq!(int("-9223372036854775808i64").unwrap(), i64::MIN.into());
        assert!(int("300u8")
            .unwrap_err()
            .to_string()
            .contains("suffix `u8`"));
        assert!(int("1 << 200").is_err());
        assert!(int("1 / 2").unwrap_err().to_string().contains("only + - *"));
        assert!(int("x").is_err());
    }

    #[test]
    fn values_of_each_kind() {
        let v = |s: &str| global_value(&syn::parse_str::<Expr>(s).unwrap()).unwrap();
        assert_eq!(v("true"), GlobalValue::Bool(true));
        assert_eq!(v("\"abc\""), GlobalValue::Str("abc".into()));
        assert_eq!(v("b\"\\x01\\x02\""), GlobalValue::Bytes(vec![1, 2]));
        assert_eq!(v("-1"), GlobalValue::Int(-1));
        let k = |s: &str| kconfig_value(&syn::parse_str::<Expr>(s).unwrap());
        assert_eq!(k("y").unwrap(), "y");
        assert_eq!(k("250").unwrap(), "250");
        assert_eq!(k("\"-rc1\"").unwrap(), "\"-rc1\"");
        assert_eq!(k("false").unwrap(), "n");
        assert!(k("maybe").is_err());
    }

    #[test]
    fn groups_hold_their_sections() {
        assert!(Group::Rodata.holds(".rodata"));
        assert!(Group::Rodata.holds(".rodata.bar"));
        assert!(!Group::Rodata.holds(".rodatax"));
        assert!(!Group::Data.holds(".rodata"));
        assert!(Group::Bss.holds(".bss"));
        assert!(Group::Any.holds(".data.foo"));
    }
}
