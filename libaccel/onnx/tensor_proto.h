/* SPDX-License-Identifier: MIT */
/* tensor_proto.h - ONNX TensorProto to accel_tensor, inside the front end. */
#ifndef ACCEL_ONNX_TENSOR_PROTO_H
#define ACCEL_ONNX_TENSOR_PROTO_H

#include "accel_onnx.pb-c.h"
#include "core/tensor.h"
#include "onnx/file_read.h"

/*
 * The external data of one load: the model's directory, the data files
 * opened so far (each confined and opened once) and the reads queued into
 * tensors' own storage. Tensors converted with it are filled only by
 * onnx_external_finish(), which performs every read with many in flight
 * and returns only when none is left in flight; until then their contents
 * are undefined. Reads never started are dropped by destroy, so on an
 * error the tensors may be freed before or after it.
 */
typedef struct onnx_external onnx_external;

/* |base_dir| NULL: every tensor with external data is refused. */
accel_status onnx_external_create(const char *base_dir, onnx_external **out);
accel_status onnx_external_finish(onnx_external *x);
void onnx_external_destroy(onnx_external *x);

/*
 * Convert a TensorProto (raw_data, typed fields or external data through
 * |ext|, which may be NULL to refuse it) to a dense tensor. Errors name the
 * tensor; the caller adds where it was found. With |ext|, |tp| must come
 * from an unpack with onnx_proto_allocator: a large raw_data then becomes
 * the tensor's storage instead of being copied (|tp| loses the bytes).
 */
accel_status onnx_tensor_convert(const AccelOnnx__Tensor *tp, onnx_external *ext,
				 accel_tensor **out);

/*
 * A protobuf-c allocator for unpacking models: large allocations (bytes
 * fields such as raw_data) are 64-byte aligned with zeroed padding, so an
 * initializer can keep its raw_data as its storage.
 */
extern ProtobufCAllocator onnx_proto_allocator;

#endif /* ACCEL_ONNX_TENSOR_PROTO_H */
