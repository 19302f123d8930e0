/* SPDX-License-Identifier: MIT */
/* registry.c - the table of every operator schema, one array per family. */
#include "ops/op.h"

#include <string.h>

extern const op_schema op_schemas_elementwise[];
extern const op_schema op_schemas_nn[];
extern const op_schema op_schemas_tensor[];
extern const op_schema op_schemas_reduce[];
extern const op_schema op_schemas_fused[];
extern const op_schema op_schemas_layout[];

static const op_schema *const families[] = {
	op_schemas_elementwise,
	op_schemas_nn,
	op_schemas_tensor,
	op_schemas_reduce,
	op_schemas_fused,
	op_schemas_layout,
};

const op_schema *op_schema_find(const char *domain, const char *op_type)
{
	for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++)
		for (const op_schema *s = families[f]; s->op_type; s++)
			if (!strcmp(s->op_type, op_type) &&
			    ir_domain_equal(s->domain, domain))
				return s;
	return NULL;
}
