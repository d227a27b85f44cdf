#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 10000); } rb SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_BLOOM_FILTER); __uint(max_entries, 64); __type(value, __u32); __uint(map_extra, 3); } bloom SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 8); __type(key, int); __type(value, long); __uint(numa_node, 0); __uint(map_flags, BPF_F_NUMA_NODE);} pinned SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY); __uint(max_entries, 4); __uint(key_size, 4); __uint(value_size, 4); } perf SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_QUEUE); __uint(max_entries, 4); __type(value, int); } q SEC(".maps");

extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;

int hidden_var __attribute__((visibility("hidden")));
static volatile int static_var = 3;
const volatile int ro_cfg = 7;
char big_data[64] SEC(".data.big") = "x";

static __noinline int helper2(int x) { return x * 3 + static_var; }
__noinline int global_helper(int x) { return helper2(x) + hidden_var + ro_cfg; }

static int cb(__u32 idx, void *ctx) { *(int *)ctx += idx; return 0; }

SEC("xdp.frags") int frags(struct xdp_md *ctx) { int s = 0; bpf_loop(4, cb, &s, 0); return global_helper(s) & 1; }
SEC("xdp") int two_a(struct xdp_md *ctx) { return helper2(1) & 1; }
SEC("xdp") int two_b(struct xdp_md *ctx) { __u32 v = 5; bpf_map_push_elem(&bloom, &v, 0); return 2; }
SEC("usdt") int u(void *ctx) { return 0; }
SEC("uprobe.s") int us(void *ctx) { return 0; }
SEC("fmod_ret/security_file_open") int BPF_PROG(fm, void *f) { return 0; }
SEC("iter.s/task") int it(void *ctx) { return 0; }
SEC("lsm_cgroup/socket_bind") int lc(void *ctx) { return 1; }
SEC("tp_btf/sched_switch") int BPF_PROG(sw, _Bool preempt, struct task_struct *prev)
{
	struct task_struct *t = bpf_task_acquire(prev);
	void *r;
	if (t) bpf_task_release(t);
	r = bpf_ringbuf_reserve(&rb, 8, 0);
	if (r) bpf_ringbuf_discard(r, 0);
	bpf_perf_event_output(ctx, &perf, 0, &static_var, 4);
	return global_helper(1) + big_data[1];
}
SEC("cgroup_skb/egress") int egress(struct __sk_buff *s) { int v = 1; bpf_map_push_elem(&q, &v, 0); return 1; }
SEC("sockops") int so(struct bpf_sock_ops *s) { long v = 1; int k = 1; bpf_map_update_elem(&pinned, &k, &v, 0); return 1; }
SEC("?sk_msg") int msg(struct sk_msg_md *m) { return 1; }
char LICENSE[] SEC("license") = "GPL";
