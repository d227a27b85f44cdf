// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * C side of the bpfsign load+attach benchmark: times bpftool's signed light skeleton of
 * example-hello's hello.bpf.c (skeleton name "hello").
 *
 * Build (tests/bench/run.sh does it, once per reference bpftool):
 *   gcc -O2 -static -I<dir of hello.lskel.h> -I<include-PROTO> -I<uapi> \
 *       -DLSKEL='"hello.lskel.h"' lskel_bench.c -o lskel-bench-PROTO
 *
 * usage: lskel-bench-PROTO [N [W]]
 *   W warm-up + N measured runs of: hello__open + hello__load (signed loader, keyring =
 *   the session keyring), hello__attach, hello__destroy. The certificate must already be in the
 *   session keyring (bpfsign-bench compare registers it). Prints one line per measured run,
 *   "sample LOAD_NS ATTACH_NS DESTROY_NS" (CLOCK_MONOTONIC), the format bpfsign-bench reads.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/keyctl.h>
#include LSKEL

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 50;
	int w = argc > 2 ? atoi(argv[2]) : 1;
	long long (*samples)[3];
	int i, err;

	if (n < 0 || w < 0) {
		fprintf(stderr, "usage: %s [N [W]]\n", argv[0]);
		return 2;
	}
	samples = calloc(n ? n : 1, sizeof(*samples));
	if (!samples)
		return 1;
	for (i = 0; i < w + n; i++) {
		long long t0, t1, t2, t3;
		struct hello *skel;

		t0 = now_ns();
		skel = hello__open();
		if (!skel) {
			fprintf(stderr, "hello__open: %s\n", strerror(errno));
			return 1;
		}
		skel->keyring_id = KEY_SPEC_SESSION_KEYRING;
		err = hello__load(skel);
		t1 = now_ns();
		if (err) {
			fprintf(stderr, "hello__load = %d (%s)\n", err, strerror(-err));
			hello__destroy(skel);
			return 1;
		}
		err = hello__attach(skel);
		t2 = now_ns();
		if (err) {
			fprintf(stderr, "hello__attach = %d (%s)\n", err, strerror(-err));
			hello__destroy(skel);
			return 1;
		}
		hello__destroy(skel);
		t3 = now_ns();
		if (i >= w) {
			samples[i - w][0] = t1 - t0;
			samples[i - w][1] = t2 - t1;
			samples[i - w][2] = t3 - t2;
		}
	}
	printf("protocol = c-lskel\n");
	for (i = 0; i < n; i++)
		printf("sample %lld %lld %lld\n", samples[i][0], samples[i][1], samples[i][2]);
	free(samples);
	return 0;
}
