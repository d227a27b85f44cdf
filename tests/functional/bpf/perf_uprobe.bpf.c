// SPDX-License-Identifier: GPL-2.0
/* Functional test "perf_uprobe": uprobes on functions of the test executable itself
 * (/proc/self/exe of the process that attaches): a uprobe and a uretprobe on
 * bpfsign_perf_uprobe_target, uprobe.multi and uretprobe.multi on bpfsign_perf_umulti_*. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

__u64 uprobe_hits;
__u64 uretprobe_hits;
__u64 umulti_hits;
__u64 umulti_ret_hits;

SEC("uprobe//proc/self/exe:bpfsign_perf_uprobe_target")
int on_uprobe(void *ctx)
{
	__sync_fetch_and_add(&uprobe_hits, 1);
	return 0;
}

SEC("uretprobe//proc/self/exe:bpfsign_perf_uprobe_target")
int on_uretprobe(void *ctx)
{
	__sync_fetch_and_add(&uretprobe_hits, 1);
	return 0;
}

SEC("uprobe.multi//proc/self/exe:bpfsign_perf_umulti_*")
int on_umulti(void *ctx)
{
	__sync_fetch_and_add(&umulti_hits, 1);
	return 0;
}

SEC("uretprobe.multi//proc/self/exe:bpfsign_perf_umulti_*")
int on_umulti_ret(void *ctx)
{
	__sync_fetch_and_add(&umulti_ret_hits, 1);
	return 0;
}

char _license[] SEC("license") = "GPL";
