/* The one struct between an emulated "device image" and the emulator.
 *
 * Generated CUDA C is compiled by the host C++ compiler (cuda_emu.h supplies
 * the CUDA subset) into a shared object; that object defines one
 * `lathe_emu_device` of this type. The emulator (emu.c, plain C) finds it
 * with dlsym, fills in the hooks, and before it resumes a CUDA thread writes
 * that thread's builtin variables into it. Kernel code reads threadIdx and
 * friends from here and calls back through the hooks for everything that
 * needs the scheduler: barriers and warp shuffles.
 *
 * Only one CUDA thread runs at a time (threads are fibers on one OS thread,
 * emu.c), so plain fields are enough: no atomics, no thread-local storage.
 * Included by C (emu.c) and C++ (cuda_emu.h): keep it plain C.
 */
#ifndef LATHE_TESTS_CUDA_EMU_ABI_H
#define LATHE_TESTS_CUDA_EMU_ABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever this struct changes, so a stale .so is refused. */
#define LATHE_EMU_ABI_VERSION 1u

typedef struct lathe_emu_uint3 {
  unsigned int x, y, z;
} lathe_emu_uint3_t;

/* What a shuffle asks for (the source lane rule). */
typedef enum {
  LATHE_EMU_SHFL_IDX = 0,  /* lane `arg` */
  LATHE_EMU_SHFL_DOWN = 1, /* lane + arg, own value past the warp's end */
  LATHE_EMU_SHFL_UP = 2,   /* lane - arg, own value below 0 */
  LATHE_EMU_SHFL_XOR = 3,  /* lane ^ arg */
} lathe_emu_shfl_kind_t;

typedef struct lathe_emu_device {
  uint32_t abi_version; /* LATHE_EMU_ABI_VERSION, set by the image */
  /* The running CUDA thread's builtins (written by the emulator). */
  lathe_emu_uint3_t thread_idx, block_idx, block_dim, grid_dim;
  /* The image's __shared__ variables, all in one linker section, so the
   * emulator can poison them before every block ([begin, end); both NULL
   * when the image declares none). Set by the image. */
  unsigned char *shared_begin, *shared_end;
  /* Hooks (set by the emulator before the first launch). */
  void *emu;                                     /* the emulator's state, passed back */
  void (*syncthreads)(void *emu);                /* block barrier */
  uint64_t (*shfl)(void *emu, uint64_t bits, int kind, int arg, unsigned int mask);
  void (*fail)(void *emu, const char *message); /* a contract breach in device code */
  /* support/half.h's conversions (round to nearest even), so the emulation
   * rounds exactly like the interpreter and the CPU backend. */
  uint16_t (*f32_to_f16)(float);
  float (*f16_to_f32)(uint16_t);
  uint16_t (*f32_to_bf16)(float);
  float (*bf16_to_f32)(uint16_t);
} lathe_emu_device_t;

#ifdef __cplusplus
}
#endif

#endif
