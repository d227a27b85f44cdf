// SPDX-License-Identifier: GPL-2.0
/* kprobe + CO-RE + hash map + subprogram: counts vfs_unlink() per process, with the parent's
 * tgid and the last unlinked name, read through CO-RE relocated field accesses; a kretprobe
 * counts the successful returns. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "userlike.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct unlink_stat);
} unlink_stats SEC(".maps");

/* A real BPF-to-BPF call (not inlined): updates the process's entry. */
static __noinline int record_unlink(__u32 tgid, __u32 ppid, const unsigned char *name)
{
	struct unlink_stat zero = {}, *st;
	long len;

	st = bpf_map_lookup_elem(&unlink_stats, &tgid);
	if (!st) {
		bpf_map_update_elem(&unlink_stats, &tgid, &zero, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&unlink_stats, &tgid);
		if (!st)
			return 0;
	}
	__sync_fetch_and_add(&st->calls, 1);
	st->ppid = ppid;
	len = bpf_probe_read_kernel_str(st->last_name, sizeof(st->last_name), name);
	st->name_len = len > 0 ? len - 1 : 0;
	return 1;
}

/* vfs_unlink(idmap, dir, dentry, delegated_inode): the dentry is the third argument on every
 * kernel since 6.3. */
SEC("kprobe/vfs_unlink")
int BPF_KPROBE(count_unlink, void *idmap, struct inode *dir, struct dentry *dentry)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 ppid = BPF_CORE_READ(task, real_parent, tgid);
	const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);

	record_unlink(tgid, ppid, name);
	return 0;
}

SEC("kretprobe/vfs_unlink")
int BPF_KRETPROBE(unlink_done, int ret)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct unlink_stat *st = bpf_map_lookup_elem(&unlink_stats, &tgid);

	if (st && ret == 0)
		__sync_fetch_and_add(&st->returns, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
