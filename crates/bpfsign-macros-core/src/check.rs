//! Checks of the artifact about to be embedded, whatever made it (signed during expansion, by
//! build.rs, by `bpfsign gen`, or offline): every signature and loader as the kernel and the
//! loader will check them ([`Artifact::verify`]), and every name that becomes a Rust
//! identifier; plus the build warnings of the signing key (a TEST-ONLY key, a private key file
//! others can read).

use std::collections::HashSet;

use bpfsign_gen::artifact::Artifact;
use bpfsign_gen::sign::Certificate;
use proc_macro2::{Span, TokenStream};
use quote::quote;

use crate::naming::{camel_case, rust_ident};

/// Longest name accepted from an artifact: 511 bytes, the kernel's `KSYM_NAME_LEN` less its
/// terminator (no BTF or ELF name the kernel accepts is longer).
pub(crate) const MAX_NAME_LEN: usize = 511;

/// Checks every loader and every signature of `art` with the certificate it carries, as the
/// kernel and the loader will at load time. The certificate is the one the artifact was
/// signed with (for signing during expansion and offline signatures: the declared `key` /
/// `cert`); whether the kernel trusts it is the keyring's decision, but an artifact whose
/// bytes no longer match its signatures, a signature of another protocol or an emptied one
/// never compiles. `file_name` names the artifact in the message.
pub(crate) fn verify_embedded(art: &Artifact, file_name: &str) -> Result<(), String> {
    let signed = art.variants.iter().any(|v| v.signature.is_some());
    let cert = match (&art.certificate, signed) {
        (Some(der), _) => Some(
            Certificate::from_bytes(der, "the artifact's certificate")
                .map_err(|e| format!("{file_name}: {e}"))?,
        ),
        (None, true) => {
            return Err(format!(
                "{file_name} is signed but carries no certificate to verify its signatures with \
                 (it was written by an older bpfsign): regenerate it with `bpfsign gen`, or attach \
                 a signature again with `bpfsign attach-sig … --cert CERT`"
            ))
        }
        (None, false) => None,
    };
    let result = match &cert {
        Some(cert) => art.verify(cert).map_err(|e| e.0),
        None => {
            let errors: Vec<_> = art
                .variants
                .iter()
                .flat_map(|v| art.check_loader(v.protocol))
                .collect();
            if errors.is_empty() {
                Ok(())
            } else {
                Err(errors)
            }
        }
    };
    result.map_err(|errors| {
        let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        format!(
            "{file_name} would be refused at load time, it was changed after signing or signed \
             over other bytes ({} problem(s)): {}. Rebuild or re-sign it (`bpfsign verify \
             {file_name} --cert CERT` shows the same checks)",
            list.len(),
            list.join("; ")
        )
    })
}

/// A C identifier of at most [`MAX_NAME_LEN`] bytes: ASCII letters, digits and `_`, not
/// starting with a digit. `what` names it in the error.
fn c_identifier(name: &str, what: &str) -> Result<(), String> {
    let shown = || {
        let mut s: String = name.chars().take(40).collect();
        if s.len() < name.len() {
            s.push('…');
        }
        format!("{s:?}")
    };
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "{what} {} is {} bytes long, more than {MAX_NAME_LEN}",
            shown(),
            name.len()
        ));
    }
    let ok = !name.is_empty()
        && !name.as_bytes()[0].is_ascii_digit()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} {} is not a C identifier (ASCII letters, digits and `_`, not starting with a digit)",
            shown()
        ))
    }
}

/// At most [`MAX_NAME_LEN`] bytes (names that are sanitised into identifiers anyway).
fn bounded(name: &str, what: &str) -> Result<(), String> {
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "{what} is {} bytes long, more than {MAX_NAME_LEN}",
            name.len()
        ));
    }
    Ok(())
}

/// Checks that `names` give distinct Rust identifiers.
fn distinct<'a>(names: impl Iterator<Item = &'a str>, what: &str) -> Result<(), String> {
    let mut seen = HashSet::new();
    for n in names {
        if !seen.insert(rust_ident(n, "_").to_string()) {
            return Err(format!("two {what} are named `{n}`"));
        }
    }
    Ok(())
}

fn check_type(ty: &bpfsign_gen::meta::TypeMeta) -> Result<(), String> {
    use bpfsign_gen::meta::TypeMeta;
    match ty {
        TypeMeta::Array { elem, .. } => check_type(elem),
        TypeMeta::Struct { name, members, .. } | TypeMeta::Union { name, members, .. } => {
            bounded(name.as_deref().unwrap_or(""), "a type name")?;
            for m in members {
                bounded(&m.name, "a member name")?;
                check_type(&m.ty)?;
            }
            Ok(())
        }
        TypeMeta::Enum { name, .. } => bounded(name.as_deref().unwrap_or(""), "a type name"),
        _ => Ok(()),
    }
}

/// Checks every artifact name that becomes part of a generated Rust identifier, so that a
/// hand-made or damaged `.skel` gives a compile error instead of a panic or invalid code:
/// map, program, section and variable names are C identifiers, distinct where they name
/// fields of one struct; type and member names (sanitised by the generator) are bounded.
pub(crate) fn check_names(art: &Artifact) -> Result<(), String> {
    let meta = &art.meta;
    let bad = |e: String| format!("the artifact is malformed: {e}");
    bounded(&meta.name, "the skeleton name").map_err(bad)?;
    for m in &meta.maps {
        c_identifier(&m.ident, "map").map_err(bad)?;
    }
    distinct(meta.maps.iter().map(|m| m.ident.as_str()), "maps").map_err(bad)?;
    for p in &meta.progs {
        c_identifier(&p.name, "program").map_err(bad)?;
    }
    distinct(meta.progs.iter().map(|p| p.name.as_str()), "programs").map_err(bad)?;
    for d in &meta.datasecs {
        c_identifier(&d.ident, "global-data section").map_err(bad)?;
        let type_name = camel_case(&d.ident);
        if syn::parse_str::<syn::Ident>(&type_name).is_err() {
            return Err(bad(format!(
                "global-data section `{}` gives no valid type name (`{type_name}`)",
                d.ident
            )));
        }
        for v in &d.vars {
            c_identifier(&v.name, "variable").map_err(bad)?;
            check_type(&v.ty).map_err(bad)?;
        }
        distinct(
            d.vars.iter().map(|v| v.name.as_str()),
            "variables of one section",
        )
        .map_err(bad)?;
    }
    distinct(
        meta.datasecs.iter().map(|d| d.ident.as_str()),
        "global-data sections",
    )
    .map_err(bad)?;
    let types: Vec<String> = meta.datasecs.iter().map(|d| camel_case(&d.ident)).collect();
    distinct(
        types.iter().map(String::as_str),
        "global-data section types",
    )
    .map_err(bad)?;
    Ok(())
}

/// Compile-time warnings: one `#[deprecated]` item per message, used right away inside an
/// anonymous constant, so rustc prints `use of deprecated …: <message>` at the macro call. It
/// is the `deprecated` lint: `-D warnings` turns it into an error, and `#[allow(deprecated)]`
/// on the macro call (or an enclosing item) silences it knowingly.
pub(crate) fn warning_tokens(messages: &[String]) -> TokenStream {
    let items = messages.iter().enumerate().map(|(i, msg)| {
        let ident = proc_macro2::Ident::new(&format!("bpfsign_warning_{i}"), Span::call_site());
        let note = format!("bpfsign: {msg}");
        quote! {
            const _: () = {
                #[deprecated(note = #note)]
                #[allow(non_camel_case_types)]
                struct #ident;
                let _ = #ident;
            };
        }
    });
    quote!(#(#items)*)
}
