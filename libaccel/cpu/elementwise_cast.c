/* SPDX-License-Identifier: MIT */
/*
 * elementwise_cast.c - dtype conversion: ew_convert() and the Cast and
 * CastLike kernels.
 *
 * Conversions follow numpy's astype: floats to integers truncate toward
 * zero, integers wrap, anything to bool is "!= 0", NaN to bool is true.
 */
#include "cpu/elementwise.h"

#include <math.h>
#include <string.h>

/* Element |i| as double (float, integer or bool source). */
static double get_f(const void *p, accel_dtype dt, int64_t i)
{
	switch (dt) {
	case ACCEL_DTYPE_F32: return ((const float *)p)[i];
	case ACCEL_DTYPE_F64: return ((const double *)p)[i];
	case ACCEL_DTYPE_F16: return f16_to_f32(((const uint16_t *)p)[i]);
	case ACCEL_DTYPE_BF16: return bf16_to_f32(((const uint16_t *)p)[i]);
	case ACCEL_DTYPE_U64: return (double)((const uint64_t *)p)[i];
	case ACCEL_DTYPE_I64: return (double)((const int64_t *)p)[i];
	case ACCEL_DTYPE_I32: return ((const int32_t *)p)[i];
	case ACCEL_DTYPE_I16: return ((const int16_t *)p)[i];
	case ACCEL_DTYPE_I8: return ((const int8_t *)p)[i];
	case ACCEL_DTYPE_U32: return ((const uint32_t *)p)[i];
	case ACCEL_DTYPE_U16: return ((const uint16_t *)p)[i];
	case ACCEL_DTYPE_U8: return ((const uint8_t *)p)[i];
	case ACCEL_DTYPE_BOOL: return ((const uint8_t *)p)[i] != 0;
	default: return 0;
	}
}

/* Element |i| of an integer or bool source, sign-extended to 64 bits. */
static uint64_t get_bits(const void *p, accel_dtype dt, int64_t i)
{
	switch (dt) {
	case ACCEL_DTYPE_U64: return ((const uint64_t *)p)[i];
	case ACCEL_DTYPE_I64: return (uint64_t)((const int64_t *)p)[i];
	case ACCEL_DTYPE_I32: return (uint64_t)(int64_t)((const int32_t *)p)[i];
	case ACCEL_DTYPE_I16: return (uint64_t)(int64_t)((const int16_t *)p)[i];
	case ACCEL_DTYPE_I8: return (uint64_t)(int64_t)((const int8_t *)p)[i];
	case ACCEL_DTYPE_U32: return ((const uint32_t *)p)[i];
	case ACCEL_DTYPE_U16: return ((const uint16_t *)p)[i];
	case ACCEL_DTYPE_U8: return ((const uint8_t *)p)[i];
	case ACCEL_DTYPE_BOOL: return ((const uint8_t *)p)[i] != 0;
	default: return 0;
	}
}

/* A float value as integer bits: truncated, NaN as 0, saturated at 64 bits. */
static uint64_t f_to_bits(double v)
{
	if (v != v)
		return 0;
	v = trunc(v);
	if (v < 0)
		return v <= -9223372036854775808.0 ? (uint64_t)INT64_MIN
						   : (uint64_t)(int64_t)v;
	return v >= 18446744073709551616.0 ? UINT64_MAX : (uint64_t)v;
}

static void put_f(void *p, accel_dtype dt, int64_t i, double v)
{
	switch (dt) {
	case ACCEL_DTYPE_F32: ((float *)p)[i] = (float)v; break;
	case ACCEL_DTYPE_F64: ((double *)p)[i] = v; break;
	case ACCEL_DTYPE_F16: ((uint16_t *)p)[i] = f32_to_f16((float)v); break;
	case ACCEL_DTYPE_BF16: ((uint16_t *)p)[i] = f32_to_bf16((float)v); break;
	default: break;
	}
}

static void put_bits(void *p, accel_dtype dt, int64_t i, uint64_t v)
{
	switch (dt) {
	case ACCEL_DTYPE_U64: case ACCEL_DTYPE_I64: ((uint64_t *)p)[i] = v; break;
	case ACCEL_DTYPE_U32: case ACCEL_DTYPE_I32: ((uint32_t *)p)[i] = (uint32_t)v; break;
	case ACCEL_DTYPE_U16: case ACCEL_DTYPE_I16: ((uint16_t *)p)[i] = (uint16_t)v; break;
	case ACCEL_DTYPE_U8: case ACCEL_DTYPE_I8: ((uint8_t *)p)[i] = (uint8_t)v; break;
	case ACCEL_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0; break;
	default: break;
	}
}

static bool is_intlike(accel_dtype dt)
{
	return dtype_is_int(dt) || dt == ACCEL_DTYPE_BOOL;
}

/* The conversions models use most, as straight loops. */
static bool convert_fast(const void *src, accel_dtype sdt, void *dst,
			 accel_dtype ddt, int64_t n)
{
	const uint16_t *h = src;
	const float *f = src;
	uint16_t *oh = dst;
	float *of = dst;

	if (sdt == ACCEL_DTYPE_F16 && ddt == ACCEL_DTYPE_F32)
		for (int64_t i = 0; i < n; i++)
			of[i] = f16_to_f32(h[i]);
	else if (sdt == ACCEL_DTYPE_BF16 && ddt == ACCEL_DTYPE_F32)
		for (int64_t i = 0; i < n; i++)
			of[i] = bf16_to_f32(h[i]);
	else if (sdt == ACCEL_DTYPE_F32 && ddt == ACCEL_DTYPE_F16)
		for (int64_t i = 0; i < n; i++)
			oh[i] = f32_to_f16(f[i]);
	else if (sdt == ACCEL_DTYPE_F32 && ddt == ACCEL_DTYPE_BF16)
		for (int64_t i = 0; i < n; i++)
			oh[i] = f32_to_bf16(f[i]);
	else
		return false;
	return true;
}

void ew_convert(const void *src, accel_dtype sdt, void *dst, accel_dtype ddt,
		int64_t n)
{
	if (sdt == ddt) {
		memcpy(dst, src, (size_t)n * accel_dtype_size(sdt));
		return;
	}
	if (convert_fast(src, sdt, dst, ddt, n))
		return;
	for (int64_t i = 0; i < n; i++) {
		if (ddt == ACCEL_DTYPE_BOOL)
			put_bits(dst, ddt, i, get_f(src, sdt, i) != 0);
		else if (dtype_is_float(ddt))
			put_f(dst, ddt, i, get_f(src, sdt, i));
		else if (is_intlike(sdt))
			put_bits(dst, ddt, i, get_bits(src, sdt, i));
		else
			put_bits(dst, ddt, i, f_to_bits(get_f(src, sdt, i)));
	}
}

typedef struct cast_job {
	const char *src;
	char *dst;
	accel_dtype sdt, ddt;
} cast_job;

static void cast_range(void *arg, int64_t begin, int64_t end)
{
	const cast_job *j = arg;

	ew_convert(j->src + begin * (int64_t)accel_dtype_size(j->sdt), j->sdt,
		   j->dst + begin * (int64_t)accel_dtype_size(j->ddt), j->ddt,
		   end - begin);
}

/*
 * Before opset 19 the ONNX reference cast float32 to bfloat16 by dropping
 * the low 16 bits; from opset 19 on it rounds to nearest even (ew_convert).
 */
static void truncate_to_bf16(const float *src, uint16_t *dst, int64_t n)
{
	for (int64_t i = 0; i < n; i++) {
		uint32_t x;

		memcpy(&x, &src[i], sizeof(x));
		dst[i] = (x & 0x7fffffff) > 0x7f800000 ? f32_to_bf16(src[i])
						       : (uint16_t)(x >> 16);
	}
}

static bool castable(accel_dtype dt)
{
	return dtype_is_float(dt) || is_intlike(dt);
}

EW_KERNEL(ew_cast)
{
	cast_job job = {
		.src = in[0]->data, .dst = out[0]->data,
		.sdt = in[0]->dtype, .ddt = out[0]->dtype,
	};

	if (!castable(job.sdt) || !castable(job.ddt))
		return status_unsupported("cast from %s to %s is not supported",
					  accel_dtype_name(job.sdt),
					  accel_dtype_name(job.ddt));
	if (job.sdt == ACCEL_DTYPE_F32 && job.ddt == ACCEL_DTYPE_BF16 &&
	    ctx->node->opset < 19) {
		truncate_to_bf16(in[0]->data, out[0]->data,
				 tensor_numel(out[0]));
		return NULL;
	}
	parallel_for(ctx->pool, tensor_numel(out[0]), EW_GRAIN, cast_range,
		     &job);
	return NULL;
}

EW_KERNEL(ew_castlike)
{
	return ew_cast(ctx, in, 1, out, n_out);
}
