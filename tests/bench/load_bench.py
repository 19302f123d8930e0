#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Model load time: accel_model_load (io_uring and pread) vs onnxruntime.

    .venv/bin/python tests/bench/load_bench.py --load-bench BUILD/tests/load_bench \\
        [--rounds R] [--loads K] [--cold] [--workdir DIR] MODEL.onnx...

For every model (and, for each model named resnet18*, a copy saved with its
weights in one external-data file, written to --workdir) and every round,
interleaved: K loads through load_bench with io_uring, K with
ACCEL_NO_IO_URING=1 (pread), and K onnxruntime.InferenceSession creations
(CPU provider, default options) in this process. Prints the median of all
R*K samples of each and the ratios accel/ort and io_uring/pread. --cold
drops the files from the page cache before every load (both runtimes), so
the reads go to the disk. Timings on a shared machine are noisy: read the
ratios. Not a test: it asserts nothing about timings.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time


def evict(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def data_files(model):
    """The model file and the external data files beside it."""
    d = os.path.dirname(os.path.abspath(model))
    stem = os.path.splitext(os.path.basename(model))[0]
    return [model] + [os.path.join(d, f) for f in sorted(os.listdir(d))
                      if f.startswith(stem) and f.endswith(".data")]


def external_copy(model, workdir):
    """resnet18.onnx -> WORKDIR/resnet18_ext/resnet18_ext.onnx + .data."""
    import onnx
    stem = os.path.splitext(os.path.basename(model))[0] + "_ext"
    out_dir = os.path.join(workdir, stem)
    out = os.path.join(out_dir, stem + ".onnx")
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(model):
        return out
    os.makedirs(out_dir, exist_ok=True)
    data = os.path.join(out_dir, stem + ".data")
    if os.path.exists(data):
        os.remove(data)  # onnx appends to an existing data file
    m = onnx.load(model)
    onnx.save_model(m, out, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=stem + ".data", size_threshold=1024)
    return out


def accel_loads(binary, model, loads, cold, no_uring):
    env = dict(os.environ)
    if no_uring:
        env["ACCEL_NO_IO_URING"] = "1"
    else:
        env.pop("ACCEL_NO_IO_URING", None)
    cmd = [binary, "--loads", str(loads)]
    if cold:
        cmd.append("--cold")
        for f in data_files(model)[1:]:
            cmd += ["--evict", f]
    out = subprocess.run(cmd + [model], env=env, check=True, capture_output=True,
                         text=True).stdout
    reader = next((ln.split()[1] for ln in out.splitlines() if ln.startswith("reader ")),
                  "?")
    return reader, [float(ln.split()[1]) for ln in out.splitlines()
                    if ln.startswith("load_ms ")]


def ort_loads(ort, model, loads, cold):
    ms = []
    for _ in range(loads):
        if cold:
            for f in data_files(model):
                evict(f)
        t0 = time.perf_counter()
        s = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        ms.append((time.perf_counter() - t0) * 1e3)
        del s
    return ms


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--load-bench", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--loads", type=int, default=5)
    ap.add_argument("--cold", action="store_true")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("models", nargs="+")
    a = ap.parse_args()

    import onnxruntime as ort
    workdir = a.workdir or os.path.join(os.path.dirname(os.path.abspath(a.load_bench)),
                                        "..", "models")
    models = []
    for m in a.models:
        models.append(m)
        if os.path.basename(m).startswith("resnet18"):
            models.append(external_copy(m, workdir))
    # One-time initialisation (ORT's environment) is not a load.
    ort.InferenceSession(models[0], providers=["CPUExecutionProvider"])

    samples = {m: {"uring": [], "pread": [], "ort": []} for m in models}
    reader = "?"
    for r in range(a.rounds):
        for m in models:
            order = ["uring", "pread", "ort"]
            order = order[r % 3:] + order[:r % 3]  # rotate who goes first
            for what in order:
                if what == "ort":
                    samples[m]["ort"] += ort_loads(ort, m, a.loads, a.cold)
                else:
                    got, ms = accel_loads(a.load_bench, m, a.loads, a.cold,
                                          what == "pread")
                    if what == "uring":
                        reader = got
                    samples[m][what] += ms

    cache = "cold page cache" if a.cold else "warm page cache"
    print(f"model load, {cache}: median of {a.rounds}x{a.loads} loads, ms "
          f"(accel reader: {reader}; onnxruntime {ort.__version__})")
    print(f"{'model':<16} {'MB':>6} {'io_uring':>9} {'pread':>9} {'ort':>9} "
          f"{'accel/ort':>9} {'uring/pread':>11}")
    for m in models:
        mb = sum(os.path.getsize(f) for f in data_files(m)) / 1e6
        u, p, o = (statistics.median(samples[m][k]) for k in ("uring", "pread", "ort"))
        name = os.path.splitext(os.path.basename(m))[0]
        print(f"{name:<16} {mb:6.1f} {u:9.1f} {p:9.1f} {o:9.1f} {u / o:9.2f} {u / p:11.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
