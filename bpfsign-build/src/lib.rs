//! bpfsign-build: turns a compiled BPF object into a signed light skeleton, with no syscalls.
//!
//! Pipeline: compile → parse → link → emit → sign → artifact.
//!
//! ```no_run
//! let elf = std::fs::read("hello.bpf.o").unwrap();
//! let obj = bpfsign_build::parse_object("hello.bpf.o", &elf).unwrap();
//! let out = bpfsign_build::generate(&obj, &bpfsign_build::GenOptions::default()).unwrap();
//! for (protocol, insns) in &out.loaders {
//!     println!("{protocol:?}: {} loader bytes, {} data bytes", insns.len(), out.data.len());
//! }
//! ```
//!
//! # Byte-exactness and deliberate differences from bpftool
//!
//! The data blob and the P1b / P2 loaders are byte-identical to `bpftool gen skeleton -L -S`
//! of the kernel 7.2.13 / 7.3.4 bpftools, and the unsigned loader to `bpftool gen skeleton -L`
//! (7.3.4), for the objects bpfsign supports. Deliberate differences:
//!
//! * **P1 is hardened** (spec "Decisions" 2): bpfsign's P1 loader is its P1b loader without
//!   the `map->excl` check. It differs from bpftool-p1 (libbpf 1.7.0) in two places only: the
//!   check-block jumps land exactly on the cleanup label (1.7.0 lands one instruction late),
//!   and the run-time ctx cannot override `max_entries` / initial values.
//!   [`emit::LoaderConfig::bpftool_p1_compat`] reproduces bpftool-p1 for tests.
//! * **No build-host inputs** (spec "Decisions" 3): `.kconfig` values, `LINUX_KERNEL_VERSION`,
//!   typeless-ksym addresses, the CPU count for `PERF_EVENT_ARRAY` maps with `max_entries 0`
//!   and the page size for ring buffers come from [`GenOptions`], never from the build host.
//!   A strong typeless ksym without an address in [`GenOptions::ksym_addrs`] is accepted
//!   (the loader resolves it at run time; libbpf would fail if the build host lacked it).
//! * **Default object name** strips `.o` *and* `.bpf` (`hello.bpf.o` → `hello`); bpftool only
//!   strips `.o` (`hello_bpf`). Pass [`GenOptions::name`] to choose.
//! * **Map pinning** (`pinning = LIBBPF_PIN_BY_NAME`) is recorded but ignored; bpftool would
//!   try to reuse/pin maps on the build host.
//! * **Stricter input checks**: a corrupt `.BTF.ext` is an error (libbpf may ignore it), and a
//!   program section libbpf does not know is an error at generation time (libbpf fails later,
//!   at load).
//!
//! Not supported (typed [`ErrorKind::Unsupported`] errors): big-endian objects, struct_ops,
//! freplace, tracing multi-link programs, arena globals, jump tables, `.percpu` data,
//! prog arrays with `.values` initialisers, legacy `maps` sections.

pub mod artifact;
pub mod emit;
pub mod error;
pub mod link;
pub mod meta;
pub mod parse;
pub mod sign;

use std::collections::BTreeMap;

pub use error::{Error, ErrorKind, Limit, Stage};
pub use meta::Protocol;

/// Options of [`generate`].
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

/// Output of [`generate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generated {
    /// The data blob, identical for all protocols.
    pub data: Vec<u8>,
    /// Loader instructions for Unsigned, P1, P1b, P2 (in that order).
    pub loaders: Vec<(Protocol, Vec<u8>)>,
    /// Skeleton metadata.
    pub meta: meta::SkeletonMeta,
}

impl Generated {
    /// Loader instructions of `protocol`.
    pub fn loader(&self, protocol: Protocol) -> Option<&[u8]> {
        self.loaders.iter().find(|(p, _)| *p == protocol).map(|(_, i)| i.as_slice())
    }
}

/// Parses a compiled BPF object. `file_name` is used in error messages and for the default
/// object name.
pub fn parse_object(file_name: &str, elf_bytes: &[u8]) -> Result<parse::Object, Error> {
    parse::parse(file_name, elf_bytes)
}

/// Default object name for a file: basename, minus `.o` and `.bpf`, sanitised.
pub fn default_object_name(file_name: &str) -> String {
    let base = file_name.rsplit('/').next().unwrap_or(file_name);
    let base = base.strip_suffix(".o").unwrap_or(base);
    let base = base.strip_suffix(".bpf").unwrap_or(base);
    meta::sanitize_ident(base)
}

/// Links `obj` and emits the data blob and all loader variants.
pub fn generate(obj: &parse::Object, opts: &GenOptions) -> Result<Generated, Error> {
    let name = opts.name.clone().unwrap_or_else(|| default_object_name(&obj.file));
    let linked = link::link(obj, opts, &name)?;
    let mut loaders = Vec::with_capacity(4);
    let mut data: Option<Vec<u8>> = None;
    for p in Protocol::ALL {
        let l = emit::emit_loader(&obj.file, &linked, &emit::LoaderConfig::for_protocol(p))?;
        match &data {
            None => data = Some(l.data),
            Some(d) => debug_assert_eq!(d, &l.data, "the blob must not depend on the protocol"),
        }
        loaders.push((p, l.insns));
    }
    let meta = meta::build(obj, &linked, &name);
    Ok(Generated { data: data.unwrap_or_default(), loaders, meta })
}

/// Emits one loader with an explicit configuration (e.g. the test-only
/// [`emit::LoaderConfig::bpftool_p1_compat`]). Returns `(insns, data)`.
pub fn generate_with_config(
    obj: &parse::Object,
    opts: &GenOptions,
    cfg: &emit::LoaderConfig,
) -> Result<(Vec<u8>, Vec<u8>), Error> {
    let name = opts.name.clone().unwrap_or_else(|| default_object_name(&obj.file));
    let linked = link::link(obj, opts, &name)?;
    let l = emit::emit_loader(&obj.file, &linked, cfg)?;
    Ok((l.insns, l.data))
}
pub mod skel;
pub mod compile;
