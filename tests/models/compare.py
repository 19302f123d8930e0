#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compare accel-run's outputs with onnxruntime's on the same input.

    .venv/bin/python tests/models/compare.py --accel-run BUILD/bin/accel-run \\
        MODEL.onnx [MODEL.onnx ...] [--input NAME=FILE.npy] [--tol 1e-4]

For each model: make a deterministic input (or take --input), run
onnxruntime and `accel-run MODEL -i NAME=FILE -o DIR`, and compare every
output: max abs error relative to the output's scale (max |ref|). Prints
one line per model, "model: max_abs_err=... rel=... PASS|FAIL", and exits
non-zero when any model fails.
"""
import argparse
import os
import shutil
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def compare_outputs(sess, ref, outdir):
    """Returns (worst abs error, worst relative error, problem or None)."""
    worst_abs, worst_rel = 0.0, 0.0
    for meta, r in zip(sess.get_outputs(), ref):
        f = os.path.join(outdir, meta.name.replace("/", "_") + ".npy")
        if not os.path.exists(f):
            return worst_abs, worst_rel, f"output {meta.name} not written"
        a = np.load(f)
        r = np.asarray(r)
        if a.shape != r.shape:
            return worst_abs, worst_rel, \
                f"output {meta.name}: shape {a.shape}, expected {r.shape}"
        if a.dtype != r.dtype:
            return worst_abs, worst_rel, \
                f"output {meta.name}: dtype {a.dtype}, expected {r.dtype}"
        if a.size == 0:
            continue
        a64, r64 = a.astype(np.float64), r.astype(np.float64)
        if not np.array_equal(np.isnan(a64), np.isnan(r64)):
            return worst_abs, worst_rel, f"output {meta.name}: NaN mismatch"
        ok = ~np.isnan(r64)
        err = float(np.max(np.abs(a64[ok] - r64[ok]), initial=0.0))
        scale = float(np.max(np.abs(r64[ok]), initial=0.0))
        worst_abs = max(worst_abs, err)
        worst_rel = max(worst_rel, err / scale if scale > 0 else err)
    return worst_abs, worst_rel, None


def compare_model(path, args, given):
    work = tempfile.mkdtemp(prefix=f"compare-{common.model_name(path)}-",
                            dir=args.workdir)
    try:
        return compare_in(path, args, given, work)
    finally:
        if not args.workdir:  # keep files only where the caller asked
            shutil.rmtree(work, ignore_errors=True)


def compare_in(path, args, given, work):
    name = common.model_name(path)
    sess = common.ort_session(path, args.threads)
    arrays, files = common.make_inputs(path, sess, work, given, args.seed)
    ref = sess.run(None, arrays)
    outdir = os.path.join(work, "out")
    cmd = common.accel_cmd(args.accel_run, path, files, args.threads,
                           ["-o", outdir])
    ok, _, err = common.run_accel(cmd)
    if not ok:
        print(f"{name}: accel-run failed: {err} FAIL")
        return False
    abs_err, rel, problem = compare_outputs(sess, ref, outdir)
    if problem:
        print(f"{name}: {problem} FAIL")
        return False
    verdict = "PASS" if rel <= args.tol else "FAIL"
    print(f"{name}: max_abs_err={abs_err:.3g} rel={rel:.3g} {verdict}")
    return verdict == "PASS"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="ONNX model files")
    ap.add_argument("--accel-run", default="build/bin/accel-run")
    ap.add_argument("--input", action="append", default=[],
                    metavar="NAME=FILE", help="use this .npy for input NAME")
    ap.add_argument("--tol", type=float, default=1e-4,
                    help="max abs error / max |ref| (default 1e-4)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", default=None,
                    help="where inputs/outputs go (default: a temp dir)")
    args = ap.parse_args()
    if not os.access(args.accel_run, os.X_OK):
        ap.error(f"accel-run not found at {args.accel_run} (--accel-run)")
    given = {}
    for spec in args.input:
        if "=" not in spec:
            ap.error(f"--input {spec}: expected NAME=FILE")
        k, v = spec.split("=", 1)
        given[k] = v
    if args.workdir:
        os.makedirs(args.workdir, exist_ok=True)
    results = [compare_model(m, args, given) for m in args.models]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
