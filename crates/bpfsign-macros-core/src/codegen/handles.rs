//! The typed API around the runtime's handle: the skeleton type (`Hello`), its builder
//! (`HelloBuilder`), the loaded skeleton (`LoadedHello`) with its program fd struct
//! (`HelloProgs`; the maps struct is in `maps.rs`) and the global-data accessors (`bss()`, `bss_mut()`, `read_bss()`, …).

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use bpfsign_gen::meta::SkeletonMeta;

use super::docs::{self, ItemDocs};
use super::layouts::GlobalSection;
use super::Names;
use crate::naming::{rust_ident, unraw};

/// The skeleton type: a unit struct with the object name, `builder()` and `spec()`.
pub(super) fn skeleton_type(names: &Names, docs: &ItemDocs, obj_name: &str) -> TokenStream {
    let Names { ty, builder, .. } = names;
    let doc = &docs.skeleton;
    quote! {
        #[doc = #doc]
        #[derive(Clone, Copy, Debug, Default)]
        pub struct #ty;

        impl #ty {
            /// Object name (`SEC` file stem) of the skeleton.
            pub const NAME: &'static str = #obj_name;

            /// Starts loading with default options (builtin keyring, no verifier log,
            /// protocol probed).
            pub fn builder() -> #builder {
                #builder::default()
            }

            /// The embedded skeleton description (data blob, loaders, signatures).
            pub fn spec() -> &'static ::bpfsign_runtime::SkeletonSpec<'static> {
                &SPEC
            }
        }
    }
}

/// The builder: load options, then `load()`.
pub(super) fn builder_type(names: &Names, docs: &ItemDocs) -> TokenStream {
    let Names {
        builder, loaded, ..
    } = names;
    let doc = &docs.builder;
    quote! {
        #[doc = #doc]
        #[derive(Clone, Debug, Default)]
        pub struct #builder {
            options: ::bpfsign_runtime::LoadOptions,
        }

        impl #builder {
            /// The keyring the kernel searches for the signer's certificate.
            pub fn keyring(mut self, keyring: ::bpfsign_runtime::Keyring) -> Self {
                self.options = self.options.keyring(keyring);
                self
            }

            /// Asks for the verifier log of the loader and of the programs it loads
            /// (`VerifierLog::default()`: level 1, 64 KiB growing on demand); it is kept in
            /// load errors and in [`::bpfsign_runtime::LoadedSkeleton::verifier_log`].
            pub fn verifier_log(mut self, log: ::bpfsign_runtime::VerifierLog) -> Self {
                self.options = self.options.verifier_log(log.level, log.size);
                self
            }

            /// Forces a protocol instead of probing the kernel (`BPFSIGN_PROTOCOL` still
            /// wins).
            pub fn protocol(mut self, protocol: ::bpfsign_runtime::Protocol) -> Self {
                self.options = self.options.protocol(protocol);
                self
            }

            /// The options collected so far.
            pub fn options(&self) -> &::bpfsign_runtime::LoadOptions {
                &self.options
            }

            /// Loads the skeleton: runs the signed loader, which creates the maps and loads
            /// the programs; then maps the global data. Nothing stays loaded on error.
            pub fn load(self) -> ::core::result::Result<#loaded, ::bpfsign_runtime::Error> {
                let skel = ::bpfsign_runtime::load(&SPEC, &self.options)?;
                let loaded = #loaded { skel };
                // On error `loaded` drops here: every fd closed, nothing stays loaded.
                loaded.check_progs()?;
                // The typed map handles, checked once here so that `maps()` cannot fail.
                loaded.__bpfsign_maps_checked()?;
                ::core::result::Result::Ok(loaded)
            }
        }
    }
}

/// The loaded skeleton's struct (programs: `super::progs`, maps: `super::maps`).
pub(super) fn loaded_types(names: &Names, docs: &ItemDocs, _meta: &SkeletonMeta) -> TokenStream {
    let Names { loaded, .. } = names;
    let loaded_doc = &docs.loaded;
    quote! {
        #[doc = #loaded_doc]
        #[derive(Debug)]
        pub struct #loaded {
            skel: ::bpfsign_runtime::LoadedSkeleton,
        }
    }
}

/// The methods of the loaded skeleton: fds, protocol, runtime handle, then `attach_methods`
/// and the global-data accessors.
pub(super) fn loaded_impl(
    names: &Names,
    _meta: &SkeletonMeta,
    attach_methods: TokenStream,
    globals: &[GlobalSection],
) -> TokenStream {
    let Names { loaded, .. } = names;
    let accessors = globals.iter().map(global_accessors);
    quote! {
        impl #loaded {
            /// The protocol whose loader was used.
            pub fn protocol(&self) -> ::bpfsign_runtime::Protocol {
                self.skel.protocol()
            }

            /// The runtime's handle, for what the typed API does not cover.
            pub fn inner(&self) -> &::bpfsign_runtime::LoadedSkeleton {
                &self.skel
            }

            #attach_methods

            #(#accessors)*
        }
    }
}

/// `bss()`, `read_bss()` and, unless the section is read-only, `bss_mut()`.
fn global_accessors(g: &GlobalSection) -> TokenStream {
    let GlobalSection {
        section,
        ident,
        type_ident: sty,
        map_index: idx,
        read_only,
    } = g;
    let getter = rust_ident(ident, "data");
    let base = unraw(&getter);
    let read_name = format_ident!("read_{}", base);
    let getter_doc = docs::global_ref_doc(section, *read_only, &read_name.to_string());
    let read_doc = docs::global_read_doc(section);
    let mut_accessor = (!read_only).then(|| {
        let mut_name = format_ident!("{}_mut", base);
        let mut_doc = docs::global_mut_doc(section, &read_name.to_string());
        quote! {
            #[doc = #mut_doc]
            pub fn #mut_name(&mut self) -> ::core::result::Result<&mut types::#sty, ::bpfsign_runtime::Error> {
                self.skel.global_mut::<types::#sty>(#idx)
            }
        }
    });
    quote! {
        #[doc = #getter_doc]
        pub fn #getter(&self) -> ::core::result::Result<&types::#sty, ::bpfsign_runtime::Error> {
            self.skel.global::<types::#sty>(#idx)
        }
        #[doc = #read_doc]
        pub fn #read_name(&self) -> ::core::result::Result<types::#sty, ::bpfsign_runtime::Error> {
            self.skel.read_global::<types::#sty>(#idx)
        }
        #mut_accessor
    }
}
