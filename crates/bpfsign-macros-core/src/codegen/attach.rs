//! Attaching: `attach()` on the loaded skeleton (every auto-attachable program, collected in
//! the links struct `HelloLinks`) and one `attach_<prog>()` per such program.
//!
//! A program attaches automatically when it is loaded (autoload on) and its section names a
//! target as libbpf's auto-attach rules read it (fentry, fexit, fmod_ret, tp_btf, lsm,
//! raw_tp/NAME, iter, kprobe/FUNC, kretprobe/FUNC, kprobe.multi/GLOB, ksyscall/NAME,
//! uprobe/PATH:FUNC, uprobe.multi/PATH:GLOB, tp/CAT/NAME); target-less sections
//! ([`AttachKind::Manual`]: `kprobe`, `uprobe`, `usdt`, `xdp`, `tc`, cgroup, …) have no
//! generated attach method and no link: attach them through `Program`'s per-kind methods.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use bpfsign_gen::meta::{AttachKind, ProgMeta, SkeletonMeta};

use super::docs::{self, ItemDocs};
use super::Names;
use crate::naming::{rust_ident, unraw};

/// A program that `attach()` attaches.
struct AutoAttach<'m> {
    /// Index of the program in the object (the runtime's `attach_prog(index)`).
    index: usize,
    prog: &'m ProgMeta,
    /// Its field in the links struct.
    field: Ident,
    /// `attach_<prog>`.
    method: Ident,
}

/// The auto-attachable programs, in object order.
fn auto_attach(meta: &SkeletonMeta) -> Vec<AutoAttach<'_>> {
    meta.progs
        .iter()
        .enumerate()
        .filter(|(_, p)| p.autoload && !matches!(p.attach, AttachKind::Manual))
        .map(|(index, prog)| {
            let field = rust_ident(&prog.name, "prog");
            let method = format_ident!("attach_{}", unraw(&field));
            AutoAttach {
                index,
                prog,
                field,
                method,
            }
        })
        .collect()
}

/// The links struct and its `forget()`.
pub(super) fn links_type(names: &Names, docs: &ItemDocs, meta: &SkeletonMeta) -> TokenStream {
    let links = &names.links;
    let doc = &docs.links;
    let progs = auto_attach(meta);
    let fields = progs.iter().map(|a| {
        let (f, doc) = (&a.field, docs::link_field_doc(a.prog));
        quote!(#[doc = #doc] pub #f: ::bpfsign_runtime::Link)
    });
    let field_names = progs.iter().map(|a| &a.field);
    quote! {
        #[doc = #doc]
        #[derive(Debug)]
        #[must_use = "dropping the links detaches every program; keep them (or call forget()) while the programs should run"]
        pub struct #links {
            #(#fields,)*
        }

        impl #links {
            /// Leaves every program attached after this process exits or drops the links.
            pub fn forget(self) {
                #(::bpfsign_runtime::Link::forget(self.#field_names);)*
            }
        }
    }
}

/// `attach()` and the `attach_<prog>()` methods of the loaded skeleton.
pub(super) fn attach_methods(names: &Names, meta: &SkeletonMeta) -> TokenStream {
    let links = &names.links;
    let progs = auto_attach(meta);
    let link_inits = progs.iter().map(|a| {
        let (f, method) = (&a.field, &a.method);
        quote!(#f: self.#method()?)
    });
    let methods = progs.iter().map(|a| {
        let (method, index) = (&a.method, a.index);
        let doc = docs::attach_fn_doc(a.prog);
        quote! {
            #[doc = #doc]
            pub fn #method(&self) -> ::core::result::Result<::bpfsign_runtime::Link, ::bpfsign_runtime::Error> {
                self.skel.attach_prog(#index)
            }
        }
    });
    quote! {
        /// Attaches every auto-attachable program, in object order; on error the links
        /// made so far are dropped (detached).
        pub fn attach(&self) -> ::core::result::Result<#links, ::bpfsign_runtime::Error> {
            ::core::result::Result::Ok(#links { #(#link_inits,)* })
        }

        #(#methods)*
    }
}
