/* SPDX-License-Identifier: MIT */
/*
 * model_builder.h - small ONNX models built in memory with the generated
 * protobuf-c code, shared by the unit tests.
 */
#ifndef ACCEL_TESTS_MODEL_BUILDER_H
#define ACCEL_TESTS_MODEL_BUILDER_H

#include "accel_onnx.pb-c.h"
#include "accel/accel.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* ---- models built in memory with the generated protobuf code ---- */

typedef struct model_buf {
	uint8_t *data;
	size_t size;
} model_buf;

/*
 * y = Relu(x + c) with x: float[2,3] (or [N,3] when dynamic) and an
 * initializer c stored as raw_data, typed float_data or external data.
 */
static inline model_buf make_model(const char *ext_location, bool dynamic, const char *op)
{
	AccelOnnx__Model m = ACCEL_ONNX__MODEL__INIT;
	AccelOnnx__Graph g = ACCEL_ONNX__GRAPH__INIT;
	AccelOnnx__OperatorSetId opset = ACCEL_ONNX__OPERATOR_SET_ID__INIT, *opsets[1] = { &opset };
	AccelOnnx__Node add = ACCEL_ONNX__NODE__INIT, relu = ACCEL_ONNX__NODE__INIT;
	AccelOnnx__Node *nodes[2] = { &add, &relu };
	char *add_in[2] = { "x", "c" }, *add_out[1] = { "s" }, *relu_in[1] = { "s" },
	     *relu_out[1] = { "y" };
	AccelOnnx__Tensor c = ACCEL_ONNX__TENSOR__INIT, *inits[1] = { &c };
	float cvals[3] = { -1.0f, 0.5f, 2.0f };
	int64_t cdims[1] = { 3 };
	AccelOnnx__StringStringEntry loc = ACCEL_ONNX__STRING_STRING_ENTRY__INIT,
				     *ext[1] = { &loc };
	AccelOnnx__ValueInfo xi = ACCEL_ONNX__VALUE_INFO__INIT, yi = ACCEL_ONNX__VALUE_INFO__INIT;
	AccelOnnx__ValueInfo *ins[1] = { &xi }, *outs[1] = { &yi };
	AccelOnnx__Type xt = ACCEL_ONNX__TYPE__INIT, yt = ACCEL_ONNX__TYPE__INIT;
	AccelOnnx__Type__TensorType xtt = ACCEL_ONNX__TYPE__TENSOR_TYPE__INIT,
				    ytt = ACCEL_ONNX__TYPE__TENSOR_TYPE__INIT;
	AccelOnnx__TensorShape xs = ACCEL_ONNX__TENSOR_SHAPE__INIT;
	AccelOnnx__TensorShape__Dimension d0 = ACCEL_ONNX__TENSOR_SHAPE__DIMENSION__INIT,
					  d1 = ACCEL_ONNX__TENSOR_SHAPE__DIMENSION__INIT;
	AccelOnnx__TensorShape__Dimension *dims[2] = { &d0, &d1 };
	model_buf b;

	opset.version = 13;
	opset.has_version = 1;
	m.ir_version = 8;
	m.has_ir_version = 1;
	m.n_opset_import = 1;
	m.opset_import = opsets;
	m.graph = &g;
	add.op_type = "Add";
	add.name = "add0";
	add.n_input = 2;
	add.input = add_in;
	add.n_output = 1;
	add.output = add_out;
	relu.op_type = (char *)op;
	relu.name = "act0";
	relu.n_input = 1;
	relu.input = relu_in;
	relu.n_output = 1;
	relu.output = relu_out;
	g.n_node = 2;
	g.node = nodes;
	g.name = "test";
	c.name = "c";
	c.n_dims = 1;
	c.dims = cdims;
	c.has_data_type = 1;
	c.data_type = ACCEL_DTYPE_F32;
	if (ext_location) {
		loc.key = "location";
		loc.value = (char *)ext_location;
		c.n_external_data = 1;
		c.external_data = ext;
		c.has_data_location = 1;
		c.data_location = ACCEL_ONNX__TENSOR__DATA_LOCATION__EXTERNAL;
	} else {
		c.n_float_data = 3;
		c.float_data = cvals;
	}
	g.n_initializer = 1;
	g.initializer = inits;
	d0.value_case = dynamic ? ACCEL_ONNX__TENSOR_SHAPE__DIMENSION__VALUE_DIM_PARAM
				: ACCEL_ONNX__TENSOR_SHAPE__DIMENSION__VALUE_DIM_VALUE;
	if (dynamic)
		d0.dim_param = "batch";
	else
		d0.dim_value = 2;
	d1.value_case = ACCEL_ONNX__TENSOR_SHAPE__DIMENSION__VALUE_DIM_VALUE;
	d1.dim_value = 3;
	xs.n_dim = 2;
	xs.dim = dims;
	xtt.has_elem_type = 1;
	xtt.elem_type = ACCEL_DTYPE_F32;
	xtt.shape = &xs;
	xt.value_case = ACCEL_ONNX__TYPE__VALUE_TENSOR_TYPE;
	xt.tensor_type = &xtt;
	xi.name = "x";
	xi.type = &xt;
	ytt.has_elem_type = 1;
	ytt.elem_type = ACCEL_DTYPE_F32;
	yt.value_case = ACCEL_ONNX__TYPE__VALUE_TENSOR_TYPE;
	yt.tensor_type = &ytt;
	yi.name = "y";
	yi.type = &yt;
	g.n_input = 1;
	g.input = ins;
	g.n_output = 1;
	g.output = outs;
	b.size = accel_onnx__model__get_packed_size(&m);
	b.data = malloc(b.size);
	accel_onnx__model__pack(&m, b.data);
	return b;
}

#endif /* ACCEL_TESTS_MODEL_BUILDER_H */
