#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check.sh BUILD_DIR [suite...] - run accel's test suites against a build.
#
# Suites, in order (default: all): unit conformance models badinput asan kernel
#   unit         every BUILD_DIR/tests/test_* binary (cmocka)
#   conformance  ONNX node tests (Debian's libonnx-testdata and the onnx
#                wheel's) with a pass-count floor: tests/conformance/floor.txt,
#                at --opt-level 0 and at --opt-level 3
#   models       tests/models/check_models.sh BUILD_DIR (whole models vs onnxruntime)
#   devices      conformance on opencl:0 and whole models split across
#                cpu/opencl:0/opencl:1 (PoCL) against the CPU's outputs
#   badinput     bad files and bad calls, with fixtures from make_fixtures.py
#   asan         rebuild with SAN=1 in $ASAN_BUILD (default build-asan), then
#                unit + conformance (same floor) + badinput under ASan/UBSan/LSan
#   kernel       tests/kernel/run.sh (the kernel module, in qemu)
# A suite whose runner is not there yet is skipped. Every suite runs; the
# exit status is 1 when any failed. The last line is
# "N passed, N failed, N skipped", counting suites.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
# Run from make (make check O=DIR), the caller's variables arrive through
# MAKEFLAGS and would reach every make below: O= in particular means the
# output directory to the kernel's build system. Each make here says what
# it wants.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES

if [ $# -lt 1 ]; then
	echo "usage: $0 BUILD_DIR [unit|conformance|models|badinput|asan|kernel...]" >&2
	exit 2
fi
B=$1
shift
SUITES=("$@")
[ ${#SUITES[@]} -gt 0 ] || SUITES=(unit conformance models devices badinput asan kernel)
ASAN_BUILD=${ASAN_BUILD:-build-asan}
FLOOR=tests/conformance/floor.txt
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
PY=.venv/bin/python
[ -x "$PY" ] || PY=python3
SKIP=77	# a suite function returns this when it has nothing to run

# The node-test directories: Debian's package, plus the onnx wheel's copy.
conformance_dirs() {
	local d wheel
	d=/usr/share/libonnx-testdata/data/node
	[ -d "$d" ] && echo "--dir $d"
	wheel=$("$PY" -c 'import os, onnx; print(os.path.join(os.path.dirname(onnx.__file__), "backend/test/data/node"))' 2>/dev/null) || true
	[ -n "$wheel" ] && [ -d "$wheel" ] && echo "--dir $wheel"
}

# run_unit DIR: every test_* binary in DIR/tests.
run_unit() {
	local dir=$1 t n=0 bad=0
	for t in "$dir"/tests/test_*; do
		[ -x "$t" ] || continue
		n=$((n + 1))
		echo "--- $t"
		if ! "$t"; then
			echo "FAILED: $t"
			bad=$((bad + 1))
		fi
	done
	[ $n -gt 0 ] || { echo "no unit tests in $dir/tests"; return $SKIP; }
	echo "unit: $((n - bad)) of $n binaries passed"
	[ $bad -eq 0 ]
}

# run_conformance DIR [extra runner options...]
run_conformance() {
	local dir=$1
	shift
	[ -x "$dir/tests/conformance" ] || { echo "no $dir/tests/conformance"; return 1; }
	# shellcheck disable=SC2046
	"$dir/tests/conformance" $(conformance_dirs) \
		--report "$dir/conformance-report${REPORT_SUFFIX:-}.txt" --floor "$FLOOR" "$@"
	local rc=$?
	echo "per-op table and failing cases: $dir/conformance-report${REPORT_SUFFIX:-}.txt"
	return $rc
}

run_badinput() {
	local dir=$1 fx=$1/badinput-fixtures
	[ -x "$dir/tests/badinput" ] || { echo "no $dir/tests/badinput"; return 1; }
	if ! "$PY" tests/badinput/make_fixtures.py "$fx"; then
		echo "make_fixtures.py failed: external-data tests will skip"
		fx=""
	fi
	if [ -n "$fx" ]; then
		"$dir/tests/badinput" "$fx"
	else
		"$dir/tests/badinput"
	fi
}

suite_unit() { run_unit "$B"; }
# At opt-level 0 (the graph as written) and at the highest level (every
# pass), each against the floor: a pass that breaks an op shows up as a
# difference between the two.
suite_conformance() {
	local rc=0
	echo "--- conformance at --opt-level 0"
	REPORT_SUFFIX=-O0 run_conformance "$B" --opt-level 0 || rc=1
	echo "--- conformance at --opt-level 3"
	REPORT_SUFFIX=-O3 run_conformance "$B" --opt-level 3 || rc=1
	return $rc
}
suite_badinput() { run_badinput "$B"; }

suite_models() {
	[ -x tests/models/check_models.sh ] || { echo "tests/models/check_models.sh not there yet"; return $SKIP; }
	tests/models/check_models.sh "$B"
}

# OpenCL on PoCL: two CPU-backed devices. The conformance cases on
# opencl:0 (ops it lacks fall back to the CPU) and whole models split across
# cpu, opencl:0 and opencl:1 against the CPU's outputs.
suite_devices() {
	local rc=0
	export POCL_DEVICES=${POCL_DEVICES:-"pthread pthread"}
	export POCL_CACHE_DIR=${POCL_CACHE_DIR:-$B/pocl-cache}
	echo "--- conformance on opencl:0"
	REPORT_SUFFIX=-opencl run_conformance "$B" --device opencl:0 --timeout 300 || rc=1
	echo "--- whole models across devices"
	tests/models/check_devices.sh "$B" || rc=1
	return $rc
}

suite_kernel() {
	[ -x tests/kernel/run.sh ] || { echo "tests/kernel/run.sh not there yet"; return $SKIP; }
	tests/kernel/run.sh
}

suite_asan() {
	local rc=0
	echo "building $ASAN_BUILD (SAN=1, -j$JOBS)"
	make -s SAN=1 O="$ASAN_BUILD" -j"$JOBS" tests || return 1
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1
	# Leaks inside PoCL/LLVM (kernel compilation) are not ours.
	export LSAN_OPTIONS=suppressions=$PWD/tests/sanitizer/lsan.supp:print_suppressions=0
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	echo "--- unit under ASan"
	run_unit "$ASAN_BUILD" || rc=1
	echo "--- conformance under ASan"
	run_conformance "$ASAN_BUILD" --timeout 300 || rc=1
	echo "--- badinput under ASan"
	run_badinput "$ASAN_BUILD" || rc=1
	return $rc
}

passed=() failed=() skipped=()
for s in "${SUITES[@]}"; do
	if ! declare -F "suite_$s" >/dev/null; then
		echo "check.sh: unknown suite '$s'" >&2
		failed+=("$s")
		continue
	fi
	echo
	echo "==================== $s ===================="
	start=$SECONDS
	suite_"$s"
	rc=$?
	took=$((SECONDS - start))
	if [ $rc -eq 0 ]; then
		passed+=("$s")
		echo "==> $s: PASS (${took}s)"
	elif [ $rc -eq $SKIP ]; then
		skipped+=("$s")
		echo "==> $s: SKIP (${took}s)"
	else
		failed+=("$s")
		echo "==> $s: FAIL (${took}s)"
	fi
done

echo
echo "suites passed: ${passed[*]:-none}; failed: ${failed[*]:-none}; skipped: ${skipped[*]:-none}"
echo "${#passed[@]} passed, ${#failed[@]} failed, ${#skipped[@]} skipped"
[ ${#failed[@]} -eq 0 ]
