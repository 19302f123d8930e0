/* SPDX-License-Identifier: MIT */
/*
 * nn_kernels.h - private to the CPU nn family: the kernels that live in
 * conv.c, pool.c and norm.c (listed in nn.c's table) and the 3-D view of a
 * sliding window they share.
 */
#ifndef ACCEL_CPU_NN_KERNELS_H
#define ACCEL_CPU_NN_KERNELS_H

#include "cpu/gemm.h"
#include "cpu/kernel.h"
#include "ops/nn_window.h"

#define NN_KERNEL(name)                                                      \
	accel_status name(const cpu_ctx *ctx, accel_tensor *const *in, int n_in, \
			  accel_tensor *const *out, int n_out)

NN_KERNEL(cpu_conv);
NN_KERNEL(cpu_conv_transpose);
NN_KERNEL(cpu_conv_integer);
NN_KERNEL(cpu_qlinear_conv);
NN_KERNEL(cpu_maxpool);
NN_KERNEL(cpu_averagepool);
NN_KERNEL(cpu_lppool);
NN_KERNEL(cpu_maxunpool);
NN_KERNEL(cpu_global_averagepool);
NN_KERNEL(cpu_global_maxpool);
NN_KERNEL(cpu_global_lppool);
NN_KERNEL(cpu_batchnorm);
NN_KERNEL(cpu_instancenorm);
NN_KERNEL(cpu_layernorm);
NN_KERNEL(cpu_rmsnorm);
NN_KERNEL(cpu_groupnorm);
NN_KERNEL(cpu_lrn);
NN_KERNEL(cpu_mvn);
NN_KERNEL(cpu_lpnorm);

/*
 * Gemm and MatMul with an optional epilogue (bias, residual, activation),
 * shared with the fused kernels (fused.c). ctx->state is what
 * nn_packed_prepare() built for the node, or NULL.
 */
typedef struct nn_packed_b {
	int64_t n, k;
	float *bp; /* sgemm_packed_b_floats(n, k), SGEMM's packed layout */
} nn_packed_b;

accel_status nn_packed_prepare(const accel_tensor *b, bool trans_b,
			       nn_packed_b **out_pb);
void nn_packed_release(void *state);
accel_status nn_gemm_run(const cpu_ctx *ctx, accel_tensor *const *in, int n_in,
			 accel_tensor *const *out, const sgemm_epilogue *epi);
accel_status nn_matmul_run(const cpu_ctx *ctx, accel_tensor *const *in,
			   accel_tensor *const *out, const sgemm_epilogue *epi);

/*
 * A window of 1 to 3 spatial dimensions seen as 3-D (depth, height, width),
 * missing leading dimensions having extent 1, so one loop nest serves all.
 */
typedef struct win3 {
	int64_t in[3], out[3], k[3], s[3], d[3], pb[3], pe[3];
	int64_t in_sp, out_sp, k_sp; /* products */
} win3;

static inline accel_status win3_from(const nn_window *w, win3 *g)
{
	int off;

	if (w->nsp > 3)
		return status_unsupported("%d spatial dimensions (at most 3 are implemented)",
					  w->nsp);
	off = 3 - w->nsp;
	for (int i = 0; i < 3; i++) {
		int j = i - off;

		g->in[i] = j >= 0 ? w->in[j] : 1;
		g->out[i] = j >= 0 ? w->out[j] : 1;
		g->k[i] = j >= 0 ? w->k[j] : 1;
		g->s[i] = j >= 0 ? w->s[j] : 1;
		g->d[i] = j >= 0 ? w->d[j] : 1;
		g->pb[i] = j >= 0 ? w->pb[j] : 0;
		g->pe[i] = j >= 0 ? w->pe[j] : 0;
	}
	g->in_sp = g->in[0] * g->in[1] * g->in[2];
	g->out_sp = g->out[0] * g->out[1] * g->out[2];
	g->k_sp = g->k[0] * g->k[1] * g->k[2];
	return NULL;
}

/*
 * Conv through oneDNN (conv_dnnl.c) where the build has it: prepare()
 * keeps per-node state for 2-D, one-group, larger-than-1x1 convolutions
 * with constant weights; exec sets *out_done when it ran the node (else
 * the built-in kernels must). Without oneDNN these do nothing.
 */
accel_status conv_dnnl_prepare(const cpu_ctx *ctx, accel_tensor *const *const_in,
			       int n_in, void **out_state);
void conv_dnnl_release(void *state);
accel_status conv_dnnl_exec(const cpu_ctx *ctx, void *state,
			    accel_tensor *const *in, int n_in,
			    accel_tensor *const *out, const win3 *g,
			    const cpu_act *act, const float *z, bool *out_done);

/*
 * A 2-D plane (win3 with in[0] == 1) padded with |fill| and split by column
 * phase into |rows| x |width| planes, one per x stride phase (conv.c).
 */
/*
 * Phase-plane geometry of a 2-D window: rows and padded width of one plane
 * and each tap's offset into the planes (k[1]*k[2] entries of |off|).
 * Returns the scratch planes (free() them), or NULL when out of memory.
 */
float *nn_phase_setup(const win3 *g, int64_t *out_rows, int64_t *out_width, int64_t *off);
void nn_phase_plane(const win3 *g, const float *x, float fill, float *q,
		    int64_t rows, int64_t width);

/*
 * parallel_for grain giving each chunk at least ~64K operations of work:
 * waking a worker costs tens of microseconds on a busy machine, more than
 * small jobs take on one thread.
 */
static inline int64_t nn_grain(int64_t work_per_item)
{
	return 1 + (1 << 16) / (work_per_item > 0 ? work_per_item : 1);
}

/* Element i of |t| as double / stored from double, float32 fast. */
static inline double nn_get(const accel_tensor *t, int64_t i)
{
	if (t->dtype == ACCEL_DTYPE_F32)
		return ((const float *)t->data)[i];
	return tensor_get_f64(t, i);
}

static inline void nn_set(accel_tensor *t, int64_t i, double v)
{
	if (t->dtype == ACCEL_DTYPE_F32)
		((float *)t->data)[i] = (float)v;
	else
		tensor_set_f64(t, i, v);
}

#endif /* ACCEL_CPU_NN_KERNELS_H */
