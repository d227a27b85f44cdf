// SPDX-License-Identifier: GPL-2.0
/* Tracepoint + ring buffer + .rodata filter: reports getpgid(pid) calls whose argument is the
 * build-time constant `watched_arg`, one ring buffer record per call; the exit tracepoint
 * (libbpf's short `tp/` prefix) records how those calls returned, matched by thread id. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "userlike.h"

/* Fixed at build time (the signature covers it). */
const volatile __s64 watched_arg = USERLIKE_GETPGID_MAGIC;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

/* Threads inside a reported getpgid() call. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} in_flight SEC(".maps");

/* Exits of reported calls, and the last one's return value. */
__u64 exits;
__s64 last_ret;

/* Records that did not fit into the ring buffer. */
__u64 dropped;
/* Calls that passed the filter. */
__u64 reported;

SEC("tracepoint/syscalls/sys_enter_getpgid")
int on_getpgid(struct trace_event_raw_sys_enter *ctx)
{
	struct getpgid_event *e;
	__u64 id;

	__u8 one = 1;
	__u32 tid;

	if ((__s64)ctx->args[0] != watched_arg)
		return 0;
	tid = (__u32)bpf_get_current_pid_tgid();
	bpf_map_update_elem(&in_flight, &tid, &one, BPF_ANY);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&dropped, 1);
		return 0;
	}
	id = bpf_get_current_pid_tgid();
	e->tgid = id >> 32;
	e->pid = (__u32)id;
	e->arg = ctx->args[0];
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	__sync_fetch_and_add(&reported, 1);
	return 0;
}

SEC("tp/syscalls/sys_exit_getpgid")
int on_getpgid_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	if (bpf_map_delete_elem(&in_flight, &tid))
		return 0;
	__sync_fetch_and_add(&exits, 1);
	last_ret = ctx->ret;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
