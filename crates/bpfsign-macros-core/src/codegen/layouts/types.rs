//! `#[repr(C)]` Rust types for the BTF layouts of global-data sections (`types::Bss` …).
//!
//! The layout is taken from the offsets and sizes in [`bpfsign_gen::meta`], never from Rust's own
//! layout rules: every gap becomes an explicit padding field, and a struct whose members would
//! not land at their BTF offsets under Rust's alignment becomes `#[repr(C, packed)]`. The
//! generated code also asserts each size and field offset at compile time, so a layout
//! mismatch can never go unnoticed.
//!
//! Type mapping: integers by size and sign (C `_Bool` → `u8`, since the program may store any
//! byte there), `float`/`double` → `f32`/`f64`, pointers → `u64` (a BPF address, meaningless in
//! user space), enums → their integer, arrays → `[T; N]`, structs → named `#[repr(C)]` types
//! with the C name, unions → named `#[repr(C)]` structs over the union's bytes with a getter
//! and setter per member, and anything else (bitfields, odd sizes) → a byte array.

use std::collections::BTreeMap;

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use bpfsign_gen::meta::{DatasecMeta, MemberMeta, TypeMeta};

use crate::naming::{rust_ident, unraw};

/// Size and alignment of a generated Rust type, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Layout {
    size: u64,
    align: u64,
}

/// Collects the named types that datasec structs refer to.
#[derive(Default)]
pub(crate) struct TypeGen {
    /// Generated item definitions, in first-use order.
    items: Vec<TokenStream>,
    /// Known aggregates: (C name or anon, layout-defining meta) → Rust name and layout.
    known: Vec<(TypeMeta, Ident, Layout)>,
    /// Rust names already taken in the `types` module.
    taken: BTreeMap<String, ()>,
    anon_count: usize,
}

/// A datasec struct ready to be emitted, plus the facts the accessors need.
pub(crate) struct DatasecType {
    /// The definition and its compile-time layout assertions.
    pub(crate) tokens: TokenStream,
    /// `size_of` of the Rust struct: the section size, rounded up to the struct's alignment
    /// unless the struct is packed. The tail past the section lies inside the page-rounded
    /// mapping of the map.
    pub(crate) rust_size: u64,
    /// The section's variables in offset order (for the per-variable accessors).
    pub(crate) vars: Vec<VarField>,
}

/// One variable of a section struct: its field name, Rust type (as named inside the `types`
/// module) and byte offset.
pub(crate) struct VarField {
    /// The field's identifier.
    pub(crate) ident: Ident,
    /// The field's type, as written inside the `types` module.
    pub(crate) ty: TokenStream,
    /// Byte offset in the section.
    pub(crate) offset: u64,
    /// The C variable name.
    pub(crate) name: String,
}

/// [`rust_ident`] for a struct field: C names that look like the padding (`__pad_<n>`) or
/// union-bytes (`__bytes`) fields generated next to them get a `_` suffix, so they cannot clash.
fn field_ident(name: &str, fallback: &str) -> Ident {
    if name == "__bytes" || name.starts_with("__pad_") {
        rust_ident(&format!("{name}_"), fallback)
    } else {
        rust_ident(name, fallback)
    }
}

/// The largest type laid out (BPF map values are at most `u32::MAX` bytes); keeps every
/// offset + size sum far from overflowing `u64`.
const MAX_TYPE_SIZE: u64 = u32::MAX as u64;

fn int_type(size: u32, signed: bool) -> Option<(TokenStream, Layout)> {
    let t = match (size, signed) {
        (1, true) => quote!(::core::primitive::i8),
        (1, false) => quote!(::core::primitive::u8),
        (2, true) => quote!(::core::primitive::i16),
        (2, false) => quote!(::core::primitive::u16),
        (4, true) => quote!(::core::primitive::i32),
        (4, false) => quote!(::core::primitive::u32),
        (8, true) => quote!(::core::primitive::i64),
        (8, false) => quote!(::core::primitive::u64),
        (16, true) => quote!(::core::primitive::i128),
        (16, false) => quote!(::core::primitive::u128),
        _ => return None,
    };
    Some((
        t,
        Layout {
            size: size as u64,
            align: size as u64,
        },
    ))
}

fn bytes(size: u64) -> (TokenStream, Layout) {
    let n = size as usize;
    (
        quote!([::core::primitive::u8; #n]),
        Layout { size, align: 1 },
    )
}

/// One field of a struct being laid out.
struct Field {
    ident: Ident,
    ty: TokenStream,
    offset: u64,
    layout: Layout,
    doc: String,
}

impl TypeGen {
    /// Creates a generator; `reserved` names (the datasec structs) are never used for C types.
    pub(crate) fn new(reserved: &[String]) -> Self {
        let mut g = TypeGen::default();
        for r in reserved {
            g.taken.insert(r.clone(), ());
        }
        g
    }

    /// Every named type definition generated so far.
    pub(crate) fn items(&self) -> &[TokenStream] {
        &self.items
    }

    fn fresh_name(&mut self, wanted: Option<&str>) -> Ident {
        let base = match wanted {
            Some(n) if !n.is_empty() => unraw(&rust_ident(n, "__anon")),
            _ => {
                self.anon_count += 1;
                format!("__anon_{}", self.anon_count)
            }
        };
        let mut name = base.clone();
        let mut i = 1;
        while self.taken.contains_key(&name) {
            name = format!("{base}_{i}");
            i += 1;
        }
        self.taken.insert(name.clone(), ());
        rust_ident(&name, "__anon")
    }

    /// The Rust type for `ty`, defining named aggregates as needed. Errors when a type is
    /// larger than 4 GiB (BPF map values are at most that; hostile BTF could overflow sizes).
    fn type_of(&mut self, ty: &TypeMeta) -> Result<(TokenStream, Layout), String> {
        match ty {
            TypeMeta::Int { size, signed, .. } => {
                Ok(int_type(*size, *signed).unwrap_or_else(|| bytes(*size as u64)))
            }
            TypeMeta::Enum { size, signed, .. } => {
                Ok(int_type(*size, *signed).unwrap_or_else(|| bytes(*size as u64)))
            }
            TypeMeta::Float { size: 4 } => {
                Ok((quote!(::core::primitive::f32), Layout { size: 4, align: 4 }))
            }
            TypeMeta::Float { size: 8 } => {
                Ok((quote!(::core::primitive::f64), Layout { size: 8, align: 8 }))
            }
            TypeMeta::Float { size } => Ok(bytes(*size as u64)),
            TypeMeta::Pointer => Ok((quote!(::core::primitive::u64), Layout { size: 8, align: 8 })),
            TypeMeta::Opaque { size } => Ok(bytes(*size as u64)),
            TypeMeta::Array { elem, len } => {
                let (t, l) = self.type_of(elem)?;
                let n = *len as usize;
                let size = l
                    .size
                    .checked_mul(u64::from(*len))
                    .filter(|s| *s <= MAX_TYPE_SIZE)
                    .ok_or_else(|| {
                        format!(
                            "array of {len} elements of {} bytes is larger than {MAX_TYPE_SIZE} \
                             bytes (malformed BTF)",
                            l.size
                        )
                    })?;
                Ok((
                    quote!([#t; #n]),
                    Layout {
                        size,
                        align: l.align,
                    },
                ))
            }
            TypeMeta::Struct {
                name,
                size,
                members,
            } => self.aggregate(ty, name.as_deref(), *size as u64, members, false),
            TypeMeta::Union {
                name,
                size,
                members,
            } => self.aggregate(ty, name.as_deref(), *size as u64, members, true),
        }
    }

    fn aggregate(
        &mut self,
        ty: &TypeMeta,
        name: Option<&str>,
        size: u64,
        members: &[MemberMeta],
        is_union: bool,
    ) -> Result<(TokenStream, Layout), String> {
        if let Some((_, ident, layout)) = self.known.iter().find(|(t, _, _)| t == ty) {
            return Ok((quote!(#ident), *layout));
        }
        let ident = self.fresh_name(name);
        let mut fields = Vec::new();
        for (i, m) in members.iter().enumerate() {
            if is_union && m.offset != 0 {
                // A union member not at offset 0 (a bitfield): covered by `__bytes`.
                continue;
            }
            let (t, l) = self.type_of(&m.ty)?;
            let fallback = format!("__anon_{i}");
            fields.push(Field {
                ident: field_ident(&m.name, &fallback),
                ty: t,
                offset: if is_union { 0 } else { m.offset as u64 },
                layout: l,
                doc: if m.name.is_empty() {
                    format!("Anonymous member at byte {}.", m.offset)
                } else {
                    format!("`{}` at byte {}.", m.name, m.offset)
                },
            });
        }
        let c_kind = if is_union { "union" } else { "struct" };
        let doc = match name {
            Some(n) if !n.is_empty() => format!("C `{c_kind} {n}` ({size} bytes)."),
            _ => format!("Anonymous C {c_kind} ({size} bytes)."),
        };
        let (tokens, layout) = if is_union {
            emit_union(&ident, &doc, size, fields, members.len())
        } else {
            emit_struct(&ident, &doc, size, fields, false)
        };
        self.items.push(tokens);
        self.known.push((ty.clone(), ident.clone(), layout));
        Ok((quote!(#ident), layout))
    }

    /// A type alias `pub type <wanted> = …;` in the `types` module for a map key or value
    /// (`what`, for its doc) of `size` bytes: the Rust mirror of `ty` when it has exactly that size, else
    /// `[u8; size]` (no BTF type, or one whose layout does not match). Returns the alias.
    pub(crate) fn map_kv_alias(
        &mut self,
        wanted: &str,
        what: &str,
        ty: Option<&TypeMeta>,
        size: u32,
    ) -> Result<Ident, String> {
        let (tokens, doc) = match ty {
            Some(t) => match self.type_of(t)? {
                (tokens, l) if l.size == u64::from(size) => {
                    (tokens, format!("The C type of the {what} ({size} bytes)."))
                }
                _ => (
                    bytes(u64::from(size)).0,
                    format!(
                        "The {what}: {size} bytes (its C type has no Rust layout of that size)."
                    ),
                ),
            },
            None => (
                bytes(u64::from(size)).0,
                format!("The {what}: {size} bytes (the object has no BTF type for it)."),
            ),
        };
        let ident = self.fresh_name(Some(wanted));
        self.items.push(quote! {
            #[doc = #doc]
            pub type #ident = #tokens;
        });
        Ok(ident)
    }

    /// The struct for one global-data section: its variables at their offsets, padded to the
    /// section size.
    pub(crate) fn datasec(
        &mut self,
        sec: &DatasecMeta,
        name: Ident,
    ) -> Result<DatasecType, String> {
        let mut vars: Vec<_> = sec.vars.iter().collect();
        vars.sort_by_key(|v| v.offset);
        let mut fields = Vec::new();
        let mut var_fields = Vec::new();
        let mut end = 0u64;
        for v in vars {
            let (t, l) = self.type_of(&v.ty)?;
            let off = v.offset as u64;
            if off < end {
                return Err(format!(
                    "variable `{}` in {} overlaps the previous one (offset {off})",
                    v.name, sec.section
                ));
            }
            end = off.checked_add(l.size.max(v.size as u64)).ok_or_else(|| {
                format!(
                    "variable `{}` in {} ends past 2^64 bytes (malformed BTF)",
                    v.name, sec.section
                )
            })?;
            var_fields.push(VarField {
                ident: field_ident(&v.name, "__var"),
                ty: t.clone(),
                offset: off,
                name: v.name.clone(),
            });
            fields.push(Field {
                ident: field_ident(&v.name, "__var"),
                ty: t,
                offset: off,
                layout: l,
                doc: format!(
                    "Global `{}` at byte {} of `{}`.",
                    v.name, v.offset, sec.section
                ),
            });
        }
        if end > sec.size as u64 {
            return Err(format!(
                "variables of {} end at byte {end}, past its size {}",
                sec.section, sec.size
            ));
        }
        let doc = format!(
            "Layout of `{}` ({} bytes), generated from BTF.",
            sec.section, sec.size
        );
        let (tokens, layout) = emit_struct(&name, &doc, sec.size as u64, fields, true);
        Ok(DatasecType {
            tokens,
            rust_size: layout.size,
            vars: var_fields,
        })
    }
}

/// `#[repr(C)]`, or `#[repr(C, packed)]` when the BTF size is not a multiple of the alignment.
fn repr_attr(natural: bool) -> TokenStream {
    if natural {
        quote!(#[repr(C)])
    } else {
        quote!(#[repr(C, packed)])
    }
}

/// `Default` (all bytes zero) and `Plain` for an emitted struct (or union wrapper struct).
fn plain_impls(ident: &Ident) -> TokenStream {
    quote! {
        impl ::core::default::Default for #ident {
            /// All bytes zero.
            fn default() -> Self {
                // SAFETY: a plain-data type (integers, floats, byte arrays, such structs):
                // all-zero bytes are a valid value.
                unsafe { ::core::mem::zeroed() }
            }
        }
        // SAFETY: integers, floats, byte arrays and plain structs only, with explicit
        // padding (C unions are byte-array structs): every bit pattern is a valid value and
        // every byte of a value is initialised.
        unsafe impl ::bpfsign_runtime::Plain for #ident {}
    }
}

/// Emits a `#[repr(C)]` struct with explicit padding; `packed` when Rust alignment cannot
/// place a member at its BTF offset. With `round_tail` (datasecs, whose size is where the last
/// variable ends) the size is rounded up to the alignment instead of forcing `packed`. Also
/// emits size and offset assertions.
fn emit_struct(
    ident: &Ident,
    doc: &str,
    size: u64,
    fields: Vec<Field>,
    round_tail: bool,
) -> (TokenStream, Layout) {
    let mut align = fields.iter().map(|f| f.layout.align).max().unwrap_or(1);
    let mut size = size;
    let aligned_fields = fields.iter().all(|f| f.offset % f.layout.align == 0);
    if aligned_fields && round_tail {
        size = size.next_multiple_of(align);
    }
    let natural = aligned_fields && size.is_multiple_of(align);
    if !natural {
        align = 1;
    }
    let mut defs = Vec::new();
    let mut asserts = Vec::new();
    let mut pos = 0u64;
    for f in &fields {
        if f.offset < pos {
            // Overlaps the previous member (odd bitfield layouts): its bytes stay reachable
            // through that member.
            continue;
        }
        if f.offset > pos {
            let pad = format_ident!("__pad_{}", pos);
            let n = (f.offset - pos) as usize;
            defs.push(quote!(#[doc(hidden)] pub #pad: [::core::primitive::u8; #n]));
        }
        let Field {
            ident: fi,
            ty,
            offset,
            doc,
            ..
        } = f;
        let off = *offset as usize;
        defs.push(quote!(#[doc = #doc] pub #fi: #ty));
        asserts.push(quote!(assert!(::core::mem::offset_of!(#ident, #fi) == #off);));
        pos = f.offset + f.layout.size;
    }
    if size > pos {
        let pad = format_ident!("__pad_{}", pos);
        let n = (size - pos) as usize;
        defs.push(quote!(#[doc(hidden)] pub #pad: [::core::primitive::u8; #n]));
    }
    let repr = repr_attr(natural);
    let sz = size as usize;
    let plain_impls = plain_impls(ident);
    let tokens = quote! {
        #[doc = #doc]
        #repr
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct #ident { #(#defs,)* }
        #plain_impls
        const _: () = {
            assert!(::core::mem::size_of::<#ident>() == #sz);
            #(#asserts)*
        };
    };
    (tokens, Layout { size, align })
}

/// Emits a C union as a `#[repr(C)]` struct over its bytes (`__bytes: [u8; size]`, plus a
/// zero-length array of an integer of the union's alignment), with a getter and a setter per
/// member (`x()`, `set_x(v)`) that read and write the member's leading bytes. A Rust `union`
/// cannot be `bpfsign_runtime::Plain`: one built from a smaller member leaves the
/// other bytes uninitialised, and the runtime reads every byte of a value; here every byte is
/// always initialised. When the size is not a multiple of the alignment the struct has
/// alignment 1 (as a packed one), like the Rust `union` before it.
fn emit_union(
    ident: &Ident,
    doc: &str,
    size: u64,
    fields: Vec<Field>,
    _members_total: usize,
) -> (TokenStream, Layout) {
    let mut align = fields.iter().map(|f| f.layout.align).max().unwrap_or(1);
    if !size.is_multiple_of(align) {
        align = 1;
    }
    let align_field = match align {
        2 => Some(quote!(::core::primitive::u16)),
        4 => Some(quote!(::core::primitive::u32)),
        8 => Some(quote!(::core::primitive::u64)),
        16 => Some(quote!(::core::primitive::u128)),
        _ => None,
    }
    .map(|t| quote!(#[doc(hidden)] pub __align: [#t; 0],));
    let n = size as usize;
    let al = align as usize;
    let mut methods = Vec::new();
    let mut asserts = Vec::new();
    let mut used: Vec<String> = Vec::new();
    let mut fresh = |name: String| {
        let mut name = name;
        while used.contains(&name) {
            name.push('_');
        }
        used.push(name.clone());
        name
    };
    for Field {
        ident: fi,
        ty,
        layout,
        doc,
        ..
    } in &fields
    {
        if layout.size > size {
            // Cannot come from consistent BTF; the member is left out rather than read past
            // the union.
            continue;
        }
        let base = unraw(fi);
        let getter = rust_ident(&fresh(base.clone()), "__member");
        let setter = rust_ident(&fresh(format!("set_{base}")), "__set_member");
        let what = doc.trim_end_matches('.');
        let get_doc = format!("Reads member {what}.");
        let set_doc = format!("Writes member {what} (the union's other bytes are kept).");
        methods.push(quote! {
            #[doc = #get_doc]
            pub fn #getter(&self) -> #ty {
                // SAFETY: the member type is plain data no larger than the union (asserted
                // below): any bytes are a valid value; the read is unaligned-safe.
                unsafe { self.__bytes.as_ptr().cast::<#ty>().read_unaligned() }
            }
            #[doc = #set_doc]
            pub fn #setter(&mut self, value: #ty) {
                // SAFETY: the member type is no larger than the union (asserted below) and is
                // plain data without implicit padding (a generated layout, integer, float or
                // array of them), so every byte written is initialised.
                unsafe { self.__bytes.as_mut_ptr().cast::<#ty>().write_unaligned(value) }
            }
        });
        asserts.push(quote!(assert!(::core::mem::size_of::<#ty>() <= #n);));
    }
    let plain_impls = plain_impls(ident);
    let tokens = quote! {
        #[doc = #doc]
        #[repr(C)]
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct #ident {
            #[doc = "The union's bytes."]
            pub __bytes: [::core::primitive::u8; #n],
            #align_field
        }
        impl #ident {
            #(#methods)*
        }
        #plain_impls
        const _: () = {
            assert!(::core::mem::size_of::<#ident>() == #n);
            assert!(::core::mem::align_of::<#ident>() == #al);
            #(#asserts)*
        };
    };
    (tokens, Layout { size, align })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_never_clash_with_generated_fields() {
        assert_eq!(field_ident("__pad_0", "x").to_string(), "__pad_0_");
        assert_eq!(field_ident("__bytes", "x").to_string(), "__bytes_");
        assert_eq!(field_ident("__padding", "x").to_string(), "__padding");
    }

    fn int(size: u32) -> TypeMeta {
        TypeMeta::Int {
            size,
            signed: false,
            is_bool: false,
            is_char: false,
        }
    }

    #[test]
    fn c_types_named_like_primitives_or_generated_fields_do_not_clash() {
        // `struct u8 { u32 __pad_0; u8 x; }` (+ padding) inside `struct S { struct u8 a; u8 b; }`:
        // the primitive must stay `::core::primitive::u8`, not the C struct `u8`.
        let c_u8 = TypeMeta::Struct {
            name: Some("u8".into()),
            size: 12,
            members: vec![
                MemberMeta {
                    name: "__pad_0".into(),
                    offset: 0,
                    ty: int(4),
                },
                MemberMeta {
                    name: "x".into(),
                    offset: 8,
                    ty: int(1),
                },
            ],
        };
        let mut g = TypeGen::new(&[]);
        let (t, l) = g.type_of(&c_u8).unwrap();
        assert_eq!(t.to_string(), "u8");
        assert_eq!(l.size, 12);
        let text: String = g.items().iter().map(|i| i.to_string()).collect();
        assert!(
            text.contains("pub __pad_0_ : :: core :: primitive :: u32"),
            "{text}"
        );
        assert!(
            text.contains("pub x : :: core :: primitive :: u8"),
            "{text}"
        );
        assert!(
            text.contains("pub __pad_4 : [:: core :: primitive :: u8 ; 4usize]"),
            "padding must not name a bare `u8` (the C struct shadows it): {text}"
        );
        // The generated code compiles as Rust (field names unique).
        syn::parse2::<syn::File>(text.parse().unwrap()).unwrap();
    }

    #[test]
    fn unions_are_byte_structs_with_member_methods() {
        // `union { u64 set_a; u32 a; }` of 8 bytes: a Rust `union` would leave bytes
        // uninitialised and cannot be `Plain`; the wrapper is a struct over `[u8; 8]` aligned
        // like a u64, with a getter and setter per member whose names cannot clash.
        let u = TypeMeta::Union {
            name: Some("v".into()),
            size: 8,
            members: vec![
                MemberMeta {
                    name: "set_a".into(),
                    offset: 0,
                    ty: int(8),
                },
                MemberMeta {
                    name: "a".into(),
                    offset: 0,
                    ty: int(4),
                },
            ],
        };
        let mut g = TypeGen::new(&[]);
        let (t, l) = g.type_of(&u).unwrap();
        assert_eq!(t.to_string(), "v");
        assert_eq!(l, Layout { size: 8, align: 8 });
        let text: String = g.items().iter().map(|i| i.to_string()).collect();
        assert!(!text.contains("pub union"), "{text}");
        assert!(text.contains("pub struct v"), "{text}");
        assert!(
            text.contains("pub __bytes : [:: core :: primitive :: u8 ; 8usize]"),
            "{text}"
        );
        assert!(
            text.contains("pub __align : [:: core :: primitive :: u64 ; 0]"),
            "{text}"
        );
        for m in [
            "fn set_a (& self)",
            "fn set_set_a (",
            "fn a (& self)",
            "fn set_a_ (",
        ] {
            assert!(text.contains(m), "{m} missing: {text}");
        }
        syn::parse2::<syn::File>(text.parse().unwrap()).unwrap();
    }

    #[test]
    fn huge_arrays_are_errors() {
        let mut g = TypeGen::new(&[]);
        let huge = TypeMeta::Array {
            elem: Box::new(TypeMeta::Array {
                elem: Box::new(int(8)),
                len: u32::MAX,
            }),
            len: u32::MAX,
        };
        let e = g.type_of(&huge).unwrap_err();
        assert!(e.contains("malformed BTF"), "{e}");
    }
}
