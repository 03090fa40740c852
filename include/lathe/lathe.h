/* Lathe's public C API: compile a model and run it from a host application.
 *
 *   lathe_options_t   how to compile: target, pass pipeline, -O level, threads,
 *                     calibration data
 *   lathe_model_t     a model opened from a file (ONNX, Hugging Face folder or
 *                     text IR) with the graph passes applied; inspectable,
 *                     compilable, emittable (IR, kernel IR, LLVM IR, object,
 *                     shared library)
 *   lathe_compiled_t  a runnable model: JIT-compiled from a lathe_model_t, or
 *                     loaded from a shared library `lathe compile` wrote
 *   lathe_context_t   what one thread needs to run a compiled model
 *
 * A typical host:
 *
 *   lathe_options_t *o;  lathe_model_t *m;  lathe_compiled_t *c;  lathe_context_t *x;
 *   lathe_options_create(&o);
 *   lathe_model_open("mlp.onnx", o, &m);
 *   lathe_model_compile(m, &c);
 *   lathe_context_create(c, &x);
 *   lathe_context_run(x, inputs, 1, outputs, 1);     (caller's tensors)
 *   ... destroy in any order ...
 *
 * Errors: every fallible function returns a lathe_status_t (lathe/status.h):
 * NULL on success, else a failure the caller reads and releases with
 * lathe_status_free. Out-parameters are written only on success. Messages are
 * one line and name the file, input or op at fault. Bad input never aborts.
 *
 * Ownership: create/open/compile/load give the caller a handle to destroy
 * with the matching destroy function (NULL is fine). Handles may be destroyed
 * in any order: a compiled model keeps what it needs of its model (the
 * weights) alive, and a context keeps its compiled model alive. Strings and
 * arrays a getter returns are borrowed from the handle they came from, valid
 * until it is destroyed (lathe_model_stats: until the next stats call).
 *
 * Tensors are lathe_rt_tensor_t (lathe/runtime.h): borrowed views the caller
 * fills with lathe_tensor_view or gets from lathe_tensor_read/alloc.
 *
 * Threads: there is no global state. An options object and a model are used by
 * one thread at a time. A compiled model is read-only: any number of threads
 * may run it at once, each with its own context; a context is used by one
 * thread at a time. All contexts of a compiled model share its thread pool
 * (lathe_options_set_num_threads).
 */
#ifndef LATHE_LATHE_H
#define LATHE_LATHE_H

#include <stdbool.h>
#include <stdint.h>

#include "lathe/runtime.h"
#include "lathe/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lathe_options lathe_options_t;
typedef struct lathe_model lathe_model_t;
typedef struct lathe_compiled lathe_compiled_t;
typedef struct lathe_context lathe_context_t;

/* "0.1.0"; static. */
const char *lathe_version(void);

/* ---- options --------------------------------------------------------------- */

/* Defaults: target "cpu", the default pipeline, -O3, one thread per core, no
 * calibration data. */
lathe_status_t lathe_options_create(lathe_options_t **out_options);
void lathe_options_destroy(lathe_options_t *options);

/* "cpu" (host machine code through LLVM, JIT-compiled), "cuda" (NVIDIA GPUs:
 * CUDA C compiled by NVRTC for sm_80 and sm_90, run through the CUDA driver;
 * compiling works without a GPU, running needs one) or "interp" (the
 * kernel-IR reference interpreter: slow, exact, for checking). An optional
 * ":CPU[:FEATURES]" after "cpu" names another x86 CPU ("cpu:x86-64-v3");
 * ":sm_NN[,sm_MM]" after "cuda" the GPU architectures ("cuda:sm_90").
 * Unknown targets are an error. */
lathe_status_t lathe_options_set_target(lathe_options_t *options, const char *target);
/* The graph pass pipeline, e.g. "canonicalize,cse,dce" (see `lathe-opt
 * --list-passes`); checked now. NULL restores the default,
 * "canonicalize,cse,fold-constants,dce" at -O1 and up and none at -O0.
 * Kernel fusion (`fuse`) runs after it at -O1 and up unless it names fuse
 * itself. */
lathe_status_t lathe_options_set_passes(lathe_options_t *options, const char *pipeline);
/* 0..3, like a C compiler's -O: graph passes and fusion from 1, the backend's
 * optimisation level throughout. */
lathe_status_t lathe_options_set_opt_level(lathe_options_t *options, int32_t level);
/* Threads a run may use, the calling thread included; 0 = one per core. */
lathe_status_t lathe_options_set_num_threads(lathe_options_t *options, int32_t num_threads);
/* Calibration inputs for passes that ask for activations: a folder of
 * NAME.npy files (one sample), a folder of such folders or of .npz files (one
 * sample each), or one .npz file. Read when a pass first asks. NULL = none. */
lathe_status_t lathe_options_set_calibration(lathe_options_t *options, const char *path);
/* Gives ONNX graph input `name` a fixed value: the model is specialized to
 * it. The input becomes a constant and leaves the model's inputs, so shapes
 * and axes computed from it (a Reshape shape, Slice bounds, TopK's k) are
 * known when compiling, which Lathe needs for them. `value` is copied; its
 * dtype and dims must fit the input's declared type (checked when the model
 * is opened, as is the name). Setting a name again replaces its value; a
 * NULL value removes it. Only for ONNX models: opening a model folder or
 * text IR with const inputs is an error. */
lathe_status_t lathe_options_set_const_input(lathe_options_t *options, const char *name,
                                             const lathe_rt_tensor_t *value);

/* ---- models ---------------------------------------------------------------- */

/* Opens `path`: a .onnx file, a Hugging Face model folder (config.json plus
 * safetensors) or a .lir text-IR file, whose first graph becomes the model,
 * then runs the options' pass pipeline on it. `options` (NULL = defaults) is
 * copied. */
lathe_status_t lathe_model_open(const char *path, const lathe_options_t *options,
                                lathe_model_t **out_model);
void lathe_model_destroy(lathe_model_t *model);

/* One graph input or output. */
typedef struct lathe_tensor_info {
  const char *name; /* borrowed from the model or compiled model */
  int32_t dtype;    /* lathe_rt_dtype_t */
  int32_t rank;
  int64_t dims[LATHE_RT_MAX_RANK];          /* static size, or -1 when symbolic */
  const char *dim_names[LATHE_RT_MAX_RANK]; /* "N" for a symbolic dim, else NULL */
} lathe_tensor_info_t;

int32_t lathe_model_num_inputs(const lathe_model_t *model);
int32_t lathe_model_num_outputs(const lathe_model_t *model);
lathe_status_t lathe_model_input_info(const lathe_model_t *model, int32_t index,
                                      lathe_tensor_info_t *out_info);
lathe_status_t lathe_model_output_info(const lathe_model_t *model, int32_t index,
                                       lathe_tensor_info_t *out_info);

/* What `lathe inspect` prints. */
typedef struct lathe_op_count {
  const char *op; /* "matmul" */
  int64_t count;
  double flops; /* of all ops of this kind, at the bound sizes */
} lathe_op_count_t;

typedef struct lathe_model_stats {
  int64_t num_ops;      /* ops other than const and return */
  int32_t num_op_kinds; /* entries of op_kinds, most frequent first */
  const lathe_op_count_t *op_kinds;
  int64_t num_parameters;   /* elements of all constants */
  uint64_t parameter_bytes; /* their storage */
  double flops;             /* one run at the bound sizes (a multiply-add is 2) */
  int32_t num_unsupported;  /* op kinds the target cannot lower, by name */
  const char *const *unsupported;
  /* Kernels and planned peak bytes of temporaries (the runtime's buffer plan)
   * at the bound sizes; both 0 when the model does not lower. */
  int32_t num_kernels;
  uint64_t peak_bytes;
} lathe_model_stats_t;

/* Statistics with symbolic sizes bound by `bind` ("N=8,seq=128"; NULL or ""
 * binds nothing); unbound symbols count as 1. Lowers the model (once) for the
 * kernel count and the buffer plan. *out_stats borrows from the model until
 * the next call or its destruction. */
lathe_status_t lathe_model_stats(lathe_model_t *model, const char *bind,
                                 lathe_model_stats_t *out_stats);

/* Compiles the model for its options' target. The result is independent of
 * later calls on the model. */
lathe_status_t lathe_model_compile(lathe_model_t *model, lathe_compiled_t **out_compiled);

typedef enum {
  LATHE_EMIT_IR,        /* graph IR after the passes (.lir) */
  LATHE_EMIT_KERNEL_IR, /* the lowered kernel program (text) */
  LATHE_EMIT_LLVM,      /* LLVM IR after optimisation (.ll) */
  LATHE_EMIT_ASM,       /* target assembly (.s) */
  LATHE_EMIT_OBJECT,    /* a position-independent object (.o) */
  LATHE_EMIT_SHARED,    /* a shared library lathe_compiled_load runs (.so) + weights */
  LATHE_EMIT_CUDA,      /* CUDA C source (the "cuda" target) */
  LATHE_EMIT_PTX,       /* PTX of the cuda target's lowest architecture (.ptx) */
} lathe_emit_t;

/* Flags of lathe_model_emit. */
enum {
  /* LATHE_EMIT_SHARED: append the weights to the .so instead of writing the
   * sidecar PATH.weights next to it. */
  LATHE_EMIT_EMBED_WEIGHTS = 1u << 0,
};

/* Writes the model in form `kind` to `path` ("-" = stdout for the text
 * forms). LLVM and OBJECT need the "cpu" target, CUDA and PTX the "cuda"
 * target; ASM (PTX on cuda) and SHARED either. A SHARED library's weights go
 * to PATH.weights unless embedded. */
lathe_status_t lathe_model_emit(lathe_model_t *model, lathe_emit_t kind, const char *path,
                                uint32_t flags);

/* ---- compiled models --------------------------------------------------------- */

/* Loads a shared library written by lathe_model_emit(SHARED) (or `lathe
 * compile`) and its weights (embedded, or PATH.weights). Only the options'
 * thread count applies; `options` may be NULL. */
lathe_status_t lathe_compiled_load(const char *path, const lathe_options_t *options,
                                   lathe_compiled_t **out_compiled);
void lathe_compiled_destroy(lathe_compiled_t *compiled);

/* "cpu", "cuda", "interp" or "so" (loaded from a library). */
const char *lathe_compiled_target(const lathe_compiled_t *compiled);
int32_t lathe_compiled_num_inputs(const lathe_compiled_t *compiled);
int32_t lathe_compiled_num_outputs(const lathe_compiled_t *compiled);
lathe_status_t lathe_compiled_input_info(const lathe_compiled_t *compiled, int32_t index,
                                         lathe_tensor_info_t *out_info);
lathe_status_t lathe_compiled_output_info(const lathe_compiled_t *compiled, int32_t index,
                                          lathe_tensor_info_t *out_info);

/* The outputs a run on `inputs` produces: fills dtype, rank, dims and
 * byte_size of out_outputs[num_outputs] (data NULL, flags 0), checking the
 * inputs as a run would. */
lathe_status_t lathe_compiled_output_shapes(const lathe_compiled_t *compiled,
                                            const lathe_rt_tensor_t *inputs, int32_t num_inputs,
                                            lathe_rt_tensor_t *out_outputs, int32_t num_outputs);
/* Planned peak bytes of temporaries for a run on inputs of these shapes (the
 * runtime's buffer plan; `data` of the inputs is not read). */
lathe_status_t lathe_compiled_peak_bytes(const lathe_compiled_t *compiled,
                                         const lathe_rt_tensor_t *inputs, int32_t num_inputs,
                                         uint64_t *out_bytes);

/* ---- running ---------------------------------------------------------------- */

/* A context for running `compiled` (retained) from one thread at a time. */
lathe_status_t lathe_context_create(lathe_compiled_t *compiled, lathe_context_t **out_context);
void lathe_context_destroy(lathe_context_t *context);

/* Runs the model: inputs[k] / outputs[k] are graph input / output k, in the
 * order of the info getters. Inputs are read-only; outputs must be dense,
 * with the shapes lathe_compiled_output_shapes gives, and are written in
 * place. A wrong dtype, rank or dim is an error naming the tensor. */
lathe_status_t lathe_context_run(lathe_context_t *context, const lathe_rt_tensor_t *inputs,
                                 int32_t num_inputs, lathe_rt_tensor_t *outputs,
                                 int32_t num_outputs);

/* ---- tensors ------------------------------------------------------------------ */

/* "f32", "i64"...; "invalid" for unknown codes. */
const char *lathe_tensor_dtype_name(int32_t dtype);

/* Fills a dense view of caller memory (borrowed). */
lathe_status_t lathe_tensor_view(int32_t dtype, int32_t rank, const int64_t *dims, void *data,
                                 uint64_t byte_size, lathe_rt_tensor_t *out_tensor);
/* A dense, zero-filled tensor whose data the caller releases with
 * lathe_tensor_free. */
lathe_status_t lathe_tensor_alloc(int32_t dtype, int32_t rank, const int64_t *dims,
                                  lathe_rt_tensor_t *out_tensor);
/* Reads a .npy file or an ONNX TensorProto (.pb) into a new dense tensor the
 * caller releases with lathe_tensor_free. */
lathe_status_t lathe_tensor_read(const char *path, lathe_rt_tensor_t *out_tensor);
/* Writes a dense tensor as a .npy file. */
lathe_status_t lathe_tensor_write_npy(const char *path, const lathe_rt_tensor_t *tensor);
/* Frees the data of a tensor from lathe_tensor_alloc/read and clears it. */
void lathe_tensor_free(lathe_rt_tensor_t *tensor);

/* How far `got` is from `want` (same dtype and shape, else an error). An
 * element mismatches when |got - want| > atol + rtol * |want| (numpy's
 * allclose), or when exactly one of them is NaN. */
typedef struct lathe_tensor_diff {
  double max_abs; /* largest |got - want| over elements that are not both NaN */
  double max_rel; /* largest |got - want| / |want| over elements with want != 0 */
  int64_t num_elements;
  int64_t num_mismatched;
  int64_t first_mismatch; /* flat index, or -1 */
} lathe_tensor_diff_t;

lathe_status_t lathe_tensor_compare(const lathe_rt_tensor_t *got, const lathe_rt_tensor_t *want,
                                    double rtol, double atol, lathe_tensor_diff_t *out_diff);

#ifdef __cplusplus
}
#endif

#endif
