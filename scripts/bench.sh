#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench.sh BUILD_DIR - accel vs onnxruntime on whole models (`make bench`).
#
# Exports the models (cached under BUILD_DIR/models), then runs
# tests/models/bench.py: the same models, the same input and thread count,
# on this machine in one run; prints median latencies and accel/ort ratios.
# Environment: BENCH_MODELS (default resnet18,mobilenet_v2,transformer),
# BENCH_THREADS (1,2), BENCH_WARMUP (3), BENCH_ITERATIONS (20).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${1:-build}
RUN="$BUILD/bin/accel-run"
PY=.venv/bin/python
MODELS="$BUILD/models"
NAMES=${BENCH_MODELS:-resnet18,mobilenet_v2,transformer}

[ -x "$RUN" ] || { echo "bench: $RUN not built (make O=$BUILD tools)" >&2; exit 1; }
[ -x "$PY" ] || { echo "bench: $PY missing (run scripts/deps.sh)" >&2; exit 1; }
/usr/bin/python3 tests/models/export.py "$MODELS" --models "$NAMES"
paths=()
IFS=, read -ra names <<<"$NAMES"
for n in "${names[@]}"; do
	paths+=("$MODELS/$n.onnx")
done
exec "$PY" tests/models/bench.py --accel-run "$RUN" \
	--threads "${BENCH_THREADS:-1,2}" --warmup "${BENCH_WARMUP:-3}" \
	--iterations "${BENCH_ITERATIONS:-20}" "${paths[@]}"
