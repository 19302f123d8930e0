#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Benchmark accel against onnxruntime: same models, same input, same
thread count, same machine, one run.

    .venv/bin/python tests/models/bench.py --accel-run BUILD/bin/accel-run \\
        MODEL.onnx [...] [--threads 1,2] [--warmup 3] [--iterations 20]

For each model and thread count: `accel-run --warmup W --iterations N
--json -t T` against an onnxruntime session with intra_op_num_threads=T
timed the same way. Prints a table of median latencies (ms) and the ratio
accel/onnxruntime (below 1: accel is faster). These machines are shared
and noisy: read medians and ratios, not single absolute numbers.
Exits 1 when an accel-run fails (the rest of the table is still printed).
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def bench_ort(path, arrays, threads, warmup, iterations):
    sess = common.ort_session(path, threads)
    for _ in range(warmup + 1):  # +1: accel-run's untimed first run
        sess.run(None, arrays)
    lat = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        sess.run(None, arrays)
        lat.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(lat)


def bench_accel(args, path, files, threads):
    cmd = common.accel_cmd(args.accel_run, path, files, threads,
                           ["--warmup", str(args.warmup),
                            "--iterations", str(args.iterations)])
    report, err = common.run_accel_json(cmd)
    if report is None:
        return None, err
    return report["latency_ms"]["median"], ""


def bench_model(path, args, work, rows):
    name = common.model_name(path)
    sess = common.ort_session(path, 1)
    arrays, files = common.make_inputs(path, sess, os.path.join(work, name))
    ok = True
    for t in args.threads:
        acc, err = bench_accel(args, path, files, t)
        ort_ms = bench_ort(path, arrays, t, args.warmup, args.iterations)
        if acc is None:
            print(f"bench: {name} threads={t}: accel-run failed: {err}",
                  file=sys.stderr)
            ok = False
        rows.append((name, t, acc, ort_ms))
        print_row(rows[-1])
    return ok


def print_row(row):
    name, t, acc, ort_ms = row
    acc_s = f"{acc:10.3f}" if acc is not None else f"{'n/a':>10}"
    ratio = f"{acc / ort_ms:9.2f}" if acc is not None and ort_ms else \
        f"{'n/a':>9}"
    print(f"{name:<16} {t:>7} {acc_s} {ort_ms:10.3f} {ratio}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--accel-run", default="build/bin/accel-run")
    ap.add_argument("--threads", default="1,2",
                    help="comma-separated thread counts (default 1,2)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=20)
    args = ap.parse_args()
    try:
        args.threads = [int(t) for t in args.threads.split(",") if t]
    except ValueError:
        ap.error(f"--threads {args.threads}: expected numbers like 1,2")
    if not os.access(args.accel_run, os.X_OK):
        ap.error(f"accel-run not found at {args.accel_run} (--accel-run)")
    print(f"bench: warmup {args.warmup}, {args.iterations} iterations, "
          "median latency in ms")
    print(f"{'model':<16} {'threads':>7} {'accel_ms':>10} {'ort_ms':>10} "
          f"{'accel/ort':>9}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-") as work:
        results = [bench_model(m, args, work, rows) for m in args.models]
    ratios = [a / o for _, _, a, o in rows if a is not None and o]
    if ratios:
        print(f"geomean accel/ort: "
              f"{statistics.geometric_mean(ratios):.2f} over {len(ratios)}")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
