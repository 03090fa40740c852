/* isl loop ASTs of LOOPS kernels as CUDA C.
 *
 * The AST is the loop nest of the kernel's statements under the CUDA
 * schedule (loops.c); this file decides which of its loops the GPU's threads
 * share, and writes everything else as plain C:
 *
 *   flattening  a perfect nest of canonical loops (`c = lo; c < hi; c += 1`,
 *               bounds free of the nest's own iterators) becomes one index
 *               walked by a grid-stride loop (over all threads: thread mode),
 *               a block-stride loop over blocks (the rows of row mode) or
 *               over a block's threads (cooperative code); each thread
 *               decodes the iterators with / and %. A loop that some
 *               statement below reduces over is never flattened across
 *               threads, so no two threads update one element.
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

/* ---- isl expressions ---- */

static const char *ax(walk_t *w, __isl_keep isl_ast_expr *x);

static const char *arg(walk_t *w, __isl_keep isl_ast_expr *x, int i) {
  isl_ast_expr *a = isl_ast_expr_op_get_arg(x, i);
  const char *s = a ? ax(w, a) : NULL;
  isl_ast_expr_free(a);
  return s ? s : "0LL";
}

static const char *ax(walk_t *w, __isl_keep isl_ast_expr *x) {
  gen_t *g = w->g;
  switch (isl_ast_expr_get_type(x)) {
  case isl_ast_expr_int: {
    isl_val *v = isl_ast_expr_get_val(x);
    long n = isl_val_get_num_si(v);
    isl_val_free(v);
    return gen_str(g, n < 0 ? "(%ldLL)" : "%ldLL", n);
  }
  case isl_ast_expr_id: {
    isl_id *id = isl_ast_expr_get_id(x);
    int32_t param = lathe_kprogram_param_of_id(g->p, id);
    const char *s =
        param >= 0 ? gen_param(g, (uint32_t)param) : gen_str(g, "%s", isl_id_get_name(id));
    isl_id_free(id);
    return s;
  }
  case isl_ast_expr_op: break;
  default: return gen_fail(g, LATHE_STATUS_INTERNAL, "unexpected isl expression");
  }
  static const struct {
    enum isl_ast_expr_op_type op;
    const char *fmt;
  } forms[] = {
      {isl_ast_expr_op_add, "(%s + %s)"},       {isl_ast_expr_op_sub, "(%s - %s)"},
      {isl_ast_expr_op_mul, "(%s * %s)"},       {isl_ast_expr_op_div, "(%s / %s)"},
      {isl_ast_expr_op_pdiv_q, "(%s / %s)"},    {isl_ast_expr_op_fdiv_q, "lathe_fdiv(%s, %s)"},
      {isl_ast_expr_op_pdiv_r, "(%s %% %s)"},   {isl_ast_expr_op_zdiv_r, "(%s %% %s)"},
      {isl_ast_expr_op_eq, "(%s == %s)"},       {isl_ast_expr_op_le, "(%s <= %s)"},
      {isl_ast_expr_op_lt, "(%s < %s)"},        {isl_ast_expr_op_ge, "(%s >= %s)"},
      {isl_ast_expr_op_gt, "(%s > %s)"},        {isl_ast_expr_op_and, "(%s && %s)"},
      {isl_ast_expr_op_and_then, "(%s && %s)"}, {isl_ast_expr_op_or, "(%s || %s)"},
      {isl_ast_expr_op_or_else, "(%s || %s)"},
  };
  enum isl_ast_expr_op_type op = isl_ast_expr_op_get_type(x);
  isl_size n = isl_ast_expr_op_get_n_arg(x);
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; ++i)
    if (forms[i].op == op) return gen_str(g, forms[i].fmt, arg(w, x, 0), arg(w, x, 1));
  switch (op) {
  case isl_ast_expr_op_minus: return gen_str(g, "(-%s)", arg(w, x, 0));
  case isl_ast_expr_op_min:
  case isl_ast_expr_op_max: {
    const char *r = arg(w, x, 0);
    for (int i = 1; i < n; ++i)
      r = gen_str(g, "lathe_%s64(%s, %s)", op == isl_ast_expr_op_min ? "min" : "max", r,
                  arg(w, x, i));
    return r;
  }
  case isl_ast_expr_op_cond:
  case isl_ast_expr_op_select:
    return gen_str(g, "(%s ? %s : %s)", arg(w, x, 0), arg(w, x, 1), arg(w, x, 2));
  default: return gen_fail(g, LATHE_STATUS_UNSUPPORTED, "isl operation %d in a loop bound", op);
  }
}

static bool uses_id(__isl_keep isl_ast_expr *x, __isl_keep isl_id *id) {
  if (isl_ast_expr_get_type(x) == isl_ast_expr_id) {
    isl_id *mine = isl_ast_expr_get_id(x);
    bool same = mine == id;
    isl_id_free(mine);
    return same;
  }
  if (isl_ast_expr_get_type(x) != isl_ast_expr_op) return false;
  bool used = false;
  for (int i = 0; i < isl_ast_expr_op_get_n_arg(x) && !used; ++i) {
    isl_ast_expr *a = isl_ast_expr_op_get_arg(x, i);
    used = uses_id(a, id);
    isl_ast_expr_free(a);
  }
  return used;
}

/* ---- AST queries ---- */

/* The node below any marks (a new reference). */
static __isl_give isl_ast_node *strip(__isl_take isl_ast_node *n) {
  while (n && isl_ast_node_get_type(n) == isl_ast_node_mark) {
    isl_ast_node *c = isl_ast_node_mark_get_node(n);
    isl_ast_node_free(n);
    n = c;
  }
  return n;
}

static isl_id *for_id(__isl_keep isl_ast_node *f) {
  isl_ast_expr *it = isl_ast_node_for_get_iterator(f);
  isl_id *id = isl_ast_expr_get_id(it);
  isl_ast_expr_free(it);
  return id;
}

/* What a subtree holds: its user calls and the iterators of its loops. */
#define MAX_FOUND 256
typedef struct found {
  isl_ast_node *users[MAX_FOUND];
  isl_id *loops[MAX_FOUND];
  uint32_t num_users, num_loops;
  bool overflow;
} found_t;

static void collect(__isl_keep isl_ast_node *n, found_t *f) {
  switch (isl_ast_node_get_type(n)) {
  case isl_ast_node_for: {
    if (f->num_loops < MAX_FOUND) f->loops[f->num_loops++] = for_id(n);
    else f->overflow = true;
    isl_ast_node *b = isl_ast_node_for_get_body(n);
    collect(b, f);
    isl_ast_node_free(b);
    return;
  }
  case isl_ast_node_if: {
    isl_ast_node *t = isl_ast_node_if_get_then_node(n);
    collect(t, f);
    isl_ast_node_free(t);
    if (isl_ast_node_if_has_else_node(n) == isl_bool_true) {
      isl_ast_node *e = isl_ast_node_if_get_else_node(n);
      collect(e, f);
      isl_ast_node_free(e);
    }
    return;
  }
  case isl_ast_node_block: {
    isl_ast_node_list *l = isl_ast_node_block_get_children(n);
    for (int i = 0; i < isl_ast_node_list_n_ast_node(l); ++i) {
      isl_ast_node *c = isl_ast_node_list_get_at(l, i);
      collect(c, f);
      isl_ast_node_free(c);
    }
    isl_ast_node_list_free(l);
    return;
  }
  case isl_ast_node_mark: {
    isl_ast_node *c = isl_ast_node_mark_get_node(n);
    collect(c, f);
    isl_ast_node_free(c);
    return;
  }
  case isl_ast_node_user:
    if (f->num_users < MAX_FOUND) f->users[f->num_users++] = isl_ast_node_copy(n);
    else f->overflow = true;
    return;
  default: f->overflow = true; return;
  }
}

static void found_free(found_t *f) {
  for (uint32_t i = 0; i < f->num_users; ++i) isl_ast_node_free(f->users[i]);
  for (uint32_t i = 0; i < f->num_loops; ++i) isl_id_free(f->loops[i]);
}

/* Whether argument range [from, to) of a user call uses one of `ids`. */
static bool call_uses(__isl_keep isl_ast_node *user, uint32_t from, uint32_t to, isl_id *const *ids,
                      uint32_t num_ids) {
  isl_ast_expr *call = isl_ast_node_user_get_expr(user);
  bool used = false;
  for (uint32_t a = from; a < to && !used; ++a) {
    isl_ast_expr *x = isl_ast_expr_op_get_arg(call, (int)a + 1);
    for (uint32_t i = 0; x && i < num_ids && !used; ++i) used = uses_id(x, ids[i]);
    isl_ast_expr_free(x);
  }
  isl_ast_expr_free(call);
  return used;
}

/* The statement of a user node and whether it is an init; false if malformed. */
static bool user_stmt(walk_t *w, __isl_keep isl_ast_node *user, uint32_t *out_s, bool *out_init) {
  isl_ast_expr *call = NULL;
  lathe_status_t st = lathe_kast_user(user, out_s, out_init, &call);
  isl_ast_expr_free(call);
  bool ok = !st && *out_s < w->k->num_stmts;
  lathe_status_free(st);
  return ok;
}

/* The statement s when every user call below `n` is S<s> of one reduction
 * whose target does not move inside `n` and whose value does not read its
 * own target; else -1. */
static int32_t reduction_nest(walk_t *w, __isl_keep isl_ast_node *n) {
  found_t f = {0};
  collect(n, &f);
  int32_t s = -1;
  bool ok = !f.overflow && f.num_users > 0;
  for (uint32_t i = 0; i < f.num_users && ok; ++i) {
    uint32_t si;
    bool init;
    ok = user_stmt(w, f.users[i], &si, &init) && !init && (s < 0 || (uint32_t)s == si);
    if (!ok) break;
    const lathe_kstmt_t *st = w->k->stmts[si];
    ok = st->combiner != LATHE_KCOMB_NONE &&
         !call_uses(f.users[i], 0, st->num_iters - st->num_reduce, f.loops, f.num_loops) &&
         !cu_expr_reads_root(w->g->p, st->value, cu_root(w->g->p, st->target));
    s = (int32_t)si;
  }
  found_free(&f);
  return ok ? s : -1;
}

/* Whether some statement below `loop` reduces over the loop's iterator. */
static bool reduces_over(walk_t *w, __isl_keep isl_ast_node *loop, isl_id *it) {
  found_t f = {0};
  collect(loop, &f);
  bool red = f.overflow;
  for (uint32_t i = 0; i < f.num_users && !red; ++i) {
    uint32_t si;
    bool init;
    if (!user_stmt(w, f.users[i], &si, &init)) red = true;
    else if (!init) {
      const lathe_kstmt_t *st = w->k->stmts[si];
      red = call_uses(f.users[i], st->num_iters - st->num_reduce, st->num_iters, &it, 1);
    }
  }
  found_free(&f);
  return red;
}

/* ---- flattening ---- */

typedef struct chain {
  uint32_t n;
  const char *name[LATHE_KMAX_ITERS], *lo[LATHE_KMAX_ITERS], *ext[LATHE_KMAX_ITERS];
  isl_id *ids[LATHE_KMAX_ITERS];
  isl_ast_node *body; /* what runs at each point (owned) */
} chain_t;

/* [lo, hi) of a for node with unit step and `it < e` / `it <= e`, bounds
 * free of `ids`; false otherwise. */
static bool canonical(walk_t *w, __isl_keep isl_ast_node *f, isl_id *it, isl_id *const *ids,
                      uint32_t num_ids, const char **lo, const char **ext) {
  isl_ast_expr *init = isl_ast_node_for_get_init(f);
  bool ok = true;
  for (uint32_t i = 0; i < num_ids && ok; ++i) ok = !uses_id(init, ids[i]);
  if (ok) *lo = ax(w, init);
  isl_ast_expr_free(init);
  if (!ok) return false;
  if (isl_ast_node_for_is_degenerate(f) == isl_bool_true) {
    *ext = "1LL";
    return true;
  }
  isl_ast_expr *inc = isl_ast_node_for_get_inc(f), *cond = isl_ast_node_for_get_cond(f);
  isl_val *step = isl_ast_expr_get_type(inc) == isl_ast_expr_int ? isl_ast_expr_get_val(inc) : NULL;
  ok = step && isl_val_is_one(step) == isl_bool_true &&
       isl_ast_expr_get_type(cond) == isl_ast_expr_op;
  enum isl_ast_expr_op_type op = ok ? isl_ast_expr_op_get_type(cond) : isl_ast_expr_op_error;
  ok = ok && (op == isl_ast_expr_op_lt || op == isl_ast_expr_op_le);
  isl_ast_expr *lhs = ok ? isl_ast_expr_op_get_arg(cond, 0) : NULL;
  isl_ast_expr *rhs = ok ? isl_ast_expr_op_get_arg(cond, 1) : NULL;
  if (ok) {
    isl_id *lid = isl_ast_expr_get_type(lhs) == isl_ast_expr_id ? isl_ast_expr_get_id(lhs) : NULL;
    ok = lid == it && !uses_id(rhs, it);
    isl_id_free(lid);
    for (uint32_t i = 0; i < num_ids && ok; ++i) ok = !uses_id(rhs, ids[i]);
  }
  if (ok) {
    isl_ast_expr *init2 = isl_ast_node_for_get_init(f);
    bool both_int = isl_ast_expr_get_type(rhs) == isl_ast_expr_int &&
                    isl_ast_expr_get_type(init2) == isl_ast_expr_int;
    if (both_int) { /* a static extent: fold it */
      isl_val *h = isl_ast_expr_get_val(rhs), *l = isl_ast_expr_get_val(init2);
      long e = isl_val_get_num_si(h) - isl_val_get_num_si(l) + (op == isl_ast_expr_op_le);
      isl_val_free(h);
      isl_val_free(l);
      *ext = gen_str(w->g, "%ldLL", e > 0 ? e : 0);
    } else {
      const char *span =
          strcmp(*lo, "0LL") ? gen_str(w->g, "%s - %s", ax(w, rhs), *lo) : ax(w, rhs);
      *ext = gen_str(
          w->g, op == isl_ast_expr_op_le ? "lathe_max64(%s + 1LL, 0LL)" : "lathe_max64(%s, 0LL)",
          span);
    }
    isl_ast_expr_free(init2);
  }
  isl_ast_expr_free(lhs);
  isl_ast_expr_free(rhs);
  isl_val_free(step);
  isl_ast_expr_free(inc);
  isl_ast_expr_free(cond);
  return ok;
}

/* The perfect nest of up to `max` canonical loops at `node` (none when it is
 * not a loop); loops reduced over below stop it unless allow_reduce. */
static void flatten(walk_t *w, __isl_keep isl_ast_node *node, uint32_t max, bool allow_reduce,
                    chain_t *c) {
  c->n = 0;
  isl_ast_node *n = strip(isl_ast_node_copy(node));
  while (c->n < max && c->n < LATHE_KMAX_ITERS && isl_ast_node_get_type(n) == isl_ast_node_for) {
    isl_id *it = for_id(n);
    const char *lo, *ext;
    if ((!allow_reduce && reduces_over(w, n, it)) ||
        !canonical(w, n, it, c->ids, c->n, &lo, &ext)) {
      isl_id_free(it);
      break;
    }
    c->name[c->n] = gen_str(w->g, "%s", isl_id_get_name(it));
    c->lo[c->n] = lo;
    c->ext[c->n] = ext;
    c->ids[c->n++] = it;
    isl_ast_node *body = isl_ast_node_for_get_body(n);
    isl_ast_node_free(n);
    n = strip(body);
  }
  c->body = n;
}

static void chain_free(chain_t *c) {
  for (uint32_t i = 0; i < c->n; ++i) isl_id_free(c->ids[i]);
  isl_ast_node_free(c->body);
}

typedef enum { OVER_GRID, OVER_BLOCKS, OVER_THREADS } over_t;

/* Opens the distributed loop of a chain and declares its iterators; the
 * caller emits the body and calls close_chain. */
static void open_chain(walk_t *w, const chain_t *c, over_t over) {
  gen_t *g = w->g;
  static const char *const start[] = {
      [OVER_GRID] = "(long long)blockIdx.x * (long long)blockDim.x + (long long)threadIdx.x",
      [OVER_BLOCKS] = "(long long)blockIdx.x",
      [OVER_THREADS] = "(long long)threadIdx.x"};
  static const char *const stride[] = {[OVER_GRID] = "(long long)gridDim.x * (long long)blockDim.x",
                                       [OVER_BLOCKS] = "(long long)gridDim.x",
                                       [OVER_THREADS] = "(long long)blockDim.x"};
  gen_line(g, "{");
  g->indent++;
  const char *ext[LATHE_KMAX_ITERS], *total = NULL;
  for (uint32_t i = 0; i < c->n; ++i) {
    ext[i] = gen_tmp(g, "e");
    gen_line(g, "const long long %s = %s;", ext[i], c->ext[i]);
    total = total ? gen_str(g, "%s * %s", total, ext[i]) : ext[i];
  }
  const char *count = gen_tmp(g, "n"), *idx = gen_tmp(g, "i"), *rest = gen_tmp(g, "r");
  gen_line(g, "const long long %s = %s;", count, total);
  gen_line(g, "for (long long %s = %s; %s < %s; %s += %s) {", idx, start[over], idx, count, idx,
           stride[over]);
  g->indent++;
  if (c->n > 1) gen_line(g, "long long %s = %s;", rest, idx);
  for (uint32_t i = c->n; i-- > 0;) {
    const char *lo = strcmp(c->lo[i], "0LL") ? gen_str(g, "%s + ", c->lo[i]) : "";
    if (i == 0) {
      gen_line(g, "const long long %s = %s%s;", c->name[0], lo, c->n > 1 ? rest : idx);
    } else {
      gen_line(g, "const long long %s = %s%s %% %s;", c->name[i], lo, rest, ext[i]);
      gen_line(g, "%s /= %s;", rest, ext[i]);
    }
  }
}

static void close_chain(walk_t *w) {
  gen_t *g = w->g;
  g->indent--;
  gen_line(g, "}");
  g->indent--;
  gen_line(g, "}");
}

/* ---- statements ---- */

/* Iterator values of a user call as expressions of the loop variables;
 * unbound reduction iterators (outer_only) are 0. */
static bool call_iters(walk_t *w, __isl_keep isl_ast_node *user, bool outer_only, uint32_t *out_s,
                       bool *out_init, const char **iters) {
  isl_ast_expr *call = NULL;
  lathe_status_t st = lathe_kast_user(user, out_s, out_init, &call);
  bool ok = !st && *out_s < w->k->num_stmts;
  lathe_status_free(st);
  if (ok) {
    const lathe_kstmt_t *s = w->k->stmts[*out_s];
    uint32_t n = (uint32_t)isl_ast_expr_op_get_n_arg(call) - 1;
    uint32_t bound = outer_only ? s->num_iters - s->num_reduce : n;
    for (uint32_t i = 0; i < s->num_iters; ++i) {
      if (i >= bound || i >= n) {
        iters[i] = "0LL";
        continue;
      }
      iters[i] = arg(w, call, (int)i + 1); /* a loop variable, or a short expression of them */
    }
  }
  isl_ast_expr_free(call);
  if (!ok) gen_fail(w->g, LATHE_STATUS_INTERNAL, "malformed statement call in the AST");
  return ok;
}

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
  if (call_iters(w, node, false, &si, &init, iters)) {
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
  found_t f = {0};
  collect(node, &f);
  const char **iters = LATHE_ARENA_NEW_ARRAY(&w->g->arena, const char *, LATHE_KMAX_ITERS);
  uint32_t s2;
  bool init, ok = f.num_users > 0 && call_iters(w, f.users[0], true, &s2, &init, iters) && s2 == si;
  found_free(&f);
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
  isl_ast_node *c = strip(isl_ast_node_list_get_at(l, i));
  isl_ast_node *next = strip(isl_ast_node_list_get_at(l, i + 1));
  uint32_t si;
  bool init = false, yes = isl_ast_node_get_type(c) == isl_ast_node_user &&
                           user_stmt(w, c, &si, &init) && init &&
                           isl_ast_node_get_type(next) == isl_ast_node_for && w->accum_stmt < 0 &&
                           reduction_nest(w, next) == (int32_t)si;
  if (yes) w->pending[si] = true;
  isl_ast_node_free(c);
  isl_ast_node_free(next);
  return yes;
}

static void serial_if(walk_t *w, __isl_keep isl_ast_node *node,
                      void (*body)(walk_t *, __isl_keep isl_ast_node *)) {
  gen_t *g = w->g;
  isl_ast_expr *cond = isl_ast_node_if_get_cond(node);
  gen_line(g, "if (%s) {", ax(w, cond));
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
  isl_id *it = for_id(node);
  isl_ast_expr *init = isl_ast_node_for_get_init(node);
  isl_ast_node *body = isl_ast_node_for_get_body(node);
  const char *name = isl_id_get_name(it);
  if (isl_ast_node_for_is_degenerate(node) == isl_bool_true) {
    gen_line(g, "{");
    g->indent++;
    gen_line(g, "const long long %s = %s;", name, ax(w, init));
  } else {
    isl_ast_expr *cond = isl_ast_node_for_get_cond(node), *inc = isl_ast_node_for_get_inc(node);
    gen_line(g, "for (long long %s = %s; %s; %s += %s) {", name, ax(w, init), ax(w, cond), name,
             ax(w, inc));
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
    int32_t si = w->accum_stmt < 0 ? reduction_nest(w, node) : -1;
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
  chain_t c;
  flatten(w, node, LATHE_KMAX_ITERS, true, &c);
  w->accum_stmt = (int32_t)si, w->accum_var = red, w->accum_round = false;
  if (c.n) {
    open_chain(w, &c, OVER_THREADS);
    serial(w, c.body);
    close_chain(w);
  } else {
    gen_line(g, "if (threadIdx.x == 0) {");
    g->indent++;
    serial(w, node);
    g->indent--;
    gen_line(g, "}");
  }
  w->accum_stmt = -1;
  chain_free(&c);
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
    int32_t si = reduction_nest(w, node);
    if (si >= 0) {
      block_reduce(w, node, (uint32_t)si);
      return;
    }
    chain_t c;
    flatten(w, node, LATHE_KMAX_ITERS, false, &c);
    if (c.n) {
      open_chain(w, &c, OVER_THREADS);
      serial(w, c.body);
      close_chain(w);
      chain_free(&c);
      return;
    }
    chain_free(&c);
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
  chain_t c = {0};
  if (map != CU_MAP_SINGLE) flatten(&w, ast, depth, false, &c);
  if (c.n && map == CU_MAP_THREAD) {
    open_chain(&w, &c, OVER_GRID);
    serial(&w, c.body);
    close_chain(&w);
  } else if (c.n) {
    open_chain(&w, &c, OVER_BLOCKS);
    cooperative(&w, c.body);
    close_chain(&w);
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
  if (map != CU_MAP_SINGLE) chain_free(&c);
}
