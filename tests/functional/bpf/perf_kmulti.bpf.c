// SPDX-License-Identifier: GPL-2.0
/* Functional test "perf_kmulti": kprobe.multi and kretprobe.multi links on the traceable
 * getppid(2) functions (a glob over available_filter_functions: __do_sys_getppid and the arch
 * entries ftrace lists), counting in .bss. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

__u64 multi_hits;
__u64 multi_ret_hits;

SEC("kprobe.multi/__*_sys_getppid")
int on_multi(void *ctx)
{
	__sync_fetch_and_add(&multi_hits, 1);
	return 0;
}

SEC("kretprobe.multi/__*_sys_getppid")
int on_multi_ret(void *ctx)
{
	__sync_fetch_and_add(&multi_ret_hits, 1);
	return 0;
}

char _license[] SEC("license") = "GPL";
