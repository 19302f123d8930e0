/* SPDX-License-Identifier: MIT */
/*
 * internal.h - what the OpenCL backend's files share: the device object,
 * CL error reporting, the program/kernel cache, kernel launches, and the
 * per-exec context that op implementations (exec_*.c) receive.
 */
#ifndef ACCEL_OPENCL_INTERNAL_H
#define ACCEL_OPENCL_INTERNAL_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#include "core/status.h"
#include "opencl/opencl.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct ocl_program_entry {
	const char *src; /* the embedded source: compared by address, then text */
	cl_program prog;
	struct ocl_program_entry *next;
} ocl_program_entry;

typedef struct ocl_kernel_entry {
	char *name; /* kernel names are unique across all sources */
	cl_kernel kernel;
	struct ocl_kernel_entry *next;
} ocl_kernel_entry;

struct ocl_device {
	cl_platform_id platform;
	cl_device_id id;
	cl_context ctx; /* shared by the platform's devices */
	cl_command_queue queue;
	char name[256];
	char pci[32];
	bool has_pci;
	size_t max_wg;
	bool is_cpu; /* CL_DEVICE_TYPE_CPU: kernels tuned for caches, not local memory */
	/* Guards the caches and every set-args + enqueue sequence. */
	pthread_mutex_t lock;
	ocl_program_entry *programs;
	ocl_kernel_entry *kernels;
	atomic_int fail_build, fail_alloc;
	/* Host tensors of non-blocking uploads (ocl_upload_async), in
	 * enqueue order, held until a finish has seen their copies done. */
	pthread_mutex_t pending_lock;
	struct ocl_pending *pending;
	size_t n_pending, cap_pending;
	uint64_t pending_seq; /* the next upload's number */
	/* The error word of index kernels (check.c), made on first use; an
	 * exec that passes it holds check_lock until the word is read. */
	pthread_mutex_t check_lock;
	cl_mem check_word;
};

/* "CL_OUT_OF_RESOURCES" etc.; "CL_ERROR(<n>)" for unknown codes. */
const char *ocl_err_name(cl_int err);
/* "<call>: <CL_NAME>" and an optional ": <detail>". */
accel_status ocl_error(cl_int err, const char *call, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define OCL_CALL(call, expr)                                           \
	do {                                                           \
		cl_int ocl_err_ = (expr);                              \
		if (ocl_err_ != CL_SUCCESS)                            \
			return ocl_error(ocl_err_, call, NULL);        \
	} while (0)

/* Program for |src| on |dev|, built on first use (build log in the error). */
accel_status ocl_program_get(ocl_device *dev, const char *src, cl_program *out);
/* Device buffer; honours OCL_FAULT_ALLOC. */
accel_status ocl_buffer(ocl_device *dev, size_t bytes, cl_mem *out);

/* ---- launching kernels ---- */

typedef struct ocl_arg {
	size_t size;
	const void *ptr;
} ocl_arg;

#define OA(x) ((ocl_arg){ sizeof(x), &(x) })

/* Set the arguments of kernel |name| (in program |src|) and enqueue an
 * NDRange of |dims| dimensions. gws is rounded up to a multiple of lws;
 * lws NULL lets the implementation choose. */
accel_status ocl_launch(ocl_device *dev, const char *src, const char *name,
			cl_uint dims, const size_t *gws, const size_t *lws,
			int n_args, const ocl_arg *args);

#define OCL_LAUNCH(dev, src, name, dims, gws, lws, ...)                    \
	ocl_launch(dev, src, name, dims, gws, lws,                         \
		   (int)(sizeof((ocl_arg[]){ __VA_ARGS__ }) / sizeof(ocl_arg)), \
		   (ocl_arg[]){ __VA_ARGS__ })

/* ---- executing one node ---- */

#define OCL_MAX_TEMPS 16

typedef struct ocl_state {
	int n_in;
	cl_mem *const_mem; /* device copies of constant inputs, or NULL */
} ocl_state;

typedef struct ocl_ctx {
	ocl_device *dev;
	const ir_node *node;
	const ocl_state *state;
	accel_tensor *const *in;
	const bool *on_host;
	int n_in;
	accel_tensor *const *out;
	int n_out;
	cl_mem temps[OCL_MAX_TEMPS]; /* released after the launch(es) */
	int n_temps;
	/* Set by ocl_check_word: the device's error word, held by this exec,
	 * and what turns a bad index into a status. */
	cl_mem check;
	accel_status (*bad)(struct ocl_ctx *c, int input, int64_t pos, int64_t value);
} ocl_ctx;

/* The cl_mem holding input |i| (uploaded now when it is host data that
 * prepare did not keep). */
accel_status ocl_in_mem(ocl_ctx *c, int i, cl_mem *out);
/* Scratch memory released when the exec returns (after enqueueing). */
accel_status ocl_scratch(ocl_ctx *c, size_t bytes, cl_mem *out);
static inline cl_mem ocl_out_mem(ocl_ctx *c, int i)
{
	return (cl_mem)c->out[i]->data;
}
/* The number the next async upload will get: ocl_finish takes it before
 * clFinish and then releases the uploads numbered below it. */
uint64_t ocl_pending_mark(ocl_device *dev);
void ocl_pending_release(ocl_device *dev, uint64_t below);
/* Copy |bytes| from src+soff to dst+doff on the device. */
accel_status ocl_copy(ocl_device *dev, cl_mem src, size_t soff, cl_mem dst,
		      size_t doff, size_t bytes);

/* ---- bad indices: the error word (check.c) ---- */

/* Turns "element |pos| of input |input| holds |value|, out of range" into
 * the node's error (ocl_bad_index for the common wording). */
typedef accel_status (*ocl_bad_fn)(ocl_ctx *c, int input, int64_t pos, int64_t value);
/* The device's error word for this exec's kernels (their last argument;
 * kernels call bad_index(err, input + 1, pos)); |bad| describes a hit.
 * Takes the device's check_lock until ocl_exec reads the word. */
accel_status ocl_check_word(ocl_ctx *c, ocl_bad_fn bad, cl_mem *out);
/* The same for an op whose input |input| must lie in [-dim, dim): when it
 * is a host constant its values are checked here instead (an error now, or
 * the word passed without a read-back). */
accel_status ocl_check_word_range(ocl_ctx *c, int input, int64_t dim, ocl_bad_fn bad,
				  cl_mem *out);
/* ocl_exec, after the op: read the word (if taken), reset it when set,
 * release the lock; returns |st|, or the bad-index error when st is NULL. */
accel_status ocl_check_end(ocl_ctx *c, accel_status st);
/* Device set-up and teardown of the word (device.c). */
void ocl_check_init(ocl_device *dev);
void ocl_check_fini(ocl_device *dev);
/* "[i, j, k]": flat position |pos| as coordinates in |t|'s shape. */
void ocl_index_pos(const accel_tensor *t, int64_t pos, char *buf, size_t len);
/* "input 'indices': index 7 at [0, 2] is out of range for a dimension of
 * size 5 (allowed -5..4)"; |negative|: negative indices wrap once. */
accel_status ocl_bad_index(ocl_ctx *c, int input, const char *name, int64_t pos,
			   int64_t value, int64_t dim, bool negative);

typedef accel_status (*ocl_exec_fn)(ocl_ctx *c);
/* Extra checks beyond dtype: attributes, ranks. in[i] may be NULL. */
typedef bool (*ocl_check_fn)(const ir_node *n, accel_tensor *const *in, int n_in);

typedef struct ocl_op {
	const char *op_type;
	const char *domain;
	const char *src; /* the program its kernels live in */
	ocl_exec_fn exec;
	ocl_check_fn check;
	unsigned host_inputs; /* bit i: input i's values are read on the host */
	bool fp64;	      /* its kernels use double: devices without it refuse */
} ocl_op;

extern const ocl_op ocl_ops_elementwise[];
extern const ocl_op ocl_ops_linalg[];
extern const ocl_op ocl_ops_nn[];
extern const ocl_op ocl_ops_tensor[];
extern const ocl_op ocl_ops_index[];

/* Program sources (kernels.c). */
extern const char ocl_src_elementwise[];
extern const char ocl_src_gemm[];
extern const char ocl_src_nn[];
extern const char ocl_src_tensor[];
extern const char ocl_src_index[];
extern const char ocl_src_quant64[]; /* needs cl_khr_fp64 */

/* ---- shared helpers ---- */

static inline bool ocl_is(const accel_tensor *t, accel_dtype dt)
{
	return t && t->dtype == dt;
}
/* Every present input is float32. */
bool ocl_check_f32(const ir_node *n, accel_tensor *const *in, int n_in);
/* "f32", "i32", "i64", "u8" (bool/uint8), "i8": kernel name suffixes. */
const char *ocl_type_sfx(accel_dtype dt);
/* Fits the 32-bit index math of the kernels. */
accel_status ocl_check_size(const accel_tensor *t);
/* Round |n| up to a multiple of |m|. */
static inline size_t ocl_round_up(size_t n, size_t m)
{
	return (n + m - 1) / m * m;
}
/* 1-D launch over |n| items, work-group 64 (or implementation's). */
accel_status ocl_launch_1d(ocl_device *dev, const char *src, const char *name,
			   size_t n, int n_args, const ocl_arg *args);
#define OCL_LAUNCH_1D(dev, src, name, n, ...)                              \
	ocl_launch_1d(dev, src, name, n,                                   \
		      (int)(sizeof((ocl_arg[]){ __VA_ARGS__ }) / sizeof(ocl_arg)), \
		      (ocl_arg[]){ __VA_ARGS__ })

/* Fused activation of com.accel Fused* nodes, as the GEMM epilogue reads it. */
enum { OCL_ACT_NONE, OCL_ACT_CLAMP, OCL_ACT_SIGMOID, OCL_ACT_HARDSIGMOID,
       OCL_ACT_HARDSWISH, OCL_ACT_LEAKYRELU, OCL_ACT_SILU, OCL_ACT_GELU,
       OCL_ACT_GELU_TANH };
typedef struct ocl_act {
	cl_int kind;
	cl_float lo, hi, alpha, beta;
} ocl_act;
bool ocl_act_from_node(const ir_node *n, ocl_act *out);

#endif /* ACCEL_OPENCL_INTERNAL_H */
