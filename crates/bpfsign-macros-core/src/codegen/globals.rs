//! Access to the global-data sections of a loaded skeleton, sound with BPF programs writing
//! the memory concurrently:
//!
//! * per variable — `bss_vars()` → `vars::Bss<'_>` whose fields are
//!   `bpfsign_runtime::GlobalVarMut` handles (`.load()`, `.store(v)`; atomic for naturally
//!   aligned 1/2/4/8-byte values, volatile copies otherwise), `rodata_vars()` → `vars::Rodata`
//!   of `bpfsign_runtime::GlobalVar` (`.get()`);
//! * per section — `read_bss()`, a volatile copy;
//! * references — `rodata()` (safe: the section is frozen and read-only for everyone), and the
//!   `unsafe fn bss()` / `bss_mut()` of writable sections, whose references would race with
//!   the programs' stores unless no program that writes them runs.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::layouts::GlobalSection;
use crate::naming::{rust_ident, unraw};

/// The `vars` module: one struct of per-variable handles per section.
pub(super) fn vars_module(globals: &[GlobalSection]) -> TokenStream {
    let structs = globals.iter().map(|g| {
        let sty = &g.type_ident;
        let handle = if g.read_only {
            quote!(::bpfsign_runtime::GlobalVar)
        } else {
            quote!(::bpfsign_runtime::GlobalVarMut)
        };
        let fields = g.vars.iter().map(|v| {
            let (f, ty) = (&v.ident, &v.ty);
            let doc = if g.read_only {
                format!(
                    "`{}` (byte {} of `{}`): fixed at signing; `.get()` reads it.",
                    v.name, v.offset, g.section
                )
            } else {
                format!(
                    "`{}` (byte {} of `{}`): `.load()` / `.store(v)`, shared with the BPF programs.",
                    v.name, v.offset, g.section
                )
            };
            quote!(#[doc = #doc] pub #f: #handle<'a, #ty>)
        });
        let doc = format!(
            "Per-variable handles of `{}` (see `bpfsign_runtime::{}`).",
            g.section,
            if g.read_only { "GlobalVar" } else { "GlobalVarMut" }
        );
        quote! {
            #[doc = #doc]
            #[derive(Debug)]
            pub struct #sty<'a> {
                #(#fields,)*
                #[doc(hidden)]
                pub _skel: ::core::marker::PhantomData<&'a ()>,
            }
        }
    });
    quote! {
        /// Per-variable handles of the global-data sections (`bss_vars()`, `rodata_vars()`, …):
        /// loads and stores that are sound while the BPF programs access the same memory.
        pub mod vars {
            #[allow(unused_imports)]
            use super::types::*;
            #(#structs)*
        }
    }
}

/// The accessors of every section on the loaded skeleton.
pub(super) fn accessors(globals: &[GlobalSection]) -> TokenStream {
    let each = globals.iter().map(section_accessors);
    quote!(#(#each)*)
}

/// `X_vars()`, `read_X()`, and the reference accessors `X()` (safe for read-only sections,
/// `unsafe` otherwise) and `X_mut()` (writable sections, `unsafe`).
fn section_accessors(g: &GlobalSection) -> TokenStream {
    let GlobalSection {
        section,
        type_ident: sty,
        map_index: idx,
        read_only,
        ..
    } = g;
    let getter = rust_ident(&g.ident, "data");
    let base = unraw(&getter);
    let read_name = format_ident!("read_{}", base);
    let vars_name = format_ident!("{}_vars", base);
    let read = read_name.to_string();
    let vars = vars_name.to_string();
    // The handle types come from the `vars` struct's fields (named as in `types`).
    let var_inits = g.vars.iter().map(|v| {
        let f = &v.ident;
        let off = v.offset as usize;
        if *read_only {
            quote!(#f: self.skel.global_var(#idx, #off)?)
        } else {
            quote!(#f: self.skel.global_var_mut(#idx, #off)?)
        }
    });
    let vars_doc = format!(
        "Per-variable handles of the `{section}` globals: {}. An error means the map is not \
         mapped as this code expects (it does not happen after a successful load of the same \
         skeleton).",
        if *read_only {
            "`.get()` reads a value fixed at signing"
        } else {
            "`.load()` and `.store(v)`, atomic (relaxed) for naturally aligned 1, 2, 4 and \
             8-byte values and volatile copies otherwise, so they are sound while the BPF \
             programs access the same variables"
        }
    );
    let read_doc = format!(
        "A copy of the `{section}` globals, read with volatile reads on every call: a \
         snapshot of values the BPF programs change. Not atomic: a value the programs store \
         meanwhile may be torn; use [`{vars}()`](Self::{vars}) for single variables."
    );
    let refs = if *read_only {
        let doc = format!(
            "The `{section}` globals by reference. Safe: the section is read-only for the \
             programs (`BPF_F_RDONLY_PROG`), frozen by the signed loader after it wrote the \
             values fixed at signing, and mapped read-only, so nothing changes the memory \
             while the reference lives. An error means the map is not mapped as this code \
             expects."
        );
        quote! {
            #[doc = #doc]
            pub fn #getter(&self) -> ::core::result::Result<&types::#sty, ::bpfsign_runtime::Error> {
                self.skel.global::<types::#sty>(#idx)
            }
        }
    } else {
        let mut_name = format_ident!("{}_mut", base);
        let doc = format!(
            "The `{section}` globals by shared reference.\n\n# Safety\n\nThe BPF programs may \
             store to this memory at any time, and a store while the reference lives is a data \
             race: call this only while no program that writes `{section}` runs (before \
             attaching, after detaching), and while nothing else in user space stores to it. \
             Otherwise use [`{read}()`](Self::{read}) or [`{vars}()`](Self::{vars})."
        );
        let mut_doc = format!(
            "The `{section}` globals by mutable reference: stores reach the BPF programs at \
             once.\n\n# Safety\n\nThe BPF programs may read and store this memory at any time: \
             call this only while no program that accesses `{section}` runs (before \
             attaching, after detaching). Otherwise store single variables with \
             [`{vars}()`](Self::{vars})."
        );
        quote! {
            #[doc = #doc]
            pub unsafe fn #getter(&self) -> ::core::result::Result<&types::#sty, ::bpfsign_runtime::Error> {
                // SAFETY: the caller upholds this function's contract (no concurrent writer).
                unsafe { self.skel.global_shared::<types::#sty>(#idx) }
            }
            #[doc = #mut_doc]
            pub unsafe fn #mut_name(&mut self) -> ::core::result::Result<&mut types::#sty, ::bpfsign_runtime::Error> {
                // SAFETY: the caller upholds this function's contract (no concurrent access).
                unsafe { self.skel.global_mut::<types::#sty>(#idx) }
            }
        }
    };
    quote! {
        #[doc = #vars_doc]
        pub fn #vars_name(&self) -> ::core::result::Result<vars::#sty<'_>, ::bpfsign_runtime::Error> {
            ::core::result::Result::Ok(vars::#sty {
                #(#var_inits,)*
                _skel: ::core::marker::PhantomData,
            })
        }
        #[doc = #read_doc]
        pub fn #read_name(&self) -> ::core::result::Result<types::#sty, ::bpfsign_runtime::Error> {
            self.skel.read_global::<types::#sty>(#idx)
        }
        #refs
    }
}
