//! [`GenOptions`]: the build inputs of the generator (object name, `.kconfig` values, kernel
//! version, ksym addresses, page size, CPU count). Nothing is read from the build host.

use std::collections::BTreeMap;

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
        }
    }
}
