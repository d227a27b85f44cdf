//! Perf-event attachment: `perf_event_open(2)` and `BPF_LINK_CREATE` with `BPF_PERF_EVENT`,
//! shared by kprobes, uprobes and tracepoints, and [`Program::attach_perf_event`] for a perf
//! event the caller opened.
//!
//! The BPF perf link holds its own reference to the perf event, so the event's fd is closed as
//! soon as the link exists: dropping the [`Link`] detaches the program and destroys the event.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use crate::error::{Error, ErrorKind, Stage};
use crate::program::Program;
use crate::sys::{owned_fd, Attr, RealKernel, Sys, BPF_LINK_CREATE};

use super::Link;

/// `BPF_PERF_EVENT`.
pub(crate) const BPF_PERF_EVENT: u32 = bpfsign_abi::attach_type::PERF_EVENT;
/// `offsetofend(union bpf_attr, link_create.perf_event.bpf_cookie)`.
pub(crate) const LINK_CREATE_PERF_ATTR_SZ: usize = 24;
/// `PERF_ATTR_SIZE_VER7`: the `perf_event_attr` size the runtime passes (every field it sets
/// is older than that).
pub(crate) const PERF_ATTR_SZ: usize = 128;
/// `PERF_TYPE_TRACEPOINT`.
pub(crate) const PERF_TYPE_TRACEPOINT: u32 = 2;

/// A zeroed, 8-byte aligned `struct perf_event_attr` of [`PERF_ATTR_SZ`] bytes with `size` set.
#[repr(C, align(8))]
pub(crate) struct PerfAttr(pub(crate) [u8; PERF_ATTR_SZ]);

impl PerfAttr {
    /// `type` at 0, `size` at 4.
    pub(crate) fn new(type_: u32) -> Self {
        let mut a = PerfAttr([0; PERF_ATTR_SZ]);
        a.0[0..4].copy_from_slice(&type_.to_ne_bytes());
        a.0[4..8].copy_from_slice(&(PERF_ATTR_SZ as u32).to_ne_bytes());
        a
    }
    fn set_u64(&mut self, off: usize, v: u64) -> &mut Self {
        self.0[off..off + 8].copy_from_slice(&v.to_ne_bytes());
        self
    }
    /// `config` at 8.
    pub(crate) fn config(&mut self, v: u64) -> &mut Self {
        self.set_u64(8, v)
    }
    /// `config1` at 56 (`kprobe_func`, `uprobe_path`): a pointer to a C string that must stay
    /// alive until `perf_event_open` returns.
    pub(crate) fn config1_str(&mut self, s: &CStr) -> &mut Self {
        self.set_u64(56, s.as_ptr() as usize as u64)
    }
    /// `config2` at 64 (`probe_offset`).
    pub(crate) fn config2(&mut self, v: u64) -> &mut Self {
        self.set_u64(64, v)
    }
}

/// `perf_event_open(attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC)`.
pub(crate) fn perf_event_open(
    sys: &dyn Sys,
    attr: &PerfAttr,
    pid: i32,
    cpu: i32,
) -> io::Result<OwnedFd> {
    owned_fd(sys.perf_event_open(&attr.0, pid, cpu)?)
}

/// `BPF_LINK_CREATE(prog_fd, target_fd = perf_fd, BPF_PERF_EVENT)`, `bpf_cookie` 0, attr size 24.
pub(crate) fn link_create_perf_event(
    sys: &dyn Sys,
    prog: BorrowedFd<'_>,
    perf: BorrowedFd<'_>,
) -> io::Result<OwnedFd> {
    let mut attr = Attr::new();
    attr.i32(0, prog.as_raw_fd())
        .i32(4, perf.as_raw_fd())
        .u32(8, BPF_PERF_EVENT);
    owned_fd(attr.call(sys, BPF_LINK_CREATE, LINK_CREATE_PERF_ATTR_SZ)?)
}

/// The `(pid, cpu)` of `perf_event_open` for a probe in process `pid` (`None`: every process,
/// which the kernel takes as "any task" with one CPU named, as libbpf does).
pub(crate) fn probe_pid_cpu(pid: Option<i32>) -> (i32, i32) {
    match pid {
        Some(p) if p >= 0 => (p, -1),
        _ => (-1, 0),
    }
}

/// The PMU `/sys/bus/event_source/devices/<pmu>/`: its `type` and the bit of its `retprobe`
/// format (`config:0`).
pub(crate) struct Pmu {
    pub type_: u32,
    pub retprobe_bit: u32,
}

impl Pmu {
    /// Reads the PMU's `type` and `format/retprobe` from sysfs.
    pub(crate) fn read(name: &str) -> Result<Pmu, String> {
        let dir = Path::new("/sys/bus/event_source/devices").join(name);
        let type_path = dir.join("type");
        let type_ = std::fs::read_to_string(&type_path)
            .map_err(|e| {
                format!(
                    "the {name} PMU is not available ({}: {e}); the kernel needs CONFIG_{}_EVENTS \
                     and sysfs mounted at /sys",
                    type_path.display(),
                    name.to_ascii_uppercase()
                )
            })?
            .trim()
            .parse::<u32>()
            .map_err(|e| format!("{}: not a PMU type number: {e}", type_path.display()))?;
        let fmt_path = dir.join("format/retprobe");
        let fmt = std::fs::read_to_string(&fmt_path)
            .map_err(|e| format!("{}: {e}", fmt_path.display()))?;
        let retprobe_bit = parse_format_bit(&fmt)
            .ok_or_else(|| format!("{}: unexpected format {fmt:?}", fmt_path.display()))?;
        Ok(Pmu {
            type_,
            retprobe_bit,
        })
    }

    /// The `perf_event_attr` of a probe of this PMU (kprobe or uprobe PMU): `target` (the
    /// function, or the file of an uprobe) in `config1`, `offset` in `config2`, and the
    /// `retprobe` bit in `config` for a return probe.
    pub(crate) fn probe_attr(
        &self,
        target: &std::ffi::CStr,
        offset: u64,
        retprobe: bool,
    ) -> PerfAttr {
        let mut attr = PerfAttr::new(self.type_);
        let config = if retprobe {
            1u64 << self.retprobe_bit
        } else {
            0
        };
        attr.config(config).config1_str(target).config2(offset);
        attr
    }
}

/// The bit of a one-bit PMU format `config:N`.
pub(crate) fn parse_format_bit(s: &str) -> Option<u32> {
    let bit = s.trim().strip_prefix("config:")?.parse::<u32>().ok()?;
    (bit < 64).then_some(bit)
}

impl<'a> Program<'a> {
    /// Attaches the program to a perf event the caller opened (`perf_event_open(2)`: a
    /// software or hardware counter for a `SEC("perf_event")` program, or a probe / tracepoint
    /// event for the kprobe and tracepoint types), with `BPF_LINK_CREATE(BPF_PERF_EVENT)`, and
    /// enables the event (`PERF_EVENT_IOC_ENABLE`). The link holds its own reference to the
    /// event: the caller may close its fd; dropping the [`Link`] detaches the program.
    pub fn attach_perf_event(&self, perf_fd: impl AsFd) -> Result<Link, Error> {
        self.attach_perf_fd_with(&RealKernel, perf_fd.as_fd(), "the given perf event")
    }

    /// `BPF_LINK_CREATE(BPF_PERF_EVENT)` then `PERF_EVENT_IOC_ENABLE` on `perf`; `what` names
    /// the event in errors.
    pub(crate) fn attach_perf_fd_with(
        &self,
        sys: &dyn Sys,
        perf: BorrowedFd<'_>,
        what: &str,
    ) -> Result<Link, Error> {
        let link = link_create_perf_event(sys, self.fd(), perf).map_err(|e| {
            Error::sys(
                Stage::Attach,
                &e,
                format!(
                    "BPF_LINK_CREATE(BPF_PERF_EVENT) of program {} to {what}",
                    self.name()
                ),
                &self.ctx(),
            )
        })?;
        sys.perf_event_enable(perf).map_err(|e| {
            Error::sys(
                Stage::Attach,
                &e,
                format!(
                    "PERF_EVENT_IOC_ENABLE of {what} (program {} is linked to it)",
                    self.name()
                ),
                &self.ctx(),
            )
        })?;
        Ok(Link {
            fd: link,
            prog: Some(self.index()),
        })
    }

    /// Opens the perf event `attr` (`pid`, `cpu`) and links the program to it; the event fd is
    /// closed on every path (the link keeps the event). `what` names the event in errors.
    pub(crate) fn attach_perf_attr_with(
        &self,
        sys: &dyn Sys,
        attr: &PerfAttr,
        (pid, cpu): (i32, i32),
        what: &str,
    ) -> Result<Link, Error> {
        let perf = perf_event_open(sys, attr, pid, cpu).map_err(|e| {
            let mut err = Error::sys(
                Stage::Attach,
                &e,
                format!("perf_event_open of {what} for program {}", self.name()),
                &self.ctx(),
            );
            if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::EINVAL)) {
                err = err.with_kind(ErrorKind::AttachTarget {
                    program: self.name().to_string(),
                    target: what.to_string(),
                });
            }
            err
        })?;
        self.attach_perf_fd_with(sys, perf.as_fd(), what)
    }

    /// An [`ErrorKind::AttachTarget`] error: `target` of this program could not be resolved.
    pub(crate) fn target_error(&self, target: &str, detail: String, guidance: &str) -> Error {
        Error::other(Stage::Attach, detail, guidance, &self.ctx()).with_kind(
            ErrorKind::AttachTarget {
                program: self.name().to_string(),
                target: target.to_string(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_bits() {
        assert_eq!(parse_format_bit("config:0\n"), Some(0));
        assert_eq!(parse_format_bit("config:63"), Some(63));
        assert_eq!(parse_format_bit("config:64"), None);
        assert_eq!(parse_format_bit("config1:0"), None);
        assert_eq!(parse_format_bit(""), None);
    }

    #[test]
    fn pid_cpu() {
        assert_eq!(probe_pid_cpu(None), (-1, 0));
        assert_eq!(probe_pid_cpu(Some(42)), (42, -1));
        assert_eq!(probe_pid_cpu(Some(-1)), (-1, 0));
    }
}
