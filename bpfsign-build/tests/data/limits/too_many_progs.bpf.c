#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp") int p0(struct xdp_md *ctx) { return 0; }
SEC("xdp") int p1(struct xdp_md *ctx) { return 1; }
SEC("xdp") int p2(struct xdp_md *ctx) { return 2; }
SEC("xdp") int p3(struct xdp_md *ctx) { return 0; }
SEC("xdp") int p4(struct xdp_md *ctx) { return 1; }
SEC("xdp") int p5(struct xdp_md *ctx) { return 2; }
SEC("xdp") int p6(struct xdp_md *ctx) { return 0; }
SEC("xdp") int p7(struct xdp_md *ctx) { return 1; }
SEC("xdp") int p8(struct xdp_md *ctx) { return 2; }
SEC("xdp") int p9(struct xdp_md *ctx) { return 0; }
SEC("xdp") int p10(struct xdp_md *ctx) { return 1; }
SEC("xdp") int p11(struct xdp_md *ctx) { return 2; }
SEC("xdp") int p12(struct xdp_md *ctx) { return 0; }
SEC("xdp") int p13(struct xdp_md *ctx) { return 1; }
SEC("xdp") int p14(struct xdp_md *ctx) { return 2; }
SEC("xdp") int p15(struct xdp_md *ctx) { return 0; }
SEC("xdp") int p16(struct xdp_md *ctx) { return 1; }
SEC("xdp") int p17(struct xdp_md *ctx) { return 2; }
SEC("xdp") int p18(struct xdp_md *ctx) { return 0; }
SEC("xdp") int p19(struct xdp_md *ctx) { return 1; }
SEC("xdp") int p20(struct xdp_md *ctx) { return 2; }
SEC("xdp") int p21(struct xdp_md *ctx) { return 0; }
SEC("xdp") int p22(struct xdp_md *ctx) { return 1; }
SEC("xdp") int p23(struct xdp_md *ctx) { return 2; }
SEC("xdp") int p24(struct xdp_md *ctx) { return 0; }
SEC("xdp") int p25(struct xdp_md *ctx) { return 1; }
SEC("xdp") int p26(struct xdp_md *ctx) { return 2; }
SEC("xdp") int p27(struct xdp_md *ctx) { return 0; }
SEC("xdp") int p28(struct xdp_md *ctx) { return 1; }
SEC("xdp") int p29(struct xdp_md *ctx) { return 2; }
SEC("xdp") int p30(struct xdp_md *ctx) { return 0; }
SEC("xdp") int p31(struct xdp_md *ctx) { return 1; }
SEC("xdp") int p32(struct xdp_md *ctx) { return 2; }
char LICENSE[] SEC("license") = "GPL";
