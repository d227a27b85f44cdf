// SPDX-License-Identifier: GPL-2.0
/* map-in-map with static initialisation + prog_array tail call + LRU hash + custom
 * .data.* / .rodata.* sections + bpf_loop: on getsid() of one process (set in .data.filter
 * after load), sums 1..loop_rounds with bpf_loop into an LRU hash entry, bumps a slot of the
 * first inner map through the outer array-of-maps, then tail-calls jump_table[0]. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "userlike.h"

struct inner_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner_map);
} outer SEC(".maps") = {
	.values = { [0] = &inner_a, [1] = &inner_b },
};

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} jump_table SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 128);
	__type(key, __u32);
	__type(value, struct call_stat);
} per_tgid SEC(".maps");

/* Written by user space after load, before attach. */
__u32 target_tgid SEC(".data.filter") = 0;
/* Tail calls taken. */
__u64 tail_taken SEC(".data.stats") = 0;
/* Fixed at build time. */
const volatile __u32 loop_rounds SEC(".rodata.cfg") = 10;
const volatile __u32 inner_slot SEC(".rodata.cfg") = 2;

struct loop_ctx {
	__u64 sum;
};

static long add_round(__u32 i, void *data)
{
	struct loop_ctx *lc = data;

	lc->sum += i + 1;
	return 0;
}

static __always_inline struct call_stat *stat_of(__u32 tgid)
{
	struct call_stat zero = {}, *st;

	st = bpf_map_lookup_elem(&per_tgid, &tgid);
	if (st)
		return st;
	bpf_map_update_elem(&per_tgid, &tgid, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&per_tgid, &tgid);
}

SEC("tracepoint/syscalls/sys_enter_getsid")
int on_getsid(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct loop_ctx lc = {};
	struct call_stat *st;
	__u32 key = 0, slot;
	__u64 *val;
	void *inner;

	if (!target_tgid || tgid != target_tgid)
		return 0;
	bpf_loop(loop_rounds, add_round, &lc, 0);
	st = stat_of(tgid);
	if (st) {
		__sync_fetch_and_add(&st->calls, 1);
		st->loop_sum = lc.sum;
	}
	inner = bpf_map_lookup_elem(&outer, &key);
	if (inner) {
		slot = inner_slot;
		val = bpf_map_lookup_elem(inner, &slot);
		if (val)
			__sync_fetch_and_add(val, 1);
	}
	bpf_tail_call(ctx, &jump_table, 0);
	return 0;
}

/* Reached only through jump_table (no target in its section: attach() skips it). */
SEC("tracepoint")
int tail_target(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct call_stat *st;

	__sync_fetch_and_add(&tail_taken, 1);
	st = bpf_map_lookup_elem(&per_tgid, &tgid);
	if (st)
		__sync_fetch_and_add(&st->tail_calls, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
