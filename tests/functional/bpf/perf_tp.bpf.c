// SPDX-License-Identifier: GPL-2.0
/* Functional test "perf_tp": a tracepoint program on syscalls:sys_enter_getppid, and a
 * perf_event program (target-less section: attached explicitly to a software perf event)
 * counting the samples it sees. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

__u64 tp_hits;
__u64 sample_hits;

SEC("tp/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	__sync_fetch_and_add(&tp_hits, 1);
	return 0;
}

SEC("perf_event")
int on_sample(void *ctx)
{
	__sync_fetch_and_add(&sample_hits, 1);
	return 0;
}

char _license[] SEC("license") = "GPL";
