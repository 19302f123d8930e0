/* SPDX-License-Identifier: MIT */
/*
 * conv_dnnl.c - 2-D float32 convolutions through oneDNN (Debian's
 * libdnnl-dev), when the build has it (ACCEL_HAVE_DNNL).
 *
 * Why: oneDNN's "brgconv" kernels (on the NHWC layout oneDNN picks when
 * asked for any) run ResNet's 3x3 convolutions at 160-210 GFLOP/s on one
 * AVX-512 core, against 105-135 for our im2col/implicit GEMM, even paying
 * a reorder of X out of NCHW and of Y back on every call
 * (docs/PERFORMANCE.md has the numbers). For most 1x1 convolutions the reorders cost more than they
 * save; the exception is a small image (2 to 64 positions: the 7x7 stages
 * of MobileNet and EfficientNet), where our GEMM fills its 32-wide tiles
 * badly (49 = 32 + 17 columns) and oneDNN's channel-blocked kernel ran
 * 15-30% faster on every MobileNet/EfficientNet shape we timed (1x1 images
 * are a matrix-vector product in conv.c). Depthwise ones have their own
 * direct kernel, so those stay ours.
 *
 * The weights are reordered once, at the first run for a given input shape
 * (the blocked format oneDNN picks depends on it); primitives are cached
 * per node in the prepare() state behind a mutex. Bias and Relu/Clip run
 * inside oneDNN; FusedConv's residual and other activations run after, on
 * the NCHW output while it is in cache.
 *
 * BlockedConv (the blocked layout of passes/layout_blocked.c) runs here
 * too, with no reorder at all: X, Z and Y are nChw16c/nChw8c tensors used
 * in place (X may be NCHW for a first convolution), depthwise ones as
 * grouped convolutions, Z as a sum post-op and every activation as
 * eltwise post-ops.
 */
#include "cpu/layout_blocked.h"
#include "cpu/nn_kernels.h"

#if defined(ACCEL_HAVE_DNNL)

#include <oneapi/dnnl/dnnl.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define DNNL_MAX_PARTS 8

/* One slice of the output channels: its own primitive and weights. */
typedef struct dnnl_part {
	int64_t oc0, oc1;
	dnnl_primitive_t conv, to_plain;
	dnnl_memory_desc_t dst_md, udst_md; /* blocked; strided NCHW slice */
	dnnl_memory_t wmem;
} dnnl_part;

typedef struct dnnl_conv {
	pthread_mutex_t lock;
	dnnl_engine_t eng;
	const float *w, *b; /* the node's constant weights and bias */
	int64_t wdims[4];
	/* Built at the first run for input shape |xdims| and |threads|: */
	int64_t xdims[4];
	int threads, n_parts;
	dnnl_primitive_t to_blocked;
	dnnl_memory_desc_t src_md, usrc_md;
	dnnl_part parts[DNNL_MAX_PARTS];
	cpu_act act;
	bool act_inside; /* Relu/Clip as a oneDNN post-op */
} dnnl_conv;

#define DNNL_TRY(call, what)                                                 \
	do {                                                                 \
		dnnl_status_t s_ = (call);                                   \
		if (s_ != dnnl_success)                                      \
			return status_error(ACCEL_INTERNAL,                  \
					    "oneDNN %s failed (status %d)",  \
					    what, (int)s_);                  \
	} while (0)

static void built_free(dnnl_conv *d)
{
	for (int i = 0; i < d->n_parts; i++) {
		dnnl_part *p = &d->parts[i];

		if (p->conv)
			dnnl_primitive_destroy(p->conv);
		if (p->to_plain)
			dnnl_primitive_destroy(p->to_plain);
		if (p->wmem)
			dnnl_memory_destroy(p->wmem);
	}
	if (d->to_blocked)
		dnnl_primitive_destroy(d->to_blocked);
	memset(d->parts, 0, sizeof(d->parts));
	d->to_blocked = NULL;
	d->n_parts = 0;
	memset(d->xdims, 0, sizeof(d->xdims));
}

void conv_dnnl_release(void *state)
{
	dnnl_conv *d = state;

	if (!d)
		return;
	built_free(d);
	if (d->eng)
		dnnl_engine_destroy(d->eng);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

static accel_status reorder_create(dnnl_engine_t eng,
				   const dnnl_memory_desc_t *from,
				   const dnnl_memory_desc_t *to,
				   dnnl_primitive_t *out)
{
	dnnl_primitive_desc_t pd;
	dnnl_status_t s;

	DNNL_TRY(dnnl_reorder_primitive_desc_create(&pd, from, eng, to, eng, NULL),
		 "reorder descriptor");
	s = dnnl_primitive_create(out, pd);
	dnnl_primitive_desc_destroy(pd);
	DNNL_TRY(s, "reorder primitive");
	return NULL;
}

/* Run a one-off reorder of |from| (at |src|) into memory |to|. */
static accel_status reorder_once(dnnl_engine_t eng, const dnnl_memory_desc_t *from,
				 const void *src, dnnl_memory_t to)
{
	const dnnl_memory_desc_t *tmd;
	dnnl_primitive_t re = NULL;
	dnnl_memory_t m = NULL;
	dnnl_stream_t stream = NULL;
	dnnl_status_t s;

	DNNL_TRY(dnnl_memory_get_memory_desc(to, &tmd), "memory desc query");
	ACCEL_TRY(reorder_create(eng, from, tmd, &re));
	s = dnnl_memory_create(&m, from, eng, (void *)src);
	if (s == dnnl_success)
		s = dnnl_stream_create(&stream, eng, dnnl_stream_default_flags);
	if (s == dnnl_success) {
		dnnl_exec_arg_t args[2] = { { DNNL_ARG_FROM, m }, { DNNL_ARG_TO, to } };

		s = dnnl_primitive_execute(re, stream, 2, args);
		if (s == dnnl_success)
			s = dnnl_stream_wait(stream);
	}
	if (stream)
		dnnl_stream_destroy(stream);
	if (m)
		dnnl_memory_destroy(m);
	dnnl_primitive_destroy(re);
	DNNL_TRY(s, "weight reorder");
	return NULL;
}

/* Output channels [p->oc0, p->oc1): primitive, reorders, weights. */
static accel_status build_part(dnnl_conv *d, dnnl_part *p, const accel_tensor *x,
			       const accel_tensor *y, const win3 *g)
{
	int64_t oc = p->oc1 - p->oc0, sp = y->dims[2] * y->dims[3];
	dnnl_dims_t sd = { x->dims[0], x->dims[1], x->dims[2], x->dims[3] };
	dnnl_dims_t dd = { y->dims[0], oc, y->dims[2], y->dims[3] };
	dnnl_dims_t dstr = { y->dims[1] * sp, sp, y->dims[3], 1 };
	dnnl_dims_t wd = { oc, d->wdims[1], d->wdims[2], d->wdims[3] };
	dnnl_dims_t bd = { oc };
	dnnl_dims_t st = { g->s[1], g->s[2] }, dil = { g->d[1] - 1, g->d[2] - 1 };
	dnnl_dims_t pl = { g->pb[1], g->pb[2] }, pr = { g->pe[1], g->pe[2] };
	dnnl_memory_desc_t sany, dany, wany, wplain, bmd;
	dnnl_convolution_desc_t cd;
	dnnl_primitive_attr_t attr = NULL;
	dnnl_post_ops_t po = NULL;
	dnnl_primitive_desc_t pd = NULL;
	dnnl_status_t s;

	DNNL_TRY(dnnl_memory_desc_init_by_strides(&p->udst_md, 4, dd, dnnl_f32, dstr), "memory desc");
	DNNL_TRY(dnnl_memory_desc_init_by_tag(&sany, 4, sd, dnnl_f32, dnnl_format_tag_any), "memory desc");
	DNNL_TRY(dnnl_memory_desc_init_by_tag(&dany, 4, dd, dnnl_f32, dnnl_format_tag_any), "memory desc");
	DNNL_TRY(dnnl_memory_desc_init_by_tag(&wany, 4, wd, dnnl_f32, dnnl_format_tag_any), "memory desc");
	DNNL_TRY(dnnl_memory_desc_init_by_tag(&wplain, 4, wd, dnnl_f32, dnnl_oihw), "memory desc");
	DNNL_TRY(dnnl_memory_desc_init_by_tag(&bmd, 1, bd, dnnl_f32, dnnl_x), "memory desc");
	DNNL_TRY(dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference,
							      dnnl_convolution_direct, &sany, &wany,
							      d->b ? &bmd : NULL, &dany, st, dil,
							      pl, pr),
		 "convolution descriptor");
	if (d->act_inside) {
		DNNL_TRY(dnnl_primitive_attr_create(&attr), "attributes");
		s = dnnl_post_ops_create(&po);
		if (s == dnnl_success)
			s = d->act.lo == 0.0f && d->act.hi == INFINITY ?
				    dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu,
								 0.0f, 0.0f) :
				    dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_clip,
								 d->act.lo, d->act.hi);
		if (s == dnnl_success)
			s = dnnl_primitive_attr_set_post_ops(attr, po);
		if (po)
			dnnl_post_ops_destroy(po);
		if (s != dnnl_success) {
			dnnl_primitive_attr_destroy(attr);
			DNNL_TRY(s, "activation post-op");
		}
	}
	s = dnnl_primitive_desc_create(&pd, &cd, attr, d->eng, NULL);
	if (attr)
		dnnl_primitive_attr_destroy(attr);
	DNNL_TRY(s, "convolution primitive descriptor");
	/* Every part must want the same blocked source: the first one's. */
	if (p == &d->parts[0])
		d->src_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
	else if (!dnnl_memory_desc_equal(&d->src_md,
					 dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0)))
		s = dnnl_unimplemented;
	p->dst_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
	if (s == dnnl_success)
		s = dnnl_primitive_create(&p->conv, pd);
	if (s == dnnl_success)
		s = dnnl_memory_create(&p->wmem,
				       dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0),
				       d->eng, DNNL_MEMORY_ALLOCATE);
	dnnl_primitive_desc_destroy(pd);
	DNNL_TRY(s, "convolution primitive");
	ACCEL_TRY(reorder_create(d->eng, &p->dst_md, &p->udst_md, &p->to_plain));
	/* The weights, once, into the format the primitive chose. */
	return reorder_once(d->eng, &wplain,
			    d->w + p->oc0 * d->wdims[1] * d->wdims[2] * d->wdims[3],
			    p->wmem);
}

/*
 * The primitives for input shape |x| and |threads| threads: the output
 * channels split in as many parts, each run by one of the session's pool
 * threads as a one-thread oneDNN call. oneDNN threads with OpenMP, whose
 * idle team would spin against the pool; split this way it never forms.
 */
static accel_status build(dnnl_conv *d, const accel_tensor *x,
			  const accel_tensor *y, const win3 *g, int threads)
{
	dnnl_dims_t sd = { x->dims[0], x->dims[1], x->dims[2], x->dims[3] };
	int64_t oc = d->wdims[0], chunk;
	accel_status st = NULL;

	built_free(d);
	d->threads = threads; /* the key, before clamping */
	if (threads > DNNL_MAX_PARTS)
		threads = DNNL_MAX_PARTS;
	/* Parts of whole 16-channel blocks, the blocked layout's unit. */
	chunk = (oc + threads - 1) / threads;
	chunk = (chunk + 15) / 16 * 16;
	d->n_parts = (int)((oc + chunk - 1) / chunk);
	for (int i = 0; i < d->n_parts; i++) {
		d->parts[i].oc0 = i * chunk;
		d->parts[i].oc1 = (i + 1) * chunk < oc ? (i + 1) * chunk : oc;
	}
	DNNL_TRY(dnnl_memory_desc_init_by_tag(&d->usrc_md, 4, sd, dnnl_f32, dnnl_nchw),
		 "memory desc");
	for (int i = 0; i < d->n_parts && !st; i++)
		st = build_part(d, &d->parts[i], x, y, g);
	if (!st)
		st = reorder_create(d->eng, &d->usrc_md, &d->src_md, &d->to_blocked);
	if (st) {
		built_free(d);
		return st;
	}
	memcpy(d->xdims, x->dims, sizeof(d->xdims));
	return NULL;
}

/* Most output positions a 1x1 convolution may have and go to oneDNN. */
#define DNNL_POINTWISE_MAX_SP 64

accel_status conv_dnnl_prepare(const cpu_ctx *ctx, accel_tensor *const *const_in,
			       int n_in, void **out_state)
{
	const accel_tensor *w = const_in[1], *b = n_in > 2 ? const_in[2] : NULL;
	int64_t group = ir_attr_int(ctx->node, "group", 1);
	dnnl_conv *d;

	*out_state = NULL;
	/* 2-D, one group, constant float32 W/B (conv_dnnl_exec refuses 1x1
	 * windows on images it would run slower). */
	if (!w || w->dtype != ACCEL_DTYPE_F32 || w->rank != 4 || group != 1 ||
	    (b && b->dtype != ACCEL_DTYPE_F32) || getenv("ACCEL_NO_DNNL"))
		return NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return status_oom("oneDNN convolution state");
	pthread_mutex_init(&d->lock, NULL);
	if (dnnl_engine_create(&d->eng, dnnl_cpu, 0) != dnnl_success) {
		conv_dnnl_release(d);
		return NULL; /* no oneDNN CPU engine: the built-in kernels run */
	}
	d->w = w->data;
	d->b = b ? b->data : NULL;
	memcpy(d->wdims, w->dims, sizeof(d->wdims));
	*out_state = d;
	return NULL;
}

typedef struct post_job {
	float *y;
	const float *z;
	const cpu_act *act;
	int64_t sp;
} post_job;

static void post_planes(void *arg, int64_t begin, int64_t end)
{
	const post_job *j = arg;

	for (int64_t p = begin; p < end; p++) {
		float *y = j->y + p * j->sp;

		if (j->z)
			for (int64_t i = 0; i < j->sp; i++)
				y[i] += j->z[p * j->sp + i];
		cpu_act_row(j->act, y, j->sp);
	}
}

typedef struct part_job {
	dnnl_conv *d;
	dnnl_memory_t src; /* the blocked source, shared */
	float *y;
	_Atomic int failed; /* a dnnl_status_t */
} part_job;

static dnnl_status_t part_run(const part_job *j, dnnl_part *p)
{
	dnnl_conv *d = j->d;
	int64_t sp = 1;
	dnnl_memory_t bdst = NULL, ud = NULL, bias = NULL;
	dnnl_stream_t stream = NULL;
	dnnl_status_t s;

	for (int i = 2; i < 4; i++)
		sp *= p->udst_md.dims[i];
	/* This thread's ICV: no OpenMP team (a pool worker, or the caller
	 * whose setting conv_dnnl_exec() restores). */
	omp_set_num_threads(1);
	s = dnnl_memory_create(&bdst, &p->dst_md, d->eng, DNNL_MEMORY_ALLOCATE);
	if (s == dnnl_success)
		s = dnnl_memory_create(&ud, &p->udst_md, d->eng, j->y + p->oc0 * sp);
	if (s == dnnl_success && d->b) {
		dnnl_memory_desc_t bmd;
		dnnl_dims_t bd = { p->oc1 - p->oc0 };

		s = dnnl_memory_desc_init_by_tag(&bmd, 1, bd, dnnl_f32, dnnl_x);
		if (s == dnnl_success)
			s = dnnl_memory_create(&bias, &bmd, d->eng,
					       (void *)(d->b + p->oc0));
	}
	if (s == dnnl_success)
		s = dnnl_stream_create(&stream, d->eng, dnnl_stream_default_flags);
	if (s == dnnl_success) {
		dnnl_exec_arg_t ac[4] = { { DNNL_ARG_SRC, j->src },
					  { DNNL_ARG_WEIGHTS, p->wmem },
					  { DNNL_ARG_DST, bdst },
					  { DNNL_ARG_BIAS, bias } };
		dnnl_exec_arg_t a2[2] = { { DNNL_ARG_FROM, bdst }, { DNNL_ARG_TO, ud } };

		s = dnnl_primitive_execute(p->conv, stream, bias ? 4 : 3, ac);
		if (s == dnnl_success)
			s = dnnl_primitive_execute(p->to_plain, stream, 2, a2);
		if (s == dnnl_success)
			s = dnnl_stream_wait(stream);
	}
	if (stream)
		dnnl_stream_destroy(stream);
	if (bdst)
		dnnl_memory_destroy(bdst);
	if (ud)
		dnnl_memory_destroy(ud);
	if (bias)
		dnnl_memory_destroy(bias);
	return s;
}

static void parts_range(void *arg, int64_t begin, int64_t end)
{
	part_job *j = arg;

	for (int64_t i = begin; i < end; i++) {
		dnnl_status_t s = part_run(j, &j->d->parts[i]);

		if (s != dnnl_success)
			atomic_store(&j->failed, (int)s);
	}
}

static accel_status run(dnnl_conv *d, const cpu_ctx *ctx, accel_tensor *const *in,
			accel_tensor *const *out)
{
	part_job j = { d, NULL, out[0]->data, 0 };
	dnnl_memory_t us = NULL;
	dnnl_stream_t stream = NULL;
	dnnl_status_t s;

	s = dnnl_memory_create(&us, &d->usrc_md, d->eng, in[0]->data);
	if (s == dnnl_success)
		s = dnnl_memory_create(&j.src, &d->src_md, d->eng, DNNL_MEMORY_ALLOCATE);
	if (s == dnnl_success)
		s = dnnl_stream_create(&stream, d->eng, dnnl_stream_default_flags);
	if (s == dnnl_success) {
		dnnl_exec_arg_t a1[2] = { { DNNL_ARG_FROM, us }, { DNNL_ARG_TO, j.src } };

		s = dnnl_primitive_execute(d->to_blocked, stream, 2, a1);
		if (s == dnnl_success)
			s = dnnl_stream_wait(stream);
	}
	if (s == dnnl_success) {
		parallel_for(ctx->pool, d->n_parts, 1, parts_range, &j);
		s = (dnnl_status_t)atomic_load(&j.failed);
	}
	if (stream)
		dnnl_stream_destroy(stream);
	if (us)
		dnnl_memory_destroy(us);
	if (j.src)
		dnnl_memory_destroy(j.src);
	if (s != dnnl_success)
		return status_error(ACCEL_INTERNAL, "oneDNN convolution failed (status %d)",
				    (int)s);
	return NULL;
}

accel_status conv_dnnl_exec(const cpu_ctx *ctx, void *state,
			    accel_tensor *const *in, int n_in,
			    accel_tensor *const *out, const win3 *g,
			    const cpu_act *act, const float *z, bool *out_done)
{
	dnnl_conv *d = state;
	accel_status st = NULL;
	post_job pj;
	int prev;

	*out_done = false;
	if (!d || in[0]->rank != 4 || in[0]->dtype != ACCEL_DTYPE_F32 ||
	    in[1]->data != d->w || (d->b && (n_in < 3 || !in[2] || in[2]->data != d->b)) ||
	    (!d->b && n_in > 2 && in[2]))
		return NULL; /* not what prepare() saw: the built-in kernels run */
	if (d->wdims[2] * d->wdims[3] == 1 &&
	    (g->out_sp > DNNL_POINTWISE_MAX_SP || g->out_sp < 2 || g->s[1] != 1 ||
	     g->s[2] != 1 || g->pb[1] || g->pb[2] || g->pe[1] || g->pe[2]))
		return NULL; /* our GEMM or matrix-vector product is faster */
	/*
	 * Primitives are sized for the calling thread's OpenMP count: one
	 * here, the caller's own setting put back before returning.
	 */
	prev = omp_get_max_threads();
	omp_set_num_threads(1);
	pthread_mutex_lock(&d->lock);
	if (memcmp(d->xdims, in[0]->dims, sizeof(d->xdims)) || !d->n_parts ||
	    d->threads != threadpool_size(ctx->pool) ||
	    d->act.kind != act->kind || d->act.lo != act->lo || d->act.hi != act->hi) {
		d->act = *act;
		d->act_inside = !z && act->kind == CPU_ACT_CLAMP;
		st = build(d, in[0], out[0], g, threadpool_size(ctx->pool));
	}
	if (!st)
		st = run(d, ctx, in, out);
	pthread_mutex_unlock(&d->lock);
	omp_set_num_threads(prev);
	if (st)
		return st;
	*out_done = true;
	if (!z && (act->kind == CPU_ACT_NONE || d->act_inside))
		return NULL;
	pj.y = out[0]->data;
	pj.z = z;
	pj.act = act;
	pj.sp = g->out_sp;
	parallel_for(ctx->pool, out[0]->dims[0] * out[0]->dims[1],
		     nn_grain(g->out_sp), post_planes, &pj);
	return NULL;
}

/* ---- BlockedConv: X, Z and Y in the blocked layout, used in place ---- */

/*
 * Output channels [oc0, oc1) (whole blocks but the last): a primitive on
 * one image, its weights; a depthwise part reads only its own channels.
 */
typedef struct bpart {
	int64_t oc0, oc1;
	dnnl_primitive_t conv;
	dnnl_memory_desc_t src_md, dst_md;
	dnnl_memory_t wmem;
} bpart;

typedef struct dnnl_bconv {
	pthread_mutex_t lock;
	dnnl_engine_t eng;
	const float *w, *b;
	int64_t wdims[4];
	bool dw; /* one channel per group */
	/* Built at the first run for X's shape (key()), |threads|, the
	 * activation and whether Z is summed: */
	int64_t xdims[5];
	int threads, n_parts;
	bool has_z;
	cpu_act act;
	bpart parts[DNNL_MAX_PARTS];
} dnnl_bconv;

static void bbuilt_free(dnnl_bconv *d)
{
	for (int i = 0; i < d->n_parts; i++) {
		if (d->parts[i].conv)
			dnnl_primitive_destroy(d->parts[i].conv);
		if (d->parts[i].wmem)
			dnnl_memory_destroy(d->parts[i].wmem);
	}
	memset(d->parts, 0, sizeof(d->parts));
	d->n_parts = 0;
	memset(d->xdims, 0, sizeof(d->xdims));
}

void conv_dnnl_blocked_release(void *state)
{
	dnnl_bconv *d = state;

	if (!d)
		return;
	bbuilt_free(d);
	if (d->eng)
		dnnl_engine_destroy(d->eng);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

accel_status conv_dnnl_blocked_prepare(const cpu_ctx *ctx,
				       accel_tensor *const *const_in, int n_in,
				       void **out_state)
{
	const accel_tensor *w = const_in[1], *b = n_in > 2 ? const_in[2] : NULL;
	int64_t group = ir_attr_int(ctx->node, "group", 1);
	dnnl_bconv *d;

	*out_state = NULL;
	if (!w || w->dtype != ACCEL_DTYPE_F32 || w->rank != 4 ||
	    (group != 1 && (w->dims[1] != 1 || group != w->dims[0])) ||
	    (n_in > 2 && ctx->node->inputs[2] >= 0 && !b) ||
	    (b && b->dtype != ACCEL_DTYPE_F32) || getenv("ACCEL_NO_DNNL"))
		return NULL; /* layout_blocked.c's plain fallback runs */
	d = calloc(1, sizeof(*d));
	if (!d)
		return status_oom("oneDNN blocked convolution state");
	pthread_mutex_init(&d->lock, NULL);
	if (dnnl_engine_create(&d->eng, dnnl_cpu, 0) != dnnl_success) {
		conv_dnnl_blocked_release(d);
		return NULL;
	}
	d->w = w->data;
	d->b = b ? b->data : NULL;
	d->dw = group != 1;
	memcpy(d->wdims, w->dims, sizeof(d->wdims));
	*out_state = d;
	return NULL;
}

/* The activation as oneDNN eltwise post-ops; unimplemented if it has none. */
static dnnl_status_t append_act(dnnl_post_ops_t po, const cpu_act *a)
{
	dnnl_status_t s;

	switch (a->kind) {
	case CPU_ACT_NONE:
		return dnnl_success;
	case CPU_ACT_CLAMP:
		if (a->lo == 0.0f && a->hi == INFINITY)
			return dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu,
							    0.0f, 0.0f);
		return dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_clip,
						    a->lo, a->hi);
	case CPU_ACT_SIGMOID:
		return dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_logistic,
						    0.0f, 0.0f);
	case CPU_ACT_HARDSIGMOID:
		s = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_linear,
						 a->alpha, a->beta);
		if (s == dnnl_success)
			s = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_clip,
							 0.0f, 1.0f);
		return s;
	case CPU_ACT_HARDSWISH:
		return dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_hardswish,
						    0.0f, 0.0f);
	case CPU_ACT_LEAKYRELU:
		return dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu,
						    a->alpha, 0.0f);
	case CPU_ACT_SILU:
		return dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_swish,
						    1.0f, 0.0f);
	case CPU_ACT_GELU:
		return dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_gelu_erf,
						    0.0f, 0.0f);
	case CPU_ACT_GELU_TANH:
		return dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_gelu_tanh,
						    0.0f, 0.0f);
	}
	return dnnl_unimplemented;
}

/* Z (summed into Y, which holds a copy of it) then the activation. */
static dnnl_status_t bconv_attr(const dnnl_bconv *d, dnnl_primitive_attr_t *out)
{
	dnnl_post_ops_t po = NULL;
	dnnl_status_t s;

	*out = NULL;
	s = dnnl_primitive_attr_create(out);
	if (s == dnnl_success)
		s = dnnl_post_ops_create(&po);
	if (s == dnnl_success && d->has_z)
		s = dnnl_post_ops_append_sum(po, 1.0f);
	if (s == dnnl_success)
		s = append_act(po, &d->act);
	if (s == dnnl_success)
		s = dnnl_primitive_attr_set_post_ops(*out, po);
	if (po)
		dnnl_post_ops_destroy(po);
	if (s != dnnl_success && *out) {
		dnnl_primitive_attr_destroy(*out);
		*out = NULL;
	}
	return s;
}

static accel_status bbuild_part(dnnl_bconv *d, bpart *p, const accel_tensor *x,
				const accel_tensor *y, const win3 *g)
{
	int64_t oc = p->oc1 - p->oc0, kh = d->wdims[2], kw = d->wdims[3];
	int64_t cin = d->dw ? oc : d->wdims[1];
	dnnl_format_tag_t tag = y->dims[4] == 16 ? dnnl_nChw16c : dnnl_nChw8c;
	dnnl_dims_t sd = { 1, cin, x->dims[2], x->dims[3] };
	dnnl_dims_t dd = { 1, oc, y->dims[2], y->dims[3] };
	dnnl_dims_t wd = { oc, d->wdims[1], kh, kw }, gwd = { oc, 1, 1, kh, kw };
	dnnl_dims_t bd = { oc };
	dnnl_dims_t st = { g->s[1], g->s[2] }, dil = { g->d[1] - 1, g->d[2] - 1 };
	dnnl_dims_t pl = { g->pb[1], g->pb[2] }, pr = { g->pe[1], g->pe[2] };
	dnnl_memory_desc_t wany, wplain, bmd;
	dnnl_convolution_desc_t cd;
	dnnl_primitive_attr_t attr;
	dnnl_primitive_desc_t pd = NULL;
	dnnl_status_t s;

	/* A plain (NCHW) X: a first convolution of few channels. */
	DNNL_TRY(dnnl_memory_desc_init_by_tag(&p->src_md, 4, sd, dnnl_f32,
					      x->rank == 4 ? dnnl_nchw : tag),
		 "memory desc");
	DNNL_TRY(dnnl_memory_desc_init_by_tag(&p->dst_md, 4, dd, dnnl_f32, tag), "memory desc");
	if (d->dw) {
		DNNL_TRY(dnnl_memory_desc_init_by_tag(&wany, 5, gwd, dnnl_f32,
						      dnnl_format_tag_any), "memory desc");
		DNNL_TRY(dnnl_memory_desc_init_by_tag(&wplain, 5, gwd, dnnl_f32, dnnl_goihw),
			 "memory desc");
	} else {
		DNNL_TRY(dnnl_memory_desc_init_by_tag(&wany, 4, wd, dnnl_f32,
						      dnnl_format_tag_any), "memory desc");
		DNNL_TRY(dnnl_memory_desc_init_by_tag(&wplain, 4, wd, dnnl_f32, dnnl_oihw),
			 "memory desc");
	}
	DNNL_TRY(dnnl_memory_desc_init_by_tag(&bmd, 1, bd, dnnl_f32, dnnl_x), "memory desc");
	DNNL_TRY(dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference,
							      dnnl_convolution_direct,
							      &p->src_md, &wany,
							      d->b ? &bmd : NULL, &p->dst_md,
							      st, dil, pl, pr),
		 "convolution descriptor");
	DNNL_TRY(bconv_attr(d, &attr), "post-ops");
	s = dnnl_primitive_desc_create(&pd, &cd, attr, d->eng, NULL);
	dnnl_primitive_attr_destroy(attr);
	DNNL_TRY(s, "blocked convolution primitive descriptor");
	s = dnnl_primitive_create(&p->conv, pd);
	if (s == dnnl_success)
		s = dnnl_memory_create(&p->wmem,
				       dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0),
				       d->eng, DNNL_MEMORY_ALLOCATE);
	dnnl_primitive_desc_destroy(pd);
	DNNL_TRY(s, "blocked convolution primitive");
	return reorder_once(d->eng, &wplain, d->w + p->oc0 * d->wdims[1] * kh * kw,
			    p->wmem);
}

/* What the primitives depend on in X: blocked or plain, and its shape. */
static void key(const accel_tensor *x, int64_t *out)
{
	out[0] = x->rank;
	for (int i = 1; i < 5; i++)
		out[i] = i < x->rank ? x->dims[i] : 0;
}

static accel_status bbuild(dnnl_bconv *d, const accel_tensor *x,
			   const accel_tensor *y, const win3 *g, int threads)
{
	int64_t oc = d->wdims[0], blk = y->dims[4], chunk;
	accel_status st = NULL;

	bbuilt_free(d);
	d->threads = threads;
	if (threads > DNNL_MAX_PARTS)
		threads = DNNL_MAX_PARTS;
	chunk = (oc + threads - 1) / threads;
	chunk = (chunk + blk - 1) / blk * blk;
	d->n_parts = (int)((oc + chunk - 1) / chunk);
	for (int i = 0; i < d->n_parts; i++) {
		d->parts[i].oc0 = i * chunk;
		d->parts[i].oc1 = (i + 1) * chunk < oc ? (i + 1) * chunk : oc;
	}
	for (int i = 0; i < d->n_parts && !st; i++)
		st = bbuild_part(d, &d->parts[i], x, y, g);
	if (st) {
		bbuilt_free(d);
		return st;
	}
	key(x, d->xdims);
	return NULL;
}

typedef struct bjob {
	dnnl_bconv *d;
	const float *x, *z;
	float *y;
	int64_t x_img, y_img, x_sp, y_sp, blk; /* floats per image; positions */
	_Atomic int failed;
} bjob;

/* Item = image * n_parts + part. */
static dnnl_status_t bpart_run(const bjob *j, int64_t item)
{
	const dnnl_bconv *d = j->d;
	const bpart *p = &d->parts[item % d->n_parts];
	int64_t n = item / d->n_parts;
	int64_t yoff = n * j->y_img + p->oc0 * j->y_sp;
	int64_t xoff = n * j->x_img + (d->dw ? p->oc0 * j->x_sp : 0);
	dnnl_memory_t src = NULL, dst = NULL, bias = NULL;
	dnnl_stream_t stream = NULL;
	dnnl_status_t s;

	omp_set_num_threads(1);
	if (j->z) {
		int64_t lanes = (p->oc1 - p->oc0 + j->blk - 1) / j->blk * j->blk;

		memcpy(j->y + yoff, j->z + yoff, sizeof(float) * (size_t)(lanes * j->y_sp));
	}
	s = dnnl_memory_create(&src, &p->src_md, d->eng, (void *)(j->x + xoff));
	if (s == dnnl_success)
		s = dnnl_memory_create(&dst, &p->dst_md, d->eng, j->y + yoff);
	if (s == dnnl_success && d->b) {
		dnnl_memory_desc_t bmd;
		dnnl_dims_t bd = { p->oc1 - p->oc0 };

		s = dnnl_memory_desc_init_by_tag(&bmd, 1, bd, dnnl_f32, dnnl_x);
		if (s == dnnl_success)
			s = dnnl_memory_create(&bias, &bmd, d->eng, (void *)(d->b + p->oc0));
	}
	if (s == dnnl_success)
		s = dnnl_stream_create(&stream, d->eng, dnnl_stream_default_flags);
	if (s == dnnl_success) {
		dnnl_exec_arg_t ac[4] = { { DNNL_ARG_SRC, src },
					  { DNNL_ARG_WEIGHTS, p->wmem },
					  { DNNL_ARG_DST, dst },
					  { DNNL_ARG_BIAS, bias } };

		s = dnnl_primitive_execute(p->conv, stream, bias ? 4 : 3, ac);
		if (s == dnnl_success)
			s = dnnl_stream_wait(stream);
	}
	if (stream)
		dnnl_stream_destroy(stream);
	if (src)
		dnnl_memory_destroy(src);
	if (dst)
		dnnl_memory_destroy(dst);
	if (bias)
		dnnl_memory_destroy(bias);
	return s;
}

static void bparts_range(void *arg, int64_t begin, int64_t end)
{
	bjob *j = arg;

	for (int64_t i = begin; i < end; i++) {
		dnnl_status_t s = bpart_run(j, i);

		if (s != dnnl_success)
			atomic_store(&j->failed, (int)s);
	}
}

accel_status conv_dnnl_blocked_exec(const cpu_ctx *ctx, void *state,
				    accel_tensor *const *in, int n_in,
				    accel_tensor *const *out, const win3 *g,
				    const cpu_act *act, bool *out_done)
{
	dnnl_bconv *d = state;
	const accel_tensor *x = in[0], *z = n_in > 3 ? in[3] : NULL;
	accel_tensor *y = out[0];
	accel_status st = NULL;
	bjob j;
	int prev, threads = threadpool_size(ctx->pool);
	int64_t xkey[5];

	*out_done = false;
	if (!d || in[1]->data != d->w || (d->b && (n_in < 3 || !in[2] || in[2]->data != d->b)) ||
	    (!d->b && n_in > 2 && in[2]))
		return NULL;
	key(x, xkey);
	prev = omp_get_max_threads();
	omp_set_num_threads(1);
	pthread_mutex_lock(&d->lock);
	if (memcmp(d->xdims, xkey, sizeof(xkey)) || !d->n_parts ||
	    d->threads != threads || d->has_z != (z != NULL) ||
	    memcmp(&d->act, act, sizeof(*act))) {
		d->act = *act;
		d->has_z = z != NULL;
		st = bbuild(d, x, y, g, threads);
	}
	if (!st) {
		memset(&j, 0, sizeof(j));
		j.d = d;
		j.x = x->data;
		j.z = z ? z->data : NULL;
		j.y = y->data;
		j.blk = y->dims[4];
		j.x_sp = x->dims[2] * x->dims[3];
		j.y_sp = y->dims[2] * y->dims[3];
		/* Blocks of blk lanes, or (plain X) channel planes. */
		j.x_img = x->dims[1] * j.x_sp * (x->rank == 5 ? x->dims[4] : 1);
		j.y_img = y->dims[1] * j.y_sp * j.blk;
		atomic_init(&j.failed, 0);
		parallel_for(ctx->pool, x->dims[0] * d->n_parts, 1, bparts_range, &j);
		if (atomic_load(&j.failed))
			st = status_error(ACCEL_INTERNAL,
					  "oneDNN blocked convolution failed (status %d)",
					  atomic_load(&j.failed));
	}
	pthread_mutex_unlock(&d->lock);
	omp_set_num_threads(prev);
	if (st)
		return st;
	*out_done = true;
	return NULL;
}

#else /* !ACCEL_HAVE_DNNL */

accel_status conv_dnnl_prepare(const cpu_ctx *ctx, accel_tensor *const *const_in,
			       int n_in, void **out_state)
{
	*out_state = NULL;
	return NULL;
}

void conv_dnnl_release(void *state)
{
}

accel_status conv_dnnl_exec(const cpu_ctx *ctx, void *state,
			    accel_tensor *const *in, int n_in,
			    accel_tensor *const *out, const win3 *g,
			    const cpu_act *act, const float *z, bool *out_done)
{
	*out_done = false;
	return NULL;
}

accel_status conv_dnnl_blocked_prepare(const cpu_ctx *ctx,
				       accel_tensor *const *const_in, int n_in,
				       void **out_state)
{
	*out_state = NULL;
	return NULL;
}

void conv_dnnl_blocked_release(void *state)
{
}

accel_status conv_dnnl_blocked_exec(const cpu_ctx *ctx, void *state,
				    accel_tensor *const *in, int n_in,
				    accel_tensor *const *out, const win3 *g,
				    const cpu_act *act, bool *out_done)
{
	*out_done = false;
	return NULL;
}

#endif /* ACCEL_HAVE_DNNL */
