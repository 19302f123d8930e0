#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check_devices.sh BUILD_DIR - whole models across devices give the
# CPU-only outputs (the "devices" suite of scripts/check.sh).
#
# Each model runs once on the CPU (the reference) and then on OpenCL device
# lists: one device, the other device first, and every device with the CPU.
# Nodes a device lacks fall back to the CPU, and lists of several devices
# are cut into stages by the placement cost model; --explain shows how.
# Placement uses the fixed, equal device profiles written below (the
# PoCL devices are all this host's CPU), so every multi-device run is
# split and must use several devices; set ACCEL_COST_PROFILE (empty:
# measure the devices) to place with other profiles, which skips that
# check. Needs two OpenCL devices (POCL_DEVICES="pthread pthread" on
# PoCL). The last line is "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

BUILD=${1:-build}
RUN="$BUILD/bin/accel-run"
PY=.venv/bin/python
MODELS="$BUILD/models"
WORK="$BUILD/devices"
export POCL_DEVICES=${POCL_DEVICES:-"pthread pthread"}
export POCL_CACHE_DIR=${POCL_CACHE_DIR:-$BUILD/pocl-cache}
passed=0 failed=0

[ -x "$RUN" ] || { echo "check_devices: $RUN not built"; exit 1; }
n_cl=$("$RUN" --list-devices | grep -c '^opencl:')
if [ "$n_cl" -lt 2 ]; then
	echo "check_devices: $n_cl OpenCL devices, need 2 (is pocl-opencl-icd installed?)"
	exit 1
fi
/usr/bin/python3 tests/models/export.py "$MODELS" --models resnet18,mobilenet_v2,transformer,encoder6 >/dev/null ||
	{ echo "check_devices: export failed"; exit 1; }
rm -rf "$WORK"
mkdir -p "$WORK"
fixed_profile=0
if [ -z "${ACCEL_COST_PROFILE+set}" ]; then
	fixed_profile=1
	export ACCEL_COST_PROFILE="$WORK/cost_profile"
	cat >"$ACCEL_COST_PROFILE" <<'EOF'
# sched/cost.h: equal compute everywhere; the CPU's copies are free
cpu      gemm_gflops=25 stream_gbps=20 launch_us=5
opencl:0 gemm_gflops=25 stream_gbps=20 launch_us=20 up_gbps=10 up_lat_us=10 down_gbps=10 down_lat_us=10
opencl:1 gemm_gflops=25 stream_gbps=20 launch_us=20 up_gbps=10 up_lat_us=10 down_gbps=10 down_lat_us=10
EOF
fi

# compare REF_DIR GOT_DIR: max abs error relative to the output's scale.
compare() {
	"$PY" - "$1" "$2" <<'PY'
import glob, os, sys
import numpy as np
ref, got = sys.argv[1], sys.argv[2]
worst = 0.0
files = sorted(glob.glob(os.path.join(ref, "*.npy")))
if not files:
    sys.exit("no outputs in " + ref)
for f in files:
    a = np.load(f)
    b = np.load(os.path.join(got, os.path.basename(f)))
    if a.shape != b.shape or a.dtype != b.dtype:
        sys.exit(f"{os.path.basename(f)}: {b.dtype}{b.shape} vs {a.dtype}{a.shape}")
    scale = max(float(np.abs(a).max()), 1e-12)
    worst = max(worst, float(np.abs(a.astype(np.float64) - b).max()) / scale)
print(f"rel={worst:.2e}")
sys.exit(0 if worst <= 1e-4 else 1)
PY
}

for m in resnet18 mobilenet_v2 transformer encoder6; do
	model="$MODELS/$m.onnx"
	if ! "$RUN" "$model" -d cpu -o "$WORK/$m-cpu" >/dev/null; then
		echo "$m: cpu run failed"
		failed=$((failed + 1))
		continue
	fi
	for spec in opencl:0 opencl:1,opencl:0 opencl:0,opencl:1,cpu; do
		tag=${spec//[:,]/_}
		out="$WORK/$m-$tag"
		if ! "$RUN" "$model" -d "$spec" --explain -o "$out" >"$out.log" 2>&1; then
			echo "$m on $spec: FAIL (run failed, see $out.log)"
			tail -3 "$out.log"
			failed=$((failed + 1))
			continue
		fi
		on_cpu=$(grep -c ' cpu fallback' "$out.log")
		n_dev=$(awk '/^ +[0-9]+  /{ print $4 }' "$out.log" | sort -u | wc -l)
		if [ "$fixed_profile" = 1 ] && [[ $spec == *,* ]] && [ "$n_dev" -lt 2 ]; then
			echo "$m on $spec: FAIL (one device used, see $out.log)"
			failed=$((failed + 1))
			continue
		fi
		if res=$(compare "$WORK/$m-cpu" "$out"); then
			echo "$m on $spec: $res ($n_dev devices, $on_cpu steps fell back to the cpu) PASS"
			passed=$((passed + 1))
		else
			echo "$m on $spec: $res FAIL"
			failed=$((failed + 1))
		fi
	done
done
echo "devices: $passed passed, $failed failed"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
