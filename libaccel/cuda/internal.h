/* SPDX-License-Identifier: MIT */
/*
 * internal.h - what the CUDA backend's files share: the run-time API table
 * (libcuda, libnvrtc and libcublas resolved with dlsym, never linked), the
 * device object, CUresult reporting, modules and launches, and the per-exec
 * context that op implementations receive.
 *
 * The CUDA headers are used for their types and prototypes only: every
 * entry point is a function pointer in cuda_api, declared with the type of
 * the header's prototype so a signature cannot drift.
 */
#ifndef ACCEL_CUDA_INTERNAL_H
#define ACCEL_CUDA_INTERNAL_H

#include <cuda.h>
#include <nvrtc.h>
#include <cublas_v2.h>

#include "core/status.h"
#include "cuda/cuda.h"

#include <pthread.h>
#include <stdatomic.h>

#define CUDA_FN(sym) __typeof__(sym) *

typedef struct cuda_ptx_entry {
	char *src;   /* generated CUDA C */
	int arch;    /* compute capability * 10 */
	char *ptx;   /* NVRTC's output, NUL-terminated */
	struct cuda_ptx_entry *next;
} cuda_ptx_entry;

/* The entry points; optional libraries leave theirs NULL. Shared by every
 * device of one discovery, freed with the last one. */
typedef struct cuda_api {
	atomic_int refs;
	void *lib, *nvrtc_lib, *cublas_lib;
	int driver_version;
	CUDA_FN(cuInit) Init;
	CUDA_FN(cuDriverGetVersion) DriverGetVersion;
	CUDA_FN(cuGetErrorName) GetErrorName;
	CUDA_FN(cuGetErrorString) GetErrorString;
	CUDA_FN(cuDeviceGetCount) DeviceGetCount;
	CUDA_FN(cuDeviceGet) DeviceGet;
	CUDA_FN(cuDeviceGetName) DeviceGetName;
	CUDA_FN(cuDeviceGetAttribute) DeviceGetAttribute;
	CUDA_FN(cuDeviceTotalMem) DeviceTotalMem;
	CUDA_FN(cuDeviceGetPCIBusId) DeviceGetPCIBusId;
	CUDA_FN(cuDevicePrimaryCtxRetain) PrimaryCtxRetain;
	CUDA_FN(cuDevicePrimaryCtxRelease) PrimaryCtxRelease;
	CUDA_FN(cuCtxPushCurrent) CtxPushCurrent;
	CUDA_FN(cuCtxPopCurrent) CtxPopCurrent;
	CUDA_FN(cuStreamCreate) StreamCreate;
	CUDA_FN(cuStreamDestroy) StreamDestroy;
	CUDA_FN(cuStreamSynchronize) StreamSynchronize;
	CUDA_FN(cuEventCreate) EventCreate;
	CUDA_FN(cuEventRecord) EventRecord;
	CUDA_FN(cuEventSynchronize) EventSynchronize;
	CUDA_FN(cuEventDestroy) EventDestroy;
	CUDA_FN(cuMemAlloc) MemAlloc;
	CUDA_FN(cuMemFree) MemFree;
	CUDA_FN(cuMemHostRegister) MemHostRegister;
	CUDA_FN(cuMemHostUnregister) MemHostUnregister;
	CUDA_FN(cuMemcpyHtoDAsync) MemcpyHtoDAsync;
	CUDA_FN(cuMemcpyDtoHAsync) MemcpyDtoHAsync;
	CUDA_FN(cuMemcpyDtoDAsync) MemcpyDtoDAsync;
	CUDA_FN(cuModuleLoadData) ModuleLoadData;
	CUDA_FN(cuModuleUnload) ModuleUnload;
	CUDA_FN(cuModuleGetFunction) ModuleGetFunction;
	CUDA_FN(cuLaunchKernel) LaunchKernel;
	/* NVRTC (elementwise chains); all NULL when the library is absent. */
	CUDA_FN(nvrtcCreateProgram) nvrtcCreateProgram;
	CUDA_FN(nvrtcDestroyProgram) nvrtcDestroyProgram;
	CUDA_FN(nvrtcCompileProgram) nvrtcCompileProgram;
	CUDA_FN(nvrtcGetPTXSize) nvrtcGetPTXSize;
	CUDA_FN(nvrtcGetPTX) nvrtcGetPTX;
	CUDA_FN(nvrtcGetProgramLogSize) nvrtcGetProgramLogSize;
	CUDA_FN(nvrtcGetProgramLog) nvrtcGetProgramLog;
	CUDA_FN(nvrtcGetErrorString) nvrtcGetErrorString;
	/* cuBLAS (plain GEMMs); all NULL when the library is absent. */
	CUDA_FN(cublasCreate) cublasCreate;
	CUDA_FN(cublasDestroy) cublasDestroy;
	CUDA_FN(cublasSetStream) cublasSetStream;
	CUDA_FN(cublasSgemmStridedBatched) cublasSgemmStridedBatched;
	/* NVRTC output keyed by source and architecture (nvrtc.c). */
	pthread_mutex_t ptx_lock;
	cuda_ptx_entry *ptx_cache;
} cuda_api;

/* Open libcuda ($ACCEL_LIBCUDA or "libcuda.so.1") and, when present,
 * libnvrtc ($ACCEL_LIBNVRTC) and libcublas ($ACCEL_LIBCUBLAS; an empty
 * value disables either). *out NULL with no error: no driver. */
accel_status cuda_api_open(cuda_api **out);
void cuda_api_put(cuda_api *api);

/* ---- devices ---- */

enum { CUDA_N_STAGING = 2 };
#define CUDA_STAGING_BYTES ((size_t)4 << 20)

typedef struct cuda_module_entry {
	const void *key; /* an embedded image or a cuda_ptx_entry */
	CUmodule mod;
	struct cuda_module_entry *next;
} cuda_module_entry;

typedef struct cuda_func_entry {
	const void *key;
	char *name;
	CUfunction fn;
	struct cuda_func_entry *next;
} cuda_func_entry;

struct cuda_device {
	cuda_api *api;
	CUdevice dev;
	int ordinal;
	CUcontext ctx; /* the primary context, retained */
	CUstream stream;
	int arch;      /* compute capability * 10 */
	int sm_count;
	char name[320];
	char pci[32]; /* "" when the driver does not say */
	/* Guards the caches, the staging buffers and every launch sequence. */
	pthread_mutex_t lock;
	void *staging[CUDA_N_STAGING]; /* pinned (cuMemHostRegister), or NULL */
	CUevent staged[CUDA_N_STAGING];
	cuda_module_entry *modules;
	cuda_func_entry *funcs;
	cublasHandle_t blas; /* created on first use */
	bool blas_failed;
};

/* "CUDA_ERROR_OUT_OF_MEMORY" through cuGetErrorName, or "CUresult <n>". */
const char *cuda_err_name(const cuda_api *api, CUresult r);
/* "<call>: <CUDA_NAME> (<description>)" and an optional ": <detail>";
 * out-of-memory results are ACCEL_OUT_OF_MEMORY. */
accel_status cuda_error(const cuda_api *api, CUresult r, const char *call, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define CU_CALL(dev, call, expr)                                             \
	do {                                                                 \
		CUresult cu_res_ = (expr);                                   \
		if (cu_res_ != CUDA_SUCCESS)                                 \
			return cuda_error((dev)->api, cu_res_, call, NULL);  \
	} while (0)

/* Make |dev|'s context current on this thread (and lock the device) for a
 * sequence of driver calls; cuda_leave restores the previous context. */
accel_status cuda_enter(cuda_device *dev);
void cuda_leave(cuda_device *dev);

/* ---- modules and launches (exec.c) ---- */

/* A module built into the library (kernels/<name>.cu): the cubins in a
 * fatbin and the PTX the driver JIT-compiles on other architectures. */
typedef struct cuda_image {
	const char *name;
	const unsigned char *fatbin;
	const char *ptx; /* NUL-terminated */
} cuda_image;

/* The generated table ($(O)/gen/cuda_images.c), terminated by a NULL name. */
extern const cuda_image cuda_images[];
const cuda_image *cuda_image_find(const char *name);

/* Function |name| of image |img|, the module loaded on first use (the
 * fatbin, then the PTX when the fatbin has no code for this GPU). Called
 * with the device entered. */
accel_status cuda_function(cuda_device *dev, const cuda_image *img, const char *name,
			   CUfunction *out);
/* Function |name| of an NVRTC module (PTX text |ptx|, keyed by |key|). */
accel_status cuda_function_ptx(cuda_device *dev, const void *key, const char *ptx,
			       const char *name, CUfunction *out);

typedef struct cuda_dim3 {
	unsigned x, y, z;
} cuda_dim3;

accel_status cuda_launch(cuda_device *dev, CUfunction fn, const char *name, cuda_dim3 grid,
			 cuda_dim3 block, unsigned shmem, void **args);

/* ---- executing one node ---- */

#define CUDA_MAX_TEMPS 16

typedef struct cuda_state {
	int n_in;
	CUdeviceptr *const_mem; /* device copies of constant inputs, or 0 */
} cuda_state;

typedef struct cuda_ctx {
	cuda_device *dev;
	const ir_node *node;
	const cuda_state *state;
	accel_tensor *const *in;
	const bool *on_host;
	int n_in;
	accel_tensor *const *out;
	int n_out;
	CUdeviceptr temps[CUDA_MAX_TEMPS]; /* freed after the stream drains */
	int n_temps;
} cuda_ctx;

/* Device pointer of input |i| (uploaded now when it is host data that
 * prepare did not keep). */
accel_status cuda_in_mem(cuda_ctx *c, int i, CUdeviceptr *out);
static inline CUdeviceptr cuda_out_mem(cuda_ctx *c, int i)
{
	return (CUdeviceptr)(uintptr_t)c->out[i]->data;
}
/* Scratch device memory freed when the exec returns (after a sync). */
accel_status cuda_scratch(cuda_ctx *c, size_t bytes, CUdeviceptr *out);
/* Device memory without the entry lock (the caller holds it). */
accel_status cuda_mem_alloc_locked(cuda_device *dev, size_t bytes, CUdeviceptr *out);
accel_status cuda_upload_locked(cuda_device *dev, CUdeviceptr dst, const void *src,
				size_t bytes);

/* Launch kernel |name| of embedded image |img| with |n| threads in 1-D
 * blocks of 256 (grid-stride loops cover the rest). */
accel_status cuda_launch_1d(cuda_ctx *c, const char *img, const char *name, size_t n,
			    void **args);
accel_status cuda_launch_img(cuda_ctx *c, const char *img, const char *name, cuda_dim3 grid,
			     cuda_dim3 block, unsigned shmem, void **args);
#define CUDA_ARGS(...) ((void *[]){ __VA_ARGS__ })

typedef accel_status (*cuda_exec_fn)(cuda_ctx *c);
typedef bool (*cuda_check_fn)(const ir_node *n, accel_tensor *const *in, int n_in);

typedef struct cuda_op {
	const char *op_type;
	const char *domain;
	const char *image; /* the embedded module its kernels live in */
	cuda_exec_fn exec;
	cuda_check_fn check;
	unsigned host_inputs; /* bit i: input i's values are read on the host */
} cuda_op;

extern const cuda_op cuda_ops_elementwise[];
extern const cuda_op cuda_ops_linalg[];
extern const cuda_op cuda_ops_nn[];
extern const cuda_op cuda_ops_tensor[];

/* Every kernel name the op files launch, per image (tests check the
 * embedded PTX has an .entry for each), NULL-terminated. */
extern const char *const cuda_kernel_names[];

/* ---- shared helpers ---- */

bool cuda_check_f32(const ir_node *n, accel_tensor *const *in, int n_in);

/* Fused activation (com.accel Fused* attributes), as the GEMM epilogue and
 * the chain generator read it. */
enum { CUDA_ACT_NONE, CUDA_ACT_CLAMP, CUDA_ACT_SIGMOID, CUDA_ACT_HARDSIGMOID,
       CUDA_ACT_HARDSWISH, CUDA_ACT_LEAKYRELU, CUDA_ACT_SILU, CUDA_ACT_GELU,
       CUDA_ACT_GELU_TANH };
typedef struct cuda_act {
	int kind;
	float lo, hi, alpha, beta;
} cuda_act;
bool cuda_act_from_node(const ir_node *n, cuda_act *out);

/* ---- NVRTC elementwise chains (nvrtc.c) ---- */

enum { CUDA_CHAIN_MAX = 16 };

/* One step of a chain: v = op(v[, operand]) with attribute values. */
typedef struct cuda_chain_step {
	const char *op; /* ONNX op type: "Relu", "Add", "Clip", ... */
	int operand;    /* binary ops: index of the extra input, else -1 */
	float alpha, beta;
} cuda_chain_step;

typedef struct cuda_chain {
	int n_steps;
	cuda_chain_step steps[CUDA_CHAIN_MAX];
	int n_operands; /* same-shaped float32 inputs beside the first */
} cuda_chain;

/* Can op |op| be a chain step? */
bool cuda_chain_op_known(const char *op);
/* The CUDA C of kernel "accel_chain" for |ch|: a malloc'ed string, the
 * same text for the same chain (it is the cache key). */
accel_status cuda_chain_source(const cuda_chain *ch, char **out_src);
/* PTX for |src| on compute capability |arch| (10 * major + minor), from
 * the api's cache or NVRTC; *out is owned by the cache. ACCEL_UNAVAILABLE
 * without NVRTC. */
accel_status cuda_chain_ptx(cuda_api *api, const char *src, int arch, const cuda_ptx_entry **out);
void cuda_ptx_cache_clear(cuda_api *api);

#endif /* ACCEL_CUDA_INTERNAL_H */
