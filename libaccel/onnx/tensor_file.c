/* SPDX-License-Identifier: MIT */
/* tensor_file.c - reading a serialized ONNX TensorProto file (.pb). */
#include "onnx/file_read.h"
#include "onnx/onnx.h"
#include "onnx/tensor_proto.h"

#include <stdlib.h>
#include <string.h>

accel_status onnx_read_file(const char *path, void **out_data, size_t *out_size)
{
	return file_read_all(path, 0, out_data, out_size);
}

ACCEL_API accel_status accel_tensor_read_pb(const char *path, accel_tensor **out_tensor,
					    char **out_name)
{
	AccelOnnx__Tensor *tp;
	void *data;
	size_t size;
	accel_status st;

	if (!path || !out_tensor)
		return status_invalid("accel_tensor_read_pb: NULL argument");
	ACCEL_TRY(onnx_read_file(path, &data, &size));
	tp = accel_onnx__tensor__unpack(NULL, size, data);
	free(data);
	if (!tp)
		return status_invalid("'%s' is not a serialized ONNX TensorProto (parse failed)",
				      path);
	if (!tp->has_data_type && !tp->n_dims && !tp->has_raw_data) {
		accel_onnx__tensor__free_unpacked(tp, NULL);
		return status_unsupported("'%s' holds no tensor (a sequence, map or optional value?)",
					  path);
	}
	/* External data in a standalone file resolves against its directory. */
	st = onnx_tensor_convert(tp, NULL, out_tensor);
	if (!st && out_name) {
		*out_name = tp->name && *tp->name ? strdup(tp->name) : NULL;
	}
	accel_onnx__tensor__free_unpacked(tp, NULL);
	return status_annotate(st, "'%s'", path);
}
