/* SPDX-License-Identifier: MIT */
/*
 * test_fused.c - the "com.accel" fused kernels and what they ride on: the
 * vectorized activations against libm, the SGEMM epilogue (bias, residual,
 * activation) on every GEMM path, and FusedConv / FusedGemm / FusedMatMul
 * (with and without weights packed by prepare()) against naive loops.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "node_builder.h"

#include "cpu/act.h"
#include "cpu/gemm.h"
#include "cpu/kernel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- references ---- */

static const char *const act_names[] = {
	NULL, "Relu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish",
	"LeakyRelu", "Silu", "Gelu", "GeluTanh",
};
#define N_ACTS (sizeof(act_names) / sizeof(act_names[0]))

static double ref_act(const char *name, double x)
{
	if (!name)
		return x;
	if (!strcmp(name, "Relu"))
		return x < 0 ? 0 : x;
	if (!strcmp(name, "Clip"))
		return x < -0.5 ? -0.5 : x > 0.75 ? 0.75 : x;
	if (!strcmp(name, "Sigmoid"))
		return 1 / (1 + exp(-x));
	if (!strcmp(name, "HardSigmoid"))
		return fmax(0, fmin(1, 0.2 * x + 0.5));
	if (!strcmp(name, "HardSwish"))
		return x * fmax(0, fmin(1, x / 6 + 0.5));
	if (!strcmp(name, "LeakyRelu"))
		return x < 0 ? 0.01 * x : x;
	if (!strcmp(name, "Silu"))
		return x / (1 + exp(-x));
	if (!strcmp(name, "Gelu"))
		return 0.5 * x * (1 + erf(x / sqrt(2.0)));
	/* GeluTanh */
	return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

static bool close_to(double want, double got, double tol)
{
	return fabs(want - got) <= tol * (1 + fabs(want));
}

static float frand(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float *frands(int64_t n, unsigned seed)
{
	float *p = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));

	for (int64_t i = 0; i < n; i++)
		p[i] = frand(&seed);
	return p;
}

/* ---- nodes by hand ---- */

/* The activation attributes that ref_act() expects for |name|. */
static void node_act(test_node *t, const char *name)
{
	if (!name)
		return;
	if (!strcmp(name, "GeluTanh")) {
		node_string(t, "activation", "Gelu");
		node_string(t, "activation_approximate", "tanh");
		return;
	}
	node_string(t, "activation", name);
	if (!strcmp(name, "Clip")) {
		node_float(t, "activation_min", -0.5f);
		node_float(t, "activation_max", 0.75f);
	}
}

static accel_tensor *ftensor(int rank, const int64_t *dims, unsigned seed)
{
	accel_tensor *t;

	assert_null(tensor_new(ACCEL_DTYPE_F32, rank, dims, &t));
	for (int64_t i = 0; i < tensor_numel(t); i++)
		((float *)t->data)[i] = frand(&seed);
	return t;
}

static void act_of(const char *name, cpu_act *out)
{
	test_node t;

	node_init(&t, "FusedGemm", "com.accel", 17);
	node_act(&t, name);
	assert_null(cpu_act_from_node(&t.node, out));
}

/* ---- activations ---- */

static void activations_match_libm(void **state)
{
	enum { N = 1203 };
	float *x = malloc(sizeof(float) * N), *y = malloc(sizeof(float) * N);

	(void)state;
	for (size_t a = 0; a < N_ACTS; a++) {
		cpu_act act;

		act_of(act_names[a], &act);
		/* [-30, 30] densely, then the tails where exp saturates. */
		for (int i = 0; i < N; i++)
			x[i] = y[i] = i < N - 3 ? -30.0f + 60.0f * (float)i / (N - 4) :
				      (float)(i - N + 2) * 200.0f;
		cpu_act_row(&act, y, N); /* N is odd: the tail lanes too */
		for (int i = 0; i < N; i++)
			if (!close_to(ref_act(act_names[a], x[i]), y[i], 2e-6)) {
				fprintf(stderr, "%s(%g): expected %.9g got %.9g\n",
					act_names[a] ? act_names[a] : "identity",
					x[i], ref_act(act_names[a], x[i]), y[i]);
				fail();
			}
	}
	free(x);
	free(y);
}

static void unknown_activation_is_unsupported(void **state)
{
	test_node t;
	cpu_act act;
	accel_status st;

	(void)state;
	node_init(&t, "FusedConv", "com.accel", 17);
	node_string(&t, "activation", "Softplus");
	st = cpu_act_from_node(&t.node, &act);
	assert_int_equal(accel_status_code_of(st), ACCEL_UNSUPPORTED);
	accel_status_free(st);
}

/* ---- the SGEMM epilogue on every path ---- */

static void check_epilogue(threadpool *tp, bool tb, int64_t m, int64_t n,
			   int64_t k, float beta, const char *act, bool packed)
{
	int64_t ldc = n + 3, ldz = n + 5;
	float *a = frands(m * k, 1), *b = frands(k * n, 2);
	float *c = frands(m * ldc, 3), *z = frands(m * ldz, 4);
	float *rb = frands(m, 5), *cb = frands(n, 6), *c0 = frands(m * ldc, 3);
	sgemm_epilogue epi = { .row_bias = rb, .col_bias = cb, .z = z, .ldz = ldz };
	float *bp = NULL;

	act_of(act, &epi.act);
	if (packed) {
		bp = aligned_alloc(64, sizeof(float) *
					       (size_t)sgemm_packed_b_floats(n, k));
		sgemm_pack_b(tp, tb, n, k, b, tb ? k : n, bp);
		assert_null(sgemm_packed_b(tp, false, m, n, k, 1.0f, a, k, bp,
					   beta, c, ldc, &epi));
	} else {
		assert_null(sgemm_epi(tp, false, tb, m, n, k, 1.0f, a, k, b,
				      tb ? k : n, beta, c, ldc, &epi));
	}
	for (int64_t i = 0; i < m; i++)
		for (int64_t j = 0; j < n; j++) {
			double s = 0;

			for (int64_t p = 0; p < k; p++)
				s += (double)a[i * k + p] *
				     (tb ? b[j * k + p] : b[p * n + j]);
			s += rb[i] + cb[j] + z[i * ldz + j] +
			     (beta != 0.0f ? beta * c0[i * ldc + j] : 0.0);
			s = ref_act(act, s);
			if (!close_to(s, c[i * ldc + j], 1e-4 * (1 + sqrt((double)k)))) {
				fprintf(stderr, "epilogue m=%lld n=%lld k=%lld tb=%d %s packed=%d (%lld,%lld): expected %g got %g\n",
					(long long)m, (long long)n, (long long)k,
					tb, act ? act : "-", packed, (long long)i,
					(long long)j, s, c[i * ldc + j]);
				fail();
			}
		}
	free(a);
	free(b);
	free(c);
	free(c0);
	free(z);
	free(rb);
	free(cb);
	free(bp);
}

static void sgemm_epilogue_matches_naive_on_every_path(void **state)
{
	/* gemv (m < MR/2), B in place (m <= 64), packed B, K > one slice. */
	static const int64_t dims[][3] = {
		{ 1, 37, 20 }, { 2, 100, 300 }, { 13, 33, 257 }, { 40, 64, 64 },
		{ 100, 129, 600 }, { 77, 31, 5 },
	};
	static const char *const acts[] = { NULL, "Relu", "Sigmoid", "Gelu" };
	threadpool *tp;

	(void)state;
	assert_null(threadpool_create(2, &tp));
	for (size_t d = 0; d < sizeof(dims) / sizeof(dims[0]); d++)
		for (size_t a = 0; a < sizeof(acts) / sizeof(acts[0]); a++)
			for (int v = 0; v < 4; v++)
				check_epilogue(v & 1 ? tp : NULL, v & 2, dims[d][0],
					       dims[d][1], dims[d][2],
					       a & 1 ? 0.5f : 0.0f, acts[a], false);
	for (size_t d = 0; d < sizeof(dims) / sizeof(dims[0]); d++)
		for (int v = 0; v < 2; v++)
			check_epilogue(tp, v, dims[d][0], dims[d][1], dims[d][2],
				       0.0f, "HardSwish", true);
	/* The epilogue in each micro-kernel variant the CPU runs. */
	for (int i = 0; i < sgemm_isa_count(); i++) {
		if (!sgemm_isa_supported(i))
			continue;
		assert_null(sgemm_isa_force(sgemm_isa_name(i)));
		for (size_t d = 0; d < sizeof(dims) / sizeof(dims[0]); d++)
			for (int v = 0; v < 2; v++)
				check_epilogue(tp, v, dims[d][0], dims[d][1],
					       dims[d][2], 0.5f, acts[d % 4], v);
	}
	assert_null(sgemm_isa_force(NULL));
	threadpool_destroy(tp);
}

/* ---- FusedConv ---- */

typedef struct conv_case {
	int64_t n, c, h, w, m, group, kh, kw, s, pad;
	const char *act;
	bool residual;
} conv_case;

static void run_fused_conv(const conv_case *cc, threadpool *tp, bool prepared)
{
	const cpu_kernel *k = cpu_kernel_find("com.accel", "FusedConv");
	int64_t oh = (cc->h + 2 * cc->pad - cc->kh) / cc->s + 1;
	int64_t ow = (cc->w + 2 * cc->pad - cc->kw) / cc->s + 1;
	int64_t xd[4] = { cc->n, cc->c, cc->h, cc->w };
	int64_t wd[4] = { cc->m, cc->c / cc->group, cc->kh, cc->kw };
	int64_t bd[1] = { cc->m }, yd[4] = { cc->n, cc->m, oh, ow };
	int64_t st[2] = { cc->s, cc->s }, pads[4] = { cc->pad, cc->pad, cc->pad, cc->pad };
	accel_tensor *x = ftensor(4, xd, 1), *w = ftensor(4, wd, 2);
	accel_tensor *b = ftensor(1, bd, 3), *z = ftensor(4, yd, 4), *y;
	accel_tensor *in[4] = { x, w, b, z }, *out[1];
	int64_t cg = cc->c / cc->group, mg = cc->m / cc->group;
	const float *xv = x->data, *wv = w->data, *bv = b->data, *zv = z->data;
	test_node t;
	cpu_ctx ctx = { 0 };

	assert_non_null(k);
	assert_null(tensor_new(ACCEL_DTYPE_F32, 4, yd, &y));
	out[0] = y;
	node_init(&t, "FusedConv", "com.accel", 17);
	node_int(&t, "group", cc->group);
	node_ints(&t, "strides", 2, st);
	node_ints(&t, "pads", 4, pads);
	node_act(&t, cc->act);
	ctx.node = &t.node;
	ctx.pool = tp;
	if (prepared) {
		/* W and B constant: what a session's prepare() would see. */
		accel_tensor *cin[4] = { NULL, w, b, NULL };

		assert_null(k->prepare(&ctx, cin, cc->residual ? 4 : 3, &ctx.state));
	}
	assert_null(k->exec(&ctx, in, cc->residual ? 4 : 3, out, 1));
	if (ctx.state)
		k->release(ctx.state);
	for (int64_t i = 0; i < tensor_numel(y); i++) {
		int64_t ox = i % ow, oy = i / ow % oh, m = i / (ow * oh) % cc->m;
		int64_t n = i / (ow * oh * cc->m), g = m / mg;
		double s = bv[m] + (cc->residual ? zv[i] : 0.0);

		for (int64_t c = 0; c < cg; c++)
			for (int64_t ky = 0; ky < cc->kh; ky++)
				for (int64_t kx = 0; kx < cc->kw; kx++) {
					int64_t iy = oy * cc->s - cc->pad + ky;
					int64_t ix = ox * cc->s - cc->pad + kx;

					if (iy < 0 || iy >= cc->h || ix < 0 || ix >= cc->w)
						continue;
					s += (double)xv[((n * cc->c + g * cg + c) * cc->h + iy) *
							cc->w + ix] *
					     wv[((m * cg + c) * cc->kh + ky) * cc->kw + kx];
				}
		s = ref_act(cc->act, s);
		if (!close_to(s, ((float *)y->data)[i], 1e-4)) {
			fprintf(stderr, "FusedConv %lldx%lld g%lld s%lld %s z=%d prepared=%d y[%lld]: expected %g got %g\n",
				(long long)cc->kh, (long long)cc->kw,
				(long long)cc->group, (long long)cc->s,
				cc->act ? cc->act : "-", cc->residual, prepared,
				(long long)i, s, ((float *)y->data)[i]);
			fail();
		}
	}
	accel_tensor_release(x);
	accel_tensor_release(w);
	accel_tensor_release(b);
	accel_tensor_release(z);
	accel_tensor_release(y);
}

static void fused_conv_adds_residual_before_activation(void **state)
{
	static const conv_case cases[] = {
		/* n  c   h   w   m  grp kh kw s pad */
		{ 1, 8, 13, 40, 8, 8, 3, 3, 1, 1, "Relu", true },	  /* depthwise */
		{ 2, 6, 17, 37, 12, 6, 3, 3, 2, 1, "HardSwish", true }, /* dw, s2 */
		{ 1, 6, 7, 7, 6, 6, 5, 5, 1, 2, "HardSwish", true },	  /* dw 5x5 7x7 */
		{ 2, 40, 1, 1, 24, 1, 1, 1, 1, 0, "Sigmoid", true },	  /* 1x1 images */
		{ 1, 16, 30, 30, 20, 1, 3, 3, 1, 1, "Relu", true },	  /* implicit */
		{ 1, 16, 30, 30, 20, 1, 3, 3, 1, 1, "Silu", false },
		{ 1, 16, 9, 9, 13, 1, 1, 1, 1, 0, "Clip", true },	  /* pointwise */
		{ 1, 64, 56, 56, 64, 1, 1, 1, 1, 0, "Sigmoid", true },
		{ 1, 3, 23, 23, 8, 1, 7, 7, 2, 3, "Gelu", true },	  /* im2col */
		{ 2, 32, 8, 8, 16, 2, 3, 3, 2, 1, NULL, true },	  /* groups */
		{ 2, 16, 12, 12, 40, 1, 3, 3, 1, 1, "Clip", false },	  /* batch 2 */
		{ 1, 24, 10, 10, 48, 1, 3, 3, 2, 1, "Relu", false },
	};
	threadpool *tp;

	(void)state;
	assert_null(threadpool_create(2, &tp));
	/* prepared: where the build has oneDNN, the convolutions it takes. */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (int prepared = 0; prepared < 2; prepared++) {
			run_fused_conv(&cases[i], NULL, prepared);
			run_fused_conv(&cases[i], tp, prepared);
		}
	threadpool_destroy(tp);
}

/* ---- FusedMatMul and FusedGemm, with and without prepare() ---- */

/* Runs |k| on |in| twice: plain, then with prepare()'s state from in[1]. */
static void exec_both(const cpu_kernel *k, cpu_ctx *ctx, accel_tensor **in,
		      int n_in, accel_tensor *y, float *first)
{
	accel_tensor *cin[3] = { NULL, in[1], NULL };
	void *state = NULL;

	ctx->state = NULL;
	assert_null(k->exec(ctx, in, n_in, &y, 1));
	memcpy(first, y->data, y->nbytes);
	memset(y->data, 0, y->nbytes);
	assert_non_null(k->prepare);
	assert_null(k->prepare(ctx, cin, n_in, &state));
	ctx->state = state;
	assert_null(k->exec(ctx, in, n_in, &y, 1));
	if (k->release)
		k->release(state);
	ctx->state = NULL;
}

static void fused_matmul_adds_bias_then_activation(void **state)
{
	static const int64_t shapes[][4] = {
		/* batch, m, k, n (B 2-D), then batched B */
		{ 1, 128, 384, 96 }, { 3, 5, 17, 33 }, { 2, 1, 64, 20 },
	};
	const cpu_kernel *k = cpu_kernel_find("com.accel", "FusedMatMul");
	threadpool *tp;

	(void)state;
	assert_non_null(k);
	assert_null(threadpool_create(2, &tp));
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
		for (int batched_b = 0; batched_b < 2; batched_b++) {
			int64_t nb = shapes[s][0], m = shapes[s][1];
			int64_t kk = shapes[s][2], n = shapes[s][3];
			int64_t ad[3] = { nb, m, kk }, bd3[3] = { nb, kk, n };
			int64_t yd[3] = { nb, m, n }, cd[1] = { n };
			accel_tensor *a = ftensor(3, ad, 1), *bias = ftensor(1, cd, 3);
			accel_tensor *b = batched_b ? ftensor(3, bd3, 2) :
						      ftensor(2, bd3 + 1, 2);
			accel_tensor *y, *in[3] = { a, b, bias };
			const float *av = a->data, *bv = b->data, *cv = bias->data;
			float *first;
			test_node t;
			cpu_ctx ctx = { 0 };

			assert_null(tensor_new(ACCEL_DTYPE_F32, 3, yd, &y));
			first = malloc(y->nbytes);
			node_init(&t, "FusedMatMul", "com.accel", 17);
			node_act(&t, "Gelu");
			ctx.node = &t.node;
			ctx.pool = tp;
			exec_both(k, &ctx, in, 3, y, first);
			for (int64_t i = 0; i < tensor_numel(y); i++) {
				int64_t j = i % n, r = i / n % m, q = i / (n * m);
				const float *bq = bv + (batched_b ? q * kk * n : 0);
				double sum = cv[j];

				for (int64_t p = 0; p < kk; p++)
					sum += (double)av[(q * m + r) * kk + p] *
					       bq[p * n + j];
				sum = ref_act("Gelu", sum);
				if (!close_to(sum, first[i], 1e-4) ||
				    !close_to(sum, ((float *)y->data)[i], 1e-4)) {
					fprintf(stderr, "FusedMatMul %lldx%lldx%lldx%lld y[%lld]: expected %g got %g / %g (prepared)\n",
						(long long)nb, (long long)m,
						(long long)kk, (long long)n,
						(long long)i, sum, first[i],
						((float *)y->data)[i]);
					fail();
				}
			}
			free(first);
			accel_tensor_release(a);
			accel_tensor_release(b);
			accel_tensor_release(bias);
			accel_tensor_release(y);
		}
	threadpool_destroy(tp);
}

static void fused_gemm_applies_activation_after_beta_c(void **state)
{
	static const int64_t shapes[][3] = { { 1, 1000, 512 }, { 70, 50, 300 } };
	const cpu_kernel *k = cpu_kernel_find("com.accel", "FusedGemm");
	threadpool *tp;

	(void)state;
	assert_non_null(k);
	assert_null(threadpool_create(2, &tp));
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		int64_t m = shapes[s][0], n = shapes[s][1], kk = shapes[s][2];
		int64_t ad[2] = { m, kk }, bd[2] = { n, kk }, cd[1] = { n };
		int64_t yd[2] = { m, n };
		accel_tensor *a = ftensor(2, ad, 1), *b = ftensor(2, bd, 2);
		accel_tensor *c = ftensor(1, cd, 3), *y, *in[3] = { a, b, c };
		const float *av = a->data, *bv = b->data, *cv = c->data;
		float *first;
		test_node t;
		cpu_ctx ctx = { 0 };

		assert_null(tensor_new(ACCEL_DTYPE_F32, 2, yd, &y));
		first = malloc(y->nbytes);
		node_init(&t, "FusedGemm", "com.accel", 17);
		node_int(&t, "transB", 1);
		node_float(&t, "alpha", 0.5f);
		node_float(&t, "beta", 2.0f);
		node_act(&t, "LeakyRelu");
		ctx.node = &t.node;
		ctx.pool = tp;
		exec_both(k, &ctx, in, 3, y, first);
		for (int64_t i = 0; i < m * n; i++) {
			int64_t j = i % n, r = i / n;
			double sum = 0;

			for (int64_t p = 0; p < kk; p++)
				sum += (double)av[r * kk + p] * bv[j * kk + p];
			sum = ref_act("LeakyRelu", 0.5 * sum + 2.0 * cv[j]);
			if (!close_to(sum, first[i], 1e-4) ||
			    !close_to(sum, ((float *)y->data)[i], 1e-4)) {
				fprintf(stderr, "FusedGemm %lldx%lldx%lld y[%lld]: expected %g got %g / %g (prepared)\n",
					(long long)m, (long long)n, (long long)kk,
					(long long)i, sum, first[i],
					((float *)y->data)[i]);
				fail();
			}
		}
		free(first);
		accel_tensor_release(a);
		accel_tensor_release(b);
		accel_tensor_release(c);
		accel_tensor_release(y);
	}
	threadpool_destroy(tp);
}

/* ---- FusedAttention ---- */

typedef struct attn_case {
	int rank;
	int64_t q[4], k[4], v[4]; /* input dims (before perm_*) */
	int64_t pq[4], pk[4], pv[4], po[4]; /* perms; pq[0] < 0: none */
	int mask_rank;
	int64_t mask[4];
} attn_case;

/* Element |idx| (logical, after |perm|) of contiguous |t|. */
static double at_perm(const accel_tensor *t, const int64_t *perm,
		      const int64_t *idx)
{
	int64_t src[4], off = 0;

	for (int a = 0; a < t->rank; a++)
		src[perm[0] < 0 ? a : perm[a]] = idx[a];
	for (int d = 0; d < t->rank; d++)
		off = off * t->dims[d] + src[d];
	return ((const float *)t->data)[off];
}

static void perm_dims(const accel_tensor *t, const int64_t *perm, int64_t *d)
{
	for (int a = 0; a < t->rank; a++)
		d[a] = t->dims[perm[0] < 0 ? a : perm[a]];
}

/* softmax(scale * q k + mask) v through the perms, naively, in double. */
static void ref_attention(const attn_case *c, accel_tensor *const *in,
			  float scale, const accel_tensor *y, double *ref)
{
	int r = c->rank;
	int64_t qd[4], kd[4], vd[4], nb = 1, sq, sk, d, dv;
	int64_t noperm[4] = { -1 };

	perm_dims(in[0], c->pq, qd);
	perm_dims(in[1], c->pk, kd);
	perm_dims(in[2], c->pv, vd);
	for (int i = 0; i < r - 2; i++)
		nb *= qd[i];
	sq = qd[r - 2];
	d = qd[r - 1];
	sk = kd[r - 1];
	dv = vd[r - 1];
	for (int64_t b = 0; b < nb; b++)
		for (int64_t i = 0; i < sq; i++) {
			double s[64], mx = -INFINITY, sum = 0;
			int64_t idx[4], yidx[4], ydims[4];

			for (int a = r - 3, bb = (int)b; a >= 0; a--) {
				idx[a] = bb % qd[a];
				bb /= (int)qd[a];
			}
			assert_true(sk <= 64);
			for (int64_t j = 0; j < sk; j++) {
				double acc = 0;

				for (int64_t p = 0; p < d; p++) {
					double qv;

					idx[r - 2] = i;
					idx[r - 1] = p;
					qv = at_perm(in[0], c->pq, idx);
					idx[r - 2] = p;
					idx[r - 1] = j;
					acc += qv * at_perm(in[1], c->pk, idx);
				}
				s[j] = scale * acc;
				if (c->mask_rank >= 0) {
					int64_t mi[4];
					int off = r - c->mask_rank;

					idx[r - 2] = i;
					idx[r - 1] = j;
					for (int a = 0; a < c->mask_rank; a++)
						mi[a] = c->mask[a] == 1 ? 0 : idx[a + off];
					s[j] += at_perm(in[3], noperm, mi);
				}
				mx = fmax(mx, s[j]);
			}
			for (int64_t j = 0; j < sk; j++)
				sum += (s[j] = exp(s[j] - mx));
			for (int64_t e = 0; e < dv; e++) {
				double acc = 0;
				int64_t off = 0;

				for (int64_t j = 0; j < sk; j++) {
					idx[r - 2] = j;
					idx[r - 1] = e;
					acc += s[j] / sum * at_perm(in[2], c->pv, idx);
				}
				/* Y = Transpose(y', po): y' index -> Y offset */
				idx[r - 2] = i;
				idx[r - 1] = e;
				for (int a = 0; a < r; a++) {
					int src = c->po[0] < 0 ? a : (int)c->po[a];

					yidx[a] = idx[src];
					ydims[a] = y->dims[a];
				}
				for (int a = 0; a < r; a++)
					off = off * ydims[a] + yidx[a];
				ref[off] = acc;
			}
		}
}

static void run_attention(const attn_case *c, threadpool *tp)
{
	const cpu_kernel *k = cpu_kernel_find("com.accel", "FusedAttention");
	const op_schema *sch = op_schema_find("com.accel", "FusedAttention");
	accel_tensor *in[4] = { NULL }, *y, shape = { 0 }, *so = &shape;
	int n_in = c->mask_rank >= 0 ? 4 : 3;
	test_node t;
	cpu_ctx ctx = { 0 };
	op_ctx octx;
	double *ref;

	assert_non_null(k);
	assert_non_null(sch);
	in[0] = ftensor(c->rank, c->q, 11);
	in[1] = ftensor(c->rank, c->k, 12);
	in[2] = ftensor(c->rank, c->v, 13);
	if (n_in == 4)
		in[3] = ftensor(c->mask_rank, c->mask, 14);
	node_init(&t, "FusedAttention", "com.accel", 1);
	node_float(&t, "scale", 0.3f);
	if (c->pq[0] >= 0)
		node_ints(&t, "perm_q", c->rank, c->pq);
	if (c->pk[0] >= 0)
		node_ints(&t, "perm_k", c->rank, c->pk);
	if (c->pv[0] >= 0)
		node_ints(&t, "perm_v", c->rank, c->pv);
	if (c->po[0] >= 0)
		node_ints(&t, "perm_out", c->rank, c->po);
	octx.node = &t.node;
	octx.static_infer = false;
	/* The schema gives Y's shape, as the executor would have it. */
	assert_null(sch->infer(&octx, in, n_in, &so, 1));
	assert_null(tensor_new(ACCEL_DTYPE_F32, shape.rank, shape.dims, &y));
	ref = malloc(sizeof(double) * (size_t)tensor_numel(y));
	ctx.node = &t.node;
	ctx.pool = tp;
	memset(y->data, 0xff, y->nbytes); /* NaN: every element must be written */
	assert_null(k->exec(&ctx, in, n_in, &y, 1));
	ref_attention(c, in, 0.3f, y, ref);
	for (int64_t i = 0; i < tensor_numel(y); i++)
		if (!close_to(ref[i], ((float *)y->data)[i], 1e-4)) {
			fprintf(stderr, "FusedAttention rank %d q %lldx%lld y[%lld]: expected %g got %g\n",
				c->rank, (long long)c->q[c->rank - 2],
				(long long)c->q[c->rank - 1], (long long)i,
				ref[i], ((float *)y->data)[i]);
			fail();
		}
	free(ref);
	for (int i = 0; i < n_in; i++)
		accel_tensor_release(in[i]);
	accel_tensor_release(y);
}

/*
 * Odd sizes (37 and 100 query rows: no whole number of row blocks or
 * slices), depth 1, 64 and 80, every mask broadcast, and the perms of
 * exported models.
 */
static void fused_attention_matches_naive(void **state)
{
	static const attn_case cases[] = {
		/* 4-D, k given as [B, H, D, Sk], mask [B, 1, Sq, Sk] */
		{ 4, { 2, 3, 37, 64 }, { 2, 3, 64, 29 }, { 2, 3, 29, 64 },
		  { -1 }, { -1 }, { -1 }, { -1 }, 4, { 2, 1, 37, 29 } },
		/* k as [B, H, Sk, D] through perm_k, D = 1, key mask [Sk] */
		{ 4, { 1, 2, 37, 1 }, { 1, 2, 30, 1 }, { 1, 2, 30, 5 },
		  { -1 }, { 0, 1, 3, 2 }, { -1 }, { -1 }, 1, { 30 } },
		/* torch's layout: [S, H, D] in and out, D = 80, no mask */
		{ 3, { 37, 2, 80 }, { 19, 2, 80 }, { 19, 2, 80 },
		  { 1, 0, 2 }, { 1, 2, 0 }, { 1, 0, 2 }, { 1, 0, 2 }, -1, { 0 } },
		/* 100 rows: a 64-row slice and a partial one (or two tasks) */
		{ 3, { 1, 100, 64 }, { 1, 64, 50 }, { 1, 50, 16 },
		  { -1 }, { -1 }, { -1 }, { -1 }, 3, { 1, 100, 50 } },
		/* q read transposed ([D, Sq] rows), mask [Sq, 1] per query */
		{ 3, { 4, 24, 37 }, { 4, 24, 33 }, { 4, 33, 7 },
		  { 0, 2, 1 }, { -1 }, { -1 }, { -1 }, 2, { 37, 1 } },
	};
	threadpool *tp;

	(void)state;
	assert_null(threadpool_create(2, &tp));
	/* Every GEMM variant this CPU runs (scores and the product with v). */
	for (int isa = 0; isa < sgemm_isa_count(); isa++) {
		if (!sgemm_isa_supported(isa))
			continue;
		assert_null(sgemm_isa_force(sgemm_isa_name(isa)));
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			run_attention(&cases[i], NULL);
			run_attention(&cases[i], tp);
		}
	}
	assert_null(sgemm_isa_force(NULL));
	threadpool_destroy(tp);
}

/* A perm that leaves no contiguous axis among the last two is refused. */
static void fused_attention_refuses_unreadable_layout(void **state)
{
	const cpu_kernel *k = cpu_kernel_find("com.accel", "FusedAttention");
	static const int64_t qd[] = { 4, 5, 2, 3 }, xd[] = { 2, 3, 4, 5 };
	static const int64_t yd[] = { 2, 3, 4, 5 }, pq[] = { 2, 3, 0, 1 };
	accel_tensor *q = ftensor(4, qd, 1), *kt = ftensor(4, (const int64_t[]){ 2, 3, 5, 4 }, 2);
	accel_tensor *v = ftensor(4, xd, 3), *y, *in[3] = { q, kt, v };
	test_node t;
	cpu_ctx ctx = { 0 };
	accel_status st;

	(void)state;
	assert_non_null(k);
	assert_null(tensor_new(ACCEL_DTYPE_F32, 4, yd, &y));
	node_init(&t, "FusedAttention", "com.accel", 1);
	node_ints(&t, "perm_q", 4, pq);
	ctx.node = &t.node;
	st = k->exec(&ctx, in, 3, &y, 1);
	assert_non_null(st);
	assert_int_equal(accel_status_code_of(st), ACCEL_UNSUPPORTED);
	accel_status_free(st);
	accel_tensor_release(q);
	accel_tensor_release(kt);
	accel_tensor_release(v);
	accel_tensor_release(y);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(activations_match_libm),
		cmocka_unit_test(unknown_activation_is_unsupported),
		cmocka_unit_test(sgemm_epilogue_matches_naive_on_every_path),
		cmocka_unit_test(fused_conv_adds_residual_before_activation),
		cmocka_unit_test(fused_matmul_adds_bias_then_activation),
		cmocka_unit_test(fused_gemm_applies_activation_after_beta_c),
		cmocka_unit_test(fused_attention_matches_naive),
		cmocka_unit_test(fused_attention_refuses_unreadable_layout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
