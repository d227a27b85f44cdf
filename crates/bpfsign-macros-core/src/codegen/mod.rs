//! Rust code for one skeleton: embedded bytes, the `static SPEC`, and the typed API
//! (`Hello`, `HelloBuilder`, `LoadedHello`, `HelloProgs`, `HelloMaps`, `HelloLinks`, `types`).
//!
//! The generated code names the runtime as `::bpfsign_runtime`, so the crate that expands
//! the macro must depend on `bpfsign-runtime` under that name.
//!
//! One module per concern; [`generate_skeleton`] assembles their pieces:
//!
//! * [`spec`] — the embedded bytes and the runtime's `SkeletonSpec` (maps, programs, variants);
//! * [`layouts`] — the global-data types (`types::Bss` …);
//! * [`handles`] — the skeleton type, builder, loaded skeleton, global accessors;
//! * [`progs`] — the programs struct (`HelloProgs`: `Program` handles) and `progs()`;
//! * [`maps`] — `maps()`, its struct of typed map handles and the key/value types;
//! * [`attach`] — `attach()`, `attach_<prog>()` and the links struct;
//! * [`docs`] — the doc comments of all of these.

mod attach;
mod docs;
mod handles;
mod layouts;
mod maps;
mod progs;
mod spec;

use std::path::PathBuf;

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use bpfsign_gen::artifact::Artifact;

use self::docs::ItemDocs;
use self::layouts::GlobalData;
use crate::naming::snake_case;

pub use self::spec::{spec_tokens, ArtifactPart, SpecBytes};

/// What to generate: the signed artifact plus naming and rebuild tracking.
#[derive(Clone, Debug)]
pub struct SkelCode<'a> {
    /// The artifact to embed.
    pub artifact: &'a Artifact,
    /// The skeleton's type name (`Hello`).
    pub type_name: String,
    /// One line saying where the bytes come from, for the docs (e.g. "hello.bpf.o, signed at
    /// build time").
    pub origin: String,
    /// Files whose change must rebuild the crate (object, key, certificate, signatures).
    pub tracked_files: Vec<PathBuf>,
    /// Environment variables whose change must rebuild the crate.
    pub tracked_env: Vec<String>,
}

/// The names of the generated items, from the skeleton's type name (`Hello`).
pub(crate) struct Names {
    /// `Hello`.
    ty: Ident,
    /// `HelloBuilder`.
    builder: Ident,
    /// `LoadedHello`.
    loaded: Ident,
    /// `HelloProgs`.
    progs: Ident,
    /// `HelloMaps`.
    maps: Ident,
    /// `HelloLinks`.
    links: Ident,
    /// `hello_skel`, the module holding everything.
    module: Ident,
}

impl Names {
    fn new(type_name: &str) -> Self {
        Names {
            ty: format_ident!("{}", type_name),
            builder: format_ident!("{}Builder", type_name),
            loaded: format_ident!("Loaded{}", type_name),
            progs: format_ident!("{}Progs", type_name),
            maps: format_ident!("{}Maps", type_name),
            links: format_ident!("{}Links", type_name),
            module: format_ident!("{}_skel", snake_case(type_name)),
        }
    }
}

/// Generates the skeleton's items. Errors are messages for `compile_error!`.
pub fn generate_skeleton(code: &SkelCode<'_>) -> Result<TokenStream, String> {
    let art = code.artifact;
    let meta = &art.meta;
    let names = Names::new(&code.type_name);
    let globals = GlobalData::new(meta)?;
    let docs = ItemDocs::new(code, &names);

    let tracked_env = tracked_env(&code.tracked_env);
    let tracked_files = tracked_files(&code.tracked_files);
    let aligned = spec::aligned_type();
    let statics = spec::embedded_statics(art);
    let spec = spec::spec_static(art);
    let types = globals.types_module();
    let skeleton = handles::skeleton_type(&names, &docs, &meta.name);
    let builder = handles::builder_type(&names, &docs);
    let loaded = handles::loaded_types(&names, &docs, meta);
    let progs = progs::progs_items(&names, &docs, meta);
    let links = attach::links_type(&names, &docs, meta);
    let attach_methods = attach::attach_methods(&names, meta);
    let loaded_impl = handles::loaded_impl(&names, meta, attach_methods, &globals.sections);
    let maps_items = maps::maps_items(&names, &docs, meta, &globals.map_kv);

    let Names {
        ty,
        builder: builder_ty,
        loaded: loaded_ty,
        progs: progs_ty,
        maps: maps_ty,
        links: links_ty,
        module,
    } = &names;
    let module_doc = &docs.module;
    Ok(quote! {
        #tracked_env

        #[doc = #module_doc]
        #[allow(dead_code, non_snake_case, non_camel_case_types, non_upper_case_globals, unused_qualifications, clippy::all)]
        pub mod #module {
            #aligned

            #tracked_files

            #statics

            #spec

            #types

            #skeleton

            #builder

            #loaded

            #progs

            #links

            #loaded_impl

            #maps_items
        }

        pub use #module::{#ty, #builder_ty, #loaded_ty, #progs_ty, #maps_ty, #links_ty};
    })
}

/// `const _: &str = env!("VAR");` per variable, so rustc rebuilds when one changes.
fn tracked_env(vars: &[String]) -> TokenStream {
    quote! {
        #(const _: &str = env!(#vars);)*
    }
}

/// A function that `include_bytes!`s every input file, so rustc rebuilds when one changes.
///
/// The object, key and certificate files are read inside an uncalled function, never in a
/// `const`/`static`: rustc stores the value of a `const _: &[u8] = include_bytes!(…)` in the
/// crate metadata (`.rlib`/`.rmeta`) and the incremental cache, which would put the private
/// key bytes there. A function body only makes rustc track the file.
fn tracked_files(files: &[PathBuf]) -> TokenStream {
    let paths = files.iter().map(|p| p.to_string_lossy().into_owned());
    quote! {
        /// Makes rustc rebuild when an input file changes; never called, holds no bytes.
        #[allow(dead_code)]
        fn __bpfsign_track_files() {
            #(let _ = include_bytes!(#paths);)*
        }
    }
}
