/* The CUDA backend (library lathe_codegen_cuda): kernel programs to CUDA C,
 * compiled by NVRTC to PTX and CUBIN for NVIDIA GPUs. Drivers use it through
 * the lathe_backend_t table below (codegen/backend.h); the functions after it
 * are for tests, the host emulation harness and tools.
 *
 * What it makes: one `extern "C" __global__` function per kernel with the
 * kernel ABI of docs/codegen-cuda.md, a launch entry per kernel (grid and
 * block sizes as functions of the bound params, runtime/cuda/cuda.h), and
 * per target architecture a CUBIN and its PTX. The source generator needs
 * neither NVRTC nor a GPU; without NVRTC at build time the backend's compile
 * fails with LATHE_CUDA_UNAVAILABLE.
 *
 * Thread safety: as backend.h states; nothing here has global state.
 */
#ifndef LATHE_CODEGEN_CUDA_CUDA_H
#define LATHE_CODEGEN_CUDA_CUDA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codegen/backend.h"
#include "runtime/cuda/cuda.h"

extern const lathe_backend_t lathe_codegen_cuda_backend;

/* The message of every NVRTC-dependent call in a build without NVRTC. */
#define LATHE_CUDA_UNAVAILABLE "CUDA target unavailable: NVRTC was not found at build time"

/* Whether this build has NVRTC (false: see LATHE_CUDA_UNAVAILABLE). */
bool lathe_cuda_have_nvrtc(void);

/* Most architectures one target string may name. */
#define LATHE_CUDA_MAX_ARCHS 8

/* Parses a target: NULL, "" or "host" = sm_80 and sm_90; otherwise
 * "sm_NN[,sm_MM...]" (NN from 75 up), sorted and deduplicated. */
lathe_status_t lathe_cuda_parse_target(const char *target, int32_t *out_archs, uint32_t *out_count);

/* ---- source generation (no NVRTC needed) ------------------------------------- */

/* A program as CUDA C: the source text and one launch entry per kernel, in
 * kernel order (entries' kernel and symbol strings point into this struct). */
typedef struct lathe_cuda_source {
  char *text;
  size_t length;
  uint32_t num_kernels;
  lathe_cuda_launch_t *launches;
  /* first and last line (1-based) of each kernel's function in `text`, so
   * compiler messages can name the kernel */
  uint32_t *first_line, *last_line;
  bool uses_wmma; /* some GEMM runs on tensor cores */
} lathe_cuda_source_t;

/* Generates the CUDA C of a finished program for `options` (NULL = the
 * defaults: both architectures, symbol "lathe_program"). The caller owns
 * the result. */
lathe_status_t lathe_cuda_generate(const lathe_kprogram_t *program,
                                   const lathe_codegen_options_t *options,
                                   lathe_cuda_source_t **out_source);
void lathe_cuda_source_destroy(lathe_cuda_source_t *source); /* NULL is fine */

/* ---- NVRTC --------------------------------------------------------------------- */

/* The machine code of one source for one architecture. */
typedef struct lathe_cuda_binary {
  int32_t arch;
  char *ptx;       /* NUL-terminated */
  size_t ptx_size; /* bytes, the NUL included */
  void *cubin;
  size_t cubin_size;
} lathe_cuda_binary_t;

/* Compiles `source` for sm_`arch` into *out (release with
 * lathe_cuda_binary_free). A compile error names the kernel whose lines hold
 * the first error: "kernel 'k2_softmax': NVRTC (sm_90): lathe.cu(41): error:
 * ... (+2 more errors)". */
lathe_status_t lathe_cuda_nvrtc_compile(const lathe_cuda_source_t *source, int32_t arch,
                                        lathe_cuda_binary_t *out);
/* The same for the virtual architecture compute_`arch`: PTX only (cubin NULL,
 * cubin_size 0). Its PTX equals lathe_cuda_nvrtc_compile's, which is why the
 * backend compiles once per architecture; the test that checks so calls it. */
lathe_status_t lathe_cuda_nvrtc_compile_virtual(const lathe_cuda_source_t *source, int32_t arch,
                                                lathe_cuda_binary_t *out);
void lathe_cuda_binary_free(lathe_cuda_binary_t *binary);

#endif
