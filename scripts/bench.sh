#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench.sh BUILD_DIR - accel vs onnxruntime on whole models, then the GEMM
# microbenchmark (`make bench`). docs/BENCHMARKS.md explains the output.
#
# Exports the models (cached under BUILD_DIR/models, Debian's python3-torch),
# then runs tests/models/bench.py: each model through accel-run and through
# onnxruntime's default CPU provider, same input, same thread count, in one
# run; prints median latencies, accel/ort ratios, the max output difference
# and both peak RSS. The table is also written to BUILD_DIR/bench/models.md
# and .json. Then BUILD_DIR/tests/gemm_bench: the library's sgemm in
# GFLOP/s against the core's FMA peak (skipped if not built).
# Environment: BENCH_MODELS (default resnet18,mobilenet_v2,
# mobilenet_v3_small,efficientnet_b0,encoder6), BENCH_THREADS (1,2),
# BENCH_WARMUP (3), BENCH_ITERATIONS (20), BENCH_ROUNDS (3: interleaved
# accel/ORT rounds, best median kept),
# BENCH_ACCEL_ARGS (extra accel-run arguments, e.g. "--opt-level 0"),
# BENCH_GEMM (1; 0 skips the GEMM microbenchmark).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${1:-build}
RUN="$BUILD/bin/accel-run"
GEMM="$BUILD/tests/gemm_bench"
PY=.venv/bin/python
MODELS="$BUILD/models"
OUT="$BUILD/bench"
NAMES=${BENCH_MODELS:-resnet18,mobilenet_v2,mobilenet_v3_small,efficientnet_b0,encoder6}

[ -x "$RUN" ] || { echo "bench: $RUN not built (make O=$BUILD tools)" >&2; exit 1; }
[ -x "$PY" ] || { echo "bench: $PY missing (run scripts/deps.sh)" >&2; exit 1; }
/usr/bin/python3 tests/models/export.py "$MODELS" --models "$NAMES"
paths=()
IFS=, read -ra names <<<"$NAMES"
for n in "${names[@]}"; do
	paths+=("$MODELS/$n.onnx")
done
extra=()
for a in ${BENCH_ACCEL_ARGS:-}; do
	extra+=("--accel-arg=$a")
done
mkdir -p "$OUT"
rc=0
"$PY" tests/models/bench.py --accel-run "$RUN" \
	--threads "${BENCH_THREADS:-1,2}" --warmup "${BENCH_WARMUP:-3}" \
	--iterations "${BENCH_ITERATIONS:-20}" --rounds "${BENCH_ROUNDS:-3}" \
	--markdown "$OUT/models.md" --json "$OUT/models.json" \
	${extra[@]+"${extra[@]}"} "${paths[@]}" || rc=$?

if [ "${BENCH_GEMM:-1}" != 0 ]; then
	echo
	if [ -x "$GEMM" ]; then
		"$GEMM" --threads "${BENCH_THREADS:-1,2}" | tee "$OUT/gemm.txt" || rc=1
	else
		echo "gemm: skipped ($GEMM not built: make O=$BUILD $GEMM)"
	fi
fi

# Dynamic batching: K clients of batch-1 requests, batcher off vs on, on
# "cpu", "cpu,opencl:0", "cpu,opencl:0,opencl:1" (two PoCL CPU devices).
# BENCH_BATCH (1; 0 skips), BENCH_BATCH_MODEL (mobilenet_v2_dyn),
# BENCH_BATCH_ARGS (batch_bench options, "--clients 4 --requests 4").
if [ "${BENCH_BATCH:-1}" != 0 ]; then
	echo
	BATCH="$BUILD/tests/batch_bench"
	bmodel=${BENCH_BATCH_MODEL:-mobilenet_v2_dyn}
	if [ -x "$BATCH" ]; then
		/usr/bin/python3 tests/models/export.py "$MODELS" --models "$bmodel"
		# shellcheck disable=SC2086 # options are split on purpose
		POCL_DEVICES=${POCL_DEVICES:-pthread pthread} "$BATCH" \
			"$MODELS/$bmodel.onnx" ${BENCH_BATCH_ARGS:---clients 4 --requests 4} |
			tee "$OUT/batch.txt" || rc=1
	else
		echo "batch: skipped ($BATCH not built: make O=$BUILD $BATCH)"
	fi
fi

# Model load time: accel_model_load with io_uring and with pread against
# onnxruntime's session creation (tests/bench/load_bench.py), warm page
# cache; resnet18 also with external data. BENCH_LOAD (1; 0 skips),
# BENCH_LOAD_ARGS (load_bench.py options, e.g. "--cold --rounds 5").
if [ "${BENCH_LOAD:-1}" != 0 ]; then
	echo
	LOADB="$BUILD/tests/load_bench"
	if [ -x "$LOADB" ]; then
		/usr/bin/python3 tests/models/export.py "$MODELS" --models resnet18,encoder6
		# shellcheck disable=SC2086 # options are split on purpose
		"$PY" tests/bench/load_bench.py --load-bench "$LOADB" --workdir "$MODELS" \
			${BENCH_LOAD_ARGS:-} "$MODELS/resnet18.onnx" "$MODELS/encoder6.onnx" |
			tee "$OUT/load.txt" || rc=1
	else
		echo "load: skipped ($LOADB not built: make O=$BUILD $LOADB)"
	fi
fi
exit "$rc"
