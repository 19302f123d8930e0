# SPDX-License-Identifier: MIT
"""Helpers shared by compare.py and bench.py (run by the venv's python,
which has onnxruntime, onnx and numpy): deterministic inputs, running
accel-run and onnxruntime on them."""
import json
import os
import subprocess

import numpy as np

# Integer inputs of these models are token ids below the vocabulary size.
INT_HIGH = {"transformer": 1000}

NP_TYPES = {
    "tensor(float)": np.float32, "tensor(double)": np.float64,
    "tensor(float16)": np.float16, "tensor(int64)": np.int64,
    "tensor(int32)": np.int32, "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_,
}


def model_name(path):
    return os.path.splitext(os.path.basename(path))[0]


def ort_session(path, threads=0):
    import onnxruntime as ort
    so = ort.SessionOptions()
    if threads:
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def make_inputs(path, sess, workdir, given=None, seed=0):
    """Returns {name: array} and {name: .npy file} for every graph input.
    |given| maps names to existing .npy files; the rest are made from a
    fixed-seed generator: floats uniform in [-1, 1), ints below INT_HIGH
    (default 10), dynamic dims set to 1."""
    rng = np.random.default_rng(seed)
    given = given or {}
    arrays, files = {}, {}
    os.makedirs(workdir, exist_ok=True)
    for inp in sess.get_inputs():
        if inp.name in given:
            arrays[inp.name] = np.load(given[inp.name])
            files[inp.name] = given[inp.name]
            continue
        shape = [d if isinstance(d, int) and d >= 0 else 1 for d in inp.shape]
        dt = NP_TYPES.get(inp.type)
        if dt is None:
            raise SystemExit(f"{path}: input {inp.name} has type {inp.type}, "
                             "give it with --input")
        if np.issubdtype(dt, np.floating):
            a = rng.uniform(-1.0, 1.0, size=shape).astype(dt)
        elif dt == np.bool_:
            a = rng.integers(0, 2, size=shape).astype(dt)
        else:
            a = rng.integers(0, INT_HIGH.get(model_name(path), 10),
                             size=shape).astype(dt)
        f = os.path.join(workdir, inp.name.replace("/", "_") + ".npy")
        np.save(f, a)
        arrays[inp.name], files[inp.name] = a, f
    return arrays, files


def accel_cmd(accel_run, path, files, threads=0, extra=()):
    cmd = [accel_run, path]
    for name, f in files.items():
        cmd += ["-i", f"{name}={f}"]
    if threads:
        cmd += ["-t", str(threads)]
    return cmd + list(extra)


def run_accel(cmd, timeout=900):
    """Runs accel-run; returns (ok, stdout, last stderr line)."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, "", f"timed out after {timeout} s"
    err = p.stderr.strip().splitlines()
    if p.returncode != 0:
        return False, p.stdout, err[-1] if err else f"exit {p.returncode}"
    return True, p.stdout, ""


def run_accel_json(cmd, timeout=900):
    ok, out, err = run_accel(cmd + ["--json"], timeout)
    if not ok:
        return None, err
    try:
        return json.loads(out), ""
    except ValueError as e:
        return None, f"bad JSON from accel-run: {e}"
