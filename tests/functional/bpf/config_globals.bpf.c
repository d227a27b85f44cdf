// SPDX-License-Identifier: GPL-2.0
/* Build-time configuration: every knob below is set by the include_signed_skel! call in
 * src/config.rs (rodata/data values, max_entries, kconfig, kernel version) and signed with the
 * loader. When this process enters a syscall the program copies what it sees into .bss (a raw
 * tracepoint: the host kernel refuses fentry programs). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

/* .rodata knobs (defaults the build overrides) */
const volatile __u32 target_pid = 1;
const volatile __u64 threshold = 2;
const volatile __s32 offset = 3;
const volatile char tag[8] = "default";

/* .data knob */
__u32 data_knob = 5;

/* .kconfig */
extern unsigned int CONFIG_HZ __kconfig __weak;
extern unsigned int LINUX_KERNEL_VERSION __kconfig;

/* max_entries configured at build time (16 here) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} cfg_map SEC(".maps");

/* set at run time through bss_vars(): only this process triggers the copy */
__u32 filter_pid;

/* what the program saw */
__u32 seen_target_pid;
__u32 seen_knob;
__u64 seen_threshold;
__s32 seen_offset;
__u32 seen_hz;
__u32 seen_version;
char seen_tag[8];
__u64 hits;

SEC("raw_tp/sys_enter")
int BPF_PROG(on_sys_enter, void *regs, long id)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u32 key = 0;
	__u64 value;
	int i;

	if (pid != filter_pid)
		return 0;
	seen_target_pid = target_pid;
	seen_threshold = threshold;
	seen_offset = offset;
	seen_knob = data_knob;
	seen_hz = CONFIG_HZ;
	seen_version = LINUX_KERNEL_VERSION;
	for (i = 0; i < 8; i++)
		seen_tag[i] = tag[i];
	value = threshold;
	bpf_map_update_elem(&cfg_map, &key, &value, BPF_ANY);
	__sync_fetch_and_add(&hits, 1);
	return 0;
}

char _license[] SEC("license") = "GPL";
