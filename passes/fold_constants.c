/* fold-constants: evaluate ops on constants at compile time.
 *
 * What: an op whose operands are all `const` ops (or, for `shape` and `size`,
 * whose operand merely has static dims) and whose result is static and small
 * is evaluated by the reference evaluator (fold_eval.c, fold_eval_move.c) and
 * replaced by a `const` holding the result in a new inline weight. The walk is
 * in program order, so a chain of foldable ops folds in one run. The replaced
 * op is erased; its now unused constant operands are left for `dce`.
 *
 * Why: importers leave shape arithmetic (shape -> gather -> concat ->
 * reshape) and constant preprocessing of weights (transpose, cast, scale) in
 * the graph; folding them gives later passes static attributes and fewer ops
 * to lower.
 *
 * Folded: elementwise unary/binary/variadic arithmetic, comparisons and
 * logic with broadcasting; cast; reshape, flatten, squeeze, unsqueeze,
 * identity; transpose; concat; slice; gather; shape; size. Ops outside the
 * table, and cases the evaluator declines (unsupported dtypes, integer
 * division by zero, out-of-range indices) are left alone.
 *
 * The new constant keeps the replaced value's name, so the printed IR reads
 * the same apart from the definition.
 *
 * Preconditions: a verified graph. Postconditions: no op in the table has
 * only constant operands and a static result of at most max-elements
 * elements (unless the evaluator declined it). Options: max-elements (int,
 * default 65536): results with more elements stay as ops, so folding never
 * turns a cheap op over a small weight into a large new weight.
 */
#include <stdlib.h>
#include <string.h>

#include "passes/fold_eval.h"
#include "passes/pass.h"
#include "passes/passes.h"

/* Gathers the operands as literals; false when a required one is not a
 * readable constant. Absent optional operands stay zeroed. */
static bool collect_operands(const lathe_op_t *op, const lathe_fold_rule_t *rule,
                             lathe_literal_t *in) {
  for (uint32_t j = 0; j < op->num_operands; ++j) {
    const lathe_value_t *v = op->operands[j].value;
    memset(&in[j], 0, sizeof in[j]);
    if (!v) continue;
    if (lathe_literal_of(v, &in[j])) continue;
    if (rule->needs_constant_operands) return false;
    in[j].type = v->type; /* only the type is read */
  }
  return true;
}

lathe_status_t lathe_fold_evaluate(const lathe_op_t *op, lathe_weight_t **out_weight) {
  *out_weight = NULL;
  const lathe_fold_rule_t *rule = lathe_fold_rule(op->kind);
  if (!rule || op->num_results != 1) return NULL;
  const lathe_type_t *rt = &op->results[0].type;
  int64_t count;
  uint64_t bytes;
  if (!lathe_type_is_static(rt) || !lathe_literal_dtype_supported(rt->dtype)) return NULL;
  lathe_status_t st = lathe_type_num_elements(rt, &count);
  if (!st) st = lathe_type_num_bytes(rt, &bytes);
  if (st) return lathe_status_free(st), NULL;

  enum { MAX_OPERANDS = 64 };
  if (op->num_operands > MAX_OPERANDS) return NULL;
  lathe_literal_t in[MAX_OPERANDS];
  if (!collect_operands(op, rule, in)) return NULL;

  void *buf = calloc(1, bytes ? (size_t)bytes : 1);
  if (!buf) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  /* An empty result needs no evaluation (and its operands may have no bytes). */
  if (count > 0 && !rule->eval(op, in, rt, buf)) {
    free(buf);
    return NULL;
  }
  *out_weight = lathe_weight_adopt_buffer(op->graph->module, rt->dtype, buf, bytes);
  return NULL;
}

/* Evaluates `op` into a new const inserted before it; *out_folded tells
 * whether it did. */
static lathe_status_t fold_op(lathe_op_t *op, int64_t max_elements, bool *out_folded) {
  *out_folded = false;
  if (op->num_results != 1) return NULL;
  lathe_value_t *result = &op->results[0];
  const lathe_type_t *rt = &result->type;
  int64_t count;
  if (!lathe_type_is_static(rt)) return NULL;
  lathe_status_t st = lathe_type_num_elements(rt, &count);
  if (st) return lathe_status_free(st), NULL;
  if (count > max_elements) return NULL;
  lathe_weight_t *w;
  LATHE_RETURN_IF_ERROR(lathe_fold_evaluate(op, &w));
  if (!w) return NULL;
  lathe_builder_t b = lathe_builder_before(op);
  lathe_value_t *folded;
  LATHE_RETURN_IF_ERROR(lathe_build_const(&b, w, rt, &folded));
  folded->name = result->name;
  lathe_value_replace_all_uses(result, folded);
  lathe_op_erase(op);
  *out_folded = true;
  return NULL;
}

lathe_status_t lathe_pass_fold_constants_run(lathe_pass_ctx_t *ctx, lathe_graph_t *graph) {
  int64_t max_elements = lathe_pass_option_int(ctx, "max-elements");
  LATHE_GRAPH_FOR_EACH_OP_SAFE(graph, op, next) {
    bool folded;
    LATHE_RETURN_IF_ERROR(fold_op(op, max_elements, &folded));
    if (folded) lathe_pass_mark_changed(ctx);
  }
  return NULL;
}
