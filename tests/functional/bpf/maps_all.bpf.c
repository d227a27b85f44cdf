// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// Every map kind the runtime has a handle for, written or read by one raw_tp program that
// runs on the test thread's getppid(2).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* x86_64 syscall number of getppid. */
#define NR_GETPPID 110

struct event {
	__u32 tid;
	__u32 seq;
	char tag[8];
};

struct pair {
	__u64 seq;
	__u32 tid;
	__u32 magic;
};

struct lpm_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct pair);
} arr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} lru SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u32);
} lpm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} pc_arr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} pc_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(max_entries, 64);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} jmp SEC(".maps");

struct inner_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct inner_map);
} outer SEC(".maps") = {
	.values = { [0] = &inner_a },
};

/* Set by the test: only its thread triggers the program. */
__u32 target_tid;
__u32 seq;
__u32 lpm_result;
__u32 inner_val;
__u32 tail_hits;

SEC("raw_tp/sys_enter")
int on_enter(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u32 zero = 0, one = 1, five = 5;
	struct lpm_key k = { .prefixlen = 32, .addr = { 10, 1, 2, 3 } };
	struct event ev = {};
	struct pair p = {};
	__u64 v, *c;
	__u32 n, *r;
	void *inner;

	if (target_tid == 0 || tid != target_tid || ctx->args[1] != NR_GETPPID)
		return 0;
	n = seq;
	seq = n + 1;
	v = (__u64)n * 100 + 7;
	bpf_map_update_elem(&counts, &n, &v, BPF_ANY);
	p.seq = n;
	p.tid = tid;
	p.magic = 0xabc;
	bpf_map_update_elem(&arr, &one, &p, BPF_ANY);
	bpf_map_update_elem(&lru, &n, &v, BPF_ANY);

	r = bpf_map_lookup_elem(&lpm, &k);
	lpm_result = r ? *r : 0;

	c = bpf_map_lookup_elem(&pc_arr, &zero);
	if (c)
		*c += 1;
	c = bpf_map_lookup_elem(&pc_hash, &five);
	if (c) {
		*c += 1;
	} else {
		v = 1;
		bpf_map_update_elem(&pc_hash, &five, &v, BPF_NOEXIST);
	}

	ev.tid = tid;
	ev.seq = n;
	__builtin_memcpy(ev.tag, "ring", 5);
	bpf_ringbuf_output(&rb, &ev, sizeof(ev), 0);
	__builtin_memcpy(ev.tag, "perf", 5);
	bpf_perf_event_output(ctx, &perf, BPF_F_CURRENT_CPU, &ev, sizeof(ev));

	inner = bpf_map_lookup_elem(&outer, &zero);
	if (inner) {
		r = bpf_map_lookup_elem(inner, &zero);
		inner_val = r ? *r : 0;
	}

	bpf_tail_call(ctx, &jmp, 0);
	return 0;
}

/* Reached only through the prog array (no attach target). */
SEC("raw_tp")
int tail_target(struct bpf_raw_tracepoint_args *ctx)
{
	tail_hits += 1;
	return 0;
}
