/* SPDX-License-Identifier: MIT */
/*
 * accel.h - the public API of libaccel, the accel inference runtime.
 *
 * A context owns the device registry. A model is a loaded, validated graph.
 * A session binds a model to devices and runs it; sessions are thread-safe:
 * several threads may call accel_session_run() on one session at once.
 *
 * Conventions:
 *  - Every fallible call returns an accel_status. NULL means success; any
 *    other value carries a code and a message naming the model, node and
 *    tensor involved, and must be released with accel_status_free().
 *  - Results are returned through out_* parameters, written only on success.
 *  - Objects are reference counted: *_retain adds a reference, *_release
 *    drops one. Objects returned through out_* carry one reference owned by
 *    the caller.
 *  - Every call that can grow takes a flags word; unknown bits are rejected.
 */
#ifndef ACCEL_ACCEL_H
#define ACCEL_ACCEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(ACCEL_BUILDING_LIBRARY)
#define ACCEL_API __attribute__((visibility("default")))
#else
#define ACCEL_API
#endif

#define ACCEL_VERSION_MAJOR 0
#define ACCEL_VERSION_MINOR 1
#define ACCEL_VERSION_PATCH 0

/* Largest tensor rank the runtime handles. */
#define ACCEL_MAX_RANK 8

/* ---- status -------------------------------------------------------------- */

typedef enum accel_status_code {
	ACCEL_OK = 0,
	ACCEL_INVALID_ARGUMENT = 1, /* bad argument from the caller */
	ACCEL_NOT_FOUND = 2,	    /* a file, input name or device is missing */
	ACCEL_UNSUPPORTED = 3,	    /* valid, but this runtime cannot do it */
	ACCEL_OUT_OF_MEMORY = 4,
	ACCEL_IO_ERROR = 5,
	ACCEL_INVALID_MODEL = 6, /* the model file is malformed or inconsistent */
	ACCEL_PERMISSION_DENIED = 7,
	ACCEL_INTERNAL = 8,
	ACCEL_UNAVAILABLE = 9, /* a device or resource is not present */
	ACCEL_DEADLINE_EXCEEDED = 10,
} accel_status_code;

typedef struct accel_status_s *accel_status;

ACCEL_API accel_status_code accel_status_code_of(accel_status status);
/* The message stays valid until the status is freed. "OK" for NULL. */
ACCEL_API const char *accel_status_message(accel_status status);
ACCEL_API const char *accel_status_code_name(accel_status_code code);
ACCEL_API void accel_status_free(accel_status status);

/* ---- element types (values match ONNX TensorProto.DataType) -------------- */

typedef enum accel_dtype {
	ACCEL_DTYPE_UNDEFINED = 0,
	ACCEL_DTYPE_F32 = 1,
	ACCEL_DTYPE_U8 = 2,
	ACCEL_DTYPE_I8 = 3,
	ACCEL_DTYPE_U16 = 4,
	ACCEL_DTYPE_I16 = 5,
	ACCEL_DTYPE_I32 = 6,
	ACCEL_DTYPE_I64 = 7,
	ACCEL_DTYPE_STRING = 8,
	ACCEL_DTYPE_BOOL = 9,
	ACCEL_DTYPE_F16 = 10,
	ACCEL_DTYPE_F64 = 11,
	ACCEL_DTYPE_U32 = 12,
	ACCEL_DTYPE_U64 = 13,
	ACCEL_DTYPE_BF16 = 16,
} accel_dtype;

/* Size of one element in bytes, 0 for UNDEFINED/STRING/unknown values. */
ACCEL_API size_t accel_dtype_size(accel_dtype dtype);
/* "float32", "int64", ...; "undefined" for unknown values. */
ACCEL_API const char *accel_dtype_name(accel_dtype dtype);

/* ---- tensors --------------------------------------------------------------- */

typedef struct accel_tensor accel_tensor;

/* A dense, row-major host tensor with zero-initialised storage. */
ACCEL_API accel_status accel_tensor_create(accel_dtype dtype, int rank,
					   const int64_t *dims,
					   accel_tensor **out_tensor);
/* Same, with |nbytes| bytes copied from |data|; nbytes must match the shape. */
ACCEL_API accel_status accel_tensor_create_copy(accel_dtype dtype, int rank,
						const int64_t *dims,
						const void *data, size_t nbytes,
						accel_tensor **out_tensor);
ACCEL_API void accel_tensor_retain(accel_tensor *tensor);
ACCEL_API void accel_tensor_release(accel_tensor *tensor);
ACCEL_API accel_dtype accel_tensor_dtype(const accel_tensor *tensor);
ACCEL_API int accel_tensor_rank(const accel_tensor *tensor);
/* Pointer to |rank| dimensions, valid while the tensor lives. */
ACCEL_API const int64_t *accel_tensor_dims(const accel_tensor *tensor);
ACCEL_API int64_t accel_tensor_numel(const accel_tensor *tensor);
ACCEL_API void *accel_tensor_data(accel_tensor *tensor);
ACCEL_API size_t accel_tensor_nbytes(const accel_tensor *tensor);

/*
 * Tensor files. Reading accepts NumPy .npy (format 1.0-3.0, little-endian,
 * C order) and serialized ONNX TensorProto (.pb), chosen by content.
 */
ACCEL_API accel_status accel_tensor_read_file(const char *path,
					      accel_tensor **out_tensor);
/* Reading a TensorProto also returns its name when out_name is not NULL
 * (caller frees with free(); NULL when the file has none). */
ACCEL_API accel_status accel_tensor_read_pb(const char *path,
					    accel_tensor **out_tensor,
					    char **out_name);
ACCEL_API accel_status accel_tensor_write_npy(const accel_tensor *tensor,
					      const char *path);

/* ---- context and devices ---------------------------------------------------- */

typedef struct accel_context accel_context;
typedef struct accel_device accel_device;

typedef enum accel_device_kind {
	ACCEL_DEVICE_CPU = 0,
	ACCEL_DEVICE_OPENCL = 1,
	ACCEL_DEVICE_CUDA = 2,
} accel_device_kind;

ACCEL_API accel_status accel_context_create(uint32_t flags,
					    accel_context **out_context);
ACCEL_API void accel_context_retain(accel_context *context);
ACCEL_API void accel_context_release(accel_context *context);
ACCEL_API size_t accel_context_device_count(const accel_context *context);
/* Borrowed pointer, valid while the context lives. */
ACCEL_API accel_status accel_context_device(accel_context *context,
					    size_t index,
					    accel_device **out_device);
/* Find a device by spec: "cpu", "opencl:1", "cuda:0". */
ACCEL_API accel_status accel_context_find_device(accel_context *context,
						 const char *spec,
						 accel_device **out_device);
ACCEL_API const char *accel_device_name(const accel_device *device);
ACCEL_API accel_device_kind accel_device_kind_of(const accel_device *device);
/*
 * Where a device sits: its PCI bus id ("0000:3b:00.0", lower case), NULL
 * for the CPU and for devices whose backend reports none (PoCL's CPU
 * devices), and the NUMA node nearest it, -1 when unknown. Pinned host
 * buffers for a device belong on that node.
 */
/*
 * When the context has no device of |kind|, why (a sentence: "this build
 * has no CUDA backend", "no CUDA driver on this host (libcuda.so.1 not
 * found)"...); NULL when it has one. Borrowed, static.
 */
ACCEL_API const char *accel_context_device_absence(accel_context *context,
						   accel_device_kind kind);
ACCEL_API const char *accel_device_pci_bus_id(const accel_device *device);
ACCEL_API int accel_device_numa_node(const accel_device *device);

/*
 * The GPUs the kernel's DRM subsystem knows (read with libdrm), whether or
 * not a backend drives them: accel-run --list-devices shows the ones none
 * does. Strings are borrowed from the context.
 */
typedef struct accel_drm_gpu {
	const char *pci_bus_id;	  /* "0000:3b:00.0" */
	uint16_t vendor_id;	  /* PCI ids: 0x1002 AMD, 0x10de NVIDIA, 0x8086 Intel */
	uint16_t device_id;
	const char *primary_node; /* "/dev/dri/card0", or NULL */
	const char *render_node;  /* "/dev/dri/renderD128", or NULL */
	int numa_node;		  /* -1: unknown */
	accel_device *driven_by;  /* the device a backend drives it as, or NULL */
} accel_drm_gpu;

ACCEL_API size_t accel_context_drm_gpu_count(accel_context *context);
ACCEL_API accel_status accel_context_drm_gpu(accel_context *context, size_t index,
					     accel_drm_gpu *out_gpu);

/* ---- models ---------------------------------------------------------------- */

typedef struct accel_model accel_model;

typedef struct accel_value_info {
	const char *name;
	accel_dtype dtype;
	int rank;			/* -1 when unknown */
	int64_t dims[ACCEL_MAX_RANK];	/* -1 for a dynamic dimension */
	const char *dim_names[ACCEL_MAX_RANK]; /* symbolic names or NULL */
} accel_value_info;

/*
 * accel_model_load flags: the graph optimisation level, 0..3. Without a
 * level flag the highest level is used.
 *   0  check and infer shapes only (the graph runs as written)
 *   1  + constant folding and graph clean-ups
 *   2  + operator fusion (Conv+BatchNorm, bias/activation, LayerNorm, GELU)
 *   3  + layout and kernel-specific rewrites
 */
#define ACCEL_LOAD_OPT_LEVEL_MAX 3
#define ACCEL_LOAD_OPT_LEVEL(n) (0x8u | ((uint32_t)(n) & 0x7u))

/* Load an ONNX model. External data files are read relative to the model's
 * directory and may not leave it. */
ACCEL_API accel_status accel_model_load(accel_context *context,
					const char *path, uint32_t flags,
					accel_model **out_model);
/* Load from memory; |base_dir| (may be NULL) resolves external data. */
ACCEL_API accel_status accel_model_load_memory(accel_context *context,
					       const void *data, size_t size,
					       const char *name,
					       const char *base_dir,
					       uint32_t flags,
					       accel_model **out_model);
ACCEL_API void accel_model_retain(accel_model *model);
ACCEL_API void accel_model_release(accel_model *model);
ACCEL_API const char *accel_model_name(const accel_model *model);
ACCEL_API size_t accel_model_input_count(const accel_model *model);
ACCEL_API size_t accel_model_output_count(const accel_model *model);
/* Fills |out_info|; its strings are borrowed from the model. */
ACCEL_API accel_status accel_model_input_info(const accel_model *model,
					      size_t index,
					      accel_value_info *out_info);
ACCEL_API accel_status accel_model_output_info(const accel_model *model,
					       size_t index,
					       accel_value_info *out_info);
ACCEL_API size_t accel_model_node_count(const accel_model *model);
/*
 * Write the model's graph, as optimised at load time, to |path| as
 * Graphviz DOT (render with `dot -Tsvg`). |flags| must be 0 (other formats
 * may get a flag later).
 */
ACCEL_API accel_status accel_model_dump_graph(const accel_model *model,
					      const char *path, uint32_t flags);

/* ---- sessions ---------------------------------------------------------------- */

typedef struct accel_session accel_session;

typedef struct accel_session_options {
	uint32_t struct_size;	/* sizeof(accel_session_options) */
	uint32_t flags;		/* must be 0 */
	int num_threads;	/* 0: all online CPUs */
	const char *devices;	/* NULL or "cpu": the CPU; "auto"; or a list such
				 * as "cpu,opencl:0,opencl:1": nodes go to the
				 * first listed device that supports them, the
				 * CPU taking the rest */
	/*
	 * Dynamic batching: concurrent requests whose inputs differ only in
	 * dimension 0 (declared dynamic) are concatenated along it, up to
	 * max_batch rows, run once and split back. A request waits at most
	 * max_batch_delay_us for partners. 0 or 1: off.
	 */
	uint32_t max_batch;
	uint32_t max_batch_delay_us; /* 0: 1000 when batching is on */
} accel_session_options;

ACCEL_API void accel_session_options_init(accel_session_options *options);
ACCEL_API accel_status accel_session_create(accel_model *model,
					    const accel_session_options *options,
					    accel_session **out_session);
ACCEL_API void accel_session_retain(accel_session *session);
ACCEL_API void accel_session_release(accel_session *session);

typedef struct accel_named_tensor {
	const char *name;
	accel_tensor *tensor; /* borrowed for the duration of the call */
} accel_named_tensor;

/*
 * Run the model once. |inputs| names every graph input (any order).
 * |out_outputs| receives accel_model_output_count() new tensors in the
 * model's output order; the caller releases each.
 */
ACCEL_API accel_status accel_session_run(accel_session *session,
					 const accel_named_tensor *inputs,
					 size_t input_count,
					 accel_tensor **out_outputs,
					 size_t output_count, uint32_t flags);

/*
 * Asynchronous runs. accel_session_submit() checks and binds the inputs
 * (they are retained until the request completes), queues the run on the
 * session's devices and returns at once; accel_session_run() is submit,
 * wait and take. With several requests in flight the devices of a split
 * plan work on different requests at the same time (a pipeline).
 */
typedef struct accel_request accel_request;

#define ACCEL_WAIT_FOREVER (-1)

ACCEL_API accel_status accel_session_submit(accel_session *session,
					    const accel_named_tensor *inputs,
					    size_t input_count, uint32_t flags,
					    accel_request **out_request);
/*
 * Wait up to |timeout_ns| (0 polls, ACCEL_WAIT_FOREVER has no limit) for
 * the request to complete. Returns NULL once it completed successfully,
 * the run's error (a new status each call) if it failed, or an
 * ACCEL_DEADLINE_EXCEEDED status while it is still running.
 */
ACCEL_API accel_status accel_request_wait(accel_request *request, int64_t timeout_ns);
/*
 * Hand a successfully completed request's outputs to the caller (once):
 * accel_model_output_count() tensors in the model's output order.
 */
ACCEL_API accel_status accel_request_take_outputs(accel_request *request,
						  accel_tensor **out_outputs,
						  size_t output_count);
/* Waits for the request if it is still running, then frees it. */
ACCEL_API void accel_request_free(accel_request *request);

/*
 * What each device of a session has done since it was created: one entry
 * per device its plan uses, the CPU included (accel-run's JSON report).
 */
typedef struct accel_device_activity {
	const char *device; /* borrowed from the session */
	uint64_t busy_ns;   /* time spent running the session's steps */
	uint64_t segments;  /* device-contiguous runs of steps executed */
	uint64_t steps;	    /* steps executed */
} accel_device_activity;

ACCEL_API size_t accel_session_device_count(const accel_session *session);
ACCEL_API accel_status accel_session_device_activity(const accel_session *session,
						     size_t index,
						     accel_device_activity *out);

/*
 * The session's memory plan (sched/arena.h): intermediates the CPU
 * produces with shapes known at load time share one block per request,
 * laid out by lifetime, elementwise results written over dying inputs.
 */
typedef struct accel_memory_plan {
	uint64_t arena_bytes;	/* one request's block */
	uint64_t planned_bytes; /* the planned values' sizes, summed */
	uint32_t planned_values;
	uint32_t in_place;	/* of which written over their input */
} accel_memory_plan;

ACCEL_API accel_status accel_session_memory_plan(const accel_session *session,
						 accel_memory_plan *out);

/* Where each step of a session's plan runs, and why (accel-run --explain). */
typedef struct accel_node_placement {
	const char *node_name;
	const char *op_type;
	const char *device; /* "cpu", "opencl:0 (…)" */
	const char *reason;
} accel_node_placement;

/* Steps in execution order (nodes after optimisation). */
ACCEL_API size_t accel_session_step_count(const accel_session *session);
/* Strings are borrowed from the session. */
ACCEL_API accel_status accel_session_placement(const accel_session *session, size_t index,
					       accel_node_placement *out_placement);

#ifdef __cplusplus
}
#endif

#endif /* ACCEL_ACCEL_H */
