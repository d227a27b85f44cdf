/* SPDX-License-Identifier: GPL-2.0 */
/* Shared definitions of the userlike BPF objects and their Rust tests (the Rust side reads
 * these layouts through the skeletons' generated types, or decodes ring buffer records by
 * hand, in tests/functional.rs). */
#ifndef USERLIKE_H
#define USERLIKE_H

/* getpgid(pid) argument that tp_ringbuf reports; any other argument is filtered out. */
#define USERLIKE_GETPGID_MAGIC 0x5eed1e

/* tc action codes (linux/pkt_cls.h; #defines, so not in vmlinux.h). */
#ifndef TC_ACT_OK
#define TC_ACT_OK 0
#endif

#define TASK_COMM_LEN 16
#define NAME_LEN 64

/* tp_ringbuf: one record per reported getpgid() call. */
struct getpgid_event {
	__u32 tgid;
	__u32 pid;
	__s64 arg;
	char comm[TASK_COMM_LEN];
};

/* kprobe_core: per-process unlink statistics. */
struct unlink_stat {
	__u64 calls;
	__u64 returns;
	__u32 ppid;
	__u32 name_len;
	char last_name[NAME_LEN];
};

/* net_counters: one slot per hook (0 = xdp, 1 = tc ingress, 2 = tcx egress) in a per-CPU
 * array. */
struct pkt_count {
	__u64 packets;
	__u64 bytes;
};

/* mapinmap: per-process record in an LRU hash. */
struct call_stat {
	__u64 calls;
	__u64 loop_sum;
	__u64 tail_calls;
};

#endif
