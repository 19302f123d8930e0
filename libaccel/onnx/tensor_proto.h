/* SPDX-License-Identifier: MIT */
/* tensor_proto.h - ONNX TensorProto to accel_tensor, inside the front end. */
#ifndef ACCEL_ONNX_TENSOR_PROTO_H
#define ACCEL_ONNX_TENSOR_PROTO_H

#include "accel_onnx.pb-c.h"
#include "core/tensor.h"

/*
 * Convert a TensorProto (raw_data, typed fields or external data relative to
 * |base_dir|) to a dense tensor. Errors name the tensor; the caller adds
 * where it was found.
 */
accel_status onnx_tensor_convert(const AccelOnnx__Tensor *tp,
				 const char *base_dir, accel_tensor **out);

#endif /* ACCEL_ONNX_TENSOR_PROTO_H */
