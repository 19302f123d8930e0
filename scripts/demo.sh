#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# demo.sh BUILD_DIR - the main job's demo (`make run`).
#
# 1. Text recognition with a real pretrained model: PP-OCRv4's recogniser
#    (from the rapidocr-onnxruntime wheel on PyPI) reads a text line that we
#    render; accel-run runs it and we decode what it read. Skipped, with a
#    note, when the wheel, Pillow or the DejaVu font is unavailable.
# 2. Image classification with resnet18 (random weights: nothing pretrained
#    can be downloaded here) on a deterministic synthetic picture; prints
#    the top-5 classes.
# Each accel result is checked against onnxruntime on the same input
# (tests/models/compare.py). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${1:-build}
RUN="$BUILD/bin/accel-run"
PY=.venv/bin/python
SYSPY=/usr/bin/python3
MODELS="$BUILD/models"
WORK="$BUILD/demo"
TEXT=${DEMO_TEXT:-"accel runs ONNX models"}

die() { echo "demo: $*" >&2; exit 1; }
[ -x "$RUN" ] || die "$RUN not built (make O=$BUILD tools)"
[ -x "$PY" ] || die "$PY missing (run scripts/deps.sh)"
mkdir -p "$MODELS" "$WORK"
failed=0

ocr_demo() {
	local model="$MODELS/ocr_rec.onnx" read_text
	echo "== 1. text recognition: PP-OCRv4 recogniser (pretrained) =="
	if ! "$PY" tests/models/demo.py fetch-ocr "$MODELS" ||
	   ! "$PY" -c 'import PIL' 2>/dev/null ||
	   [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
		echo "demo: OCR part skipped (needs the rapidocr-onnxruntime wheel, python3-pil, fonts-dejavu-core)"
		return 0
	fi
	"$PY" tests/models/demo.py ocr-input "$TEXT" "$WORK/ocr_in.npy"
	if ! "$RUN" "$model" -i "x=$WORK/ocr_in.npy" -o "$WORK/ocr_out"; then
		echo "demo: accel-run failed on $model"
		failed=1
		return 0
	fi
	read_text=$("$PY" tests/models/demo.py ocr-decode "$model" \
		"$WORK/ocr_out/$(ls "$WORK/ocr_out" | head -n1)")
	echo "rendered: \"$TEXT\""
	echo "accel read: \"$read_text\""
	[ "$read_text" = "$TEXT" ] && echo "text match: PASS" ||
		{ echo "text match: FAIL"; failed=1; }
	"$PY" tests/models/compare.py --accel-run "$RUN" \
		--input "x=$WORK/ocr_in.npy" "$model" || failed=1
}

resnet_demo() {
	local model="$MODELS/resnet18.onnx"
	echo "== 2. image classification: resnet18 (random weights) =="
	"$SYSPY" tests/models/export.py "$MODELS" --models resnet18
	"$PY" tests/models/demo.py image-input "$WORK/image.npy"
	if ! "$RUN" "$model" -i "input=$WORK/image.npy" -o "$WORK/resnet_out"; then
		echo "demo: accel-run failed on $model"
		failed=1
		return 0
	fi
	echo "top-5 (random weights: the class indices carry no meaning):"
	"$PY" tests/models/demo.py top5 "$WORK/resnet_out/output.npy"
	"$PY" tests/models/compare.py --accel-run "$RUN" \
		--input "input=$WORK/image.npy" "$model" || failed=1
}

ocr_demo
echo
resnet_demo
echo
if [ "$failed" -ne 0 ]; then
	echo "demo: FAIL"
	exit 1
fi
echo "demo: PASS"
