/* SPDX-License-Identifier: MIT */
/*
 * kernels.c - the OpenCL C programs, embedded as strings (kernels_*.cl.h).
 * Each is built once per device, on first use, by program.c.
 */
#include "opencl/internal.h"

#include "opencl/kernels_elementwise.cl.h"
#include "opencl/kernels_gemm.cl.h"
#include "opencl/kernels_index.cl.h"
#include "opencl/kernels_nn.cl.h"
#include "opencl/kernels_quant64.cl.h"
#include "opencl/kernels_tensor.cl.h"
