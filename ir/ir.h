/* The graph IR: the API of ir/.
 *
 *   module  owns an arena, interned symbols, the weight store and its graphs
 *   graph   named function: input values, an ordered op list ending in `return`
 *   value   an SSA tensor: a type, an optional text name, its defining op (or
 *           graph input index) and the list of operands that use it
 *   op      kind (from the op registry), operands, results, attributes; a
 *           `const` op also points at a weight
 *
 * Memory: everything hangs off the module arena and is freed with the module
 * (lathe_module_destroy); erased ops are unlinked, not freed. Pointers returned
 * by getters are borrowed for the module's lifetime.
 *
 * Ordering: ops in a graph are a straight line; a value must be defined before
 * each use (the verifier checks). Graph outputs are the operands of the final
 * `return` op, so use lists see them like any other use.
 *
 * Thread safety: a module is not thread-safe; distinct modules are independent.
 */
#ifndef LATHE_IR_IR_H
#define LATHE_IR_IR_H

#include <stdbool.h>
#include <stdint.h>

#include "ir/attr.h"
#include "ir/dtype.h"
#include "ir/type.h"
#include "ir/weights.h"
#include "support/support.h"

typedef struct lathe_module lathe_module_t;
typedef struct lathe_graph lathe_graph_t;
typedef struct lathe_value lathe_value_t;
typedef struct lathe_op lathe_op_t;
typedef struct lathe_operand lathe_operand_t;

#include "ir/op_registry.h"

/* Where an IR object came from: text position and/or a source node name. */
typedef struct lathe_loc {
  const char *file; /* NULL when unknown */
  uint32_t line, col; /* 1-based; 0 when unknown */
  const char *name; /* e.g. ONNX node name; NULL when none */
} lathe_loc_t;

/* One use of a value: the operand slot of an op. Operand slots of absent
 * optional inputs have value == NULL and are in no use list. */
struct lathe_operand {
  lathe_value_t *value;
  lathe_op_t *owner;
  uint32_t index;
  lathe_operand_t *prev_use, *next_use;
};

struct lathe_value {
  lathe_type_t type;
  const char *name;      /* text name without '%', or NULL (printer numbers it) */
  lathe_graph_t *graph;
  lathe_op_t *def;       /* NULL for graph inputs */
  uint32_t index;        /* result index in def, or input index */
  uint32_t id;           /* unique in the graph; dense, for side tables */
  lathe_operand_t *uses; /* head of the use list */
};

struct lathe_op {
  lathe_op_kind_t kind;
  lathe_graph_t *graph;
  lathe_op_t *prev, *next;
  uint32_t num_operands;
  lathe_operand_t *operands;
  uint32_t num_results;
  lathe_value_t *results;
  uint32_t num_attrs;
  lathe_attr_t *attrs; /* in registry schema order */
  lathe_weight_t *weight; /* `const` ops only */
  lathe_loc_t loc;
  uint32_t id; /* unique in the graph */
};

struct lathe_graph {
  lathe_module_t *module;
  const char *name; /* without '@' */
  uint32_t num_inputs;
  lathe_value_t **inputs;
  lathe_op_t *first, *last;
  uint32_t num_ops;
  uint32_t next_value_id, next_op_id;
  lathe_loc_t loc;
  lathe_graph_t *next; /* next graph in the module */
  /* Kernel groups chosen by passes/fuse.c and read by the lowering (kernel/):
   * fusion[op->id] is the op's group, 0 = none; ops sharing a nonzero group
   * lower into one kernel. NULL until the pass runs; ops created later
   * (id >= fusion_size) are ungrouped. Module-arena memory. */
  uint32_t *fusion;
  uint32_t fusion_size;
};

/* ---- module ---------------------------------------------------------------- */

/* Creates an empty module. `source_name` (may be NULL) is used in diagnostics. */
lathe_module_t *lathe_module_create(const char *source_name);
/* Frees the module, its graphs, weights and arena. NULL is fine. */
void lathe_module_destroy(lathe_module_t *module);

lathe_arena_t *lathe_module_arena(lathe_module_t *module);
const char *lathe_module_source_name(const lathe_module_t *module);
/* Returns the canonical copy of a symbol name (symbolic dims compare by pointer). */
const char *lathe_module_intern(lathe_module_t *module, const char *name);
lathe_graph_t *lathe_module_first_graph(const lathe_module_t *module);
lathe_graph_t *lathe_module_find_graph(const lathe_module_t *module, const char *name);
uint32_t lathe_module_num_graphs(const lathe_module_t *module);

/* Weight sources declared by the module (`weights "x.safetensors"`), in order. */
uint32_t lathe_module_num_weight_sources(const lathe_module_t *module);
const lathe_weight_source_t *lathe_module_weight_source(const lathe_module_t *module, uint32_t i);
/* Takes ownership of `source` (closed with the module). `display_path` is how
 * the source is printed back. */
void lathe_module_add_weight_source(lathe_module_t *module, const char *display_path,
                                    const lathe_weight_source_t *source);
const char *lathe_module_weight_source_display_path(const lathe_module_t *module, uint32_t i);

/* ---- weights --------------------------------------------------------------- */

/* Copies `num_bytes` into a new INLINE weight owned by the module. */
lathe_status_t lathe_weight_create_inline(lathe_module_t *module, lathe_dtype_t dtype,
                                          const void *data, uint64_t num_bytes,
                                          lathe_weight_t **out_weight);
/* Takes ownership of a malloc'd buffer as a new INLINE weight. */
lathe_weight_t *lathe_weight_adopt_buffer(lathe_module_t *module, lathe_dtype_t dtype,
                                          void *buffer, uint64_t num_bytes);
/* A FILE weight viewing [offset, offset+num_bytes) of `file` (retained).
 * `display_path` is how the path is printed. Checks the range. */
lathe_status_t lathe_weight_create_file_view(lathe_module_t *module, lathe_dtype_t dtype,
                                             lathe_mapped_file_t *file, const char *display_path,
                                             uint64_t offset, uint64_t num_bytes,
                                             lathe_weight_t **out_weight);
/* A NAMED weight: looks `name` up in the module's weight sources (first match). */
lathe_status_t lathe_weight_create_named(lathe_module_t *module, const char *name,
                                         lathe_weight_source_entry_t *out_entry,
                                         lathe_weight_t **out_weight);

/* ---- graph ----------------------------------------------------------------- */

/* Appends a new empty graph named `name` (must be unique in the module). */
lathe_status_t lathe_graph_create(lathe_module_t *module, const char *name,
                                  lathe_graph_t **out_graph);
/* Adds an input value; `name` may be NULL. The type is copied. */
lathe_value_t *lathe_graph_add_input(lathe_graph_t *graph, const char *name,
                                     const lathe_type_t *type);
/* The final `return` op, or NULL if the graph has none yet. */
lathe_op_t *lathe_graph_return(const lathe_graph_t *graph);
uint32_t lathe_graph_num_outputs(const lathe_graph_t *graph);
lathe_value_t *lathe_graph_output(const lathe_graph_t *graph, uint32_t i);

#define LATHE_GRAPH_FOR_EACH_OP(graph, op) \
  for (lathe_op_t *op = (graph)->first; op; op = op->next)
/* Safe against erasing `op` in the body. */
#define LATHE_GRAPH_FOR_EACH_OP_SAFE(graph, op, tmp)                   \
  for (lathe_op_t *op = (graph)->first, *tmp = op ? op->next : NULL; op; \
       op = tmp, tmp = op ? op->next : NULL)

/* ---- building ops ---------------------------------------------------------- */

/* Where new ops go: before `before`, or at the end of the graph when NULL.
 * New ops get `loc`. */
typedef struct lathe_builder {
  lathe_graph_t *graph;
  lathe_op_t *before;
  lathe_loc_t loc;
} lathe_builder_t;

lathe_builder_t lathe_builder_at_end(lathe_graph_t *graph);
lathe_builder_t lathe_builder_before(lathe_op_t *op);

/* Creates an op of `kind` with the given operands (NULL entries are absent
 * optional operands) and attributes (copied; any order: they are sorted into
 * schema order), infers its result types with the registry and inserts it.
 * `num_results` 0 means the registry's minimum. Fails, inserting nothing, when
 * the arity, attributes or inference reject it. */
lathe_status_t lathe_build_op(lathe_builder_t *b, lathe_op_kind_t kind, uint32_t num_operands,
                              lathe_value_t *const *operands, uint32_t num_attrs,
                              const lathe_attr_t *attrs, uint32_t num_results,
                              lathe_op_t **out_op);
/* Same, with result types given (copied) instead of inferred; no checks beyond
 * arity (the verifier checks the rest). Used by the parser. */
lathe_op_t *lathe_build_op_typed(lathe_builder_t *b, lathe_op_kind_t kind, uint32_t num_operands,
                                 lathe_value_t *const *operands, uint32_t num_attrs,
                                 const lathe_attr_t *attrs, uint32_t num_results,
                                 const lathe_type_t *result_types);
/* A `const` op producing `type` from `weight` (sizes must match). */
lathe_status_t lathe_build_const(lathe_builder_t *b, lathe_weight_t *weight,
                                 const lathe_type_t *type, lathe_value_t **out_value);
/* Builds the graph's `return` op at the end. */
lathe_op_t *lathe_build_return(lathe_graph_t *graph, uint32_t num_values,
                               lathe_value_t *const *values);

/* Checks operand and result counts against the registry. */
lathe_status_t lathe_op_check_arity(lathe_op_kind_t kind, uint32_t num_operands,
                                    uint32_t num_results);
/* Runs the registry's inference for `op` as it stands (operands and
 * attributes), writing op->num_results types into out_types (dims in the
 * module arena). Errors carry the op's location. Ops without inference
 * (const, return) report their current result types. */
lathe_status_t lathe_op_infer_types(const lathe_op_t *op, lathe_type_t *out_types);

/* ---- mutating -------------------------------------------------------------- */

/* Points operand `index` of `op` at `value` (NULL clears it), fixing use lists. */
void lathe_op_set_operand(lathe_op_t *op, uint32_t index, lathe_value_t *value);
/* Makes every use of `from` use `to` instead. */
void lathe_value_replace_all_uses(lathe_value_t *from, lathe_value_t *to);
bool lathe_value_has_uses(const lathe_value_t *value);
uint32_t lathe_value_num_uses(const lathe_value_t *value);
/* Unlinks `op` from its graph and drops its operand uses. Its results must
 * have no uses left (returns false and does nothing otherwise). */
bool lathe_op_erase(lathe_op_t *op);
/* Moves `op` to just before `before` in the same graph. */
void lathe_op_move_before(lathe_op_t *op, lathe_op_t *before);
/* Replaces the type of a value (copied into the module arena). */
void lathe_value_set_type(lathe_value_t *value, const lathe_type_t *type);

/* ---- attributes ------------------------------------------------------------ */

/* Explicitly set attribute named `name`, or NULL. */
const lathe_attr_t *lathe_op_find_attr(const lathe_op_t *op, const char *name);
/* Attribute value, or the registry default when absent. */
int64_t lathe_op_attr_int(const lathe_op_t *op, const char *name);
double lathe_op_attr_float(const lathe_op_t *op, const char *name);
const char *lathe_op_attr_string(const lathe_op_t *op, const char *name);
lathe_dtype_t lathe_op_attr_dtype(const lathe_op_t *op, const char *name);
/* List attributes: count (0 when absent) and data (borrowed). */
size_t lathe_op_attr_ints(const lathe_op_t *op, const char *name, const int64_t **out_data);
size_t lathe_op_attr_floats(const lathe_op_t *op, const char *name, const double **out_data);
/* Sets or replaces an attribute (payload copied into the module arena). */
void lathe_op_set_attr(lathe_op_t *op, const lathe_attr_t *attr);
void lathe_op_remove_attr(lathe_op_t *op, const char *name);

/* Attribute constructors (payloads are borrowed until passed to a builder or
 * lathe_op_set_attr, which copy them). */
lathe_attr_t lathe_attr_int(const char *name, int64_t v);
lathe_attr_t lathe_attr_float(const char *name, double v);
lathe_attr_t lathe_attr_string(const char *name, const char *v);
lathe_attr_t lathe_attr_dtype(const char *name, lathe_dtype_t v);
lathe_attr_t lathe_attr_ints(const char *name, const int64_t *v, size_t n);
lathe_attr_t lathe_attr_floats(const char *name, const double *v, size_t n);
/* Deep-equality of two attributes (name, kind, payload). */
bool lathe_attr_equal(const lathe_attr_t *a, const lathe_attr_t *b);

/* ---- locations & diagnostics ----------------------------------------------- */

/* "file:line:col" (or the module source name, or NULL) for status locations;
 * arena-allocated. */
const char *lathe_loc_format(lathe_module_t *module, lathe_loc_t loc);
/* A failure status located at `op`: "file:line:col: error: op 'matmul': ...". */
lathe_status_t lathe_op_error(const lathe_op_t *op, lathe_status_code_t code, const char *fmt,
                              ...) __attribute__((format(printf, 3, 4)));

#endif
