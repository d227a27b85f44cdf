//! Skeletons for the link attach kinds (`tests/attach_link.rs`): `link_net.bpf.c` (XDP, TCX,
//! cgroup, socket filter, sk_lookup, flow_dissector counters) and `link_iter.bpf.c` (a task
//! iterator) and `link_sockmap.bpf.c` (sk_msg and sk_skb verdicts on a sockmap).

#[allow(deprecated)]
mod net {
    bpfsign_macros::include_signed_skel!(
        "link_net.bpf.o",
        key = env!("BPF_KEY"),
        allow_unsigned = true
    );
}

#[allow(deprecated)]
mod iter {
    bpfsign_macros::include_signed_skel!(
        "link_iter.bpf.o",
        key = env!("BPF_KEY"),
        allow_unsigned = true
    );
}

#[allow(deprecated)]
mod sockmap {
    bpfsign_macros::include_signed_skel!(
        "link_sockmap.bpf.o",
        key = env!("BPF_KEY"),
        allow_unsigned = true
    );
}

pub use iter::*;
pub use net::*;
pub use sockmap::*;
