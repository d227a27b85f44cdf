//! The generated `maps()`: a plain struct with one typed runtime handle per map
//! (`HashMap<'_, K, V>`, `PerCpuMap`, `RingBuf`, `PerfEventArray`, `ProgArray`, `MapOfMaps`,
//! `Map` for data maps and other types), its key and value types in the `types` module, and
//! the check that `load()` runs once so that `maps()` needs no `Result`.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use bpfsign_gen::meta::{MapMeta, SkeletonMeta};

use super::docs::{self, ItemDocs};
use super::layouts::TypeGen;
use super::Names;
use crate::naming::{camel_case, rust_ident};

/// `BPF_MAP_TYPE_*` numbers that pick a handle.
use bpfsign_abi::map_type;

/// The handle kind of a map.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Hash,
    PerCpu,
    RingBuf,
    PerfEventArray,
    ProgArray,
    MapOfMaps,
    Plain,
}

fn kind(m: &MapMeta) -> Kind {
    if m.section.is_some() || m.mmapable {
        return Kind::Plain;
    }
    match m.map_type {
        map_type::HASH | map_type::ARRAY | map_type::LRU_HASH | map_type::LPM_TRIE => Kind::Hash,
        map_type::PERCPU_HASH | map_type::PERCPU_ARRAY | map_type::LRU_PERCPU_HASH => Kind::PerCpu,
        map_type::RINGBUF => Kind::RingBuf,
        map_type::PERF_EVENT_ARRAY => Kind::PerfEventArray,
        map_type::PROG_ARRAY => Kind::ProgArray,
        map_type::ARRAY_OF_MAPS | map_type::HASH_OF_MAPS => Kind::MapOfMaps,
        _ => Kind::Plain,
    }
}

/// The `types` aliases of one map's key and value (`None` where its handle names none).
pub(crate) type KvAliases = (Option<Ident>, Option<Ident>);

/// The `types` aliases (`CountsKey`, `CountsValue`) of every map whose handle names its key
/// or value, in metadata order.
pub(super) fn kv_aliases(
    types: &mut TypeGen,
    meta: &SkeletonMeta,
) -> Result<Vec<KvAliases>, String> {
    meta.maps
        .iter()
        .map(|m| {
            let (key, value) = match kind(m) {
                Kind::Hash | Kind::PerCpu => (true, true),
                Kind::MapOfMaps => (true, false),
                _ => (false, false),
            };
            let base = camel_case(&m.ident);
            let k = key
                .then(|| {
                    let what = format!("key of map `{}`", m.ident);
                    types.map_kv_alias(
                        &format!("{base}Key"),
                        &what,
                        m.key_type.as_ref(),
                        m.key_size,
                    )
                })
                .transpose()?;
            let v = value
                .then(|| {
                    let what = format!("value of map `{}`", m.ident);
                    types.map_kv_alias(
                        &format!("{base}Value"),
                        &what,
                        m.value_type.as_ref(),
                        m.value_size,
                    )
                })
                .transpose()?;
            Ok((k, v))
        })
        .collect()
}

/// The maps struct (`HelloMaps<'a>`) and the `maps()` / check methods of the loaded type.
pub(super) fn maps_items(
    names: &Names,
    docs: &ItemDocs,
    meta: &SkeletonMeta,
    kv: &[KvAliases],
) -> TokenStream {
    let Names { loaded, maps, .. } = names;
    let maps_doc = &docs.maps;
    let mut fields = Vec::new();
    let mut inits = Vec::new();
    let mut checks = Vec::new();
    for (i, m) in meta.maps.iter().enumerate() {
        let f = rust_ident(&m.ident, "map");
        let doc = docs::map_field_doc(m);
        let (k, v) = kv.get(i).cloned().unwrap_or((None, None));
        let rt = quote!(::bpfsign_runtime);
        let map = quote!(self.skel.map(#i)?);
        let (ty, ctor) = match (kind(m), k, v) {
            (Kind::Hash, Some(k), Some(v)) => (
                quote!(#rt::HashMap<'a, types::#k, types::#v>),
                Some(quote!(#rt::HashMap::<types::#k, types::#v>)),
            ),
            (Kind::PerCpu, Some(k), Some(v)) => (
                quote!(#rt::PerCpuMap<'a, types::#k, types::#v>),
                Some(quote!(#rt::PerCpuMap::<types::#k, types::#v>)),
            ),
            (Kind::MapOfMaps, Some(k), _) => (
                quote!(#rt::MapOfMaps<'a, types::#k>),
                Some(quote!(#rt::MapOfMaps::<types::#k>)),
            ),
            (Kind::RingBuf, _, _) => (quote!(#rt::RingBuf<'a>), Some(quote!(#rt::RingBuf))),
            (Kind::PerfEventArray, _, _) => (
                quote!(#rt::PerfEventArray<'a>),
                Some(quote!(#rt::PerfEventArray)),
            ),
            (Kind::ProgArray, _, _) => (quote!(#rt::ProgArray<'a>), Some(quote!(#rt::ProgArray))),
            _ => (quote!(#rt::Map<'a>), None),
        };
        let (check, init) = match ctor {
            Some(c) => (
                quote!(#c::new(#map)?;),
                quote!(#c::__checked(self.skel.__checked_map(#i))),
            ),
            None => (quote!(#map;), quote!(self.skel.__checked_map(#i))),
        };
        checks.push(check);
        fields.push(quote!(#[doc = #doc] pub #f: #ty));
        inits.push(quote!(#f: #init));
    }
    let checked = format_ident!("__bpfsign_maps_checked");
    quote! {
        #[doc = #maps_doc]
        #[derive(Clone, Copy, Debug)]
        pub struct #maps<'a> {
            #(#fields,)*
            _skel: ::core::marker::PhantomData<&'a ()>,
        }

        impl #loaded {
            /// Typed handles on the maps. `load()` checked them against the loaded
            /// skeleton (map types, key and value sizes), so this needs no `Result`.
            pub fn maps(&self) -> #maps<'_> {
                #maps { #(#inits,)* _skel: ::core::marker::PhantomData }
            }

            /// Makes every map handle with its checks; `load()` calls it once.
            #[doc(hidden)]
            pub fn #checked(&self) -> ::core::result::Result<(), ::bpfsign_runtime::Error> {
                #(#checks)*
                ::core::result::Result::Ok(())
            }
        }
    }
}
