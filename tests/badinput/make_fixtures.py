#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""make_fixtures.py OUT_DIR - write the ONNX models the bad-input tests load.

Layout (OUT_DIR is created; files are rewritten on every run):
  models/add.onnx            z = x + y, float32 [2,3]: the well-formed base
  models/unknown_op.onnx     one node 'mystery' of op type 'NoSuchOp'
  models/ext_ok.onnx         z = x + W, W (float32 [2,3]) in weights.bin
  models/weights.bin         24 bytes of W
  models/ext_missing.onnx    W in 'missing.bin', which does not exist
  models/ext_traversal.onnx  W in '../outside.bin' (the file exists)
  models/ext_absolute.onnx   W in the absolute path of OUT_DIR/outside.bin
  models/ext_offset.onnx     W at offset 1000 of weights.bin (24 bytes long)
  models/ext_length.onnx     W at offset 8, length 24 of weights.bin
  outside.bin                a file outside the model directory
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper


def add_graph(name, nodes, inits, inputs):
    out = helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 3])
    graph = helper.make_graph(nodes, name, inputs, [out], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def xin(name):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [2, 3])


def ext_model(location, offset=None, length=None):
    """z = x + W with W's bytes described by external_data fields."""
    w = TensorProto()
    w.name = "W"
    w.data_type = TensorProto.FLOAT
    w.dims.extend([2, 3])
    w.data_location = TensorProto.EXTERNAL
    for key, val in (("location", location), ("offset", offset), ("length", length)):
        if val is not None:
            entry = w.external_data.add()
            entry.key = key
            entry.value = str(val)
    node = helper.make_node("Add", ["x", "W"], ["z"], name="add_w")
    return add_graph("ext", [node], [w], [xin("x")])


def save(model, path):
    # Bypass onnx.save's external-data handling: fields are written as set.
    with open(path, "wb") as f:
        f.write(model.SerializeToString())


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_fixtures.py OUT_DIR")
    out = sys.argv[1]
    models = os.path.join(out, "models")
    os.makedirs(models, exist_ok=True)

    node = helper.make_node("Add", ["x", "y"], ["z"], name="add")
    save(add_graph("add", [node], [], [xin("x"), xin("y")]),
         os.path.join(models, "add.onnx"))

    node = helper.make_node("NoSuchOp", ["x"], ["z"], name="mystery")
    save(add_graph("unknown", [node], [], [xin("x")]),
         os.path.join(models, "unknown_op.onnx"))

    w = np.arange(6, dtype="<f4").reshape(2, 3)
    with open(os.path.join(models, "weights.bin"), "wb") as f:
        f.write(w.tobytes())
    outside = os.path.join(out, "outside.bin")
    with open(outside, "wb") as f:
        f.write(w.tobytes())

    save(ext_model("weights.bin"), os.path.join(models, "ext_ok.onnx"))
    save(ext_model("missing.bin"), os.path.join(models, "ext_missing.onnx"))
    save(ext_model("../outside.bin"), os.path.join(models, "ext_traversal.onnx"))
    save(ext_model(os.path.abspath(outside)),
         os.path.join(models, "ext_absolute.onnx"))
    save(ext_model("weights.bin", offset=1000),
         os.path.join(models, "ext_offset.onnx"))
    save(ext_model("weights.bin", offset=8, length=24),
         os.path.join(models, "ext_length.onnx"))
    onnx.checker.check_model(onnx.load(os.path.join(models, "add.onnx")))


if __name__ == "__main__":
    main()
