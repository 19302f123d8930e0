#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check_models.sh BUILD_DIR - the "models" suite of scripts/check.sh.
#
#  1. accel-run's command-line contract (test_cli.py);
#  2. whole models against onnxruntime (compare.py, rel. error <= 1e-4):
#     resnet18, mobilenet_v2, mobilenet_v3_small and efficientnet_b0
#     (squeeze-excite), a small transformer and encoder6 (6 layers, hidden
#     384, GELU) exported by export.py (cached in BUILD_DIR/models; each
#     runs in about a second), and PP-OCRv4's pretrained text
#     recogniser on a rendered line when its wheel can be fetched from PyPI.
# The last line is "N passed, N failed". Exit 77 (skip) when accel-run or
# the Python tools are missing, 1 when anything fails.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

BUILD=${1:-build}
RUN="$BUILD/bin/accel-run"
PY=.venv/bin/python
MODELS="$BUILD/models"
passed=0 failed=0

[ -x "$RUN" ] || { echo "check_models: $RUN not built"; exit 77; }
"$PY" -c 'import onnx, onnxruntime' 2>/dev/null ||
	{ echo "check_models: $PY lacks onnx/onnxruntime (scripts/deps.sh)"; exit 77; }

count() { if [ "$1" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi; }

echo "--- accel-run command line"
"$PY" tests/models/test_cli.py "$RUN"
count $?

echo "--- whole models vs onnxruntime"
if /usr/bin/python3 tests/models/export.py "$MODELS"; then
	for m in resnet18 mobilenet_v2 transformer mobilenet_v3_small \
		efficientnet_b0 encoder6; do
		"$PY" tests/models/compare.py --accel-run "$RUN" "$MODELS/$m.onnx"
		count $?
	done
else
	echo "check_models: export failed (needs python3-torch, python3-torchvision)"
	count 1
fi

if "$PY" tests/models/demo.py fetch-ocr "$MODELS" &&
   "$PY" -c 'import PIL' 2>/dev/null &&
   [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
	in="$BUILD/demo/check_ocr.npy"
	mkdir -p "$BUILD/demo"
	"$PY" tests/models/demo.py ocr-input "The quick brown fox 42" "$in" >/dev/null
	"$PY" tests/models/compare.py --accel-run "$RUN" --input "x=$in" \
		"$MODELS/ocr_rec.onnx"
	count $?
else
	echo "ocr_rec: skipped (wheel, Pillow or DejaVu font unavailable)"
fi

echo "models: $passed passed, $failed failed"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
