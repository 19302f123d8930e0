/* SPDX-License-Identifier: MIT */
/*
 * test_nn.c - nn operator family: window geometry, error codes, and the
 * fast Conv paths (depthwise, implicit GEMM, fused activation) against a
 * naive convolution.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "node_builder.h"

#include "cpu/kernel.h"
#include "ops/nn_window.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- building nodes by hand ---- */

/* Attribute ints given inline: node_intsv(t, "pads", 4, a, b, c, d). */
static void node_intsv(test_node *t, const char *name, int n, ...)
{
	int64_t v[8];
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < n; i++)
		v[i] = va_arg(ap, int64_t);
	va_end(ap);
	node_ints(t, name, n, v);
}

static accel_tensor *ftensor(int rank, const int64_t *dims, unsigned seed)
{
	accel_tensor *t;

	assert_null(tensor_new(ACCEL_DTYPE_F32, rank, dims, &t));
	for (int64_t i = 0; i < tensor_numel(t); i++) {
		seed = seed * 1103515245u + 12345u;
		((float *)t->data)[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
	}
	return t;
}

/* ---- geometry ---- */

static void same_lower_puts_the_odd_pad_first(void **state)
{
	test_node t;
	nn_window w;
	int64_t in[2] = { 5, 6 }, k[2] = { 3, 5 };

	(void)state;
	node_init(&t, "Conv", "", 11);
	node_intsv(&t, "strides", 2, (int64_t)2, (int64_t)2);
	node_string(&t, "auto_pad", "SAME_LOWER");
	assert_null(nn_window_forward(&t.node, 2, in, k, false, &w));
	/* out = ceil(in / s); total pad = (out - 1) * s + k - in */
	assert_int_equal(w.out[0], 3);
	assert_int_equal(w.out[1], 3);
	assert_int_equal(w.pb[0], 1);
	assert_int_equal(w.pe[0], 1);
	assert_int_equal(w.pb[1], 2);
	assert_int_equal(w.pe[1], 1);
}

static void ceil_mode_drops_a_window_that_starts_in_the_end_pad(void **state)
{
	test_node t;
	nn_window w;
	int64_t in[1] = { 5 };

	(void)state;
	node_init(&t, "MaxPool", "", 12);
	node_intsv(&t, "kernel_shape", 1, (int64_t)2);
	node_intsv(&t, "strides", 1, (int64_t)2);
	node_intsv(&t, "pads", 2, (int64_t)1, (int64_t)1);
	node_int(&t, "ceil_mode", 1);
	assert_null(nn_window_forward(&t.node, 1, in, NULL, true, &w));
	assert_int_equal(w.out[0], 3);
}

static void conv_transpose_output_shape_sets_negative_end_pad(void **state)
{
	test_node t;
	nn_window w;
	int64_t in[2] = { 3, 3 }, k[2] = { 3, 3 };

	(void)state;
	node_init(&t, "ConvTranspose", "", 11);
	node_intsv(&t, "strides", 2, (int64_t)3, (int64_t)2);
	node_intsv(&t, "output_shape", 2, (int64_t)10, (int64_t)8);
	assert_null(nn_window_transpose(&t.node, 2, in, k, &w));
	assert_int_equal(w.out[0], 10);
	assert_int_equal(w.out[1], 8);
	assert_int_equal(w.pb[0], 0);
}

static void bad_pads_count_is_an_invalid_model(void **state)
{
	test_node t;
	nn_window w;
	int64_t in[2] = { 5, 5 }, k[2] = { 3, 3 };
	accel_status st;

	(void)state;
	node_init(&t, "Conv", "", 11);
	node_intsv(&t, "pads", 3, (int64_t)1, (int64_t)1, (int64_t)1);
	st = nn_window_forward(&t.node, 2, in, k, false, &w);
	assert_non_null(st);
	assert_int_equal(accel_status_code_of(st), ACCEL_INVALID_MODEL);
	assert_non_null(strstr(accel_status_message(st), "pads"));
	accel_status_free(st);
}

static void conv_infer_leaves_unknown_rank_unknown(void **state)
{
	const op_schema *s = op_schema_find("", "Conv");
	accel_tensor x = { .dtype = ACCEL_DTYPE_F32, .rank = -1 };
	accel_tensor w = { .dtype = ACCEL_DTYPE_F32, .rank = -1 };
	accel_tensor y = { 0 };
	accel_tensor *in[2] = { &x, &w }, *out[1] = { &y };
	test_node t;
	op_ctx ctx;

	(void)state;
	node_init(&t, "Conv", "", 11);
	ctx.node = &t.node;
	ctx.static_infer = true;
	assert_non_null(s);
	assert_null(s->infer(&ctx, in, 2, out, 1));
	assert_int_equal(y.rank, -1);
	assert_int_equal(y.dtype, ACCEL_DTYPE_F32);
}

static void conv_on_float64_is_unsupported(void **state)
{
	const cpu_kernel *k = cpu_kernel_find("", "Conv");
	int64_t xd[4] = { 1, 1, 3, 3 }, wd[4] = { 1, 1, 1, 1 };
	accel_tensor *x, *w, *y;
	accel_tensor *in[2], *out[1];
	test_node t;
	cpu_ctx ctx;
	accel_status st;

	(void)state;
	assert_null(tensor_new(ACCEL_DTYPE_F64, 4, xd, &x));
	assert_null(tensor_new(ACCEL_DTYPE_F64, 4, wd, &w));
	assert_null(tensor_new(ACCEL_DTYPE_F64, 4, xd, &y));
	in[0] = x;
	in[1] = w;
	out[0] = y;
	node_init(&t, "Conv", "", 11);
	ctx.node = &t.node;
	ctx.pool = NULL;
	st = k->exec(&ctx, in, 2, out, 1);
	assert_int_equal(accel_status_code_of(st), ACCEL_UNSUPPORTED);
	accel_status_free(st);
	accel_tensor_release(x);
	accel_tensor_release(w);
	accel_tensor_release(y);
}

/* ---- Conv fast paths against a naive convolution ---- */

typedef struct conv_case {
	int64_t n, c, h, w, m, group, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
	const char *act;
} conv_case;

static float naive_at(const conv_case *cc, const float *x, const float *wt,
		      const float *b, int64_t n, int64_t m, int64_t oy, int64_t ox)
{
	int64_t cg = cc->c / cc->group, mg = cc->m / cc->group, g = m / mg;
	double acc = b[m];

	for (int64_t c = 0; c < cg; c++)
		for (int64_t ky = 0; ky < cc->kh; ky++)
			for (int64_t kx = 0; kx < cc->kw; kx++) {
				int64_t iy = oy * cc->sh - cc->pt + ky * cc->dh;
				int64_t ix = ox * cc->sw - cc->pl + kx * cc->dw;

				if (iy < 0 || iy >= cc->h || ix < 0 || ix >= cc->w)
					continue;
				acc += (double)x[((n * cc->c + g * cg + c) * cc->h + iy) * cc->w + ix] *
				       wt[((m * cg + c) * cc->kh + ky) * cc->kw + kx];
			}
	if (cc->act && !strcmp(cc->act, "Relu") && acc < 0)
		acc = 0;
	if (cc->act && !strcmp(cc->act, "HardSwish"))
		acc *= fmin(fmax(acc / 6 + 0.5, 0), 1);
	return (float)acc;
}

static void run_conv_case(const conv_case *cc, threadpool *tp)
{
	const cpu_kernel *k = cpu_kernel_find("", "Conv");
	int64_t oh = (cc->h + cc->pt + cc->pb - ((cc->kh - 1) * cc->dh + 1)) / cc->sh + 1;
	int64_t ow = (cc->w + cc->pl + cc->pr - ((cc->kw - 1) * cc->dw + 1)) / cc->sw + 1;
	int64_t xd[4] = { cc->n, cc->c, cc->h, cc->w };
	int64_t wd[4] = { cc->m, cc->c / cc->group, cc->kh, cc->kw };
	int64_t bd[1] = { cc->m }, yd[4] = { cc->n, cc->m, oh, ow };
	accel_tensor *x = ftensor(4, xd, 1), *w = ftensor(4, wd, 2);
	accel_tensor *b = ftensor(1, bd, 3), *y;
	accel_tensor *in[3] = { x, w, b }, *out[1];
	test_node t;
	cpu_ctx ctx;

	assert_null(tensor_new(ACCEL_DTYPE_F32, 4, yd, &y));
	out[0] = y;
	node_init(&t, "Conv", "", 11);
	node_int(&t, "group", cc->group);
	node_intsv(&t, "strides", 2, cc->sh, cc->sw);
	node_intsv(&t, "dilations", 2, cc->dh, cc->dw);
	node_intsv(&t, "pads", 4, cc->pt, cc->pl, cc->pb, cc->pr);
	if (cc->act) {
		node_string(&t, "activation", cc->act);
		node_float(&t, "activation_min", 0.0f);
	}
	ctx.node = &t.node;
	ctx.pool = tp;
	assert_null(k->exec(&ctx, in, 3, out, 1));
	for (int64_t n = 0; n < cc->n; n++)
		for (int64_t m = 0; m < cc->m; m++)
			for (int64_t oy = 0; oy < oh; oy++)
				for (int64_t ox = 0; ox < ow; ox++) {
					float want = naive_at(cc, x->data, w->data, b->data,
							      n, m, oy, ox);
					float got = ((float *)y->data)[((n * cc->m + m) * oh + oy) * ow + ox];

					if (fabsf(got - want) > 1e-4f * (1.0f + fabsf(want))) {
						fprintf(stderr, "conv %lldx%lld g%lld s%lld d%lld: y[%lld,%lld,%lld,%lld] expected %g got %g\n",
							(long long)cc->kh, (long long)cc->kw,
							(long long)cc->group, (long long)cc->sw,
							(long long)cc->dw, (long long)n,
							(long long)m, (long long)oy,
							(long long)ox, want, got);
						fail();
					}
				}
	accel_tensor_release(x);
	accel_tensor_release(w);
	accel_tensor_release(b);
	accel_tensor_release(y);
}

static void conv_paths_match_naive_convolution(void **state)
{
	static const conv_case cases[] = {
		/* n  c   h   w   m  grp kh kw sh sw dh dw pt pl pb pr act */
		{ 1, 8, 13, 40, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, NULL },
		{ 2, 6, 17, 37, 12, 6, 3, 3, 2, 2, 1, 1, 1, 0, 1, 1, "Relu" },
		{ 1, 4, 12, 36, 4, 4, 3, 3, 1, 2, 2, 2, 2, 2, 2, 2, NULL },
		{ 1, 16, 30, 30, 20, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, "Relu" },
		{ 1, 16, 9, 9, 13, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, "Relu" },
		{ 2, 6, 11, 10, 4, 2, 3, 2, 2, 1, 1, 2, 1, 0, 0, 1, NULL },
		{ 1, 3, 23, 23, 8, 1, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, NULL },
		/* depthwise on MobileNet-sized planes, HardSwish in registers */
		{ 1, 19, 7, 7, 19, 19, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, "HardSwish" },
		{ 2, 5, 14, 13, 5, 5, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2, "HardSwish" },
		{ 1, 17, 9, 23, 17, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, "HardSwish" },
		/* narrow planes: a window row in one vector, taps as shifts */
		{ 1, 4, 14, 14, 4, 4, 3, 3, 1, 1, 1, 1, 1, 0, 1, 2, "Relu" },
		{ 2, 5, 8, 8, 5, 5, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, "Relu" },
		{ 1, 6, 6, 5, 6, 6, 3, 3, 2, 1, 1, 1, 0, 1, 1, 0, NULL },
		{ 3, 3, 7, 7, 3, 3, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, "HardSwish" },
		/* 1x1 images: the matrix-vector path (squeeze-excitation) */
		{ 2, 75, 1, 1, 37, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, "Relu" },
		{ 1, 700, 1, 1, 300, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, NULL },
		{ 3, 12, 1, 1, 6, 3, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, NULL },
	};
	threadpool *tp;

	(void)state;
	assert_null(threadpool_create(2, &tp));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_conv_case(&cases[i], NULL);
		run_conv_case(&cases[i], tp);
	}
	threadpool_destroy(tp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(same_lower_puts_the_odd_pad_first),
		cmocka_unit_test(ceil_mode_drops_a_window_that_starts_in_the_end_pad),
		cmocka_unit_test(conv_transpose_output_shape_sets_negative_end_pad),
		cmocka_unit_test(bad_pads_count_is_an_invalid_model),
		cmocka_unit_test(conv_infer_leaves_unknown_rank_unknown),
		cmocka_unit_test(conv_on_float64_is_unsupported),
		cmocka_unit_test(conv_paths_match_naive_convolution),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
