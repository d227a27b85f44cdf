struct S { int a; char b; };
struct S s;
__attribute__((section("tp/x"), used)) int p(void *c) { return s.a; }
char LICENSE[] __attribute__((section("license"), used)) = "GPL";
