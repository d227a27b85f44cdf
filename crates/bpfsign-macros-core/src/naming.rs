//! Rust names for C and BPF names: identifiers that always parse, and the case conversions
//! between object names, type names and module names.

use proc_macro2::{Ident, Span};

/// Makes `name` a usable Rust identifier: raw identifier for keywords, `_` suffix for the few
/// keywords that cannot be raw, `_` prefix for a leading digit; empty → `fallback`.
pub(crate) fn rust_ident(name: &str, fallback: &str) -> Ident {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        s = fallback.to_string();
    }
    if s.as_bytes()[0].is_ascii_digit() {
        s.insert(0, '_');
    }
    if matches!(s.as_str(), "self" | "Self" | "super" | "crate" | "_") {
        s.push('_');
    }
    if syn::parse_str::<syn::Ident>(&s).is_ok() {
        Ident::new(&s, Span::call_site())
    } else {
        // A keyword such as `type` or `match`.
        Ident::new_raw(&s, Span::call_site())
    }
}

/// The text of `ident` without a raw-identifier prefix (`r#type` → `type`), to build other
/// names from it (`attach_type`, `read_type`).
pub(crate) fn unraw(ident: &Ident) -> String {
    ident.to_string().trim_start_matches("r#").to_string()
}

/// `data_foo` → `DataFoo`, `bss` → `Bss`, `rodata_str1_1` → `RodataStr1_1`.
pub(crate) fn camel_case(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in snake.chars() {
        if c == '_' || c == '.' {
            if out.chars().last().is_some_and(|l| l.is_ascii_digit()) && !upper {
                out.push('_');
            }
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `Hello` → `hello`, `MultiProg` → `multi_prog` (the skeleton module is `<snake>_skel`).
pub(crate) fn snake_case(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(camel_case("bss"), "Bss");
        assert_eq!(camel_case("data_foo"), "DataFoo");
        assert_eq!(camel_case("rodata_str1_1"), "RodataStr1_1");
        assert_eq!(snake_case("Hello"), "hello");
        assert_eq!(snake_case("MultiProg"), "multi_prog");
        assert_eq!(rust_ident("type", "x").to_string(), "r#type");
        assert_eq!(unraw(&rust_ident("type", "x")), "type");
        assert_eq!(rust_ident("self", "x").to_string(), "self_");
        assert_eq!(rust_ident("", "__anon_0").to_string(), "__anon_0");
        assert_eq!(rust_ident("prog_A", "x").to_string(), "prog_A");
        assert_eq!(rust_ident("9lives", "x").to_string(), "_9lives");
    }
}
