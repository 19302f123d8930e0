/* SPDX-License-Identifier: MIT */
/*
 * reduce_misc.c - schemas of Einsum, Det, the window functions, Unique,
 * MatMulInteger and the quantization ops, plus the Einsum equation parser
 * and the Unique grouping that the CPU kernels share.
 */
#include "ops/reduce.h"

#include <stdlib.h>
#include <string.h>

#define INFER(name)                                                        \
	accel_status name(const op_ctx *ctx, accel_tensor *const *in, int n_in, \
			  accel_tensor *const *out, int n_out)

/* ---- Einsum ---- */

static int letter_index(char c)
{
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= 'A' && c <= 'Z')
		return 26 + c - 'A';
	return -1;
}

/* One operand term: its letters (-1 marks where the ellipsis sits). */
typedef struct einsum_term {
	int n;
	int sym[ACCEL_MAX_RANK + 1];
	bool ellipsis;
} einsum_term;

static accel_status parse_term(const char *s, size_t len, einsum_term *t)
{
	t->n = 0;
	t->ellipsis = false;
	for (size_t i = 0; i < len; i++) {
		if (t->n > ACCEL_MAX_RANK)
			return status_unsupported("attribute 'equation': term too long");
		if (s[i] == '.') {
			if (t->ellipsis || i + 2 >= len || s[i + 1] != '.' ||
			    s[i + 2] != '.')
				return status_bad_model("attribute 'equation': bad ellipsis");
			t->ellipsis = true;
			t->sym[t->n++] = -1;
			i += 2;
		} else if (letter_index(s[i]) >= 0) {
			t->sym[t->n++] = letter_index(s[i]);
		} else {
			return status_bad_model("attribute 'equation': bad character '%c'",
						s[i]);
		}
	}
	return NULL;
}

/* Give |size| to |label|, checking it against earlier uses. */
static accel_status bind_size(einsum_plan *p, int label, int64_t size, bool bcast)
{
	int64_t *cur = &p->size[label];

	if (size < 0) {
		if (*cur == -2)
			*cur = -1;
		return NULL;
	}
	if (*cur < 0 || (bcast && *cur == 1)) {
		*cur = size;
		return NULL;
	}
	if ((bcast && size == 1) || size == *cur)
		return NULL;
	return status_invalid("Einsum: dimension mismatch (%lld vs %lld)",
			      (long long)size, (long long)*cur);
}

static accel_status map_operand(einsum_plan *p, const einsum_term *t,
				const accel_tensor *x, int op, int n_ell,
				int *letter_label)
{
	int r = x->rank, n_letters = t->n - (t->ellipsis ? 1 : 0);
	int ell = r - n_letters, axis = 0;

	if (ell < 0 || (!t->ellipsis && ell))
		return status_invalid("Einsum: operand %d has rank %d, the equation says %d",
				      op, r, n_letters);
	p->op_rank[op] = r;
	for (int i = 0; i < t->n; i++) {
		if (t->sym[i] < 0) {
			/* Ellipsis dims are right-aligned against the widest. */
			for (int e = 0; e < ell; e++, axis++) {
				int label = n_ell - ell + e;

				p->op_label[op][axis] = label;
				ACCEL_TRY(bind_size(p, label, x->dims[axis], true));
			}
			continue;
		}
		if (letter_label[t->sym[i]] < 0)
			letter_label[t->sym[i]] = p->n_labels++;
		p->op_label[op][axis] = letter_label[t->sym[i]];
		ACCEL_TRY(bind_size(p, letter_label[t->sym[i]], x->dims[axis], false));
		axis++;
	}
	return NULL;
}

static accel_status set_output(einsum_plan *p, const char *rhs, size_t len,
			       int n_ell, const int *letter_label,
			       const int *uses)
{
	einsum_term t;

	p->out_rank = 0;
	if (!rhs) {
		/* Implicit: ellipsis dims, then letters used once, sorted. */
		for (int e = 0; e < n_ell; e++)
			p->out_label[p->out_rank++] = e;
		for (int k = 0; k < 52; k++) {
			int l = (k + 26) % 52; /* ASCII order: A-Z, a-z */

			if (uses[l] == 1) {
				if (p->out_rank >= ACCEL_MAX_RANK)
					return status_unsupported("Einsum: output rank too large");
				p->out_label[p->out_rank++] = letter_label[l];
			}
		}
		return NULL;
	}
	ACCEL_TRY(parse_term(rhs, len, &t));
	for (int i = 0; i < t.n; i++) {
		if (t.sym[i] < 0) {
			for (int e = 0; e < n_ell; e++) {
				if (p->out_rank >= ACCEL_MAX_RANK)
					return status_unsupported("Einsum: output rank too large");
				p->out_label[p->out_rank++] = e;
			}
		} else if (letter_label[t.sym[i]] < 0) {
			return status_bad_model("attribute 'equation': output label '%c' is not in any input",
						rhs[i]);
		} else {
			if (p->out_rank >= ACCEL_MAX_RANK)
				return status_unsupported("Einsum: output rank too large");
			p->out_label[p->out_rank++] = letter_label[t.sym[i]];
		}
	}
	return NULL;
}

/* Copy |eq| without blanks into |buf|. */
static accel_status strip_blanks(const char *eq, char *buf, size_t cap)
{
	size_t n = 0;

	for (; *eq; eq++) {
		if (*eq == ' ' || *eq == '\t')
			continue;
		if (n + 1 >= cap)
			return status_unsupported("attribute 'equation' is too long");
		buf[n++] = *eq;
	}
	buf[n] = '\0';
	return NULL;
}

accel_status einsum_parse(const char *equation, accel_tensor *const *in,
			  int n_in, einsum_plan *p)
{
	char buf[256];
	einsum_term terms[EINSUM_MAX_OPS];
	int letter_label[52], uses[52] = { 0 }, n_ell = 0;
	const char *arrow, *s;

	if (n_in > EINSUM_MAX_OPS)
		return status_unsupported("Einsum with %d operands", n_in);
	ACCEL_TRY(strip_blanks(equation, buf, sizeof(buf)));
	arrow = strstr(buf, "->");
	s = buf;
	for (int i = 0; i < n_in; i++) {
		const char *end = strchr(s, ',');
		const char *lim = arrow ? arrow : buf + strlen(buf);

		if (!end || end > lim)
			end = lim;
		if (i < n_in - 1 && end == lim)
			return status_bad_model("attribute 'equation' has fewer terms than the %d inputs",
						n_in);
		ACCEL_TRY(parse_term(s, (size_t)(end - s), &terms[i]));
		s = end + 1;
		if (i == n_in - 1 && end != lim)
			return status_bad_model("attribute 'equation' has more terms than the %d inputs",
						n_in);
	}
	memset(p, 0, sizeof(*p));
	p->n_ops = n_in;
	for (int i = 0; i < n_in; i++) {
		int n_letters = terms[i].n - (terms[i].ellipsis ? 1 : 0);

		if (terms[i].ellipsis && in[i]->rank - n_letters > n_ell)
			n_ell = in[i]->rank - n_letters;
		for (int j = 0; j < terms[i].n; j++)
			if (terms[i].sym[j] >= 0)
				uses[terms[i].sym[j]]++;
	}
	for (int l = 0; l < 52; l++)
		letter_label[l] = -1;
	for (int l = 0; l < EINSUM_MAX_LABELS; l++)
		p->size[l] = -2; /* unbound */
	p->n_labels = n_ell;
	for (int i = 0; i < n_in; i++)
		ACCEL_TRY(map_operand(p, &terms[i], in[i], i, n_ell, letter_label));
	for (int l = 0; l < p->n_labels; l++)
		if (p->size[l] == -2)
			p->size[l] = 1;
	return set_output(p, arrow ? arrow + 2 : NULL,
			  arrow ? strlen(arrow + 2) : 0, n_ell, letter_label, uses);
}

INFER(reduce_einsum_infer)
{
	const char *eq = ir_attr_string(ctx->node, "equation", NULL);
	einsum_plan p;
	int64_t dims[ACCEL_MAX_RANK];

	if (!eq)
		return status_bad_model("attribute 'equation' is missing");
	out[0]->dtype = in[0]->dtype;
	if (!op_inputs_ranked(in, n_in)) {
		out[0]->rank = -1;
		return NULL;
	}
	ACCEL_TRY(einsum_parse(eq, in, n_in, &p));
	for (int i = 0; i < p.out_rank; i++)
		dims[i] = p.size[p.out_label[i]];
	op_set_output(out[0], in[0]->dtype, p.out_rank, dims);
	return NULL;
}

/* ---- Det, windows ---- */

INFER(reduce_det_infer)
{
	const accel_tensor *x = in[0];
	int64_t a, b;

	out[0]->dtype = x->dtype;
	if (x->rank < 0) {
		out[0]->rank = -1;
		return NULL;
	}
	if (x->rank < 2)
		return status_invalid("input 'X' must have rank >= 2, not %d", x->rank);
	a = x->dims[x->rank - 2];
	b = x->dims[x->rank - 1];
	if (a >= 0 && b >= 0 && a != b)
		return status_invalid("input 'X' must be square, not %lldx%lld",
				      (long long)a, (long long)b);
	op_set_output(out[0], x->dtype, x->rank - 2, x->dims);
	return NULL;
}

INFER(reduce_window_infer)
{
	int64_t dt = ir_attr_int(ctx->node, "output_datatype", ACCEL_DTYPE_F32);
	int64_t n = -1;

	if (!accel_dtype_size((accel_dtype)dt) || dt == ACCEL_DTYPE_BOOL)
		return status_bad_model("attribute 'output_datatype' %lld is not a numeric type",
					(long long)dt);
	if (in[0]->data) {
		if (tensor_numel(in[0]) != 1)
			return status_invalid("input 'size' must be a scalar");
		n = tensor_get_i64(in[0], 0);
		if (n < 0)
			return status_invalid("input 'size' is negative (%lld)",
					      (long long)n);
	}
	op_set_output(out[0], (accel_dtype)dt, 1, &n);
	return NULL;
}

/* ---- Unique ---- */

typedef struct unique_sort_ctx {
	const accel_tensor *x;
	int64_t outer, len, inner; /* slice s holds outer x inner elements */
	bool is_float;
} unique_sort_ctx;

static int slice_cmp(const unique_sort_ctx *c, int64_t a, int64_t b)
{
	for (int64_t o = 0; o < c->outer; o++)
		for (int64_t i = 0; i < c->inner; i++) {
			int64_t ia = (o * c->len + a) * c->inner + i;
			int64_t ib = (o * c->len + b) * c->inner + i;

			if (c->is_float) {
				double va = tensor_get_f64(c->x, ia);
				double vb = tensor_get_f64(c->x, ib);

				if (va != vb)
					return va < vb ? -1 : 1;
			} else {
				int64_t va = tensor_get_i64(c->x, ia);
				int64_t vb = tensor_get_i64(c->x, ib);

				if (va != vb)
					return va < vb ? -1 : 1;
			}
		}
	return 0;
}

static int unique_qsort_cmp(const void *pa, const void *pb, void *arg)
{
	int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
	int c = slice_cmp(arg, a, b);

	if (c)
		return c;
	return a < b ? -1 : a > b;
}

static int i64_cmp(const void *pa, const void *pb, void *arg)
{
	const int64_t *key = arg;
	int64_t a = key[*(const int64_t *)pa], b = key[*(const int64_t *)pb];

	return a < b ? -1 : a > b;
}

void unique_result_free(unique_result *r)
{
	free(r->first);
	free(r->inverse);
	free(r->counts);
	memset(r, 0, sizeof(*r));
}

/* Renumber groups by first occurrence (sorted=0). */
static accel_status unique_reorder(unique_result *r)
{
	int64_t n = r->n_unique;
	int64_t *perm = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
	int64_t *rank = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
	int64_t *tmp = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));

	if (!perm || !rank || !tmp) {
		free(perm);
		free(rank);
		free(tmp);
		return status_oom("Unique groups");
	}
	for (int64_t g = 0; g < n; g++)
		perm[g] = g;
	qsort_r(perm, (size_t)n, sizeof(int64_t), i64_cmp, r->first);
	for (int64_t g = 0; g < n; g++)
		rank[perm[g]] = g;
	for (int64_t i = 0; i < r->n_slices; i++)
		r->inverse[i] = rank[r->inverse[i]];
	for (int64_t g = 0; g < n; g++)
		tmp[g] = r->first[perm[g]];
	memcpy(r->first, tmp, sizeof(int64_t) * (size_t)n);
	for (int64_t g = 0; g < n; g++)
		tmp[g] = r->counts[perm[g]];
	memcpy(r->counts, tmp, sizeof(int64_t) * (size_t)n);
	free(perm);
	free(rank);
	free(tmp);
	return NULL;
}

accel_status unique_compute(const accel_tensor *x, int axis, bool sorted,
			    unique_result *r)
{
	unique_sort_ctx c = { .x = x, .outer = 1, .inner = 1,
			      .is_float = dtype_is_float(x->dtype) };
	int64_t n, *order;
	size_t cap;

	memset(r, 0, sizeof(*r));
	if (axis < 0) {
		c.len = tensor_numel(x);
	} else {
		c.len = x->dims[axis];
		for (int i = 0; i < axis; i++)
			c.outer *= x->dims[i];
		for (int i = axis + 1; i < x->rank; i++)
			c.inner *= x->dims[i];
	}
	n = c.len;
	r->n_slices = n;
	cap = sizeof(int64_t) * (size_t)(n ? n : 1);
	order = malloc(cap);
	r->first = malloc(cap);
	r->inverse = malloc(cap);
	r->counts = malloc(cap);
	if (!order || !r->first || !r->inverse || !r->counts) {
		free(order);
		unique_result_free(r);
		return status_oom("Unique indices");
	}
	for (int64_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, (size_t)n, sizeof(int64_t), unique_qsort_cmp, &c);
	for (int64_t i = 0; i < n; i++) {
		if (i == 0 || slice_cmp(&c, order[i - 1], order[i])) {
			r->first[r->n_unique] = order[i];
			r->counts[r->n_unique++] = 0;
		}
		r->counts[r->n_unique - 1]++;
		r->inverse[order[i]] = r->n_unique - 1;
	}
	free(order);
	if (!sorted) {
		accel_status st = unique_reorder(r);

		if (st)
			unique_result_free(r);
		return st;
	}
	return NULL;
}

INFER(reduce_unique_infer)
{
	const accel_tensor *x = in[0];
	const ir_attr *ax = ir_node_attr(ctx->node, "axis");
	int axis = -1;
	int64_t u = -1, len = -1, dims[ACCEL_MAX_RANK];

	for (int i = 1; i < n_out; i++)
		if (out[i])
			out[i]->dtype = ACCEL_DTYPE_I64;
	out[0]->dtype = x->dtype;
	if (x->rank < 0) {
		for (int i = 0; i < n_out; i++)
			if (out[i])
				out[i]->rank = i ? 1 : -1, out[i]->dims[0] = -1;
		return NULL;
	}
	if (ax)
		ACCEL_TRY(op_axis(ctx, ax->i, x->rank, &axis));
	len = axis < 0 ? tensor_numel(x) : x->dims[axis];
	if (x->data) {
		unique_result r;

		ACCEL_TRY(unique_compute(x, axis,
					 ir_attr_int(ctx->node, "sorted", 1) != 0, &r));
		u = r.n_unique;
		unique_result_free(&r);
	}
	if (axis < 0) {
		op_set_output(out[0], x->dtype, 1, &u);
	} else {
		memcpy(dims, x->dims, sizeof(dims));
		dims[axis] = u;
		op_set_output(out[0], x->dtype, x->rank, dims);
	}
	if (n_out > 1)
		op_set_output(out[1], ACCEL_DTYPE_I64, 1, &u);
	if (n_out > 2)
		op_set_output(out[2], ACCEL_DTYPE_I64, 1, &len);
	if (n_out > 3)
		op_set_output(out[3], ACCEL_DTYPE_I64, 1, &u);
	return NULL;
}

/* ---- quantization ---- */

INFER(reduce_matmulint_infer)
{
	const accel_tensor *a = in[0], *b = in[1];
	accel_tensor ab = { 0 }, bb = { 0 };
	int64_t dims[ACCEL_MAX_RANK];
	int r;

	out[0]->dtype = ACCEL_DTYPE_I32;
	if (a->rank < 0 || b->rank < 0) {
		out[0]->rank = -1;
		return NULL;
	}
	if (a->rank < 1 || b->rank < 1)
		return status_invalid("inputs 'A' and 'B' must have rank >= 1");
	if (a->rank > 1 && b->rank > 1) {
		int64_t k1 = a->dims[a->rank - 1], k2 = b->dims[b->rank - 2];

		if (k1 >= 0 && k2 >= 0 && k1 != k2)
			return status_invalid("inner dimensions of 'A' (%lld) and 'B' (%lld) differ",
					      (long long)k1, (long long)k2);
	}
	/* Batch dims broadcast; a 1-D operand has none. */
	ab.rank = a->rank > 2 ? a->rank - 2 : 0;
	bb.rank = b->rank > 2 ? b->rank - 2 : 0;
	memcpy(ab.dims, a->dims, sizeof(int64_t) * (size_t)ab.rank);
	memcpy(bb.dims, b->dims, sizeof(int64_t) * (size_t)bb.rank);
	ACCEL_TRY(op_broadcast(&ab, &bb, &r, dims));
	if (a->rank > 1)
		dims[r++] = a->dims[a->rank - 2];
	if (b->rank > 1)
		dims[r++] = b->dims[b->rank - 1];
	op_set_output(out[0], ACCEL_DTYPE_I32, r, dims);
	return NULL;
}

/*
 * QLinearMatMul(a, a_scale, a_zero_point, b, b_scale, b_zero_point,
 * y_scale, y_zero_point): MatMulInteger's shape, y_zero_point's type.
 */
INFER(reduce_qlinearmatmul_infer)
{
	accel_tensor *mm[2] = { in[0], in[3] };

	for (int i = 0; i < 8; i++)
		if (!in[i])
			return status_invalid("input %d is required", i);
	ACCEL_TRY(reduce_matmulint_infer(ctx, mm, 2, out, n_out));
	if (in[7]->dtype != ACCEL_DTYPE_U8 && in[7]->dtype != ACCEL_DTYPE_I8)
		return status_unsupported("y_zero_point of type %s (uint8 or int8 only)",
					  accel_dtype_name(in[7]->dtype));
	out[0]->dtype = in[7]->dtype;
	return NULL;
}

INFER(reduce_quant_infer)
{
	accel_dtype dt = ACCEL_DTYPE_U8;
	int64_t odt = ir_attr_int(ctx->node, "output_dtype", 0);

	if (n_in > 2 && in[2])
		dt = in[2]->dtype;
	else if (odt)
		dt = (accel_dtype)odt;
	op_set_output(out[0], dt, in[0]->rank, in[0]->dims);
	return NULL;
}

INFER(reduce_dequant_infer)
{
	accel_dtype dt = in[1]->dtype;

	if (ctx->node->opset >= 23 && ir_attr_int(ctx->node, "output_dtype", 0))
		dt = (accel_dtype)ir_attr_int(ctx->node, "output_dtype", 0);
	op_set_output(out[0], dt, in[0]->rank, in[0]->dims);
	return NULL;
}

INFER(reduce_dynquant_infer)
{
	op_set_output(out[0], ACCEL_DTYPE_U8, in[0]->rank, in[0]->dims);
	op_set_output(out[1], ACCEL_DTYPE_F32, 0, NULL);
	op_set_output(out[2], ACCEL_DTYPE_U8, 0, NULL);
	return NULL;
}
