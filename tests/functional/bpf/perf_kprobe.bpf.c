// SPDX-License-Identifier: GPL-2.0
/* Functional test "perf_kprobe": a kprobe, a kretprobe, a ksyscall and a kretsyscall, all on
 * getppid(2) (x86_64 entry __x64_sys_getppid), each counting its hits in .bss. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

__u64 kprobe_hits;
__u64 kretprobe_hits;
__u64 ksyscall_hits;
__u64 kretsyscall_hits;

SEC("kprobe/__x64_sys_getppid")
int on_kprobe(void *ctx)
{
	__sync_fetch_and_add(&kprobe_hits, 1);
	return 0;
}

SEC("kretprobe/__x64_sys_getppid")
int on_kretprobe(void *ctx)
{
	__sync_fetch_and_add(&kretprobe_hits, 1);
	return 0;
}

SEC("ksyscall/getppid")
int on_ksyscall(void *ctx)
{
	__sync_fetch_and_add(&ksyscall_hits, 1);
	return 0;
}

SEC("kretsyscall/getppid")
int on_kretsyscall(void *ctx)
{
	__sync_fetch_and_add(&kretsyscall_hits, 1);
	return 0;
}

char _license[] SEC("license") = "GPL";
