/* Shared internals of the ONNX importer (frontend/onnx/). Not an API: the
 * importer's API is onnx_import.h.
 *
 *   wire.c      the protobuf wire-format pre-pass: strips raw_data payloads so
 *               protobuf-c never copies weights, and records where they are
 *   tensor.c    TensorProto -> dtype, shape, weight (raw, typed or external)
 *   op_map.c    the op mapping table (op_table.def) and attribute conversion
 *   op_special.c  the conversions a table row cannot express
 *   fold.c      import-time evaluation of computed shapes and axes
 *   const_input.c  graph inputs given values (--const-input)
 *   import.c    the driver: opsets, pre-flight, graph building
 */
#ifndef LATHE_FRONTEND_ONNX_INTERNAL_H
#define LATHE_FRONTEND_ONNX_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "frontend/onnx/onnx_import.h"
#include "ir/ir.h"
#include "onnx.pb-c.h"

/* ---- wire.c ---------------------------------------------------------------- */

/* Where a stripped raw_data payload lies in the model file. */
typedef struct onnx_raw_ref {
  bool present;
  uint64_t offset, length;
} onnx_raw_ref_t;

/* The model file with every raw_data of graph initializers and of node
 * attribute tensors removed. The k-th initializer of the unpacked graph owns
 * initializers[k]; the k-th AttributeProto, counting attributes node by node
 * in graph order, owns attributes[k]. */
typedef struct onnx_skeleton {
  uint8_t *data; /* malloc'd re-encoded message */
  size_t len;
  onnx_raw_ref_t *initializers;
  size_t num_initializers;
  onnx_raw_ref_t *attributes;
  size_t num_attributes;
} onnx_skeleton_t;

/* Scans the ModelProto in [file, file+size) and builds its skeleton. Fails on
 * malformed wire format (truncation, bad varints, lengths past the end). */
lathe_status_t onnx_skeleton_build(const uint8_t *file, uint64_t size, onnx_skeleton_t *out);
void onnx_skeleton_free(onnx_skeleton_t *s);

/* ---- tensor.c -------------------------------------------------------------- */

/* Lathe dtype of an ONNX TensorProto.DataType value; LATHE_DTYPE_INVALID when
 * Lathe has none. */
lathe_dtype_t onnx_dtype_to_lathe(int32_t onnx_dtype);
/* "FLOAT", "STRING", ... for messages. */
const char *onnx_dtype_name(int32_t onnx_dtype);

/* Everything a tensor needs from its surroundings. */
typedef struct onnx_tensor_ctx {
  lathe_module_t *module;
  lathe_mapped_file_t *model;   /* the mapped .onnx file */
  const char *model_dir;        /* directory external data paths are relative to */
  const char *model_display;    /* how FILE weights in the model print its path */
  const char *display_dir;      /* prefix for printed external-data paths ("" = none) */
  int64_t inline_max_elements;  /* at most this many elements: INLINE weight */
  lathe_hashmap_t *external;    /* location -> lathe_mapped_file_t*, owned refs */
} onnx_tensor_ctx_t;

/* A decoded constant tensor: type, the weight holding its bytes, and a host
 * pointer to those bytes (for constant inputs that become attributes). */
typedef struct onnx_const {
  lathe_type_t type;       /* static dims, in the module arena */
  lathe_weight_t *weight;  /* owned by the module */
  const uint8_t *data;     /* weight->data; NULL when empty */
} onnx_const_t;

/* Decodes `t` (whose raw_data, if any, was stripped into `raw`). `what` names
 * the tensor in errors ("initializer 'w'"). */
lathe_status_t onnx_tensor_decode(onnx_tensor_ctx_t *ctx, const Onnx__TensorProto *t,
                                  const onnx_raw_ref_t *raw, const char *what,
                                  onnx_const_t *out_const);
/* Reads element i of a constant as int64 / double (any numeric dtype). */
int64_t onnx_const_int(const onnx_const_t *c, int64_t i);
double onnx_const_float(const onnx_const_t *c, int64_t i);
/* Element count of a constant's static type. */
int64_t onnx_const_count(const onnx_const_t *c);

/* ---- op_map.c -------------------------------------------------------------- */

/* What the graph builder knows about one ONNX value name. */
typedef struct onnx_value {
  const char *name;      /* the ONNX name */
  lathe_value_t *value;  /* NULL until materialized (constants are lazy) */
  onnx_const_t *konst;   /* non-NULL when the value is a known constant */
} onnx_value_t;

/* What op_map.c needs from the driver while converting one node. */
typedef struct onnx_node_ctx {
  lathe_module_t *module;
  lathe_builder_t *builder;
  int64_t opset;
  const Onnx__NodeProto *node;
  const char *label; /* "'name'" or "#index", for messages */
  /* Finds an input by name; *out_value is NULL for "" (absent). Fails when
   * the name is undefined. */
  lathe_status_t (*lookup)(void *self, const char *name, onnx_value_t **out_value);
  /* The lathe value of an entry, creating its const op on first use. */
  lathe_status_t (*materialize)(void *self, onnx_value_t *v, lathe_value_t **out_value);
  /* Decodes the TENSOR attribute number `index` of the node. */
  lathe_status_t (*attr_tensor)(void *self, size_t index, onnx_const_t *out_const);
  /* Makes v->konst known when v is computed from constants and static
   * shapes (fold.c); otherwise leaves it NULL and sets *out_why to the
   * reason ("it is graph input 'x'"). May replace ops already built, so
   * lathe values taken from entries before the call must be looked up
   * again after it. */
  lathe_status_t (*constant)(void *self, onnx_value_t *v, const char **out_why);
  void *self;
} onnx_node_ctx_t;

/* A node being converted: the generic mapping fills it, a special function
 * may adjust it, then the op is built (unless the special built it). */
typedef struct onnx_conv {
  onnx_node_ctx_t *ctx;
  lathe_op_kind_t kind;
  lathe_value_t **operands; /* num_operands entries, NULL = absent */
  uint32_t num_operands;
  lathe_attr_t *attrs; /* cap_attrs entries */
  uint32_t num_attrs, cap_attrs;
  uint32_t num_results;
  lathe_op_t *op; /* set by a special that builds the op itself */
} onnx_conv_t;

typedef lathe_status_t (*onnx_special_fn)(onnx_conv_t *c);

/* Special functions named in op_table.def (op_special.c). */
#define ONNX_SPECIALS(X) \
  X(onnx_special_clip_6) \
  X(onnx_special_pad_value) \
  X(onnx_special_softmax_2d) \
  X(onnx_special_upsample) \
  X(onnx_special_group_norm_18) \
  X(onnx_special_constant_of_shape) \
  X(onnx_special_range)
#define X(fn) lathe_status_t fn(onnx_conv_t *c);
ONNX_SPECIALS(X)
#undef X

/* Pre-flight check of one default-domain node against the table, building
 * nothing: NULL when convertible, else the text that goes in parentheses
 * after the node's label ("NonMaxSuppression", "Loop: subgraphs are not
 * supported"), allocated in `arena`. */
const char *onnx_node_check(const Onnx__NodeProto *node, int64_t opset, lathe_arena_t *arena);

/* Converts one node into Lathe ops; on success *out_op is the op whose
 * results are the node's outputs, in order. */
lathe_status_t onnx_node_convert(onnx_node_ctx_t *ctx, lathe_op_t **out_op);

/* Helpers for special functions. */
/* The node's ONNX attribute `name`, or NULL. */
const Onnx__AttributeProto *onnx_node_attr(const Onnx__NodeProto *node, const char *name);
/* Sets (or replaces) an attribute of the op being built. */
void onnx_conv_set_attr(onnx_conv_t *c, lathe_attr_t attr);
const lathe_attr_t *onnx_conv_find_attr(const onnx_conv_t *c, const char *name);
/* A new scalar constant of `dtype` holding `v`. */
lathe_status_t onnx_conv_scalar(onnx_conv_t *c, lathe_dtype_t dtype, double v,
                                lathe_value_t **out_value);
/* An error about the node: "node LABEL (OpType): MESSAGE". */
lathe_status_t onnx_conv_error(const onnx_conv_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- fold.c ---------------------------------------------------------------- */

/* Results with more elements are not folded at import time: those are
 * weights, not shapes, and folding would copy them. */
enum { ONNX_FOLD_MAX_ELEMENTS = 4096 };

/* Import-time evaluation: which ONNX entry holds each lathe value (so a value
 * replaced by its constant is repointed), and which ops folding left without
 * uses (removed at the end if nothing else used them). */
typedef struct onnx_folder {
  lathe_onnx_fold_fn fold; /* NULL: folding is off */
  lathe_hashmap_t owners;  /* lathe_value_t* -> onnx_value_t* */
  lathe_hashmap_t orphans; /* lathe_op_t* -> itself */
} onnx_folder_t;

void onnx_folder_init(onnx_folder_t *f, lathe_onnx_fold_fn fold);
void onnx_folder_destroy(onnx_folder_t *f);
/* Records that entry `v` holds v->value (call whenever it is set). */
lathe_status_t onnx_folder_track(onnx_folder_t *f, onnx_value_t *v);
/* Makes v->konst known if v is a const op's result or is computed only from
 * constants and static shapes: the ops computing it are evaluated and
 * replaced by const ops. Otherwise *out_why (module arena) says what stands
 * in the way. */
lathe_status_t onnx_fold_constant(onnx_folder_t *f, lathe_module_t *m, onnx_value_t *v,
                                  const char **out_why);
/* Removes the const ops nothing uses and the ops folding left unused. */
void onnx_folder_sweep(onnx_folder_t *f, lathe_graph_t *g);

/* ---- const_input.c --------------------------------------------------------- */

/* The constant a --const-input value gives graph input `name` declared as
 * `declared` (dims static, symbolic or unknown). Dtype and rank must match,
 * and static dims too; `bindings` (symbol -> size, across all inputs) makes
 * every use of a symbol take the same size. */
lathe_status_t onnx_const_input_make(lathe_module_t *m, const char *name,
                                     const lathe_type_t *declared,
                                     const lathe_onnx_const_input_t *given,
                                     lathe_hashmap_t *bindings, onnx_const_t *out_const);
/* Checks options->const_inputs against the graph: names present, distinct
 * and naming graph inputs (an initializer listed as an input, old ONNX's
 * way to give an input a default, counts). */
lathe_status_t onnx_const_inputs_check(const Onnx__GraphProto *g,
                                       const lathe_onnx_import_options_t *options);

#endif
