/* The runtime's CUDA path (library lathe_runtime_cuda): the layout of a
 * compiled CUDA program as plain data, and the functions that run one through
 * the CUDA driver API.
 *
 * A CUDA artifact is the usual program descriptor (lathe_rt_program_t: params,
 * buffers, kernels in order) plus a lathe_cuda_program_t: the machine code
 * as images (CUBIN per architecture, PTX for the driver to JIT) and one launch
 * entry per kernel (grid and block sizes as functions of the bound params).
 * codegen/cuda writes both, as C data in a shared library or in memory for
 * the JIT; docs/codegen-cuda.md describes the kernel ABI they assume.
 *
 * The driver is never linked: the first run opens libcuda.so.1 with dlopen,
 * so a machine without a GPU loads Lathe and CUDA programs fine and gets a
 * status ("no CUDA driver (...)") only when it runs one.
 *
 * Ownership and threads: a lathe_rt_cuda_t is created by the caller and
 * destroyed with lathe_rt_cuda_destroy; it borrows the two descriptors, which
 * must outlive it. Runs may come from several threads at once (each run has
 * its own stream and device memory; the one-time weight upload is locked).
 */
#ifndef LATHE_RUNTIME_CUDA_CUDA_H
#define LATHE_RUNTIME_CUDA_CUDA_H

#include <stdint.h>

#include "lathe/runtime.h"
#include "runtime/runtime.h"
#include "support/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LATHE_CUDA_ABI_VERSION 1u

/* Params one work amount may multiply. */
#define LATHE_CUDA_MAX_WORK_PARAMS 8

/* An amount of work under bound params: factor * params[params[0]] * ...
 * Offsets (LP64): factor 0, num_params 8, params 12; size 48. */
typedef struct lathe_cuda_work {
  int64_t factor;
  int32_t num_params;
  int32_t params[LATHE_CUDA_MAX_WORK_PARAMS];
  int32_t reserved;
} lathe_cuda_work_t;

/* One grid dimension: min(cap, max(1, ceil(work / per_block))).
 * Offsets: work 0, per_block 48, cap 56; size 64. */
typedef struct lathe_cuda_grid_dim {
  lathe_cuda_work_t work;
  int64_t per_block; /* >= 1 */
  int64_t cap;       /* >= 1 */
} lathe_cuda_grid_dim_t;

/* How to launch one kernel. Offsets: kernel 0, symbol 8, block 16,
 * shared_bytes 28, grid 32; size 224. */
typedef struct lathe_cuda_launch {
  const char *kernel;    /* the kernel's name, as in the descriptor */
  const char *symbol;    /* its __global__ function in the images */
  uint32_t block[3];     /* threads per block */
  uint32_t shared_bytes; /* static __shared__ bytes it declares (launch with 0 dynamic) */
  lathe_cuda_grid_dim_t grid[3];
} lathe_cuda_launch_t;

typedef enum {
  LATHE_CUDA_IMAGE_PTX = 1,   /* NUL-terminated PTX text; size counts the NUL */
  LATHE_CUDA_IMAGE_CUBIN = 2, /* an ELF for exactly one architecture */
} lathe_cuda_image_kind_t;

/* Offsets: kind 0, arch 4, size 8, data 16; size 24. */
typedef struct lathe_cuda_image {
  int32_t kind; /* lathe_cuda_image_kind_t */
  int32_t arch; /* 80 for sm_80 / compute_80 */
  uint64_t size;
  const void *data;
} lathe_cuda_image_t;

/* Offsets: abi_version 0, num_kernels 4, num_images 8, launches 16,
 * images 24; size 32. */
typedef struct lathe_cuda_program {
  uint32_t abi_version; /* LATHE_CUDA_ABI_VERSION */
  int32_t num_kernels;  /* equals the descriptor's; launches[k] is its kernel k */
  int32_t num_images;
  int32_t reserved;
  const lathe_cuda_launch_t *launches;
  const lathe_cuda_image_t *images;
} lathe_cuda_program_t;

/* Checks a CUDA program against its descriptor: version, counts, every launch
 * named like its kernel with sane block (1..1024 threads, a multiple of 32)
 * and grid entries, params in range, images well-formed. */
lathe_status_t lathe_cuda_program_validate(const lathe_cuda_program_t *cuda,
                                           const lathe_rt_program_t *program);

/* The grid of `launch` under bound params (each dim at least 1). */
void lathe_cuda_launch_grid(const lathe_cuda_launch_t *launch, const int64_t *params,
                            uint32_t out_grid[3]);

/* The image to load on a device of architecture `arch` (e.g. 90): the CUBIN
 * of exactly that architecture, else the PTX of the highest architecture not
 * above it; NULL when there is none. */
const lathe_cuda_image_t *lathe_cuda_pick_image(const lathe_cuda_program_t *cuda, int32_t arch);

/* ---- running (needs a GPU and its driver) ---------------------------------- */

typedef struct lathe_rt_cuda lathe_rt_cuda_t;

/* A CUDA program ready to run: checks both tables (the caller keeps them
 * alive). Touches no driver: the first run opens it (libcuda.so.1, or
 * $LATHE_CUDA_DRIVER), makes device 0's primary context current, loads the
 * best image for the device and resolves every kernel; without a driver that
 * run fails with "no CUDA driver (DLERROR)", and every later run tries
 * again. */
lathe_status_t lathe_rt_cuda_create(const lathe_rt_program_t *program,
                                    const lathe_cuda_program_t *cuda, lathe_rt_cuda_t **out);
void lathe_rt_cuda_destroy(lathe_rt_cuda_t *rt); /* NULL is fine */

/* Runs the program: host inputs and outputs as lathe_rt_program_run takes
 * them (checked the same way); weights (NULL when the program has none) are
 * uploaded on the first run that passes this table and kept on the device. */
lathe_status_t lathe_rt_cuda_run(lathe_rt_cuda_t *rt, const lathe_rt_weights_t *weights,
                                 const lathe_rt_tensor_t *inputs, int32_t num_inputs,
                                 lathe_rt_tensor_t *outputs, int32_t num_outputs);

#ifdef __cplusplus
}
#endif

#endif
