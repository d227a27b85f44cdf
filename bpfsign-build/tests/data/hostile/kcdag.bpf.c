/* A .kconfig extern whose type is a DAG: 12 levels of 8 zero-length arrays of the level
   below, 8^12 = 2^36 paths but 13 distinct types. */
struct S0 { char c; };
struct S1 { struct S0 m0[0]; struct S0 m1[0]; struct S0 m2[0]; struct S0 m3[0]; struct S0 m4[0]; struct S0 m5[0]; struct S0 m6[0]; struct S0 m7[0]; char c; };
struct S2 { struct S1 m0[0]; struct S1 m1[0]; struct S1 m2[0]; struct S1 m3[0]; struct S1 m4[0]; struct S1 m5[0]; struct S1 m6[0]; struct S1 m7[0]; char c; };
struct S3 { struct S2 m0[0]; struct S2 m1[0]; struct S2 m2[0]; struct S2 m3[0]; struct S2 m4[0]; struct S2 m5[0]; struct S2 m6[0]; struct S2 m7[0]; char c; };
struct S4 { struct S3 m0[0]; struct S3 m1[0]; struct S3 m2[0]; struct S3 m3[0]; struct S3 m4[0]; struct S3 m5[0]; struct S3 m6[0]; struct S3 m7[0]; char c; };
struct S5 { struct S4 m0[0]; struct S4 m1[0]; struct S4 m2[0]; struct S4 m3[0]; struct S4 m4[0]; struct S4 m5[0]; struct S4 m6[0]; struct S4 m7[0]; char c; };
struct S6 { struct S5 m0[0]; struct S5 m1[0]; struct S5 m2[0]; struct S5 m3[0]; struct S5 m4[0]; struct S5 m5[0]; struct S5 m6[0]; struct S5 m7[0]; char c; };
struct S7 { struct S6 m0[0]; struct S6 m1[0]; struct S6 m2[0]; struct S6 m3[0]; struct S6 m4[0]; struct S6 m5[0]; struct S6 m6[0]; struct S6 m7[0]; char c; };
struct S8 { struct S7 m0[0]; struct S7 m1[0]; struct S7 m2[0]; struct S7 m3[0]; struct S7 m4[0]; struct S7 m5[0]; struct S7 m6[0]; struct S7 m7[0]; char c; };
struct S9 { struct S8 m0[0]; struct S8 m1[0]; struct S8 m2[0]; struct S8 m3[0]; struct S8 m4[0]; struct S8 m5[0]; struct S8 m6[0]; struct S8 m7[0]; char c; };
struct S10 { struct S9 m0[0]; struct S9 m1[0]; struct S9 m2[0]; struct S9 m3[0]; struct S9 m4[0]; struct S9 m5[0]; struct S9 m6[0]; struct S9 m7[0]; char c; };
struct S11 { struct S10 m0[0]; struct S10 m1[0]; struct S10 m2[0]; struct S10 m3[0]; struct S10 m4[0]; struct S10 m5[0]; struct S10 m6[0]; struct S10 m7[0]; char c; };
struct S12 { struct S11 m0[0]; struct S11 m1[0]; struct S11 m2[0]; struct S11 m3[0]; struct S11 m4[0]; struct S11 m5[0]; struct S11 m6[0]; struct S11 m7[0]; char c; };
extern struct S12 cfg __attribute__((section(".kconfig")));
__attribute__((section("tp/x"), used)) int p(void *c) { return cfg.c; }
char LICENSE[] __attribute__((section("license"), used)) = "GPL";
