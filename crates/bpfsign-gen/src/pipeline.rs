//! The generator's steps as functions: [`parse_object`] (parse), then [`generate`] or
//! [`generate_for`] (link → emit → meta), giving [`Generated`]: the data blob, one loader per
//! protocol and the skeleton metadata. [`crate::artifact`] signs and stores the result.

use bpfsign_abi::Protocol;

use crate::error::Error;
use crate::options::{GenOptions, ProtocolSelection};
use crate::{emit, link, meta, parse};

/// Output of [`generate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generated {
    /// The data blob, identical for all protocols.
    pub data: Vec<u8>,
    /// Loader instructions per protocol, in the order Unsigned, P1, P1b, P2 (all four from
    /// [`generate`], the selected ones from [`generate_for`]).
    pub loaders: Vec<(Protocol, Vec<u8>)>,
    /// Skeleton metadata.
    pub meta: meta::SkeletonMeta,
}

impl Generated {
    /// Loader instructions of `protocol`.
    pub fn loader(&self, protocol: Protocol) -> Option<&[u8]> {
        self.loaders
            .iter()
            .find(|(p, _)| *p == protocol)
            .map(|(_, i)| i.as_slice())
    }
}

/// Parses a compiled BPF object. `file_name` is used in error messages and for the default
/// object name.
pub fn parse_object(file_name: &str, elf_bytes: &[u8]) -> Result<parse::Object, Error> {
    parse::parse(file_name, elf_bytes)
}

/// Default object name for a file: basename, minus `.o` and `.bpf`, sanitised.
pub(crate) fn default_object_name(file_name: &str) -> String {
    let base = file_name.rsplit('/').next().unwrap_or(file_name);
    let base = base.strip_suffix(".o").unwrap_or(base);
    let base = base.strip_suffix(".bpf").unwrap_or(base);
    meta::sanitize_ident(base)
}

/// Links `obj` and emits the data blob and all four loader variants (unsigned, P1, P1b, P2):
/// what tests and tools that compare every loader want. Artifacts to embed are built from
/// [`generate_for`], which emits only the selected loaders.
pub fn generate(obj: &parse::Object, opts: &GenOptions) -> Result<Generated, Error> {
    generate_loaders(obj, opts, &Protocol::ALL)
}

/// Links `obj` and emits the data blob and the loaders `selection` names (by default the
/// three signed ones, no unsigned loader), in generator order. Each emitted loader is byte for
/// byte the one [`generate`] emits for its protocol.
pub fn generate_for(
    obj: &parse::Object,
    opts: &GenOptions,
    selection: &ProtocolSelection,
) -> Result<Generated, Error> {
    generate_loaders(obj, opts, &selection.protocols())
}

/// [`generate`] for `protocols` (never empty: a [`ProtocolSelection`] holds at least one).
fn generate_loaders(
    obj: &parse::Object,
    opts: &GenOptions,
    protocols: &[Protocol],
) -> Result<Generated, Error> {
    let name = opts
        .name
        .clone()
        .unwrap_or_else(|| default_object_name(&obj.file));
    let configured = parse::config::apply(obj, opts)?;
    let obj = configured.as_ref().unwrap_or(obj);
    let linked = link::link(obj, opts, &name)?;
    let mut loaders = Vec::with_capacity(protocols.len());
    let mut data: Option<Vec<u8>> = None;
    for p in Protocol::ALL.into_iter().filter(|p| protocols.contains(p)) {
        let l = emit::emit_loader(&obj.file, &linked, &emit::LoaderConfig::for_protocol(p))?;
        match &data {
            None => data = Some(l.data),
            Some(d) => debug_assert_eq!(d, &l.data, "the blob must not depend on the protocol"),
        }
        loaders.push((p, l.insns));
    }
    let meta = meta::build(obj, &linked, &name);
    Ok(Generated {
        data: data.unwrap_or_default(),
        loaders,
        meta,
    })
}

/// Emits one loader with an explicit configuration (e.g. the test-only
/// [`emit::LoaderConfig::bpftool_p1_compat`]). Returns `(insns, data)`.
pub fn generate_with_config(
    obj: &parse::Object,
    opts: &GenOptions,
    cfg: &emit::LoaderConfig,
) -> Result<(Vec<u8>, Vec<u8>), Error> {
    let name = opts
        .name
        .clone()
        .unwrap_or_else(|| default_object_name(&obj.file));
    let configured = parse::config::apply(obj, opts)?;
    let obj = configured.as_ref().unwrap_or(obj);
    let linked = link::link(obj, opts, &name)?;
    let l = emit::emit_loader(&obj.file, &linked, cfg)?;
    Ok((l.insns, l.data))
}
