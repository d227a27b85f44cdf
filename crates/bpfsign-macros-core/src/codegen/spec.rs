//! The skeleton as the runtime sees it: the embedded bytes (`DATA`, `INSNS_<P>`,
//! `EXCL_HASH_<P>`, `SIG_<P>`) and the `static SPEC: ::bpfsign_runtime::SkeletonSpec` that lists
//! the loader variants, maps and programs.
//!
//! [`spec_tokens`] is public so that other generators (the kernel tests' build script) emit the
//! same `SkeletonSpec` expression as the macro, with the bytes taken from files instead.

use std::path::PathBuf;

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use bpfsign_gen::artifact::{Artifact, Variant};
use bpfsign_gen::meta::{AttachKind, MapMeta, ProgMeta, Protocol};
use bpfsign_gen::sign::{SignerDescription, SignerId};

/// A byte string of an artifact that the runtime's `SkeletonSpec` refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArtifactPart {
    /// The data blob ([`Artifact::data`]).
    Data,
    /// The loader instructions of one protocol's variant.
    Insns(Protocol),
    /// The detached signature of one protocol's variant (only asked for when it has one).
    Signature(Protocol),
}

/// Where the expression from [`spec_tokens`] takes the artifact's bytes from.
#[derive(Clone, Copy)]
pub enum SpecBytes<'a> {
    /// The statics that `include_signed_skel!` generates next to its `SPEC` (`DATA`,
    /// `INSNS_P1`, `EXCL_HASH_P1`, `SIG_P1`, …): only valid inside the generated module.
    Statics,
    /// `include_bytes!` of the file the function names for each part; the instruction
    /// hashes become array literals. The caller writes those files.
    IncludeFiles(&'a dyn Fn(ArtifactPart) -> PathBuf),
}

impl std::fmt::Debug for SpecBytes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpecBytes::Statics => f.write_str("Statics"),
            SpecBytes::IncludeFiles(_) => f.write_str("IncludeFiles(..)"),
        }
    }
}

/// The `::bpfsign_runtime::SkeletonSpec { .. }` expression (of type `SkeletonSpec<'static>`)
/// describing `art`: name, data blob, loader variants, maps, programs and signer.
pub fn spec_tokens(art: &Artifact, bytes: SpecBytes<'_>) -> TokenStream {
    let name = art.meta.name.as_str();
    let data = match bytes {
        SpecBytes::Statics => quote!(&DATA.0),
        SpecBytes::IncludeFiles(path) => include_bytes_tokens(path(ArtifactPart::Data)),
    };
    let variants = art.variants.iter().map(|v| variant_tokens(v, bytes));
    let maps = art.meta.maps.iter().map(map_tokens);
    let progs = art.meta.progs.iter().map(prog_tokens);
    let skid = match art.signer.as_ref().and_then(signer_skid) {
        Some(s) => quote!(::core::option::Option::Some(#s)),
        None => quote!(::core::option::Option::None),
    };
    quote! {
        ::bpfsign_runtime::SkeletonSpec {
            name: #name,
            data: #data,
            variants: &[#(#variants),*],
            maps: &[#(#maps),*],
            progs: &[#(#progs),*],
            signer_skid: #skid,
        }
    }
}

/// `Aligned<N>`, the wrapper that gives the embedded bytes the alignment of instructions.
pub(super) fn aligned_type() -> TokenStream {
    quote! {
        /// 8-byte aligned bytes (loader instructions and the data blob).
        #[repr(C, align(8))]
        pub struct Aligned<const N: usize>(pub [u8; N]);
    }
}

/// The statics holding the artifact's bytes, which [`SpecBytes::Statics`] refers to.
pub(super) fn embedded_statics(art: &Artifact) -> TokenStream {
    let data_len = art.data.len();
    let data_lit = Literal::byte_string(&art.data);
    let variants = art.variants.iter().map(variant_statics);
    quote! {
        /// The data blob (metadata map value), identical for every protocol.
        pub static DATA: Aligned<#data_len> = Aligned(*#data_lit);
        #(#variants)*
    }
}

/// `static SPEC`, the runtime's view of the embedded skeleton.
pub(super) fn spec_static(art: &Artifact) -> TokenStream {
    let spec = spec_tokens(art, SpecBytes::Statics);
    quote! {
        /// The skeleton as the runtime sees it.
        pub static SPEC: ::bpfsign_runtime::SkeletonSpec<'static> = #spec;
    }
}

/// `INSNS_<P>`, `EXCL_HASH_<P>` and (if signed) `SIG_<P>` of one variant.
fn variant_statics(v: &Variant) -> TokenStream {
    let pname = protocol_name(v.protocol);
    let (insns_id, hash_id, sig_id) = variant_static_idents(v.protocol);
    let n = v.insns.len();
    let insns_lit = Literal::byte_string(&v.insns);
    let hash_lit = Literal::byte_string(&v.excl_prog_hash);
    let insns_doc = format!(
        "Loader instructions for protocol `{pname}` ({} insns).",
        n / 8
    );
    let hash_doc = format!(
        "SHA-256 of the `{pname}` loader instructions: {}.",
        hex(&v.excl_prog_hash)
    );
    let sig = v.signature.as_ref().map(|sig| {
        let sig_lit = Literal::byte_string(sig);
        let sl = sig.len();
        let sig_doc = format!("Detached PKCS#7 signature of the `{pname}` payload ({sl} bytes).");
        quote! {
            #[doc = #sig_doc]
            pub static #sig_id: [u8; #sl] = *#sig_lit;
        }
    });
    quote! {
        #[doc = #insns_doc]
        pub static #insns_id: Aligned<#n> = Aligned(*#insns_lit);
        #[doc = #hash_doc]
        pub static #hash_id: [u8; 32] = *#hash_lit;
        #sig
    }
}

/// The names of one variant's statics: `INSNS_P1`, `EXCL_HASH_P1`, `SIG_P1`.
fn variant_static_idents(
    p: Protocol,
) -> (proc_macro2::Ident, proc_macro2::Ident, proc_macro2::Ident) {
    let upper = protocol_name(p).to_ascii_uppercase();
    (
        format_ident!("INSNS_{}", upper),
        format_ident!("EXCL_HASH_{}", upper),
        format_ident!("SIG_{}", upper),
    )
}

/// One `::bpfsign_runtime::LoaderVariant { .. }`.
fn variant_tokens(v: &Variant, bytes: SpecBytes<'_>) -> TokenStream {
    let (insns, excl_prog_hash, signature) = match bytes {
        SpecBytes::Statics => {
            let (insns_id, hash_id, sig_id) = variant_static_idents(v.protocol);
            let sig = v.signature.as_ref().map(|_| quote!(&#sig_id));
            (quote!(&#insns_id.0), quote!(#hash_id), sig)
        }
        SpecBytes::IncludeFiles(path) => {
            let insns = include_bytes_tokens(path(ArtifactPart::Insns(v.protocol)));
            let hash = v.excl_prog_hash.iter();
            let sig = v
                .signature
                .as_ref()
                .map(|_| include_bytes_tokens(path(ArtifactPart::Signature(v.protocol))));
            (insns, quote!([#(#hash),*]), sig)
        }
    };
    let signature = match signature {
        Some(sig) => quote!(::core::option::Option::Some(#sig)),
        None => quote!(::core::option::Option::None),
    };
    let protocol = protocol_tokens(v.protocol);
    quote! {
        ::bpfsign_runtime::LoaderVariant {
            protocol: #protocol,
            insns: #insns,
            excl_prog_hash: #excl_prog_hash,
            signature: #signature,
        }
    }
}

/// One `::bpfsign_runtime::MapSpec { .. }`.
fn map_tokens(m: &MapMeta) -> TokenStream {
    let (name, map_type, key_size, value_size, max_entries, map_flags, mmapable) = (
        &m.ident,
        m.map_type,
        m.key_size,
        m.value_size,
        m.max_entries,
        m.map_flags,
        m.mmapable,
    );
    quote! {
        ::bpfsign_runtime::MapSpec {
            name: #name, map_type: #map_type, key_size: #key_size, value_size: #value_size,
            max_entries: #max_entries, map_flags: #map_flags, mmapable: #mmapable,
        }
    }
}

/// One `::bpfsign_runtime::ProgSpec { .. }`.
fn prog_tokens(p: &ProgMeta) -> TokenStream {
    let (name, section, prog_type, eat, autoload) = (
        &p.name,
        &p.section,
        p.prog_type,
        p.expected_attach_type,
        p.autoload,
    );
    let attach = runtime_attach_tokens(&p.attach);
    quote! {
        ::bpfsign_runtime::ProgSpec {
            name: #name, section: #section, prog_type: #prog_type, expected_attach_type: #eat,
            autoload: #autoload, attach: #attach,
        }
    }
}

/// The runtime's value for how a program attaches (`ProgSpec::attach`).
fn runtime_attach_tokens(attach: &AttachKind) -> TokenStream {
    match attach {
        AttachKind::RawTracepoint { tp_name: Some(tp) } => quote!(
            ::bpfsign_runtime::AttachKind::RawTracepoint {
                tp_name: ::core::option::Option::Some(#tp),
            }
        ),
        AttachKind::RawTracepoint { tp_name: None } => {
            quote!(::bpfsign_runtime::AttachKind::RawTracepoint {
                tp_name: ::core::option::Option::None,
            })
        }
        AttachKind::Iter => quote!(::bpfsign_runtime::AttachKind::Iter),
        AttachKind::Manual => quote!(::bpfsign_runtime::AttachKind::Manual),
        AttachKind::Kprobe {
            func,
            offset,
            retprobe,
        } => quote!(::bpfsign_runtime::AttachKind::Kprobe {
            func: #func, offset: #offset, retprobe: #retprobe,
        }),
        AttachKind::KprobeMulti { pattern, retprobe } => {
            quote!(::bpfsign_runtime::AttachKind::KprobeMulti {
                pattern: #pattern, retprobe: #retprobe,
            })
        }
        AttachKind::Ksyscall { name, retprobe } => {
            quote!(::bpfsign_runtime::AttachKind::Ksyscall {
                name: #name, retprobe: #retprobe,
            })
        }
        AttachKind::Uprobe {
            path,
            func,
            offset,
            retprobe,
        } => quote!(::bpfsign_runtime::AttachKind::Uprobe {
            path: #path, func: #func, offset: #offset, retprobe: #retprobe,
        }),
        AttachKind::UprobeMulti {
            path,
            pattern,
            retprobe,
        } => quote!(::bpfsign_runtime::AttachKind::UprobeMulti {
            path: #path, pattern: #pattern, retprobe: #retprobe,
        }),
        AttachKind::Tracepoint { category, name } => {
            quote!(::bpfsign_runtime::AttachKind::Tracepoint {
                category: #category, name: #name,
            })
        }
    }
}

/// `include_bytes!("<path>")`.
fn include_bytes_tokens(path: PathBuf) -> TokenStream {
    let path = path.display().to_string();
    quote!(include_bytes!(#path))
}

fn protocol_tokens(p: Protocol) -> TokenStream {
    match p {
        Protocol::Unsigned => quote!(::bpfsign_runtime::Protocol::Unsigned),
        Protocol::P1 => quote!(::bpfsign_runtime::Protocol::P1),
        Protocol::P1b => quote!(::bpfsign_runtime::Protocol::P1b),
        Protocol::P2 => quote!(::bpfsign_runtime::Protocol::P2),
    }
}

/// The protocol's name in docs and static names (`p1b`).
pub(super) fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Unsigned => "unsigned",
        Protocol::P1 => "p1",
        Protocol::P1b => "p1b",
        Protocol::P2 => "p2",
    }
}

fn signer_skid(info: &SignerDescription) -> Option<&str> {
    match &info.id {
        SignerId::SubjectKeyIdentifier { skid } => Some(skid),
        SignerId::IssuerAndSerial { .. } => None,
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tokens of each target kind, whitespace removed.
    fn flat(kind: &AttachKind) -> String {
        runtime_attach_tokens(kind)
            .to_string()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect()
    }

    #[test]
    fn perf_attach_kinds_carry_their_targets() {
        let s = |x: &str| x.to_string();
        let cases = [
            (
                AttachKind::Kprobe {
                    func: s("do_unlinkat"),
                    offset: 16,
                    retprobe: false,
                },
                "::bpfsign_runtime::AttachKind::Kprobe{func:\"do_unlinkat\",offset:16u64,retprobe:false,}",
            ),
            (
                AttachKind::KprobeMulti {
                    pattern: s("vfs_*"),
                    retprobe: true,
                },
                "::bpfsign_runtime::AttachKind::KprobeMulti{pattern:\"vfs_*\",retprobe:true,}",
            ),
            (
                AttachKind::Ksyscall {
                    name: s("getpid"),
                    retprobe: false,
                },
                "::bpfsign_runtime::AttachKind::Ksyscall{name:\"getpid\",retprobe:false,}",
            ),
            (
                AttachKind::Uprobe {
                    path: s("/bin/sh"),
                    func: s("main"),
                    offset: 0,
                    retprobe: true,
                },
                "::bpfsign_runtime::AttachKind::Uprobe{path:\"/bin/sh\",func:\"main\",offset:0u64,retprobe:true,}",
            ),
            (
                AttachKind::UprobeMulti {
                    path: s("libc.so.6"),
                    pattern: s("mall?c"),
                    retprobe: false,
                },
                "::bpfsign_runtime::AttachKind::UprobeMulti{path:\"libc.so.6\",pattern:\"mall?c\",retprobe:false,}",
            ),
            (
                AttachKind::Tracepoint {
                    category: s("sched"),
                    name: s("sched_switch"),
                },
                "::bpfsign_runtime::AttachKind::Tracepoint{category:\"sched\",name:\"sched_switch\",}",
            ),
        ];
        for (kind, want) in cases {
            assert_eq!(flat(&kind), want);
        }
    }
}
