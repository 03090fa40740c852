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
 * Verified IR already declares every type at least as precisely as inference
 * can derive it, so on its own the pass matters for IR built without checks
 * (importers) and after passes that change types. Its option `bind` is such a
 * change: `infer-shapes{bind="N=8,seq=128"}` specializes symbolic dims to
 * sizes everywhere in the graph (inputs and declared results), and the walk
 * then derives what that makes static (a reshape's -1, a shape-dependent
 * result that was `?`).
 *
 * Preconditions: operands are defined before use (a verified graph, possibly
 * with unknown dims). Postconditions: every declared type refines its inferred
 * type, with no `?` where inference knows better; no bound symbol is left.
 * Options: bind (string, default ""): comma- or space-separated NAME=SIZE.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "passes/pass.h"

typedef struct {
  uint32_t count;
  const char *syms[LATHE_MAX_RANK * 4]; /* interned */
  int64_t sizes[LATHE_MAX_RANK * 4];
} bindings_t;

/* Parses "N=8,seq=128" (commas or blanks between entries). */
static lathe_status_t parse_bindings(lathe_module_t *m, const char *text, bindings_t *out) {
  out->count = 0;
  for (const char *p = text; *p;) {
    if (*p == ',' || isspace((unsigned char)*p)) {
      ++p;
      continue;
    }
    size_t len = strcspn(p, ", \t");
    const char *eq = memchr(p, '=', len);
    char name[128];
    char *end = NULL;
    long long size = -1;
    if (eq && eq > p && (size_t)(eq - p) < sizeof name) {
      errno = 0;
      size = strtoll(eq + 1, &end, 10);
      if (errno || end != p + len || end == eq + 1) size = -1;
    }
    if (size < 0)
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                               "option 'bind' expects NAME=SIZE entries, "
                               "got '%.*s'",
                               (int)len, p);
    if (out->count == sizeof out->sizes / sizeof out->sizes[0])
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                               "option 'bind' binds too many symbols");
    memcpy(name, p, (size_t)(eq - p));
    name[eq - p] = '\0';
    out->syms[out->count] = lathe_module_intern(m, name);
    out->sizes[out->count++] = size;
    p += len;
  }
  return NULL;
}

/* Replaces bound symbols in `v`'s type; true when it changed. */
static bool bind_value(const bindings_t *b, lathe_value_t *v) {
  lathe_dim_t dims[LATHE_MAX_RANK];
  bool changed = false;
  for (uint32_t d = 0; d < v->type.rank; ++d) {
    dims[d] = v->type.dims[d];
    for (uint32_t i = 0; i < b->count && dims[d].sym; ++i)
      if (dims[d].sym == b->syms[i]) {
        dims[d] = lathe_dim_static(b->sizes[i]);
        changed = true;
      }
  }
  if (changed) {
    lathe_type_t t = {v->type.dtype, v->type.rank, dims};
    lathe_value_set_type(v, &t);
  }
  return changed;
}

static lathe_status_t bind_graph(lathe_pass_ctx_t *ctx, lathe_graph_t *g) {
  const char *text = lathe_pass_option_string(ctx, "bind");
  if (!*text) return NULL;
  bindings_t b;
  LATHE_RETURN_IF_ERROR(parse_bindings(ctx->module, text, &b));
  bool changed = false;
  for (uint32_t i = 0; i < g->num_inputs; ++i) changed |= bind_value(&b, g->inputs[i]);
  LATHE_GRAPH_FOR_EACH_OP(g, op)
  for (uint32_t i = 0; i < op->num_results; ++i) changed |= bind_value(&b, &op->results[i]);
  if (changed) lathe_pass_mark_changed(ctx);
  return NULL;
}

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
  LATHE_RETURN_IF_ERROR(bind_graph(ctx, graph));
  LATHE_GRAPH_FOR_EACH_OP(graph, op) LATHE_RETURN_IF_ERROR(refine_op(ctx, op));
  return NULL;
}
