#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
extern void bpf_throw(__u64 cookie) __ksym;
extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern const int bpf_prog_active __ksym;
struct task_struct { int pid; } __attribute__((preserve_access_index));

__noinline int exc_cb(__u64 cookie) { return cookie + 1; }

static __noinline int sub_with_kfunc(struct task_struct *p)
{
	struct task_struct *t = bpf_task_acquire(p);
	int *active = (int *)&bpf_prog_active;
	if (!t) return 0;
	bpf_task_release(t);
	return BPF_CORE_READ(p, pid) + (active != 0);
}

__attribute__((btf_decl_tag("exception_callback:exc_cb")))
SEC("tp_btf/sched_switch") int BPF_PROG(thrower, _Bool preempt, struct task_struct *prev)
{
	if (sub_with_kfunc(prev) == 42) bpf_throw(7);
	return 0;
}
SEC("tp_btf/sched_switch") int BPF_PROG(second, _Bool preempt, struct task_struct *prev)
{
	struct task_struct *t = bpf_task_acquire(prev);
	if (t) bpf_task_release(t);
	return sub_with_kfunc(prev) + BPF_CORE_READ(prev, pid);
}
SEC("?tp_btf/sched_switch") int BPF_PROG(off, _Bool preempt, struct task_struct *prev)
{
	return BPF_CORE_READ(prev, pid);
}
char LICENSE[] SEC("license") = "GPL";
