// SPDX-License-Identifier: GPL-2.0
/*
 * bench.c - a benchmark, not a test: accelkm queue NOP throughput (batches
 * of 1 and 32) and submit-to-complete latency against io_uring's own NOP
 * (liburing), and COPY bandwidth against memcpy, in the same VM boot.
 * Prints medians of several timed rounds and the accelkm/reference ratios.
 */
#include <liburing.h>

#include "ktest.h"
#include "accel_test.h"

#define ROUNDS 5
#define ROUND_NS 300000000ull	/* each round runs ~0.3 s */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* ---------------------------------------------------------------- accelkm */

static double acc_nop_rate(struct tq *q, int batch)
{
	uint64_t t0 = now_ns(), n = 0;
	struct accel_cqe cqe;
	int i;

	while (now_ns() - t0 < ROUND_NS) {
		for (i = 0; i < batch; i++)
			*tq_get_sqe(q) = (struct accel_sqe){ .user_data = i };
		if (tq_enter(q, batch, batch, 0, NULL))
			ktest_fail("enter");
		for (i = 0; i < batch; i++)
			if (!tq_pop(q, &cqe))
				ktest_fail("missing CQE");
		n += batch;
	}
	return n * 1e9 / (now_ns() - t0);
}

/* Median submit-to-complete latency of single NOPs, in ns. */
static double acc_nop_latency(struct tq *q)
{
	static double lat[5000];
	struct accel_cqe cqe;
	int i;

	for (i = 0; i < 5000; i++) {
		uint64_t t0 = now_ns();

		*tq_get_sqe(q) = (struct accel_sqe){ .user_data = i };
		tq_enter(q, 1, 1, 0, NULL);
		tq_pop(q, &cqe);
		lat[i] = now_ns() - t0;
	}
	return median(lat, 5000);
}

/* ---------------------------------------------------------------- io_uring */

static double uring_nop_rate(struct io_uring *r, int batch)
{
	uint64_t t0 = now_ns(), n = 0;
	struct io_uring_cqe *cqe;
	int i;

	while (now_ns() - t0 < ROUND_NS) {
		for (i = 0; i < batch; i++)
			io_uring_prep_nop(io_uring_get_sqe(r));
		if (io_uring_submit_and_wait(r, batch) != batch)
			ktest_fail("io_uring_submit_and_wait");
		for (i = 0; i < batch; i++) {
			if (io_uring_peek_cqe(r, &cqe))
				ktest_fail("io_uring missing CQE");
			io_uring_cqe_seen(r, cqe);
		}
		n += batch;
	}
	return n * 1e9 / (now_ns() - t0);
}

static double uring_nop_latency(struct io_uring *r)
{
	static double lat[5000];
	struct io_uring_cqe *cqe;
	int i;

	for (i = 0; i < 5000; i++) {
		uint64_t t0 = now_ns();

		io_uring_prep_nop(io_uring_get_sqe(r));
		io_uring_submit_and_wait(r, 1);
		io_uring_peek_cqe(r, &cqe);
		io_uring_cqe_seen(r, cqe);
		lat[i] = now_ns() - t0;
	}
	return median(lat, 5000);
}

/* ------------------------------------------------------------------ copy */

#define COPY_BYTES (4u << 20)

static double acc_copy_bw(struct tq *q, uint32_t a, uint32_t b)
{
	struct accel_sqe s = { .opcode = ACCEL_OP_COPY, .src_handle = a,
			       .dst_handle = b, .len = COPY_BYTES };
	uint64_t t0 = now_ns(), n = 0;

	while (now_ns() - t0 < ROUND_NS) {
		if (tq_run1(q, &s, NULL))
			ktest_fail("COPY failed");
		n += COPY_BYTES;
	}
	return n / ((now_ns() - t0) / 1e9) / 1e9;
}

static double memcpy_bw(void *dst, const void *src)
{
	uint64_t t0 = now_ns(), n = 0;

	while (now_ns() - t0 < ROUND_NS) {
		memcpy(dst, src, COPY_BYTES);
		__asm__ volatile("" : : "r"(dst) : "memory");
		n += COPY_BYTES;
	}
	return n / ((now_ns() - t0) / 1e9) / 1e9;
}

static void report(const char *what, const char *unit, double *acc,
		   double *ref, const char *refname, int higher_is_better)
{
	double a = median(acc, ROUNDS), r = median(ref, ROUNDS);

	printf("# %-22s accelkm %10.3f %s   %-8s %10.3f %s   ratio %.3f%s\n",
	       what, a, unit, refname, r, unit, a / r,
	       higher_is_better ? "" : " (lower is better)");
}

TEST_TIMEOUT(bench_accelkm_vs_io_uring_and_memcpy, 500)
{
	double acc1[ROUNDS], ref1[ROUNDS], acc32[ROUNDS], ref32[ROUNDS];
	double accl[ROUNDS], refl[ROUNDS], accc[ROUNDS], refc[ROUNDS];
	int fd = acc_open(), i;
	uint32_t a = bo_new(fd, COPY_BYTES), b = bo_new(fd, COPY_BYTES);
	void *pa = bo_map(fd, a, COPY_BYTES), *pb = bo_map(fd, b, COPY_BYTES);
	struct io_uring ring;
	struct tq q;

	memset(pa, 1, COPY_BYTES);
	memset(pb, 2, COPY_BYTES);
	tq_create(fd, &q, 64);
	if (io_uring_queue_init(64, &ring, 0))
		SKIP("io_uring unavailable");
	/* interleave rounds so drift hits both sides alike */
	for (i = 0; i < ROUNDS; i++) {
		acc1[i] = acc_nop_rate(&q, 1) / 1e3;
		ref1[i] = uring_nop_rate(&ring, 1) / 1e3;
		acc32[i] = acc_nop_rate(&q, 32) / 1e3;
		ref32[i] = uring_nop_rate(&ring, 32) / 1e3;
		accl[i] = acc_nop_latency(&q) / 1e3;
		refl[i] = uring_nop_latency(&ring) / 1e3;
		accc[i] = acc_copy_bw(&q, a, b);
		refc[i] = memcpy_bw(pb, pa);
	}
	{
		FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/"
				"current_clocksource", "r");
		char cs[32] = "?";

		if (f && fscanf(f, "%31s", cs) != 1)
			cs[0] = 0;
		if (f)
			fclose(f);
		printf("# medians of %d rounds; VM under qemu TCG (emulated "
		       "CPU), clocksource %s\n", ROUNDS, cs);
	}
	report("nop batch 1", "kops/s", acc1, ref1, "io_uring", 1);
	report("nop batch 32", "kops/s", acc32, ref32, "io_uring", 1);
	report("nop latency", "us", accl, refl, "io_uring", 0);
	report("copy 4 MiB", "GB/s", accc, refc, "memcpy", 1);
	io_uring_queue_exit(&ring);
}
