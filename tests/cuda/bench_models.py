#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Latency of one model on a CUDA GPU: accel-run --device cuda:0 against
onnxruntime's CUDAExecutionProvider (onnxruntime-gpu) when installed.

    python tests/cuda/bench_models.py --accel-run BUILD/bin/accel-run MODEL.onnx
        [--warmup 10] [--iterations 100]

Both sides get the same deterministic input (tests/models/common.py) and
are timed the same way: warm-up runs, then the median of N runs, each run
including the copies of inputs to and outputs from the GPU. Prints one
line: model, accel median ms, reference median ms and the ratio.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
import common  # noqa: E402


def reference_ms(path, arrays, warmup, iterations):
    try:
        import onnxruntime as ort
    except ImportError:
        return None, "onnxruntime missing"
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return None, "onnxruntime has no CUDAExecutionProvider (pip install onnxruntime-gpu)"
    sess = ort.InferenceSession(path, providers=["CUDAExecutionProvider"])
    for _ in range(warmup):
        sess.run(None, arrays)
    times = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        sess.run(None, arrays)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), "onnxruntime-gpu"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--accel-run", default="build/bin/accel-run")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--iterations", type=int, default=100)
    args = ap.parse_args()
    name = common.model_name(args.model)
    with tempfile.TemporaryDirectory() as work:
        sess = common.ort_session(args.model, 0)
        arrays, files = common.make_inputs(args.model, sess, work, [], 0)
        cmd = common.accel_cmd(args.accel_run, args.model, files, 0,
                               ["--device", "cuda:0", "--warmup", str(args.warmup),
                                "--iterations", str(args.iterations), "--json"])
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            print(f"{name}: accel-run failed: {res.stderr.strip()}")
            return 1
        accel = json.loads(res.stdout)
        accel_ms = accel.get("latency_ms", {}).get("median")
        ref_ms, ref_name = reference_ms(args.model, arrays, args.warmup, args.iterations)
    if ref_ms is None:
        print(f"{name}: accel cuda:0 median {accel_ms:.3f} ms; reference: {ref_name}")
    else:
        print(f"{name}: accel cuda:0 median {accel_ms:.3f} ms, {ref_name} {ref_ms:.3f} ms, "
              f"accel/ref {accel_ms / ref_ms:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
