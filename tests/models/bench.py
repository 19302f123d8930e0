#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Benchmark accel against onnxruntime: same models, same input, same
thread count, same machine, one run.

    .venv/bin/python tests/models/bench.py --accel-run BUILD/bin/accel-run \\
        MODEL.onnx [...] [--threads 1,2] [--warmup 3] [--iterations 20] \\
        [--rounds 1] [--accel-arg ARG ...] [--markdown FILE] [--json FILE]

For each model and thread count, two child processes, one after the other:
`accel-run --warmup W --iterations N --json -t T -o DIR` and this script
in --ort-worker mode (an onnxruntime CPU session, intra_op_num_threads=T,
inter_op_num_threads=1, default graph optimisations, timed the same way:
W+1 untimed runs, then the median of N). Each child reports its own peak
RSS the same way (VmHWM from /proc/self/status, after the timed runs and
the output files). The ORT child also reports its peak before creating
the session
(interpreter, numpy, onnxruntime and the inputs): ort_net is peak minus
that, the runtime's own share. The outputs of both are compared: max abs
difference, and that relative to max |ORT output|.

With --rounds R > 1 the (accel, ORT) pair runs R times, interleaved, and
each side keeps its best median: a build on the other core then slows one
round, not the verdict. These machines are shared and noisy: read medians
and ratios, not single absolute numbers.
Exits 1 when an accel-run fails (the rest of the table is still printed).
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

# The issue's goal: accel/ORT <= 1.0 everywhere, < 0.8 where fusion helps.
GOAL, STRETCH = 1.0, 0.8


def safe_name(name):
    """How accel-run names an output's file (report.c: '/' -> '_')."""
    return name.replace("/", "_").replace("\\", "_") or "output"


def run_child(cmd, timeout):
    """Runs cmd; returns (exit code or None on timeout, stdout, stderr)."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "", ""
    return p.returncode, p.stdout, p.stderr


def peak_rss_mib():
    """This process's peak RSS (MiB), measured as accel-run measures its
    own (report.c): VmHWM, which belongs to this address space. (wait4's
    ru_maxrss would not do: it carries over exec() and so includes the
    forking parent, this 80 MB script.)"""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def last_line(text, default):
    lines = text.strip().splitlines()
    return lines[-1] if lines else default


def bench_accel(args, path, files, threads, outdir):
    cmd = common.accel_cmd(args.accel_run, path, files, threads,
                           ["--warmup", str(args.warmup),
                            "--iterations", str(args.iterations),
                            "-o", outdir, "--json"] + args.accel_arg)
    rc, out, err = run_child(cmd, args.timeout)
    if rc != 0:
        why = "timed out" if rc is None else last_line(err, f"exit {rc}")
        return None, why
    try:
        rep = json.loads(out)
    except ValueError as e:
        return None, f"bad JSON from accel-run: {e}"
    return {"ms": rep["latency_ms"]["median"],
            "peak_mib": rep.get("peak_rss_mib"),
            "nodes": rep.get("nodes")}, ""


def bench_ort(args, path, files, threads, outdir):
    cmd = [sys.executable, os.path.abspath(__file__), "--ort-worker", path,
           "--threads", str(threads), "--warmup", str(args.warmup),
           "--iterations", str(args.iterations), "--outdir", outdir]
    for name, f in files.items():
        cmd += ["--input", f"{name}={f}"]
    rc, out, err = run_child(cmd, args.timeout)
    if rc != 0:
        why = "timed out" if rc is None else last_line(err, f"exit {rc}")
        return None, why
    rep = json.loads(last_line(out, "{}"))
    return {"ms": rep["median_ms"], "peak_mib": rep["peak_rss_mib"],
            "base_mib": rep["base_rss_mib"]}, ""


def ort_worker(args):
    """The ORT side, in a process of its own so its peak RSS is its own."""
    files = dict(spec.split("=", 1) for spec in args.input)
    arrays = {k: np.load(v) for k, v in files.items()}
    # Everything but the session: the baseline that ort_net leaves out.
    base = peak_rss_mib()
    sess = common.ort_session(args.models[0], args.threads[0])
    for _ in range(args.warmup + 1):  # +1: accel-run's untimed first run
        out = sess.run(None, arrays)
    lat = []
    for _ in range(args.iterations):
        t0 = time.perf_counter()
        out = sess.run(None, arrays)
        lat.append((time.perf_counter() - t0) * 1e3)
    os.makedirs(args.outdir, exist_ok=True)
    for meta, value in zip(sess.get_outputs(), out):
        np.save(os.path.join(args.outdir, safe_name(meta.name) + ".npy"),
                np.asarray(value))
    print(json.dumps({"median_ms": statistics.median(lat),
                      "peak_rss_mib": peak_rss_mib(), "base_rss_mib": base}))
    return 0


def output_diff(sess, accel_dir, ort_dir):
    """(max abs diff, that / max |ORT|) over every output, or a problem."""
    worst_abs, worst_rel = 0.0, 0.0
    for meta in sess.get_outputs():
        f = safe_name(meta.name) + ".npy"
        try:
            a = np.load(os.path.join(accel_dir, f)).astype(np.float64)
            r = np.load(os.path.join(ort_dir, f)).astype(np.float64)
        except OSError as e:
            return None, None, f"output {meta.name}: {e}"
        if a.shape != r.shape:
            return None, None, f"output {meta.name}: shape {a.shape} " \
                f"vs ORT {r.shape}"
        if a.size == 0:
            continue
        ok = ~np.isnan(r)
        if not np.array_equal(np.isnan(a), ~ok):
            return None, None, f"output {meta.name}: NaN mismatch"
        err = float(np.max(np.abs(a[ok] - r[ok]), initial=0.0))
        scale = float(np.max(np.abs(r[ok]), initial=0.0))
        worst_abs = max(worst_abs, err)
        worst_rel = max(worst_rel, err / scale if scale > 0 else err)
    return worst_abs, worst_rel, None


def best(old, new):
    if old is None or (new is not None and new["ms"] < old["ms"]):
        return new
    return old


def prepare_model(path, work):
    """The model's inputs as .npy files, and an ORT session for metadata."""
    name = common.model_name(path)
    sess = common.ort_session(path, 1)
    mwork = os.path.join(work, name)
    _, files = common.make_inputs(path, sess, mwork)
    return {"path": path, "name": name, "sess": sess, "files": files,
            "work": mwork}


def bench_pair(args, m, row, rnd):
    """One (accel, ORT) pair for one row; keeps each side's best median.
    Returns False when accel-run failed or its outputs are not ORT's."""
    t = row["threads"]
    adir = os.path.join(m["work"], f"accel-t{t}-r{rnd}")
    odir = os.path.join(m["work"], f"ort-t{t}-r{rnd}")
    a, aerr = bench_accel(args, m["path"], m["files"], t, adir)
    o, oerr = bench_ort(args, m["path"], m["files"], t, odir)
    tag = f"bench: round {rnd + 1}/{args.rounds} {m['name']} threads={t}"
    if a is None:
        print(f"{tag}: accel-run failed: {aerr}", file=sys.stderr)
    if o is None:
        print(f"{tag}: onnxruntime failed: {oerr}", file=sys.stderr)
    row["accel"], row["ort"] = best(row["accel"], a), best(row["ort"], o)
    if a is None:
        return False
    if o is not None:
        abs_d, rel_d, problem = output_diff(m["sess"], adir, odir)
        if problem:
            print(f"{tag}: {problem}", file=sys.stderr)
            return False
        # Rounds should agree; keep the worst in case they do not.
        row["abs_diff"] = max(row["abs_diff"] or 0.0, abs_d)
        row["rel_diff"] = max(row["rel_diff"] or 0.0, rel_d)
    print(f"{tag}: accel {a['ms']:.2f} ms, ort "
          + (f"{o['ms']:.2f} ms" if o else "n/a"), file=sys.stderr,
          flush=True)
    return True


def bench_all(args, work):
    """Rounds are the outer loop: a burst of load from another process
    (a build on the other core) then hits one round of every row rather
    than every round of one row, and best-of-rounds filters it out."""
    models = [prepare_model(p, work) for p in args.models]
    plan = [(m, {"model": m["name"], "threads": t, "accel": None,
                 "ort": None, "abs_diff": None, "rel_diff": None})
            for m in models for t in args.threads]
    ok = True
    for rnd in range(args.rounds):
        for m, row in plan:
            ok &= bench_pair(args, m, row, rnd)
    rows = [row for _, row in plan]
    ok &= all(row["accel"] is not None for row in rows)
    return rows, ok


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "n/a"


HEADER = (f"{'model':<19} {'thr':>3} {'accel_ms':>9} {'ort_ms':>9} "
          f"{'accel/ort':>9} {'max_abs_diff':>12} {'rel_diff':>9} "
          f"{'accel_MB':>8} {'ort_MB':>7} {'ort_net':>7}")


def fmt(v, spec, width):
    return f"{v:{width}{spec}}" if v is not None else f"{'n/a':>{width}}"


def ratio_of(row):
    if row["accel"] is None or row["ort"] is None or not row["ort"]["ms"]:
        return None
    return row["accel"]["ms"] / row["ort"]["ms"]


def format_row(row):
    acc, ort = row["accel"] or {}, row["ort"] or {}
    net = ort["peak_mib"] - ort["base_mib"] if ort else None
    r = ratio_of(row)
    mark = "" if r is None or r <= GOAL else "  > 1.0"
    return (f"{row['model']:<19} {row['threads']:>3} "
            f"{fmt(acc.get('ms'), '.2f', 9)} {fmt(ort.get('ms'), '.2f', 9)} "
            f"{fmt(r, '.2f', 9)} {fmt(row['abs_diff'], '.2e', 12)} "
            f"{fmt(row['rel_diff'], '.1e', 9)} "
            f"{fmt(acc.get('peak_mib'), '.0f', 8)} "
            f"{fmt(ort.get('peak_mib'), '.0f', 7)} {fmt(net, '.0f', 7)}{mark}")


def summary(rows):
    ratios = [r for r in map(ratio_of, rows) if r is not None]
    if not ratios:
        return []
    return [f"geomean accel/ort: {statistics.geometric_mean(ratios):.2f} "
            f"over {len(ratios)}; ratio <= {GOAL}: "
            f"{sum(r <= GOAL for r in ratios)}/{len(ratios)}, "
            f"< {STRETCH}: {sum(r < STRETCH for r in ratios)}/{len(ratios)}"]


def write_markdown(path, rows, args):
    cols = ["model", "threads", "accel ms", "ORT ms", "accel/ORT",
            "max abs diff", "rel diff", "accel peak MB", "ORT peak MB",
            "ORT net MB"]
    lines = [f"Median of {args.iterations} runs after {args.warmup + 1} "
             f"warm-up, best of {args.rounds} round(s); peak = process "
             "peak RSS (MiB); ORT net = ORT peak minus the interpreter, "
             "numpy and onnxruntime before the session.", "",
             "| " + " | ".join(cols) + " |",
             "|" + "|".join("---" for _ in cols) + "|"]
    for row in rows:
        f = format_row(row).replace("  > 1.0", "").split()
        lines.append("| " + " | ".join(f) + " |")
    lines += [""] + summary(rows)
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--accel-run", default="build/bin/accel-run")
    ap.add_argument("--threads", default="1,2",
                    help="comma-separated thread counts (default 1,2)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=1,
                    help="interleaved (accel, ORT) rounds; best median wins")
    ap.add_argument("--accel-arg", action="append", default=[],
                    help="extra accel-run argument (repeatable), e.g. "
                    "--accel-arg=--opt-level --accel-arg=0")
    ap.add_argument("--timeout", type=float, default=600,
                    help="seconds one child may run")
    ap.add_argument("--markdown", help="also write the table here")
    ap.add_argument("--json", help="also write the raw rows here")
    # Internal: the onnxruntime side, run as a child of this script.
    ap.add_argument("--ort-worker", action="store_true",
                    help=argparse.SUPPRESS)
    ap.add_argument("--outdir", help=argparse.SUPPRESS)
    ap.add_argument("--input", action="append", default=[],
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    try:
        args.threads = [int(t) for t in args.threads.split(",") if t]
    except ValueError:
        ap.error(f"--threads {args.threads}: expected numbers like 1,2")
    if args.ort_worker:
        return ort_worker(args)
    if not os.access(args.accel_run, os.X_OK):
        ap.error(f"accel-run not found at {args.accel_run} (--accel-run)")
    if args.rounds < 1 or args.iterations < 1 or args.warmup < 0:
        ap.error("--rounds and --iterations must be >= 1, --warmup >= 0")
    print(f"bench: {os.cpu_count()} cores; warmup {args.warmup}, "
          f"{args.iterations} iterations, best median of {args.rounds} "
          f"round(s), ms; peak RSS in MiB"
          + (f"; accel-run {' '.join(args.accel_arg)}"
             if args.accel_arg else ""), flush=True)
    load_before = loadavg()
    with tempfile.TemporaryDirectory(prefix="bench-") as work:
        rows, ok = bench_all(args, work)
    print(HEADER)
    for row in rows:
        print(format_row(row))
    for line in summary(rows):
        print(line)
    print(f"load average (1/5/15 min) before: {load_before}, after: "
          f"{loadavg()}")
    try:
        busy = float(load_before.split()[0])
    except ValueError:
        busy = 0.0
    if busy >= 1.0:
        # ORT's spinning workers suffer far more than accel's from a
        # busy core: under load its multi-thread times balloon and the
        # ratio flatters accel.
        print(f"WARNING: other processes kept ~{busy:.1f} of "
              f"{os.cpu_count()} cores busy: multi-thread rows are not "
              "trustworthy; rerun on an idle machine")
    if args.markdown:
        write_markdown(args.markdown, rows, args)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
