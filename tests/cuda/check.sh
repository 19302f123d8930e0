#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check.sh BUILD_DIR - the CUDA backend on a real GPU (`make check-cuda`).
#
#  1. test_cuda (the fake driver: error paths and cleanup; runs anywhere);
#  2. the ONNX node tests on cuda:0 (nodes it lacks fall back to the CPU),
#     against tests/conformance/floor.txt, at --opt-level 0 and 3;
#  3. resnet18, mobilenet_v2 and transformer on cuda:0 against
#     onnxruntime (tests/models/compare.py through a wrapper that adds
#     --device cuda:0; rel. error <= 1e-4), once with NVRTC and once
#     without (ACCEL_LIBNVRTC= : the embedded unary kernels);
#  4. compute-sanitizer --tool memcheck (leak check on) on one resnet18 run.
# Exits 0 with a message when the host has no CUDA device, so the target
# is safe anywhere. The last line is "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES

B=${1:-build}
RUN="$B/bin/accel-run"
PY=.venv/bin/python
[ -x "$PY" ] || PY=python3
MODELS="$B/models"
WORK="$B/cuda-check"
passed=0 failed=0
count() { if [ "$1" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi; }

[ -x "$RUN" ] || { echo "check-cuda: $RUN not built"; exit 1; }
if ! "$RUN" --list-devices | grep -q '^cuda:'; then
	echo "check-cuda: no CUDA device on this host (no driver, or no GPU); skipped"
	exit 0
fi
"$RUN" --list-devices | grep '^cuda:'
mkdir -p "$WORK"

echo "--- test_cuda (fake driver)"
"$B/tests/test_cuda"
count $?

echo "--- conformance on cuda:0"
dirs=()
[ -d /usr/share/libonnx-testdata/data/node ] && dirs+=(--dir /usr/share/libonnx-testdata/data/node)
wheel=$("$PY" -c 'import os, onnx; print(os.path.join(os.path.dirname(onnx.__file__), "backend/test/data/node"))' 2>/dev/null) || true
[ -n "$wheel" ] && [ -d "$wheel" ] && dirs+=(--dir "$wheel")
for level in 0 3; do
	"$B/tests/conformance" "${dirs[@]}" --device cuda:0 --opt-level "$level" \
		--floor tests/conformance/floor.txt --report "$WORK/conformance-$level.txt"
	count $?
done

echo "--- models on cuda:0 vs onnxruntime"
wrap="$WORK/accel-run-cuda"
printf '#!/bin/sh\nexec "%s" "$@" --device cuda:0\n' "$(realpath "$RUN")" > "$wrap"
chmod +x "$wrap"
if /usr/bin/python3 tests/models/export.py "$MODELS" --models resnet18,mobilenet_v2,transformer >/dev/null; then
	for nvrtc in default off; do
		for m in resnet18 mobilenet_v2 transformer; do
			echo -n "[nvrtc $nvrtc] "
			if [ $nvrtc = off ]; then
				ACCEL_LIBNVRTC='' "$PY" tests/models/compare.py --accel-run "$wrap" "$MODELS/$m.onnx"
			else
				"$PY" tests/models/compare.py --accel-run "$wrap" "$MODELS/$m.onnx"
			fi
			count $?
		done
	done
	"$RUN" "$MODELS/resnet18.onnx" --device cuda:0 --explain -o "$WORK/explain" |
		grep -cE '^ +[0-9]+ .* cuda:0' | sed 's/^/resnet18 steps placed on cuda:0: /'
else
	echo "check-cuda: model export failed (needs python3-torch, python3-torchvision)"
	count 1
fi

echo "--- compute-sanitizer memcheck"
CS=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
if [ -x "$CS" ] && [ -f "$MODELS/resnet18.onnx" ]; then
	"$CS" --tool memcheck --leak-check full --error-exitcode 1 \
		"$RUN" "$MODELS/resnet18.onnx" --device cuda:0 -o "$WORK/memcheck" >"$WORK/memcheck.log" 2>&1
	rc=$?
	tail -3 "$WORK/memcheck.log"
	count $rc
else
	echo "compute-sanitizer or resnet18.onnx missing: skipped"
fi

echo "check-cuda: $passed passed, $failed failed"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
