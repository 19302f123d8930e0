#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""accel-run's command-line contract: exit codes, messages, files, JSON.

    .venv/bin/python tests/models/test_cli.py BUILD/bin/accel-run

Builds tiny ONNX models with the onnx package, runs accel-run on them and
checks what other tools rely on. Ends with "N passed, N failed"; exits 1
when any check fails.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper

RUN = None
WORK = None
results = []


def model(name, inputs, outputs, op="Add"):
    g = h.make_graph([h.make_node(op, [i[0] for i in inputs],
                                  [o[0] for o in outputs])], name,
                     [h.make_tensor_value_info(*i) for i in inputs],
                     [h.make_tensor_value_info(*o) for o in outputs])
    path = os.path.join(WORK, name + ".onnx")
    onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 13)]), path)
    return path


def run(*args, env=None):
    p = subprocess.run([RUN, *args], capture_output=True, text=True,
                       timeout=120, env=env)
    return p.returncode, p.stdout, p.stderr


def check(name, cond, detail=""):
    results.append(bool(cond))
    print(f"{'ok' if cond else 'FAIL'}: {name}" +
          ("" if cond else f" -- {detail}"))


def expect_rc(name, want, args, err_has=None):
    rc, out, err = run(*args)
    good = rc == want and (want == 0 or err.startswith("accel-run: "))
    if err_has:
        good = good and all(s in err for s in err_has)
    check(name, good, f"rc={rc} (want {want}), stderr={err.strip()!r}")
    return out


def test_usage(dyn):
    out = expect_rc("--help exits 0", 0, ["--help"])
    check("--help shows usage", "Usage: accel-run MODEL" in out, out[:80])
    expect_rc("--version exits 0", 0, ["--version"])
    expect_rc("no MODEL is a usage error", 2, [])
    expect_rc("unknown option is a usage error", 2, [dyn, "--bogus"])
    expect_rc("bad --threads", 2, [dyn, "-t", "x"], ["--threads"])
    expect_rc("--input without '='", 2, [dyn, "-i", "x"], ["--input"])
    expect_rc("unknown input name", 2, [dyn, "-i", "nope=a.npy"], ["nope"])
    expect_rc("dynamic dim without --shape", 2, [dyn], ["'x'", "dim 0"])
    expect_rc("--shape of the wrong rank", 2, [dyn, "--shape", "x=2"],
              ["rank"])
    expect_rc("--warmup alone", 2, [dyn, "--warmup", "2"], ["--iterations"])
    open(os.path.join(WORK, "afile"), "w").close()
    expect_rc("--output-dir is a file", 2,
              [dyn, "--shape", "x=2x4", "-o", os.path.join(WORK, "afile")],
              ["not a directory"])
    expect_rc("malformed device", 2, [dyn, "-d", "bogus"], ["bogus"])
    expect_rc("absent device", 1, [dyn, "-d", "opencl:99"], ["opencl:99"])


def test_runtime_errors(dyn):
    expect_rc("missing model file", 1, [os.path.join(WORK, "none.onnx")],
              ["none.onnx"])
    expect_rc("missing input file", 1,
              [dyn, "-i", "x=" + os.path.join(WORK, "none.npy")],
              ["none.npy"])
    ints = os.path.join(WORK, "ints.npy")
    np.save(ints, np.zeros((2, 4), np.int64))
    expect_rc("input dtype mismatch", 1, [dyn, "-i", "x=" + ints],
              ["int64", "float32"])


def test_outputs(dyn):
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    xf, od = os.path.join(WORK, "x.npy"), os.path.join(WORK, "out", "deep")
    np.save(xf, x)
    out = expect_rc("run with a file input", 0, [dyn, "-i", "x=" + xf,
                                                 "-o", od, "--json"])
    rep = json.loads(out) if out.startswith("{") else {}
    ys = [i for i in rep.get("inputs", []) if i["name"] == "y"]
    z_path = os.path.join(od, "out_z.npy")
    check("'/' in an output name becomes '_'", os.path.exists(z_path),
          os.listdir(od) if os.path.isdir(od) else "no dir")
    if os.path.exists(z_path) and ys:
        # y was random: recover it from z - x and check its range.
        y = np.load(z_path) - x
        check("random floats in [-1, 1)", np.all((y >= -1) & (y < 1)),
              str(y))
    check("JSON input sources", ys and ys[0]["source"] == "random" and
          rep["inputs"][0]["source"] == xf, str(rep.get("inputs")))
    check("JSON output entry", rep.get("outputs", [{}])[0].get("shape") ==
          [2, 4] and rep["outputs"][0].get("dtype") == "float32",
          str(rep.get("outputs")))


def test_pb_and_timing(dyn):
    x = np.ones((3, 4), np.float32)
    pb = os.path.join(WORK, "x.pb")
    with open(pb, "wb") as f:
        f.write(numpy_helper.from_array(x, "x").SerializeToString())
    out = expect_rc("TensorProto input + timing", 0,
                    [dyn, "-i", "x=" + pb, "--warmup", "1",
                     "--iterations", "5", "--json", "-t", "1"])
    rep = json.loads(out) if out.startswith("{") else {}
    lat = rep.get("latency_ms", {})
    check("JSON latency keys", set(lat) >= {"min", "median", "p90", "p99",
                                            "max", "mean"} and
          lat["min"] <= lat["median"] <= lat["max"], str(lat))
    check("JSON throughput and threads", rep.get("throughput_ips", 0) > 0
          and rep.get("threads") == 1, str(rep)[:200])
    out = expect_rc("human report with timing", 0,
                    [dyn, "--shape", "x=1x4", "--iterations", "3"])
    check("human report has latency and throughput",
          "latency" in out and "inferences/s" in out, out)


def test_determinism():
    m = model("ints", [("a", T.INT64, [64]), ("b", T.INT64, [64])],
              [("c", T.INT64, [64])])
    d1, d2 = os.path.join(WORK, "d1"), os.path.join(WORK, "d2")
    expect_rc("int model, run 1", 0, [m, "-o", d1])
    expect_rc("int model, run 2", 0, [m, "-o", d2])
    try:
        c1, c2 = np.load(d1 + "/c.npy"), np.load(d2 + "/c.npy")
    except OSError as e:
        check("random inputs are deterministic", False, str(e))
        return
    check("random inputs are deterministic", np.array_equal(c1, c2))
    check("random ints in [0, 10) (sum of two in [0, 18])",
          c1.min() >= 0 and c1.max() <= 18, f"{c1.min()}..{c1.max()}")


def test_devices(dyn):
    rc, out, err = run("--list-devices")
    check("--list-devices lists the cpu first", rc == 0 and out.startswith("cpu"),
          f"rc={rc} out={out!r}")
    check("--list-devices says whether there are CUDA devices, and why not",
          rc == 0 and any(l.startswith("cuda:") for l in out.splitlines()),
          f"rc={rc} out={out!r}")
    rc, out, err = run(dyn, "--shape", "x=2x4", "--explain")
    check("--explain prints a placement line per step",
          rc == 0 and "placement (1 steps)" in out and "Add" in out and "cpu" in out,
          f"rc={rc} out={out!r}")
    rc, out, err = run(dyn, "--shape", "x=2x4", "--explain", "--json")
    check("--explain with --json keeps stdout pure JSON",
          rc == 0 and out.lstrip().startswith("{") and "placement" in err,
          f"rc={rc} out={out[:80]!r} err={err[:80]!r}")
    expect_rc("--opt-level 9 is a usage error", 2,
              [dyn, "--shape", "x=2x4", "--opt-level", "9"], ["--opt-level"])
    expect_rc("--opt-level x is a usage error", 2,
              [dyn, "--shape", "x=2x4", "--opt-level", "x"], ["--opt-level"])
    expect_rc("--dump-graph into a missing directory fails", 1,
              [dyn, "--shape", "x=2x4", "--dump-graph", "/nonexistent/dir/g.dot"],
              ["/nonexistent/dir/g.dot"])
    # --concurrency / --max-batch / --batch-delay-us: values checked, and a
    # pipelined, batched timing loop reports its devices and memory plan
    for flag, bad in (("--concurrency", "0"), ("--concurrency", "2000"),
                      ("--concurrency", "x"), ("--max-batch", "-1"),
                      ("--max-batch", "99999999"), ("--batch-delay-us", "x"),
                      ("--batch-delay-us", "20000000")):
        expect_rc(f"{flag} {bad} is a usage error", 2,
                  [dyn, "--shape", "x=2x4", "--iterations", "2", flag, bad], [flag])
    expect_rc("--concurrency without --iterations is a usage error", 2,
              [dyn, "--shape", "x=2x4", "--concurrency", "4"], ["--concurrency"])
    rc, out, err = run(dyn, "--shape", "x=2x4", "--iterations", "16", "--concurrency", "4",
                       "--max-batch", "8", "--batch-delay-us", "500", "--json")
    try:
        rep = json.loads(out)
    except ValueError:
        rep = {}
    check("--concurrency 4 --max-batch 8 runs and reports devices and the memory plan",
          rc == 0 and rep.get("concurrency") == 4 and rep.get("iterations") == 16 and
          rep.get("devices") and rep["devices"][0].get("device") == "cpu" and
          "arena_bytes" in rep.get("memory_plan", {}),
          f"rc={rc} out={out[:200]!r} err={err[:200]!r}")
    # a malformed ACCEL_COST_PROFILE is an error naming the file and line
    # (read when a session has several candidate devices)
    bad = os.path.join(WORK, "bad-profile")
    with open(bad, "w") as f:
        f.write("cpu gemm_gflops=fast\n")
    rc, lst, _ = run("--list-devices")
    if rc == 0 and any(l.startswith("opencl:0") for l in lst.splitlines()):
        env = dict(os.environ, ACCEL_COST_PROFILE=bad)
        rc, out, err = run(dyn, "--shape", "x=2x4", "-d", "cpu,opencl:0", env=env)
        check("a malformed ACCEL_COST_PROFILE is refused with its file and line",
              rc == 1 and bad in err and "line 1" in err and "gemm_gflops" in err,
              f"rc={rc} err={err.strip()!r}")
    else:
        print("skip: malformed ACCEL_COST_PROFILE (no opencl:0 here)")
    dot = os.path.join(WORK, "g.dot")
    expect_rc("--dump-graph writes DOT", 0, [dyn, "--shape", "x=2x4", "--dump-graph", dot])
    check("the DOT file names the node's op",
          os.path.exists(dot) and "digraph" in open(dot).read() and "Add" in open(dot).read())
    expect_rc("--device opencl:99 is a runtime error", 1,
              [dyn, "--shape", "x=2x4", "-d", "opencl:99"], ["opencl:99"])


def main():
    global RUN, WORK
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    RUN = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="test_cli-") as WORK:
        dyn = model("dyn", [("x", T.FLOAT, ["N", 4]), ("y", T.FLOAT, [1, 4])],
                    [("out/z", T.FLOAT, ["N", 4])])
        test_usage(dyn)
        test_runtime_errors(dyn)
        test_outputs(dyn)
        test_pb_and_timing(dyn)
        test_determinism()
        test_devices(dyn)
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
