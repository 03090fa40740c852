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

#include <stdint.h>

#include "ir/ir.h"

typedef struct lathe_onnx_import_options {
  /* How printed FILE weights name the model's directory: the path from where
   * the output .lir will live to the model's directory ("" or NULL: the
   * model path as given, suits output next to the model or on stdout). */
  const char *display_dir;
  /* Constants with at most this many elements become INLINE weights (printed
   * `dense[...]`); 0 means the default, 16. Negative: never. */
  int64_t inline_max_elements;
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
