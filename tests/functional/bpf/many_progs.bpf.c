// SPDX-License-Identifier: GPL-2.0
/* 50 programs in one object: past libbpf's 32 loader stack slots (bpftool's light skeleton for
 * this object is refused by the verifier). Every program is a raw tracepoint on sys_enter that
 * counts this process's getppid(2) calls in its own .bss slot; the test checks all 50 moved. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define NR_PROGS 50
#define NR_GETPPID 110 /* x86_64 */

/* set at run time through bss_vars() */
__u32 filter_tgid;
/* hits[i]: calls program i counted */
__u64 hits[NR_PROGS];

#define COUNTER(i)                                                         \
	SEC("raw_tp/sys_enter")                                            \
	int BPF_PROG(count_##i, void *regs, long id)                       \
	{                                                                  \
		if (id == NR_GETPPID &&                                    \
		    bpf_get_current_pid_tgid() >> 32 == filter_tgid)      \
			__sync_fetch_and_add(&hits[i], 1);                 \
		return 0;                                                  \
	}

COUNTER(0)
COUNTER(1)
COUNTER(2)
COUNTER(3)
COUNTER(4)
COUNTER(5)
COUNTER(6)
COUNTER(7)
COUNTER(8)
COUNTER(9)
COUNTER(10)
COUNTER(11)
COUNTER(12)
COUNTER(13)
COUNTER(14)
COUNTER(15)
COUNTER(16)
COUNTER(17)
COUNTER(18)
COUNTER(19)
COUNTER(20)
COUNTER(21)
COUNTER(22)
COUNTER(23)
COUNTER(24)
COUNTER(25)
COUNTER(26)
COUNTER(27)
COUNTER(28)
COUNTER(29)
COUNTER(30)
COUNTER(31)
COUNTER(32)
COUNTER(33)
COUNTER(34)
COUNTER(35)
COUNTER(36)
COUNTER(37)
COUNTER(38)
COUNTER(39)
COUNTER(40)
COUNTER(41)
COUNTER(42)
COUNTER(43)
COUNTER(44)
COUNTER(45)
COUNTER(46)
COUNTER(47)
COUNTER(48)
COUNTER(49)

char _license[] SEC("license") = "GPL";
