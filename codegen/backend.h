/* The backend interface: what turns a kernel program into machine code.
 *
 * Every backend (codegen/llvm for host CPUs, codegen/cuda for NVIDIA GPUs)
 * fills in one lathe_backend_t, a struct of function pointers, so the driver
 * (the public API, the `lathe` CLI, lathe-opt) never names a backend's own
 * functions: it looks a backend up by name and calls through the table.
 *
 *   compile     kernel program + options -> an artifact (backend-private:
 *               an LLVM module, CUDA source...)
 *   emit_text   the artifact as text (LLVM IR, CUDA C): for lit tests and
 *               `lathe compile --emit=llvm`
 *   emit_file   an assembly file, an object file, or a shared library that
 *               exports the program descriptor as `lathe_program` (a
 *               const lathe_rt_program_t, include/lathe/runtime.h) so the
 *               runtime's loader can dlopen it
 *   jit         the artifact made runnable in this process: kernel function
 *               pointers gathered in a lathe_rt_program_t that
 *               lathe_rt_program_run executes
 *
 * Weights: a program's CONST buffers are not compiled in. The descriptor
 * names each by a weight id (lathe_rt_buffer_desc_t.index), and whoever runs
 * the program fills a lathe_rt_weights_t with those ids. Ids number the CONST
 * root buffers (views excluded) in buffer-id order, 0, 1, ...; this header's
 * lathe_codegen_weight_id gives the mapping so the driver and every backend
 * agree on it.
 *
 * Ownership: compile gives the caller an artifact, jit a jit handle; each is
 * released with the backend's destroy function (NULL is fine). An artifact
 * borrows nothing from the kernel program once compile returns (the program
 * may be destroyed). A jit handle is independent of the artifact it came from
 * (the artifact may be destroyed first); the descriptor it returns and the
 * function pointers in it are valid until jit_destroy.
 *
 * Errors: a program a backend cannot compile (an op or dtype it does not
 * support, a size over a limit) is a status naming the kernel and the reason
 * ("kernel 'k3_erf': unsupported dtype u4 in a vector loop"), never a crash.
 *
 * Thread safety: compile, emit and jit may run on different artifacts in
 * different threads at once; one artifact is used by one thread at a time. A
 * finished jit handle is read-only: its program may run from many threads,
 * each with its own lathe_rt_context_t.
 */
#ifndef LATHE_CODEGEN_BACKEND_H
#define LATHE_CODEGEN_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/kernel.h"
#include "lathe/runtime.h"
#include "runtime/runtime.h"
#include "support/status.h"
#include "support/strbuf.h"

/* How to compile. Zero-initialised options are valid defaults only after
 * lathe_codegen_options_init (opt_level 3, host target). */
typedef struct lathe_codegen_options {
  /* NULL or "host": the machine the compiler runs on (its CPU and every
   * feature it reports). Otherwise backend-specific: for llvm
   * "CPU" or "CPU:FEATURES", e.g. "x86-64-v3", "znver3:+avx2,+fma,-avx512f",
   * "generic:" (no extra features); for cuda "sm_80", "sm_90". */
  const char *target;
  uint32_t opt_level; /* 0..3, like -O0..-O3 */
  /* Lanes the innermost loops of LOOPS kernels are vectorized with (a
   * hint to the backend's vectorizer); 0 lets its cost model choose. */
  uint32_t vector_width;
  /* Name of the program descriptor global in objects and shared libraries;
   * NULL = "lathe_program". Kernel symbols are "<program_symbol>_<kernel>". */
  const char *program_symbol;
} lathe_codegen_options_t;

void lathe_codegen_options_init(lathe_codegen_options_t *out_options);

/* What emit_file writes. */
typedef enum {
  LATHE_CODEGEN_FILE_ASM,    /* target assembly (.s) */
  LATHE_CODEGEN_FILE_OBJECT, /* relocatable, position-independent object (.o) */
  LATHE_CODEGEN_FILE_SHARED, /* shared library (.so) exporting the descriptor */
} lathe_codegen_file_t;

/* Backend-private; each backend defines the structs. */
typedef struct lathe_codegen_artifact lathe_codegen_artifact_t;
typedef struct lathe_codegen_jit lathe_codegen_jit_t;

typedef struct lathe_backend {
  const char *name;    /* "llvm", "cuda": what --backend= takes */
  const char *summary; /* one line for --help */
  /* Compiles every kernel of a finished program. */
  lathe_status_t (*compile)(const lathe_kprogram_t *program, const lathe_codegen_options_t *options,
                            lathe_codegen_artifact_t **out_artifact);
  /* Appends the artifact's text form (LLVM IR after optimisation, CUDA C). */
  lathe_status_t (*emit_text)(const lathe_codegen_artifact_t *artifact, lathe_strbuf_t *sb);
  /* Writes `path`; a backend that cannot write `kind` says so. */
  lathe_status_t (*emit_file)(const lathe_codegen_artifact_t *artifact, lathe_codegen_file_t kind,
                              const char *path);
  /* Loads the artifact into this process. */
  lathe_status_t (*jit)(const lathe_codegen_artifact_t *artifact, lathe_codegen_jit_t **out_jit);
  /* The runnable program of a jit handle (borrowed). */
  const lathe_rt_program_t *(*jit_program)(const lathe_codegen_jit_t *jit);
  void (*jit_destroy)(lathe_codegen_jit_t *jit);
  void (*destroy)(lathe_codegen_artifact_t *artifact);
  /* Runs a jit handle's program on host tensors, for backends whose kernels
   * are not host functions the runtime's executor can call (cuda: device
   * memory, launches); NULL for the others, whose jit_program the driver runs
   * with lathe_rt_program_run. Safe from several threads at once. */
  lathe_status_t (*jit_run)(const lathe_codegen_jit_t *jit, const lathe_rt_weights_t *weights,
                            const lathe_rt_tensor_t *inputs, int32_t num_inputs,
                            lathe_rt_tensor_t *outputs, int32_t num_outputs);
} lathe_backend_t;

/* The backends built into this library, by name; NULL when unknown. */
const lathe_backend_t *lathe_backend_find(const char *name);
/* All built-in backends: *out_count entries (borrowed, static). */
const lathe_backend_t *const *lathe_backend_list(uint32_t *out_count);

/* Weight id of CONST root buffer `buffer` (see above), or -1 when the buffer
 * is not a CONST root. */
int32_t lathe_codegen_weight_id(const lathe_kprogram_t *program, uint32_t buffer);
/* Number of weight ids (CONST root buffers). */
int32_t lathe_codegen_num_weights(const lathe_kprogram_t *program);

/* Runs argv[0] (looked up in PATH) with argv, without a shell, and waits;
 * a status unless it exits with 0. For backends that call the system C
 * compiler ($CC, else cc) to link or compile artifacts. */
lathe_status_t lathe_codegen_spawn(char *const *argv);

/* The program's descriptor built in `arena` (names borrowed from the
 * program), every kernel's function being `fn`: for targets whose kernels are
 * not host functions (interp, cuda). Fails on what the runtime cannot
 * describe (a rank above 8, a derived size it cannot evaluate). */
lathe_status_t lathe_codegen_describe(const lathe_kprogram_t *program, lathe_arena_t *arena,
                                      lathe_rt_kernel_fn fn,
                                      const lathe_rt_program_t **out_program);

#endif
