/* SPDX-License-Identifier: MIT */
/*
 * cost.h - what a node costs on a device, from measured device speeds.
 *
 * A device's profile is measured once per process, lazily, through the
 * same calls the executor makes (backend alloc/upload/exec/finish/download,
 * or the cpu/ kernels on the session's thread pool): a 256x256 MatMul
 * (GEMM FLOP/s), a 3x3 Conv from 32 to 64 channels over 28x28 with
 * constant weights (Conv FLOP/s), a 1 Mi-element Relu (streaming
 * bytes/s), a one-element Relu (per-node overhead) and uploads/downloads
 * of 64 B and 4 MiB (latency, bandwidth): best of a few runs each, about
 * 30 ms a device plus building (or loading from the driver's cache) the
 * probes' programs. The CPU's copies are free: its values live on the
 * host.
 *
 * Tests and users may install profiles instead: cost_profile_install(),
 * or ACCEL_COST_PROFILE=FILE, read once, one device a line:
 *
 *   # name  key=value...   (name: "cpu", "opencl:1" or a full device name)
 *   opencl:1 gemm_gflops=24 stream_gbps=8 launch_us=15 up_gbps=4 up_lat_us=20
 *
 * Keys: gemm_gflops, conv_gflops, stream_gbps, launch_us, up_gbps,
 * up_lat_us, down_gbps, down_lat_us. A missing key takes the default of
 * cost_profile_defaults() (conv_gflops: 0, the GEMM rate is used).
 * An installed profile wins over a measured one.
 *
 * A node's estimate: Conv, ConvTranspose, Gemm, MatMul and their com.accel
 * Fused forms cost 2*MACs FLOPs at the Conv rate (convolutions) or the
 * GEMM rate (the others); every other node costs the bytes it reads and
 * writes at the streaming rate; both pay the per-node overhead. Shapes
 * are the static ones: an unknown dimension counts as 1 when it leads (a
 * batch) and COST_UNKNOWN_DIM otherwise, an unknown rank as
 * COST_UNKNOWN_NUMEL elements.
 */
#ifndef ACCEL_SCHED_COST_H
#define ACCEL_SCHED_COST_H

#include "backend/backend.h"
#include "cpu/threadpool.h"

#define COST_UNKNOWN_DIM 32
#define COST_UNKNOWN_NUMEL 4096

typedef struct cost_profile {
	double gemm_flops; /* FLOP/s of float32 GEMM; 0: unknown (use bytes) */
	double conv_flops; /* FLOP/s of a 3x3 Conv; 0: unknown (use gemm_flops) */
	double stream_bps; /* bytes/s read + written by an elementwise op */
	double launch_s;   /* seconds a node costs beyond its work */
	double up_bps;	   /* host -> device bytes/s; 0: free (the CPU) */
	double up_lat_s;   /* seconds per upload */
	double down_bps;   /* device -> host bytes/s; 0: free (the CPU) */
	double down_lat_s;
	double measured_s; /* how long measuring took; 0 when installed */
	double build_s;	   /* ... plus building the probes' programs */
} cost_profile;

/* The values a missing key of ACCEL_COST_PROFILE takes. */
void cost_profile_defaults(cost_profile *out);

/*
 * The profile of |dev|, or of the CPU with |pool|'s threads when |dev| is
 * NULL: installed, else measured (the first call per device measures and
 * the result is kept for the process). Thread-safe.
 */
accel_status cost_profile_get(const backend_device *dev, threadpool *pool, cost_profile *out);

/*
 * Install |p| for the device called |name| (see above); NULL |p| removes
 * it; NULL |name| and |p| remove every installed profile. Copies |p|.
 */
accel_status cost_profile_install(const char *name, const cost_profile *p);

/* The work of one node, from the static shapes of |g|. */
typedef struct cost_work {
	double flops; /* 0 for nodes priced by bytes */
	double bytes; /* read + written */
	bool conv;    /* priced at the Conv rate */
} cost_work;

void cost_node_work(const ir_graph *g, const ir_node *n, cost_work *out);
/* Seconds of |w| on a device with profile |p|. */
double cost_work_seconds(const cost_work *w, const cost_profile *p);
/* "Conv 118 MFLOP at 24 GFLOP/s" / "Relu 1.6 MB at 9.1 GB/s" into buf. */
const char *cost_work_str(const ir_node *n, const cost_work *w, const cost_profile *p,
			  char *buf, size_t len);

/* Bytes of a value (static shape, unknowns as above). */
double cost_value_bytes(const ir_value *v);
/* Seconds to upload / download |count| values of |bytes| in all; 0 on the CPU. */
double cost_upload_s(const cost_profile *p, double bytes, int count);
double cost_download_s(const cost_profile *p, double bytes, int count);

#endif /* ACCEL_SCHED_COST_H */
