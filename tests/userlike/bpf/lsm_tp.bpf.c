// SPDX-License-Identifier: GPL-2.0
/* lsm + lsm.s + raw_tp + tp_btf: counts, for one process (set in .bss after load), file opens
 * (LSM hook, allows everything), bpf() commands (sleepable LSM hook), getpgid() syscalls
 * (raw tracepoint) and new threads (BTF tracepoint). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "userlike.h"

/* Written by user space after load, before attach. */
__u32 target_tgid;

__u64 file_opens;
__u64 bpf_cmds;
__s32 last_bpf_cmd = -1;
__u64 getpgid_calls;
__u64 new_tasks;
__u32 last_new_pid;

static __always_inline bool watched(void)
{
	return target_tgid && (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

SEC("lsm/file_open")
int BPF_PROG(watch_file_open, struct file *file)
{
	if (watched())
		__sync_fetch_and_add(&file_opens, 1);
	return 0;
}

SEC("lsm.s/bpf")
int BPF_PROG(watch_bpf, int cmd, union bpf_attr *attr, unsigned int size)
{
	if (watched()) {
		__sync_fetch_and_add(&bpf_cmds, 1);
		last_bpf_cmd = cmd;
	}
	return 0;
}

SEC("raw_tp/sys_enter")
int BPF_PROG(watch_sys_enter, struct pt_regs *regs, long id)
{
	/* x86-64 getpgid */
	if (id == 121 && watched())
		__sync_fetch_and_add(&getpgid_calls, 1);
	return 0;
}

SEC("tp_btf/task_newtask")
int BPF_PROG(watch_newtask, struct task_struct *task, __u64 clone_flags)
{
	if (watched()) {
		__sync_fetch_and_add(&new_tasks, 1);
		last_new_pid = task->pid;
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
