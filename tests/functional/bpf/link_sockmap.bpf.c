// SPDX-License-Identifier: GPL-2.0
/* Functional test of sockmap links (tests/attach_link.rs): an sk_msg verdict program and an
 * sk_skb stream verdict program on a sockmap, counting the messages and segments of the
 * sockets the test puts in the map. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} sock_map SEC(".maps");

__u64 msg_count;
__u64 msg_bytes;
__u64 skb_count;

SEC("sk_msg")
int msg_verdict(struct sk_msg_md *msg)
{
	__sync_fetch_and_add(&msg_count, 1);
	__sync_fetch_and_add(&msg_bytes, msg->size);
	return SK_PASS;
}

SEC("sk_skb/stream_verdict")
int skb_verdict(struct __sk_buff *skb)
{
	__sync_fetch_and_add(&skb_count, 1);
	return SK_PASS;
}

char _license[] SEC("license") = "GPL";
