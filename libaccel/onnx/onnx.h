/* SPDX-License-Identifier: MIT */
/*
 * onnx.h - the ONNX front end: parses a model file into the graph IR.
 *
 * The only place that includes protobuf-c headers. Nothing downstream of the
 * loader sees ONNX types.
 */
#ifndef ACCEL_ONNX_ONNX_H
#define ACCEL_ONNX_ONNX_H

#include "ir/graph.h"

typedef struct onnx_model_meta {
	int64_t ir_version;
	char *producer; /* "name version" or NULL */
} onnx_model_meta;

/*
 * Parse |size| bytes of a serialized ModelProto. |base_dir| (NULL: external
 * data refused) is the directory external data paths are relative to.
 */
accel_status onnx_load_graph(const void *data, size_t size, const char *base_dir,
			     ir_graph **out_graph, onnx_model_meta *out_meta);

/* Read a whole file into malloc'd memory; errors name the path. */
accel_status onnx_read_file(const char *path, void **out_data, size_t *out_size);

#endif /* ACCEL_ONNX_ONNX_H */
