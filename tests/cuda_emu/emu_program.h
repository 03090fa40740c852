/* A whole kernel program through the CUDA backend and the emulator, checked
 * against the kernel-IR interpreter: the harness every codegen emulation
 * test uses.
 *
 * lathe_emu_check_program generates the program's CUDA C and launch table
 * (lathe_cuda_generate: no NVRTC, no GPU), compiles the source with the host
 * C++ compiler (emu.h), gives every root buffer its own guarded allocation
 * (inputs and weights read-only, so a kernel that writes them faults;
 * outputs and temporaries filled with 0xff bytes, so an element nobody
 * writes shows up as NaN or -1), launches every kernel in order with the
 * launch table's grid and block under each requested thread order, and
 * compares every output with the interpreter's:
 *
 *   floats   |got - want| <= abs_tol + rel_tol * |want|; NaN matches NaN,
 *            infinities match exactly (f16/bf16 compared after widening)
 *   others   exactly
 *
 * It also checks the launch table: blocks of 32..256 threads in multiples
 * of 32 and at most 48 KiB of static shared memory per kernel.
 *
 * lathe_emu_check_programs does the same for many programs with one host
 * compile (the compile dominates a small program's check): a sweep over
 * hundreds of one-op graphs (tests/lit/cuda_emu/ops-sweep.test) stays fast.
 */
#ifndef LATHE_TESTS_CUDA_EMU_PROGRAM_H
#define LATHE_TESTS_CUDA_EMU_PROGRAM_H

#include "kernel/kernel.h"
#include "tests/cuda_emu/emu.h"

typedef struct lathe_emu_check_opts {
  double rel_tol, abs_tol;
  /* Thread orders to run in; 0 entries = reverse, then random (seed 1). */
  uint32_t num_orders;
  lathe_emu_order_t orders[4];
  bool allow_warnings; /* host compiler warnings on the generated code pass */
} lathe_emu_check_opts_t;

/* What a check saw, for tests that assert on the mapping (e.g. that a GEMM
 * used tensor cores). */
typedef struct lathe_emu_check_report {
  double worst_abs; /* largest |got - want| over finite float outputs */
  uint32_t num_kernels;
  bool uses_wmma;
  lathe_emu_stats_t stats; /* summed over every launch */
} lathe_emu_check_report_t;

/* Runs `p` on `inputs` (input k has dims in_dims[k]) both ways; a status
 * names the first mismatch (output, element, got, want) or failure. */
lathe_status_t lathe_emu_check_program(const lathe_kprogram_t *p, const int64_t *const *in_dims,
                                       const void *const *inputs, const lathe_emu_check_opts_t *opts,
                                       lathe_emu_check_report_t *out_report);

/* One program of a batch: what lathe_emu_check_program takes, and what came
 * of it (status NULL = it matched; the caller frees a status). */
typedef struct lathe_emu_case {
  const lathe_kprogram_t *program;
  const int64_t *const *in_dims;
  const void *const *inputs;
  lathe_emu_check_opts_t opts;
  lathe_status_t status;           /* out */
  lathe_emu_check_report_t report; /* out */
} lathe_emu_case_t;

/* Checks `n` cases with one image: each program's CUDA C (kernel symbols
 * "lathe_emu_case<k>_<kernel>") in a namespace of its own in one
 * translation unit, compiled with warnings as errors. When that compile
 * fails, each case is compiled on its own instead, so the error is named
 * against its own program and the others still run. Each case's result is
 * in its status; the return is a failure of the batch itself. */
lathe_status_t lathe_emu_check_programs(lathe_emu_case_t *cases, uint32_t n);

#endif
