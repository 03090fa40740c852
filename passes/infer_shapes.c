/* infer-shapes: refine declared result types with what inference derives.
 *
 * What: walks the ops of a graph in order, re-runs the registry's shape/type
 * inference on each, and merges the result into the declared types: a `?` dim
 * becomes the static size or symbol that inference derives, and because the
 * walk is in def-before-use order, each refinement feeds the inference of the
 * ops after it (a static batch size given on an input reaches the outputs; a
 * symbolic dim like `N` flows through reshape and broadcast).
 *
 * Why: importers and hand-written IR often leave dims unknown; shape-dependent
 * passes (folding `shape`, canonicalizing reshapes, memory planning) can only
 * act on what the types say.
 *
 * Contradictions are errors, located at the op: a different dtype or rank, or
 * a dim that inference knows and the declaration states differently. A dim
 * declared more precisely than inference can derive is kept (the IR allows a
 * declaration to be more precise than its operands imply).
 *
 * Preconditions: operands are defined before use (a verified graph, possibly
 * with unknown dims). Postconditions: every declared type refines its inferred
 * type, with no `?` where inference knows better. Options: none.
 */
#include "passes/pass.h"

static lathe_status_t contradiction(const lathe_op_t *op, uint32_t i, const lathe_type_t *declared,
                                    const lathe_type_t *inferred) {
  lathe_strbuf_t a, b;
  lathe_strbuf_init(&a);
  lathe_strbuf_init(&b);
  lathe_type_print(&a, declared);
  lathe_type_print(&b, inferred);
  lathe_status_t st = lathe_op_error(op, LATHE_STATUS_VERIFY_ERROR,
                                     "result %u is declared %s but inference derives %s", i,
                                     lathe_strbuf_cstr(&a), lathe_strbuf_cstr(&b));
  lathe_strbuf_destroy(&a);
  lathe_strbuf_destroy(&b);
  return st;
}

/* Merges `inferred` into `declared`, writing the dims into `out_dims`.
 * Returns false on a contradiction. */
static bool merge(const lathe_type_t *declared, const lathe_type_t *inferred,
                  lathe_dim_t *out_dims) {
  if (declared->dtype != inferred->dtype || declared->rank != inferred->rank) return false;
  for (uint32_t d = 0; d < declared->rank; ++d) {
    lathe_dim_t have = declared->dims[d], got = inferred->dims[d];
    if (lathe_dim_is_unknown(got)) out_dims[d] = have;
    else if (lathe_dim_is_unknown(have) || lathe_dim_equal(have, got)) out_dims[d] = got;
    else return false;
  }
  return true;
}

static lathe_status_t refine_op(lathe_pass_ctx_t *ctx, lathe_op_t *op) {
  if (!lathe_op_info(op->kind)->infer || op->num_results == 0) return NULL;
  lathe_type_t inferred[op->num_results];
  LATHE_RETURN_IF_ERROR(lathe_op_infer_types(op, inferred));
  for (uint32_t i = 0; i < op->num_results; ++i) {
    lathe_value_t *v = &op->results[i];
    lathe_dim_t dims[LATHE_MAX_RANK];
    if (!merge(&v->type, &inferred[i], dims)) return contradiction(op, i, &v->type, &inferred[i]);
    lathe_type_t refined = {v->type.dtype, v->type.rank, v->type.rank ? dims : NULL};
    if (lathe_type_equal(&refined, &v->type)) continue;
    lathe_value_set_type(v, &refined);
    lathe_pass_mark_changed(ctx);
  }
  return NULL;
}

lathe_status_t lathe_pass_infer_shapes_run(lathe_pass_ctx_t *ctx, lathe_graph_t *graph) {
  LATHE_GRAPH_FOR_EACH_OP(graph, op) LATHE_RETURN_IF_ERROR(refine_op(ctx, op));
  return NULL;
}
