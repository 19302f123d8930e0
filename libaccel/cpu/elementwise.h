/* SPDX-License-Identifier: MIT */
/*
 * elementwise.h - private interface between the CPU elementwise kernel files
 * (elementwise.c: broadcasting binary/variadic ops and the kernel table,
 * elementwise_unary.c: unary ops, elementwise_cast.c: Cast and CastLike).
 */
#ifndef ACCEL_CPU_ELEMENTWISE_H
#define ACCEL_CPU_ELEMENTWISE_H

#include "cpu/kernel.h"

/* Elements per parallel_for chunk for cheap elementwise loops. */
#define EW_GRAIN 16384

/*
 * Run |fn| with every float16/bfloat16 input and output replaced by a float32
 * copy, converting results back afterwards. Lets half types reuse the float32
 * loops; their precision is that of the ONNX reference (which also computes
 * in float32 or wider).
 */
accel_status ew_with_f32(const cpu_ctx *ctx, accel_tensor *const *in, int n_in,
			 accel_tensor *const *out, int n_out, cpu_exec_fn fn);
/* True when any present tensor of |t| is float16 or bfloat16. */
bool ew_any_half(accel_tensor *const *t, int n);

/* Convert |n| elements between any two dense dtypes (numpy astype rules). */
void ew_convert(const void *src, accel_dtype sdt, void *dst, accel_dtype ddt,
		int64_t n);

/* X(suffix, C type, accel dtype suffix, ...) for each type group. */
#define SINT_TYPES(X, ...)                          \
	X(i8, int8_t, I8, __VA_ARGS__)              \
	X(i16, int16_t, I16, __VA_ARGS__)           \
	X(i32, int32_t, I32, __VA_ARGS__)           \
	X(i64, int64_t, I64, __VA_ARGS__)
#define UINT_TYPES(X, ...)                          \
	X(u8, uint8_t, U8, __VA_ARGS__)             \
	X(u16, uint16_t, U16, __VA_ARGS__)          \
	X(u32, uint32_t, U32, __VA_ARGS__)          \
	X(u64, uint64_t, U64, __VA_ARGS__)
#define FLOAT_TYPES(X, ...)                         \
	X(f32, float, F32, __VA_ARGS__)             \
	X(f64, double, F64, __VA_ARGS__)

/* A designated initialiser of a dtype-indexed table, for the lists above. */
#define ENTRY(sfx, T, DT, op, ...) [ACCEL_DTYPE_##DT] = op##_##sfx,

/* Kernels run half types through float32 (see ew_with_f32). */
#define HALF_VIA_F32(self)                                                 \
	do {                                                               \
		if (ew_any_half(in, n_in) || ew_any_half(out, n_out))      \
			return ew_with_f32(ctx, in, n_in, out, n_out, self); \
	} while (0)

/* Size of dtype-indexed function tables. */
#define NTYPES (ACCEL_DTYPE_BF16 + 1)

#define EW_KERNEL(name) \
	accel_status name(const cpu_ctx *ctx, accel_tensor *const *in, \
			  int n_in, accel_tensor *const *out, int n_out)

/* Unary kernels (elementwise_unary.c). */
EW_KERNEL(ew_abs); EW_KERNEL(ew_neg); EW_KERNEL(ew_sqrt); EW_KERNEL(ew_exp);
EW_KERNEL(ew_log); EW_KERNEL(ew_reciprocal); EW_KERNEL(ew_floor);
EW_KERNEL(ew_ceil); EW_KERNEL(ew_round); EW_KERNEL(ew_sign);
EW_KERNEL(ew_sin); EW_KERNEL(ew_cos); EW_KERNEL(ew_tan); EW_KERNEL(ew_asin);
EW_KERNEL(ew_acos); EW_KERNEL(ew_atan); EW_KERNEL(ew_sinh);
EW_KERNEL(ew_cosh); EW_KERNEL(ew_asinh); EW_KERNEL(ew_acosh);
EW_KERNEL(ew_atanh); EW_KERNEL(ew_erf); EW_KERNEL(ew_sigmoid);
EW_KERNEL(ew_tanh); EW_KERNEL(ew_relu); EW_KERNEL(ew_leakyrelu);
EW_KERNEL(ew_elu); EW_KERNEL(ew_selu); EW_KERNEL(ew_celu);
EW_KERNEL(ew_hardsigmoid); EW_KERNEL(ew_hardswish); EW_KERNEL(ew_softsign);
EW_KERNEL(ew_softplus); EW_KERNEL(ew_thresholdedrelu); EW_KERNEL(ew_shrink);
EW_KERNEL(ew_gelu); EW_KERNEL(ew_clip); EW_KERNEL(ew_isnan);
EW_KERNEL(ew_isinf); EW_KERNEL(ew_not);

/* Conversions (elementwise_cast.c). */
EW_KERNEL(ew_cast); EW_KERNEL(ew_castlike);

#endif /* ACCEL_CPU_ELEMENTWISE_H */
