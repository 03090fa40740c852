/* The ONNX importer: a ModelProto file in, a graph-IR module out.
 *
 * Supported: the default domain ("" / "ai.onnx") at opsets 7 to 24, every op
 * that op_table.def maps to a registered Lathe op, initializers (raw_data,
 * typed fields, external data), Constant nodes, symbolic input dims. Not
 * supported, and reported as such: subgraphs (If, Loop, Scan), other domains,
 * string/complex/float8 tensors, ops without a Lathe equivalent.
 *
 * Weights are not copied: raw_data stays in the mapped .onnx file and
 * external data in its mapped file; the module's FILE weights view them (see
 * docs/onnx.md for how this survives protobuf-c, which copies bytes fields).
 *
 * Before building anything the importer checks every node and fails with one
 * status listing all unsupported ones. Every error is one line starting with
 * the model path: "model.onnx: node 'n3' (Reshape): ...".
 */
#ifndef LATHE_FRONTEND_ONNX_IMPORT_H
#define LATHE_FRONTEND_ONNX_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

/* A value for a graph input (`lathe import --const-input NAME=FILE`): the
 * input leaves the graph's signature and becomes a constant, so shapes and
 * axes computed from it can become attributes. */
typedef struct lathe_onnx_const_input {
  const char *name;   /* the graph input's name in the model */
  const char *source; /* where the value came from (a file name), for messages */
  lathe_dtype_t dtype;
  uint32_t rank;
  const int64_t *dims; /* rank entries */
  const void *data;    /* row-major; copied by the import */
  uint64_t num_bytes;
} lathe_onnx_const_input_t;

/* Evaluates `op`, whose operands are `const` ops (shape and size: operands
 * with static types), into a new weight of the module holding its one static
 * result; *out_weight is NULL when it cannot (not an error). The importer
 * takes it as a parameter because the evaluator lives in passes/, which the
 * frontend does not depend on: tools pass lathe_fold_evaluate (passes.h). */
typedef lathe_status_t (*lathe_onnx_fold_fn)(const lathe_op_t *op, lathe_weight_t **out_weight);

typedef struct lathe_onnx_import_options {
  /* How printed FILE weights name the model's directory: the path from where
   * the output .lir will live to the model's directory ("" or NULL: the
   * model path as given, suits output next to the model or on stdout). */
  const char *display_dir;
  /* Constants with at most this many elements become INLINE weights (printed
   * `dense[...]`); 0 means the default, 16. Negative: never. */
  int64_t inline_max_elements;
  /* Graph inputs to replace by constants (borrowed for the call). Every name
   * must be a graph input, once; dtype and dims must fit its declared type
   * (a symbolic or unknown dim takes any size, the same for every use of a
   * symbol). */
  const lathe_onnx_const_input_t *const_inputs;
  size_t num_const_inputs;
  /* When set, a shape or axes input that ONNX computes in the graph (Shape ->
   * Gather -> Concat, Range over Size...) is evaluated at import time if it
   * depends only on constants and static shapes. NULL: such inputs must be
   * constants already (initializers, Constant, Identity/Cast of those). */
  lathe_onnx_fold_fn fold;
} lathe_onnx_import_options_t;

#define LATHE_ONNX_MIN_OPSET 7
/* Opsets 19-24 are accepted too: every post-18 version of a mapped op
 * (checked against the onnx 1.19 schemas) only widens types or adds
 * attributes, which the strict attribute check rejects unless Lathe has them;
 * the one semantic change, GroupNormalization 21, has its own table entry. */
#define LATHE_ONNX_MAX_OPSET 24
#define LATHE_ONNX_DEFAULT_INLINE_MAX 16

/* Imports the model at `path` (options may be NULL). On success *out_module
 * is a new, verified module with one graph, owned by the caller. */
lathe_status_t lathe_onnx_import_file(const char *path, const lathe_onnx_import_options_t *options,
                                      lathe_module_t **out_module);

/* Reads a file holding one serialized TensorProto (ONNX test data sets'
 * input_0.pb): its dtype, rank, dims (out_dims has LATHE_MAX_RANK entries)
 * and a malloc'd copy of its data the caller frees (never NULL). */
lathe_status_t lathe_onnx_read_tensor_file(const char *path, lathe_dtype_t *out_dtype,
                                           uint32_t *out_rank, int64_t *out_dims,
                                           void **out_data, uint64_t *out_bytes);

#endif
