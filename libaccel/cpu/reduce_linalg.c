/* SPDX-License-Identifier: MIT */
/*
 * reduce_linalg.c - CPU kernels of Einsum, Det and the window generators
 * (HannWindow, HammingWindow, BlackmanWindow).
 */
#include "cpu/gemm.h"
#include "cpu/reduce.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- Einsum: a direct sum over the contracted labels ---- */

typedef struct einsum_job {
	const einsum_plan *p;
	accel_tensor *const *in;
	accel_tensor *y;
	int n_sum;
	int sum_label[EINSUM_MAX_LABELS];
	/* stride[op][label]: elements to step operand op along label */
	int64_t stride[EINSUM_MAX_OPS][EINSUM_MAX_LABELS];
	int64_t n_terms; /* product of contracted sizes */
} einsum_job;

static inline double read_elem(const accel_tensor *t, int64_t i)
{
	if (t->dtype == ACCEL_DTYPE_F32)
		return ((const float *)t->data)[i];
	if (t->dtype == ACCEL_DTYPE_F64)
		return ((const double *)t->data)[i];
	return tensor_get_f64(t, i);
}

static void einsum_chunk(void *arg, int64_t begin, int64_t end)
{
	const einsum_job *j = arg;
	const einsum_plan *p = j->p;

	for (int64_t o = begin; o < end; o++) {
		int64_t off[EINSUM_MAX_OPS] = { 0 }, idx[EINSUM_MAX_LABELS] = { 0 };
		int64_t rem = o;
		double acc = 0;

		for (int i = p->out_rank - 1; i >= 0; i--) {
			int l = p->out_label[i];
			int64_t c = rem % p->size[l];

			rem /= p->size[l];
			for (int k = 0; k < p->n_ops; k++)
				off[k] += c * j->stride[k][l];
		}
		for (int64_t t = 0; t < j->n_terms; t++) {
			double v = 1;
			int d;

			for (int k = 0; k < p->n_ops; k++)
				v *= read_elem(j->in[k], off[k]);
			acc += v;
			for (d = j->n_sum - 1; d >= 0; d--) {
				int l = j->sum_label[d];

				for (int k = 0; k < p->n_ops; k++)
					off[k] += j->stride[k][l];
				if (++idx[d] < p->size[l])
					break;
				for (int k = 0; k < p->n_ops; k++)
					off[k] -= j->stride[k][l] * p->size[l];
				idx[d] = 0;
			}
		}
		tensor_set_f64(j->y, o, acc);
	}
}

/*
 * Two float32 operands without diagonals or broadcasting: pack A as
 * [batch, M, K] and B as [batch, K, N] (labels classified by where they
 * occur), run sgemm per batch, and unpack C into the output's label order.
 */
typedef struct einsum_gemm {
	int nb, nm, nn, nk;
	int lb[EINSUM_MAX_LABELS], lm[EINSUM_MAX_LABELS];
	int ln[EINSUM_MAX_LABELS], lk[EINSUM_MAX_LABELS];
	int64_t b, m, n, k;
	const float *a, *bm;
	float *c;
} einsum_gemm;

/* dst[i] = src[offset of the i-th index of |labels| in row-major order]. */
static void gather_labels(const float *src, const int64_t *stride, const int *labels,
			  int n, const int64_t *size, float *dst, int64_t count)
{
	int64_t idx[EINSUM_MAX_LABELS] = { 0 }, off = 0;

	for (int64_t i = 0; i < count; i++) {
		int d;

		dst[i] = src[off];
		for (d = n - 1; d >= 0; d--) {
			int l = labels[d];

			off += stride[l];
			if (++idx[d] < size[l])
				break;
			off -= stride[l] * size[l];
			idx[d] = 0;
		}
	}
}

static void einsum_gemm_chunk(void *arg, int64_t begin, int64_t end)
{
	const einsum_gemm *g = arg;

	for (int64_t b = begin; b < end; b++)
		sgemm(NULL, false, false, g->m, g->n, g->k, 1.0f,
		      g->a + b * g->m * g->k, g->k, g->bm + b * g->k * g->n, g->n,
		      0.0f, g->c + b * g->m * g->n, g->n);
}

static bool einsum_gemm_classify(const einsum_plan *p,
				 accel_tensor *const *in, einsum_gemm *g)
{
	bool use[2][EINSUM_MAX_LABELS] = { { false } }, out[EINSUM_MAX_LABELS] = { false };

	if (p->n_ops != 2 || in[0]->dtype != ACCEL_DTYPE_F32 ||
	    in[1]->dtype != ACCEL_DTYPE_F32)
		return false;
	for (int k = 0; k < 2; k++)
		for (int a = 0; a < in[k]->rank; a++) {
			int l = p->op_label[k][a];

			if (use[k][l] || in[k]->dims[a] != p->size[l])
				return false; /* diagonal or broadcast */
			use[k][l] = true;
		}
	for (int i = 0; i < p->out_rank; i++)
		out[p->out_label[i]] = true;
	memset(g, 0, sizeof(*g));
	g->b = g->m = g->n = g->k = 1;
	for (int l = 0; l < p->n_labels; l++) {
		if (use[0][l] && use[1][l] && out[l]) {
			g->lb[g->nb++] = l;
			g->b *= p->size[l];
		} else if (use[0][l] && out[l]) {
			g->lm[g->nm++] = l;
			g->m *= p->size[l];
		} else if (use[1][l] && out[l]) {
			g->ln[g->nn++] = l;
			g->n *= p->size[l];
		} else if (use[0][l] && use[1][l]) {
			g->lk[g->nk++] = l;
			g->k *= p->size[l];
		} else if (use[0][l] || use[1][l]) {
			return false; /* summed in one operand only */
		}
	}
	return true;
}

/* Stride of every label in operand |k| (0 for labels it lacks). */
static void label_strides(const einsum_plan *p, const accel_tensor *t, int k,
			  int64_t *stride)
{
	int64_t st[ACCEL_MAX_RANK];

	memset(stride, 0, sizeof(int64_t) * EINSUM_MAX_LABELS);
	dims_strides(t->rank, t->dims, st);
	for (int a = 0; a < t->rank; a++)
		stride[p->op_label[k][a]] = st[a];
}

static accel_status einsum_gemm_run(const cpu_ctx *ctx, const einsum_plan *p,
				    accel_tensor *const *in, accel_tensor *y,
				    einsum_gemm *g)
{
	int64_t st[EINSUM_MAX_LABELS], na = g->b * g->m * g->k;
	int64_t nbm = g->b * g->k * g->n, nc = g->b * g->m * g->n;
	int la[3 * EINSUM_MAX_LABELS], n_la = 0;
	float *buf = malloc(sizeof(float) * (size_t)(na + nbm + nc + 1));
	accel_status status = NULL;

	if (!buf)
		return status_oom("Einsum operands");
	/* A as [batch, M, K] */
	memcpy(la, g->lb, sizeof(int) * (size_t)g->nb);
	memcpy(la + g->nb, g->lm, sizeof(int) * (size_t)g->nm);
	memcpy(la + g->nb + g->nm, g->lk, sizeof(int) * (size_t)g->nk);
	n_la = g->nb + g->nm + g->nk;
	label_strides(p, in[0], 0, st);
	gather_labels(in[0]->data, st, la, n_la, p->size, buf, na);
	/* B as [batch, K, N] */
	memcpy(la + g->nb, g->lk, sizeof(int) * (size_t)g->nk);
	memcpy(la + g->nb + g->nk, g->ln, sizeof(int) * (size_t)g->nn);
	n_la = g->nb + g->nk + g->nn;
	label_strides(p, in[1], 1, st);
	gather_labels(in[1]->data, st, la, n_la, p->size, buf + na, nbm);
	g->a = buf;
	g->bm = buf + na;
	g->c = buf + na + nbm;
	if (g->b > 1 && g->m * g->n * g->k < (1 << 18))
		parallel_for(ctx->pool, g->b, 1, einsum_gemm_chunk, g);
	else
		for (int64_t b = 0; b < g->b && !status; b++)
			status = sgemm(ctx->pool, false, false, g->m, g->n, g->k,
				       1.0f, g->a + b * g->m * g->k, g->k,
				       g->bm + b * g->k * g->n, g->n, 0.0f,
				       g->c + b * g->m * g->n, g->n);
	if (!status) {
		/* C is [batch, M, N]: read it back in output label order. */
		int64_t s = 1;

		memcpy(la + g->nb, g->lm, sizeof(int) * (size_t)g->nm);
		memcpy(la + g->nb + g->nm, g->ln, sizeof(int) * (size_t)g->nn);
		for (int i = g->nb + g->nm + g->nn - 1; i >= 0; i--) {
			st[la[i]] = s;
			s *= p->size[la[i]];
		}
		gather_labels(g->c, st, p->out_label, p->out_rank, p->size,
			      y->data, nc);
	}
	free(buf);
	return status;
}

RD_KERNEL(rd_einsum)
{
	const char *eq = ir_attr_string(ctx->node, "equation", NULL);
	einsum_plan p;
	einsum_job *j;
	bool in_out[EINSUM_MAX_LABELS] = { false };
	int64_t n_y = tensor_numel(out[0]);

	if (!eq)
		return status_bad_model("attribute 'equation' is missing");
	ACCEL_TRY(einsum_parse(eq, in, n_in, &p));
	if (out[0]->dtype == ACCEL_DTYPE_F32 && n_y > 0) {
		einsum_gemm g;

		if (einsum_gemm_classify(&p, in, &g))
			return einsum_gemm_run(ctx, &p, in, out[0], &g);
	}
	j = calloc(1, sizeof(*j));
	if (!j)
		return status_oom("Einsum plan");
	j->p = &p;
	j->in = in;
	j->y = out[0];
	for (int k = 0; k < n_in; k++) {
		int64_t st[ACCEL_MAX_RANK];

		dims_strides(in[k]->rank, in[k]->dims, st);
		for (int a = 0; a < in[k]->rank; a++) {
			int l = p.op_label[k][a];

			/* Broadcast size-1 dims get stride 0; repeated labels
			 * (diagonals) add their strides. */
			if (in[k]->dims[a] != 1 || p.size[l] == 1)
				j->stride[k][l] += st[a];
		}
	}
	for (int i = 0; i < p.out_rank; i++)
		in_out[p.out_label[i]] = true;
	j->n_terms = 1;
	for (int l = 0; l < p.n_labels; l++)
		if (!in_out[l]) {
			j->sum_label[j->n_sum++] = l;
			j->n_terms *= p.size[l];
		}
	parallel_for(ctx->pool, n_y, 1 + 16384 / (j->n_terms * n_in + 1),
		     einsum_chunk, j);
	free(j);
	return NULL;
}

/* ---- Det: LU with partial pivoting per matrix ---- */

static double det_one(double *a, int64_t n)
{
	double det = 1;

	for (int64_t c = 0; c < n; c++) {
		int64_t piv = c;

		for (int64_t r = c + 1; r < n; r++)
			if (fabs(a[r * n + c]) > fabs(a[piv * n + c]))
				piv = r;
		if (a[piv * n + c] == 0)
			return 0;
		if (piv != c) {
			for (int64_t k = 0; k < n; k++) {
				double t = a[c * n + k];

				a[c * n + k] = a[piv * n + k];
				a[piv * n + k] = t;
			}
			det = -det;
		}
		det *= a[c * n + c];
		for (int64_t r = c + 1; r < n; r++) {
			double f = a[r * n + c] / a[c * n + c];

			for (int64_t k = c; k < n; k++)
				a[r * n + k] -= f * a[c * n + k];
		}
	}
	return det;
}

RD_KERNEL(rd_det)
{
	const accel_tensor *x = in[0];
	int64_t n = x->dims[x->rank - 1], batch = tensor_numel(out[0]);
	double *a = malloc(sizeof(double) * (size_t)(n > 0 ? n * n : 1));

	if (!a)
		return status_oom("Det scratch");
	for (int64_t b = 0; b < batch; b++) {
		for (int64_t i = 0; i < n * n; i++)
			a[i] = tensor_get_f64(x, b * n * n + i);
		tensor_set_f64(out[0], b, det_one(a, n));
	}
	free(a);
	return NULL;
}

/* ---- windows: a0 - a1 cos(2 pi n / N) + a2 cos(4 pi n / N) ---- */

static accel_status window(const cpu_ctx *ctx, accel_tensor *y, double a0,
			   double a1, double a2)
{
	int64_t size = y->dims[0];
	bool periodic = ir_attr_int(ctx->node, "periodic", 1) != 0;
	double len = (double)(periodic ? size : size - 1);

	for (int64_t i = 0; i < size; i++) {
		double t = 2 * M_PI * (double)i / len;

		tensor_set_f64(y, i, a0 - a1 * cos(t) + a2 * cos(2 * t));
	}
	return NULL;
}

RD_KERNEL(rd_hann)
{
	return window(ctx, out[0], 0.5, 0.5, 0);
}

RD_KERNEL(rd_hamming)
{
	return window(ctx, out[0], 25.0 / 46, 21.0 / 46, 0);
}

RD_KERNEL(rd_blackman)
{
	return window(ctx, out[0], 0.42, 0.5, 0.08);
}
