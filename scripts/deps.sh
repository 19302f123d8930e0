#!/usr/bin/env bash
# deps.sh - install everything the build, the demo and the tests need on a
# fresh Debian bookworm machine. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PKGS=(build-essential pkg-config libprotobuf-c-dev protobuf-c-compiler
	  libcmocka-dev libonnx-testdata python3-venv python3-numpy
	  python3-torch python3-torchvision fonts-dejavu-core
	  ocl-icd-opencl-dev opencl-c-headers pocl-opencl-icd clinfo libdnnl-dev
	  liburing-dev libdrm-dev)
PIP_PKGS=(onnx==1.22.0 onnxruntime)
VENV=.venv

missing=()
for p in "${APT_PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The venv sees Debian's torch/numpy (system site packages) and adds the
# PyPI-only packages: onnxruntime (reference outputs and timing) and onnx.
if [ ! -x "$VENV/bin/python" ]; then
	echo "deps: creating $VENV"
	/usr/bin/python3 -m venv --system-site-packages "$VENV"
fi
if ! "$VENV/bin/python" -c 'import onnx, onnxruntime, numpy, torch' 2>/dev/null ||
   [ "$("$VENV/bin/python" -c 'import onnx; print(onnx.__version__)')" != "1.22.0" ]; then
	echo "deps: pip install ${PIP_PKGS[*]}"
	"$VENV/bin/python" -m pip install -q --disable-pip-version-check "${PIP_PKGS[@]}"
fi
"$VENV/bin/python" -c 'import onnx, onnxruntime, numpy, torch' >/dev/null
echo "deps: ok"
