/* SPDX-License-Identifier: MIT */
/*
 * exec_tensor.c - data movement on CUDA, any element size of 1, 2, 4 or 8
 * bytes: Reshape and friends (a device copy), Transpose, Expand, Slice and
 * Concat (one strided-copy kernel), Gather.
 */
#include "cuda/internal.h"
#include "ops/tensor_eval.h"

#include <stdio.h>
#include <string.h>

#define SC_RANK 8

/* Must match strided_desc in kernels/tensor.cu. */
typedef struct strided_desc {
	int rank;
	long long dims[SC_RANK];
	long long sst[SC_RANK];
	long long dst[SC_RANK];
	long long soff, doff;
} strided_desc;

static bool any_dtype(const ir_node *n, accel_tensor *const *in, int n_in)
{
	size_t es = n_in > 0 && in[0] ? accel_dtype_size(in[0]->dtype) : 0;

	(void)n;
	return es == 1 || es == 2 || es == 4 || es == 8;
}

static accel_status exec_copy(cuda_ctx *c)
{
	CUdeviceptr x, y = cuda_out_mem(c, 0);

	ACCEL_TRY(cuda_in_mem(c, 0, &x));
	if (x == y || !c->out[0]->nbytes)
		return NULL;
	CU_CALL(c->dev, "cuMemcpyDtoDAsync",
		c->dev->api->MemcpyDtoDAsync(y, x, c->out[0]->nbytes, c->dev->stream));
	return NULL;
}

static bool check_copy(const ir_node *n, accel_tensor *const *in, int n_in)
{
	if (!strcmp(n->op_type, "Dropout"))
		for (int i = 1; i < n->n_outputs; i++)
			if (n->outputs[i] >= 0)
				return false;
	return n_in > 0 && in[0] && accel_dtype_size(in[0]->dtype) > 0;
}

/* Copy |x| (device) into |y| through |d|; size-1 dims are dropped. */
static accel_status strided(cuda_ctx *c, CUdeviceptr x, CUdeviceptr y, size_t es,
			    strided_desc *d)
{
	char name[32];
	long long n = 1;
	int r = 0;

	for (int k = 0; k < d->rank; k++) {
		n *= d->dims[k];
		if (d->dims[k] == 1)
			continue;
		if (r == SC_RANK)
			return status_unsupported("strided copy over more than %d dims", SC_RANK);
		d->dims[r] = d->dims[k];
		d->sst[r] = d->sst[k];
		d->dst[r] = d->dst[k];
		r++;
	}
	d->rank = r;
	if (!n)
		return NULL;
	snprintf(name, sizeof(name), "strided_copy_%zu", es * 8);
	return cuda_launch_1d(c, "tensor", name, (size_t)n, CUDA_ARGS(&y, &x, &n, d));
}

/* Dense destination in the order of |count|, source strides |sst|. */
static accel_status gather_dense(cuda_ctx *c, int rank, const int64_t *count,
				 const int64_t *sst, int64_t soff)
{
	strided_desc d = { .rank = rank, .soff = soff };
	int64_t dst[ACCEL_MAX_RANK];
	CUdeviceptr x;

	if (rank > SC_RANK)
		return status_unsupported("rank %d", rank);
	dims_strides(rank, count, dst);
	for (int k = 0; k < rank; k++) {
		d.dims[k] = count[k];
		d.sst[k] = sst[k];
		d.dst[k] = dst[k];
	}
	ACCEL_TRY(cuda_in_mem(c, 0, &x));
	return strided(c, x, cuda_out_mem(c, 0), accel_dtype_size(c->in[0]->dtype), &d);
}

static accel_status exec_transpose(cuda_ctx *c)
{
	const accel_tensor *x = c->in[0];
	int64_t st[ACCEL_MAX_RANK], sst[ACCEL_MAX_RANK];
	size_t np = 0;
	const int64_t *perm = ir_attr_ints(c->node, "perm", &np);

	dims_strides(x->rank, x->dims, st);
	for (int k = 0; k < x->rank; k++) {
		int64_t p = perm && np == (size_t)x->rank ? perm[k] : x->rank - 1 - k;

		if (p < 0 || p >= x->rank)
			return status_invalid("perm[%d] = %lld", k, (long long)p);
		sst[k] = st[p];
	}
	return gather_dense(c, x->rank, c->out[0]->dims, sst, 0);
}

static accel_status exec_expand(cuda_ctx *c)
{
	const accel_tensor *y = c->out[0];
	int64_t sst[ACCEL_MAX_RANK];

	broadcast_strides(c->in[0], y->rank, y->dims, sst);
	return gather_dense(c, y->rank, y->dims, sst, 0);
}

static accel_status exec_slice(cuda_ctx *c)
{
	const accel_tensor *x = c->in[0];
	int64_t start[ACCEL_MAX_RANK], step[ACCEL_MAX_RANK], count[ACCEL_MAX_RANK];
	int64_t st[ACCEL_MAX_RANK], sst[ACCEL_MAX_RANK], base = 0;
	bool known = false;

	ACCEL_TRY(slice_resolve(c->node, c->in, c->n_in, x, start, step, count, &known));
	if (!known)
		return status_invalid("Slice parameters are not known");
	dims_strides(x->rank, x->dims, st);
	for (int d = 0; d < x->rank; d++) {
		base += start[d] * st[d];
		sst[d] = st[d] * step[d];
	}
	return gather_dense(c, x->rank, count, sst, base);
}

static bool check_slice(const ir_node *n, accel_tensor *const *in, int n_in)
{
	for (int i = 1; i < n_in; i++)
		if (in[i] && in[i]->dtype != ACCEL_DTYPE_I64 && in[i]->dtype != ACCEL_DTYPE_I32)
			return false;
	return any_dtype(n, in, n_in);
}

static bool check_concat(const ir_node *n, accel_tensor *const *in, int n_in)
{
	for (int i = 0; i < n_in; i++)
		if (!in[i] || !in[0] || in[i]->dtype != in[0]->dtype)
			return false;
	return any_dtype(n, in, n_in);
}

/* Each input lands in its slab of the output: outer x (dim x inner). */
static accel_status exec_concat(cuda_ctx *c)
{
	const accel_tensor *y = c->out[0];
	int64_t ax = ir_attr_int(c->node, "axis", 0), inner = 1, outer = 1, at = 0;
	size_t es = accel_dtype_size(y->dtype);

	if (ax < 0)
		ax += y->rank;
	if (ax < 0 || ax >= y->rank)
		return status_invalid("axis out of range for rank %d", y->rank);
	for (int d = 0; d < ax; d++)
		outer *= y->dims[d];
	for (int d = (int)ax + 1; d < y->rank; d++)
		inner *= y->dims[d];
	for (int i = 0; i < c->n_in; i++) {
		const accel_tensor *x = c->in[i];
		int64_t row = x->dims[ax] * inner;
		strided_desc d = { .rank = 2, .doff = at };
		CUdeviceptr xm;

		d.dims[0] = outer;
		d.dims[1] = row;
		d.sst[0] = row;
		d.sst[1] = 1;
		d.dst[0] = y->dims[ax] * inner;
		d.dst[1] = 1;
		at += row;
		if (!row || !outer)
			continue;
		ACCEL_TRY(cuda_in_mem(c, i, &xm));
		ACCEL_TRY(strided(c, xm, cuda_out_mem(c, 0), es, &d));
	}
	return NULL;
}

static bool check_gather(const ir_node *n, accel_tensor *const *in, int n_in)
{
	return n_in == 2 && in[1] &&
	       (in[1]->dtype == ACCEL_DTYPE_I64 || in[1]->dtype == ACCEL_DTYPE_I32) &&
	       any_dtype(n, in, n_in);
}

static accel_status exec_gather(cuda_ctx *c)
{
	const accel_tensor *x = c->in[0], *idx = c->in[1];
	int64_t ax = ir_attr_int(c->node, "axis", 0);
	long long inner = 1, axis_n, n_idx = (long long)tensor_numel(idx);
	long long n = (long long)tensor_numel(c->out[0]);
	int idx64 = idx->dtype == ACCEL_DTYPE_I64;
	CUdeviceptr xm, im, ym = cuda_out_mem(c, 0);
	char name[16];

	if (ax < 0)
		ax += x->rank;
	if (ax < 0 || ax >= x->rank)
		return status_invalid("axis out of range for rank %d", x->rank);
	for (int d = (int)ax + 1; d < x->rank; d++)
		inner *= x->dims[d];
	axis_n = x->dims[ax];
	if (!n)
		return NULL;
	ACCEL_TRY(cuda_in_mem(c, 0, &xm));
	ACCEL_TRY(cuda_in_mem(c, 1, &im));
	snprintf(name, sizeof(name), "gather_%zu", accel_dtype_size(x->dtype) * 8);
	return cuda_launch_1d(c, "tensor", name, (size_t)n,
			      CUDA_ARGS(&ym, &xm, &im, &idx64, &n, &axis_n, &n_idx, &inner));
}

#define T(op, ex, ck, host) { op, "", "tensor", ex, ck, host }

const cuda_op cuda_ops_tensor[] = {
	T("Reshape", exec_copy, check_copy, 0x2),
	T("Flatten", exec_copy, check_copy, 0),
	T("Squeeze", exec_copy, check_copy, 0x2),
	T("Unsqueeze", exec_copy, check_copy, 0x2),
	T("Identity", exec_copy, check_copy, 0),
	T("Dropout", exec_copy, check_copy, 0x6),
	T("Transpose", exec_transpose, any_dtype, 0),
	T("Expand", exec_expand, any_dtype, 0x2),
	T("Slice", exec_slice, check_slice, 0x1e),
	T("Concat", exec_concat, check_concat, 0),
	T("Gather", exec_gather, check_gather, 0),
	{ 0 },
};
