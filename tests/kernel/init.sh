#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
# /init of the test VM: load accelkm, run every test binary (each prints
# TAP 13 / KTAP), then the VM-level checks (dmesg clean, no leaked pinned
# pages, rmmod works) as one more KTAP block, then power off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /tmp && mount -t tmpfs tmpfs /tmp
echo 8 > /proc/sys/kernel/printk_ratelimit_burst 2>/dev/null

mode_tests=1
mode_bench=0
mode_stress=1
only=
for a in $(cat /proc/cmdline); do
	case "$a" in
	accelkm_tests=0) mode_tests=0 ;;
	accelkm_stress=0) mode_stress=0 ;;
	accelkm_bench=1) mode_bench=1 ;;
	accelkm_only=*) only=${a#accelkm_only=} ;;
	esac
done

echo "KTEST-BEGIN"
insmod /accelkm.ko
ins=$?

if [ -n "$only" ]; then	# e.g. test_queue:concurrent (debugging)
	mode_tests=0
	mode_stress=0
	echo "# KTEST-SUITE ${only%%:*}"
	"/tests/${only%%:*}" "${only#*:}"
fi
if [ "$mode_tests" = 1 ]; then
	for t in /tests/test_*; do
		echo "# KTEST-SUITE $(basename "$t")"
		if [ "$ins" = 0 ]; then "$t"; else echo "1..0 # SKIP insmod failed"; fi
	done
fi
if [ "$mode_stress" = 1 ] && [ "$ins" = 0 ]; then
	echo "# KTEST-SUITE stress"
	/tests/stress 100000
fi
if [ "$mode_bench" = 1 ] && [ "$ins" = 0 ]; then
	echo "# KTEST-BENCH-BEGIN"
	/tests/bench
	echo "# KTEST-BENCH-END"
fi

# VM-level checks.
echo "# KTEST-SUITE vm"
echo "TAP version 13"
echo "1..4"
n=1
ok() { if [ "$1" = 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; fi; n=$((n + 1)); }
ok "$ins" insmod
sleep 1
pinned=$(cat /sys/class/misc/accelkm0/pinned_bytes 2>/dev/null || echo x)
bos=$(cat /sys/class/misc/accelkm0/bos 2>/dev/null || echo x)
fences=$(cat /sys/class/misc/accelkm0/fences 2>/dev/null || echo x)
queues=$(cat /sys/class/misc/accelkm0/queues 2>/dev/null || echo x)
echo "# after tests: pinned_bytes=$pinned bos=$bos fences=$fences queues=$queues"
[ "$pinned" = 0 ] && [ "$bos" = 0 ] && [ "$fences" = 0 ] && [ "$queues" = 0 ]
ok $? no_leaked_pins_bos_fences_queues
if dmesg | grep -E 'WARNING|BUG|Oops|general protection|Call Trace|refcount_t|list_(add|del) corruption' >/tmp/bad; then
	echo "# kernel log has warnings:"; sed 's/^/# /' /tmp/bad | head -50
	dmesg | tail -80 | sed 's/^/# dmesg: /'
	ok 1 dmesg_clean
else
	ok 0 dmesg_clean
fi
rmmod accelkm; ok $? rmmod
echo "KTEST-END"
sync
poweroff -f
