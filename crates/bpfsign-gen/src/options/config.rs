//! Build-time configuration of what the loader sets up: initial values of global variables
//! ([`GlobalValue`], [`crate::GenOptions::globals`]) and per-map `max_entries`
//! ([`crate::GenOptions::max_entries`]).
//!
//! A signed light skeleton fixes everything the kernel is handed at load time, so the values
//! libbpf users set between `open()` and `load()` are set here, before the loader is
//! generated and signed. The values are checked against the object's BTF when the generator
//! applies them (see [`crate::ConfigError`]).

/// The initial value of one global variable (`.data*`, `.rodata*`, `.bss*`), as written in a
/// build configuration. The generator checks it against the variable's BTF type:
///
/// * [`GlobalValue::Int`]: an integer or enum variable; the value must fit the type (signed or
///   unsigned, its size); a `bool` variable takes 0 or 1.
/// * [`GlobalValue::Bool`]: an integer or `bool` variable (stored as 0 / 1).
/// * [`GlobalValue::Str`]: a `char` array; the UTF-8 bytes plus a NUL terminator must fit,
///   the rest of the array is zeroed.
/// * [`GlobalValue::Bytes`]: any variable; exactly the variable's size, stored as is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum GlobalValue {
    /// An integer (wide enough for every `s64` and `u64`).
    Int(i128),
    /// A boolean.
    Bool(bool),
    /// A string for a `char[N]` variable (NUL-terminated, zero-padded).
    Str(String),
    /// The raw bytes of the variable (little-endian, exactly its size).
    Bytes(Vec<u8>),
}

impl GlobalValue {
    /// What kind of value this is, for error messages (`integer 42`, `bool`, `string`, …).
    pub fn describe(&self) -> String {
        match self {
            GlobalValue::Int(v) => format!("integer {v}"),
            GlobalValue::Bool(b) => format!("bool {b}"),
            GlobalValue::Str(s) => format!("string of {} bytes", s.len()),
            GlobalValue::Bytes(b) => format!("{} raw bytes", b.len()),
        }
    }
}

macro_rules! int_value {
    ($($t:ty),*) => {$(
        impl From<$t> for GlobalValue {
            fn from(v: $t) -> Self {
                GlobalValue::Int(i128::from(v))
            }
        }
    )*};
}
int_value!(u8, u16, u32, u64, i8, i16, i32, i64);

impl From<bool> for GlobalValue {
    fn from(v: bool) -> Self {
        GlobalValue::Bool(v)
    }
}

impl From<&str> for GlobalValue {
    fn from(v: &str) -> Self {
        GlobalValue::Str(v.to_string())
    }
}

impl From<String> for GlobalValue {
    fn from(v: String) -> Self {
        GlobalValue::Str(v)
    }
}

impl From<Vec<u8>> for GlobalValue {
    fn from(v: Vec<u8>) -> Self {
        GlobalValue::Bytes(v)
    }
}

impl From<&[u8]> for GlobalValue {
    fn from(v: &[u8]) -> Self {
        GlobalValue::Bytes(v.to_vec())
    }
}

impl<const N: usize> From<[u8; N]> for GlobalValue {
    fn from(v: [u8; N]) -> Self {
        GlobalValue::Bytes(v.to_vec())
    }
}

impl<const N: usize> From<&[u8; N]> for GlobalValue {
    fn from(v: &[u8; N]) -> Self {
        GlobalValue::Bytes(v.to_vec())
    }
}
