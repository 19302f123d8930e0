#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Benchmark (not a test): boots the test VM and runs tests/kernel/bench.c,
# which prints accelkm / io_uring NOP ratios and COPY / memcpy bandwidth.
exec "$(dirname "$0")/run.sh" --bench
