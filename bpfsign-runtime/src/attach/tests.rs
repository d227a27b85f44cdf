//! Unit tests of the link attach methods and link operations against the fake kernel: the
//! exact attr bytes of every new command, the per-kind checks, and no fd left behind.

use std::os::fd::{AsFd, AsRawFd};

use crate::fake::{Call, FakeKernel, Loader};
use crate::sys::*;
use crate::*;

use crate::tests::common;

/// A program of the test skeleton: (name, section, prog_type, expected_attach_type, attach).
type P = (
    &'static str,
    &'static str,
    u32,
    u32,
    AttachKind<&'static str>,
);

const KINDS: &[P] = &[
    ("xdp_prog", "xdp", 6, 37, AttachKind::Manual),
    ("tc_prog", "tc", 3, 0, AttachKind::Manual),
    ("egress", "cgroup_skb/egress", 8, 1, AttachKind::Manual),
    (
        "sock_create",
        "cgroup/sock_create",
        9,
        2,
        AttachKind::Manual,
    ),
    ("lookup", "sk_lookup", 30, 36, AttachKind::Manual),
    ("dissect", "flow_dissector", 22, 17, AttachKind::Manual),
    ("msg", "sk_msg", 16, 7, AttachKind::Manual),
    ("parser", "sk_skb/stream_parser", 14, 4, AttachKind::Manual),
    ("bare_skb", "sk_skb", 14, 0, AttachKind::Manual),
    ("filter", "socket", 1, 0, AttachKind::Manual),
    ("tasks", "iter/task", 26, 28, AttachKind::Iter),
    ("devmap_xdp", "xdp/devmap", 6, 33, AttachKind::Manual),
    ("ingress", "cgroup_skb/ingress", 8, 0, AttachKind::Manual),
];

fn with_skeleton(f: impl FnOnce(&FakeKernel, &LoadedSkeleton)) {
    let progs: Vec<ProgSpec<'static>> = KINDS
        .iter()
        .map(
            |&(name, section, prog_type, expected_attach_type, attach)| ProgSpec {
                name,
                section,
                prog_type,
                expected_attach_type,
                autoload: true,
                attach,
            },
        )
        .collect();
    let spec = SkeletonSpec {
        progs: &progs,
        ..common::hello_spec("f2d4")
    };
    let k = FakeKernel::new().loader(Loader {
        retval: 0,
        maps: 2,
        progs: KINDS.len(),
        ctx_progs: KINDS.len(),
        ..Loader::default()
    });
    let never = || -> &'static KernelProbe { panic!("no probe: the protocol is given") };
    let opts = LoadOptions::new()
        .protocol(Protocol::P2)
        .keyring(Keyring::Session);
    let sk = crate::load::load_impl(&k, &spec, &opts, None, never).unwrap();
    f(&k, &sk);
    drop(sk);
    assert!(k.open_objects().is_empty(), "{:?}", k.open_objects());
}

fn prog<'a>(sk: &'a LoadedSkeleton, name: &str) -> Program<'a> {
    let i = KINDS.iter().position(|p| p.0 == name).unwrap();
    sk.program(i).unwrap()
}

fn last(k: &FakeKernel) -> Call {
    k.calls().pop().unwrap()
}

/// Checks a `BPF_LINK_CREATE` of 32 bytes with exactly these fields set.
fn check_link_create(c: &Call, prog: &Program<'_>, target: u32, attach_type: u32, flags: u32) {
    assert_eq!(c.cmd, BPF_LINK_CREATE);
    assert_eq!(c.attr.len(), 32);
    assert_eq!(c.u32(0), prog.fd().as_raw_fd() as u32);
    assert_eq!(c.u32(4), target);
    assert_eq!(c.u32(8), attach_type);
    assert_eq!(c.u32(12), flags);
    c.assert_zero_except(&[(0, 16)]);
}

#[test]
fn xdp_link_attr_and_modes() {
    with_skeleton(|k, sk| {
        let p = prog(sk, "xdp_prog");
        let l = p.attach_xdp_with(k, 1, XdpFlags::default()).unwrap();
        check_link_create(&last(k), &p, 1, 37, 0);
        assert_eq!(l.prog_index(), Some(p.index()));
        for (flags, bits) in [
            (XdpFlags::SKB_MODE, 2),
            (XdpFlags::DRV_MODE, 4),
            (XdpFlags::HW_MODE, 8),
        ] {
            let l2 = p.attach_xdp_with(k, 7, flags).unwrap();
            check_link_create(&last(k), &p, 7, 37, bits);
            drop(l2);
        }
        drop(l);
        // Devmap programs and non-XDP programs are refused before any syscall.
        let n = k.calls().len();
        let e = prog(sk, "devmap_xdp")
            .attach_xdp_with(k, 1, XdpFlags::default())
            .unwrap_err();
        assert!(e.detail().contains("devmap"), "{e}");
        let e = prog(sk, "tc_prog")
            .attach_xdp_with(k, 1, XdpFlags::default())
            .unwrap_err();
        assert!(e.guidance().contains("attach_tcx"), "{e}");
        assert_eq!(k.calls().len(), n);
    });
}

#[test]
fn tcx_and_netkit_link_attrs() {
    with_skeleton(|k, sk| {
        let p = prog(sk, "tc_prog");
        let a = p.attach_tcx_with(k, 3, TcxDirection::Ingress).unwrap();
        check_link_create(&last(k), &p, 3, 46, 0);
        let b = p.attach_tcx_with(k, 3, TcxDirection::Egress).unwrap();
        check_link_create(&last(k), &p, 3, 47, 0);
        let c = p.attach_netkit_with(k, 9, NetkitSide::Primary).unwrap();
        check_link_create(&last(k), &p, 9, 54, 0);
        let d = p.attach_netkit_with(k, 9, NetkitSide::Peer).unwrap();
        check_link_create(&last(k), &p, 9, 55, 0);
        drop((a, b, c, d));
        let e = prog(sk, "xdp_prog")
            .attach_tcx_with(k, 3, TcxDirection::Ingress)
            .unwrap_err();
        assert!(e.guidance().contains("attach_xdp"), "{e}");
    });
}

#[test]
fn cgroup_netns_sockmap_targets_are_fds() {
    with_skeleton(|k, sk| {
        let target = std::fs::File::open("/proc/self/exe").unwrap();
        let t = target.as_raw_fd() as u32;
        let p = prog(sk, "egress");
        let l1 = p.attach_cgroup_with(k, target.as_fd()).unwrap();
        check_link_create(&last(k), &p, t, 1, 0);
        let p = prog(sk, "ingress");
        let l2 = p.attach_cgroup_with(k, target.as_fd()).unwrap();
        check_link_create(&last(k), &p, t, 0, 0);
        let p = prog(sk, "sock_create");
        let l3 = p.attach_cgroup_with(k, target.as_fd()).unwrap();
        check_link_create(&last(k), &p, t, 2, 0);
        let p = prog(sk, "lookup");
        let l4 = p.attach_netns_with(k, target.as_fd()).unwrap();
        check_link_create(&last(k), &p, t, 36, 0);
        let p = prog(sk, "dissect");
        let l5 = p.attach_netns_with(k, target.as_fd()).unwrap();
        check_link_create(&last(k), &p, t, 17, 0);
        let p = prog(sk, "msg");
        let l6 = p.attach_sockmap_with(k, target.as_fd()).unwrap();
        check_link_create(&last(k), &p, t, 7, 0);
        let p = prog(sk, "parser");
        let l7 = p.attach_sockmap_with(k, target.as_fd()).unwrap();
        check_link_create(&last(k), &p, t, 4, 0);
        drop((l1, l2, l3, l4, l5, l6, l7));

        let n = k.calls().len();
        let e = prog(sk, "bare_skb")
            .attach_sockmap_with(k, target.as_fd())
            .unwrap_err();
        assert!(e.guidance().contains("sk_skb/stream_verdict"), "{e}");
        let e = prog(sk, "xdp_prog")
            .attach_cgroup_with(k, target.as_fd())
            .unwrap_err();
        assert!(e.detail().contains("not a cgroup program"), "{e}");
        let e = prog(sk, "egress")
            .attach_netns_with(k, target.as_fd())
            .unwrap_err();
        assert!(e.guidance().contains("attach_cgroup"), "{e}");
        assert_eq!(k.calls().len(), n, "refused before any syscall");
    });
}

#[test]
fn failed_link_create_is_a_typed_error_and_leaks_nothing() {
    with_skeleton(|_, sk| {
        let failing = FakeKernel::new().fail(BPF_LINK_CREATE, 0, libc::EBUSY);
        let e = prog(sk, "xdp_prog")
            .attach_xdp_with(&failing, 1, XdpFlags::default())
            .unwrap_err();
        assert_eq!(e.errno(), Some(libc::EBUSY));
        assert_eq!(e.stage(), Stage::Attach);
        assert!(e.detail().contains("BPF_XDP"), "{e}");
        assert!(failing.open_objects().is_empty());
    });
}

#[test]
fn attach_by_section_names_the_per_kind_method() {
    with_skeleton(|k, sk| {
        for (name, method) in [
            ("xdp_prog", "attach_xdp"),
            ("tc_prog", "attach_tcx"),
            ("egress", "attach_cgroup"),
            ("sock_create", "attach_cgroup"),
            ("lookup", "attach_netns"),
            ("dissect", "attach_netns"),
            ("msg", "attach_sockmap"),
            ("parser", "attach_sockmap"),
            ("filter", "attach_socket"),
        ] {
            let i = KINDS.iter().position(|p| p.0 == name).unwrap();
            let e = sk.attach_prog_with(k, i).unwrap_err();
            assert!(e.to_string().contains(method), "{name}: {e}");
        }
        let i = KINDS.iter().position(|p| p.0 == "devmap_xdp").unwrap();
        let e = sk.attach_prog_with(k, i).unwrap_err();
        assert!(!e.to_string().contains("attach_xdp"), "{e}");
        // attach_iter refuses a non-iterator before any syscall.
        let n = k.calls().len();
        let e = prog(sk, "xdp_prog").attach_iter().unwrap_err();
        assert!(e.detail().contains("iterator"), "{e}");
        assert_eq!(k.calls().len(), n);
    });
}

#[test]
fn pin_get_detach_info_iter_attrs() {
    with_skeleton(|k, sk| {
        let p = prog(sk, "tasks");
        let link = sk.attach_prog_with(k, p.index()).unwrap();
        let lfd = link.as_fd().as_raw_fd() as u32;

        link.pin_with(k, std::path::Path::new("/sys/fs/bpf/x"))
            .unwrap();
        let c = last(k);
        assert_eq!((c.cmd, c.attr.len()), (BPF_OBJ_PIN, 16));
        assert_eq!(c.path.as_deref(), Some("/sys/fs/bpf/x"));
        assert_eq!(c.u32(8), lfd);
        c.assert_zero_except(&[(0, 8), (8, 4)]);
        let e = link
            .pin_with(k, std::path::Path::new("/sys/fs/bpf/a\0b"))
            .unwrap_err();
        assert!(e.detail().contains("NUL"), "{e}");

        let fd = obj_get(k, c"/sys/fs/bpf/x").unwrap();
        let c = last(k);
        assert_eq!((c.cmd, c.attr.len()), (BPF_OBJ_GET, 16));
        assert_eq!(c.path.as_deref(), Some("/sys/fs/bpf/x"));
        c.assert_zero_except(&[(0, 8)]);
        drop(fd);

        // Program ID: an 8-byte info head (u32 type, u32 id) of the program's fd.
        let pfd = p.fd().as_raw_fd() as u32;
        assert_eq!(p.id_with(k).unwrap(), 1000 + pfd);
        let c = last(k);
        assert_eq!((c.cmd, c.attr.len()), (BPF_OBJ_GET_INFO_BY_FD, 16));
        assert_eq!((c.u32(0), c.u32(4)), (pfd, 8));
        let eperm = FakeKernel::new().fail(BPF_OBJ_GET_INFO_BY_FD, 0, libc::EPERM);
        assert_eq!(p.id_with(&eperm).unwrap_err().errno(), Some(libc::EPERM));

        // Link info: a 16-byte bpf_link_info head.
        let k_iter = FakeKernel::new().link_type(4);
        let info = link.info_with(&k_iter).unwrap();
        assert_eq!((info.link_type, info.id, info.prog_id), (4, 7, 9));
        assert_eq!(info.type_name(), "iter");
        let c = last(&k_iter);
        assert_eq!((c.cmd, c.attr.len()), (BPF_OBJ_GET_INFO_BY_FD, 16));
        assert_eq!((c.u32(0), c.u32(4)), (lfd, 16));
        c.assert_zero_except(&[(0, 16)]);

        // ITER_CREATE on an iterator link.
        let file = link.open_iter_with(&k_iter).unwrap();
        let c = last(&k_iter);
        assert_eq!((c.cmd, c.attr.len()), (BPF_ITER_CREATE, 8));
        assert_eq!(c.u32(0), lfd);
        c.assert_zero_except(&[(0, 4)]);
        drop(file);
        assert!(k_iter.open_objects().is_empty());

        // open_iter on another link type: a clear error, no ITER_CREATE.
        let k_xdp = FakeKernel::new().link_type(6);
        let e = link.open_iter_with(&k_xdp).unwrap_err();
        assert!(e.detail().contains("xdp link, not an iterator"), "{e}");
        assert!(!k_xdp.cmds().contains(&BPF_ITER_CREATE));

        // LINK_DETACH, 4 bytes; EOPNOTSUPP falls back to closing.
        link.detach_with(k).unwrap();
        let c = last(k);
        assert_eq!((c.cmd, c.attr.len()), (BPF_LINK_DETACH, 4));
        assert_eq!(c.u32(0), lfd);
        let l2 = sk.attach_prog_with(k, p.index()).unwrap();
        let nosupp = FakeKernel::new().fail(BPF_LINK_DETACH, 0, libc::EOPNOTSUPP);
        l2.detach_with(&nosupp).unwrap();
        let l3 = sk.attach_prog_with(k, p.index()).unwrap();
        let bad = FakeKernel::new().fail(BPF_LINK_DETACH, 0, libc::EBADF);
        let e = l3.detach_with(&bad).unwrap_err();
        assert_eq!(e.errno(), Some(libc::EBADF));
    });
}

#[test]
fn socket_filter_on_a_real_socket() {
    with_skeleton(|_, sk| {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        // A fake program fd is a memfd: the real kernel refuses it; a typed error results and
        // nothing stays on the socket.
        let e = prog(sk, "filter").attach_socket(&sock).unwrap_err();
        assert_eq!(e.stage(), Stage::Attach);
        assert!(e.errno().is_some());
        assert!(e.detail().contains("SO_ATTACH_BPF"), "{e}");
        // A program of another kind is refused before setsockopt.
        let e = prog(sk, "xdp_prog").attach_socket(&sock).unwrap_err();
        assert!(e.errno().is_none());
        assert!(e.guidance().contains("attach_xdp"), "{e}");
    });
}

#[test]
fn program_unchecked_matches_program() {
    with_skeleton(|_, sk| {
        for i in 0..KINDS.len() {
            let a = sk.program(i).unwrap();
            let b = sk.program_unchecked(i);
            assert_eq!((a.index(), a.name()), (b.index(), b.name()));
            assert_eq!(a.fd().as_raw_fd(), b.fd().as_raw_fd());
        }
    });
}
