//! Attach methods of [`Program`] for the kinds the kernel attaches with `BPF_LINK_CREATE` on a
//! target: XDP and TCX on an interface, netkit, cgroups, network namespaces (sk_lookup,
//! flow_dissector), socket maps (sk_msg, sk_skb), iterators; and socket filters, which are
//! not links (`SO_ATTACH_BPF`, see [`SocketFilter`]).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use super::Link;
use crate::error::{Error, Stage};
use crate::program::Program;
use crate::spec::AttachKind;
use crate::sys::{self, RealKernel, Sys};

// `enum bpf_prog_type` values checked before attaching.
const PROG_TYPE_SOCKET_FILTER: u32 = 1;
const PROG_TYPE_SCHED_CLS: u32 = 3;
const PROG_TYPE_XDP: u32 = 6;
const PROG_TYPE_CGROUP_SKB: u32 = 8;
const PROG_TYPE_CGROUP_SOCK: u32 = 9;
const PROG_TYPE_SOCK_OPS: u32 = 13;
const PROG_TYPE_SK_SKB: u32 = 14;
const PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const PROG_TYPE_SK_MSG: u32 = 16;
const PROG_TYPE_CGROUP_SOCK_ADDR: u32 = 18;
const PROG_TYPE_FLOW_DISSECTOR: u32 = 22;
const PROG_TYPE_CGROUP_SYSCTL: u32 = 23;
const PROG_TYPE_CGROUP_SOCKOPT: u32 = 25;
const PROG_TYPE_LSM: u32 = 29;
const PROG_TYPE_SK_LOOKUP: u32 = 30;
/// `BPF_LSM_CGROUP`.
const ATTACH_LSM_CGROUP: u32 = 43;
/// `BPF_XDP_DEVMAP`, `BPF_XDP_CPUMAP`: XDP programs for map entries, not interfaces.
const ATTACH_XDP_DEVMAP: u32 = 33;
const ATTACH_XDP_CPUMAP: u32 = 35;

/// How an XDP program is attached to an interface ([`Program::attach_xdp`]): the `XDP_FLAGS_*`
/// mode bit of the link.
///
/// [`XdpFlags::default()`] sets no mode: the kernel uses the driver's native XDP when the
/// driver has it and generic (skb) XDP otherwise. A link takes at most one mode; the
/// netlink-only flags (`XDP_FLAGS_UPDATE_IF_NOEXIST`, `XDP_FLAGS_REPLACE`) do not apply to links
/// (the kernel refuses them: a link never replaces another attachment; update a link instead).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct XdpFlags(u32);

impl XdpFlags {
    /// Generic XDP (`XDP_FLAGS_SKB_MODE`): runs after the skb is built; works on every device.
    pub const SKB_MODE: XdpFlags = XdpFlags(1 << 1);
    /// Native driver XDP (`XDP_FLAGS_DRV_MODE`): fails if the driver has none.
    pub const DRV_MODE: XdpFlags = XdpFlags(1 << 2);
    /// Offloaded to the NIC (`XDP_FLAGS_HW_MODE`): needs an offload-capable device.
    pub const HW_MODE: XdpFlags = XdpFlags(1 << 3);

    /// The `XDP_FLAGS_*` bits passed as `link_create.flags`.
    pub const fn bits(self) -> u32 {
        self.0
    }
}

/// Which hook of an interface a TCX program runs on ([`Program::attach_tcx`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcxDirection {
    /// Packets the interface receives (`BPF_TCX_INGRESS`).
    Ingress,
    /// Packets the interface sends (`BPF_TCX_EGRESS`).
    Egress,
}

/// Which side of a netkit device pair a program runs for ([`Program::attach_netkit`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NetkitSide {
    /// The primary device, in the host namespace (`BPF_NETKIT_PRIMARY`).
    Primary,
    /// The peer device, usually in a container's namespace (`BPF_NETKIT_PEER`).
    Peer,
}

/// A socket filter program on a socket ([`Program::attach_socket`]).
///
/// Not a BPF link: the kernel keeps the filter in the socket itself (`SO_ATTACH_BPF`), so it has
/// no fd, cannot be pinned and ends when the socket closes. Dropping the guard removes the
/// filter (`SO_DETACH_BPF`); [`SocketFilter::forget`] leaves it on the socket until the socket
/// is closed. The guard borrows the socket, so it cannot outlive it.
#[derive(Debug)]
#[must_use = "dropping a SocketFilter removes the filter from the socket"]
pub struct SocketFilter<'s> {
    socket: BorrowedFd<'s>,
    prog: usize,
}

impl<'s> SocketFilter<'s> {
    /// The socket the filter is on.
    pub fn socket(&self) -> BorrowedFd<'s> {
        self.socket
    }

    /// Index of the filter's program in the skeleton.
    pub fn prog_index(&self) -> usize {
        self.prog
    }

    /// Removes the filter now (`SO_DETACH_BPF`), reporting a failure (dropping ignores it).
    pub fn detach(self) -> Result<(), Error> {
        let r = so_detach_bpf(self.socket);
        std::mem::forget(self);
        r.map_err(|e| {
            Error::sys(
                Stage::Attach,
                &e,
                "setsockopt(SO_DETACH_BPF) of a socket filter",
                &Default::default(),
            )
        })
    }

    /// Leaves the filter on the socket: it stays until the socket is closed (or another
    /// `SO_ATTACH_BPF`/`SO_DETACH_BPF` replaces or removes it).
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SocketFilter<'_> {
    fn drop(&mut self) {
        // Nothing to report from a destructor; the filter goes with the socket anyway.
        let _ = so_detach_bpf(self.socket);
    }
}

/// `setsockopt(SOL_SOCKET, SO_ATTACH_BPF, &prog_fd)`.
fn so_attach_bpf(socket: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> std::io::Result<()> {
    let fd: libc::c_int = prog.as_raw_fd();
    // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from a live local.
    let r = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_BPF,
            (&fd as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `setsockopt(SOL_SOCKET, SO_DETACH_BPF)` (the value is ignored by the kernel).
fn so_detach_bpf(socket: BorrowedFd<'_>) -> std::io::Result<()> {
    let zero: libc::c_int = 0;
    // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from a live local.
    let r = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_DETACH_BPF,
            (&zero as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The per-kind method a program of `section` needs when [`Program::attach`] cannot find its
/// target in the section (`xdp`, `tc`, `cgroup_skb/egress`, …).
pub(crate) fn per_kind_method(section: &str) -> Option<&'static str> {
    let mut parts = section.split('/');
    let kind = parts.next().unwrap_or(section);
    // `xdp/devmap`, `xdp/cpumap`: programs for map entries, attached by storing their fd.
    if kind.starts_with("xdp") && parts.any(|p| p == "devmap" || p == "cpumap") {
        return None;
    }
    Some(match kind {
        "xdp" | "xdp.frags" => "Program::attach_xdp(ifindex, XdpFlags::default())",
        "tc" | "tcx" | "classifier" | "tcx.ingress" | "tcx.egress" | "tc.ingress" | "tc.egress" => {
            "Program::attach_tcx(ifindex, TcxDirection::Ingress or Egress)"
        }
        "netkit" => "Program::attach_netkit(ifindex, NetkitSide::Primary or Peer)",
        "sk_lookup" | "flow_dissector" => "Program::attach_netns(netns fd, e.g. /proc/self/ns/net)",
        "sk_msg" | "sk_skb" => "Program::attach_sockmap(sockmap fd)",
        "socket" => "Program::attach_socket(&socket)",
        "lsm_cgroup" => "Program::attach_cgroup(cgroup directory fd)",
        k if k.starts_with("cgroup") || k == "sockops" => {
            "Program::attach_cgroup(cgroup directory fd)"
        }
        _ => return None,
    })
}

impl<'a> Program<'a> {
    /// Attaches an XDP program to interface `ifindex` (`BPF_LINK_CREATE`, `BPF_XDP`).
    /// `flags` picks the mode; [`XdpFlags::default()`] lets the kernel choose. An interface
    /// holds one XDP program per mode: `EBUSY` means another program (link or netlink) is there.
    pub fn attach_xdp(&self, ifindex: u32, flags: XdpFlags) -> Result<Link, Error> {
        self.attach_xdp_with(&RealKernel, ifindex, flags)
    }

    pub(crate) fn attach_xdp_with(
        &self,
        sys: &dyn Sys,
        ifindex: u32,
        flags: XdpFlags,
    ) -> Result<Link, Error> {
        self.expect_types(&[PROG_TYPE_XDP], "an XDP program (SEC(\"xdp\"))")?;
        let eat = self.expected_attach_type();
        if eat == ATTACH_XDP_DEVMAP || eat == ATTACH_XDP_CPUMAP {
            return Err(self.attach_error(
                format!(
                    "program {} (section {}) is an XDP program for devmap/cpumap entries",
                    self.name(),
                    self.section()
                ),
                "store its fd in a devmap/cpumap entry instead; only SEC(\"xdp\") programs attach to interfaces",
            ));
        }
        let what = format!(
            "BPF_LINK_CREATE(BPF_XDP, ifindex {ifindex}, flags {:#x}) of program {}",
            flags.bits(),
            self.name()
        );
        self.create(sys, ifindex, sys::BPF_XDP, flags.bits(), what)
    }

    /// Attaches a `tc`/`tcx` (`BPF_PROG_TYPE_SCHED_CLS`) program to the ingress or egress hook of
    /// interface `ifindex` as a TCX link (`BPF_TCX_INGRESS`/`BPF_TCX_EGRESS`, Linux 6.6+),
    /// appended after the programs already there.
    pub fn attach_tcx(&self, ifindex: u32, direction: TcxDirection) -> Result<Link, Error> {
        self.attach_tcx_with(&RealKernel, ifindex, direction)
    }

    pub(crate) fn attach_tcx_with(
        &self,
        sys: &dyn Sys,
        ifindex: u32,
        direction: TcxDirection,
    ) -> Result<Link, Error> {
        self.expect_types(
            &[PROG_TYPE_SCHED_CLS],
            "a tc/tcx program (SEC(\"tc\"), SEC(\"tcx/ingress\"))",
        )?;
        let attach_type = match direction {
            TcxDirection::Ingress => sys::BPF_TCX_INGRESS,
            TcxDirection::Egress => sys::BPF_TCX_EGRESS,
        };
        let what = format!(
            "BPF_LINK_CREATE(BPF_TCX_{}, ifindex {ifindex}) of program {}",
            if direction == TcxDirection::Ingress {
                "INGRESS"
            } else {
                "EGRESS"
            },
            self.name()
        );
        self.create(sys, ifindex, attach_type, 0, what)
    }

    /// Attaches a `netkit` program (`BPF_PROG_TYPE_SCHED_CLS`) to the netkit device `ifindex`
    /// for its primary or peer side (`BPF_NETKIT_PRIMARY`/`BPF_NETKIT_PEER`, Linux 6.7+).
    pub fn attach_netkit(&self, ifindex: u32, side: NetkitSide) -> Result<Link, Error> {
        self.attach_netkit_with(&RealKernel, ifindex, side)
    }

    pub(crate) fn attach_netkit_with(
        &self,
        sys: &dyn Sys,
        ifindex: u32,
        side: NetkitSide,
    ) -> Result<Link, Error> {
        self.expect_types(
            &[PROG_TYPE_SCHED_CLS],
            "a netkit program (SEC(\"netkit/primary\"))",
        )?;
        let (attach_type, name) = match side {
            NetkitSide::Primary => (sys::BPF_NETKIT_PRIMARY, "PRIMARY"),
            NetkitSide::Peer => (sys::BPF_NETKIT_PEER, "PEER"),
        };
        let what = format!(
            "BPF_LINK_CREATE(BPF_NETKIT_{name}, ifindex {ifindex}) of program {}",
            self.name()
        );
        self.create(sys, ifindex, attach_type, 0, what)
    }

    /// Attaches a cgroup program (`cgroup_skb/*`, `cgroup/*`, `sockops`, `lsm_cgroup/*`) to the
    /// cgroup whose directory `cgroup` is open (e.g. `File::open("/sys/fs/cgroup")`), at the
    /// hook its section named (the program's `expected_attach_type`; for `cgroup_skb` the
    /// section's `ingress`/`egress`). The link is a multi-attachment: other programs on the
    /// cgroup stay.
    pub fn attach_cgroup(&self, cgroup: impl AsFd) -> Result<Link, Error> {
        self.attach_cgroup_with(&RealKernel, cgroup.as_fd())
    }

    pub(crate) fn attach_cgroup_with(
        &self,
        sys: &dyn Sys,
        cgroup: BorrowedFd<'_>,
    ) -> Result<Link, Error> {
        let attach_type = self.cgroup_attach_type()?;
        let what = format!(
            "BPF_LINK_CREATE(cgroup fd {}, attach type {attach_type}) of program {}",
            cgroup.as_raw_fd(),
            self.name()
        );
        self.create(sys, cgroup.as_raw_fd() as u32, attach_type, 0, what)
    }

    fn cgroup_attach_type(&self) -> Result<u32, Error> {
        let pt = self.prog_type();
        let eat = self.expected_attach_type();
        match pt {
            // `cgroup_skb/ingress` is attach type 0, which is also "unset": take the hook from
            // the section.
            PROG_TYPE_CGROUP_SKB => match self.section() {
                "cgroup_skb/ingress" => Ok(sys::BPF_CGROUP_INET_INGRESS),
                "cgroup_skb/egress" => Ok(sys::BPF_CGROUP_INET_EGRESS),
                s => Err(self.attach_error(
                    format!(
                        "program {} has section {s:?}, which names no cgroup_skb hook",
                        self.name()
                    ),
                    "use SEC(\"cgroup_skb/ingress\") or SEC(\"cgroup_skb/egress\")",
                )),
            },
            PROG_TYPE_CGROUP_SOCK
            | PROG_TYPE_SOCK_OPS
            | PROG_TYPE_CGROUP_DEVICE
            | PROG_TYPE_CGROUP_SOCK_ADDR
            | PROG_TYPE_CGROUP_SYSCTL
            | PROG_TYPE_CGROUP_SOCKOPT => Ok(eat),
            PROG_TYPE_LSM if eat == ATTACH_LSM_CGROUP => Ok(eat),
            _ => Err(self.wrong_kind(
                "a cgroup program (SEC(\"cgroup_skb/egress\"), SEC(\"cgroup/sock_create\"), …)",
            )),
        }
    }

    /// Attaches an `sk_lookup` or `flow_dissector` program to the network namespace whose
    /// nsfs file `netns` is open (e.g. `File::open("/proc/self/ns/net")`), with
    /// `BPF_SK_LOOKUP`/`BPF_FLOW_DISSECTOR`.
    pub fn attach_netns(&self, netns: impl AsFd) -> Result<Link, Error> {
        self.attach_netns_with(&RealKernel, netns.as_fd())
    }

    pub(crate) fn attach_netns_with(
        &self,
        sys: &dyn Sys,
        netns: BorrowedFd<'_>,
    ) -> Result<Link, Error> {
        let (attach_type, name) = match self.prog_type() {
            PROG_TYPE_SK_LOOKUP => (sys::BPF_SK_LOOKUP, "BPF_SK_LOOKUP"),
            PROG_TYPE_FLOW_DISSECTOR => (sys::BPF_FLOW_DISSECTOR, "BPF_FLOW_DISSECTOR"),
            _ => return Err(self.wrong_kind("an sk_lookup or flow_dissector program")),
        };
        let what = format!(
            "BPF_LINK_CREATE({name}, netns fd {}) of program {}",
            netns.as_raw_fd(),
            self.name()
        );
        self.create(sys, netns.as_raw_fd() as u32, attach_type, 0, what)
    }

    /// Attaches an `sk_msg` or `sk_skb/{stream_parser,stream_verdict,verdict}` program to a
    /// sockmap or sockhash (`map` is its fd) as a link (`BPF_LINK_CREATE` with the map as
    /// target: Linux 6.10+; older kernels refuse with `EINVAL`). A bare `SEC("sk_skb")` names
    /// no hook and is refused.
    pub fn attach_sockmap(&self, map: impl AsFd) -> Result<Link, Error> {
        self.attach_sockmap_with(&RealKernel, map.as_fd())
    }

    pub(crate) fn attach_sockmap_with(
        &self,
        sys: &dyn Sys,
        map: BorrowedFd<'_>,
    ) -> Result<Link, Error> {
        let attach_type = match self.prog_type() {
            PROG_TYPE_SK_MSG => sys::BPF_SK_MSG_VERDICT,
            PROG_TYPE_SK_SKB => match self.section() {
                "sk_skb/stream_parser" => sys::BPF_SK_SKB_STREAM_PARSER,
                "sk_skb/stream_verdict" => sys::BPF_SK_SKB_STREAM_VERDICT,
                "sk_skb/verdict" => sys::BPF_SK_SKB_VERDICT,
                s => {
                    return Err(self.attach_error(
                        format!("program {} has section {s:?}, which names no sk_skb hook", self.name()),
                        "use SEC(\"sk_skb/stream_parser\"), SEC(\"sk_skb/stream_verdict\") or SEC(\"sk_skb/verdict\")",
                    ))
                }
            },
            _ => return Err(self.wrong_kind("an sk_msg or sk_skb program")),
        };
        let what = format!(
            "BPF_LINK_CREATE(sockmap fd {}, attach type {attach_type}) of program {}",
            map.as_raw_fd(),
            self.name()
        );
        self.create(sys, map.as_raw_fd() as u32, attach_type, 0, what)
    }

    /// Puts a socket filter program (`SEC("socket")`) on `socket` with `SO_ATTACH_BPF`,
    /// replacing the socket's previous filter. This is not a BPF link: see [`SocketFilter`]
    /// (removed on drop, gone when the socket closes, cannot be pinned).
    pub fn attach_socket<'s, S: AsFd + ?Sized>(
        &self,
        socket: &'s S,
    ) -> Result<SocketFilter<'s>, Error> {
        self.expect_types(
            &[PROG_TYPE_SOCKET_FILTER],
            "a socket filter program (SEC(\"socket\"))",
        )?;
        let socket = socket.as_fd();
        so_attach_bpf(socket, self.fd()).map_err(|e| {
            Error::sys(
                Stage::Attach,
                &e,
                format!(
                    "setsockopt(fd {}, SO_ATTACH_BPF) of program {}",
                    socket.as_raw_fd(),
                    self.name()
                ),
                &self.ctx(),
            )
        })?;
        Ok(SocketFilter {
            socket,
            prog: self.index(),
        })
    }

    /// Attaches an iterator program (`SEC("iter/task")`, …) as a link (`BPF_TRACE_ITER`); read
    /// its output with [`Link::open_iter`].
    pub fn attach_iter(&self) -> Result<Link, Error> {
        if !matches!(self.skeleton().progs[self.index()].attach, AttachKind::Iter) {
            return Err(self.wrong_kind("an iterator program (SEC(\"iter/...\"))"));
        }
        self.attach()
    }

    /// `BPF_LINK_CREATE` on `target` (fd or ifindex) and the resulting [`Link`].
    fn create(
        &self,
        sys: &dyn Sys,
        target: u32,
        attach_type: u32,
        flags: u32,
        what: String,
    ) -> Result<Link, Error> {
        let fd = sys::link_create_target(sys, self.fd(), target, attach_type, flags)
            .map_err(|e| Error::sys(Stage::Attach, &e, what, &self.ctx()))?;
        Ok(Link::new(fd, Some(self.index())))
    }

    fn expect_types(&self, types: &[u32], kind: &str) -> Result<(), Error> {
        if types.contains(&self.prog_type()) {
            Ok(())
        } else {
            Err(self.wrong_kind(kind))
        }
    }

    fn wrong_kind(&self, kind: &str) -> Error {
        let hint = per_kind_method(self.section())
            .map(|m| format!("a program of this section attaches with {m}"))
            .unwrap_or_else(|| "attach it with Program::attach() or the method of its kind".into());
        self.attach_error(
            format!(
                "program {} (section {}, prog_type {}) is not {kind}",
                self.name(),
                self.section(),
                self.prog_type()
            ),
            &hint,
        )
    }
}
