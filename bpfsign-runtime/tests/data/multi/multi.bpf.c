// Test object for bpfsign-runtime kernel tests: a named raw tracepoint, a program that is not
// autoloaded (SEC("?...")), and an iterator; globals written from user space through .bss.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_iter_meta;
struct bpf_map;
struct bpf_iter__bpf_map {
	struct bpf_iter_meta *meta;
	struct bpf_map *map;
} __attribute__((preserve_access_index));

int prog_A;
int target_tid;
int iter_runs;

SEC("raw_tp/sys_enter")
int on_enter(void *ctx)
{
	if ((__u32)bpf_get_current_pid_tgid() != (__u32)target_tid)
		return 0;
	bpf_printk("I loaded prog '%c'\n", prog_A ? 'A' : 'B');
	return 0;
}

SEC("?raw_tp/sys_exit")
int never(void *ctx)
{
	return 0;
}

SEC("iter/bpf_map")
int dump(struct bpf_iter__bpf_map *ctx)
{
	__sync_fetch_and_add(&iter_runs, 1);
	return 0;
}

char _license[] SEC("license") = "GPL";
