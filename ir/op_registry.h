/* The op registry: one table (ir/ops.def) is the single source of truth for
 * each op kind: text name, arity, attribute schema, shape/type inference, extra
 * verification and traits. Adding an op is one entry in ops.def plus, when no
 * existing inference family fits, one inference function.
 *
 * Included by ir/ir.h; use that header.
 */
#ifndef LATHE_IR_OP_REGISTRY_H
#define LATHE_IR_OP_REGISTRY_H

#include <stdint.h>

#include "ir/attr.h"
#include "ir/type.h"
#include "support/status.h"

/* Traits that passes query instead of listing op kinds. */
enum {
  LATHE_OPF_ELEMENTWISE = 1u << 0, /* result[i] depends on operand[...][i] only (with broadcast) */
  LATHE_OPF_COMMUTATIVE = 1u << 1, /* binary and operand order does not matter */
  LATHE_OPF_TERMINATOR = 1u << 2,  /* `return` */
  LATHE_OPF_CONSTANT = 1u << 3,    /* `const`: result bytes come from a weight */
  LATHE_OPF_NO_CSE = 1u << 4,      /* never merge two instances (e.g. random ops) */
  LATHE_OPF_IDENTITY_LIKE = 1u << 5, /* result equals operand 0 at inference time */
};

typedef enum {
#define OP(e, ...) LATHE_OP_##e,
#include "ir/ops.def"
#undef OP
  LATHE_OP_KIND_COUNT
} lathe_op_kind_t;

/* What an inference function gets: the op (operands and attributes are set,
 * results not yet) and the result types to fill in. Dims must be allocated in
 * `arena` (lathe_type_make). Errors are returned without location; the caller
 * adds the op's. */
typedef struct lathe_infer_ctx {
  const struct lathe_op *op;
  struct lathe_module *module;
  lathe_arena_t *arena;
  uint32_t num_results;
  lathe_type_t *results;
} lathe_infer_ctx_t;

typedef lathe_status_t (*lathe_infer_fn_t)(lathe_infer_ctx_t *ctx);
/* Extra checks beyond arity/attributes/inference (value ranges, consistency
 * between attributes); may be NULL. */
typedef lathe_status_t (*lathe_verify_fn_t)(const struct lathe_op *op);

typedef struct lathe_op_info {
  const char *name;
  int32_t min_operands, max_operands; /* max -1: variadic */
  int32_t min_results, max_results;   /* max -1: variadic */
  uint32_t flags;
  lathe_infer_fn_t infer;
  lathe_verify_fn_t verify;
  const lathe_attr_schema_t *attrs; /* terminated by an entry with name == NULL */
} lathe_op_info_t;

const lathe_op_info_t *lathe_op_info(lathe_op_kind_t kind);
const char *lathe_op_name(lathe_op_kind_t kind);
/* Returns false when `name` (of `len` bytes) is not a registered op. */
bool lathe_op_kind_from_name(const char *name, size_t len, lathe_op_kind_t *out_kind);
/* Schema entry for attribute `name` of `kind`, or NULL. */
const lathe_attr_schema_t *lathe_op_attr_schema(lathe_op_kind_t kind, const char *name);
/* Index of the attribute in the schema (its canonical order), or -1. */
int lathe_op_attr_schema_index(lathe_op_kind_t kind, const char *name);

#endif
