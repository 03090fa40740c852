/* The reference evaluator behind fold-constants (internal to passes/).
 *
 * One table maps op kinds to evaluators. An evaluator gets the op, its
 * operands as literals (entries are zeroed for absent optional operands and
 * for operands the evaluator does not read, see needs_constant_operands) and
 * a zeroed output buffer of the result's static type, and either fills it and
 * returns true, or returns false to leave the op alone (a dtype it does not
 * handle, an integer division by zero, an out-of-range index...). Evaluators
 * never fail with an error: not folding is always correct.
 *
 * Elementwise ops share one broadcasting loop (fold_eval.c) and differ only
 * in a scalar function per domain (double / int64); data movement ops
 * (fold_eval_move.c) copy whole elements as bytes, so they work on every
 * non-packed dtype.
 */
#ifndef LATHE_PASSES_FOLD_EVAL_H
#define LATHE_PASSES_FOLD_EVAL_H

#include "passes/literal.h"

typedef bool (*lathe_fold_fn_t)(const lathe_op_t *op, const lathe_literal_t *operands,
                                const lathe_type_t *result_type, void *out);

typedef struct lathe_fold_rule {
  lathe_fold_fn_t eval;
  /* false for ops that read only their operands' types (shape, size). */
  bool needs_constant_operands;
} lathe_fold_rule_t;

/* The rule for `kind`, or NULL when the folder does not know the op. */
const lathe_fold_rule_t *lathe_fold_rule(lathe_op_kind_t kind);

/* Evaluators for data movement and shape queries (fold_eval_move.c). */
bool lathe_fold_copy(const lathe_op_t *op, const lathe_literal_t *in, const lathe_type_t *rt,
                     void *out);
bool lathe_fold_transpose(const lathe_op_t *op, const lathe_literal_t *in, const lathe_type_t *rt,
                          void *out);
bool lathe_fold_concat(const lathe_op_t *op, const lathe_literal_t *in, const lathe_type_t *rt,
                       void *out);
bool lathe_fold_slice(const lathe_op_t *op, const lathe_literal_t *in, const lathe_type_t *rt,
                      void *out);
bool lathe_fold_gather(const lathe_op_t *op, const lathe_literal_t *in, const lathe_type_t *rt,
                       void *out);
bool lathe_fold_shape(const lathe_op_t *op, const lathe_literal_t *in, const lathe_type_t *rt,
                      void *out);
bool lathe_fold_size(const lathe_op_t *op, const lathe_literal_t *in, const lathe_type_t *rt,
                     void *out);

/* Row-major strides (in elements) of `t` read as if broadcast to `to`:
 * broadcast dims get stride 0. `t` must be static and broadcastable. */
void lathe_fold_broadcast_strides(const lathe_type_t *t, const lathe_type_t *to,
                                  int64_t *out_strides);

#endif
