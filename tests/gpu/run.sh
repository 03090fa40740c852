#!/usr/bin/env bash
# Lathe on a real NVIDIA GPU: the end-to-end models of tests/gpu/models run
# through the CUDA backend and compared with the CPU backend, then two
# benchmarks: Lathe's fp16 GEMM against cuBLAS, and a d=768 transformer block.
# CI never runs this (it has no GPU); a session with a device machine does,
# in well under 10 minutes. docs/performance.md ("GPU") says how.
#
# usage:
#   tests/gpu/run.sh [--dry-run]   run (on the GPU machine)
#   tests/gpu/run.sh --prepare     only build the bundle (any machine with
#                                  Lathe's full toolchain; no GPU needed)
#
# Two halves, because a GPU machine may lack Lathe's compile-time libraries
# (LLVM 14, isl, protobuf-c, cJSON, cmocka, libzip):
#   prepare  build Lathe, compile each model to a CUDA artifact for
#            $LATHE_GPU_ARCH, write its inputs and the CPU backend's output
#            into the bundle ($LATHE_GPU_BUNDLE, default build-gpu/bundle);
#   run      build the two small runners (gpu_run: support/ + runtime/ +
#            runtime/cuda/, plain C; gemm_bench: + the toolkit's cuBLAS),
#            run every bundled model on the GPU against its reference, then
#            the benchmarks. Results go to $OUT (default build-gpu/results):
#            gpu-results.txt (one line per check and benchmark) and run.log.
# When the GPU machine has the full toolchain, run prepares the bundle itself;
# otherwise prepare here and carry the bundle there (the device tool's
# `carry: ["build-gpu/bundle"]`). A missing piece fails fast, naming it.
#
# --dry-run does everything up to the first GPU call (checks, builds, the
# bundle when it can) and then exits 0 with "no GPU (dry run)".
#
# Environment: OUT, LATHE_GPU_BUNDLE, LATHE_GPU_ARCH (sm_90: the H200),
# CUDA_HOME (/usr/local/cuda), JOBS.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

mode=run
for arg in "$@"; do
  case $arg in
    --dry-run) mode=dry ;;
    --prepare) mode=prepare ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

work=$root/build-gpu
bundle=${LATHE_GPU_BUNDLE:-$work/bundle}
arch=${LATHE_GPU_ARCH:-sm_90}
cuda_home=${CUDA_HOME:-/usr/local/cuda}
out=${OUT:-$work/results}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 4)}
mkdir -p "$work/bin" "$out"
log=$out/run.log
results=$out/gpu-results.txt
: >"$log"
: >"$results"

say() { echo "run.sh: $*" | tee -a "$log"; }
die() {
  echo "run.sh: error: $*" | tee -a "$log" >&2
  exit 1
}
record() { echo "$*" | tee -a "$results" "$log"; }

# The models: name, file, dims, tolerances (rtol atol), extra input scales.
# Weights are graph inputs (no weights files), scaled like trained ones.
attn_scales="--scale=wq=0.036 --scale=wk=0.036 --scale=wv=0.036 --scale=wo=0.036"
attn_scales="$attn_scales --scale=w1=0.036 --scale=w2=0.018 --scale=scale=0.0625"
models=(
  "mlp|mlp.lir|N=64|1e-3|1e-3|--scale=w1=0.044 --scale=w2=0.022"
  "cnn|cnn.lir|N=8|1e-3|1e-3|--scale=w=0.19 --scale=fc=0.25"
  "block|block.lir|S=128|2e-3|2e-3|$attn_scales"
  "block_f16|block_f16.lir|S=128|3e-2|3e-2|$attn_scales"
)
passes="canonicalize,cse,fold-constants,dce,fuse"

# ---- what this machine has ---------------------------------------------------------

missing_full=()
for tool in cmake make cc c++ pkg-config llvm-config-14; do
  command -v "$tool" >/dev/null 2>&1 || missing_full+=("$tool")
done
if command -v pkg-config >/dev/null 2>&1; then
  for lib in libcjson cmocka libzip libprotobuf-c; do
    pkg-config --exists "$lib" 2>/dev/null || missing_full+=("$lib (pkg-config)")
  done
fi
[ -e /usr/include/isl/ctx.h ] || missing_full+=("isl headers")
command -v cc >/dev/null 2>&1 || die "no C compiler (cc): nothing can be built here"

# ---- prepare: Lathe, artifacts, inputs, references ----------------------------------

lathe_build=$work/lathe
prepare() {
  [ ${#missing_full[@]} -eq 0 ] || die "preparing the bundle needs Lathe's toolchain; missing: ${missing_full[*]}"
  say "building Lathe in $lathe_build"
  cmake -S "$root" -B "$lathe_build" -DCMAKE_BUILD_TYPE=Release >>"$log" 2>&1 || die "cmake failed (see $log)"
  cmake --build "$lathe_build" -j "$jobs" --target lathe lathe-emu-check >>"$log" 2>&1 ||
    die "the build failed (see $log)"
  local lathe=$lathe_build/bin/lathe emu=$lathe_build/bin/lathe-emu-check
  rm -rf "$bundle" && mkdir -p "$bundle"
  local entry name file dims rtol atol scales
  for entry in "${models[@]}" "gemm_f16|gemm_f16.lir||||"; do
    IFS='|' read -r name file dims rtol atol scales <<<"$entry"
    say "compiling $name for cuda:$arch"
    "$lathe" compile "tests/gpu/models/$file" --target "cuda:$arch" --passes "$passes" \
      -o "$bundle/$name.so" >>"$log" 2>&1 || die "lathe compile $file failed (see $log)"
    [ -n "$dims" ] || continue
    mkdir -p "$bundle/$name/in" "$bundle/$name/cpu"
    # shellcheck disable=SC2086 # scales is a list of options
    "$emu" "tests/gpu/models/$file" --dims="$dims" $scales --write-inputs="$bundle/$name/in" \
      >>"$log" 2>&1 || die "writing the inputs of $name failed (see $log)"
    local ins=() f
    for f in "$bundle/$name/in"/in*.npy; do ins+=(-i "$f"); done
    say "reference output of $name from the CPU backend"
    "$lathe" run "tests/gpu/models/$file" --target cpu --passes "$passes" "${ins[@]}" \
      -o "$bundle/$name/cpu" >>"$log" 2>&1 || die "the CPU run of $name failed (see $log)"
    local ref
    ref=$(find "$bundle/$name/cpu" -name '*.npy' | head -n 1)
    [ -n "$ref" ] || die "the CPU run of $name wrote no output"
    mv "$ref" "$bundle/$name/ref.npy"
    rm -rf "$bundle/$name/cpu"
    echo "$name|$rtol|$atol" >>"$bundle/manifest"
  done
  echo "$arch" >"$bundle/arch"
  say "bundle ready: $bundle ($(du -sh "$bundle" | cut -f1))"
}

if [ "$mode" = prepare ]; then
  prepare
  exit 0
fi

# ---- run: the bundle, the runners ---------------------------------------------------

if [ ! -f "$bundle/manifest" ]; then
  if [ ${#missing_full[@]} -eq 0 ]; then
    prepare
  else
    die "no bundle at $bundle and this machine cannot make one (missing: ${missing_full[*]}).
  On a machine with Lathe's toolchain run 'tests/gpu/run.sh --prepare', then bring
  build-gpu/bundle along (device tool: carry [\"build-gpu/bundle\"])."
  fi
fi
[ "$(cat "$bundle/arch" 2>/dev/null)" = "$arch" ] ||
  say "warning: the bundle was compiled for $(cat "$bundle/arch" 2>/dev/null || echo '?'), this run expects $arch"

cflags=(-std=c17 -O2 -Wall -Wextra -Wno-unused-parameter -D_POSIX_C_SOURCE=200809L -I"$root/include" -I"$root")
rt_src=("$root"/support/*.c "$root"/runtime/*.c "$root"/runtime/cuda/*.c)
say "building gpu_run"
cc "${cflags[@]}" "${rt_src[@]}" tests/gpu/gpu_run.c -o "$work/bin/gpu_run" -ldl -lpthread -lm \
  >>"$log" 2>&1 || die "building gpu_run failed (see $log)"
have_bench=1
if [ -e "$cuda_home/include/cublas_v2.h" ] && [ -e "$cuda_home/lib64/libcublas.so" ]; then
  say "building gemm_bench against $cuda_home"
  stubs=$cuda_home/lib64/stubs
  cc "${cflags[@]}" -isystem "$cuda_home/include" "${rt_src[@]}" tests/gpu/gemm_bench.c \
    -o "$work/bin/gemm_bench" -L"$cuda_home/lib64" -L"$stubs" -Wl,-rpath,"$cuda_home/lib64" \
    -lcublas -lcudart -lcuda -ldl -lpthread -lm >>"$log" 2>&1 || die "building gemm_bench failed (see $log)"
else
  have_bench=0
  say "no cuBLAS under $cuda_home: the GEMM benchmark is skipped"
fi

# ---- the first GPU call ---------------------------------------------------------------

gpu=""
if command -v nvidia-smi >/dev/null 2>&1; then
  gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -n 1 || true)
fi
if [ "$mode" = dry ]; then
  say "no GPU (dry run): stopping before the first GPU call; bundle, gpu_run and gemm_bench are ready"
  exit 0
fi
[ -n "$gpu" ] || die "no GPU: nvidia-smi found no device"
record "gpu: $gpu"

passed=0 failed=0
while IFS='|' read -r name rtol atol; do
  bench=()
  case $name in block | block_f16) bench=(--bench 20) ;; esac
  if line=$(timeout 300 "$work/bin/gpu_run" "$bundle/$name.so" --inputs "$bundle/$name/in" \
    --ref "$bundle/$name/ref.npy" --rtol "$rtol" --atol "$atol" "${bench[@]}" 2>>"$log"); then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    line=${line:-"gpu_run: $name.so: FAIL (see run.log)"}
  fi
  record "$line"
done <"$bundle/manifest"

if [ "$have_bench" = 1 ]; then
  for size in "4096 4096 4096" "8192 8192 8192" "2048 768 3072"; do
    # shellcheck disable=SC2086 # size is three arguments
    if line=$(timeout 120 "$work/bin/gemm_bench" "$bundle/gemm_f16.so" $size 20 2>>"$log"); then
      passed=$((passed + 1))
    else
      failed=$((failed + 1))
      line=${line:-"gemm_bench: $size: FAIL (see run.log)"}
    fi
    record "$line"
  done
fi

record "gpu: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
