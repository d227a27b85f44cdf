//! Attaching the programs of a loaded skeleton, like bpftool's generated `__attach()` (docs/protocol.md §6.7).

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};

use crate::error::{Ctx, Error, Stage};
use crate::load::LoadedSkeleton;
use crate::spec::AttachKind;
use crate::sys::{self, RealKernel, Sys};

mod kprobe;
mod perf;
#[cfg(test)]
mod perf_tests;
mod tracepoint;
mod uprobe;

pub use uprobe::UprobeTarget;

/// An attachment (a BPF link). Dropping it detaches the program; [`Link::forget`] keeps it
/// attached until the process exits.
#[derive(Debug)]
#[must_use = "dropping a Link detaches the program"]
pub struct Link {
    fd: OwnedFd,
    prog: usize,
}

impl Link {
    /// The link fd.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Index of the attached program in the skeleton.
    pub fn prog_index(&self) -> usize {
        self.prog
    }

    /// Leaks the link on purpose: the program stays attached until the process exits.
    /// Returns the raw link fd.
    pub fn forget(self) -> RawFd {
        self.fd.into_raw_fd()
    }

    /// Gives up the link as an owned fd (for pinning or passing elsewhere).
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// Detaches now (same as dropping).
    pub fn detach(self) {}
}

impl LoadedSkeleton {
    /// Attaches program `i` as its section says: raw tracepoint / BTF-attached programs
    /// (fentry, fexit, fmod_ret, tp_btf, lsm) with `BPF_RAW_TRACEPOINT_OPEN`, iterators with
    /// `BPF_LINK_CREATE`, kprobes, ksyscalls, uprobes and tracepoints through a perf event
    /// and a `BPF_PERF_EVENT` link, kprobe.multi / uprobe.multi with their multi links (see
    /// [`crate::Program`]'s per-kind methods).
    pub fn attach_prog(&self, i: usize) -> Result<Link, Error> {
        self.attach_prog_with(&RealKernel, i)
    }

    /// Attaches every loaded program that can be attached automatically (not [`AttachKind::Manual`]),
    /// stopping at the first error (links made so far are detached again).
    pub fn attach_all(&self) -> Result<Vec<Link>, Error> {
        self.attach_all_with(&RealKernel)
    }

    pub(crate) fn attach_all_with(&self, sys: &dyn Sys) -> Result<Vec<Link>, Error> {
        let mut links = Vec::new();
        for (i, p) in self.progs.iter().enumerate() {
            if p.fd.is_none() || p.attach == AttachKind::Manual {
                continue;
            }
            links.push(self.attach_prog_with(sys, i)?);
        }
        Ok(links)
    }

    pub(crate) fn attach_prog_with(&self, sys: &dyn Sys, i: usize) -> Result<Link, Error> {
        let ctx = Ctx {
            skeleton: Some(self.name().to_string()),
            protocol: Some(self.protocol()),
            ..Ctx::default()
        };
        let p = self.progs.get(i).ok_or_else(|| {
            Error::other(
                Stage::Attach,
                format!("no program #{i} (the skeleton has {})", self.progs.len()),
                "",
                &ctx,
            )
        })?;
        let fd = p.fd.as_ref().ok_or_else(|| {
            Error::other(
                Stage::Attach,
                format!("program {} was not loaded (autoload = false)", p.name),
                "programs in SEC(\"?...\") sections are not loaded by the light skeleton",
                &ctx,
            )
        })?;
        let link = match &p.attach {
            AttachKind::Manual => {
                return Err(Error::other(
                    Stage::Attach,
                    format!(
                        "program {} (prog_type {}) has no automatic attach in a light skeleton",
                        p.name, p.prog_type
                    ),
                    "attach it yourself with the fd from LoadedSkeleton::prog_fd and the attach API of its type",
                    &ctx,
                ))
            }
            AttachKind::RawTracepoint { tp_name: name } => {
                let cname = match name {
                    Some(n) => Some(CString::new(n.as_str()).map_err(|_| {
                        Error::other(
                            Stage::Attach,
                            format!("tracepoint name {n:?} of program {} contains NUL", p.name),
                            "",
                            &ctx,
                        )
                    })?),
                    None => None,
                };
                sys::raw_tracepoint_open(sys, cname.as_deref(), fd.as_fd()).map_err(|e| {
                    let what = match name {
                        Some(n) => format!("BPF_RAW_TRACEPOINT_OPEN(\"{n}\") of program {}", p.name),
                        None => format!("BPF_RAW_TRACEPOINT_OPEN of BTF-attached program {}", p.name),
                    };
                    Error::sys(Stage::Attach, &e, what, &ctx)
                })?
            }
            AttachKind::Kprobe {
                func,
                offset,
                retprobe,
            } => {
                return self
                    .program(i)?
                    .attach_kprobe_offset_with(sys, func, *offset, *retprobe)
            }
            AttachKind::Ksyscall { name, retprobe } => {
                return self.program(i)?.attach_kprobe_offset_with(
                    sys,
                    &kprobe::ksyscall_function(name),
                    0,
                    *retprobe,
                )
            }
            AttachKind::KprobeMulti { pattern, retprobe } => {
                return self
                    .program(i)?
                    .attach_kprobe_multi_with(sys, pattern, *retprobe)
            }
            AttachKind::Uprobe {
                path,
                func,
                offset,
                retprobe,
            } => {
                let target = match (func.is_empty(), *offset) {
                    (true, off) => UprobeTarget::FileOffset(off),
                    (false, 0) => UprobeTarget::Symbol(func),
                    (false, off) => UprobeTarget::SymbolOffset(func, off),
                };
                return self.program(i)?.attach_uprobe_with(
                    sys,
                    *retprobe,
                    None,
                    std::path::Path::new(path),
                    target,
                );
            }
            AttachKind::UprobeMulti {
                path,
                pattern,
                retprobe,
            } => {
                return self.program(i)?.attach_uprobe_multi_with(
                    sys,
                    *retprobe,
                    None,
                    std::path::Path::new(path),
                    pattern,
                )
            }
            AttachKind::Tracepoint { category, name } => {
                return self
                    .program(i)?
                    .attach_tracepoint_with(sys, category, name)
            }
            AttachKind::Iter => sys::link_create(sys, fd.as_fd(), 0, sys::BPF_TRACE_ITER).map_err(|e| {
                Error::sys(
                    Stage::Attach,
                    &e,
                    format!("BPF_LINK_CREATE(BPF_TRACE_ITER) of program {}", p.name),
                    &ctx,
                )
            })?,
        };
        Ok(Link { fd: link, prog: i })
    }
}
