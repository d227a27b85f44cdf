// SPDX-License-Identifier: GPL-2.0
/* xdp + tc + per-CPU array + global function: counts packets and bytes seen by an XDP program,
 * a tc program (classic `tc` section, attached as tcx ingress) and a `tcx/egress` program in a
 * per-CPU array, through one global (separately verified) function. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "userlike.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, struct pkt_count);
} pkt_counts SEC(".maps");

/* Global function: verified once on its own, called from both programs. */
__noinline int count_packet(__u32 slot, __u32 len)
{
	struct pkt_count *c = bpf_map_lookup_elem(&pkt_counts, &slot);

	if (!c)
		return 0;
	c->packets += 1;
	c->bytes += len;
	return 1;
}

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	count_packet(0, ctx->data_end - ctx->data);
	return XDP_PASS;
}

SEC("tc")
int tc_count(struct __sk_buff *skb)
{
	count_packet(1, skb->len);
	return TC_ACT_OK;
}

SEC("tcx/egress")
int tcx_egress_count(struct __sk_buff *skb)
{
	count_packet(2, skb->len);
	return TCX_NEXT;
}

char LICENSE[] SEC("license") = "GPL";
