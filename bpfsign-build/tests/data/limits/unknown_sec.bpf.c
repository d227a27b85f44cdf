#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("mystery/thing") int p(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
