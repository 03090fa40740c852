/* Shared internals of the ONNX importer (frontend/onnx/). Not an API: the
 * importer's API is onnx_import.h.
 *
 *   wire.c      the protobuf wire-format pre-pass: strips raw_data payloads so
 *               protobuf-c never copies weights, and records where they are
 *   tensor.c    TensorProto -> dtype, shape, weight (raw, typed or external)
 *   op_map.c    the op mapping table (op_table.def) and attribute conversion
 *   op_special.c  the conversions a table row cannot express
 *   import.c    the driver: opsets, pre-flight, graph building
 */
#ifndef LATHE_FRONTEND_ONNX_INTERNAL_H
#define LATHE_FRONTEND_ONNX_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

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
  X(onnx_special_constant_of_shape)
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

#endif
