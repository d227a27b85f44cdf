//! Rust code for one skeleton: embedded bytes, the `static SPEC`, and the typed API
//! (`Hello`, `HelloBuilder`, `LoadedHello`, `HelloProgs`, `HelloMaps`, `HelloLinks`, `types`).
//!
//! The generated code names the runtime as `::bpfsign_runtime`, so the crate that expands
//! the macro must depend on `bpfsign-runtime` under that name.

use std::path::PathBuf;

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use bpfsign_gen::artifact::Artifact;
use bpfsign_gen::meta::{AttachKind, Protocol};
use bpfsign_gen::sign::{SignerDescription, SignerId};

use super::layout::{camel_case, rust_ident, TypeGen};

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

fn bytes_lit(b: &[u8]) -> Literal {
    Literal::byte_string(b)
}

fn snake_case(camel: &str) -> String {
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

fn protocol_tokens(p: Protocol) -> TokenStream {
    match p {
        Protocol::Unsigned => quote!(::bpfsign_runtime::Protocol::Unsigned),
        Protocol::P1 => quote!(::bpfsign_runtime::Protocol::P1),
        Protocol::P1b => quote!(::bpfsign_runtime::Protocol::P1b),
        Protocol::P2 => quote!(::bpfsign_runtime::Protocol::P2),
    }
}

fn protocol_name(p: Protocol) -> &'static str {
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

/// `BPF_F_RDONLY_PROG`: programs only read the map; it is mmapped read-only.
const BPF_F_RDONLY_PROG: u32 = 0x80;
/// `BPF_F_RDONLY`: user space only reads the map.
const BPF_F_RDONLY: u32 = 0x08;

/// The note every API doc repeats about initial values.
const INITIAL_VALUES_NOTE: &str = "Initial values of global variables are fixed when the \
skeleton is signed: the signed loader takes them from the signed data blob and ignores any \
value supplied at run time. Writable globals (`.bss`, `.data`) are changed through the \
mmapped memory after load (`bss_mut()`, `data_mut()`); `.rodata` stays as built.";

/// The note on memory shared with BPF programs, repeated on the global-data accessors;
/// `read` names the section's volatile copy accessor.
fn shared_memory_note(read: &str) -> String {
    format!(
        "The memory is mmapped and shared with the BPF programs, which may store to it at any \
         time: Rust assumes a referenced value does not change while borrowed, so take the \
         reference, use it and drop it (as with libbpf-rs skeletons); to watch values change, \
         call [`{read}()`](Self::{read}) instead. An error means the map is not mapped as this \
         code expects (it does not happen after a successful load of the same skeleton)."
    )
}

/// Generates the skeleton's items. Errors are messages for `compile_error!`.
pub fn generate_skeleton(code: &SkelCode<'_>) -> Result<TokenStream, String> {
    let art = code.artifact;
    let meta = &art.meta;
    let ty = format_ident!("{}", code.type_name);
    let builder_ty = format_ident!("{}Builder", code.type_name);
    let loaded_ty = format_ident!("Loaded{}", code.type_name);
    let progs_ty = format_ident!("{}Progs", code.type_name);
    let maps_ty = format_ident!("{}Maps", code.type_name);
    let links_ty = format_ident!("{}Links", code.type_name);
    let module = format_ident!("{}_skel", snake_case(&code.type_name));
    let obj_name = &meta.name;

    // ---- rebuild tracking -------------------------------------------------------------
    let tracked_env = code.tracked_env.iter().map(|v| {
        quote!(
            const _: &str = env!(#v);
        )
    });
    // The object, key and certificate files are read inside an uncalled function, never in a
    // `const`/`static`: rustc stores the value of a `const _: &[u8] = include_bytes!(…)` in
    // the crate metadata (`.rlib`/`.rmeta`) and the incremental cache, which would put the
    // private key bytes there. A function body only makes rustc track the file.
    let tracked_paths: Vec<String> = code
        .tracked_files
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let tracked_files = quote! {
        /// Makes rustc rebuild when an input file changes; never called, holds no bytes.
        #[allow(dead_code)]
        fn __bpfsign_track_files() {
            #(let _ = include_bytes!(#tracked_paths);)*
        }
    };

    // ---- embedded bytes -----------------------------------------------------------------
    let data_len = art.data.len();
    let data_lit = bytes_lit(&art.data);
    let mut statics = vec![quote! {
        /// The data blob (metadata map value), identical for every protocol.
        pub static DATA: Aligned<#data_len> = Aligned(*#data_lit);
    }];
    let mut variant_exprs = Vec::new();
    for v in &art.variants {
        let pname = protocol_name(v.protocol);
        let upper = pname.to_ascii_uppercase();
        let insns_id = format_ident!("INSNS_{}", upper);
        let hash_id = format_ident!("EXCL_HASH_{}", upper);
        let n = v.insns.len();
        let insns_lit = bytes_lit(&v.insns);
        let hash_lit = bytes_lit(&v.excl_prog_hash);
        let insns_doc = format!(
            "Loader instructions for protocol `{pname}` ({} insns).",
            n / 8
        );
        let hash_doc = format!(
            "SHA-256 of the `{pname}` loader instructions: {}.",
            hex(&v.excl_prog_hash)
        );
        statics.push(quote! {
            #[doc = #insns_doc]
            pub static #insns_id: Aligned<#n> = Aligned(*#insns_lit);
            #[doc = #hash_doc]
            pub static #hash_id: [u8; 32] = *#hash_lit;
        });
        let sig = match &v.signature {
            Some(sig) => {
                let sig_id = format_ident!("SIG_{}", upper);
                let sig_lit = bytes_lit(sig);
                let sl = sig.len();
                let sig_doc =
                    format!("Detached PKCS#7 signature of the `{pname}` payload ({sl} bytes).");
                statics.push(quote! {
                    #[doc = #sig_doc]
                    pub static #sig_id: [u8; #sl] = *#sig_lit;
                });
                quote!(::core::option::Option::Some(&#sig_id))
            }
            None => quote!(::core::option::Option::None),
        };
        let proto = protocol_tokens(v.protocol);
        variant_exprs.push(quote! {
            ::bpfsign_runtime::LoaderVariant {
                protocol: #proto,
                insns: &#insns_id.0,
                excl_prog_hash: #hash_id,
                signature: #sig,
            }
        });
    }
    let map_exprs = meta.maps.iter().map(|m| {
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
    });
    let prog_exprs = meta.progs.iter().map(|p| {
        let (name, prog_type, eat, autoload) =
            (&p.name, p.prog_type, p.expected_attach_type, p.autoload);
        let attach = match &p.attach {
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
        };
        quote! {
            ::bpfsign_runtime::ProgSpec {
                name: #name, prog_type: #prog_type, expected_attach_type: #eat,
                autoload: #autoload, attach: #attach,
            }
        }
    });
    let skid = match art.signer.as_ref().and_then(signer_skid) {
        Some(s) => quote!(::core::option::Option::Some(#s)),
        None => quote!(::core::option::Option::None),
    };

    // ---- programs -----------------------------------------------------------------------
    let mut prog_fields = Vec::new();
    let mut prog_inits = Vec::new();
    let mut link_fields = Vec::new();
    let mut link_field_names = Vec::new();
    let mut link_inits = Vec::new();
    let mut attach_fns = Vec::new();
    let mut prog_list_doc = String::new();
    let mut not_loaded = Vec::new();
    for (i, p) in meta.progs.iter().enumerate() {
        let f = rust_ident(&p.name, "prog");
        let attach_desc = match &p.attach {
            AttachKind::RawTracepoint { tp_name: Some(tp) } => format!("raw tracepoint `{tp}`"),
            AttachKind::RawTracepoint { tp_name: None } => match &p.attach_target {
                Some(t) => format!("BTF target `{t}`"),
                None => "its BTF target".to_string(),
            },
            AttachKind::Iter => "a BPF iterator link".to_string(),
            AttachKind::Manual => {
                "nothing automatically (attach it yourself through its fd)".to_string()
            }
        };
        if !p.autoload {
            // Autoload is off for `SEC("?...")` programs; the signed loader is fixed then.
            let sec = format!("?{}", p.section.trim_start_matches('?'));
            prog_list_doc.push_str(&format!(
                "- `{}` (`SEC(\"{sec}\")`): not loaded — autoload was off when the skeleton \
                 was signed, so it has no fd and no link.\n",
                p.name
            ));
            not_loaded.push(format!("`{}` (`SEC(\"{sec}\")`)", p.name));
            continue;
        }
        prog_list_doc.push_str(&format!(
            "- `{}` (`SEC(\"{}\")`), attaches to {attach_desc}.\n",
            p.name, p.section
        ));
        let doc = format!("Program `{}` (`SEC(\"{}\")`).", p.name, p.section);
        prog_fields.push(quote!(#[doc = #doc] pub #f: ::std::os::fd::BorrowedFd<'a>));
        prog_inits.push(quote!(#f: self.skel.loaded_prog_fd(#i)?));
        if !matches!(p.attach, AttachKind::Manual) {
            let fn_name = format_ident!("attach_{}", f.to_string().trim_start_matches("r#"));
            let fn_doc = format!(
                "Attaches program `{}` to {attach_desc}. The link detaches when dropped \
                 (see [`::bpfsign_runtime::Link::forget`]).",
                p.name
            );
            attach_fns.push(quote! {
                #[doc = #fn_doc]
                pub fn #fn_name(&self) -> ::core::result::Result<::bpfsign_runtime::Link, ::bpfsign_runtime::Error> {
                    self.skel.attach_prog(#i)
                }
            });
            let link_doc = format!("Link of program `{}`; detaches on drop.", p.name);
            link_fields.push(quote!(#[doc = #link_doc] pub #f: ::bpfsign_runtime::Link));
            link_inits.push(quote!(#f: self.#fn_name()?));
            link_field_names.push(f.clone());
        }
    }

    // ---- maps -----------------------------------------------------------------------------
    let mut map_fields = Vec::new();
    let mut map_inits = Vec::new();
    for (i, m) in meta.maps.iter().enumerate() {
        let f = rust_ident(&m.ident, "map");
        let doc = format!("Map `{}` (kernel name `{}`).", m.ident, m.kernel_name);
        map_fields.push(quote!(#[doc = #doc] pub #f: ::std::os::fd::BorrowedFd<'a>));
        map_inits.push(quote!(#f: self.skel.loaded_map_fd(#i)?));
    }

    // ---- global data ----------------------------------------------------------------------
    let data_secs: Vec<_> = meta
        .datasecs
        .iter()
        .filter(|d| meta.maps.get(d.map_index).is_some_and(|m| m.mmapable))
        .collect();
    let reserved: Vec<String> = data_secs.iter().map(|d| camel_case(&d.ident)).collect();
    let mut types = TypeGen::new(&reserved);
    let mut datasec_items = Vec::new();
    let mut accessors = Vec::new();
    for d in &data_secs {
        let map = &meta.maps[d.map_index];
        if d.size > map.value_size {
            return Err(format!(
                "section {} is {} bytes but its map `{}` holds only {}",
                d.section, d.size, map.ident, map.value_size
            ));
        }
        let sty = format_ident!("{}", camel_case(&d.ident));
        let dt = types.datasec(d, sty.clone())?;
        datasec_items.push(dt.tokens);
        let idx = d.map_index;
        let getter = rust_ident(&d.ident, "data");
        // The runtime accepts views up to the value size rounded to the type's alignment.
        if dt.rust_size > (map.value_size as u64).next_multiple_of(16) {
            return Err(format!(
                "the Rust layout of {} ({} bytes) exceeds its map value ({} bytes)",
                d.section, dt.rust_size, map.value_size
            ));
        }
        let read_only = map.map_flags & (BPF_F_RDONLY_PROG | BPF_F_RDONLY) != 0;
        let base = getter.to_string().trim_start_matches("r#").to_string();
        let read_name = format_ident!("read_{}", base);
        let note = shared_memory_note(&read_name.to_string());
        let getter_doc = if read_only {
            format!(
                "The `{}` globals (read-only: the kernel maps them read-only; their values are \
                 fixed at signing).\n\n{note}",
                d.section
            )
        } else {
            format!(
                "The `{}` globals, a view of the map's memory, which the BPF programs may change \
                 while the reference lives.\n\n{note}",
                d.section
            )
        };
        let read_doc = format!(
            "A copy of the `{}` globals, read with volatile reads on every call: the way to \
             observe values the BPF programs change (counters, flags). Not atomic: a value the \
             programs store meanwhile may be torn.",
            d.section
        );
        accessors.push(quote! {
            #[doc = #getter_doc]
            pub fn #getter(&self) -> ::core::result::Result<&types::#sty, ::bpfsign_runtime::Error> {
                self.skel.global::<types::#sty>(#idx)
            }
            #[doc = #read_doc]
            pub fn #read_name(&self) -> ::core::result::Result<types::#sty, ::bpfsign_runtime::Error> {
                self.skel.read_global::<types::#sty>(#idx)
            }
        });
        if !read_only {
            let mut_name = format_ident!("{}_mut", base);
            let mut_doc = format!(
                "The `{}` globals, writable: stores reach the BPF programs at once. This is how \
                 to change a global after load (the signed loader ignores run-time initial \
                 values).\n\n{note}",
                d.section
            );
            accessors.push(quote! {
                #[doc = #mut_doc]
                pub fn #mut_name(&mut self) -> ::core::result::Result<&mut types::#sty, ::bpfsign_runtime::Error> {
                    self.skel.global_mut::<types::#sty>(#idx)
                }
            });
        }
    }
    let type_items = types.items().to_vec();

    // ---- docs -----------------------------------------------------------------------------
    let variants_doc = art
        .variants
        .iter()
        .map(|v| {
            format!(
                "`{}`{}",
                protocol_name(v.protocol),
                if v.signature.is_some() {
                    " (signed)"
                } else {
                    " (unsigned)"
                }
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let signer_doc = match &art.signer {
        Some(s) => match &s.id {
            SignerId::SubjectKeyIdentifier { skid } => {
                format!(
                    "Signed by `{}` ({}, SKID `{skid}`).",
                    s.subject, s.key_algorithm
                )
            }
            SignerId::IssuerAndSerial { issuer, serial } => format!(
                "Signed by `{}` ({}, issuer `{issuer}`, serial `{serial}`).",
                s.subject, s.key_algorithm
            ),
        },
        None => "No signer: the skeleton is unsigned.".to_string(),
    };
    let ty_doc = format!(
        "Signed light skeleton of the BPF object `{obj_name}` (from {origin}).\n\n\
         Loader variants: {variants_doc}; the runtime probes the kernel and picks one \
         (`BPFSIGN_PROTOCOL=p1|p1b|p2|unsigned` overrides). {signer_doc}\n\n\
         Programs:\n{prog_list_doc}\n\
         Load with [`{ty}::builder()`]`.keyring(..).load()`, which returns [`{loaded_ty}`].\n\n\
         {INITIAL_VALUES_NOTE}",
        origin = code.origin,
    );
    let builder_doc = format!(
        "Load-time options for [`{ty}`]; only what the signature does not cover \
         (keyring, verifier log, protocol).\n\n{INITIAL_VALUES_NOTE}"
    );
    let loaded_doc = format!(
        "A loaded [`{ty}`]: owns every map and program fd and the mmapped global data; \
         dropping it closes them (links already made stay until they are dropped)."
    );
    let module_doc = format!(
        "Everything `include_signed_skel!` generated for `{obj_name}`; the main types are \
         re-exported next to the macro call."
    );
    let maps_doc = format!("File descriptors of the maps of [`{loaded_ty}`].");
    let progs_doc = if not_loaded.is_empty() {
        format!("File descriptors of the loaded programs of [`{loaded_ty}`].")
    } else {
        format!(
            "File descriptors of the loaded programs of [`{loaded_ty}`]. Not here, because \
             autoload was off when the skeleton was signed (the signed loader never loads \
             them): {}.",
            not_loaded.join(", ")
        )
    };
    let links_doc = format!(
        "Links made by [`{loaded_ty}::attach`], one per loaded program that attaches \
         automatically (fentry, fexit, fmod_ret, tp_btf, lsm, raw_tp, iter); each detaches when \
         dropped."
    );
    let name_lit = obj_name.as_str();

    Ok(quote! {
        #(#tracked_env)*

        #[doc = #module_doc]
        #[allow(dead_code, non_snake_case, non_camel_case_types, non_upper_case_globals, unused_qualifications, clippy::all)]
        pub mod #module {
            /// 8-byte aligned bytes (loader instructions and the data blob).
            #[repr(C, align(8))]
            pub struct Aligned<const N: usize>(pub [u8; N]);

            #tracked_files

            #(#statics)*

            /// The skeleton as the runtime sees it.
            pub static SPEC: ::bpfsign_runtime::SkeletonSpec<'static> = ::bpfsign_runtime::SkeletonSpec {
                name: #name_lit,
                data: &DATA.0,
                variants: &[#(#variant_exprs),*],
                maps: &[#(#map_exprs),*],
                progs: &[#(#prog_exprs),*],
                signer_skid: #skid,
            };

            /// `#[repr(C)]` layouts of the global-data sections and the C types they use.
            pub mod types {
                #(#type_items)*
                #(#datasec_items)*
            }

            #[doc = #ty_doc]
            #[derive(Clone, Copy, Debug, Default)]
            pub struct #ty;

            impl #ty {
                /// Object name (`SEC` file stem) of the skeleton.
                pub const NAME: &'static str = #name_lit;

                /// Starts loading with default options (builtin keyring, no verifier log,
                /// protocol probed).
                pub fn builder() -> #builder_ty {
                    #builder_ty::default()
                }

                /// The embedded skeleton description (data blob, loaders, signatures).
                pub fn spec() -> &'static ::bpfsign_runtime::SkeletonSpec<'static> {
                    &SPEC
                }
            }

            #[doc = #builder_doc]
            #[derive(Clone, Debug, Default)]
            pub struct #builder_ty {
                options: ::bpfsign_runtime::LoadOptions,
            }

            impl #builder_ty {
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
                pub fn load(self) -> ::core::result::Result<#loaded_ty, ::bpfsign_runtime::Error> {
                    let skel = ::bpfsign_runtime::load(&SPEC, &self.options)?;
                    ::core::result::Result::Ok(#loaded_ty { skel })
                }
            }

            #[doc = #loaded_doc]
            #[derive(Debug)]
            pub struct #loaded_ty {
                skel: ::bpfsign_runtime::LoadedSkeleton,
            }

            #[doc = #progs_doc]
            #[derive(Clone, Copy, Debug)]
            pub struct #progs_ty<'a> {
                #(#prog_fields,)*
                _skel: ::core::marker::PhantomData<&'a ()>,
            }

            #[doc = #maps_doc]
            #[derive(Clone, Copy, Debug)]
            pub struct #maps_ty<'a> {
                #(#map_fields,)*
                _skel: ::core::marker::PhantomData<&'a ()>,
            }

            #[doc = #links_doc]
            #[derive(Debug)]
            pub struct #links_ty {
                #(#link_fields,)*
            }

            impl #links_ty {
                /// Leaves every program attached after this process exits or drops the links.
                pub fn forget(self) {
                    #(::bpfsign_runtime::Link::forget(self.#link_field_names);)*
                }
            }

            impl #loaded_ty {
                /// Program file descriptors (programs with autoload off have none). An error
                /// means the skeleton is not loaded as this code expects (it does not happen
                /// after a successful load).
                pub fn progs(&self) -> ::core::result::Result<#progs_ty<'_>, ::bpfsign_runtime::Error> {
                    ::core::result::Result::Ok(#progs_ty { #(#prog_inits,)* _skel: ::core::marker::PhantomData })
                }

                /// Map file descriptors. An error means the skeleton is not loaded as this code
                /// expects (it does not happen after a successful load).
                pub fn maps(&self) -> ::core::result::Result<#maps_ty<'_>, ::bpfsign_runtime::Error> {
                    ::core::result::Result::Ok(#maps_ty { #(#map_inits,)* _skel: ::core::marker::PhantomData })
                }

                /// The protocol whose loader was used.
                pub fn protocol(&self) -> ::bpfsign_runtime::Protocol {
                    self.skel.protocol()
                }

                /// The runtime's handle, for what the typed API does not cover.
                pub fn inner(&self) -> &::bpfsign_runtime::LoadedSkeleton {
                    &self.skel
                }

                /// Attaches every auto-attachable program, in object order; on error the links
                /// made so far are dropped (detached).
                pub fn attach(&self) -> ::core::result::Result<#links_ty, ::bpfsign_runtime::Error> {
                    ::core::result::Result::Ok(#links_ty { #(#link_inits,)* })
                }

                #(#attach_fns)*

                #(#accessors)*
            }
        }

        pub use #module::{#ty, #builder_ty, #loaded_ty, #progs_ty, #maps_ty, #links_ty};
    })
}
