/* SPDX-License-Identifier: MIT */
/*
 * test_gemm.c - sgemm matches a naive triple loop on awkward shapes, with
 * each micro-kernel variant that runtime dispatch can pick.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cpu/gemm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static float frand(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return (float)((*s >> 8) & 0xffff) / 65536.0f - 0.5f;
}

static void check_case(threadpool *tp, bool ta, bool tb, int64_t m, int64_t n,
		       int64_t k, float alpha, float beta)
{
	int64_t lda = ta ? m + 3 : k + 1, ldb = tb ? k + 2 : n + 5, ldc = n + 7;
	float *a = malloc(sizeof(float) * (size_t)(lda * (ta ? k : m)));
	float *b = malloc(sizeof(float) * (size_t)(ldb * (tb ? n : k)));
	float *c = malloc(sizeof(float) * (size_t)(ldc * m));
	double *ref = malloc(sizeof(double) * (size_t)(m * n));
	unsigned s = 42;

	for (int64_t i = 0; i < lda * (ta ? k : m); i++)
		a[i] = frand(&s);
	for (int64_t i = 0; i < ldb * (tb ? n : k); i++)
		b[i] = frand(&s);
	for (int64_t i = 0; i < ldc * m; i++)
		c[i] = frand(&s);
	for (int64_t i = 0; i < m; i++)
		for (int64_t j = 0; j < n; j++) {
			double acc = 0;

			for (int64_t p = 0; p < k; p++)
				acc += (double)(ta ? a[p * lda + i] : a[i * lda + p]) *
				       (tb ? b[j * ldb + p] : b[p * ldb + j]);
			ref[i * n + j] = alpha * acc +
					 (beta != 0.0f ? beta * c[i * ldc + j] : 0.0);
		}
	assert_null(sgemm(tp, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
	for (int64_t i = 0; i < m; i++)
		for (int64_t j = 0; j < n; j++) {
			double d = fabs(ref[i * n + j] - c[i * ldc + j]);

			if (d > 1e-4 * (1 + sqrt((double)k))) {
				fprintf(stderr, "m=%ld n=%ld k=%ld ta=%d tb=%d (%ld,%ld): expected %g got %g\n",
					(long)m, (long)n, (long)k, ta, tb, (long)i,
					(long)j, ref[i * n + j], c[i * ldc + j]);
				fail();
			}
		}
	free(a);
	free(b);
	free(c);
	free(ref);
}

static void sgemm_matches_naive_loop(void **state)
{
	static const int64_t dims[][3] = {
		{ 1, 1, 1 },	 { 1, 1000, 512 }, { 3, 17, 5 },   { 12, 32, 256 },
		{ 13, 33, 257 }, { 64, 49, 576 },  { 127, 300, 70 }, { 250, 129, 600 },
		{ 7, 5, 3 },	 { 5, 64, 9 },
	};
	threadpool *tp;

	(void)state;
	assert_null(threadpool_create(2, &tp));
	for (size_t d = 0; d < sizeof(dims) / sizeof(dims[0]); d++)
		for (int t = 0; t < 4; t++) {
			check_case(tp, t & 1, t & 2, dims[d][0], dims[d][1],
				   dims[d][2], 1.0f, 0.0f);
			check_case(NULL, t & 1, t & 2, dims[d][0], dims[d][1],
				   dims[d][2], 0.5f, 0.25f);
		}
	threadpool_destroy(tp);
}

/*
 * Every micro-kernel variant this CPU runs (avx512, avx2, portable) gives
 * the naive loop's answers, epilogue included: the portable one is the
 * baseline the ISA-specific ones are checked against.
 */
static void every_isa_variant_matches_naive_loop(void **state)
{
	int ran = 0;

	for (int i = 0; i < sgemm_isa_count(); i++) {
		const char *name = sgemm_isa_name(i);

		if (!sgemm_isa_supported(i)) {
			fprintf(stderr, "skipping SGEMM variant %s: not on this CPU\n",
				name);
			continue;
		}
		assert_null(sgemm_isa_force(name));
		assert_string_equal(sgemm_isa_active(), name);
		sgemm_matches_naive_loop(state);
		ran++;
	}
	assert_null(sgemm_isa_force(NULL));
	assert_true(ran >= 1);
}

/*
 * One row of A times a packed B (a CNN's classifier, weights packed at
 * prepare): the GEMV path, with alpha, beta, A transposed and every
 * epilogue term, against the naive loop.
 */
static void packed_b_one_row_matches_naive_loop(void **state)
{
	static const int64_t dims[][2] = { { 1, 1 }, { 31, 3 }, { 33, 5 },
					   { 100, 257 }, { 1000, 130 } };
	threadpool *tp;
	unsigned s = 7;

	(void)state;
	assert_null(threadpool_create(2, &tp));
	for (size_t d = 0; d < sizeof(dims) / sizeof(dims[0]); d++)
		for (int t = 0; t < 4; t++) {
			int64_t n = dims[d][0], k = dims[d][1], lda = t & 1 ? 3 : 1;
			float *a = malloc(sizeof(float) * (size_t)(k * lda));
			float *b = malloc(sizeof(float) * (size_t)(k * n));
			float *bp = aligned_alloc(64, sizeof(float) *
						  (size_t)sgemm_packed_b_floats(n, k));
			float *c = malloc(sizeof(float) * (size_t)n);
			float *cb = malloc(sizeof(float) * (size_t)n);
			float *z = malloc(sizeof(float) * (size_t)n);
			float rb = 0.125f, alpha = t & 2 ? 0.5f : 1.0f;
			float beta = t & 2 ? 0.25f : 0.0f;
			sgemm_epilogue epi = { .row_bias = &rb, .col_bias = cb, .z = z,
					       .act = { .kind = CPU_ACT_CLAMP,
							.lo = -0.5f, .hi = 0.5f } };
			double *ref = malloc(sizeof(double) * (size_t)n);

			for (int64_t i = 0; i < k * lda; i++)
				a[i] = frand(&s);
			for (int64_t i = 0; i < k * n; i++)
				b[i] = frand(&s);
			for (int64_t j = 0; j < n; j++) {
				double acc = 0;

				c[j] = frand(&s);
				cb[j] = frand(&s);
				z[j] = frand(&s);
				for (int64_t p = 0; p < k; p++)
					acc += (double)a[p * lda] * b[p * n + j];
				acc = alpha * acc + beta * c[j] + rb + cb[j] + z[j];
				ref[j] = acc < -0.5 ? -0.5 : acc > 0.5 ? 0.5 : acc;
			}
			sgemm_pack_b(NULL, false, n, k, b, n, bp);
			assert_null(sgemm_packed_b(t & 2 ? NULL : tp, t & 1, 1, n, k,
						   alpha, a, lda, bp, beta, c, n, &epi));
			for (int64_t j = 0; j < n; j++)
				if (fabs(ref[j] - c[j]) > 1e-4 * (1 + sqrt((double)k))) {
					fprintf(stderr, "m=1 n=%ld k=%ld ta=%d (0,%ld): expected %g got %g\n",
						(long)n, (long)k, t & 1, (long)j, ref[j], c[j]);
					fail();
				}
			free(a);
			free(b);
			free(bp);
			free(c);
			free(cb);
			free(z);
			free(ref);
		}
	threadpool_destroy(tp);
}

static void unknown_isa_variant_is_invalid(void **state)
{
	accel_status st = sgemm_isa_force("sse9");

	(void)state;
	assert_int_equal(accel_status_code_of(st), ACCEL_INVALID_ARGUMENT);
	accel_status_free(st);
	assert_null(sgemm_isa_force(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sgemm_matches_naive_loop),
		cmocka_unit_test(every_isa_variant_matches_naive_loop),
		cmocka_unit_test(packed_b_one_row_matches_naive_loop),
		cmocka_unit_test(unknown_isa_variant_is_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
