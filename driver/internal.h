/* Internals of the driver (library lathe_driver), the implementation of the
 * public API in include/lathe/lathe.h. Not an API.
 *
 *   options.c    lathe_options_t
 *   const_inputs.c  graph inputs given fixed values (lathe_options_set_const_input)
 *   model.c      opening a model: import by path kind, the pass pipeline
 *   stats.c      op histogram, parameters, FLOPs, planned peak (inspect)
 *   describe.c   a kernel program as a runtime program descriptor (interp)
 *   compiled.c   compiling (interp, cpu JIT), info and shape queries
 *   context.c    execution contexts and runs
 *   emit.c       --emit: text forms, objects, shared libraries
 *   weights_file.c  the weights file of a shared library (sidecar/embedded)
 *   load.c       loading a shared library
 *   tensor.c     tensor views, .npy/.pb files, comparison
 *   calibrate.c  the calibration provider passes call through the manager
 *
 * Handles that outlive each other are refcounted: a compiled model retains its
 * model (the weights live in its module), a context its compiled model.
 */
#ifndef LATHE_DRIVER_INTERNAL_H
#define LATHE_DRIVER_INTERNAL_H

#include <stdatomic.h>

#include "codegen/backend.h"
#include "ir/ir.h"
#include "kernel/kernel.h"
#include "lathe/lathe.h"
#include "passes/passes.h"
#include "runtime/cuda/cuda.h"
#include "runtime/runtime.h"

typedef enum { TARGET_CPU, TARGET_INTERP, TARGET_CUDA } target_t;

struct lathe_options {
  target_t target;
  char *cpu;    /* codegen target string after "cpu:" / "cuda:", or NULL (default) */
  char *passes; /* NULL: the default for the level */
  int32_t opt_level;
  int32_t num_threads;
  char *calibration;
  /* Graph inputs given values, owned copies (const_inputs.c). */
  struct const_input *const_inputs;
  int32_t num_const_inputs;
};

typedef struct const_input {
  char *name;
  lathe_rt_tensor_t value; /* dense, data malloc'd */
} const_input_t;

/* Deep-copies src's const inputs into dst (whose array is not yet owned). */
lathe_status_t const_inputs_copy(lathe_options_t *dst, const lathe_options_t *src);
void const_inputs_clear(lathe_options_t *o);

/* Copies src into dst (strings duplicated); dst is then released with
 * options_clear. */
lathe_status_t options_copy(lathe_options_t *dst, const lathe_options_t *src);
void options_clear(lathe_options_t *o);
void options_defaults(lathe_options_t *o);
const char *target_name(target_t t);
/* The graph pipeline the options select (a malloc'd string). */
char *options_pipeline(const lathe_options_t *o);

struct lathe_model {
  atomic_int refs;
  lathe_options_t options;
  lathe_module_t *module;
  lathe_graph_t *graph;
  lathe_kprogram_t *program;          /* lowered on first need (model_lower) */
  lathe_codegen_artifact_t *artifact; /* compiled on first need (cpu target) */
  const lathe_backend_t *backend;
  lathe_arena_t stats_arena; /* what the last lathe_model_stats returned */
};

void model_retain(lathe_model_t *m);
void model_release(lathe_model_t *m);
/* Lowers the model once; the program is owned by the model. */
lathe_status_t model_lower(lathe_model_t *m, const lathe_kprogram_t **out_program);
/* Compiles the lowered program with the cpu backend once; owned by the model. */
lathe_status_t model_artifact(lathe_model_t *m, const lathe_backend_t **out_backend,
                              const lathe_codegen_artifact_t **out_artifact);
/* Compiles `p` with the cpu backend under `o` (the caller destroys the
 * artifact with the backend's destroy). */
lathe_status_t backend_compile(const lathe_kprogram_t *p, const lathe_options_t *o,
                               const lathe_backend_t **out_backend,
                               lathe_codegen_artifact_t **out_artifact);
/* Fills a weights table from the CONST root buffers of a program (views of
 * the module's weights, borrowed). */
lathe_status_t program_weights(const lathe_kprogram_t *p, lathe_rt_weights_t **out_weights);

/* Info of a graph value as the public struct (names borrowed from the IR). */
lathe_status_t value_info(const lathe_value_t *v, lathe_tensor_info_t *out_info);

/* describe.c: `p` as a runtime descriptor built in `arena`; its kernels'
 * functions are `fn` (the interp target never calls them). */
lathe_status_t describe_program(const lathe_kprogram_t *p, lathe_arena_t *arena,
                                lathe_rt_kernel_fn fn, const lathe_rt_program_t **out_program);

typedef enum { COMPILED_INTERP, COMPILED_JIT, COMPILED_LOADED } compiled_kind_t;

struct lathe_compiled {
  atomic_int refs;
  compiled_kind_t kind;
  const lathe_rt_program_t *program; /* what runs (or describes, for interp) */
  lathe_rt_weights_t *weights;
  lathe_rt_pool_t *pool;
  lathe_model_t *model;             /* INTERP, JIT: retained */
  const lathe_kprogram_t *kprogram; /* INTERP: the model's */
  lathe_arena_t arena;              /* INTERP: the descriptor */
  const lathe_backend_t *backend;   /* JIT */
  lathe_codegen_jit_t *jit;         /* JIT */
  void *library;                    /* LOADED: the dlopen handle */
  lathe_rt_cuda_t *cuda;            /* LOADED: a CUDA library's program (runtime/cuda) */
  /* Names of the inputs/outputs as the model spells them (descriptors hold
   * C-safe names: "fc1.weight" is fc1_weight there); NULL = the descriptor's. */
  const char **input_names, **output_names;
};

/* A compiled model with one reference, a pool of num_threads and nothing
 * else set. */
lathe_status_t compiled_new(compiled_kind_t kind, int32_t num_threads,
                            lathe_compiled_t **out_compiled);
void compiled_retain(lathe_compiled_t *c);
void compiled_release(lathe_compiled_t *c);

/* A compiled model of program `p` (borrowed: it must outlive the result)
 * for the target of `o`, without a model: what calibration runs. */
lathe_status_t compile_program(const lathe_kprogram_t *p, const lathe_options_t *o,
                               lathe_compiled_t **out_compiled);

/* Runs a compiled model with a runtime context (context.c). */
lathe_status_t compiled_run(const lathe_compiled_t *c, lathe_rt_context_t *ctx,
                            const lathe_rt_tensor_t *inputs, int32_t num_inputs,
                            lathe_rt_tensor_t *outputs, int32_t num_outputs);

/* weights_file.c: the weights of a program in Lathe's weights-file layout,
 * appended to `path` (embedded) or written as a new file. */
lathe_status_t weights_file_write(const lathe_kprogram_t *p, const char *path, bool append);
/* Points every weight of `program` at its bytes in the weights file at
 * `path` (a .so with embedded weights, or a sidecar). NOT_FOUND when `path`
 * holds no weights. */
lathe_status_t weights_file_load(const lathe_rt_program_t *program, const char *path,
                                 lathe_rt_weights_t *weights);

/* load.c: closes a library handle of a loaded model. */
void library_close(void *library);

/* calibrate.c: a calibration provider for the pass pipeline, reading samples
 * from `path` and running graphs with `options`' target; NULL when the
 * options name no calibration data. */
typedef struct lathe_calibration lathe_calibration_t;
lathe_status_t calibration_create(const lathe_options_t *options, lathe_calibration_t **out);
void calibration_destroy(lathe_calibration_t *c);
/* The provider table the pipeline config borrows (valid while c lives). */
lathe_calibrator_t calibration_calibrator(lathe_calibration_t *c);

#endif
