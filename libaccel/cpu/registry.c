/* SPDX-License-Identifier: MIT */
/* registry.c - the CPU backend's kernels, one array per operator family. */
#include "cpu/kernel.h"

#include <string.h>

extern const cpu_kernel cpu_kernels_elementwise[];
extern const cpu_kernel cpu_kernels_nn[];
extern const cpu_kernel cpu_kernels_tensor[];
extern const cpu_kernel cpu_kernels_reduce[];
extern const cpu_kernel cpu_kernels_fused[];
extern const cpu_kernel cpu_kernels_attention[];
extern const cpu_kernel cpu_kernels_layout[];

static const cpu_kernel *const families[] = {
	cpu_kernels_elementwise,
	cpu_kernels_nn,
	cpu_kernels_tensor,
	cpu_kernels_reduce,
	cpu_kernels_fused,
	cpu_kernels_attention,
	cpu_kernels_layout,
};

const cpu_kernel *cpu_kernel_find(const char *domain, const char *op_type)
{
	for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++)
		for (const cpu_kernel *k = families[f]; k->op_type; k++)
			if (!strcmp(k->op_type, op_type) &&
			    ir_domain_equal(k->domain, domain))
				return k;
	return NULL;
}
