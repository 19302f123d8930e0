# SPDX-License-Identifier: MIT
# accel - top-level build.
#
#   make            library (shared + static + pkg-config), tools, and the
#                   kernel module when kernel headers are installed
#   make run        the main job's demo (installs what it needs)
#   make check      every test that needs no GPU (installs what it needs)
#   make SAN=1 O=build-asan   an ASan+UBSan build in its own tree

O ?= build
SAN ?= 0
ARCH_FLAGS ?= -march=native
PREFIX ?= /usr/local

VERSION := 0.1.0
SOVERSION := 0

CC ?= cc
CFLAGS ?= -O3 -g
WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
ACCEL_CFLAGS := -std=c11 -D_GNU_SOURCE -fPIC -pthread $(ARCH_FLAGS) $(WARN) \
	-Ilibaccel/include -Ilibaccel -I. -I$(O)/gen
LDLIBS := -lprotobuf-c -lm -lpthread -ldl
ifeq ($(SAN),1)
  CFLAGS := -O1 -g -fno-omit-frame-pointer
  SAN_CFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
		-DACCEL_POISON_UNINIT
  SAN_LDFLAGS := -fsanitize=address,undefined
  ACCEL_CFLAGS += $(SAN_CFLAGS)
endif

PROTO := libaccel/onnx/accel_onnx.proto
GEN_C := $(O)/gen/accel_onnx.pb-c.c
GEN_H := $(O)/gen/accel_onnx.pb-c.h

# OpenCL backend (ICD loader): on by default; OPENCL=0 builds without it.
OPENCL ?= 1
LIB_SRCS := $(sort $(wildcard libaccel/*/*.c) $(wildcard sched/*.c))
# oneDNN convolutions (docs/PERFORMANCE.md): on when its header is present.
DNNL ?= $(if $(wildcard /usr/include/oneapi/dnnl/dnnl.h),1,0)
ifeq ($(DNNL),1)
  LDLIBS += -ldnnl -lgomp
  ACCEL_CFLAGS += -DACCEL_HAVE_DNNL
endif
# io_uring model loading (liburing) and DRM device topology (libdrm): on
# when their headers are present; without them pread() and no DRM listing.
URING ?= $(if $(wildcard /usr/include/liburing.h),1,0)
ifeq ($(URING),1)
  LDLIBS += -luring
  ACCEL_CFLAGS += -DACCEL_HAVE_URING
endif
DRM ?= $(if $(wildcard /usr/include/xf86drm.h),1,0)
ifeq ($(DRM),1)
  LDLIBS += -ldrm
  ACCEL_CFLAGS += -DACCEL_HAVE_DRM -I/usr/include/libdrm
endif
ifeq ($(OPENCL),1)
  LDLIBS += -lOpenCL
  ACCEL_CFLAGS += -DACCEL_HAVE_OPENCL -DCL_TARGET_OPENCL_VERSION=120
else
  LIB_SRCS := $(filter-out libaccel/opencl/% libaccel/backend/opencl.c,$(LIB_SRCS))
endif
# CUDA backend (docs/CUDA.md): the driver API opened at run time, so the
# library never links libcuda; kernels built by nvcc (cubins for
# CUDA_SM, PTX for CUDA_PTX_ARCH) and embedded. Auto: on when nvcc exists.
CUDA ?= auto
NVCC ?= $(firstword $(shell command -v nvcc 2>/dev/null) $(wildcard /usr/local/cuda/bin/nvcc))
ifeq ($(CUDA),auto)
  override CUDA := $(if $(NVCC),1,0)
endif
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
CUDA_SM ?= 80 90
CUDA_PTX_ARCH ?= 80
CUDA_NAMES := $(basename $(notdir $(wildcard libaccel/cuda/kernels/*.cu)))
ifeq ($(CUDA),1)
  ACCEL_CFLAGS += -DACCEL_HAVE_CUDA -I$(CUDA_HOME)/include
else
  LIB_SRCS := $(filter-out libaccel/cuda/% libaccel/backend/cuda.c,$(LIB_SRCS))
endif
LIB_OBJS := $(LIB_SRCS:%.c=$(O)/obj/%.o) $(O)/obj/gen/accel_onnx.pb-c.o
ifeq ($(CUDA),1)
  LIB_OBJS += $(O)/obj/gen/cuda_images.o $(O)/obj/gen/cuda_blobs.o
endif
LIB_SO := $(O)/lib/libaccel.so.$(VERSION)
LIB_A := $(O)/lib/libaccel.a
PC := $(O)/lib/pkgconfig/accel.pc

TOOLS := $(O)/bin/accel-run
TOOL_SRCS_accel-run := $(wildcard tools/accel-run/*.c)

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(O)/tests/%)
CONF_BIN := $(O)/tests/conformance
BADINPUT_BIN := $(O)/tests/badinput
GEMM_BENCH := $(O)/tests/gemm_bench
RING_BENCH := $(O)/tests/ring_bench
BATCH_BENCH := $(O)/tests/batch_bench
LOAD_BENCH := $(O)/tests/load_bench

# The running kernel's build tree, else Debian's newest installed headers.
KDIR ?= $(firstword $(wildcard /lib/modules/$(shell uname -r)/build) \
	$(lastword $(sort $(wildcard /usr/src/linux-headers-*-amd64))))

.PHONY: all lib tools module tests deps run check check-unit check-conformance \
	check-models check-badinput check-asan check-kernel bench bench-kernel bench-ring clean install format lint
.DEFAULT_GOAL := all

all: lib tools module

lib: $(LIB_SO) $(LIB_A) $(PC)
tools: $(TOOLS)
tests: $(UNIT_BINS) $(CONF_BIN) $(BADINPUT_BIN) $(GEMM_BENCH) $(RING_BENCH) $(BATCH_BENCH) \
	$(LOAD_BENCH)

# ---- generated protobuf-c code ----
$(GEN_C) $(GEN_H) &: $(PROTO)
	@mkdir -p $(O)/gen
	protoc-c --proto_path=libaccel/onnx --c_out=$(O)/gen $(PROTO)

$(O)/obj/gen/accel_onnx.pb-c.o: $(GEN_C)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -std=c11 -fPIC $(ARCH_FLAGS) -fvisibility=hidden -I$(O)/gen \
		$(SAN_CFLAGS) -c $< -o $@

$(O)/obj/%.o: %.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ACCEL_CFLAGS) -fvisibility=hidden -DACCEL_BUILDING_LIBRARY \
		-MMD -MP -c $< -o $@

-include $(LIB_OBJS:.o=.d)

# ---- CUDA device code: nvcc at build time, embedded with .incbin ----
CUDA_GEN := $(O)/gen/cuda
NVCC_FLAGS ?= -O3 -std=c++17 -lineinfo
$(CUDA_GEN)/%.fatbin: libaccel/cuda/kernels/%.cu libaccel/cuda/kernels/common.cuh
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCC_FLAGS) -fatbin $(foreach a,$(CUDA_SM),-gencode arch=compute_$(a),code=sm_$(a)) -o $@ $<
$(CUDA_GEN)/%.ptx: libaccel/cuda/kernels/%.cu libaccel/cuda/kernels/common.cuh
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCC_FLAGS) -ptx -arch=compute_$(CUDA_PTX_ARCH) -o $@ $<
$(O)/gen/cuda_blobs.S $(O)/gen/cuda_images.c &: libaccel/cuda/embed.sh \
		$(CUDA_NAMES:%=$(CUDA_GEN)/%.fatbin) $(CUDA_NAMES:%=$(CUDA_GEN)/%.ptx)
	libaccel/cuda/embed.sh $(O)/gen/cuda_blobs.S $(O)/gen/cuda_images.c $(CUDA_GEN) $(CUDA_NAMES)
$(O)/obj/gen/cuda_blobs.o: $(O)/gen/cuda_blobs.S
	@mkdir -p $(dir $@)
	$(CC) -c $< -o $@
$(O)/obj/gen/cuda_images.o: $(O)/gen/cuda_images.c libaccel/cuda/internal.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ACCEL_CFLAGS) -fvisibility=hidden -c $< -o $@

$(LIB_SO): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,libaccel.so.$(SOVERSION) -Wl,--no-undefined \
		$(SAN_LDFLAGS) -pthread -o $@ $^ $(LDLIBS)
	ln -sf libaccel.so.$(VERSION) $(O)/lib/libaccel.so.$(SOVERSION)
	ln -sf libaccel.so.$(SOVERSION) $(O)/lib/libaccel.so

$(LIB_A): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(PC): libaccel/accel.pc.in
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

# ---- tools: link the shared library, found next to the binary ----
TOOL_LDFLAGS := -L$(O)/lib -laccel -Wl,-rpath,'$$ORIGIN/../lib' $(SAN_LDFLAGS)

$(O)/bin/accel-run: $(TOOL_SRCS_accel-run) $(LIB_SO) libaccel/include/accel/accel.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ACCEL_CFLAGS) -Itools/accel-run -o $@ $(TOOL_SRCS_accel-run) \
		$(TOOL_LDFLAGS) -lm

# ---- tests ----
# Unit tests may test internals: they link the static library.
$(O)/tests/test_%: tests/unit/test_%.c $(LIB_A) $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ACCEL_CFLAGS) -Itests/unit -o $@ $< $(LIB_A) $(LDLIBS) -lcmocka $(SAN_LDFLAGS)

# The fake CUDA driver test_cuda loads through $ACCEL_LIBCUDA (tests/cuda/).
FAKECUDA := $(O)/tests/libfakecuda.so
$(FAKECUDA): tests/cuda/fake_libcuda.c tests/cuda/fake_libcuda.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -std=c11 -D_GNU_SOURCE -fPIC -shared $(WARN) -I$(CUDA_HOME)/include \
		-o $@ $< -lm -lpthread
ifeq ($(CUDA),1)
$(O)/tests/test_cuda: $(FAKECUDA)
endif

# Conformance and bad-input runners use only the public API.
$(CONF_BIN): tests/conformance/conformance.c $(LIB_SO)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ACCEL_CFLAGS) -o $@ $< $(TOOL_LDFLAGS) -lm

$(BADINPUT_BIN): tests/badinput/badinput.c $(LIB_SO)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ACCEL_CFLAGS) -o $@ $< $(TOOL_LDFLAGS) -lcmocka -lm

# The GEMM microbenchmark times the internal sgemm: it links the static library.
$(GEMM_BENCH): tests/bench/gemm_bench.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ACCEL_CFLAGS) -o $@ $< $(LIB_A) $(LDLIBS) $(SAN_LDFLAGS)

# The ring microbenchmark drives the internal rings: it links the static library.
$(RING_BENCH): tests/bench/ring_bench.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ACCEL_CFLAGS) -o $@ $< $(LIB_A) $(LDLIBS) $(SAN_LDFLAGS)

# The load-time benchmark asks which file reader is in use: static library.
$(LOAD_BENCH): tests/bench/load_bench.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ACCEL_CFLAGS) -o $@ $< $(LIB_A) $(LDLIBS) $(SAN_LDFLAGS)

# The batching benchmark drives the internal batcher: it links the static library.
$(BATCH_BENCH): tests/bench/batch_bench.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ACCEL_CFLAGS) -o $@ $< $(LIB_A) $(LDLIBS) $(SAN_LDFLAGS)

bench-ring: $(RING_BENCH)
	$(RING_BENCH)

# ---- CUDA on a GPU machine (docs/CUDA.md); both exit 0 without a GPU ----
CUDA_GEMM_BENCH := $(O)/tests/cuda_gemm_bench
$(CUDA_GEMM_BENCH): tests/cuda/gemm_bench_cuda.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ACCEL_CFLAGS) -o $@ $< $(LIB_A) $(LDLIBS) $(SAN_LDFLAGS)

.PHONY: check-cuda bench-cuda
ifeq ($(CUDA),1)
check-cuda: all $(O)/tests/test_cuda $(CONF_BIN)
	tests/cuda/check.sh $(O)
bench-cuda: all $(CUDA_GEMM_BENCH)
	tests/cuda/bench.sh $(O)
else
check-cuda bench-cuda:
	@echo "$@: built with CUDA=0 (no nvcc found); skipped"
endif

# ---- kernel module (issue: kmod); skipped when no kernel headers ----
# Our O=, SAN= and friends must not leak into kbuild (O= means something
# else there), hence the clean environment.
module:
	@if [ -f kmod/Kbuild ] && [ -n "$(KDIR)" ] && [ -d "$(KDIR)" ]; then \
		env -u MAKEFLAGS -u MAKEOVERRIDES -u MFLAGS \
			$(MAKE) -C "$(KDIR)" M=$(CURDIR) modules; \
	else \
		echo "module: skipped (no kernel headers found; set KDIR=)"; \
	fi

check-kernel:
	./tests/kernel/run.sh

bench-kernel:
	./tests/kernel/bench.sh

# ---- set-up, demo and tests ----
deps:
	./scripts/deps.sh

run: deps
	$(MAKE) -j$$(nproc) all
	./scripts/demo.sh $(O)

check: deps
	$(MAKE) -j$$(nproc) all tests
	./scripts/check.sh $(O)

check-unit: tests
	./scripts/check.sh $(O) unit
check-conformance: tests
	./scripts/check.sh $(O) conformance
check-models: all
	./scripts/check.sh $(O) models
check-badinput: tests
	./scripts/check.sh $(O) badinput
check-asan:
	./scripts/check.sh $(O) asan

bench: all $(GEMM_BENCH) $(BATCH_BENCH) $(LOAD_BENCH)
	./scripts/bench.sh $(O)

install: lib tools
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/accel $(DESTDIR)$(PREFIX)/bin
	install -m 644 libaccel/include/accel/accel.h $(DESTDIR)$(PREFIX)/include/accel/
	install -m 755 $(LIB_SO) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libaccel.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libaccel.so.$(SOVERSION)
	ln -sf libaccel.so.$(SOVERSION) $(DESTDIR)$(PREFIX)/lib/libaccel.so
	install -m 644 $(LIB_A) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 $(PC) $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	install -m 755 $(TOOLS) $(DESTDIR)$(PREFIX)/bin/

format:
	clang-format -i $(LIB_SRCS) $(wildcard libaccel/*/*.h) $(wildcard tools/*/*.c tests/*/*.c)

lint:
	@# returnDanglingLifetime: cppcheck 2.10 takes a returned status for a
	@# pointer to the op context; internalAstError: it cannot parse a
	@# compound literal in a ternary (conv.c).
	cppcheck --quiet --error-exitcode=1 --std=c11 -Ilibaccel/include -Ilibaccel \
		--suppress=missingIncludeSystem --suppress=returnDanglingLifetime \
		--suppress=internalAstError --suppress=invalidFunctionArg:libaccel/cpu/loss.c \
		$(LIB_SRCS) tools

clean:
	rm -rf $(O) build-asan build-kernel
	@if [ -n "$(KDIR)" ] && [ -d "$(KDIR)" ]; then env -u MAKEFLAGS -u MAKEOVERRIDES -u MFLAGS $(MAKE) -C "$(KDIR)" M=$(CURDIR) clean; fi
