//! The static description of a signed light skeleton that [`crate::load`] consumes.
//!
//! `include_signed_skel!` turns a bpfsign artifact into a `static` [`SkeletonSpec`]; tests build one
//! from golden files. Nothing here is parsed at run time: the runtime never reads ELF or BTF of the
//! BPF object.

pub use bpfsign_abi::{AttachKind, Protocol, UnknownProtocol};

/// `BPF_F_RDONLY_PROG`: the program may only read the map (`.rodata*`, `.kconfig`).
pub const BPF_F_RDONLY_PROG: u32 = bpfsign_abi::map_flags::RDONLY_PROG;
/// `BPF_F_MMAPABLE`: the map value can be mmapped (skeleton data maps).
pub const BPF_F_MMAPABLE: u32 = bpfsign_abi::map_flags::MMAPABLE;

/// Everything the runtime needs to load one light skeleton.
#[derive(Clone, Copy, Debug)]
pub struct SkeletonSpec<'a> {
    /// Object name (`hello`), used in messages.
    pub name: &'a str,
    /// The data blob (metadata map value), identical for every protocol.
    pub data: &'a [u8],
    /// One loader per protocol the skeleton was built for.
    pub variants: &'a [LoaderVariant<'a>],
    /// The skeleton's maps in loader `map_idx` order (= ctx order).
    pub maps: &'a [MapSpec<'a>],
    /// Every non-subprogram in libbpf order, including `autoload = false` ones.
    pub progs: &'a [ProgSpec<'a>],
    /// Hex SubjectKeyIdentifier of the signing certificate, if known; named in ENOKEY guidance.
    pub signer_skid: Option<&'a str>,
}

impl<'a> SkeletonSpec<'a> {
    /// The loader variant for `protocol`, if the skeleton carries one.
    pub fn variant(&self, protocol: Protocol) -> Option<&'a LoaderVariant<'a>> {
        self.variants.iter().find(|v| v.protocol == protocol)
    }

    /// Index of the map called `name` (skeleton identifier such as `bss`).
    pub fn map_index(&self, name: &str) -> Option<usize> {
        self.maps.iter().position(|m| m.name == name)
    }

    /// Index of the program called `name`.
    pub fn prog_index(&self, name: &str) -> Option<usize> {
        self.progs.iter().position(|p| p.name == name)
    }
}

/// One loader program with its signature, for one [`Protocol`].
#[derive(Clone, Copy, Debug)]
pub struct LoaderVariant<'a> {
    /// The protocol this loader was generated and signed for.
    pub protocol: Protocol,
    /// Loader instructions (`struct bpf_insn` array, 8 bytes each).
    pub insns: &'a [u8],
    /// SHA-256 of `insns`; the metadata map is made exclusive to it (ignored for `Unsigned`).
    pub excl_prog_hash: [u8; 32],
    /// Detached PKCS#7 signature (`None` for `Unsigned`).
    pub signature: Option<&'a [u8]>,
}

/// A map the loader creates (informational for the runtime, except for mmap of data maps).
#[derive(Clone, Copy, Debug)]
pub struct MapSpec<'a> {
    /// Skeleton identifier (`bss`, `rodata`, `my_map`).
    pub name: &'a str,
    /// `BPF_MAP_TYPE_*`.
    pub map_type: u32,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Maximum number of entries.
    pub max_entries: u32,
    /// `BPF_F_*` map flags.
    pub map_flags: u32,
    /// A skeleton data map: mmapped after load (read-only when `BPF_F_RDONLY_PROG` is set).
    pub mmapable: bool,
}

/// A program of the skeleton.
#[derive(Clone, Copy, Debug)]
pub struct ProgSpec<'a> {
    /// Program name.
    pub name: &'a str,
    /// ELF section name without the `?` autoload marker (`kprobe/do_unlinkat`, `xdp`), from
    /// which automatic attachment takes its target.
    pub section: &'a str,
    /// `BPF_PROG_TYPE_*`.
    pub prog_type: u32,
    /// `BPF_*` attach type the program was loaded with.
    pub expected_attach_type: u32,
    /// Whether the loader loads it (`SEC("?...")` programs are not loaded).
    pub autoload: bool,
    /// How [`crate::LoadedSkeleton::attach_prog`] attaches it: `RawTracepoint { tp_name }` with
    /// `BPF_RAW_TRACEPOINT_OPEN` (`tp_name: None` for BTF-attached programs), `Iter` with
    /// `BPF_LINK_CREATE`, `Manual` not at all (use the program fd).
    pub attach: AttachKind<&'a str>,
}
