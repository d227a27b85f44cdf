//! Kernel tests of the link attach kinds: XDP and TCX on `lo`, cgroup programs on the root
//! cgroup, a socket filter, sk_lookup and flow_dissector on a network namespace, a task
//! iterator read through `Link::open_iter`, and pinning in bpffs. Every test asserts an effect
//! (a counter moves while attached and stops after detaching, iterator text names this
//! process) and that nothing leaks.
//!
//! The network tests run in a fresh network namespace of the test thread (`unshare`), so they
//! never touch the host's interfaces; `lo` there is ifindex 1 and is brought up with an ioctl.

use std::ffi::CString;
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::UdpSocket;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bpfsign_functional_tests::link::link_net_skel::types::Bss;
use bpfsign_functional_tests::link::{LinkIter, LinkNet, LinkSockmap, LoadedLinkNet};
use bpfsign_kernel_tests::leak::Snapshot;
use bpfsign_kernel_tests::load;
use bpfsign_kernel_tests::setup::enter_new_netns;
use bpfsign_runtime::{Link, TcxDirection, XdpFlags};

/// A UDP receiver on 127.0.0.1 and a sender aimed at it.
struct Udp {
    rx: UdpSocket,
    tx: UdpSocket,
    port: u16,
}

impl Udp {
    fn new() -> Udp {
        let rx = UdpSocket::bind("127.0.0.1:0").expect("bind receiver");
        rx.set_read_timeout(Some(Duration::from_millis(500)))
            .expect("receive timeout");
        let port = rx.local_addr().expect("receiver address").port();
        let tx = UdpSocket::bind("127.0.0.1:0").expect("bind sender");
        Udp { rx, tx, port }
    }

    /// Sends `n` datagrams to the receiver and returns how many arrived.
    fn exchange(&self, n: usize) -> usize {
        for i in 0..n {
            self.tx
                .send_to(&[i as u8; 16], ("127.0.0.1", self.port))
                .expect("send");
        }
        let mut got = 0;
        let mut buf = [0u8; 64];
        for _ in 0..n {
            match self.rx.recv(&mut buf) {
                Ok(_) => got += 1,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
                Err(e) => panic!("recv: {e}"),
            }
        }
        got
    }
}

/// Waits up to 2 s until `counter(bss) >= want`; returns its last value.
fn wait_counter(skel: &LoadedLinkNet, want: u64, counter: impl Fn(&Bss) -> u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let v = counter(&skel.read_bss().expect("read .bss"));
        if v >= want || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads a counter after the traffic has settled (for "did not move" checks).
fn settled(skel: &LoadedLinkNet, counter: impl Fn(&Bss) -> u64) -> u64 {
    std::thread::sleep(Duration::from_millis(200));
    counter(&skel.read_bss().expect("read .bss"))
}

fn load_net(port: u16) -> LoadedLinkNet {
    let skel = load!(LinkNet).unwrap_or_else(|e| panic!("load link_net: {e}"));
    let bss = skel.bss_vars().expect(".bss");
    bss.target_port.store(u32::from(port));
    bss.target_tgid.store(std::process::id());
    skel
}

/// A pin path in bpffs that is removed when dropped (also on panic).
struct Pin(PathBuf);

impl Pin {
    fn new(what: &str) -> Pin {
        ensure_mounted("bpf", "/sys/fs/bpf");
        let p = PathBuf::from(format!(
            "/sys/fs/bpf/bpfsign-attach-link-{what}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&p);
        Pin(p)
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn mounted(fstype: &str, dir: &str) -> bool {
    std::fs::read_to_string("/proc/self/mounts")
        .unwrap_or_default()
        .lines()
        .any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 2 && f[1] == dir && f[2] == fstype
        })
}

/// Mounts `fstype` on `dir` unless it is there; returns whether this call mounted it.
fn ensure_mounted(fstype: &str, dir: &str) -> bool {
    if mounted(fstype, dir) {
        return false;
    }
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("mkdir {dir}: {e}"));
    let (src, d, t) = (
        CString::new(fstype).unwrap(),
        CString::new(dir).unwrap(),
        CString::new(fstype).unwrap(),
    );
    // SAFETY: NUL-terminated strings that outlive the call; no data argument.
    let r = unsafe { libc::mount(src.as_ptr(), d.as_ptr(), t.as_ptr(), 0, std::ptr::null()) };
    assert_eq!(
        r,
        0,
        "mount {fstype} on {dir}: {}",
        std::io::Error::last_os_error()
    );
    true
}

/// Unmounts `dir` on drop if this test mounted it.
struct Unmount(Option<&'static str>);

impl Drop for Unmount {
    fn drop(&mut self) {
        if let Some(dir) = self.0 {
            let d = CString::new(dir).unwrap();
            // SAFETY: NUL-terminated path.
            unsafe { libc::umount2(d.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_attach_link_xdp_counts_lo_packets() {
    let snap = Snapshot::take();
    enter_new_netns();
    let udp = Udp::new();
    {
        let skel = load_net(udp.port);
        let progs = skel.progs();
        let xdp = progs.xdp_count;

        // The section names no interface: attach() points at attach_xdp.
        let e = xdp.attach().expect_err("attach() of SEC(\"xdp\")");
        assert!(e.to_string().contains("attach_xdp"), "{e}");

        let link = xdp
            .attach_xdp(1, XdpFlags::default())
            .unwrap_or_else(|e| panic!("attach_xdp: {e}"));
        let info = link.info().expect("link info");
        assert_eq!(info.type_name(), "xdp");
        assert_ne!(info.prog_id, 0);
        // Not an iterator: open_iter is refused.
        let e = link.open_iter().expect_err("open_iter on an XDP link");
        assert!(e.detail().contains("not an iterator"), "{e}");

        assert_eq!(udp.exchange(5), 5, "XDP_PASS lets every packet through");
        assert_eq!(wait_counter(&skel, 5, |b| b.xdp_hits), 5);

        // lo has no native XDP: driver mode is refused with a typed error; one program per
        // interface: a second generic link while the first is there is refused too.
        let e = xdp
            .attach_xdp(1, XdpFlags::DRV_MODE)
            .expect_err("DRV_MODE on lo");
        assert!(e.errno().is_some(), "{e}");
        drop(link);
        assert_eq!(udp.exchange(3), 3);
        assert_eq!(
            settled(&skel, |b| b.xdp_hits),
            5,
            "counted after the link was dropped"
        );

        // Explicit generic mode works the same.
        let link = xdp
            .attach_xdp(1, XdpFlags::SKB_MODE)
            .unwrap_or_else(|e| panic!("SKB_MODE: {e}"));
        assert_eq!(udp.exchange(2), 2);
        assert_eq!(wait_counter(&skel, 7, |b| b.xdp_hits), 7);
        link.detach().expect("detach");
        assert_eq!(udp.exchange(2), 2);
        assert_eq!(settled(&skel, |b| b.xdp_hits), 7, "counted after detach()");
    }
    drop(udp);
    snap.assert_nothing_new("xdp link");
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_attach_link_tcx_ingress_and_egress() {
    let snap = Snapshot::take();
    enter_new_netns();
    let udp = Udp::new();
    {
        let skel = load_net(udp.port);
        let progs = skel.progs();
        let e = progs
            .tcx_in_count
            .attach()
            .expect_err("attach() of SEC(\"tcx/ingress\")");
        assert!(e.to_string().contains("attach_tcx"), "{e}");
        let ingress = progs
            .tcx_in_count
            .attach_tcx(1, TcxDirection::Ingress)
            .unwrap_or_else(|e| panic!("tcx ingress: {e}"));
        let egress = progs
            .tcx_out_count
            .attach_tcx(1, TcxDirection::Egress)
            .unwrap_or_else(|e| panic!("tcx egress: {e}"));
        assert_eq!(ingress.info().expect("info").type_name(), "tcx");
        assert_eq!(udp.exchange(4), 4);
        assert_eq!(wait_counter(&skel, 4, |b| b.tcx_ingress_hits), 4);
        assert_eq!(wait_counter(&skel, 4, |b| b.tcx_egress_hits), 4);

        drop(ingress);
        assert_eq!(udp.exchange(3), 3);
        assert_eq!(
            wait_counter(&skel, 7, |b| b.tcx_egress_hits),
            7,
            "egress still attached"
        );
        assert_eq!(
            settled(&skel, |b| b.tcx_ingress_hits),
            4,
            "ingress counted after drop"
        );
        drop(egress);
        assert_eq!(udp.exchange(1), 1);
        assert_eq!(
            settled(&skel, |b| b.tcx_egress_hits),
            7,
            "egress counted after drop"
        );
    }
    drop(udp);
    snap.assert_nothing_new("tcx links");
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_attach_link_cgroup_root() {
    let snap = Snapshot::take();
    let _unmount = Unmount(ensure_mounted("cgroup2", "/sys/fs/cgroup").then_some("/sys/fs/cgroup"));
    enter_new_netns();
    let udp = Udp::new();
    {
        let skel = load_net(udp.port);
        let progs = skel.progs();
        let e = progs
            .cgroup_egress_count
            .attach()
            .expect_err("attach() of cgroup_skb/egress");
        assert!(e.to_string().contains("attach_cgroup"), "{e}");
        let root = File::open("/sys/fs/cgroup").expect("open the root cgroup");
        let egress = progs
            .cgroup_egress_count
            .attach_cgroup(&root)
            .unwrap_or_else(|e| panic!("cgroup_skb/egress: {e}"));
        let create = progs
            .sock_create_count
            .attach_cgroup(&root)
            .unwrap_or_else(|e| panic!("cgroup/sock_create: {e}"));
        assert_eq!(egress.info().expect("info").type_name(), "cgroup");

        let before = skel.read_bss().expect("bss").sock_creates;
        let socks: Vec<UdpSocket> = (0..3)
            .map(|_| UdpSocket::bind("127.0.0.1:0").expect("socket"))
            .collect();
        assert!(
            skel.read_bss().expect("bss").sock_creates >= before + 3,
            "sock_create did not count this process's sockets"
        );
        drop(socks);
        assert_eq!(udp.exchange(4), 4);
        assert_eq!(wait_counter(&skel, 4, |b| b.cgroup_egress_hits), 4);

        drop(egress);
        drop(create);
        let after = skel.read_bss().expect("bss").sock_creates;
        let s = UdpSocket::bind("127.0.0.1:0").expect("socket");
        drop(s);
        assert_eq!(udp.exchange(2), 2);
        assert_eq!(
            settled(&skel, |b| b.cgroup_egress_hits),
            4,
            "egress counted after drop"
        );
        assert_eq!(
            skel.read_bss().expect("bss").sock_creates,
            after,
            "sock_create after drop"
        );
    }
    drop(udp);
    snap.assert_nothing_new("cgroup links");
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_attach_link_socket_filter() {
    let snap = Snapshot::take();
    enter_new_netns();
    let udp = Udp::new();
    {
        let skel = load_net(udp.port);
        let e = skel
            .progs()
            .udp_filter
            .attach()
            .expect_err("attach() of SEC(\"socket\")");
        assert!(e.to_string().contains("attach_socket"), "{e}");
        let filter = skel
            .progs()
            .udp_filter
            .attach_socket(&udp.rx)
            .unwrap_or_else(|e| panic!("SO_ATTACH_BPF: {e}"));
        assert_eq!(udp.exchange(3), 3, "the filter accepts while drop_all is 0");
        assert_eq!(skel.read_bss().expect("bss").filter_seen, 3);

        skel.bss_vars().expect("bss").drop_all.store(1);
        assert_eq!(udp.exchange(2), 0, "the filter drops while drop_all is 1");
        assert_eq!(skel.read_bss().expect("bss").filter_seen, 5);

        // Removing the filter (drop) lets packets through again, unseen by the program.
        drop(filter);
        assert_eq!(
            udp.exchange(2),
            2,
            "packets dropped after the filter was removed"
        );
        assert_eq!(skel.read_bss().expect("bss").filter_seen, 5);

        // detach() reports success; the program is gone from the socket afterwards.
        let filter = skel
            .progs()
            .udp_filter
            .attach_socket(&udp.rx)
            .expect("attach again");
        assert_eq!(udp.exchange(1), 0);
        filter.detach().expect("SO_DETACH_BPF");
        assert_eq!(udp.exchange(1), 1);
        assert_eq!(skel.read_bss().expect("bss").filter_seen, 6);
    }
    drop(udp);
    snap.assert_nothing_new("socket filter");
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_attach_link_netns_sk_lookup_and_flow_dissector() {
    let snap = Snapshot::take();
    enter_new_netns();
    let udp = Udp::new();
    {
        let skel = load_net(udp.port);
        let progs = skel.progs();
        let e = progs
            .lookup_count
            .attach()
            .expect_err("attach() of SEC(\"sk_lookup\")");
        assert!(e.to_string().contains("attach_netns"), "{e}");
        let netns = File::open("/proc/thread-self/ns/net").expect("open this thread's netns");
        let lookup = progs
            .lookup_count
            .attach_netns(&netns)
            .unwrap_or_else(|e| panic!("sk_lookup: {e}"));
        assert_eq!(lookup.info().expect("info").type_name(), "netns");
        assert_eq!(
            udp.exchange(3),
            3,
            "SK_PASS without a socket keeps the normal lookup"
        );
        assert_eq!(wait_counter(&skel, 3, |b| b.lookup_hits), 3);
        drop(lookup);
        assert_eq!(udp.exchange(2), 2);
        assert_eq!(
            settled(&skel, |b| b.lookup_hits),
            3,
            "sk_lookup ran after drop"
        );

        // flow_dissector: the link is made on the namespace and detaches.
        let dissect = progs
            .dissect
            .attach_netns(&netns)
            .unwrap_or_else(|e| panic!("flow_dissector: {e}"));
        let info = dissect.info().expect("info");
        assert_eq!(info.type_name(), "netns");
        assert_ne!(info.prog_id, 0);
        dissect.detach().expect("BPF_LINK_DETACH of a netns link");

        // A program of another kind is refused with the right method named.
        let e = progs
            .xdp_count
            .attach_netns(&netns)
            .expect_err("XDP on a netns");
        assert!(e.guidance().contains("attach_xdp"), "{e}");
    }
    drop(udp);
    snap.assert_nothing_new("netns links");
}

/// The `(tgid, pid)` pairs of the iterator's text.
fn parse_tasks(text: &str) -> Vec<(u32, u32)> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.strip_prefix("task ")?.split_whitespace();
            Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
        })
        .collect()
}

fn read_iter(link: &Link) -> String {
    let mut f = link
        .open_iter()
        .unwrap_or_else(|e| panic!("open_iter: {e}"));
    let mut text = String::new();
    f.read_to_string(&mut text).expect("read the iterator");
    text
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_attach_link_iter_task_and_pin() {
    let snap = Snapshot::take();
    {
        let skel = load!(LinkIter).unwrap_or_else(|e| panic!("load link_iter: {e}"));
        let progs = skel.progs();
        let link = progs
            .dump_task
            .attach_iter()
            .unwrap_or_else(|e| panic!("attach_iter: {e}"));
        assert_eq!(link.info().expect("info").type_name(), "iter");
        let pid = std::process::id();
        let text = read_iter(&link);
        let tasks = parse_tasks(&text);
        assert!(
            tasks.contains(&(pid, pid)),
            "this process ({pid}) is not in the iterator output:\n{text}"
        );
        assert!(tasks.len() > 1, "only {} tasks listed", tasks.len());
        let calls = skel.read_bss().expect("bss").iter_calls;
        assert!(calls > tasks.len() as u64 - 1, "iter_calls {calls}");
        // Each open_iter() is a new run.
        let again = parse_tasks(&read_iter(&link));
        assert!(again.contains(&(pid, pid)));
        assert!(skel.read_bss().expect("bss").iter_calls > calls);

        // Pin, drop the Link, reopen from the pin: the same link, still readable.
        let pin = Pin::new("iter");
        link.pin(&pin.0).unwrap_or_else(|e| panic!("pin: {e}"));
        let id = link.info().expect("info").id;
        drop(link);
        let reopened = Link::from_pin(&pin.0).unwrap_or_else(|e| panic!("from_pin: {e}"));
        assert_eq!(
            reopened.info().expect("info").id,
            id,
            "from_pin gave another link"
        );
        assert_eq!(reopened.prog_index(), None);
        assert!(parse_tasks(&read_iter(&reopened)).contains(&(pid, pid)));
        // Pinning twice at the same path fails with a typed error.
        let e = reopened.pin(&pin.0).expect_err("pin over an existing pin");
        assert!(e.errno().is_some(), "{e}");
        drop(reopened);
        drop(pin);
        assert!(Link::from_pin(Path::new("/sys/fs/bpf/bpfsign-attach-link-missing")).is_err());
    }
    snap.assert_nothing_new("iter link");
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_attach_link_pinned_xdp_outlives_the_link_until_detach() {
    let snap = Snapshot::take();
    enter_new_netns();
    let udp = Udp::new();
    {
        let skel = load_net(udp.port);
        let pin = Pin::new("xdp");
        let link = skel
            .progs()
            .xdp_count
            .attach_xdp(1, XdpFlags::default())
            .unwrap_or_else(|e| panic!("attach_xdp: {e}"));
        link.pin(&pin.0).unwrap_or_else(|e| panic!("pin: {e}"));
        drop(link);
        // The pin holds the link: the program still counts.
        assert_eq!(udp.exchange(3), 3);
        assert_eq!(
            wait_counter(&skel, 3, |b| b.xdp_hits),
            3,
            "pinned link not attached"
        );

        let reopened = Link::from_pin(&pin.0).unwrap_or_else(|e| panic!("from_pin: {e}"));
        // detach() ends the attachment although the pin still exists.
        reopened.detach().expect("detach a pinned link");
        assert_eq!(udp.exchange(2), 2);
        assert_eq!(settled(&skel, |b| b.xdp_hits), 3, "counted after detach()");
        // The defunct link is still pinned until the pin goes.
        assert!(pin.0.exists());
        drop(pin);
    }
    drop(udp);
    snap.assert_nothing_new("pinned xdp link");
}

/// `BPF_MAP_UPDATE_ELEM(map, &key, &fd)` on a sockmap with raw bpf(2) (the typed map API is
/// not what this test is about).
fn sockmap_insert(map: BorrowedFd<'_>, key: u32, socket: BorrowedFd<'_>) -> std::io::Result<()> {
    let value = socket.as_raw_fd() as u64;
    // union bpf_attr { map_fd u32 @0; key u64 @8; value u64 @16; flags u64 @24 }
    let mut attr = [0u64; 4];
    attr[0] = map.as_raw_fd() as u32 as u64;
    attr[1] = &key as *const u32 as u64;
    attr[2] = &value as *const u64 as u64;
    // SAFETY: a 32-byte attr whose pointers refer to live locals.
    let r = unsafe { libc::syscall(libc::SYS_bpf, 2 as libc::c_long, attr.as_mut_ptr(), 32usize) };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_attach_link_sockmap_sk_msg_and_sk_skb() {
    let snap = Snapshot::take();
    enter_new_netns();
    {
        let skel = load!(LinkSockmap).unwrap_or_else(|e| panic!("load link_sockmap: {e}"));
        let progs = skel.progs();
        let e = progs
            .msg_verdict
            .attach()
            .expect_err("attach() of SEC(\"sk_msg\")");
        assert!(e.to_string().contains("attach_sockmap"), "{e}");
        let map_index = skel
            .inner()
            .map_index("sock_map")
            .expect("sock_map in the skeleton");
        let map = skel.inner().map_fd(map_index).expect("sock_map fd");

        // Programs first: a socket takes the map's programs when it is added.
        let msg = progs
            .msg_verdict
            .attach_sockmap(map)
            .unwrap_or_else(|e| panic!("sk_msg: {e}"));
        let skb = progs
            .skb_verdict
            .attach_sockmap(map)
            .unwrap_or_else(|e| panic!("sk_skb: {e}"));
        assert_eq!(msg.info().expect("info").type_name(), "sockmap");

        let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
        let mut client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (mut server, _) = listener.accept().expect("accept");
        server
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        client
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        sockmap_insert(map, 0, client.as_fd()).expect("add the client to the sockmap");
        sockmap_insert(map, 1, server.as_fd()).expect("add the server to the sockmap");

        client.write_all(b"hello sockmap").expect("send");
        let mut buf = [0u8; 13];
        server
            .read_exact(&mut buf)
            .expect("SK_PASS delivers the message");
        assert_eq!(&buf, b"hello sockmap");
        let bss = skel.read_bss().expect("bss");
        assert!(bss.msg_count >= 1, "sk_msg did not run");
        assert_eq!(bss.msg_bytes, 13);
        assert!(
            bss.skb_count >= 1,
            "sk_skb stream verdict did not run on the server's receive"
        );

        drop((client, server, listener));
        skb.detach().expect("BPF_LINK_DETACH of a sockmap link");
        drop(msg);
    }
    snap.assert_nothing_new("sockmap links");
}
