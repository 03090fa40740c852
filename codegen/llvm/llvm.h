/* The LLVM CPU backend (library lathe_codegen_llvm): kernel programs to host
 * machine code through LLVM 14's C API. Drivers use it through the
 * lathe_backend_t table below (codegen/backend.h); the other functions are
 * for tests, benchmarks and `lathe inspect`.
 *
 * What it makes, per kernel, is one function with the runtime's kernel ABI
 * (lathe_rt_kernel_fn): LOOPS kernels from their isl loop AST, GEMM kernels as
 * a packed, register-blocked micro-kernel with the epilogue fused into the
 * tile store. docs/codegen-llvm.md describes the code it emits.
 *
 * Thread safety: as backend.h states; target detection is read-only.
 */
#ifndef LATHE_CODEGEN_LLVM_LLVM_H
#define LATHE_CODEGEN_LLVM_LLVM_H

#include "codegen/backend.h"

extern const lathe_backend_t lathe_codegen_llvm_backend;

/* What a target string resolves to: triple, CPU name, feature string and the
 * vector registers the GEMM and LOOPS code generators plan for. */
typedef struct lathe_llvm_target_info {
  char triple[128];
  char cpu[64];
  char features[2048];
  uint32_t vector_bits; /* widest float vector register: 128, 256 or 512 */
  uint32_t num_vector_regs;
  bool has_fma;
  bool has_f16; /* f16 <-> f32 in hardware (F16C); else the backend converts in integer code */
} lathe_llvm_target_info_t;

/* Resolves `target` (NULL/"host", "CPU" or "CPU:FEATURES"); a status when LLVM
 * does not know the CPU. */
lathe_status_t lathe_llvm_target_resolve(const char *target, lathe_llvm_target_info_t *out_info);

#endif
