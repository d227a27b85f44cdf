// SPDX-License-Identifier: GPL-2.0
/* Functional test of iterator links (tests/attach_link.rs): a task iterator printing
 * "<tgid> <pid> <comm>" per task, read through Link::open_iter. The kernel types are declared
 * here (CO-RE), without vmlinux.h. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct seq_file;
struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num;
} __attribute__((preserve_access_index));
struct task_struct {
	int pid;
	int tgid;
} __attribute__((preserve_access_index));
struct bpf_iter__task {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
} __attribute__((preserve_access_index));

__u64 iter_calls;

static const char line_fmt[] = "task %d %d\n";

SEC("iter/task")
int dump_task(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	__u64 args[2];

	__sync_fetch_and_add(&iter_calls, 1);
	if (!task)
		return 0;
	args[0] = task->tgid;
	args[1] = task->pid;
	bpf_seq_printf(seq, line_fmt, sizeof(line_fmt), args, sizeof(args));
	return 0;
}

char _license[] SEC("license") = "GPL";
