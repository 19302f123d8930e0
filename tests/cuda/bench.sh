#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench.sh BUILD_DIR - the CUDA backend's numbers (`make bench-cuda`).
#
#  1. BUILD_DIR/tests/cuda_gemm_bench: float32 GEMM, the own tiled kernel
#     and cuBLAS, both through the backend's MatMul, in TFLOP/s;
#  2. model latency (resnet18, mobilenet_v2, transformer; BENCH_MODELS):
#     accel-run --device cuda:0 against onnxruntime's CUDAExecutionProvider
#     when onnxruntime-gpu is installed, else torch on cuda
#     (tests/cuda/bench_models.py).
# Exits 0 with a message when the host has no CUDA device.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

B=${1:-build}
RUN="$B/bin/accel-run"
PY=.venv/bin/python
[ -x "$PY" ] || PY=python3
NAMES=${BENCH_MODELS:-resnet18,mobilenet_v2,transformer}

[ -x "$RUN" ] || { echo "bench-cuda: $RUN not built"; exit 1; }
if ! "$RUN" --list-devices | grep -q '^cuda:'; then
	echo "bench-cuda: no CUDA device on this host; skipped"
	exit 0
fi
echo "--- GEMM"
"$B/tests/cuda_gemm_bench" || exit 1
echo "--- models"
/usr/bin/python3 tests/models/export.py "$B/models" --models "$NAMES" >/dev/null || exit 1
IFS=, read -ra names <<<"$NAMES"
for n in "${names[@]}"; do
	"$PY" tests/cuda/bench_models.py --accel-run "$RUN" "$B/models/$n.onnx" || exit 1
done
