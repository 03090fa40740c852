# Lathe's front door: the README's two commands.
#
#   make demo    install what's missing, build, and run the demo: passes, compile
#                to a shared library, inspect, run, time, check against the interpreter
#   make check   install what's missing, build, run every test suite; the last
#                line is "N passed, N failed" and the exit status is 1 on failure
#   make bench   build, then time Lathe against onnxruntime (docs/performance.md);
#                a benchmark, never part of check
#   make conformance-report   build, run ONNX's backend node tests and rewrite
#                docs/conformance.md (the same suite check runs as `conformance`)
#
# The real build is CMake's; this file only fixes the folders and options so the
# commands are the same on a laptop and in CI. Variables (make check WERROR=1):
#   WERROR=1     compile with -Werror (CI does)
#   SANITIZE=1   ASan + UBSan build, in build-asan unless BUILD is given
#   BUILD=DIR    build folder (default build, or build-asan with SANITIZE=1)
#   BUILD_TYPE   CMake build type (default RelWithDebInfo; Debug with SANITIZE=1)
#   JOBS=N       parallel compile and test jobs (default: all cores)
#   SUITES=...   with check: run only these suites (unit lit roundtrip)

SANITIZE ?= 0
WERROR ?= 0
ifeq ($(SANITIZE),1)
BUILD ?= build-asan
else
BUILD ?= build
endif
# Optimized with debug info, like CMakeLists.txt's default, so developers' own
# build folders see the same -O2 warnings as CI's -Werror build; the sanitizer
# build is Debug for readable reports.
ifeq ($(SANITIZE),1)
BUILD_TYPE ?= Debug
else
BUILD_TYPE ?= RelWithDebInfo
endif
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
SUITES ?=

on_off = $(if $(filter 1 ON on yes,$(1)),ON,OFF)
CMAKE_FLAGS = -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DLATHE_WERROR=$(call on_off,$(WERROR)) \
              -DLATHE_SANITIZE=$(call on_off,$(SANITIZE))

# The demo runs on a copy in the build folder, next to its generated weights.
DEMO_DIR = $(BUILD)/demo
DEMO_PASSES = infer-shapes,canonicalize,cse,fold-constants,dce

.PHONY: all deps configure build demo bench check check-asan clean help conformance-report

all: build

help:
	@sed -n '1,/^$$/s/^# \{0,1\}//p' Makefile

deps:
	@scripts/install-deps.sh $(BUILD)

configure: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@mkdir -p $(DEMO_DIR)
	@cp examples/demo/mlp.lir $(DEMO_DIR)/mlp.lir
	@$(BUILD)/venv/bin/python examples/demo/make_weights.py $(DEMO_DIR)
	@echo "==== input: examples/demo/mlp.lir ===="
	@cat examples/demo/mlp.lir
	@echo
	@echo "==== lathe-opt --passes=$(DEMO_PASSES) --time-passes ===="
	@$(BUILD)/bin/lathe-opt --passes=$(DEMO_PASSES) --time-passes $(DEMO_DIR)/mlp.lir
	@echo
	@echo "==== lathe compile mlp.lir -o mlp.so (passes, fusion, LLVM; weights in mlp.so.weights) ===="
	@$(BUILD)/bin/lathe compile $(DEMO_DIR)/mlp.lir -o $(DEMO_DIR)/mlp.so
	@ls -l $(DEMO_DIR)/mlp.so $(DEMO_DIR)/mlp.so.weights | awk '{print $$5, $$NF}'
	@$(BUILD)/venv/bin/python -c "import numpy as np; np.save('$(DEMO_DIR)/x.npy', \
	  np.random.default_rng(0).standard_normal((8, 16, 64)).astype(np.float32))"
	@echo
	@echo "==== lathe inspect mlp.lir --bind N=8 ===="
	@$(BUILD)/bin/lathe inspect $(DEMO_DIR)/mlp.lir --bind N=8
	@echo
	@echo "==== lathe run mlp.so -i x=x.npy (x: f32[8, 16, 64]) ===="
	@$(BUILD)/bin/lathe run $(DEMO_DIR)/mlp.so -i x=$(DEMO_DIR)/x.npy
	@$(BUILD)/bin/lathe run $(DEMO_DIR)/mlp.so -i x=$(DEMO_DIR)/x.npy --bench 100
	@echo
	@echo "==== the same through the reference interpreter: lathe run --check ===="
	@$(BUILD)/bin/lathe run $(DEMO_DIR)/mlp.lir --target interp -i x=$(DEMO_DIR)/x.npy -o $(DEMO_DIR)/interp
	@$(BUILD)/bin/lathe run $(DEMO_DIR)/mlp.so -i x=$(DEMO_DIR)/x.npy --check out=$(DEMO_DIR)/interp/out.npy

# Lathe against onnxruntime on an MLP and a transformer block (bench/run.py
# prints each median and the ratio). BENCH_ARGS passes options on, e.g.
# BENCH_ARGS="--runs 20 --threads 4".
bench: build
	@$(BUILD)/venv/bin/python bench/run.py --build $(BUILD) $(BENCH_ARGS)

# ONNX's backend node tests through the C API (tests/conformance/run.py):
# BUILD/conformance/results.json and the Markdown report docs/conformance.md.
conformance-report: build
	@$(BUILD)/venv/bin/python tests/conformance/run.py --build $(BUILD) --jobs $(JOBS) \
	  --markdown docs/conformance.md

# A build failure still ends with a summary line. (On failure make adds its own
# "make: *** [check] Error 1" on stderr after it; stdout ends with the summary.)
check:
	@$(MAKE) --no-print-directory build || { echo "check: the build failed"; echo "0 passed, 1 failed"; exit 1; }
	@JOBS=$(JOBS) scripts/check.sh $(BUILD) $(SUITES)

check-asan:
	@$(MAKE) --no-print-directory check SANITIZE=1

clean:
	rm -rf build build-asan
