//! What a [`Link`] can do besides detaching: pinning in bpffs and reopening from a pin,
//! reading an iterator, and the kernel's description of the link.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::Link;
use crate::error::{Ctx, Error, Stage};
use crate::sys::{self, RealKernel, Sys};

/// `BPF_LINK_TYPE_ITER`.
const LINK_TYPE_ITER: u32 = 4;

/// The kernel's description of a link (`BPF_OBJ_GET_INFO_BY_FD`, the head of
/// `struct bpf_link_info`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkInfo {
    /// `BPF_LINK_TYPE_*` (see [`LinkInfo::type_name`]).
    pub link_type: u32,
    /// The link's system-wide ID.
    pub id: u32,
    /// ID of the attached program (0 once the link is detached).
    pub prog_id: u32,
}

impl LinkInfo {
    /// The name of [`LinkInfo::link_type`] (`"xdp"`, `"tcx"`, `"iter"`, …; `"unknown"` for
    /// types newer than this crate).
    pub fn type_name(&self) -> &'static str {
        link_type_name(self.link_type)
    }
}

fn link_type_name(t: u32) -> &'static str {
    match t {
        1 => "raw_tracepoint",
        2 => "tracing",
        3 => "cgroup",
        4 => "iter",
        5 => "netns",
        6 => "xdp",
        7 => "perf_event",
        8 => "kprobe_multi",
        9 => "struct_ops",
        10 => "netfilter",
        11 => "tcx",
        12 => "uprobe_multi",
        13 => "netkit",
        14 => "sockmap",
        _ => "unknown",
    }
}

/// `path` as a C string, or an error naming it.
fn c_path(path: &Path, what: &str) -> Result<CString, Error> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        Error::other(
            Stage::Attach,
            format!("{what}: path {} contains a NUL byte", path.display()),
            "pass a path without NUL bytes",
            &Ctx::default(),
        )
    })
}

impl Link {
    /// Pins the link at `path` in a BPF filesystem (`BPF_OBJ_PIN`; the directory must be on a
    /// bpffs mount such as `/sys/fs/bpf`). The pin holds the link: the program stays attached
    /// after this `Link` is dropped and after the process exits, until the pin is removed
    /// (`std::fs::remove_file(path)`) and no fd refers to the link.
    pub fn pin(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        self.pin_with(&RealKernel, path.as_ref())
    }

    pub(crate) fn pin_with(&self, sys: &dyn Sys, path: &Path) -> Result<(), Error> {
        let c = c_path(path, "BPF_OBJ_PIN of a link")?;
        sys::obj_pin(sys, self.fd.as_fd(), &c).map_err(|e| {
            Error::sys(
                Stage::Attach,
                &e,
                format!(
                    "BPF_OBJ_PIN of a link at {} (the path must be new and on a bpffs mount)",
                    path.display()
                ),
                &Ctx::default(),
            )
        })
    }

    /// Opens the link pinned at `path` (`BPF_OBJ_GET`). The returned `Link` is one more holder:
    /// dropping it does not detach the program while the pin exists; [`Link::detach`] does.
    /// Its [`Link::prog_index`] is `None` (the pin does not say which skeleton it came from).
    /// An error if `path` holds a map or program rather than a link.
    pub fn from_pin(path: impl AsRef<Path>) -> Result<Link, Error> {
        let path = path.as_ref();
        let c = c_path(path, "BPF_OBJ_GET of a pinned link")?;
        let fd = sys::obj_get(&RealKernel, &c).map_err(|e| {
            Error::sys(
                Stage::Attach,
                &e,
                format!("BPF_OBJ_GET of the pinned link {}", path.display()),
                &Ctx::default(),
            )
        })?;
        let link = Link::new(fd, None);
        // A pin may hold a map or a program; only links show `link_type` in their fdinfo.
        let fdinfo = format!(
            "/proc/self/fdinfo/{}",
            std::os::fd::AsRawFd::as_raw_fd(&link.fd)
        );
        let is_link = std::fs::read_to_string(&fdinfo)
            .map(|s| s.lines().any(|l| l.starts_with("link_type:")))
            .unwrap_or(false);
        if !is_link {
            return Err(Error::other(
                Stage::Attach,
                format!(
                    "{} is not a pinned BPF link (a map or program?)",
                    path.display()
                ),
                "pass the path of a pinned link",
                &Ctx::default(),
            ));
        }
        Ok(link)
    }

    /// The kernel's description of the link: type, ID, attached program ID.
    pub fn info(&self) -> Result<LinkInfo, Error> {
        self.info_with(&RealKernel)
    }

    pub(crate) fn info_with(&self, sys: &dyn Sys) -> Result<LinkInfo, Error> {
        let (link_type, id, prog_id) = sys::link_info(sys, self.fd.as_fd()).map_err(|e| {
            Error::sys(
                Stage::Attach,
                &e,
                "BPF_OBJ_GET_INFO_BY_FD of a link",
                &Ctx::default(),
            )
        })?;
        Ok(LinkInfo {
            link_type,
            id,
            prog_id,
        })
    }

    /// Starts one run of an iterator link (`BPF_ITER_CREATE`): reading the returned file to
    /// its end runs the iterator program and yields what it printed (`bpf_seq_printf`). Each
    /// call is a new, independent run. An error for links that are not iterators.
    pub fn open_iter(&self) -> Result<File, Error> {
        self.open_iter_with(&RealKernel)
    }

    pub(crate) fn open_iter_with(&self, sys: &dyn Sys) -> Result<File, Error> {
        let info = self.info_with(sys)?;
        if info.link_type != LINK_TYPE_ITER {
            return Err(Error::other(
                Stage::Attach,
                format!(
                    "link {} is a {} link, not an iterator: it has no output to read",
                    info.id,
                    info.type_name()
                ),
                "call open_iter() on the link of an SEC(\"iter/...\") program",
                &Ctx::default(),
            ));
        }
        let fd = sys::iter_create(sys, self.fd.as_fd()).map_err(|e| {
            Error::sys(
                Stage::Attach,
                &e,
                format!("BPF_ITER_CREATE of iterator link {}", info.id),
                &Ctx::default(),
            )
        })?;
        Ok(File::from(fd))
    }
}
