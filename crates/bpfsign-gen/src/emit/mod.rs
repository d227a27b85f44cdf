//! Emit: the light-skeleton loader program (`BPF_PROG_TYPE_SYSCALL`) and its data blob, for
//! every signing protocol, from one linked object (docs/protocol.md §3, §6, §8).
//!
//! The data blob is the same for all variants; the loaders differ only in the check block
//! after the cleanup code and in whether the run-time ctx may override `max_entries` and
//! global-data initial values.

mod loader;

use bpfsign_abi::Protocol;

use crate::error::{Ctx, Error};
use crate::insn;
use crate::link::Linked;

/// Integrity check block emitted after the cleanup code (docs/protocol.md §3.1, §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CheckBlock {
    /// No check (unsigned loaders, P2).
    None,
    /// Compare `map->sha` with SHA-256(blob) (P1, 28 instructions).
    Sha,
    /// Check `map->excl == 1`, then compare the hash (P1b, 33 instructions).
    ExclSha,
}

/// What loader to emit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LoaderConfig {
    /// Check block.
    pub check_block: CheckBlock,
    /// Let the run-time ctx override `max_entries` and global-data initial values.
    pub ctx_overrides: bool,
    /// Reproduce libbpf 1.7.0's jump offset in the check block (lands on cleanup + 1).
    pub libbpf170_jump_bug: bool,
}

impl LoaderConfig {
    /// The configuration bpfsign uses for `protocol`.
    pub fn for_protocol(protocol: Protocol) -> LoaderConfig {
        match protocol {
            Protocol::Unsigned => LoaderConfig {
                check_block: CheckBlock::None,
                ctx_overrides: true,
                libbpf170_jump_bug: false,
            },
            Protocol::P1 => LoaderConfig {
                check_block: CheckBlock::Sha,
                ctx_overrides: false,
                libbpf170_jump_bug: false,
            },
            Protocol::P1b => LoaderConfig {
                check_block: CheckBlock::ExclSha,
                ctx_overrides: false,
                libbpf170_jump_bug: false,
            },
            Protocol::P2 => LoaderConfig {
                check_block: CheckBlock::None,
                ctx_overrides: false,
                libbpf170_jump_bug: false,
            },
        }
    }

    /// **For tests only**: the loader bpftool-p1 (libbpf 1.7.0) emits — sha check with the
    /// off-by-one jumps and with ctx overrides. bpfsign never ships it; it exists so a test
    /// can prove bpfsign's P1 differs from bpftool-p1 only by the jump fix and the overrides.
    pub fn bpftool_p1_compat() -> LoaderConfig {
        LoaderConfig {
            check_block: CheckBlock::Sha,
            ctx_overrides: true,
            libbpf170_jump_bug: true,
        }
    }
}

/// One emitted loader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Loader {
    /// Instruction bytes (what gets signed for P1/P1b, prefix of the P2 payload).
    pub(crate) insns: Vec<u8>,
    /// Data blob.
    pub(crate) data: Vec<u8>,
}

/// Emits one loader for an already linked object.
pub(crate) fn emit_loader(
    file: &str,
    linked: &Linked,
    cfg: &LoaderConfig,
) -> Result<Loader, Error> {
    let ctx = Ctx::new(file);
    let e = loader::emit(&ctx, linked, cfg)?;
    Ok(Loader {
        insns: insn::encode(&e.insns),
        data: e.data,
    })
}
