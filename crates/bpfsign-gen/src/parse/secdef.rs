//! libbpf's program section conventions (`section_defs[]` of libbpf.c, the version bundled with
//! the kernel 7.3 bpftool): `SEC()` name → program type, expected attach type and flags.

/// `SEC_ATTACHABLE`.
pub(crate) const F_ATTACHABLE: u32 = 2;
/// `SEC_EXP_ATTACH_OPT`.
pub(crate) const F_EXP_ATTACH_OPT: u32 = 1;
/// `SEC_ATTACHABLE_OPT`.
pub(crate) const F_ATTACHABLE_OPT: u32 = F_ATTACHABLE | F_EXP_ATTACH_OPT;
/// `SEC_ATTACH_BTF`: the attach target is a BTF id named after the `/`.
pub(crate) const F_ATTACH_BTF: u32 = 4;
/// `SEC_SLEEPABLE`.
pub(crate) const F_SLEEPABLE: u32 = 8;
/// `SEC_XDP_FRAGS`.
pub(crate) const F_XDP_FRAGS: u32 = 16;
/// `SEC_USDT`.
pub(crate) const F_USDT: u32 = 32;

/// One `SEC_DEF` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecDef {
    /// Pattern: exact, `prefix/` or `name+` (exact or `name/...`).
    pub sec: &'static str,
    /// `BPF_PROG_TYPE_*`.
    pub prog_type: u32,
    /// Expected attach type.
    pub attach: u32,
    /// `SEC_*` flags.
    pub flags: u32,
}

/// The table, in libbpf's matching order.
pub(crate) static SECTION_DEFS: &[SecDef] = &[
    SecDef {
        sec: "socket",
        prog_type: 1,
        attach: 0,
        flags: 0,
    }, // SOCKET_FILTER 0
    SecDef {
        sec: "sk_reuseport/migrate",
        prog_type: 21,
        attach: 40,
        flags: F_ATTACHABLE,
    }, // SK_REUSEPORT BPF_SK_REUSEPORT_SELECT_OR_MIGRATE
    SecDef {
        sec: "sk_reuseport",
        prog_type: 21,
        attach: 39,
        flags: F_ATTACHABLE,
    }, // SK_REUSEPORT BPF_SK_REUSEPORT_SELECT
    SecDef {
        sec: "kprobe+",
        prog_type: 2,
        attach: 0,
        flags: 0,
    }, // KPROBE 0
    SecDef {
        sec: "uprobe+",
        prog_type: 2,
        attach: 0,
        flags: 0,
    }, // KPROBE 0
    SecDef {
        sec: "uprobe.s+",
        prog_type: 2,
        attach: 0,
        flags: F_SLEEPABLE,
    }, // KPROBE 0
    SecDef {
        sec: "kretprobe+",
        prog_type: 2,
        attach: 0,
        flags: 0,
    }, // KPROBE 0
    SecDef {
        sec: "uretprobe+",
        prog_type: 2,
        attach: 0,
        flags: 0,
    }, // KPROBE 0
    SecDef {
        sec: "uretprobe.s+",
        prog_type: 2,
        attach: 0,
        flags: F_SLEEPABLE,
    }, // KPROBE 0
    SecDef {
        sec: "kprobe.multi+",
        prog_type: 2,
        attach: 42,
        flags: 0,
    }, // KPROBE BPF_TRACE_KPROBE_MULTI
    SecDef {
        sec: "kretprobe.multi+",
        prog_type: 2,
        attach: 42,
        flags: 0,
    }, // KPROBE BPF_TRACE_KPROBE_MULTI
    SecDef {
        sec: "kprobe.session+",
        prog_type: 2,
        attach: 56,
        flags: 0,
    }, // KPROBE BPF_TRACE_KPROBE_SESSION
    SecDef {
        sec: "uprobe.multi+",
        prog_type: 2,
        attach: 48,
        flags: 0,
    }, // KPROBE BPF_TRACE_UPROBE_MULTI
    SecDef {
        sec: "uretprobe.multi+",
        prog_type: 2,
        attach: 48,
        flags: 0,
    }, // KPROBE BPF_TRACE_UPROBE_MULTI
    SecDef {
        sec: "uprobe.session+",
        prog_type: 2,
        attach: 57,
        flags: 0,
    }, // KPROBE BPF_TRACE_UPROBE_SESSION
    SecDef {
        sec: "uprobe.multi.s+",
        prog_type: 2,
        attach: 48,
        flags: F_SLEEPABLE,
    }, // KPROBE BPF_TRACE_UPROBE_MULTI
    SecDef {
        sec: "uretprobe.multi.s+",
        prog_type: 2,
        attach: 48,
        flags: F_SLEEPABLE,
    }, // KPROBE BPF_TRACE_UPROBE_MULTI
    SecDef {
        sec: "uprobe.session.s+",
        prog_type: 2,
        attach: 57,
        flags: F_SLEEPABLE,
    }, // KPROBE BPF_TRACE_UPROBE_SESSION
    SecDef {
        sec: "ksyscall+",
        prog_type: 2,
        attach: 0,
        flags: 0,
    }, // KPROBE 0
    SecDef {
        sec: "kretsyscall+",
        prog_type: 2,
        attach: 0,
        flags: 0,
    }, // KPROBE 0
    SecDef {
        sec: "usdt+",
        prog_type: 2,
        attach: 0,
        flags: F_USDT,
    }, // KPROBE 0
    SecDef {
        sec: "usdt.s+",
        prog_type: 2,
        attach: 0,
        flags: F_USDT | F_SLEEPABLE,
    }, // KPROBE 0
    SecDef {
        sec: "tc/ingress",
        prog_type: 3,
        attach: 46,
        flags: 0,
    }, // SCHED_CLS BPF_TCX_INGRESS
    SecDef {
        sec: "tc/egress",
        prog_type: 3,
        attach: 47,
        flags: 0,
    }, // SCHED_CLS BPF_TCX_EGRESS
    SecDef {
        sec: "tcx/ingress",
        prog_type: 3,
        attach: 46,
        flags: 0,
    }, // SCHED_CLS BPF_TCX_INGRESS
    SecDef {
        sec: "tcx/egress",
        prog_type: 3,
        attach: 47,
        flags: 0,
    }, // SCHED_CLS BPF_TCX_EGRESS
    SecDef {
        sec: "tc",
        prog_type: 3,
        attach: 0,
        flags: 0,
    }, // SCHED_CLS 0
    SecDef {
        sec: "classifier",
        prog_type: 3,
        attach: 0,
        flags: 0,
    }, // SCHED_CLS 0
    SecDef {
        sec: "action",
        prog_type: 4,
        attach: 0,
        flags: 0,
    }, // SCHED_ACT 0
    SecDef {
        sec: "netkit/primary",
        prog_type: 3,
        attach: 54,
        flags: 0,
    }, // SCHED_CLS BPF_NETKIT_PRIMARY
    SecDef {
        sec: "netkit/peer",
        prog_type: 3,
        attach: 55,
        flags: 0,
    }, // SCHED_CLS BPF_NETKIT_PEER
    SecDef {
        sec: "tracepoint+",
        prog_type: 5,
        attach: 0,
        flags: 0,
    }, // TRACEPOINT 0
    SecDef {
        sec: "tp+",
        prog_type: 5,
        attach: 0,
        flags: 0,
    }, // TRACEPOINT 0
    SecDef {
        sec: "tracepoint.s+",
        prog_type: 5,
        attach: 0,
        flags: F_SLEEPABLE,
    }, // TRACEPOINT 0
    SecDef {
        sec: "tp.s+",
        prog_type: 5,
        attach: 0,
        flags: F_SLEEPABLE,
    }, // TRACEPOINT 0
    SecDef {
        sec: "raw_tracepoint+",
        prog_type: 17,
        attach: 0,
        flags: 0,
    }, // RAW_TRACEPOINT 0
    SecDef {
        sec: "raw_tp+",
        prog_type: 17,
        attach: 0,
        flags: 0,
    }, // RAW_TRACEPOINT 0
    SecDef {
        sec: "raw_tracepoint.s+",
        prog_type: 17,
        attach: 0,
        flags: F_SLEEPABLE,
    }, // RAW_TRACEPOINT 0
    SecDef {
        sec: "raw_tp.s+",
        prog_type: 17,
        attach: 0,
        flags: F_SLEEPABLE,
    }, // RAW_TRACEPOINT 0
    SecDef {
        sec: "raw_tracepoint.w+",
        prog_type: 24,
        attach: 0,
        flags: 0,
    }, // RAW_TRACEPOINT_WRITABLE 0
    SecDef {
        sec: "raw_tp.w+",
        prog_type: 24,
        attach: 0,
        flags: 0,
    }, // RAW_TRACEPOINT_WRITABLE 0
    SecDef {
        sec: "tp_btf+",
        prog_type: 26,
        attach: 23,
        flags: F_ATTACH_BTF,
    }, // TRACING BPF_TRACE_RAW_TP
    SecDef {
        sec: "tp_btf.s+",
        prog_type: 26,
        attach: 23,
        flags: F_ATTACH_BTF | F_SLEEPABLE,
    }, // TRACING BPF_TRACE_RAW_TP
    SecDef {
        sec: "fentry+",
        prog_type: 26,
        attach: 24,
        flags: F_ATTACH_BTF,
    }, // TRACING BPF_TRACE_FENTRY
    SecDef {
        sec: "fmod_ret+",
        prog_type: 26,
        attach: 26,
        flags: F_ATTACH_BTF,
    }, // TRACING BPF_MODIFY_RETURN
    SecDef {
        sec: "fexit+",
        prog_type: 26,
        attach: 25,
        flags: F_ATTACH_BTF,
    }, // TRACING BPF_TRACE_FEXIT
    SecDef {
        sec: "fentry.s+",
        prog_type: 26,
        attach: 24,
        flags: F_ATTACH_BTF | F_SLEEPABLE,
    }, // TRACING BPF_TRACE_FENTRY
    SecDef {
        sec: "fmod_ret.s+",
        prog_type: 26,
        attach: 26,
        flags: F_ATTACH_BTF | F_SLEEPABLE,
    }, // TRACING BPF_MODIFY_RETURN
    SecDef {
        sec: "fexit.s+",
        prog_type: 26,
        attach: 25,
        flags: F_ATTACH_BTF | F_SLEEPABLE,
    }, // TRACING BPF_TRACE_FEXIT
    SecDef {
        sec: "fsession+",
        prog_type: 26,
        attach: 58,
        flags: F_ATTACH_BTF,
    }, // TRACING BPF_TRACE_FSESSION
    SecDef {
        sec: "fsession.s+",
        prog_type: 26,
        attach: 58,
        flags: F_ATTACH_BTF | F_SLEEPABLE,
    }, // TRACING BPF_TRACE_FSESSION
    SecDef {
        sec: "fsession.multi+",
        prog_type: 26,
        attach: 61,
        flags: 0,
    }, // TRACING BPF_TRACE_FSESSION_MULTI
    SecDef {
        sec: "fsession.multi.s+",
        prog_type: 26,
        attach: 61,
        flags: F_SLEEPABLE,
    }, // TRACING BPF_TRACE_FSESSION_MULTI
    SecDef {
        sec: "fentry.multi+",
        prog_type: 26,
        attach: 59,
        flags: 0,
    }, // TRACING BPF_TRACE_FENTRY_MULTI
    SecDef {
        sec: "fexit.multi+",
        prog_type: 26,
        attach: 60,
        flags: 0,
    }, // TRACING BPF_TRACE_FEXIT_MULTI
    SecDef {
        sec: "fentry.multi.s+",
        prog_type: 26,
        attach: 59,
        flags: F_SLEEPABLE,
    }, // TRACING BPF_TRACE_FENTRY_MULTI
    SecDef {
        sec: "fexit.multi.s+",
        prog_type: 26,
        attach: 60,
        flags: F_SLEEPABLE,
    }, // TRACING BPF_TRACE_FEXIT_MULTI
    SecDef {
        sec: "freplace+",
        prog_type: 28,
        attach: 0,
        flags: F_ATTACH_BTF,
    }, // EXT 0
    SecDef {
        sec: "lsm+",
        prog_type: 29,
        attach: 27,
        flags: F_ATTACH_BTF,
    }, // LSM BPF_LSM_MAC
    SecDef {
        sec: "lsm.s+",
        prog_type: 29,
        attach: 27,
        flags: F_ATTACH_BTF | F_SLEEPABLE,
    }, // LSM BPF_LSM_MAC
    SecDef {
        sec: "lsm_cgroup+",
        prog_type: 29,
        attach: 43,
        flags: F_ATTACH_BTF,
    }, // LSM BPF_LSM_CGROUP
    SecDef {
        sec: "iter+",
        prog_type: 26,
        attach: 28,
        flags: F_ATTACH_BTF,
    }, // TRACING BPF_TRACE_ITER
    SecDef {
        sec: "iter.s+",
        prog_type: 26,
        attach: 28,
        flags: F_ATTACH_BTF | F_SLEEPABLE,
    }, // TRACING BPF_TRACE_ITER
    SecDef {
        sec: "syscall",
        prog_type: 31,
        attach: 0,
        flags: F_SLEEPABLE,
    }, // SYSCALL 0
    SecDef {
        sec: "xdp.frags/devmap",
        prog_type: 6,
        attach: 33,
        flags: F_XDP_FRAGS,
    }, // XDP BPF_XDP_DEVMAP
    SecDef {
        sec: "xdp/devmap",
        prog_type: 6,
        attach: 33,
        flags: F_ATTACHABLE,
    }, // XDP BPF_XDP_DEVMAP
    SecDef {
        sec: "xdp.frags/cpumap",
        prog_type: 6,
        attach: 35,
        flags: F_XDP_FRAGS,
    }, // XDP BPF_XDP_CPUMAP
    SecDef {
        sec: "xdp/cpumap",
        prog_type: 6,
        attach: 35,
        flags: F_ATTACHABLE,
    }, // XDP BPF_XDP_CPUMAP
    SecDef {
        sec: "xdp.frags",
        prog_type: 6,
        attach: 37,
        flags: F_XDP_FRAGS,
    }, // XDP BPF_XDP
    SecDef {
        sec: "xdp",
        prog_type: 6,
        attach: 37,
        flags: F_ATTACHABLE_OPT,
    }, // XDP BPF_XDP
    SecDef {
        sec: "perf_event",
        prog_type: 7,
        attach: 0,
        flags: 0,
    }, // PERF_EVENT 0
    SecDef {
        sec: "lwt_in",
        prog_type: 10,
        attach: 0,
        flags: 0,
    }, // LWT_IN 0
    SecDef {
        sec: "lwt_out",
        prog_type: 11,
        attach: 0,
        flags: 0,
    }, // LWT_OUT 0
    SecDef {
        sec: "lwt_xmit",
        prog_type: 12,
        attach: 0,
        flags: 0,
    }, // LWT_XMIT 0
    SecDef {
        sec: "lwt_seg6local",
        prog_type: 19,
        attach: 0,
        flags: 0,
    }, // LWT_SEG6LOCAL 0
    SecDef {
        sec: "sockops",
        prog_type: 13,
        attach: 3,
        flags: F_ATTACHABLE_OPT,
    }, // SOCK_OPS BPF_CGROUP_SOCK_OPS
    SecDef {
        sec: "sk_skb/stream_parser",
        prog_type: 14,
        attach: 4,
        flags: F_ATTACHABLE_OPT,
    }, // SK_SKB BPF_SK_SKB_STREAM_PARSER
    SecDef {
        sec: "sk_skb/stream_verdict",
        prog_type: 14,
        attach: 5,
        flags: F_ATTACHABLE_OPT,
    }, // SK_SKB BPF_SK_SKB_STREAM_VERDICT
    SecDef {
        sec: "sk_skb/verdict",
        prog_type: 14,
        attach: 38,
        flags: F_ATTACHABLE_OPT,
    }, // SK_SKB BPF_SK_SKB_VERDICT
    SecDef {
        sec: "sk_skb",
        prog_type: 14,
        attach: 0,
        flags: 0,
    }, // SK_SKB 0
    SecDef {
        sec: "sk_msg",
        prog_type: 16,
        attach: 7,
        flags: F_ATTACHABLE_OPT,
    }, // SK_MSG BPF_SK_MSG_VERDICT
    SecDef {
        sec: "lirc_mode2",
        prog_type: 20,
        attach: 16,
        flags: F_ATTACHABLE_OPT,
    }, // LIRC_MODE2 BPF_LIRC_MODE2
    SecDef {
        sec: "flow_dissector",
        prog_type: 22,
        attach: 17,
        flags: F_ATTACHABLE_OPT,
    }, // FLOW_DISSECTOR BPF_FLOW_DISSECTOR
    SecDef {
        sec: "cgroup_skb/ingress",
        prog_type: 8,
        attach: 0,
        flags: F_ATTACHABLE_OPT,
    }, // CGROUP_SKB BPF_CGROUP_INET_INGRESS
    SecDef {
        sec: "cgroup_skb/egress",
        prog_type: 8,
        attach: 1,
        flags: F_ATTACHABLE_OPT,
    }, // CGROUP_SKB BPF_CGROUP_INET_EGRESS
    SecDef {
        sec: "cgroup/skb",
        prog_type: 8,
        attach: 0,
        flags: 0,
    }, // CGROUP_SKB 0
    SecDef {
        sec: "cgroup/sock_create",
        prog_type: 9,
        attach: 2,
        flags: F_ATTACHABLE,
    }, // CGROUP_SOCK BPF_CGROUP_INET_SOCK_CREATE
    SecDef {
        sec: "cgroup/sock_release",
        prog_type: 9,
        attach: 34,
        flags: F_ATTACHABLE,
    }, // CGROUP_SOCK BPF_CGROUP_INET_SOCK_RELEASE
    SecDef {
        sec: "cgroup/sock",
        prog_type: 9,
        attach: 2,
        flags: F_ATTACHABLE_OPT,
    }, // CGROUP_SOCK BPF_CGROUP_INET_SOCK_CREATE
    SecDef {
        sec: "cgroup/post_bind4",
        prog_type: 9,
        attach: 12,
        flags: F_ATTACHABLE,
    }, // CGROUP_SOCK BPF_CGROUP_INET4_POST_BIND
    SecDef {
        sec: "cgroup/post_bind6",
        prog_type: 9,
        attach: 13,
        flags: F_ATTACHABLE,
    }, // CGROUP_SOCK BPF_CGROUP_INET6_POST_BIND
    SecDef {
        sec: "cgroup/bind4",
        prog_type: 18,
        attach: 8,
        flags: F_ATTACHABLE,
    }, // CGROUP_SOCK_ADDR BPF_CGROUP_INET4_BIND
    SecDef {
        sec: "cgroup/bind6",
        prog_type: 18,
        attach: 9,
        flags: F_ATTACHABLE,
    }, // CGROUP_SOCK_ADDR BPF_CGROUP_INET6_BIND
    SecDef {
        sec: "cgroup/connect4",
        prog_type: 18,
        attach: 10,
        flags: F_ATTACHABLE,
    }, // CGROUP_SOCK_ADDR BPF_CGROUP_INET4_CONNECT
    SecDef {
        sec: "cgroup/connect6",
        prog_type: 18,
        attach: 11,
        flags: F_ATTACHABLE,
    }, // CGROUP_SOCK_ADDR BPF_CGROUP_INET6_CONNECT
    SecDef {
        sec: "cgroup/connect_unix",
        prog_type: 18,
        attach: 49,
        flags: F_ATTACHABLE,
    }, // CGROUP_SOCK_ADDR BPF_CGROUP_UNIX_CONNECT
    SecDef {
        sec: "cgroup/sendmsg4",
        prog_type: 18,
        attach: 14,
        flags: F_ATTACHABLE,
    }, // CGROUP_SOCK_ADDR BPF_CGROUP_UDP4_SENDMSG
    SecDef {
        sec: "cgroup/sendmsg6",
        prog_type: 18,
        attach: 15,
        flags: F_ATTACHABLE,
    }, // CGROUP_SOCK_ADDR BPF_CGROUP_UDP6_SENDMSG
    SecDef {
        sec: "cgroup/sendmsg_unix",
        prog_type: 18,
        attach: 50,
        flags: F_ATTACHABLE,
    }, // CGROUP_SOCK_ADDR BPF_CGROUP_UNIX_SENDMSG
    SecDef {
        sec: "cgroup/recvmsg4",
        prog_type: 18,
        attach: 19,
        flags: F_ATTACHABLE,
    }, // CGROUP_SOCK_ADDR BPF_CGROUP_UDP4_RECVMSG
    SecDef {
        sec: "cgroup/recvmsg6",
        prog_type: 18,
        attach: 20,
        flags: F_ATTACHABLE,
    }, // CGROUP_SOCK_ADDR BPF_CGROUP_UDP6_RECVMSG
    SecDef {
        sec: "cgroup/recvmsg_unix",
        prog_type: 18,
        attach: 51,
        flags: F_ATTACHABLE,
    }, // CGROUP_SOCK_ADDR BPF_CGROUP_UNIX_RECVMSG
    SecDef {
        sec: "cgroup/getpeername4",
        prog_type: 18,
        attach: 29,
        flags: F_ATTACHABLE,
    }, // CGROUP_SOCK_ADDR BPF_CGROUP_INET4_GETPEERNAME
    SecDef {
        sec: "cgroup/getpeername6",
        prog_type: 18,
        attach: 30,
        flags: F_ATTACHABLE,
    }, // CGROUP_SOCK_ADDR BPF_CGROUP_INET6_GETPEERNAME
    SecDef {
        sec: "cgroup/getpeername_unix",
        prog_type: 18,
        attach: 52,
        flags: F_ATTACHABLE,
    }, // CGROUP_SOCK_ADDR BPF_CGROUP_UNIX_GETPEERNAME
    SecDef {
        sec: "cgroup/getsockname4",
        prog_type: 18,
        attach: 31,
        flags: F_ATTACHABLE,
    }, // CGROUP_SOCK_ADDR BPF_CGROUP_INET4_GETSOCKNAME
    SecDef {
        sec: "cgroup/getsockname6",
        prog_type: 18,
        attach: 32,
        flags: F_ATTACHABLE,
    }, // CGROUP_SOCK_ADDR BPF_CGROUP_INET6_GETSOCKNAME
    SecDef {
        sec: "cgroup/getsockname_unix",
        prog_type: 18,
        attach: 53,
        flags: F_ATTACHABLE,
    }, // CGROUP_SOCK_ADDR BPF_CGROUP_UNIX_GETSOCKNAME
    SecDef {
        sec: "cgroup/sysctl",
        prog_type: 23,
        attach: 18,
        flags: F_ATTACHABLE,
    }, // CGROUP_SYSCTL BPF_CGROUP_SYSCTL
    SecDef {
        sec: "cgroup/getsockopt",
        prog_type: 25,
        attach: 21,
        flags: F_ATTACHABLE,
    }, // CGROUP_SOCKOPT BPF_CGROUP_GETSOCKOPT
    SecDef {
        sec: "cgroup/setsockopt",
        prog_type: 25,
        attach: 22,
        flags: F_ATTACHABLE,
    }, // CGROUP_SOCKOPT BPF_CGROUP_SETSOCKOPT
    SecDef {
        sec: "cgroup/dev",
        prog_type: 15,
        attach: 6,
        flags: F_ATTACHABLE_OPT,
    }, // CGROUP_DEVICE BPF_CGROUP_DEVICE
    SecDef {
        sec: "struct_ops+",
        prog_type: 27,
        attach: 0,
        flags: 0,
    }, // STRUCT_OPS 0
    SecDef {
        sec: "struct_ops.s+",
        prog_type: 27,
        attach: 0,
        flags: F_SLEEPABLE,
    }, // STRUCT_OPS 0
    SecDef {
        sec: "sk_lookup",
        prog_type: 30,
        attach: 36,
        flags: F_ATTACHABLE,
    }, // SK_LOOKUP BPF_SK_LOOKUP
    SecDef {
        sec: "netfilter",
        prog_type: 32,
        attach: 45,
        flags: 0,
    }, // NETFILTER BPF_NETFILTER
];

fn matches(def: &SecDef, name: &str) -> bool {
    let pat = def.sec;
    if let Some(p) = pat.strip_suffix('+') {
        match name.strip_prefix(p) {
            Some(rest) => rest.is_empty() || rest.starts_with('/'),
            None => false,
        }
    } else if pat.ends_with('/') {
        name.starts_with(pat)
    } else {
        name == pat
    }
}

/// libbpf's `find_sec_def()` (no custom handlers).
pub(crate) fn find_sec_def(name: &str) -> Option<&'static SecDef> {
    SECTION_DEFS.iter().find(|d| matches(d, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfsign_abi::{attach_type, prog_type};

    #[test]
    fn matching_follows_libbpf_rules() {
        assert_eq!(find_sec_def("fentry/__do_sys_getpid").unwrap().attach, 24);
        assert_eq!(
            find_sec_def("fentry").unwrap().prog_type,
            prog_type::TRACING
        );
        assert!(find_sec_def("fentryx").is_none());
        assert_eq!(
            find_sec_def("fentry.s/foo").unwrap().flags,
            F_ATTACH_BTF | F_SLEEPABLE
        );
        assert_eq!(find_sec_def("xdp").unwrap().attach, 37);
        assert_eq!(find_sec_def("xdp.frags").unwrap().flags, F_XDP_FRAGS);
        assert_eq!(find_sec_def("tc/ingress").unwrap().attach, 46);
        assert_eq!(find_sec_def("tc").unwrap().prog_type, 3);
        assert!(find_sec_def("tc/other").is_none());
        assert_eq!(
            find_sec_def("lsm/file_open").unwrap().attach,
            attach_type::LSM_MAC
        );
        assert_eq!(
            find_sec_def("kprobe/do_nanosleep").unwrap().prog_type,
            prog_type::KPROBE
        );
        assert_eq!(
            find_sec_def("tracepoint/syscalls/sys_enter_openat")
                .unwrap()
                .prog_type,
            5
        );
        assert_eq!(find_sec_def("cgroup/skb").unwrap().prog_type, 8);
        assert!(find_sec_def("mystery").is_none());
    }
}
