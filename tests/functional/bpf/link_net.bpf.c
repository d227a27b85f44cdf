// SPDX-License-Identifier: GPL-2.0
/* Functional tests of the link attach kinds (tests/attach_link.rs): every program counts the
 * UDP packets (or sockets, lookups) of the running test in a .bss counter, so the test sees
 * its own traffic only. User space sets target_port / target_tgid / drop_all after loading. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

__u32 target_port;	/* UDP destination port, host order */
__u32 target_tgid;	/* process whose sockets sock_create counts */
__u32 drop_all;		/* socket filter: drop every packet when set */

__u64 xdp_hits;
__u64 tcx_ingress_hits;
__u64 tcx_egress_hits;
__u64 cgroup_egress_hits;
__u64 sock_creates;
__u64 filter_seen;
__u64 lookup_hits;

/* Whether the Ethernet frame [data, end) is a UDP/IPv4 packet to target_port. */
static __always_inline int udp_to_target(void *data, void *end)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return 0;
	if (ip->protocol != IPPROTO_UDP || ip->ihl != 5)
		return 0;
	udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > end)
		return 0;
	return target_port != 0 && udp->dest == bpf_htons((__u16)target_port);
}

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	if (udp_to_target((void *)(long)ctx->data, (void *)(long)ctx->data_end))
		__sync_fetch_and_add(&xdp_hits, 1);
	return XDP_PASS;
}

SEC("tcx/ingress")
int tcx_in_count(struct __sk_buff *skb)
{
	if (udp_to_target((void *)(long)skb->data, (void *)(long)skb->data_end))
		__sync_fetch_and_add(&tcx_ingress_hits, 1);
	return TC_ACT_UNSPEC;
}

SEC("tcx/egress")
int tcx_out_count(struct __sk_buff *skb)
{
	if (udp_to_target((void *)(long)skb->data, (void *)(long)skb->data_end))
		__sync_fetch_and_add(&tcx_egress_hits, 1);
	return TC_ACT_UNSPEC;
}

/* cgroup_skb sees the packet from the IP header on. */
SEC("cgroup_skb/egress")
int cgroup_egress_count(struct __sk_buff *skb)
{
	struct iphdr ip;
	struct udphdr udp;

	if (skb->protocol != bpf_htons(ETH_P_IP))
		return 1;
	if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) || ip.protocol != IPPROTO_UDP ||
	    ip.ihl != 5)
		return 1;
	if (bpf_skb_load_bytes(skb, sizeof(ip), &udp, sizeof(udp)))
		return 1;
	if (target_port != 0 && udp.dest == bpf_htons((__u16)target_port))
		__sync_fetch_and_add(&cgroup_egress_hits, 1);
	return 1;
}

SEC("cgroup/sock_create")
int sock_create_count(struct bpf_sock *ctx)
{
	if (target_tgid != 0 && (bpf_get_current_pid_tgid() >> 32) == target_tgid)
		__sync_fetch_and_add(&sock_creates, 1);
	return 1;
}

SEC("socket")
int udp_filter(struct __sk_buff *skb)
{
	__sync_fetch_and_add(&filter_seen, 1);
	return drop_all ? 0 : skb->len;
}

SEC("sk_lookup")
int lookup_count(struct bpf_sk_lookup *ctx)
{
	if (ctx->protocol == IPPROTO_UDP && target_port != 0 && ctx->local_port == target_port)
		__sync_fetch_and_add(&lookup_hits, 1);
	return SK_PASS;
}

/* Leaves every packet to the kernel's own dissector; the test checks the link only. */
SEC("flow_dissector")
int dissect(struct __sk_buff *skb)
{
	return BPF_FLOW_DISSECTOR_CONTINUE;
}

char _license[] SEC("license") = "GPL";
