//! [`GenOptions`]: the build inputs of the generator (object name, `.kconfig` values, kernel
//! version, ksym addresses, page size, CPU count; nothing is read from the build host), and
//! [`ProtocolSelection`]: which loaders an artifact embeds.

use std::collections::BTreeMap;

use bpfsign_abi::Protocol;

mod config;
pub use config::GlobalValue;

/// Options of [`crate::generate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenOptions {
    /// Object (skeleton) name; prefixes internal map names. Default: the file stem without
    /// `.o` and `.bpf`, non-identifier characters replaced by `_`.
    pub name: Option<String>,
    /// Values of `CONFIG_*` `.kconfig` externs, written like a kernel `.config` value
    /// (`y`, `m`, `n`, a number, or a quoted string). Weak externs default to 0.
    pub kconfig: BTreeMap<String, String>,
    /// Value of the `LINUX_KERNEL_VERSION` extern.
    pub kernel_version: Option<u32>,
    /// Addresses baked into typeless ksym `ld_imm64` (the loader overwrites them at run time;
    /// only needed to match bpftool bytes). Default 0.
    pub ksym_addrs: BTreeMap<String, u64>,
    /// Page size used to round ring buffer sizes (default 4096).
    pub page_size: u32,
    /// CPU count for `PERF_EVENT_ARRAY` maps declared with `max_entries = 0`.
    pub possible_cpus: Option<u32>,
    /// Initial values of global variables (`.data*`, `.rodata*`, `.bss*`) by variable name,
    /// overriding the object's: what libbpf users set between open and load, fixed (and
    /// signed) at build time. Checked against the BTF type of each variable
    /// ([`crate::ConfigError`]). `.kconfig` externs are set through [`Self::kconfig`].
    pub globals: BTreeMap<String, GlobalValue>,
    /// `max_entries` of BTF-defined maps by map name, overriding the object's declaration
    /// (ring buffer sizes are still rounded to [`Self::page_size`]).
    pub max_entries: BTreeMap<String, u32>,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            name: None,
            kconfig: BTreeMap::new(),
            kernel_version: None,
            ksym_addrs: BTreeMap::new(),
            page_size: 4096,
            possible_cpus: None,
            globals: BTreeMap::new(),
            max_entries: BTreeMap::new(),
        }
    }
}

impl GenOptions {
    /// Sets the initial value of global variable `name` ([`Self::globals`]).
    pub fn with_global(mut self, name: impl Into<String>, value: impl Into<GlobalValue>) -> Self {
        self.globals.insert(name.into(), value.into());
        self
    }

    /// Sets `max_entries` of map `map` ([`Self::max_entries`]).
    pub fn with_max_entries(mut self, map: impl Into<String>, max_entries: u32) -> Self {
        self.max_entries.insert(map.into(), max_entries);
        self
    }

    /// Sets the value of `.kconfig` extern `name` (`CONFIG_HZ`), written like a kernel
    /// `.config` value: `y`, `m`, `n`, a number or a quoted string ([`Self::kconfig`]).
    pub fn with_kconfig(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.kconfig.insert(name.into(), value.into());
        self
    }

    /// Sets the `LINUX_KERNEL_VERSION` value ([`Self::kernel_version`]; encode with
    /// [`crate::kernel_version`] or parse with [`crate::parse_kernel_version`]).
    pub fn with_kernel_version(mut self, version: u32) -> Self {
        self.kernel_version = Some(version);
        self
    }

    /// Sets the page size ring buffer sizes are rounded to ([`Self::page_size`]).
    pub fn with_page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size;
        self
    }

    /// Sets the CPU count used for `PERF_EVENT_ARRAY` maps declared with `max_entries = 0`
    /// ([`Self::possible_cpus`]).
    pub fn with_cpu_count(mut self, cpus: u32) -> Self {
        self.possible_cpus = Some(cpus);
        self
    }
}

/// Which loaders go into an artifact: the signed protocols to embed (default all three: P1,
/// P1b, P2) and, only when asked for, the unsigned loader.
///
/// Signed-only is the default on purpose: a binary that carries the unsigned loader can be
/// made to load without any signature check (`BPFSIGN_PROTOCOL=unsigned`), so the unsigned
/// loader is embedded only when the build opts in ([`ProtocolSelection::allow_unsigned`]).
/// Each protocol left out is one loader (and one signature) fewer in the binary; a kernel
/// that needs it then fails with a typed error at load time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolSelection {
    /// Signed protocols, in generator order, without duplicates, never empty.
    signed: Vec<Protocol>,
    /// Whether the unsigned loader is embedded too.
    allow_unsigned: bool,
}

impl Default for ProtocolSelection {
    fn default() -> Self {
        ProtocolSelection {
            signed: Protocol::SIGNED.to_vec(),
            allow_unsigned: false,
        }
    }
}

/// Why a protocol list was refused (see [`ProtocolSelection::with_signed`] and
/// [`parse_protocol_list`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SelectionError(String);

impl ProtocolSelection {
    /// The default: every signed protocol, no unsigned loader.
    pub fn new() -> Self {
        Self::default()
    }

    /// Embeds only the signed protocols in `protocols` (any order; duplicates ignored).
    /// Refuses an empty list and [`Protocol::Unsigned`] (that is [`Self::allow_unsigned`]).
    pub fn with_signed(mut self, protocols: &[Protocol]) -> Result<Self, SelectionError> {
        if protocols.contains(&Protocol::Unsigned) {
            return Err(SelectionError(
                "`unsigned` is not a signing protocol: the unsigned loader is embedded with \
                 allow_unsigned (macro `allow_unsigned = true`, `BpfCompiler::allow_unsigned(true)`, \
                 `bpfsign gen --allow-unsigned`)"
                    .to_string(),
            ));
        }
        if protocols.is_empty() {
            return Err(SelectionError(
                "the protocol list is empty: name at least one of p1, p1b, p2".to_string(),
            ));
        }
        self.signed = Protocol::SIGNED
            .into_iter()
            .filter(|p| protocols.contains(p))
            .collect();
        Ok(self)
    }

    /// Also embeds the unsigned loader (`on = true`); off by default.
    pub fn allow_unsigned(mut self, on: bool) -> Self {
        self.allow_unsigned = on;
        self
    }

    /// The signed protocols embedded, in generator order.
    pub fn signed(&self) -> &[Protocol] {
        &self.signed
    }

    /// Whether the unsigned loader is embedded.
    pub fn allows_unsigned(&self) -> bool {
        self.allow_unsigned
    }

    /// Whether `protocol`'s loader is embedded.
    pub fn contains(&self, protocol: Protocol) -> bool {
        match protocol {
            Protocol::Unsigned => self.allow_unsigned,
            p => self.signed.contains(&p),
        }
    }

    /// Every embedded protocol, in generator order ([`Protocol::ALL`]).
    pub fn protocols(&self) -> Vec<Protocol> {
        Protocol::ALL
            .into_iter()
            .filter(|p| self.contains(*p))
            .collect()
    }
}

/// Parses a comma-separated list of signed protocols (`p1b,p2`; case and spaces around the
/// names ignored), as `bpfsign gen --protocols` takes it.
pub fn parse_protocol_list(text: &str) -> Result<Vec<Protocol>, SelectionError> {
    let mut out = Vec::new();
    for part in text.split(',') {
        let p: Protocol = part.parse().map_err(|e: bpfsign_abi::UnknownProtocol| {
            SelectionError(format!(
                "{e}; expected a comma-separated list of p1, p1b, p2"
            ))
        })?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    // Checks the list (no `unsigned`, not empty) the way the selection does.
    ProtocolSelection::new().with_signed(&out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_selection_is_signed_only() {
        let s = ProtocolSelection::default();
        assert_eq!(s.protocols(), Protocol::SIGNED);
        assert!(!s.contains(Protocol::Unsigned));
        let s = s.allow_unsigned(true);
        assert_eq!(s.protocols(), Protocol::ALL);
    }

    #[test]
    fn chosen_protocols_keep_generator_order() {
        let s = ProtocolSelection::new()
            .with_signed(&[Protocol::P2, Protocol::P1b, Protocol::P2])
            .unwrap();
        assert_eq!(s.protocols(), [Protocol::P1b, Protocol::P2]);
        assert!(!s.contains(Protocol::P1));
        let e = ProtocolSelection::new().with_signed(&[]).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
        let e = ProtocolSelection::new()
            .with_signed(&[Protocol::Unsigned, Protocol::P2])
            .unwrap_err();
        assert!(e.to_string().contains("allow_unsigned"), "{e}");
    }

    #[test]
    fn protocol_lists_parse() {
        assert_eq!(
            parse_protocol_list("p1b,p2").unwrap(),
            [Protocol::P1b, Protocol::P2]
        );
        assert_eq!(parse_protocol_list(" P2 , p2").unwrap(), [Protocol::P2]);
        for bad in ["", "p1b,", "p3", "unsigned", "p1;p2"] {
            assert!(parse_protocol_list(bad).is_err(), "{bad}");
        }
    }
}
