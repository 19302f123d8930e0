#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Totals the KTAP of a VM log: per suite (a "# KTEST-SUITE name" line, then
# a TAP 13 block) count ok / not ok / SKIP; results a suite planned but
# never printed (a crash, a hang) count as failed, and so does a VM that
# never reached its end marker. Last line: "N passed, N failed, N skipped".
log=${1:?usage: ktap-totals.sh vm.log}
awk '
function close_suite() {
	if (suite == "") return
	missing = plan - (sp + sf + ss)
	if (missing > 0) sf += missing
	printf "%-12s %3d passed, %d failed, %d skipped%s\n", suite, sp, sf, ss,
		(missing > 0 ? sprintf(" (%d never reported)", missing) : "")
	P += sp; F += sf; S += ss
	suite = ""
}
/^# KTEST-SUITE / { close_suite(); suite = $3; plan = 0; sp = sf = ss = 0; next }
/^KTEST-END/ { close_suite(); ended = 1; next }
suite != "" && /^1\.\.[0-9]+/ { plan = substr($1, 4) + 0; next }
suite != "" && /^not ok [0-9]+ / { sf++; next }
suite != "" && /^ok [0-9]+ .*# SKIP/ { ss++; next }
suite != "" && /^ok [0-9]+ / { sp++; next }
END {
	close_suite()
	if (!ended) { print "VM did not reach KTEST-END (crash or timeout)"; F++ }
	printf "%d passed, %d failed, %d skipped\n", P, F, S
	exit F ? 1 : 0
}' "$log"
