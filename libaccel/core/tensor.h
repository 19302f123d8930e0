/* SPDX-License-Identifier: MIT */
/*
 * tensor.h - the runtime tensor: dtype, shape and host storage.
 *
 * The same struct describes a value during static shape inference, where
 * |rank| may be -1 (unknown), dims may be -1 (dynamic) and |data| is NULL
 * unless the value is a constant.
 */
#ifndef ACCEL_CORE_TENSOR_H
#define ACCEL_CORE_TENSOR_H

#include "accel/accel.h"
#include "core/status.h"

#include <stdatomic.h>
#include <stdbool.h>

#define TENSOR_ALIGN 64

struct accel_tensor {
	atomic_int refs;
	accel_dtype dtype;
	int rank; /* -1: unknown (static inference only) */
	int64_t dims[ACCEL_MAX_RANK];
	void *data;    /* NULL when not allocated or unknown */
	size_t nbytes; /* bytes of |data| */
	bool owns_data;
	/* Device tensors: |data| is device memory, freed by free_fn. */
	bool on_device;
	void (*free_fn)(void *free_ctx, void *mem);
	void *free_ctx;
};

/* A tensor header with shape but no storage (data NULL). */
accel_status tensor_new_shape(accel_dtype dtype, int rank, const int64_t *dims,
			      accel_tensor **out);
/* Allocate (aligned, zeroed) storage for a tensor made by tensor_new_shape. */
accel_status tensor_alloc(accel_tensor *t);
/* Same without zeroing: for kernel outputs, which write every element. */
accel_status tensor_alloc_uninit(accel_tensor *t);
/* Shape + storage in one step. */
accel_status tensor_new(accel_dtype dtype, int rank, const int64_t *dims,
		        accel_tensor **out);
/* Scalar helpers used by loaders and ops. */
accel_status tensor_new_scalar_i64(int64_t v, accel_tensor **out);

/* Number of elements; -1 when rank or a dim is unknown; checks overflow. */
int64_t tensor_numel(const accel_tensor *t);
bool tensor_shape_known(const accel_tensor *t);
bool tensor_same_shape(const accel_tensor *a, const accel_tensor *b);
/* "2x3x224x224" / "?" into buf. Returns buf. */
const char *tensor_shape_str(const accel_tensor *t, char *buf, size_t len);
const char *dims_str(int rank, const int64_t *dims, char *buf, size_t len);

/* Read element |i| of an integer/float tensor as int64 / double (any dtype). */
int64_t tensor_get_i64(const accel_tensor *t, int64_t i);
double tensor_get_f64(const accel_tensor *t, int64_t i);
/* Write element |i| converting from double / int64. */
void tensor_set_f64(accel_tensor *t, int64_t i, double v);
void tensor_set_i64(accel_tensor *t, int64_t i, int64_t v);

/* Row-major strides (in elements) of |dims|. */
void dims_strides(int rank, const int64_t *dims, int64_t *strides);

/* IEEE half / bfloat16 conversion. */
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);

bool dtype_is_float(accel_dtype dt);
bool dtype_is_int(accel_dtype dt);     /* signed or unsigned integers */
bool dtype_is_signed(accel_dtype dt);

#endif /* ACCEL_CORE_TENSOR_H */
