//! The programs of the loaded skeleton: the `HelloProgs<'_>` struct of
//! `::bpfsign_runtime::Program` handles, `progs()` returning it, and the check that the
//! generated `load()` runs once so that `progs()` needs no `Result`.
//!
//! A program loaded by the signed loader (autoload on) is a `Program<'_>` field; a program with
//! autoload off (`SEC("?...")`) is an `Option<Program<'_>>` field, `None` because the signed
//! loader never loads it.

use proc_macro2::TokenStream;
use quote::quote;

use bpfsign_gen::meta::SkeletonMeta;

use super::docs::{self, ItemDocs};
use super::Names;
use crate::naming::rust_ident;

/// The programs struct, `progs()` and the load-time check, as one struct plus one
/// `impl Loaded…` block.
pub(super) fn progs_items(names: &Names, docs: &ItemDocs, meta: &SkeletonMeta) -> TokenStream {
    let Names { loaded, progs, .. } = names;
    let progs_doc = &docs.progs;
    let fields = meta.progs.iter().map(|p| {
        let f = rust_ident(&p.name, "prog");
        let doc = docs::prog_field_doc(p);
        if p.autoload {
            quote!(#[doc = #doc] pub #f: ::bpfsign_runtime::Program<'a>)
        } else {
            quote!(#[doc = #doc] pub #f: ::core::option::Option<::bpfsign_runtime::Program<'a>>)
        }
    });
    // The index stays the program's index in the object, autoload or not.
    let inits = meta.progs.iter().enumerate().map(|(i, p)| {
        let f = rust_ident(&p.name, "prog");
        if p.autoload {
            quote!(#f: self.skel.program_unchecked(#i))
        } else {
            quote!(#f: self.skel.program(#i).ok())
        }
    });
    let checks = meta
        .progs
        .iter()
        .enumerate()
        .filter(|(_, p)| p.autoload)
        .map(|(i, _)| quote!(self.skel.program(#i)?;));
    quote! {
        #[doc = #progs_doc]
        #[derive(Clone, Copy, Debug)]
        pub struct #progs<'a> {
            #(#fields,)*
            _skel: ::core::marker::PhantomData<&'a ()>,
        }

        impl #loaded {
            /// The skeleton's programs: fd, section and every attach method
            /// ([`::bpfsign_runtime::Program`]). `load()` checked that each loaded program
            /// has an fd.
            pub fn progs(&self) -> #progs<'_> {
                #progs { #(#inits,)* _skel: ::core::marker::PhantomData }
            }

            /// Run once by `load()`: every program the signed loader loads has an fd, so
            /// `progs()` needs no error path. An error means the loader did not do what the
            /// skeleton describes.
            fn check_progs(&self) -> ::core::result::Result<(), ::bpfsign_runtime::Error> {
                #(#checks)*
                ::core::result::Result::Ok(())
            }
        }
    }
}
