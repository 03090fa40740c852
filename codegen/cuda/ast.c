/* isl loop ASTs of LOOPS kernels as CUDA C.
 *
 * The AST is the loop nest of the kernel's statements under the CUDA
 * schedule (loops.c); this file decides which of its loops the GPU's threads
 * share, and writes everything else as plain C:
 *
 *   flattening  a perfect nest of canonical loops becomes one index walked
 *               by a grid-stride loop (over all threads: thread mode), a
 *               block-stride loop over blocks (the rows of row mode) or over
 *               a block's threads (cooperative code); nest.c finds the nest
 *               and never includes a loop some statement reduces over.
 *   cooperative a row body (row and single-block modes) runs its children in
 *               order with __syncthreads() after each: a reduction nest (all
 *               statements below are one reduction whose target does not
 *               move) becomes a block reduction; any other loop nest is
 *               flattened over the block; a bare statement runs in thread 0.
 *   serial      per-thread code: for/if/block as written; a reduction nest
 *               accumulates in a register (load before, store after, f16/bf16
 *               rounded after every step as the interpreter does).
 *
 * A reduction's init (I<s>) directly followed by its reduction nest is not
 * stored: the nest starts from the init value instead of reloading it.
 * Iterators keep isl's names (c0, c1, ...); C scopes follow the AST's, so
 * names reused by sibling loops never clash.
 */
#include <string.h>

#include <isl/ast.h>
#include <isl/id.h>
#include <isl/val.h>

#include "codegen/cuda/internal.h"

typedef struct walk {
  gen_t *g;
  const lathe_kernel_t *k;
  uint32_t threads;
  bool *pending;      /* [num_stmts]: I<s> was skipped, the next nest starts from init */
  int32_t accum_stmt; /* >= 0: S<accum_stmt> folds into accum_var */
  const char *accum_var;
  bool accum_round;
} walk_t;

/* value (or init) of statement s at the evaluator's point, in the target's type */
static const char *stmt_value(walk_t *w, ev_t *e, const lathe_kstmt_t *s, bool init) {
  const lathe_kexpr_t *x = init ? s->init : s->value;
  const char *v = ev_expr(e, x);
  return v ? cu_cast(w->g, w->g->p->buffers[s->target]->dtype, x->dtype, v) : NULL;
}

static const char *combine(walk_t *w, const lathe_kstmt_t *s, const char *a, const char *b) {
  lathe_dtype_t t = w->g->p->buffers[s->target]->dtype;
  return cu_op(w->g, cu_combine_op(s->combiner), t, a, b);
}

static void serial_user(walk_t *w, __isl_keep isl_ast_node *node) {
  gen_t *g = w->g;
  gen_line(g, "{");
  g->indent++;
  const char *iters[LATHE_KMAX_ITERS];
  uint32_t si;
  bool init;
  if (cu_ast_call_iters(w->g, node, false, &si, &init, iters)) {
    const lathe_kstmt_t *s = w->k->stmts[si];
    lathe_dtype_t t = g->p->buffers[s->target]->dtype;
    ev_t e;
    ev_init(&e, g, iters, NULL);
    if (!init && w->accum_stmt == (int32_t)si) {
      const char *v = stmt_value(w, &e, s, false), *r = v ? combine(w, s, w->accum_var, v) : NULL;
      if (r) gen_line(g, "%s = %s;", w->accum_var, w->accum_round ? cu_round(g, t, r) : r);
    } else if (!init || s->init) {
      const char *flat = ev_flat(&e, s->target, s->target_index);
      const char *v = stmt_value(w, &e, s, init);
      if (v && !init && s->combiner != LATHE_KCOMB_NONE)
        v = combine(w, s, cu_load(g, s->target, flat), v);
      if (flat && v) cu_store(g, s->target, flat, v);
    }
    ev_free(&e);
  }
  g->indent--;
  gen_line(g, "}");
}

/* The target's flat index and starting value for a reduction nest of
 * statement si at `node`, evaluated outside the nest. */
static bool nest_target(walk_t *w, __isl_keep isl_ast_node *node, uint32_t si, ev_t *e,
                        const char **flat) {
  isl_ast_node *user = cu_ast_first_user(node);
  const char **iters = LATHE_ARENA_NEW_ARRAY(&w->g->arena, const char *, LATHE_KMAX_ITERS);
  uint32_t s2;
  bool init, ok = user && cu_ast_call_iters(w->g, user, true, &s2, &init, iters) && s2 == si;
  isl_ast_node_free(user);
  if (!ok) return false;
  ev_init(e, w->g, iters, NULL);
  *flat = ev_flat(e, w->k->stmts[si]->target, w->k->stmts[si]->target_index);
  return *flat != NULL;
}

static const char *start_value(walk_t *w, ev_t *e, uint32_t si, const char *flat) {
  const lathe_kstmt_t *s = w->k->stmts[si];
  bool from_init = w->pending[si] && s->init;
  w->pending[si] = false;
  return from_init ? stmt_value(w, e, s, true) : cu_load(w->g, s->target, flat);
}

static void serial(walk_t *w, __isl_keep isl_ast_node *node);

/* A reduction nest in one thread: the target lives in a register. */
static void serial_accumulate(walk_t *w, __isl_keep isl_ast_node *node, uint32_t si) {
  gen_t *g = w->g;
  const lathe_kstmt_t *s = w->k->stmts[si];
  lathe_dtype_t t = g->p->buffers[s->target]->dtype;
  gen_line(g, "{");
  g->indent++;
  ev_t e;
  const char *flat;
  if (nest_target(w, node, si, &e, &flat)) {
    const char *acc = gen_tmp(g, "acc");
    const char *start = start_value(w, &e, si, flat);
    gen_line(g, "%s %s = %s;", cu_reg_type(t), acc, start ? start : "0");
    w->accum_stmt = (int32_t)si, w->accum_var = acc, w->accum_round = true;
    serial(w, node);
    w->accum_stmt = -1;
    cu_store(g, s->target, flat, acc);
    ev_free(&e);
  }
  g->indent--;
  gen_line(g, "}");
}

/* The children of a block node, or the node itself. */
static __isl_give isl_ast_node_list *children(__isl_keep isl_ast_node *n) {
  if (isl_ast_node_get_type(n) == isl_ast_node_block) return isl_ast_node_block_get_children(n);
  return isl_ast_node_list_from_ast_node(isl_ast_node_copy(n));
}

/* Whether child i is I<s> directly followed by a reduction nest of s. */
static bool init_then_nest(walk_t *w, __isl_keep isl_ast_node_list *l, int i) {
  if (i + 1 >= isl_ast_node_list_n_ast_node(l)) return false;
  isl_ast_node *c = cu_ast_strip(isl_ast_node_list_get_at(l, i));
  isl_ast_node *next = cu_ast_strip(isl_ast_node_list_get_at(l, i + 1));
  uint32_t si;
  bool init = false, yes = isl_ast_node_get_type(c) == isl_ast_node_user &&
                           cu_ast_user_stmt(w->g, c, &si, &init) && init &&
                           isl_ast_node_get_type(next) == isl_ast_node_for && w->accum_stmt < 0 &&
                           cu_ast_reduction_nest(w->g, next) == (int32_t)si;
  if (yes) w->pending[si] = true;
  isl_ast_node_free(c);
  isl_ast_node_free(next);
  return yes;
}

static void serial_if(walk_t *w, __isl_keep isl_ast_node *node,
                      void (*body)(walk_t *, __isl_keep isl_ast_node *)) {
  gen_t *g = w->g;
  isl_ast_expr *cond = isl_ast_node_if_get_cond(node);
  gen_line(g, "if (%s) {", cu_isl_expr(w->g, cond));
  isl_ast_expr_free(cond);
  g->indent++;
  isl_ast_node *t = isl_ast_node_if_get_then_node(node);
  body(w, t);
  isl_ast_node_free(t);
  g->indent--;
  if (isl_ast_node_if_has_else_node(node) == isl_bool_true) {
    gen_line(g, "} else {");
    g->indent++;
    isl_ast_node *e = isl_ast_node_if_get_else_node(node);
    body(w, e);
    isl_ast_node_free(e);
    g->indent--;
  }
  gen_line(g, "}");
}

static void serial_for(walk_t *w, __isl_keep isl_ast_node *node) {
  gen_t *g = w->g;
  isl_id *it = cu_ast_for_id(node);
  isl_ast_expr *init = isl_ast_node_for_get_init(node);
  isl_ast_node *body = isl_ast_node_for_get_body(node);
  const char *name = isl_id_get_name(it);
  if (isl_ast_node_for_is_degenerate(node) == isl_bool_true) {
    gen_line(g, "{");
    g->indent++;
    gen_line(g, "[[maybe_unused]] const long long %s = %s;", name, cu_isl_expr(w->g, init));
  } else {
    isl_ast_expr *cond = isl_ast_node_for_get_cond(node), *inc = isl_ast_node_for_get_inc(node);
    gen_line(g, "for (long long %s = %s; %s; %s += %s) {", name, cu_isl_expr(w->g, init),
             cu_isl_expr(w->g, cond), name, cu_isl_expr(w->g, inc));
    g->indent++;
    isl_ast_expr_free(cond);
    isl_ast_expr_free(inc);
  }
  serial(w, body);
  g->indent--;
  gen_line(g, "}");
  isl_ast_node_free(body);
  isl_ast_expr_free(init);
  isl_id_free(it);
}

static void serial(walk_t *w, __isl_keep isl_ast_node *node) {
  if (w->g->error) return;
  switch (isl_ast_node_get_type(node)) {
  case isl_ast_node_for: {
    int32_t si = w->accum_stmt < 0 ? cu_ast_reduction_nest(w->g, node) : -1;
    if (si >= 0) serial_accumulate(w, node, (uint32_t)si);
    else serial_for(w, node);
    return;
  }
  case isl_ast_node_if: serial_if(w, node, serial); return;
  case isl_ast_node_block: {
    isl_ast_node_list *l = isl_ast_node_block_get_children(node);
    for (int i = 0; i < isl_ast_node_list_n_ast_node(l); ++i) {
      if (init_then_nest(w, l, i)) continue;
      isl_ast_node *c = isl_ast_node_list_get_at(l, i);
      serial(w, c);
      isl_ast_node_free(c);
    }
    isl_ast_node_list_free(l);
    return;
  }
  case isl_ast_node_mark: {
    isl_ast_node *c = isl_ast_node_mark_get_node(node);
    serial(w, c);
    isl_ast_node_free(c);
    return;
  }
  case isl_ast_node_user: serial_user(w, node); return;
  default: gen_fail(w->g, LATHE_STATUS_INTERNAL, "unexpected AST node"); return;
  }
}

/* ---- cooperative code ---- */

/* One reduction nest by the whole block (see the file comment). */
static void block_reduce(walk_t *w, __isl_keep isl_ast_node *node, uint32_t si) {
  gen_t *g = w->g;
  const lathe_kstmt_t *s = w->k->stmts[si];
  lathe_dtype_t t = g->p->buffers[s->target]->dtype;
  const char *T = cu_reg_type(t), *W = cu_shuffle_type(t);
  const char *red = gen_tmp(g, "red"), *ident = cu_identity(g, s->combiner, t);
  const char *part = gen_shared(g, W, w->threads / 32, cu_shuffle_bytes(t), 8);
  gen_line(g, "{");
  g->indent++;
  gen_line(g, "%s %s = %s;", T, red, ident);
  cu_chain_t c;
  cu_ast_flatten(w->g, node, LATHE_KMAX_ITERS, true, &c);
  w->accum_stmt = (int32_t)si, w->accum_var = red, w->accum_round = false;
  if (c.n) {
    cu_chain_open(w->g, &c, CU_OVER_THREADS);
    serial(w, c.body);
    cu_chain_close(w->g);
  } else {
    gen_line(g, "if (threadIdx.x == 0) {");
    g->indent++;
    serial(w, node);
    g->indent--;
    gen_line(g, "}");
  }
  w->accum_stmt = -1;
  cu_chain_free(&c);
  const char *shfl = gen_str(g, "(%s)__shfl_down_sync(0xffffffffu, (%s)%s, lathe_o)", T, W, red);
  const char *step = combine(w, s, red, shfl);
  gen_line(g, "for (int lathe_o = 16; lathe_o > 0; lathe_o >>= 1) %s = %s;", red, step);
  gen_line(g, "if ((threadIdx.x & 31u) == 0u) %s[threadIdx.x >> 5] = (%s)%s;", part, W, red);
  gen_line(g, "__syncthreads();");
  gen_line(g, "if (threadIdx.x < 32u) {");
  g->indent++;
  gen_line(g, "%s = threadIdx.x < (blockDim.x >> 5) ? (%s)%s[threadIdx.x] : %s;", red, T, part,
           ident);
  gen_line(g, "for (int lathe_o = 16; lathe_o > 0; lathe_o >>= 1) %s = %s;", red, step);
  gen_line(g, "if (threadIdx.x == 0u) {");
  g->indent++;
  ev_t e;
  const char *flat;
  if (nest_target(w, node, si, &e, &flat)) {
    const char *start = start_value(w, &e, si, flat);
    const char *v = start ? combine(w, s, start, red) : NULL;
    if (v) cu_store(g, s->target, flat, v);
    ev_free(&e);
  }
  g->indent--;
  gen_line(g, "}");
  g->indent--;
  gen_line(g, "}");
  g->indent--;
  gen_line(g, "}");
}

static void cooperative(walk_t *w, __isl_keep isl_ast_node *node);

static void thread0(walk_t *w, __isl_keep isl_ast_node *node) {
  gen_line(w->g, "if (threadIdx.x == 0) {");
  w->g->indent++;
  serial(w, node);
  w->g->indent--;
  gen_line(w->g, "}");
}

static void cooperative_node(walk_t *w, __isl_keep isl_ast_node *node) {
  gen_t *g = w->g;
  if (g->error) return;
  switch (isl_ast_node_get_type(node)) {
  case isl_ast_node_mark: {
    isl_ast_node *c = isl_ast_node_mark_get_node(node);
    cooperative_node(w, c);
    isl_ast_node_free(c);
    return;
  }
  case isl_ast_node_block: cooperative(w, node); return;
  case isl_ast_node_if: serial_if(w, node, cooperative); return;
  case isl_ast_node_for: {
    int32_t si = cu_ast_reduction_nest(w->g, node);
    if (si >= 0) {
      block_reduce(w, node, (uint32_t)si);
      return;
    }
    cu_chain_t c;
    cu_ast_flatten(w->g, node, LATHE_KMAX_ITERS, false, &c);
    if (c.n) {
      cu_chain_open(w->g, &c, CU_OVER_THREADS);
      serial(w, c.body);
      cu_chain_close(w->g);
      cu_chain_free(&c);
      return;
    }
    cu_chain_free(&c);
    thread0(w, node); /* nothing to share */
    return;
  }
  default: thread0(w, node); return;
  }
}

/* Children in order, each followed by a barrier (the next child reads what
 * it wrote; the per-warp partials are reused). */
static void cooperative(walk_t *w, __isl_keep isl_ast_node *node) {
  isl_ast_node_list *l = children(node);
  for (int i = 0; i < isl_ast_node_list_n_ast_node(l); ++i) {
    if (init_then_nest(w, l, i)) continue;
    isl_ast_node *c = isl_ast_node_list_get_at(l, i);
    cooperative_node(w, c);
    isl_ast_node_free(c);
    gen_line(w->g, "__syncthreads();");
  }
  isl_ast_node_list_free(l);
}

void cu_ast_kernel(gen_t *g, __isl_keep isl_ast_node *ast, cu_map_t map, uint32_t depth,
                   uint32_t threads) {
  walk_t w = {.g = g, .k = g->k, .threads = threads, .accum_stmt = -1};
  w.pending = LATHE_ARENA_NEW_ARRAY(&g->arena, bool, g->k->num_stmts + 1);
  cu_chain_t c = {0};
  if (map != CU_MAP_SINGLE) cu_ast_flatten(g, ast, depth, false, &c);
  if (c.n && map == CU_MAP_THREAD) {
    cu_chain_open(g, &c, CU_OVER_GRID);
    serial(&w, c.body);
    cu_chain_close(g);
  } else if (c.n) {
    cu_chain_open(g, &c, CU_OVER_BLOCKS);
    cooperative(&w, c.body);
    cu_chain_close(g);
  } else if (map == CU_MAP_THREAD) {
    gen_line(g, "if (blockIdx.x == 0 && threadIdx.x == 0) {");
    g->indent++;
    serial(&w, ast);
    g->indent--;
    gen_line(g, "}");
  } else {
    gen_line(g, "if (blockIdx.x == 0) {");
    g->indent++;
    cooperative(&w, ast);
    g->indent--;
    gen_line(g, "}");
  }
  if (map != CU_MAP_SINGLE) cu_chain_free(&c);
}
