/* A CUDA "device" on the CPU, for testing generated CUDA C without a GPU.
 *
 *   image    generated CUDA C compiled by the host C++ compiler against
 *            cuda_emu.h into a shared object and loaded (emu_image.c)
 *   memory   "device" buffers: host pages with an inaccessible page right
 *            after each buffer's last byte, so an out-of-bounds access faults
 *            and the emulator names the buffer and the CUDA thread (emu_mem.c)
 *   launch   one kernel over a grid (emu.c): blocks one after another (in
 *            forward, reverse or seeded random order), the threads of a block
 *            as fibers on one OS thread, each run up to its next barrier or
 *            shuffle in an order that can be adversarial; __shared__ memory
 *            poisoned before every block
 *
 * The point is strictness: a kernel that is missing a barrier, reads shared
 * memory it never wrote, diverges at a barrier or shuffle, or steps outside
 * a buffer gives wrong numbers, a status or a named fault here, instead of
 * passing by luck. Kernels follow the generated ABI: (void *const *buffers,
 * const long long *params).
 *
 * Threads: an image and its launches belong to one OS thread at a time.
 */
#ifndef LATHE_TESTS_CUDA_EMU_EMU_H
#define LATHE_TESTS_CUDA_EMU_EMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "support/status.h"

typedef struct lathe_emu_image lathe_emu_image_t;
typedef void (*lathe_emu_kernel_t)(void *const *buffers, const long long *params);

/* ---- images (emu_image.c) --------------------------------------------------- */

/* Compiles CUDA C `source` with the host C++ compiler ($LATHE_EMU_CXX, else
 * the one CMake found) and loads it. Compiler diagnostics become the status
 * (the first lines of the log, and the path of the kept source). Warnings are
 * errors when `werror`. The files live in a fresh temporary folder, removed
 * by destroy unless $LATHE_EMU_KEEP is set. */
lathe_status_t lathe_emu_image_compile(const char *source, bool werror,
                                       lathe_emu_image_t **out_image);
/* Loads an image compiled elsewhere. */
lathe_status_t lathe_emu_image_open(const char *so_path, lathe_emu_image_t **out_image);
void lathe_emu_image_destroy(lathe_emu_image_t *image); /* NULL is fine */
/* The kernel named `symbol`, or NOT_FOUND. */
lathe_status_t lathe_emu_image_kernel(const lathe_emu_image_t *image, const char *symbol,
                                      lathe_emu_kernel_t *out_kernel);
/* Bytes of the image's __shared__ section (every kernel's arrays together). */
size_t lathe_emu_image_shared_bytes(const lathe_emu_image_t *image);

/* ---- memory (emu_mem.c) ----------------------------------------------------- */

/* `bytes` (0 is fine: a valid pointer to nothing) filled with `fill`, ending
 * right before an inaccessible page and aligned to `align` (1..16). `name`
 * (copied) names the buffer in fault reports. */
void *lathe_emu_alloc(size_t bytes, size_t align, unsigned char fill, const char *name);
void lathe_emu_free(void *p); /* NULL is fine */
/* Makes an allocation read-only (inputs, weights): a kernel writing it faults. */
void lathe_emu_protect(void *p);

/* The fault reporter, around each launch (emu.c calls these). */
void lathe_emu_faults_begin(void);
void lathe_emu_faults_end(void);

/* ---- launches (emu.c) --------------------------------------------------------- */

typedef enum {
  LATHE_EMU_ORDER_FORWARD, /* thread 0, 1, ...; blocks in order */
  LATHE_EMU_ORDER_REVERSE, /* last thread first; blocks backwards */
  LATHE_EMU_ORDER_RANDOM,  /* a fresh permutation per round and of the blocks, from `seed` */
} lathe_emu_order_t;

typedef struct lathe_emu_launch_opts {
  lathe_emu_order_t order;
  uint64_t seed;
  unsigned char poison; /* byte __shared__ memory is filled with before every block */
  const char *name;     /* the kernel's name in messages; NULL = "kernel" */
} lathe_emu_launch_opts_t;

/* What a launch did, for tests that check the emulator itself. */
typedef struct lathe_emu_stats {
  uint64_t blocks, barriers, shuffles;
} lathe_emu_stats_t;

/* Runs `kernel` over grid x block. Fails (never hangs) when the launch is
 * malformed (a block of 0 or more than 1024 threads or not a multiple of 32,
 * a grid dim of 0, more than 2^24 blocks), when threads of a block diverge
 * at a __syncthreads or a warp at a shuffle, or when device code breaks the
 * subset's contract (a partial shuffle mask). opts may be NULL (forward,
 * poison 0xff); out_stats may be NULL. */
lathe_status_t lathe_emu_launch(lathe_emu_image_t *image, lathe_emu_kernel_t kernel,
                                const uint32_t grid[3], const uint32_t block[3],
                                void *const *buffers, const long long *params,
                                const lathe_emu_launch_opts_t *opts, lathe_emu_stats_t *out_stats);

/* For emu_mem.c's fault report: where the running launch is ("kernel 'k':
 * block (x,y,z) thread (x,y,z)"), or "" outside a launch. */
void lathe_emu_describe_current(char *buf, size_t size);

/* Between the files: emu_image.c binds each image's device struct to the
 * emulator's hooks (emu.c) once, and emu.c reaches it through the image. */
struct lathe_emu_device;
void lathe_emu_bind_device(struct lathe_emu_device *device);
struct lathe_emu_device *lathe_emu_image_device(const lathe_emu_image_t *image);

#endif
