//! The contract between bpfsign's generator (`bpfsign-gen`, at build time) and its runtime
//! (`bpfsign-runtime`, on the target machine): one definition of every fact both sides must
//! agree on, and nothing else.
//!
//! * [`Protocol`]: the kernel signing protocols and their one name mapping (`p1b`, …);
//! * [`cmd`], [`map_type`], [`map_flags`], [`prog_type`], [`attach_type`]: `bpf(2)` numbers from
//!   the kernel's uapi `linux/bpf.h`;
//! * [`AttachKind`]: how a skeleton attaches a program;
//! * [`loader_ctx`]: the layout of the loader program's context (`struct bpf_loader_ctx`
//!   followed by map and program descriptors), written by the runtime and read by the loader;
//! * [`limits`]: the loader's and the kernel's size limits.
//!
//! Section numbers (§N) refer to `docs/protocol.md` in the bpfsign repository.
//!
//! No dependencies; with the `serde` feature, [`Protocol`] and [`AttachKind`] serialize by name.
#![forbid(unsafe_code)]
#![no_std]

use core::fmt;
use core::str::FromStr;

/// A kernel signing protocol (§3), or no signing at all.
///
/// The order is the order in which the generator emits loader variants ([`Protocol::ALL`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Protocol {
    /// Unsigned light skeleton (libbpf's unsigned loader); works on every kernel with BPF.
    Unsigned,
    /// Linux 6.18.0–6.18.39, 6.19, 7.0, 7.1.0–7.1.4: signature over the loader instructions;
    /// the loader checks the metadata map's hash.
    P1,
    /// 7.2.y, 6.18.40+, 7.1.5+: P1 plus the loader's `map->excl` check.
    P1b,
    /// 7.3+: the kernel verifies the signature over instructions ‖ the frozen exclusive
    /// metadata map.
    P2,
}

impl Protocol {
    /// All protocols, in the order the generator emits loader variants.
    pub const ALL: [Protocol; 4] = [
        Protocol::Unsigned,
        Protocol::P1,
        Protocol::P1b,
        Protocol::P2,
    ];

    /// The signed protocols.
    pub const SIGNED: [Protocol; 3] = [Protocol::P1, Protocol::P1b, Protocol::P2];

    /// The protocol's name in `BPFSIGN_PROTOCOL`, the artifact format and the CLI
    /// (`unsigned`, `p1`, `p1b`, `p2`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Protocol::Unsigned => "unsigned",
            Protocol::P1 => "p1",
            Protocol::P1b => "p1b",
            Protocol::P2 => "p2",
        }
    }

    /// Whether loads with this protocol carry a signature.
    pub const fn is_signed(self) -> bool {
        !matches!(self, Protocol::Unsigned)
    }

    /// Whether the signature covers the metadata (data blob) too (P2), not only the loader
    /// instructions (P1, P1b).
    pub const fn signs_data(self) -> bool {
        matches!(self, Protocol::P2)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error returned when a string names no [`Protocol`]; holds the rejected text (trimmed,
/// at most 32 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownProtocol {
    text: [u8; 32],
    len: usize,
}

impl UnknownProtocol {
    fn new(s: &str) -> UnknownProtocol {
        let mut end = s.len().min(32);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        let mut text = [0; 32];
        text[..end].copy_from_slice(&s.as_bytes()[..end]);
        UnknownProtocol { text, len: end }
    }

    /// The text that named no protocol (possibly shortened).
    pub fn text(&self) -> &str {
        core::str::from_utf8(&self.text[..self.len]).unwrap_or("")
    }
}

impl fmt::Display for UnknownProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown signing protocol {:?}: expected one of p1, p1b, p2, unsigned",
            self.text()
        )
    }
}

impl core::error::Error for UnknownProtocol {}

impl FromStr for Protocol {
    type Err = UnknownProtocol;

    /// Parses a name as [`Protocol::as_str`] writes it (ASCII case and surrounding
    /// whitespace ignored).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Protocol::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| UnknownProtocol::new(t))
    }
}

/// How a skeleton attaches a program. `S` is the string type: `String` in the generator's
/// metadata, `&'static str` in the runtime's static skeleton description.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum AttachKind<S> {
    /// `BPF_RAW_TRACEPOINT_OPEN`: `raw_tp/<name>` gives `Some(name)`; BTF-attached programs
    /// (fentry/fexit/fmod_ret/tp_btf/lsm) give `None`.
    RawTracepoint {
        /// Tracepoint name for raw tracepoints.
        tp_name: Option<S>,
    },
    /// `BPF_LINK_CREATE` with `BPF_TRACE_ITER`.
    Iter,
    /// A kprobe PMU perf event on a kernel function (`kprobe/FUNC[+OFFSET]`,
    /// `kretprobe/FUNC`), attached with `BPF_LINK_CREATE(BPF_PERF_EVENT)`.
    Kprobe {
        /// Kernel function (symbol) name.
        func: S,
        /// Offset into the function (always 0 for return probes).
        offset: u64,
        /// Return probe (`kretprobe/`).
        retprobe: bool,
    },
    /// `BPF_LINK_CREATE(BPF_TRACE_KPROBE_MULTI)` on every kernel function matching a glob
    /// (`kprobe.multi/PATTERN`, `kretprobe.multi/PATTERN`).
    KprobeMulti {
        /// Glob over `available_filter_functions` (`*` and `?`).
        pattern: S,
        /// Return probes (`kretprobe.multi/`).
        retprobe: bool,
    },
    /// A kprobe on a system call's arch-specific entry (`ksyscall/NAME`, `kretsyscall/NAME`).
    Ksyscall {
        /// System call name without prefix (`getpid`).
        name: S,
        /// Return probe (`kretsyscall/`).
        retprobe: bool,
    },
    /// An uprobe PMU perf event (`uprobe/PATH:FUNC[+OFFSET]`, `uretprobe/PATH:FUNC`, and the
    /// sleepable `.s` forms), in every process.
    Uprobe {
        /// Binary or library path (a bare name like `libc.so.6` is searched for).
        path: S,
        /// ELF symbol, or empty when `offset` is a file offset.
        func: S,
        /// Offset from the symbol (or the file offset when `func` is empty).
        offset: u64,
        /// Return probe (`uretprobe/`).
        retprobe: bool,
    },
    /// `BPF_LINK_CREATE(BPF_TRACE_UPROBE_MULTI)` on every function of a binary matching a glob
    /// (`uprobe.multi/PATH:PATTERN`, `uretprobe.multi/PATH:PATTERN`).
    UprobeMulti {
        /// Binary or library path.
        path: S,
        /// Glob over the binary's function symbols.
        pattern: S,
        /// Return probes (`uretprobe.multi/`).
        retprobe: bool,
    },
    /// A tracefs tracepoint perf event (`tracepoint/CAT/NAME`, `tp/CAT/NAME`).
    Tracepoint {
        /// Category (the directory under `events/`).
        category: S,
        /// Tracepoint name.
        name: S,
    },
    /// Not attached by the skeleton; attach through the program's file descriptor.
    Manual,
}

impl<S> AttachKind<S> {
    /// The same kind with every string converted by `f` (e.g. `&str` to `String`).
    pub fn map<T>(self, mut f: impl FnMut(S) -> T) -> AttachKind<T> {
        match self {
            AttachKind::RawTracepoint { tp_name } => AttachKind::RawTracepoint {
                tp_name: tp_name.map(f),
            },
            AttachKind::Iter => AttachKind::Iter,
            AttachKind::Kprobe {
                func,
                offset,
                retprobe,
            } => AttachKind::Kprobe {
                func: f(func),
                offset,
                retprobe,
            },
            AttachKind::KprobeMulti { pattern, retprobe } => AttachKind::KprobeMulti {
                pattern: f(pattern),
                retprobe,
            },
            AttachKind::Ksyscall { name, retprobe } => AttachKind::Ksyscall {
                name: f(name),
                retprobe,
            },
            AttachKind::Uprobe {
                path,
                func,
                offset,
                retprobe,
            } => AttachKind::Uprobe {
                path: f(path),
                func: f(func),
                offset,
                retprobe,
            },
            AttachKind::UprobeMulti {
                path,
                pattern,
                retprobe,
            } => AttachKind::UprobeMulti {
                path: f(path),
                pattern: f(pattern),
                retprobe,
            },
            AttachKind::Tracepoint { category, name } => AttachKind::Tracepoint {
                category: f(category),
                name: f(name),
            },
            AttachKind::Manual => AttachKind::Manual,
        }
    }
}

/// `bpf(2)` commands (`enum bpf_cmd`).
pub mod cmd {
    /// `BPF_MAP_CREATE`.
    pub const MAP_CREATE: u32 = 0;
    /// `BPF_MAP_LOOKUP_ELEM`.
    pub const MAP_LOOKUP_ELEM: u32 = 1;
    /// `BPF_MAP_UPDATE_ELEM`.
    pub const MAP_UPDATE_ELEM: u32 = 2;
    /// `BPF_MAP_DELETE_ELEM`.
    pub const MAP_DELETE_ELEM: u32 = 3;
    /// `BPF_MAP_GET_NEXT_KEY`.
    pub const MAP_GET_NEXT_KEY: u32 = 4;
    /// `BPF_PROG_LOAD`.
    pub const PROG_LOAD: u32 = 5;
    /// `BPF_OBJ_PIN`.
    pub const OBJ_PIN: u32 = 6;
    /// `BPF_OBJ_GET`.
    pub const OBJ_GET: u32 = 7;
    /// `BPF_PROG_RUN` (`BPF_PROG_TEST_RUN`).
    pub const PROG_RUN: u32 = 10;
    /// `BPF_PROG_GET_NEXT_ID`.
    pub const PROG_GET_NEXT_ID: u32 = 11;
    /// `BPF_MAP_GET_NEXT_ID`.
    pub const MAP_GET_NEXT_ID: u32 = 12;
    /// `BPF_OBJ_GET_INFO_BY_FD`.
    pub const OBJ_GET_INFO_BY_FD: u32 = 15;
    /// `BPF_RAW_TRACEPOINT_OPEN`.
    pub const RAW_TRACEPOINT_OPEN: u32 = 17;
    /// `BPF_BTF_LOAD`.
    pub const BTF_LOAD: u32 = 18;
    /// `BPF_MAP_FREEZE`.
    pub const MAP_FREEZE: u32 = 22;
    /// `BPF_LINK_CREATE`.
    pub const LINK_CREATE: u32 = 28;
    /// `BPF_LINK_GET_NEXT_ID`.
    pub const LINK_GET_NEXT_ID: u32 = 31;
    /// `BPF_ITER_CREATE`.
    pub const ITER_CREATE: u32 = 33;
}

/// Map types (`enum bpf_map_type`) the generator and the runtime name.
pub mod map_type {
    /// `BPF_MAP_TYPE_HASH`.
    pub const HASH: u32 = 1;
    /// `BPF_MAP_TYPE_ARRAY`.
    pub const ARRAY: u32 = 2;
    /// `BPF_MAP_TYPE_PROG_ARRAY`.
    pub const PROG_ARRAY: u32 = 3;
    /// `BPF_MAP_TYPE_PERF_EVENT_ARRAY`.
    pub const PERF_EVENT_ARRAY: u32 = 4;
    /// `BPF_MAP_TYPE_PERCPU_HASH`.
    pub const PERCPU_HASH: u32 = 5;
    /// `BPF_MAP_TYPE_PERCPU_ARRAY`.
    pub const PERCPU_ARRAY: u32 = 6;
    /// `BPF_MAP_TYPE_STACK_TRACE`.
    pub const STACK_TRACE: u32 = 7;
    /// `BPF_MAP_TYPE_CGROUP_ARRAY`.
    pub const CGROUP_ARRAY: u32 = 8;
    /// `BPF_MAP_TYPE_LRU_HASH`.
    pub const LRU_HASH: u32 = 9;
    /// `BPF_MAP_TYPE_LRU_PERCPU_HASH`.
    pub const LRU_PERCPU_HASH: u32 = 10;
    /// `BPF_MAP_TYPE_LPM_TRIE`.
    pub const LPM_TRIE: u32 = 11;
    /// `BPF_MAP_TYPE_ARRAY_OF_MAPS`.
    pub const ARRAY_OF_MAPS: u32 = 12;
    /// `BPF_MAP_TYPE_HASH_OF_MAPS`.
    pub const HASH_OF_MAPS: u32 = 13;
    /// `BPF_MAP_TYPE_DEVMAP`.
    pub const DEVMAP: u32 = 14;
    /// `BPF_MAP_TYPE_SOCKMAP`.
    pub const SOCKMAP: u32 = 15;
    /// `BPF_MAP_TYPE_CPUMAP`.
    pub const CPUMAP: u32 = 16;
    /// `BPF_MAP_TYPE_XSKMAP`.
    pub const XSKMAP: u32 = 17;
    /// `BPF_MAP_TYPE_SOCKHASH`.
    pub const SOCKHASH: u32 = 18;
    /// `BPF_MAP_TYPE_QUEUE`.
    pub const QUEUE: u32 = 22;
    /// `BPF_MAP_TYPE_STACK`.
    pub const STACK: u32 = 23;
    /// `BPF_MAP_TYPE_DEVMAP_HASH`.
    pub const DEVMAP_HASH: u32 = 25;
    /// `BPF_MAP_TYPE_STRUCT_OPS`.
    pub const STRUCT_OPS: u32 = 26;
    /// `BPF_MAP_TYPE_RINGBUF`.
    pub const RINGBUF: u32 = 27;
    /// `BPF_MAP_TYPE_USER_RINGBUF`.
    pub const USER_RINGBUF: u32 = 31;
    /// `BPF_MAP_TYPE_ARENA`.
    pub const ARENA: u32 = 33;
}

/// Map flags (`BPF_F_*` of `BPF_MAP_CREATE`).
pub mod map_flags {
    /// `BPF_F_RDONLY`: user space may only read the map.
    pub const RDONLY: u32 = 1 << 3;
    /// `BPF_F_RDONLY_PROG`: programs may only read the map (`.rodata*`, `.kconfig`).
    pub const RDONLY_PROG: u32 = 1 << 7;
    /// `BPF_F_MMAPABLE`: the map value can be mmapped (skeleton data maps).
    pub const MMAPABLE: u32 = 1 << 10;
}

/// Program types (`enum bpf_prog_type`) the generator and the runtime name.
pub mod prog_type {
    /// `BPF_PROG_TYPE_SOCKET_FILTER`.
    pub const SOCKET_FILTER: u32 = 1;
    /// `BPF_PROG_TYPE_KPROBE`.
    pub const KPROBE: u32 = 2;
    /// `BPF_PROG_TYPE_TRACEPOINT`.
    pub const TRACEPOINT: u32 = 5;
    /// `BPF_PROG_TYPE_XDP`.
    pub const XDP: u32 = 6;
    /// `BPF_PROG_TYPE_RAW_TRACEPOINT`.
    pub const RAW_TRACEPOINT: u32 = 17;
    /// `BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE`.
    pub const RAW_TRACEPOINT_WRITABLE: u32 = 24;
    /// `BPF_PROG_TYPE_TRACING`.
    pub const TRACING: u32 = 26;
    /// `BPF_PROG_TYPE_STRUCT_OPS`.
    pub const STRUCT_OPS: u32 = 27;
    /// `BPF_PROG_TYPE_EXT`.
    pub const EXT: u32 = 28;
    /// `BPF_PROG_TYPE_LSM`.
    pub const LSM: u32 = 29;
    /// `BPF_PROG_TYPE_SYSCALL`: the loader program's type.
    pub const SYSCALL: u32 = 31;
}

/// Attach types (`enum bpf_attach_type`) the generator and the runtime name.
pub mod attach_type {
    /// `BPF_TRACE_RAW_TP`.
    pub const TRACE_RAW_TP: u32 = 23;
    /// `BPF_LSM_MAC`.
    pub const LSM_MAC: u32 = 27;
    /// `BPF_TRACE_ITER`.
    pub const TRACE_ITER: u32 = 28;
    /// `BPF_PERF_EVENT`.
    pub const PERF_EVENT: u32 = 41;
    /// `BPF_TRACE_KPROBE_MULTI`.
    pub const TRACE_KPROBE_MULTI: u32 = 42;
    /// `BPF_LSM_CGROUP`.
    pub const LSM_CGROUP: u32 = 43;
    /// `BPF_TRACE_UPROBE_MULTI`.
    pub const TRACE_UPROBE_MULTI: u32 = 48;
    /// `BPF_TRACE_FENTRY_MULTI`.
    pub const TRACE_FENTRY_MULTI: u32 = 59;
    /// `BPF_TRACE_FEXIT_MULTI`.
    pub const TRACE_FEXIT_MULTI: u32 = 60;
    /// `BPF_TRACE_FSESSION_MULTI`.
    pub const TRACE_FSESSION_MULTI: u32 = 61;
}

/// `BPF_PROG_LOAD` flags.
pub mod prog_flags {
    /// `BPF_F_SLEEPABLE`: the program may sleep (the loader program always is).
    pub const SLEEPABLE: u32 = 1 << 4;
}

/// The loader program's context (§6.3): a `struct bpf_loader_ctx` header, then one map
/// descriptor per map (in the skeleton's map order), then one program descriptor per program.
/// The runtime fills it before `BPF_PROG_RUN`; the loader writes the created fds into it.
pub mod loader_ctx {
    /// `sizeof(struct bpf_loader_ctx)`: `sz`, `flags`, `log_level`, `log_size`, `log_buf`.
    pub const HEADER_SIZE: usize = 24;
    /// Offset of `sz` (the context's size in bytes, u32) in the header.
    pub const SZ: usize = 0;
    /// Offset of `log_level` in the header.
    pub const LOG_LEVEL: usize = 8;
    /// Offset of `log_size` in the header.
    pub const LOG_SIZE: usize = 12;
    /// Offset of `log_buf` (a user pointer, u64) in the header.
    pub const LOG_BUF: usize = 16;
    /// `sizeof(struct bpf_map_desc)`: `map_fd`, `max_entries`, `initial_value` (u64).
    pub const MAP_DESC_SIZE: usize = 16;
    /// Offset of `map_fd` in a map descriptor.
    pub const MAP_DESC_FD: usize = 0;
    /// Offset of `max_entries` in a map descriptor.
    pub const MAP_DESC_MAX_ENTRIES: usize = 4;
    /// Offset of `initial_value` in a map descriptor.
    pub const MAP_DESC_INITIAL_VALUE: usize = 8;
    /// `sizeof(struct bpf_prog_desc)`: `prog_fd`.
    pub const PROG_DESC_SIZE: usize = 4;

    /// Offset of map `index`'s descriptor.
    pub const fn map_desc(index: usize) -> usize {
        HEADER_SIZE + MAP_DESC_SIZE * index
    }

    /// Offset of program `index`'s descriptor in a context with `n_maps` maps.
    pub const fn prog_desc(n_maps: usize, index: usize) -> usize {
        HEADER_SIZE + MAP_DESC_SIZE * n_maps + PROG_DESC_SIZE * index
    }

    /// Size of a context with `n_maps` maps and `n_progs` programs (saturating; compare
    /// with [`crate::limits::MAX_CTX_SIZE`]).
    pub const fn size(n_maps: usize, n_progs: usize) -> usize {
        HEADER_SIZE
            .saturating_add(MAP_DESC_SIZE.saturating_mul(n_maps))
            .saturating_add(PROG_DESC_SIZE.saturating_mul(n_progs))
    }

    /// Offset of `flags` in the header.
    pub const FLAGS: usize = 4;
    /// `BPF_SKEL_KERNEL` in `flags`: the context's pointers (`initial_value`) are kernel
    /// addresses, so the loader reads them with `bpf_probe_read_kernel` rather than
    /// `bpf_copy_from_user`. The runtime never sets it.
    pub const FLAG_SKEL_KERNEL: u32 = 1;
}

/// Limits the generator enforces (the kernel enforces them again at load time).
pub mod limits {
    /// Most maps one loader may create (libbpf's `MAX_USED_MAPS`).
    pub const MAX_MAPS: usize = 64;
    /// Most programs one loader may load: 126, the fd slots a 512-byte BPF stack holds next to
    /// two other fds. libbpf's loader has 32 (`MAX_USED_PROGS`) and emits a loader the verifier
    /// refuses past that; bpfsign's stack keeps libbpf's layout up to 32 and grows past it.
    pub const MAX_PROGS: usize = 126;
    /// Largest signature bpftool accepts (`MAX_SIG_SIZE`); kept for every protocol.
    pub const MAX_SIGNATURE_SIZE: usize = 4096;
    /// Largest loader context the kernel passes to a `BPF_PROG_RUN` of a syscall program.
    pub const MAX_CTX_SIZE: usize = u16::MAX as usize;
    /// Largest loader, in instructions (the verifier's `BPF_COMPLEXITY_LIMIT_INSNS`).
    pub const MAX_LOADER_INSNS: usize = 1_000_000;
    /// Largest data blob: one map value of the metadata array (`KMALLOC_MAX_SIZE` minus
    /// the kernel's per-map overhead, as libbpf's gen_loader assumes).
    pub const MAX_DATA_SIZE: usize = (4 << 20) - 1024;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_names_round_trip() {
        for p in Protocol::ALL {
            assert_eq!(p.as_str().parse::<Protocol>(), Ok(p));
            assert_eq!(p.as_str().to_ascii_uppercase().parse::<Protocol>(), Ok(p));
        }
        let e = " P3 ".parse::<Protocol>().unwrap_err();
        assert_eq!(e.text(), "P3");
        assert_eq!(Protocol::SIGNED.len(), 3);
        assert!(Protocol::SIGNED.iter().all(|p| p.is_signed()));
        assert!(!Protocol::Unsigned.is_signed());
        let long = "ü".repeat(40);
        assert!(long.parse::<Protocol>().unwrap_err().text().len() <= 32);
    }

    #[test]
    fn ctx_layout() {
        assert_eq!(loader_ctx::map_desc(0), 24);
        assert_eq!(loader_ctx::map_desc(2), 56);
        assert_eq!(loader_ctx::prog_desc(2, 1), 60);
        assert_eq!(loader_ctx::size(2, 2), 64);
        assert_eq!(loader_ctx::size(usize::MAX, 1), usize::MAX);
    }
}
