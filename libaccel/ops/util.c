/* SPDX-License-Identifier: MIT */
/* util.c - helpers shared by operator schemas. */
#include "ops/op.h"

void op_set_output(accel_tensor *out, accel_dtype dtype, int rank,
		   const int64_t *dims)
{
	if (!out)
		return;
	out->dtype = dtype;
	out->rank = rank;
	for (int i = 0; i < rank; i++)
		out->dims[i] = dims[i];
}

accel_status op_broadcast(const accel_tensor *a, const accel_tensor *b,
			  int *out_rank, int64_t *out_dims)
{
	int rank;

	if (a->rank < 0 || b->rank < 0) {
		*out_rank = -1;
		return NULL;
	}
	rank = a->rank > b->rank ? a->rank : b->rank;
	for (int i = 0; i < rank; i++) {
		int ia = i - (rank - a->rank), ib = i - (rank - b->rank);
		int64_t da = ia >= 0 ? a->dims[ia] : 1;
		int64_t db = ib >= 0 ? b->dims[ib] : 1;

		if (da == db)
			out_dims[i] = da;
		else if (da == 1)
			out_dims[i] = db;
		else if (db == 1)
			out_dims[i] = da;
		else if (da < 0 || db < 0)
			out_dims[i] = da < 0 ? db : da;
		else {
			char sa[96], sb[96];

			return status_invalid("shapes %s and %s cannot be broadcast (dimension %d: %lld vs %lld)",
					      tensor_shape_str(a, sa, sizeof(sa)),
					      tensor_shape_str(b, sb, sizeof(sb)),
					      i, (long long)da, (long long)db);
		}
	}
	*out_rank = rank;
	return NULL;
}

accel_status op_axis(const op_ctx *ctx, int64_t axis, int rank, int *out_axis)
{
	(void)ctx;
	if (axis < -(int64_t)rank || axis >= rank || (rank == 0 && axis != 0 && axis != -1))
		return status_invalid("axis %lld is out of range for rank %d",
				      (long long)axis, rank);
	if (axis < 0)
		axis += rank;
	*out_axis = (int)axis;
	return NULL;
}

bool op_inputs_ranked(accel_tensor *const *in, int n_in)
{
	for (int i = 0; i < n_in; i++)
		if (in[i] && in[i]->rank < 0)
			return false;
	return true;
}

bool op_has_data(const accel_tensor *t)
{
	return t && t->data;
}
