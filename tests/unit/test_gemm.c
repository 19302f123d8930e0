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

/* ---- the int8 GEMM (cpu/gemm_s8.h) ---- */

#include "cpu/gemm_s8.h"

#include <stdint.h>
#include <string.h>

/* Zero points: none, one for the whole operand, one per row / column. */
enum { ZP_NONE, ZP_SCALAR, ZP_VECTOR };

typedef struct s8_case {
	int64_t m, n, k;
	bool a_signed, b_signed;
	int zp;
	bool pool;
} s8_case;

/* C from the variant |isa| (NULL: automatic), from a packed B. */
static void s8_run(threadpool *tp, const char *isa, const s8gemm_args *args,
		   const s8gemm_packed *bp)
{
	assert_null(s8gemm_isa_force(isa));
	assert_null(s8gemm_run(tp, args, bp));
	assert_null(s8gemm_isa_force(NULL));
}

/*
 * One case through |isa| and through the portable variant, both against
 * (A - a_zp)(B - b_zp) summed in int64 by a naive loop.
 */
static void s8_check_case(threadpool *tp, const char *isa, const s8_case *t,
			  unsigned *seed)
{
	int64_t m = t->m, n = t->n, k = t->k;
	int64_t lda = k + 3, ldb = n + 5, ldc = n + 2;
	uint8_t *a = malloc((size_t)(lda * m));
	uint8_t *b = malloc((size_t)(ldb * (k ? k : 1)));
	int32_t *c = malloc(sizeof(int32_t) * (size_t)(ldc * m));
	int32_t *cp = malloc(sizeof(int32_t) * (size_t)(ldc * m));
	int32_t *za = malloc(sizeof(int32_t) * (size_t)m);
	int32_t *zb = malloc(sizeof(int32_t) * (size_t)n);
	s8gemm_args args = { m, n, k, a, lda, t->a_signed, za,
			     t->zp == ZP_NONE ? 0 : t->zp == ZP_SCALAR ? 1 : m,
			     zb, t->zp == ZP_NONE ? 0 : t->zp == ZP_SCALAR ? 1 : n,
			     c, ldc };
	s8gemm_packed *bp;

	for (int64_t i = 0; i < lda * m; i++)
		a[i] = (uint8_t)(frand(seed) * 512.0f);
	for (int64_t i = 0; i < ldb * k; i++)
		b[i] = (uint8_t)(frand(seed) * 512.0f);
	/* Zero points in the operand's own type, extremes included. */
	for (int64_t i = 0; i < m; i++)
		za[i] = t->a_signed ? (int32_t)(int8_t)(frand(seed) * 512.0f) :
				      (int32_t)(uint8_t)(frand(seed) * 512.0f);
	for (int64_t j = 0; j < n; j++)
		zb[j] = t->b_signed ? (int32_t)(int8_t)(frand(seed) * 512.0f) :
				      (int32_t)(uint8_t)(frand(seed) * 512.0f);
	za[0] = t->a_signed ? -128 : 255;
	memset(c, 0x55, sizeof(int32_t) * (size_t)(ldc * m));
	memset(cp, 0x55, sizeof(int32_t) * (size_t)(ldc * m));
	assert_null(s8gemm_pack_b(tp, t->b_signed, k, n, b, ldb, &bp));
	s8_run(t->pool ? tp : NULL, isa, &args, bp);
	args.c = cp;
	s8_run(t->pool ? tp : NULL, "portable", &args, bp);
	for (int64_t i = 0; i < m; i++)
		for (int64_t j = 0; j < n; j++) {
			int64_t acc = 0, ai = args.a_zp_n ? za[args.a_zp_n == 1 ? 0 : i] : 0;
			int64_t bj = args.b_zp_n ? zb[args.b_zp_n == 1 ? 0 : j] : 0;

			for (int64_t p = 0; p < k; p++) {
				int64_t av = t->a_signed ? (int8_t)a[i * lda + p] :
							   a[i * lda + p];
				int64_t bv = t->b_signed ? (int8_t)b[p * ldb + j] :
							   b[p * ldb + j];

				acc += (av - ai) * (bv - bj);
			}
			if (c[i * ldc + j] != acc || cp[i * ldc + j] != acc) {
				fprintf(stderr, "int8 GEMM %s m=%ld n=%ld k=%ld %s x %s zp=%d (%ld,%ld): expected %ld, got %d (portable %d)\n",
					isa, (long)m, (long)n, (long)k,
					t->a_signed ? "s8" : "u8",
					t->b_signed ? "s8" : "u8", t->zp, (long)i,
					(long)j, (long)acc, c[i * ldc + j],
					cp[i * ldc + j]);
				fail();
			}
		}
	/* Columns past n in C's rows are not written. */
	for (int64_t i = 0; i < m; i++)
		for (int64_t j = n; j < ldc; j++)
			assert_int_equal((uint32_t)c[i * ldc + j], 0x55555555u);
	s8gemm_packed_free(bp);
	free(a);
	free(b);
	free(c);
	free(cp);
	free(za);
	free(zb);
}

/*
 * Every u8/s8 mix and zero-point kind on sizes that are not multiples of
 * the tiles (K = 1, 3, 4, 63, 64, 65, 257 around the 4-deep VNNI step),
 * then shapes with several row blocks, column blocks and K slices.
 */
static void s8_check_variant(const char *isa)
{
	static const int64_t ms[] = { 1, 5, 13, 100 };
	static const int64_t ns[] = { 1, 31, 33, 70 };
	static const int64_t ks[] = { 1, 3, 4, 63, 64, 65, 257 };
	static const int64_t big[][3] = { { 200, 600, 520 }, { 97, 1030, 300 },
					  { 300, 45, 1027 } };
	threadpool *tp;
	unsigned seed = 99;
	int sel = 0;

	assert_null(threadpool_create(2, &tp));
	for (size_t mi = 0; mi < sizeof(ms) / sizeof(ms[0]); mi++)
		for (size_t ni = 0; ni < sizeof(ns) / sizeof(ns[0]); ni++)
			for (size_t ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ki++)
				for (int ty = 0; ty < 4; ty++, sel++) {
					s8_case t = { ms[mi], ns[ni], ks[ki], ty & 1,
						      ty & 2, sel % 3, sel & 4 };

					s8_check_case(tp, isa, &t, &seed);
				}
	for (size_t d = 0; d < sizeof(big) / sizeof(big[0]); d++)
		for (int ty = 0; ty < 4; ty++) {
			s8_case t = { big[d][0], big[d][1], big[d][2], ty & 1,
				      ty & 2, (ty + (int)d) % 3, true };

			s8_check_case(tp, isa, &t, &seed);
		}
	threadpool_destroy(tp);
}

/* One test per variant, so a variant the CPU lacks shows as skipped. */
static void s8gemm_variant_test(const char *isa)
{
	for (int i = 0; i < s8gemm_isa_count(); i++) {
		if (strcmp(s8gemm_isa_name(i), isa))
			continue;
		if (!s8gemm_isa_supported(i)) {
			fprintf(stderr, "skipping int8 GEMM variant %s: not on this CPU\n",
				isa);
			skip();
		}
		s8_check_variant(isa);
		return;
	}
	fprintf(stderr, "skipping int8 GEMM variant %s: not built for this architecture\n",
		isa);
	skip();
}

static void s8gemm_portable_matches_naive_loop(void **state)
{
	(void)state;
	s8gemm_variant_test("portable");
}

static void s8gemm_avx512vnni_matches_portable_and_naive_loop(void **state)
{
	(void)state;
	s8gemm_variant_test("avx512vnni");
}

static void s8gemm_avxvnni_matches_portable_and_naive_loop(void **state)
{
	(void)state;
	s8gemm_variant_test("avxvnni");
}

/* The automatic choice is the first supported variant, best first. */
static void s8gemm_dispatch_picks_best_supported_variant(void **state)
{
	accel_status st;
	int best = -1;

	(void)state;
	assert_null(s8gemm_isa_force(NULL));
	for (int i = s8gemm_isa_count() - 1; i >= 0; i--)
		if (s8gemm_isa_supported(i))
			best = i;
	assert_true(best >= 0);
	assert_string_equal(s8gemm_isa_active(), s8gemm_isa_name(best));
	st = s8gemm_isa_force("sse9");
	assert_int_equal(accel_status_code_of(st), ACCEL_INVALID_ARGUMENT);
	accel_status_free(st);
	assert_string_equal(s8gemm_isa_active(), s8gemm_isa_name(best));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sgemm_matches_naive_loop),
		cmocka_unit_test(every_isa_variant_matches_naive_loop),
		cmocka_unit_test(packed_b_one_row_matches_naive_loop),
		cmocka_unit_test(unknown_isa_variant_is_invalid),
		cmocka_unit_test(s8gemm_portable_matches_naive_loop),
		cmocka_unit_test(s8gemm_avx512vnni_matches_portable_and_naive_loop),
		cmocka_unit_test(s8gemm_avxvnni_matches_portable_and_naive_loop),
		cmocka_unit_test(s8gemm_dispatch_picks_best_supported_variant),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
