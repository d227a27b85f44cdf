//! Parsing of the macro input: `"hello.bpf.o", key = env!("BPF_KEY"), name = "Hello"`.
//!
//! String arguments accept a string literal, `env!("VAR")` and `concat!(…)` of those, the same
//! forms `include_bytes!` users write. `env!` is evaluated here, from the process environment
//! (the proc macro sees the tokens unexpanded), and each variable read is recorded so the
//! expansion can repeat `env!("VAR")` and rustc tracks it.

use bpfsign_gen::meta::Protocol;
use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, LitStr, Token};

/// One string-valued argument, as written, with its tokens for error messages.
#[derive(Clone, Debug)]
pub struct StrArg {
    /// The expression that produces the string.
    pub expr: StrExpr,
    /// The tokens as written (errors underline all of them).
    pub tokens: TokenStream,
}

impl StrArg {
    /// Parses one argument value: the tokens up to the next top-level comma.
    fn parse_value(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut tokens = TokenStream::new();
        while !input.is_empty() && !input.peek(Token![,]) {
            tokens.extend(std::iter::once(input.parse::<proc_macro2::TokenTree>()?));
        }
        if tokens.is_empty() {
            return Err(
                input.error("bpfsign: expected a string: \"path\", env!(\"VAR\") or concat!(…)")
            );
        }
        let parser = |input: ParseStream<'_>| {
            let expr: StrExpr = input.parse()?;
            if !input.is_empty() {
                return Err(input.error("bpfsign: expected `,` between arguments"));
            }
            Ok(expr)
        };
        let expr = syn::parse::Parser::parse2(parser, tokens.clone())?;
        Ok(StrArg { expr, tokens })
    }

    /// An error underlining this argument.
    pub fn error(&self, msg: impl std::fmt::Display) -> syn::Error {
        syn::Error::new_spanned(&self.tokens, msg)
    }
}

/// A compile-time string expression: a literal, `env!("VAR")` or `concat!(…)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StrExpr {
    /// `"text"`.
    Lit(String),
    /// `env!("VAR")`.
    Env(String),
    /// `concat!(a, b, …)`.
    Concat(Vec<StrExpr>),
}

/// Reads environment variables; the real process environment, or a map in tests.
pub trait EnvLookup {
    /// The value of `name`, or `None` when unset (or not valid UTF-8).
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessEnv;

impl EnvLookup for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl StrExpr {
    /// Evaluates the expression; every `env!` variable read is pushed to `used`.
    /// Returns `Err(var)` naming the first variable that is not set.
    pub fn eval(&self, env: &dyn EnvLookup, used: &mut Vec<String>) -> Result<String, String> {
        match self {
            StrExpr::Lit(s) => Ok(s.clone()),
            StrExpr::Env(var) => {
                if !used.contains(var) {
                    used.push(var.clone());
                }
                env.var(var).ok_or_else(|| var.clone())
            }
            StrExpr::Concat(parts) => {
                let mut out = String::new();
                for p in parts {
                    out.push_str(&p.eval(env, used)?);
                }
                Ok(out)
            }
        }
    }
}

impl Parse for StrExpr {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(LitStr) {
            return Ok(StrExpr::Lit(input.parse::<LitStr>()?.value()));
        }
        if input.peek(Ident) && input.peek2(Token![!]) {
            let mac: Ident = input.parse()?;
            input.parse::<Token![!]>()?;
            let content;
            syn::parenthesized!(content in input);
            return match mac.to_string().as_str() {
                "env" => {
                    let var: LitStr = content.parse()?;
                    let _ = content.parse::<Option<Token![,]>>()?;
                    if !content.is_empty() {
                        return Err(content.error(
                            "bpfsign: only the one-argument form env!(\"VAR\") is supported here",
                        ));
                    }
                    Ok(StrExpr::Env(var.value()))
                }
                "concat" => {
                    let parts = content.parse_terminated(StrExpr::parse, Token![,])?;
                    Ok(StrExpr::Concat(parts.into_iter().collect()))
                }
                other => Err(syn::Error::new(
                    mac.span(),
                    format!(
                        "bpfsign: `{other}!` is not supported here; write a string literal, \
                         env!(\"VAR\") or concat!(…) of those"
                    ),
                )),
            };
        }
        Err(input.error("bpfsign: expected a string: \"path\", env!(\"VAR\") or concat!(…)"))
    }
}

/// The parsed arguments of `include_signed_skel!`.
#[derive(Clone, Debug)]
pub struct MacroInput {
    /// The object (`.bpf.o`) or signed artifact (`.skel`) to embed.
    pub path: StrArg,
    /// `key = …`: PEM private key (normally with the certificate) used to sign at expansion time.
    pub key: Option<StrArg>,
    /// `cert = …`: PEM or DER certificate (with `key`: when the key file has none; with
    /// `signature`: to check the offline signatures and name the signer).
    pub cert: Option<StrArg>,
    /// `signature = …`: path prefix of offline signatures `<prefix>.{p1,p1b,p2}.sig`.
    pub signature: Option<StrArg>,
    /// `name = "Hello"`: the skeleton's type name.
    pub name: Option<(String, Span)>,
    /// `allow_unsigned = true`: also embed the unsigned loader (generated, or kept from an
    /// artifact), and accept loader variants that have no signature (an unsigned or partially
    /// signed artifact, an object without `key`). Off by default: the binary then carries no
    /// unsigned loader and only loads with a signature.
    pub allow_unsigned: bool,
    /// `protocols = [p1b, p2]`: the signed protocols whose loaders are embedded (default p1,
    /// p1b, p2), with the span of the list for errors.
    pub protocols: Option<(Vec<Protocol>, Span)>,
    /// The build configuration (`rodata = { … }`, `max_entries = { … }`, `kconfig = { … }`,
    /// `kernel_version`, `page_size`, `cpus`): see [`crate::MacroConfig`].
    pub config: crate::config::MacroConfig,
}

/// Argument names accepted after the path.
pub(crate) const KNOWN_ARGS: &[&str] = &[
    "key",
    "cert",
    "signature",
    "name",
    "allow_unsigned",
    "protocols",
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

/// Parses `[p1b, p2]` / `["p1b", "p2"]`: a bracketed list of protocol names, as idents or
/// string literals, checked like [`bpfsign_gen::ProtocolSelection::with_signed`].
fn parse_protocols(input: ParseStream<'_>) -> syn::Result<(Vec<Protocol>, Span)> {
    let usage =
        "bpfsign: `protocols` takes a bracketed list of p1, p1b, p2, e.g. protocols = [p1b, p2]";
    let content;
    let bracket = syn::bracketed!(content in input);
    let span = bracket.span.join();
    let mut out = Vec::new();
    while !content.is_empty() {
        let (name, at) = if content.peek(LitStr) {
            let lit: LitStr = content.parse()?;
            (lit.value(), lit.span())
        } else if content.peek(Ident::peek_any) {
            let id: Ident = content.call(syn::ext::IdentExt::parse_any)?;
            (id.to_string(), id.span())
        } else {
            return Err(content.error(usage));
        };
        let p = name
            .parse::<Protocol>()
            .map_err(|e| syn::Error::new(at, format!("bpfsign: {e}; expected p1, p1b or p2")))?;
        if !out.contains(&p) {
            out.push(p);
        }
        if !content.is_empty() {
            content
                .parse::<Token![,]>()
                .map_err(|e| syn::Error::new(e.span(), usage))?;
        }
    }
    bpfsign_gen::ProtocolSelection::new()
        .with_signed(&out)
        .map_err(|e| syn::Error::new(span, format!("bpfsign: `protocols`: {e}")))?;
    Ok((out, span))
}

impl Parse for MacroInput {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.is_empty() {
            return Err(input.error(
                "bpfsign: expected the object to embed, e.g. \
                 include_signed_skel!(\"hello.bpf.o\", key = env!(\"BPF_KEY\"))",
            ));
        }
        let path = StrArg::parse_value(input)?;
        let mut out = MacroInput {
            path,
            key: None,
            cert: None,
            signature: None,
            name: None,
            allow_unsigned: false,
            protocols: None,
            config: Default::default(),
        };
        let mut seen_allow = false;
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let ident: Ident = input.call(syn::ext::IdentExt::parse_any)?;
            let arg = ident.to_string();
            if !KNOWN_ARGS.contains(&arg.as_str()) {
                return Err(syn::Error::new(
                    ident.span(),
                    format!(
                        "bpfsign: unknown argument `{arg}`; expected one of: {}",
                        KNOWN_ARGS.join(", ")
                    ),
                ));
            }
            input.parse::<Token![=]>().map_err(|e| {
                syn::Error::new(e.span(), format!("bpfsign: expected `=` after `{arg}`"))
            })?;
            let dup = || syn::Error::new(ident.span(), format!("bpfsign: `{arg}` is given twice"));
            if arg == "name" {
                let lit: LitStr = input.parse().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        "bpfsign: `name` takes a string literal, e.g. name = \"Hello\"",
                    )
                })?;
                if out.name.is_some() {
                    return Err(dup());
                }
                let value = lit.value();
                if syn::parse_str::<Ident>(&value).is_err() || value.starts_with("r#") {
                    return Err(syn::Error::new(
                        lit.span(),
                        format!("bpfsign: name = \"{value}\" is not a valid Rust type name"),
                    ));
                }
                out.name = Some((value, lit.span()));
                continue;
            }
            if crate::config::CONFIG_ARGS.contains(&arg.as_str()) {
                out.config.parse_arg(&ident, input)?;
                continue;
            }
            if arg == "protocols" {
                if !input.peek(syn::token::Bracket) {
                    return Err(input.error(
                        "bpfsign: `protocols` takes a bracketed list of p1, p1b, p2, e.g. protocols = [p1b, p2]",
                    ));
                }
                let list = parse_protocols(input)?;
                if out.protocols.is_some() {
                    return Err(dup());
                }
                out.protocols = Some(list);
                continue;
            }
            if arg == "allow_unsigned" {
                let lit: syn::LitBool = input.parse().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        "bpfsign: `allow_unsigned` takes `true` or `false`",
                    )
                })?;
                if seen_allow {
                    return Err(dup());
                }
                seen_allow = true;
                out.allow_unsigned = lit.value;
                continue;
            }
            let value = StrArg::parse_value(input)?;
            let slot = match arg.as_str() {
                "key" => &mut out.key,
                "cert" => &mut out.cert,
                _ => &mut out.signature,
            };
            if slot.is_some() {
                return Err(dup());
            }
            *slot = Some(value);
        }
        Ok(out)
    }
}

/// Parses macro input tokens.
pub(crate) fn parse(tokens: TokenStream) -> syn::Result<MacroInput> {
    syn::parse2(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;
    use std::collections::HashMap;

    struct MapEnv(HashMap<&'static str, &'static str>);
    impl EnvLookup for MapEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|s| s.to_string())
        }
    }

    #[test]
    fn the_documented_form_parses() {
        let m = parse(quote!("hello.bpf.o", key = env!("BPF_KEY"))).unwrap();
        assert_eq!(m.path.expr, StrExpr::Lit("hello.bpf.o".into()));
        assert_eq!(m.key.unwrap().expr, StrExpr::Env("BPF_KEY".into()));
        assert!(m.cert.is_none() && m.signature.is_none() && m.name.is_none());
        assert!(!m.allow_unsigned);
    }

    #[test]
    fn allow_unsigned_takes_a_bool() {
        let m = parse(quote!("x.skel", allow_unsigned = true)).unwrap();
        assert!(m.allow_unsigned);
        let m = parse(quote!("x.skel", allow_unsigned = false, name = "X")).unwrap();
        assert!(!m.allow_unsigned);
    }

    #[test]
    fn protocols_take_a_list_of_idents_or_strings() {
        let m = parse(quote!("x.o", protocols = [p2, p1b])).unwrap();
        assert_eq!(m.protocols.unwrap().0, [Protocol::P2, Protocol::P1b]);
        let m = parse(quote!("x.o", protocols = ["P1", "p2",], key = "k")).unwrap();
        assert_eq!(m.protocols.unwrap().0, [Protocol::P1, Protocol::P2]);
        assert!(parse(quote!("x.o")).unwrap().protocols.is_none());
    }

    #[test]
    fn all_arguments_and_trailing_comma() {
        let m = parse(quote!(
            concat!(env!("OUT_DIR"), "/hello.bpf.o"),
            cert = "c.pem",
            signature = "sig/hello",
            name = "Greeter",
        ))
        .unwrap();
        assert_eq!(m.name.unwrap().0, "Greeter");
        let env = MapEnv(HashMap::from([("OUT_DIR", "/o")]));
        let mut used = Vec::new();
        assert_eq!(m.path.expr.eval(&env, &mut used).unwrap(), "/o/hello.bpf.o");
        assert_eq!(used, ["OUT_DIR"]);
        assert_eq!(m.signature.unwrap().expr, StrExpr::Lit("sig/hello".into()));
    }

    #[test]
    fn unset_env_var_is_reported_by_name() {
        let m = parse(quote!("x.o", key = env!("NOPE_UNSET"))).unwrap();
        let mut used = Vec::new();
        let err = m
            .key
            .unwrap()
            .expr
            .eval(&MapEnv(HashMap::new()), &mut used)
            .unwrap_err();
        assert_eq!(err, "NOPE_UNSET");
        assert_eq!(used, ["NOPE_UNSET"]);
    }

    #[test]
    fn bad_arguments_are_errors() {
        let cases = [
            (quote!(), "expected the object"),
            (quote!("x.o", colour = "red"), "unknown argument `colour`"),
            (quote!("x.o", key = "a", key = "b"), "`key` is given twice"),
            (quote!("x.o", key "a"), "expected `=` after `key`"),
            (quote!("x.o", key = 5), "expected a string"),
            (
                quote!("x.o", key = format!("a")),
                "`format!` is not supported",
            ),
            (
                quote!("x.o", name = "not a type"),
                "not a valid Rust type name",
            ),
            (
                quote!("x.o", name = env!("X")),
                "`name` takes a string literal",
            ),
            (quote!("x.o" key = "a"), "expected `,` between arguments"),
            (
                quote!("x.o", allow_unsigned = "yes"),
                "`allow_unsigned` takes `true` or `false`",
            ),
            (
                quote!("x.o", allow_unsigned = true, allow_unsigned = true),
                "`allow_unsigned` is given twice",
            ),
            (
                quote!("x.o", protocols = p2),
                "`protocols` takes a bracketed list",
            ),
            (quote!("x.o", protocols = []), "the protocol list is empty"),
            (quote!("x.o", protocols = [p3]), "expected p1, p1b or p2"),
            (
                quote!("x.o", protocols = [unsigned, p2]),
                "allow_unsigned = true",
            ),
            (
                quote!("x.o", protocols = [p1 p2]),
                "`protocols` takes a bracketed list",
            ),
            (
                quote!("x.o", protocols = [5]),
                "`protocols` takes a bracketed list",
            ),
            (
                quote!("x.o", protocols = [p2], protocols = [p1]),
                "`protocols` is given twice",
            ),
        ];
        for (tokens, want) in cases {
            let err = parse(tokens.clone()).map(|_| ()).unwrap_err().to_string();
            assert!(
                err.contains(want),
                "input `{tokens}`: got `{err}`, want `{want}`"
            );
        }
    }
}
