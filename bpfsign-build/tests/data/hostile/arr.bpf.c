char g[2][3][5];
__attribute__((section("tp/x"), used)) int p(void *c) { return g[1][2][3]; }
char LICENSE[] __attribute__((section("license"), used)) = "GPL";
