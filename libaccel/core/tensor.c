/* SPDX-License-Identifier: MIT */
/* tensor.c - tensor allocation, shape helpers and element conversions. */
#include "core/tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ACCEL_API size_t accel_dtype_size(accel_dtype dt)
{
	switch (dt) {
	case ACCEL_DTYPE_F32: case ACCEL_DTYPE_I32: case ACCEL_DTYPE_U32:
		return 4;
	case ACCEL_DTYPE_U8: case ACCEL_DTYPE_I8: case ACCEL_DTYPE_BOOL:
		return 1;
	case ACCEL_DTYPE_U16: case ACCEL_DTYPE_I16: case ACCEL_DTYPE_F16:
	case ACCEL_DTYPE_BF16:
		return 2;
	case ACCEL_DTYPE_I64: case ACCEL_DTYPE_F64: case ACCEL_DTYPE_U64:
		return 8;
	default:
		return 0;
	}
}

ACCEL_API const char *accel_dtype_name(accel_dtype dt)
{
	switch (dt) {
	case ACCEL_DTYPE_F32: return "float32";
	case ACCEL_DTYPE_U8: return "uint8";
	case ACCEL_DTYPE_I8: return "int8";
	case ACCEL_DTYPE_U16: return "uint16";
	case ACCEL_DTYPE_I16: return "int16";
	case ACCEL_DTYPE_I32: return "int32";
	case ACCEL_DTYPE_I64: return "int64";
	case ACCEL_DTYPE_STRING: return "string";
	case ACCEL_DTYPE_BOOL: return "bool";
	case ACCEL_DTYPE_F16: return "float16";
	case ACCEL_DTYPE_F64: return "float64";
	case ACCEL_DTYPE_U32: return "uint32";
	case ACCEL_DTYPE_U64: return "uint64";
	case ACCEL_DTYPE_BF16: return "bfloat16";
	default: return "undefined";
	}
}

bool dtype_is_float(accel_dtype dt)
{
	return dt == ACCEL_DTYPE_F32 || dt == ACCEL_DTYPE_F64 ||
	       dt == ACCEL_DTYPE_F16 || dt == ACCEL_DTYPE_BF16;
}

bool dtype_is_signed(accel_dtype dt)
{
	return dt == ACCEL_DTYPE_I8 || dt == ACCEL_DTYPE_I16 ||
	       dt == ACCEL_DTYPE_I32 || dt == ACCEL_DTYPE_I64;
}

bool dtype_is_int(accel_dtype dt)
{
	return dtype_is_signed(dt) || dt == ACCEL_DTYPE_U8 ||
	       dt == ACCEL_DTYPE_U16 || dt == ACCEL_DTYPE_U32 ||
	       dt == ACCEL_DTYPE_U64;
}

int64_t tensor_numel(const accel_tensor *t)
{
	int64_t n = 1;

	if (t->rank < 0)
		return -1;
	for (int i = 0; i < t->rank; i++) {
		if (t->dims[i] < 0)
			return -1;
		if (t->dims[i] && n > INT64_MAX / t->dims[i])
			return -1;
		n *= t->dims[i];
	}
	return n;
}

bool tensor_shape_known(const accel_tensor *t)
{
	return tensor_numel(t) >= 0;
}

bool tensor_same_shape(const accel_tensor *a, const accel_tensor *b)
{
	if (a->rank != b->rank)
		return false;
	for (int i = 0; i < a->rank; i++)
		if (a->dims[i] != b->dims[i])
			return false;
	return true;
}

const char *dims_str(int rank, const int64_t *dims, char *buf, size_t len)
{
	size_t used = 0;

	if (!len)
		return buf;
	buf[0] = '\0';
	if (rank < 0) {
		snprintf(buf, len, "?");
		return buf;
	}
	if (rank == 0) {
		snprintf(buf, len, "scalar");
		return buf;
	}
	for (int i = 0; i < rank && used < len; i++) {
		int n;

		if (dims[i] < 0)
			n = snprintf(buf + used, len - used, "%s?", i ? "x" : "");
		else
			n = snprintf(buf + used, len - used, "%s%lld", i ? "x" : "",
				     (long long)dims[i]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	return buf;
}

const char *tensor_shape_str(const accel_tensor *t, char *buf, size_t len)
{
	return dims_str(t->rank, t->dims, buf, len);
}

void dims_strides(int rank, const int64_t *dims, int64_t *strides)
{
	int64_t s = 1;

	for (int i = rank - 1; i >= 0; i--) {
		strides[i] = s;
		s *= dims[i];
	}
}

accel_status tensor_new_shape(accel_dtype dtype, int rank, const int64_t *dims,
			      accel_tensor **out)
{
	accel_tensor *t = NULL;

	if (rank > ACCEL_MAX_RANK)
		return status_unsupported("tensor rank %d exceeds the maximum of %d",
					  rank, ACCEL_MAX_RANK);
	t = calloc(1, sizeof(*t));
	if (!t)
		return status_oom("a tensor");
	atomic_init(&t->refs, 1);
	t->dtype = dtype;
	t->rank = rank;
	for (int i = 0; i < rank && rank > 0; i++)
		t->dims[i] = dims[i];
	*out = t;
	return NULL;
}

static accel_status alloc_storage(accel_tensor *t, bool zero)
{
	int64_t n = tensor_numel(t);
	size_t es = accel_dtype_size(t->dtype);
	size_t bytes, alloc;
	char buf[96];

	if (n < 0)
		return status_invalid("cannot allocate a tensor of shape %s",
				      tensor_shape_str(t, buf, sizeof(buf)));
	if (!es)
		return status_unsupported("element type %s has no dense storage",
					  accel_dtype_name(t->dtype));
	if ((uint64_t)n > SIZE_MAX / es / 2)
		return status_error(ACCEL_OUT_OF_MEMORY,
				    "tensor of shape %s is too large",
				    tensor_shape_str(t, buf, sizeof(buf)));
	bytes = (size_t)n * es;
	alloc = (bytes + TENSOR_ALIGN - 1) / TENSOR_ALIGN * TENSOR_ALIGN;
	if (!alloc)
		alloc = TENSOR_ALIGN;
	if (t->owns_data)
		free(t->data);
	t->data = aligned_alloc(TENSOR_ALIGN, alloc);
	if (!t->data) {
		t->owns_data = false;
		return status_error(ACCEL_OUT_OF_MEMORY,
				    "out of memory allocating %zu bytes for a tensor of shape %s",
				    bytes, tensor_shape_str(t, buf, sizeof(buf)));
	}
	if (zero) {
		memset(t->data, 0, alloc);
	} else {
#ifdef ACCEL_POISON_UNINIT
		/* Sanitizer builds: a kernel that leaves part of its output
		 * unwritten produces garbage instead of lucky zeros. */
		memset(t->data, 0xA5, bytes);
#endif
		if (alloc > bytes) /* keep the padding defined */
			memset((char *)t->data + bytes, 0, alloc - bytes);
	}
	t->nbytes = bytes;
	t->owns_data = true;
	return NULL;
}

accel_status tensor_alloc(accel_tensor *t)
{
	return alloc_storage(t, true);
}

accel_status tensor_alloc_uninit(accel_tensor *t)
{
	return alloc_storage(t, false);
}

accel_status tensor_new(accel_dtype dtype, int rank, const int64_t *dims,
		        accel_tensor **out)
{
	accel_tensor *t = NULL;
	accel_status st;

	ACCEL_TRY(tensor_new_shape(dtype, rank, dims, &t));
	st = tensor_alloc(t);
	if (st) {
		accel_tensor_release(t);
		return st;
	}
	*out = t;
	return NULL;
}

accel_status tensor_new_scalar_i64(int64_t v, accel_tensor **out)
{
	ACCEL_TRY(tensor_new(ACCEL_DTYPE_I64, 0, NULL, out));
	*(int64_t *)(*out)->data = v;
	return NULL;
}

/* ---- element access across dtypes ---- */

float f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
	float f;

	if (exp == 0) {
		if (mant == 0) {
			bits = sign;
		} else { /* subnormal: renormalise */
			exp = 127 - 15 + 1;
			while (!(mant & 0x400)) {
				mant <<= 1;
				exp--;
			}
			mant &= 0x3ff;
			bits = sign | (exp << 23) | (mant << 13);
		}
	} else if (exp == 31) {
		bits = sign | 0x7f800000u | (mant << 13);
	} else {
		bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
	}
	memcpy(&f, &bits, 4);
	return f;
}

uint16_t f32_to_f16(float f)
{
	uint32_t x, sign, mant;
	int32_t exp;

	memcpy(&x, &f, 4);
	sign = (x >> 16) & 0x8000;
	exp = (int32_t)((x >> 23) & 0xff);
	mant = x & 0x7fffff;
	if (exp == 255) /* inf / nan */
		return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 : 0));
	exp = exp - 127 + 15;
	if (exp >= 31)
		return (uint16_t)(sign | 0x7c00);
	if (exp <= 0) {
		uint32_t m, half, r;
		int shift;

		if (exp < -10)
			return (uint16_t)sign;
		m = mant | 0x800000;
		shift = 14 - exp;
		half = 1u << (shift - 1);
		r = m >> shift;
		if ((m & ((1u << shift) - 1)) > half ||
		    ((m & ((1u << shift) - 1)) == half && (r & 1)))
			r++;
		return (uint16_t)(sign | r);
	}
	{
		uint32_t r = ((uint32_t)exp << 10) | (mant >> 13);
		uint32_t rem = mant & 0x1fff;

		if (rem > 0x1000 || (rem == 0x1000 && (r & 1)))
			r++; /* may carry into the exponent: still correct */
		return (uint16_t)(sign | r);
	}
}

float bf16_to_f32(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float f;

	memcpy(&f, &bits, 4);
	return f;
}

uint16_t f32_to_bf16(float f)
{
	uint32_t x;

	memcpy(&x, &f, 4);
	if ((x & 0x7fffffff) > 0x7f800000)
		return (uint16_t)((x >> 16) | 0x40);
	x += 0x7fff + ((x >> 16) & 1);
	return (uint16_t)(x >> 16);
}

int64_t tensor_get_i64(const accel_tensor *t, int64_t i)
{
	const void *p = t->data;

	switch (t->dtype) {
	case ACCEL_DTYPE_I64: return ((const int64_t *)p)[i];
	case ACCEL_DTYPE_I32: return ((const int32_t *)p)[i];
	case ACCEL_DTYPE_I16: return ((const int16_t *)p)[i];
	case ACCEL_DTYPE_I8: return ((const int8_t *)p)[i];
	case ACCEL_DTYPE_U64: return (int64_t)((const uint64_t *)p)[i];
	case ACCEL_DTYPE_U32: return ((const uint32_t *)p)[i];
	case ACCEL_DTYPE_U16: return ((const uint16_t *)p)[i];
	case ACCEL_DTYPE_U8: return ((const uint8_t *)p)[i];
	case ACCEL_DTYPE_BOOL: return ((const uint8_t *)p)[i] != 0;
	default: return (int64_t)tensor_get_f64(t, i);
	}
}

double tensor_get_f64(const accel_tensor *t, int64_t i)
{
	const void *p = t->data;

	switch (t->dtype) {
	case ACCEL_DTYPE_F32: return ((const float *)p)[i];
	case ACCEL_DTYPE_F64: return ((const double *)p)[i];
	case ACCEL_DTYPE_F16: return f16_to_f32(((const uint16_t *)p)[i]);
	case ACCEL_DTYPE_BF16: return bf16_to_f32(((const uint16_t *)p)[i]);
	case ACCEL_DTYPE_U64: return (double)((const uint64_t *)p)[i];
	default: return (double)tensor_get_i64(t, i);
	}
}

void tensor_set_f64(accel_tensor *t, int64_t i, double v)
{
	void *p = t->data;

	switch (t->dtype) {
	case ACCEL_DTYPE_F32: ((float *)p)[i] = (float)v; break;
	case ACCEL_DTYPE_F64: ((double *)p)[i] = v; break;
	case ACCEL_DTYPE_F16: ((uint16_t *)p)[i] = f32_to_f16((float)v); break;
	case ACCEL_DTYPE_BF16: ((uint16_t *)p)[i] = f32_to_bf16((float)v); break;
	case ACCEL_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0; break;
	case ACCEL_DTYPE_U64: ((uint64_t *)p)[i] = (uint64_t)v; break;
	default: tensor_set_i64(t, i, (int64_t)v); break;
	}
}

void tensor_set_i64(accel_tensor *t, int64_t i, int64_t v)
{
	void *p = t->data;

	switch (t->dtype) {
	case ACCEL_DTYPE_I64: ((int64_t *)p)[i] = v; break;
	case ACCEL_DTYPE_I32: ((int32_t *)p)[i] = (int32_t)v; break;
	case ACCEL_DTYPE_I16: ((int16_t *)p)[i] = (int16_t)v; break;
	case ACCEL_DTYPE_I8: ((int8_t *)p)[i] = (int8_t)v; break;
	case ACCEL_DTYPE_U64: ((uint64_t *)p)[i] = (uint64_t)v; break;
	case ACCEL_DTYPE_U32: ((uint32_t *)p)[i] = (uint32_t)v; break;
	case ACCEL_DTYPE_U16: ((uint16_t *)p)[i] = (uint16_t)v; break;
	case ACCEL_DTYPE_U8: ((uint8_t *)p)[i] = (uint8_t)v; break;
	case ACCEL_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0; break;
	default: tensor_set_f64(t, i, (double)v); break;
	}
}

/* ---- public API ---- */

static accel_status check_public_shape(accel_dtype dtype, int rank,
				       const int64_t *dims)
{
	if (!accel_dtype_size(dtype))
		return status_invalid("tensor dtype %d (%s) is not a dense numeric type",
				      (int)dtype, accel_dtype_name(dtype));
	if (rank < 0 || rank > ACCEL_MAX_RANK)
		return status_invalid("tensor rank %d is outside 0..%d", rank,
				      ACCEL_MAX_RANK);
	if (rank > 0 && !dims)
		return status_invalid("tensor dims is NULL for rank %d", rank);
	for (int i = 0; i < rank; i++)
		if (dims[i] < 0)
			return status_invalid("tensor dim %d is negative (%lld)", i,
					      (long long)dims[i]);
	return NULL;
}

ACCEL_API accel_status accel_tensor_create(accel_dtype dtype, int rank,
					   const int64_t *dims,
					   accel_tensor **out_tensor)
{
	if (!out_tensor)
		return status_invalid("accel_tensor_create: out_tensor is NULL");
	ACCEL_TRY(check_public_shape(dtype, rank, dims));
	return tensor_new(dtype, rank, dims, out_tensor);
}

ACCEL_API accel_status accel_tensor_create_copy(accel_dtype dtype, int rank,
						const int64_t *dims,
						const void *data, size_t nbytes,
						accel_tensor **out_tensor)
{
	accel_tensor *t = NULL;

	if (!out_tensor || (!data && nbytes))
		return status_invalid("accel_tensor_create_copy: NULL argument");
	ACCEL_TRY(check_public_shape(dtype, rank, dims));
	ACCEL_TRY(tensor_new(dtype, rank, dims, &t));
	if (t->nbytes != nbytes) {
		char buf[96];
		accel_status st = status_invalid(
			"accel_tensor_create_copy: %zu bytes given, shape %s of %s needs %zu",
			nbytes, tensor_shape_str(t, buf, sizeof(buf)),
			accel_dtype_name(dtype), t->nbytes);
		accel_tensor_release(t);
		return st;
	}
	if (nbytes)
		memcpy(t->data, data, nbytes);
	*out_tensor = t;
	return NULL;
}

ACCEL_API void accel_tensor_retain(accel_tensor *t)
{
	if (t)
		atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

ACCEL_API void accel_tensor_release(accel_tensor *t)
{
	if (!t)
		return;
	if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (t->free_fn)
		t->free_fn(t->free_ctx, t->data);
	else if (t->owns_data)
		free(t->data);
	free(t);
}

ACCEL_API accel_dtype accel_tensor_dtype(const accel_tensor *t) { return t->dtype; }
ACCEL_API int accel_tensor_rank(const accel_tensor *t) { return t->rank; }
ACCEL_API const int64_t *accel_tensor_dims(const accel_tensor *t) { return t->dims; }
ACCEL_API int64_t accel_tensor_numel(const accel_tensor *t) { return tensor_numel(t); }
ACCEL_API void *accel_tensor_data(accel_tensor *t) { return t->data; }
ACCEL_API size_t accel_tensor_nbytes(const accel_tensor *t) { return t->nbytes; }
