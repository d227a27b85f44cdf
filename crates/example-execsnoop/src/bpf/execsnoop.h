/* SPDX-License-Identifier: GPL-2.0 */
/* The few kernel types execsnoop reads, declared locally instead of a full vmlinux.h:
 * `preserve_access_index` makes every field access a CO-RE relocation, resolved against the
 * running kernel's BTF at load time, so only the names must match the kernel's, not the
 * layout. */
#ifndef EXECSNOOP_H
#define EXECSNOOP_H

#include <linux/types.h>

#define TASK_COMM_LEN 16
#define FILENAME_LEN 256

struct task_struct {
	struct task_struct *real_parent;
	int tgid;
} __attribute__((preserve_access_index));

struct trace_entry {
	unsigned short type;
	unsigned char flags;
	unsigned char preempt_count;
	int pid;
} __attribute__((preserve_access_index));

/* Context of tracepoint sched/sched_process_exec. */
struct trace_event_raw_sched_process_exec {
	struct trace_entry ent;
	__u32 __data_loc_filename;
	int pid;
	int old_pid;
	char __data[0];
} __attribute__((preserve_access_index));

/* One ring buffer record per successful exec (mirrored by `ExecEvent` in main.rs). */
struct exec_event {
	__u32 pid;
	__u32 ppid;
	__u32 uid;
	__u32 filename_len;
	char comm[TASK_COMM_LEN];
	char filename[FILENAME_LEN];
};

/* Key of the per-caller execve() counter. */
struct comm_key {
	char comm[TASK_COMM_LEN];
};

#endif
