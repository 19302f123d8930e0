/* SPDX-License-Identifier: MIT */
/*
 * loss.c - CPU kernels of SoftmaxCrossEntropyLoss and
 * NegativeLogLikelihoodLoss. Both view the input as (N, C, D) and the
 * target as (N, D); the softmax one first takes log-softmax over C.
 * Arithmetic is in double; "mean" divides by the sum of the weights of the
 * targets that are not ignored, like the ONNX reference.
 */
#include "cpu/reduce.h"

#include <math.h>
#include <stdlib.h>

typedef struct loss_args {
	const accel_tensor *x, *target, *weight;
	int64_t n, c, d;
	bool has_ii;
	int64_t ii;
	int reduction;
} loss_args;

/* log(sum(exp(x[n, :, d]))) for every (n, d). */
static accel_status log_sum_exp(const loss_args *a, double **out_lse)
{
	int64_t cnt = a->n * a->d;
	double *lse = malloc(sizeof(double) * (size_t)(cnt > 0 ? cnt : 1));

	if (!lse)
		return status_oom("log-softmax scratch");
	for (int64_t n = 0; n < a->n; n++)
		for (int64_t d = 0; d < a->d; d++) {
			int64_t b = n * a->c * a->d + d;
			double mx = -INFINITY, s = 0;

			for (int64_t c = 0; c < a->c; c++) {
				double v = tensor_get_f64(a->x, b + c * a->d);

				mx = v > mx ? v : mx;
			}
			for (int64_t c = 0; c < a->c; c++)
				s += exp(tensor_get_f64(a->x, b + c * a->d) - mx);
			lse[n * a->d + d] = mx + log(s);
		}
	*out_lse = lse;
	return NULL;
}

static accel_status loss_run(const loss_args *a, const double *lse,
			     accel_tensor *y)
{
	double total = 0, wsum = 0;

	for (int64_t n = 0; n < a->n; n++)
		for (int64_t d = 0; d < a->d; d++) {
			int64_t e = n * a->d + d, t = tensor_get_i64(a->target, e);
			double loss = 0, w = 0;

			if (!a->has_ii || t != a->ii) {
				if (t < 0 || t >= a->c)
					return status_invalid("target value %lld is outside [0, %lld)",
							      (long long)t, (long long)a->c);
				w = a->weight ? tensor_get_f64(a->weight, t) : 1;
				loss = -tensor_get_f64(a->x, (n * a->c + t) * a->d + d);
				if (lse)
					loss += lse[e];
				loss *= w;
			}
			if (a->reduction == 0)
				tensor_set_f64(y, e, loss);
			total += loss;
			wsum += w;
		}
	if (a->reduction == 1)
		tensor_set_f64(y, 0, total);
	else if (a->reduction == 2)
		tensor_set_f64(y, 0, total / wsum);
	return NULL;
}

static accel_status loss_exec(const cpu_ctx *ctx, accel_tensor *const *in,
			      int n_in, accel_tensor *const *out, int n_out,
			      bool softmax)
{
	const ir_attr *ii = ir_node_attr(ctx->node, "ignore_index");
	loss_args a = { .x = in[0], .target = in[1],
			.weight = n_in > 2 ? in[2] : NULL,
			.has_ii = ii != NULL, .ii = ii ? ii->i : 0 };
	double *lse = NULL;
	accel_status st;

	ACCEL_TRY(loss_reduction(ctx->node, &a.reduction));
	a.n = a.x->dims[0];
	a.c = a.x->dims[1];
	a.d = a.n > 0 && a.c > 0 ? tensor_numel(a.x) / (a.n * a.c) : 0;
	if (a.weight && tensor_numel(a.weight) != a.c)
		return status_invalid("input 'weight' has %lld elements, C is %lld",
				      (long long)tensor_numel(a.weight), (long long)a.c);
	if (softmax)
		ACCEL_TRY(log_sum_exp(&a, &lse));
	st = loss_run(&a, lse, out[0]);
	if (!st && softmax && n_out > 1 && out[1]) {
		for (int64_t n = 0; n < a.n; n++)
			for (int64_t c = 0; c < a.c; c++)
				for (int64_t d = 0; d < a.d; d++) {
					int64_t e = (n * a.c + c) * a.d + d;

					tensor_set_f64(out[1], e, tensor_get_f64(a.x, e) -
						       lse[n * a.d + d]);
				}
	}
	free(lse);
	return st;
}

RD_KERNEL(rd_sce_loss)
{
	return loss_exec(ctx, in, n_in, out, n_out, true);
}

RD_KERNEL(rd_nll_loss)
{
	return loss_exec(ctx, in, n_in, out, n_out, false);
}
