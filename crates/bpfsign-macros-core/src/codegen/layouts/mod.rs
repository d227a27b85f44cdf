//! The global data of a skeleton: one `#[repr(C)]` struct per mmapable section (`.bss`,
//! `.data`, `.rodata`, …) in the generated `types` module, plus the C types those use
//! ([`types`]), and the facts the accessors on the loaded type need ([`GlobalSection`]).

mod types;

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use bpfsign_gen::meta::{DatasecMeta, MapMeta, SkeletonMeta};

pub(crate) use self::types::TypeGen;
use crate::naming::camel_case;

/// `BPF_F_RDONLY_PROG`: programs only read the map; it is mmapped read-only.
const BPF_F_RDONLY_PROG: u32 = 0x80;
/// `BPF_F_RDONLY`: user space only reads the map.
const BPF_F_RDONLY: u32 = 0x08;

/// One global-data section as the generated accessors see it.
pub(crate) struct GlobalSection {
    /// ELF section name (`.bss`), for the docs.
    pub(crate) section: String,
    /// Skeleton identifier of the section (`bss`): the accessor names derive from it.
    pub(crate) ident: String,
    /// The section's struct in the `types` module (`Bss`).
    pub(crate) type_ident: Ident,
    /// Index of the section's map (the runtime's `global(map_index)`).
    pub(crate) map_index: usize,
    /// The kernel maps it read-only (`.rodata`, `.kconfig`): no `_mut` accessor.
    pub(crate) read_only: bool,
}

/// The global-data sections of a skeleton and the definitions of their types.
pub(crate) struct GlobalData {
    /// The mmapable sections, in metadata order.
    pub(crate) sections: Vec<GlobalSection>,
    /// Per map (metadata order): the `types` aliases of its key and value, for maps whose
    /// typed handle names them (see `codegen::maps`).
    pub(crate) map_kv: Vec<super::maps::KvAliases>,
    /// The C types the sections use (structs, unions), in first-use order.
    type_items: Vec<TokenStream>,
    /// The section structs with their layout assertions.
    section_items: Vec<TokenStream>,
}

impl GlobalData {
    /// Lays out every mmapable section of `meta`. Errors (for `compile_error!`) when a section
    /// does not fit its map or its BTF is inconsistent.
    pub(crate) fn new(meta: &SkeletonMeta) -> Result<Self, String> {
        let data_secs: Vec<(&DatasecMeta, &MapMeta)> = meta
            .datasecs
            .iter()
            .filter_map(|d| Some((d, meta.maps.get(d.map_index)?)))
            .filter(|(_, map)| map.mmapable)
            .collect();
        let reserved: Vec<String> = data_secs
            .iter()
            .map(|(d, _)| camel_case(&d.ident))
            .collect();
        let mut types = TypeGen::new(&reserved);
        let mut sections = Vec::new();
        let mut section_items = Vec::new();
        for (d, map) in data_secs {
            let type_ident = format_ident!("{}", camel_case(&d.ident));
            section_items.push(section_struct(&mut types, d, map, &type_ident)?);
            sections.push(GlobalSection {
                section: d.section.clone(),
                ident: d.ident.clone(),
                type_ident,
                map_index: d.map_index,
                read_only: map.map_flags & (BPF_F_RDONLY_PROG | BPF_F_RDONLY) != 0,
            });
        }
        let map_kv = super::maps::kv_aliases(&mut types, meta)?;
        Ok(GlobalData {
            sections,
            map_kv,
            type_items: types.items().to_vec(),
            section_items,
        })
    }

    /// The generated `types` module.
    pub(crate) fn types_module(&self) -> TokenStream {
        let (type_items, section_items) = (&self.type_items, &self.section_items);
        quote! {
            /// `#[repr(C)]` layouts of the global-data sections and the C types they use.
            pub mod types {
                #(#type_items)*
                #(#section_items)*
            }
        }
    }
}

/// The struct of section `d`, checked against the value size of its `map`.
fn section_struct(
    types: &mut TypeGen,
    d: &DatasecMeta,
    map: &MapMeta,
    type_ident: &Ident,
) -> Result<TokenStream, String> {
    if d.size > map.value_size {
        return Err(format!(
            "section {} is {} bytes but its map `{}` holds only {}",
            d.section, d.size, map.ident, map.value_size
        ));
    }
    let dt = types.datasec(d, type_ident.clone())?;
    // The runtime accepts views up to the value size rounded to the type's alignment.
    if dt.rust_size > (map.value_size as u64).next_multiple_of(16) {
        return Err(format!(
            "the Rust layout of {} ({} bytes) exceeds its map value ({} bytes)",
            d.section, dt.rust_size, map.value_size
        ));
    }
    Ok(dt.tokens)
}
