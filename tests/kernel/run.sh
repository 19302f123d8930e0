#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Kernel tests in a VM: install what is needed (Debian kernel + headers,
# qemu, busybox), build accelkm against the packaged kernel (never the
# running one: it cannot load modules), build the tests statically, pack a
# busybox initramfs, boot it under qemu TCG, and total the KTAP it prints.
#
#   tests/kernel/run.sh            tests + stress (make check-kernel)
#   tests/kernel/run.sh --bench    the benchmark only (make bench-kernel)
#   KTEST_OUT=dir                  build dir (default build-kernel/)
#   KTEST_ONLY=test_queue:overflow one binary, tests matching a substring
#
# The last line is "N passed, N failed, N skipped"; exit 0 only if all pass.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${KTEST_OUT:-$ROOT/build-kernel}
MODE=check
[ "${1:-}" = "--bench" ] && MODE=bench

PKGS="linux-image-amd64 linux-headers-amd64 qemu-system-x86 busybox-static
      liburing-dev cpio gzip gcc make libc6-dev"

install_deps() {
	local missing="" p
	for p in $PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	echo "kernel tests: installing$missing"
	local sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
		--no-install-recommends $missing >/dev/null
}

pick_kernel() {
	KDIR=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -1)
	[ -n "$KDIR" ] || { echo "no linux-headers-*-amd64"; exit 1; }
	KVER=${KDIR#/usr/src/linux-headers-}
	VMLINUZ=/boot/vmlinuz-$KVER
	[ -r "$VMLINUZ" ] || { echo "no readable $VMLINUZ"; exit 1; }
}

build_module() {
	rm -rf "$OUT/mod"
	mkdir -p "$OUT/mod"
	cp -r "$ROOT/Kbuild" "$ROOT/kmod" "$ROOT/uapi" "$OUT/mod/"
	rm -f "$OUT"/mod/kmod/*.o "$OUT"/mod/kmod/*.ko "$OUT"/mod/kmod/.*.cmd
	make -s -C "$KDIR" M="$OUT/mod" KCFLAGS=-Werror modules \
		2>&1 | grep -v "Skipping BTF" || true
	[ -f "$OUT/mod/kmod/accelkm.ko" ] || { echo "module build failed"; exit 1; }
}

build_tests() {
	local t cflags="-O2 -g -static -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror \
		-Wno-unused-parameter -Wno-missing-field-initializers -pthread \
		-I$ROOT/uapi -I$ROOT/tests/kernel"
	rm -rf "$OUT/root"
	mkdir -p "$OUT/root"/{bin,proc,sys,dev,tmp,tests}
	# test_hostmem drives libaccel's host memory provider: link it in
	local hostmem="-I$ROOT -I$ROOT/libaccel -I$ROOT/libaccel/include
		$ROOT/libaccel/core/hostmem.c $ROOT/libaccel/core/status.c
		$ROOT/sched/ring.c $ROOT/sched/worker.c $ROOT/sched/timeline.c"
	for t in "$ROOT"/tests/kernel/test_*.c; do
		gcc $cflags -o "$OUT/root/tests/$(basename "$t" .c)" "$t" \
			$([ "$(basename "$t")" = test_hostmem.c ] && echo "$hostmem")
	done
	gcc $cflags -o "$OUT/root/tests/stress" "$ROOT/tests/kernel/stress.c"
	gcc $cflags -o "$OUT/root/tests/bench" "$ROOT/tests/kernel/bench.c" -luring
}

build_initramfs() {
	cp /bin/busybox "$OUT/root/bin/busybox"
	cp "$ROOT/tests/kernel/init.sh" "$OUT/root/init"
	chmod 755 "$OUT/root/init"
	cp "$OUT/mod/kmod/accelkm.ko" "$OUT/root/accelkm.ko"
	(cd "$OUT/root" && find . | cpio -o -H newc --quiet | gzip -1) \
		> "$OUT/initramfs.cpio.gz"
}

boot() {
	local extra=$1
	timeout 900 qemu-system-x86_64 -accel tcg -smp 2 -m 1G -nographic \
		-no-reboot -kernel "$VMLINUZ" -initrd "$OUT/initramfs.cpio.gz" \
		-append "console=ttyS0 panic=-1 quiet tsc=reliable clocksource=tsc $extra" \
		</dev/null >"$OUT/vm.log" 2>&1 || true
	tr -d '\r' <"$OUT/vm.log" >"$OUT/vm.txt"
}

main() {
	install_deps
	pick_kernel
	mkdir -p "$OUT"
	build_module
	build_tests
	build_initramfs
	if [ "$MODE" = bench ]; then
		boot "accelkm_tests=0 accelkm_stress=0 accelkm_bench=1"
		sed -n '/KTEST-BENCH-BEGIN/,/KTEST-BENCH-END/p' "$OUT/vm.txt" |
			sed -e 's/^# //' | grep -v KTEST-BENCH
		grep -q KTEST-BENCH-END "$OUT/vm.txt"
		exit
	fi
	boot "${KTEST_ONLY:+accelkm_only=$KTEST_ONLY}"
	sed -n '/KTEST-BEGIN/,/KTEST-END/p' "$OUT/vm.txt"
	"$ROOT/tests/kernel/ktap-totals.sh" "$OUT/vm.txt"
}

main
