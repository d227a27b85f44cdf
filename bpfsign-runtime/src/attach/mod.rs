//! Attaching the programs of a loaded skeleton, like bpftool's generated `__attach()` (docs/protocol.md §6.7).

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};

use crate::error::{Ctx, Error, Stage};
use crate::load::LoadedSkeleton;
use crate::spec::AttachKind;
use crate::sys::{self, RealKernel, Sys};

mod handle;
mod kprobe;
mod link;
mod perf;
#[cfg(test)]
mod perf_tests;
#[cfg(test)]
mod tests;
mod tracepoint;
mod uprobe;

pub use handle::LinkInfo;
pub use link::{NetkitSide, SocketFilter, TcxDirection, XdpFlags};
pub use uprobe::UprobeTarget;

/// An attachment (a BPF link). The program stays attached while anything holds the link: this
/// value's fd, a duplicate of it, or a pin in bpffs ([`Link::pin`]). Dropping the `Link` closes
/// its fd, which detaches the program unless a pin or another fd still holds the link.
#[derive(Debug)]
#[must_use = "dropping a Link detaches the program"]
pub struct Link {
    fd: OwnedFd,
    prog: Option<usize>,
}

impl Link {
    pub(crate) fn new(fd: OwnedFd, prog: Option<usize>) -> Link {
        Link { fd, prog }
    }

    /// The link fd.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Index of the attached program in the skeleton; `None` for a link opened with
    /// [`Link::from_pin`].
    pub fn prog_index(&self) -> Option<usize> {
        self.prog
    }

    /// Leaks the link fd on purpose and returns it. The program stays attached as long as the
    /// fd is open: until the process exits (or closes the raw fd), not longer. To keep it
    /// attached after the process exits, [`Link::pin`] it first.
    pub fn forget(self) -> RawFd {
        self.fd.into_raw_fd()
    }

    /// Gives up the link as an owned fd (for pinning or passing elsewhere).
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// Detaches the program now with `BPF_LINK_DETACH`, even if pins or other fds still hold
    /// the link (they keep a defunct link), then closes the fd. Link kinds the kernel cannot
    /// detach this way (tracing, raw tracepoint, iterator and perf-event links answer
    /// `EOPNOTSUPP`) are detached by closing the fd, which ends the attachment only when no pin
    /// or other fd holds the link.
    pub fn detach(self) -> Result<(), Error> {
        self.detach_with(&RealKernel)
    }

    pub(crate) fn detach_with(self, sys: &dyn Sys) -> Result<(), Error> {
        match sys::link_detach(sys, self.fd.as_fd()) {
            Ok(()) => Ok(()),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EOPNOTSUPP) | Some(crate::ENOTSUPP)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(Error::sys(
                Stage::Attach,
                &e,
                format!("BPF_LINK_DETACH of link fd {}", self.fd.as_raw_fd()),
                &Ctx::default(),
            )),
        }
    }
}

impl AsFd for Link {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
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
        let link =
            match &p.attach {
                AttachKind::Manual => return Err(Error::other(
                    Stage::Attach,
                    format!(
                        "program {} (prog_type {}) has no automatic attach in a light skeleton",
                        p.name, p.prog_type
                    ),
                    link::per_kind_method(&p.section)
                        .map(|m| format!("its section names no target: attach it with {m}"))
                        .unwrap_or_else(|| {
                            "its section names no target: attach it with a per-kind method of its \
                             Program (LoadedSkeleton::program: attach_kprobe, attach_uprobe, \
                             attach_tracepoint, attach_perf_event, ...) or with the fd from \
                             LoadedSkeleton::prog_fd"
                                .into()
                        }),
                    &ctx,
                )),
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
                            Some(n) => {
                                format!("BPF_RAW_TRACEPOINT_OPEN(\"{n}\") of program {}", p.name)
                            }
                            None => format!(
                                "BPF_RAW_TRACEPOINT_OPEN of BTF-attached program {}",
                                p.name
                            ),
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
                    return self.program(i)?.attach_tracepoint_with(sys, category, name)
                }
                AttachKind::Iter => sys::link_create(sys, fd.as_fd(), 0, sys::BPF_TRACE_ITER)
                    .map_err(|e| {
                        Error::sys(
                            Stage::Attach,
                            &e,
                            format!("BPF_LINK_CREATE(BPF_TRACE_ITER) of program {}", p.name),
                            &ctx,
                        )
                    })?,
            };
        Ok(Link::new(link, Some(i)))
    }
}
