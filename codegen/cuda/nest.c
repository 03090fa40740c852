/* Loop nests of isl ASTs, for the CUDA walker (ast.c): isl expressions as C,
 * what a subtree holds (its statement calls, its loops), whether a nest is
 * one reduction whose target stays put, and flattening a perfect nest of
 * canonical loops into one distributed index.
 *
 * Flattening is the backend's only source of GPU parallelism. A chain is the
 * longest perfect nest of loops `c = lo; c < hi; c += 1` (or `<=`) whose
 * bounds do not use the chain's own iterators, stopping, unless asked
 * otherwise, at a loop that some statement below reduces over: threads that
 * share a chain never update the same element. The chain's loop becomes
 *
 *   for (i = START; i < e0 * e1 * ...; i += STRIDE) { decode c0, c1, ... }
 *
 * with START/STRIDE over the grid's threads, over blocks, or over a block's
 * threads; a static extent is folded to a constant.
 */
#include <string.h>

#include <isl/ast.h>
#include <isl/id.h>
#include <isl/val.h>

#include "codegen/cuda/internal.h"

/* ---- isl expressions ---- */

const char *cu_isl_arg(gen_t *g, __isl_keep isl_ast_expr *x, int i) {
  isl_ast_expr *a = isl_ast_expr_op_get_arg(x, i);
  const char *s = a ? cu_isl_expr(g, a) : NULL;
  isl_ast_expr_free(a);
  return s ? s : "0LL";
}

const char *cu_isl_expr(gen_t *g, __isl_keep isl_ast_expr *x) {
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
    if (forms[i].op == op)
      return gen_str(g, forms[i].fmt, cu_isl_arg(g, x, 0), cu_isl_arg(g, x, 1));
  switch (op) {
  case isl_ast_expr_op_minus: return gen_str(g, "(-%s)", cu_isl_arg(g, x, 0));
  case isl_ast_expr_op_min:
  case isl_ast_expr_op_max: {
    const char *r = cu_isl_arg(g, x, 0);
    for (int i = 1; i < n; ++i)
      r = gen_str(g, "lathe_%s64(%s, %s)", op == isl_ast_expr_op_min ? "min" : "max", r,
                  cu_isl_arg(g, x, i));
    return r;
  }
  case isl_ast_expr_op_cond:
  case isl_ast_expr_op_select:
    return gen_str(g, "(%s ? %s : %s)", cu_isl_arg(g, x, 0), cu_isl_arg(g, x, 1),
                   cu_isl_arg(g, x, 2));
  default: return gen_fail(g, LATHE_STATUS_UNSUPPORTED, "isl operation %d in a loop bound", op);
  }
}

bool cu_isl_uses_id(__isl_keep isl_ast_expr *x, __isl_keep isl_id *id) {
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
    used = cu_isl_uses_id(a, id);
    isl_ast_expr_free(a);
  }
  return used;
}

/* ---- AST queries ---- */

/* The node below any marks (a new reference). */
__isl_give isl_ast_node *cu_ast_strip(__isl_take isl_ast_node *n) {
  while (n && isl_ast_node_get_type(n) == isl_ast_node_mark) {
    isl_ast_node *c = isl_ast_node_mark_get_node(n);
    isl_ast_node_free(n);
    n = c;
  }
  return n;
}

isl_id *cu_ast_for_id(__isl_keep isl_ast_node *f) {
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
    if (f->num_loops < MAX_FOUND) f->loops[f->num_loops++] = cu_ast_for_id(n);
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
    for (uint32_t i = 0; x && i < num_ids && !used; ++i) used = cu_isl_uses_id(x, ids[i]);
    isl_ast_expr_free(x);
  }
  isl_ast_expr_free(call);
  return used;
}

/* The statement of a user node and whether it is an init; false if malformed. */
bool cu_ast_user_stmt(gen_t *g, __isl_keep isl_ast_node *user, uint32_t *out_s, bool *out_init) {
  isl_ast_expr *call = NULL;
  lathe_status_t st = lathe_kast_user(user, out_s, out_init, &call);
  isl_ast_expr_free(call);
  bool ok = !st && *out_s < g->k->num_stmts;
  lathe_status_free(st);
  return ok;
}

/* The statement s when every user call below `n` is S<s> of one reduction
 * whose target does not move inside `n` and whose value does not read its
 * own target; else -1. */
int32_t cu_ast_reduction_nest(gen_t *g, __isl_keep isl_ast_node *n) {
  found_t f = {0};
  collect(n, &f);
  int32_t s = -1;
  bool ok = !f.overflow && f.num_users > 0;
  for (uint32_t i = 0; i < f.num_users && ok; ++i) {
    uint32_t si;
    bool init;
    ok = cu_ast_user_stmt(g, f.users[i], &si, &init) && !init && (s < 0 || (uint32_t)s == si);
    if (!ok) break;
    const lathe_kstmt_t *st = g->k->stmts[si];
    ok = st->combiner != LATHE_KCOMB_NONE &&
         !call_uses(f.users[i], 0, st->num_iters - st->num_reduce, f.loops, f.num_loops) &&
         !cu_expr_reads_root(g->p, st->value, cu_root(g->p, st->target));
    s = (int32_t)si;
  }
  found_free(&f);
  return ok ? s : -1;
}

/* Whether some statement below `loop` reduces over the loop's iterator. */
static bool reduces_over(gen_t *g, __isl_keep isl_ast_node *loop, isl_id *it) {
  found_t f = {0};
  collect(loop, &f);
  bool red = f.overflow;
  for (uint32_t i = 0; i < f.num_users && !red; ++i) {
    uint32_t si;
    bool init;
    if (!cu_ast_user_stmt(g, f.users[i], &si, &init)) red = true;
    else if (!init) {
      const lathe_kstmt_t *st = g->k->stmts[si];
      red = call_uses(f.users[i], st->num_iters - st->num_reduce, st->num_iters, &it, 1);
    }
  }
  found_free(&f);
  return red;
}

__isl_give isl_ast_node *cu_ast_first_user(__isl_keep isl_ast_node *n) {
  found_t f = {0};
  collect(n, &f);
  isl_ast_node *first = f.num_users ? isl_ast_node_copy(f.users[0]) : NULL;
  found_free(&f);
  return first;
}

/* ---- flattening ---- */

/* [lo, hi) of a for node with unit step and `it < e` / `it <= e`, bounds
 * free of `ids`; false otherwise. */
static bool canonical(gen_t *g, __isl_keep isl_ast_node *f, isl_id *it, isl_id *const *ids,
                      uint32_t num_ids, const char **lo, const char **ext) {
  isl_ast_expr *init = isl_ast_node_for_get_init(f);
  bool ok = true;
  for (uint32_t i = 0; i < num_ids && ok; ++i) ok = !cu_isl_uses_id(init, ids[i]);
  if (ok) *lo = cu_isl_expr(g, init);
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
    ok = lid == it && !cu_isl_uses_id(rhs, it);
    isl_id_free(lid);
    for (uint32_t i = 0; i < num_ids && ok; ++i) ok = !cu_isl_uses_id(rhs, ids[i]);
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
      *ext = gen_str(g, "%ldLL", e > 0 ? e : 0);
    } else {
      const char *span = strcmp(*lo, "0LL") ? gen_str(g, "%s - %s", cu_isl_expr(g, rhs), *lo)
                                            : cu_isl_expr(g, rhs);
      *ext = gen_str(
          g, op == isl_ast_expr_op_le ? "lathe_max64(%s + 1LL, 0LL)" : "lathe_max64(%s, 0LL)",
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
void cu_ast_flatten(gen_t *g, __isl_keep isl_ast_node *node, uint32_t max, bool allow_reduce,
                    cu_chain_t *c) {
  c->n = 0;
  isl_ast_node *n = cu_ast_strip(isl_ast_node_copy(node));
  while (c->n < max && c->n < LATHE_KMAX_ITERS && isl_ast_node_get_type(n) == isl_ast_node_for) {
    isl_id *it = cu_ast_for_id(n);
    const char *lo, *ext;
    if ((!allow_reduce && reduces_over(g, n, it)) ||
        !canonical(g, n, it, c->ids, c->n, &lo, &ext)) {
      isl_id_free(it);
      break;
    }
    c->name[c->n] = gen_str(g, "%s", isl_id_get_name(it));
    c->lo[c->n] = lo;
    c->ext[c->n] = ext;
    c->ids[c->n++] = it;
    isl_ast_node *body = isl_ast_node_for_get_body(n);
    isl_ast_node_free(n);
    n = cu_ast_strip(body);
  }
  c->body = n;
}

void cu_chain_free(cu_chain_t *c) {
  for (uint32_t i = 0; i < c->n; ++i) isl_id_free(c->ids[i]);
  isl_ast_node_free(c->body);
}

/* Opens the distributed loop of a chain and declares its iterators; the
 * caller emits the body and calls close_chain. */
void cu_chain_open(gen_t *g, const cu_chain_t *c, cu_over_t over) {
  static const char *const start[] = {
      [CU_OVER_GRID] = "(long long)blockIdx.x * (long long)blockDim.x + (long long)threadIdx.x",
      [CU_OVER_BLOCKS] = "(long long)blockIdx.x",
      [CU_OVER_THREADS] = "(long long)threadIdx.x"};
  static const char *const stride[] = {[CU_OVER_GRID] =
                                           "(long long)gridDim.x * (long long)blockDim.x",
                                       [CU_OVER_BLOCKS] = "(long long)gridDim.x",
                                       [CU_OVER_THREADS] = "(long long)blockDim.x"};
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
  /* [[maybe_unused]]: a statement need not read every iterator (a count
   * adds 1 per element), and generated code compiles warning-free. */
  for (uint32_t i = c->n; i-- > 0;) {
    const char *lo = strcmp(c->lo[i], "0LL") ? gen_str(g, "%s + ", c->lo[i]) : "";
    if (i == 0) {
      gen_line(g, "[[maybe_unused]] const long long %s = %s%s;", c->name[0], lo,
               c->n > 1 ? rest : idx);
    } else {
      gen_line(g, "[[maybe_unused]] const long long %s = %s%s %% %s;", c->name[i], lo, rest,
               ext[i]);
      gen_line(g, "%s /= %s;", rest, ext[i]);
    }
  }
}

void cu_chain_close(gen_t *g) {
  g->indent--;
  gen_line(g, "}");
  g->indent--;
  gen_line(g, "}");
}

/* ---- statements ---- */

/* Iterator values of a user call as expressions of the loop variables;
 * unbound reduction iterators (outer_only) are 0. */
bool cu_ast_call_iters(gen_t *g, __isl_keep isl_ast_node *user, bool outer_only, uint32_t *out_s,
                       bool *out_init, const char **iters) {
  isl_ast_expr *call = NULL;
  lathe_status_t st = lathe_kast_user(user, out_s, out_init, &call);
  bool ok = !st && *out_s < g->k->num_stmts;
  lathe_status_free(st);
  if (ok) {
    const lathe_kstmt_t *s = g->k->stmts[*out_s];
    uint32_t n = (uint32_t)isl_ast_expr_op_get_n_arg(call) - 1;
    uint32_t bound = outer_only ? s->num_iters - s->num_reduce : n;
    for (uint32_t i = 0; i < s->num_iters; ++i) {
      if (i >= bound || i >= n) {
        iters[i] = "0LL";
        continue;
      }
      iters[i] =
          cu_isl_arg(g, call, (int)i + 1); /* a loop variable, or a short expression of them */
    }
  }
  isl_ast_expr_free(call);
  if (!ok) gen_fail(g, LATHE_STATUS_INTERNAL, "malformed statement call in the AST");
  return ok;
}
