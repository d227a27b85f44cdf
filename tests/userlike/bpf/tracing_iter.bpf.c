// SPDX-License-Identifier: GPL-2.0
/* fentry/fexit + task iterator + kfuncs + typed ksym: watches getppid() of one process (set in
 * .bss after load), resolves the caller with the bpf_task_from_pid kfunc, checks the CPU's
 * runqueue through the typed ksym `runqueues`, and dumps all tasks as text lines. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "userlike.h"

extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern const struct rq runqueues __ksym;

/* Written by user space after load, before attach. */
__u32 target_tgid;

__u64 entries;
__u64 exits;
__s64 last_ret;
__u32 kfunc_tgid;
__u64 rq_cpu_matches;

SEC("fentry/__do_sys_getppid")
int BPF_PROG(enter_getppid)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct task_struct *task;
	struct rq *rq;

	if (!target_tgid || tgid != target_tgid)
		return 0;
	__sync_fetch_and_add(&entries, 1);
	task = bpf_task_from_pid(tgid);
	if (task) {
		kfunc_tgid = task->tgid;
		bpf_task_release(task);
	}
	rq = bpf_this_cpu_ptr(&runqueues);
	if (rq->cpu == bpf_get_smp_processor_id())
		__sync_fetch_and_add(&rq_cpu_matches, 1);
	return 0;
}

SEC("fexit/__do_sys_getppid")
int BPF_PROG(exit_getppid, const struct pt_regs *unused, long ret)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (!target_tgid || tgid != target_tgid)
		return 0;
	__sync_fetch_and_add(&exits, 1);
	last_ret = ret;
	return 0;
}

/* One line per task: "tgid pid comm". */
SEC("iter/task")
int dump_task(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;

	if (!task)
		return 0;
	BPF_SEQ_PRINTF(seq, "%d %d %s\n", task->tgid, task->pid, task->comm);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
