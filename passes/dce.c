/* dce: dead code elimination.
 *
 * What: removes every op none of whose results is used, except `return` (the
 * graph's outputs are its operands, so anything reachable from them stays).
 * Why: folding, CSE and canonicalization leave behind ops whose results they
 * rewired; other passes and the lowering should not pay for them.
 *
 * One backward sweep reaches the fixed point: ops are in def-before-use
 * order, so when we reach an op every op that could use its results has
 * already been visited and, if dead, erased, dropping its uses. Ops with side
 * effects do not exist in the graph IR, so "unused" means "dead".
 *
 * Preconditions: a verified graph. Postconditions: every op except `return`
 * has at least one used result; graph inputs are kept even when unused (they
 * are the graph's signature). Options: none.
 */
#include "passes/pass.h"

static bool is_dead(const lathe_op_t *op) {
  if (lathe_op_info(op->kind)->flags & LATHE_OPF_TERMINATOR) return false;
  for (uint32_t i = 0; i < op->num_results; ++i)
    if (lathe_value_has_uses(&op->results[i])) return false;
  return true;
}

lathe_status_t lathe_pass_dce_run(lathe_pass_ctx_t *ctx, lathe_graph_t *graph) {
  for (lathe_op_t *op = graph->last, *prev; op; op = prev) {
    prev = op->prev;
    if (is_dead(op) && lathe_op_erase(op)) lathe_pass_mark_changed(ctx);
  }
  return NULL;
}
