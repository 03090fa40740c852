/* LOOPS kernels: LLVM IR from the isl loop AST of the kernel's statements.
 *
 * The walker follows the AST node by node:
 *   for    a counted loop (nsw increment, icmp slt exit when isl's condition
 *          is `it < e` or `it <= e`, which it is for box domains; any other
 *          condition is evaluated as written)
 *   if     a branch; block: children in order
 *   user   S<s>(e..): evaluate statement s's value at those iterator values
 *          and store it (or fold it into the target with the combiner);
 *          I<s>(e..): store the reduction's init
 *   mark   "parallel": the loop below is outlined into a task function and
 *          run through rt->parallel_for, its trip range split over threads;
 *          "vector": the loop below gets llvm.loop.vectorize.enable
 * isl expressions become i64 arithmetic with nsw flags.
 *
 * Reductions: a loop whose body is one update of a reduction whose target
 * does not move with the loop (a row sum over r) is emitted with the target
 * element in a register (load before, phi in the loop, store after) instead
 * of a load and store per iteration; sums and products then also carry the
 * vectorize hint, which lets LLVM reorder them into vector partial sums.
 * f16/bf16 targets are rounded after every step, as a store would round them.
 *
 * Outlined tasks get a closure with the args pointer, the loop's start and
 * step and every enclosing iterator's value; they reload buffer pointers and
 * params from args. Kernels that write packed 4-bit buffers never run in
 * parallel: two elements share a byte, and a chunk boundary could split one.
 */
#include <string.h>

#include <isl/ast.h>
#include <isl/id.h>
#include <isl/val.h>

#include "codegen/llvm/internal.h"

#define MAX_VARS 64

typedef struct walk {
  cg_t *cg;
  fn_t *f;
  const lathe_kernel_t *k;
  const char *symbol;
  isl_id *ids[MAX_VARS];
  LLVMValueRef vals[MAX_VARS];
  uint32_t nvars;
  bool in_task, serial;
  uint32_t num_tasks;
} walk_t;

/* ---- isl expressions ---- */

static LLVMValueRef ast_expr(walk_t *w, __isl_keep isl_ast_expr *x);

static LLVMValueRef var_value(walk_t *w, __isl_keep isl_id *id) {
  for (uint32_t i = w->nvars; i-- > 0;)
    if (w->ids[i] == id) return w->vals[i];
  int32_t param = lathe_kprogram_param_of_id(w->cg->p, id);
  if (param >= 0) return fn_param(w->f, (uint32_t)param);
  return cg_fail(w->cg, LATHE_STATUS_INTERNAL, "AST names an unknown variable '%s'",
                 isl_id_get_name(id));
}

static LLVMValueRef arg(walk_t *w, __isl_keep isl_ast_expr *x, int i) {
  isl_ast_expr *a = isl_ast_expr_op_get_arg(x, i);
  LLVMValueRef v = ast_expr(w, a);
  isl_ast_expr_free(a);
  return v ? v : cg_i64(w->cg, 0);
}

static LLVMValueRef floor_div(fn_t *f, LLVMValueRef a, LLVMValueRef b) {
  LLVMValueRef q = LLVMBuildSDiv(f->b, a, b, ""), r = LLVMBuildSRem(f->b, a, b, "");
  LLVMValueRef zero = cg_i64(f->cg, 0);
  LLVMValueRef adj =
      LLVMBuildAnd(f->b, LLVMBuildICmp(f->b, LLVMIntNE, r, zero, ""),
                   LLVMBuildICmp(f->b, LLVMIntSLT, LLVMBuildXor(f->b, r, b, ""), zero, ""), "");
  return LLVMBuildSub(f->b, q, LLVMBuildZExt(f->b, adj, f->cg->i64, ""), "");
}

/* A comparison or logic op as i1; anything else compared with 0. */
static LLVMValueRef ast_cond(walk_t *w, __isl_keep isl_ast_expr *x) {
  fn_t *f = w->f;
  if (isl_ast_expr_get_type(x) == isl_ast_expr_op) {
    enum isl_ast_expr_op_type op = isl_ast_expr_op_get_type(x);
    static const struct {
      enum isl_ast_expr_op_type op;
      LLVMIntPredicate pred;
    } cmps[] = {{isl_ast_expr_op_eq, LLVMIntEQ},
                {isl_ast_expr_op_le, LLVMIntSLE},
                {isl_ast_expr_op_lt, LLVMIntSLT},
                {isl_ast_expr_op_ge, LLVMIntSGE},
                {isl_ast_expr_op_gt, LLVMIntSGT}};
    for (size_t i = 0; i < sizeof cmps / sizeof cmps[0]; ++i)
      if (cmps[i].op == op)
        return LLVMBuildICmp(f->b, cmps[i].pred, arg(w, x, 0), arg(w, x, 1), "");
    if (op == isl_ast_expr_op_and || op == isl_ast_expr_op_and_then || op == isl_ast_expr_op_or ||
        op == isl_ast_expr_op_or_else) {
      isl_ast_expr *a = isl_ast_expr_op_get_arg(x, 0), *b = isl_ast_expr_op_get_arg(x, 1);
      LLVMValueRef ca = ast_cond(w, a), cb = ast_cond(w, b);
      isl_ast_expr_free(a);
      isl_ast_expr_free(b);
      bool is_and = op == isl_ast_expr_op_and || op == isl_ast_expr_op_and_then;
      return is_and ? LLVMBuildAnd(f->b, ca, cb, "") : LLVMBuildOr(f->b, ca, cb, "");
    }
  }
  return LLVMBuildICmp(f->b, LLVMIntNE, ast_expr(w, x), cg_i64(w->cg, 0), "");
}

static LLVMValueRef ast_expr(walk_t *w, __isl_keep isl_ast_expr *x) {
  fn_t *f = w->f;
  cg_t *cg = w->cg;
  switch (isl_ast_expr_get_type(x)) {
  case isl_ast_expr_int: {
    isl_val *v = isl_ast_expr_get_val(x);
    int64_t n = isl_val_get_num_si(v);
    isl_val_free(v);
    return cg_i64(cg, n);
  }
  case isl_ast_expr_id: {
    isl_id *id = isl_ast_expr_get_id(x);
    LLVMValueRef v = var_value(w, id);
    isl_id_free(id);
    return v ? v : cg_i64(cg, 0);
  }
  case isl_ast_expr_op: break;
  default: return cg_fail(cg, LATHE_STATUS_INTERNAL, "unexpected isl expression");
  }
  enum isl_ast_expr_op_type op = isl_ast_expr_op_get_type(x);
  isl_size n = isl_ast_expr_op_get_n_arg(x);
  switch (op) {
  case isl_ast_expr_op_max:
  case isl_ast_expr_op_min: {
    LLVMValueRef r = arg(w, x, 0);
    for (int i = 1; i < n; ++i) {
      LLVMValueRef b = arg(w, x, i);
      LLVMIntPredicate p = op == isl_ast_expr_op_max ? LLVMIntSGT : LLVMIntSLT;
      r = LLVMBuildSelect(f->b, LLVMBuildICmp(f->b, p, r, b, ""), r, b, "");
    }
    return r;
  }
  case isl_ast_expr_op_minus: return LLVMBuildNSWNeg(f->b, arg(w, x, 0), "");
  case isl_ast_expr_op_add: return LLVMBuildNSWAdd(f->b, arg(w, x, 0), arg(w, x, 1), "");
  case isl_ast_expr_op_sub: return LLVMBuildNSWSub(f->b, arg(w, x, 0), arg(w, x, 1), "");
  case isl_ast_expr_op_mul: return LLVMBuildNSWMul(f->b, arg(w, x, 0), arg(w, x, 1), "");
  case isl_ast_expr_op_div: return LLVMBuildExactSDiv(f->b, arg(w, x, 0), arg(w, x, 1), "");
  case isl_ast_expr_op_pdiv_q: return LLVMBuildSDiv(f->b, arg(w, x, 0), arg(w, x, 1), "");
  case isl_ast_expr_op_fdiv_q: return floor_div(f, arg(w, x, 0), arg(w, x, 1));
  case isl_ast_expr_op_pdiv_r:
  case isl_ast_expr_op_zdiv_r: return LLVMBuildSRem(f->b, arg(w, x, 0), arg(w, x, 1), "");
  case isl_ast_expr_op_cond:
  case isl_ast_expr_op_select: {
    isl_ast_expr *c = isl_ast_expr_op_get_arg(x, 0);
    LLVMValueRef cv = ast_cond(w, c);
    isl_ast_expr_free(c);
    return LLVMBuildSelect(f->b, cv, arg(w, x, 1), arg(w, x, 2), "");
  }
  case isl_ast_expr_op_eq:
  case isl_ast_expr_op_le:
  case isl_ast_expr_op_lt:
  case isl_ast_expr_op_ge:
  case isl_ast_expr_op_gt:
  case isl_ast_expr_op_and:
  case isl_ast_expr_op_and_then:
  case isl_ast_expr_op_or:
  case isl_ast_expr_op_or_else: return LLVMBuildZExt(f->b, ast_cond(w, x), cg->i64, "");
  default: return cg_fail(cg, LATHE_STATUS_UNSUPPORTED, "isl operation %d in a loop bound", op);
  }
}

static bool expr_uses_id(__isl_keep isl_ast_expr *x, __isl_keep isl_id *id) {
  if (isl_ast_expr_get_type(x) == isl_ast_expr_id) {
    isl_id *mine = isl_ast_expr_get_id(x);
    bool same = mine == id;
    isl_id_free(mine);
    return same;
  }
  if (isl_ast_expr_get_type(x) != isl_ast_expr_op) return false;
  isl_size n = isl_ast_expr_op_get_n_arg(x);
  bool used = false;
  for (int i = 0; i < n && !used; ++i) {
    isl_ast_expr *a = isl_ast_expr_op_get_arg(x, i);
    used = expr_uses_id(a, id);
    isl_ast_expr_free(a);
  }
  return used;
}

static void push_var(walk_t *w, isl_id *id, LLVMValueRef v) {
  if (w->nvars >= MAX_VARS) {
    cg_fail(w->cg, LATHE_STATUS_UNSUPPORTED, "loop nest deeper than %d", MAX_VARS);
    return;
  }
  w->ids[w->nvars] = id;
  w->vals[w->nvars++] = v;
}

/* ---- statements ---- */

static const lathe_kop_t combine_op[] = {[LATHE_KCOMB_SUM] = LATHE_KOP_ADD,
                                         [LATHE_KCOMB_PROD] = LATHE_KOP_MUL,
                                         [LATHE_KCOMB_MAX] = LATHE_KOP_MAX,
                                         [LATHE_KCOMB_MIN] = LATHE_KOP_MIN};

/* The iterator values of a user node's call. */
static lathe_status_t user_iters(walk_t *w, __isl_keep isl_ast_node *node, uint32_t *out_stmt,
                                 bool *out_init, LLVMValueRef *iters) {
  isl_ast_expr *call;
  LATHE_RETURN_IF_ERROR(lathe_kast_user(node, out_stmt, out_init, &call));
  isl_size n = isl_ast_expr_op_get_n_arg(call);
  lathe_status_t st = NULL;
  if (*out_stmt >= w->k->num_stmts || n < 1 || (uint32_t)(n - 1) > LATHE_KMAX_ITERS)
    st = lathe_status_make(LATHE_STATUS_INTERNAL, "malformed statement call in the AST");
  for (int i = 1; i < n && !st; ++i) iters[i - 1] = arg(w, call, i);
  isl_ast_expr_free(call);
  return st;
}

/* Value of statement s (or its init) cast to the target's dtype. */
static LLVMValueRef stmt_value(walk_t *w, eval_t *e, const lathe_kstmt_t *s, bool init) {
  const lathe_kexpr_t *x = init ? s->init : s->value;
  LLVMValueRef v = eval_expr(e, x);
  lathe_dtype_t t = w->cg->p->buffers[s->target]->dtype;
  return v ? fn_cast(w->f, t, x->dtype, v) : NULL;
}

static void walk_user(walk_t *w, __isl_keep isl_ast_node *node) {
  LLVMValueRef iters[LATHE_KMAX_ITERS] = {0};
  uint32_t si;
  bool init;
  lathe_status_t st = user_iters(w, node, &si, &init, iters);
  if (st) {
    cg_fail(w->cg, lathe_status_code(st), "%s", lathe_status_message(st));
    lathe_status_free(st);
    return;
  }
  const lathe_kstmt_t *s = w->k->stmts[si];
  eval_t e;
  eval_init(&e, w->f, iters, NULL);
  LLVMValueRef flat = eval_flat(&e, s->target, s->target_index);
  LLVMValueRef v = (init && !s->init) ? NULL : stmt_value(w, &e, s, init);
  if (flat && v) {
    if (!init && s->combiner != LATHE_KCOMB_NONE) {
      lathe_dtype_t t = w->cg->p->buffers[s->target]->dtype;
      LLVMValueRef old = fn_load_elem(w->f, s->target, flat);
      v = fn_scalar_op(w->f, combine_op[s->combiner], t, old, v);
    }
    if (v) fn_store_elem(w->f, s->target, flat, v);
  }
  eval_free(&e);
}

/* ---- loops ---- */

static void walk(walk_t *w, __isl_keep isl_ast_node *node, bool vector);

/* [lo, hi) and step of a for node when its condition is `it < e` / `it <= e`. */
static bool canonical_bounds(walk_t *w, __isl_keep isl_ast_node *node, __isl_keep isl_id *it,
                             LLVMValueRef *hi) {
  isl_ast_expr *cond = isl_ast_node_for_get_cond(node);
  bool ok = false;
  if (isl_ast_expr_get_type(cond) == isl_ast_expr_op) {
    enum isl_ast_expr_op_type op = isl_ast_expr_op_get_type(cond);
    isl_ast_expr *lhs = isl_ast_expr_op_get_arg(cond, 0), *rhs = isl_ast_expr_op_get_arg(cond, 1);
    isl_id *lid = isl_ast_expr_get_type(lhs) == isl_ast_expr_id ? isl_ast_expr_get_id(lhs) : NULL;
    if ((op == isl_ast_expr_op_lt || op == isl_ast_expr_op_le) && lid == it &&
        !expr_uses_id(rhs, it)) {
      *hi = ast_expr(w, rhs);
      if (op == isl_ast_expr_op_le) *hi = LLVMBuildNSWAdd(w->f->b, *hi, cg_i64(w->cg, 1), "");
      ok = true;
    }
    isl_id_free(lid);
    isl_ast_expr_free(lhs);
    isl_ast_expr_free(rhs);
  }
  isl_ast_expr_free(cond);
  return ok;
}

/* The body with marks stripped, when it is one reduction update whose
 * target stays put along loop iterator `it`; NULL otherwise. */
static const lathe_kstmt_t *accumulating_body(walk_t *w, __isl_keep isl_ast_node *body,
                                              __isl_keep isl_id *it, uint32_t *out_stmt) {
  isl_ast_node *n = isl_ast_node_copy(body);
  while (isl_ast_node_get_type(n) == isl_ast_node_mark) {
    isl_ast_node *c = isl_ast_node_mark_get_node(n);
    isl_ast_node_free(n);
    n = c;
  }
  const lathe_kstmt_t *found = NULL;
  isl_ast_expr *call = NULL;
  uint32_t si;
  bool init;
  lathe_status_t st = isl_ast_node_get_type(n) == isl_ast_node_user
                          ? lathe_kast_user(n, &si, &init, &call)
                          : lathe_status_make(LATHE_STATUS_OK + 1, "not a user node");
  if (!st && !init && si < w->k->num_stmts) {
    const lathe_kstmt_t *s = w->k->stmts[si];
    bool moves = false;
    for (uint32_t i = 0; i < s->num_iters - s->num_reduce && !moves; ++i) {
      isl_ast_expr *a = isl_ast_expr_op_get_arg(call, (int)i + 1);
      moves = !a || expr_uses_id(a, it);
      isl_ast_expr_free(a);
    }
    if (s->combiner != LATHE_KCOMB_NONE && !moves &&
        !expr_reads_root(w->cg->p, s->value, cg_root(w->cg->p, s->target)))
      found = s, *out_stmt = si;
  }
  lathe_status_free(st);
  isl_ast_expr_free(call);
  isl_ast_node_free(n);
  return found;
}

/* The accumulating form of a reduction loop (see the file comment). */
static void accumulate_loop(walk_t *w, __isl_keep isl_ast_node *body, __isl_keep isl_id *it,
                            LLVMValueRef lo, LLVMValueRef hi, LLVMValueRef step, uint32_t si) {
  fn_t *f = w->f;
  const lathe_kstmt_t *s = w->k->stmts[si];
  lathe_dtype_t t = w->cg->p->buffers[s->target]->dtype;
  /* The target index does not depend on `it`: evaluate it at the loop's start. */
  isl_ast_node *n = isl_ast_node_copy(body);
  while (isl_ast_node_get_type(n) == isl_ast_node_mark) {
    isl_ast_node *c = isl_ast_node_mark_get_node(n);
    isl_ast_node_free(n);
    n = c;
  }
  push_var(w, it, lo);
  LLVMValueRef iters[LATHE_KMAX_ITERS] = {0};
  uint32_t dummy;
  bool init;
  lathe_status_t st = user_iters(w, n, &dummy, &init, iters);
  w->nvars--;
  if (st) {
    lathe_status_free(st);
    isl_ast_node_free(n);
    cg_fail(w->cg, LATHE_STATUS_INTERNAL, "malformed reduction in the AST");
    return;
  }
  eval_t e;
  eval_init(&e, f, iters, NULL);
  LLVMValueRef flat = eval_flat(&e, s->target, s->target_index);
  eval_free(&e);
  if (!flat) {
    isl_ast_node_free(n);
    return;
  }
  LLVMValueRef start = fn_load_elem(f, s->target, flat);
  loop_t l;
  fn_loop_begin(f, &l, lo, hi, step, "red");
  /* the accumulator: a phi next to the induction variable in the header */
  LLVMPositionBuilderBefore(f->b, LLVMGetNextInstruction(l.iv));
  LLVMValueRef acc = LLVMBuildPhi(f->b, LLVMTypeOf(start), "acc");
  LLVMPositionBuilderAtEnd(f->b, l.body);
  push_var(w, it, l.iv);
  LLVMValueRef its[LATHE_KMAX_ITERS] = {0};
  st = user_iters(w, n, &dummy, &init, its);
  lathe_status_free(st);
  eval_init(&e, f, its, NULL);
  LLVMValueRef v = stmt_value(w, &e, s, false);
  eval_free(&e);
  w->nvars--;
  LLVMValueRef next = v ? fn_scalar_op(f, combine_op[s->combiner], t, acc, v) : acc;
  if (!next) next = acc;
  next = lathe_dtype_is_float(t) ? fn_round(f, t, next) : next;
  LLVMBasicBlockRef latch = LLVMGetInsertBlock(f->b);
  LLVMValueRef br = fn_loop_end(f, &l);
  bool reorder = s->combiner == LATHE_KCOMB_SUM || s->combiner == LATHE_KCOMB_PROD;
  if (reorder) cg_loop_hint(w->cg, br, true, 0, false);
  LLVMValueRef in[2] = {start, next};
  LLVMBasicBlockRef from[2] = {l.pre, latch};
  LLVMAddIncoming(acc, in, from, 2);
  fn_store_elem(f, s->target, flat, acc);
  isl_ast_node_free(n);
}

/* Whether a for loop lies below node (through blocks, ifs and marks). */
static bool has_loop(__isl_keep isl_ast_node *node) {
  bool found = false;
  switch (isl_ast_node_get_type(node)) {
  case isl_ast_node_for: return true;
  case isl_ast_node_mark: {
    isl_ast_node *c = isl_ast_node_mark_get_node(node);
    found = has_loop(c);
    isl_ast_node_free(c);
    return found;
  }
  case isl_ast_node_if: {
    isl_ast_node *t = isl_ast_node_if_get_then_node(node);
    found = has_loop(t);
    isl_ast_node_free(t);
    if (!found && isl_ast_node_if_has_else_node(node) == isl_bool_true) {
      isl_ast_node *e = isl_ast_node_if_get_else_node(node);
      found = has_loop(e);
      isl_ast_node_free(e);
    }
    return found;
  }
  case isl_ast_node_block: {
    isl_ast_node_list *list = isl_ast_node_block_get_children(node);
    isl_size n = isl_ast_node_list_n_ast_node(list);
    for (int i = 0; i < n && !found; ++i) {
      isl_ast_node *c = isl_ast_node_list_get_at(list, i);
      found = has_loop(c);
      isl_ast_node_free(c);
    }
    isl_ast_node_list_free(list);
    return found;
  }
  default: return false;
  }
}

static void walk_for(walk_t *w, __isl_keep isl_ast_node *node, bool vector) {
  fn_t *f = w->f;
  isl_ast_expr *itx = isl_ast_node_for_get_iterator(node);
  isl_id *it = isl_ast_expr_get_id(itx);
  isl_ast_expr_free(itx);
  isl_ast_expr *init = isl_ast_node_for_get_init(node);
  LLVMValueRef lo = ast_expr(w, init);
  isl_ast_expr_free(init);
  isl_ast_node *body = isl_ast_node_for_get_body(node);
  if (isl_ast_node_for_is_degenerate(node) == isl_bool_true) {
    push_var(w, it, lo);
    walk(w, body, false);
    w->nvars--;
  } else {
    isl_ast_expr *inc = isl_ast_node_for_get_inc(node);
    LLVMValueRef step = ast_expr(w, inc), hi = NULL;
    isl_ast_expr_free(inc);
    uint32_t si;
    if (canonical_bounds(w, node, it, &hi)) {
      if (accumulating_body(w, body, it, &si)) {
        accumulate_loop(w, body, it, lo, hi, step, si);
      } else {
        loop_t l;
        fn_loop_begin(f, &l, lo, hi, step, "for");
        push_var(w, it, l.iv);
        walk(w, body, false);
        w->nvars--;
        LLVMValueRef br = fn_loop_end(f, &l);
        if (w->cg->force_width && !has_loop(body))
          cg_loop_hint(w->cg, br, true, w->cg->force_width, false);
        else if (vector) cg_loop_hint(w->cg, br, true, 0, false);
      }
    } else { /* a general condition, tested at the top of each iteration */
      LLVMBasicBlockRef pre = LLVMGetInsertBlock(f->b), head = fn_block(f, "for.cond"),
                        bodyb = fn_block(f, "for.body"), exit = fn_block(f, "for.exit");
      LLVMBuildBr(f->b, head);
      LLVMPositionBuilderAtEnd(f->b, head);
      LLVMValueRef iv = LLVMBuildPhi(f->b, w->cg->i64, "it");
      push_var(w, it, iv);
      isl_ast_expr *cond = isl_ast_node_for_get_cond(node);
      LLVMBuildCondBr(f->b, ast_cond(w, cond), bodyb, exit);
      isl_ast_expr_free(cond);
      LLVMPositionBuilderAtEnd(f->b, bodyb);
      walk(w, body, false);
      w->nvars--;
      LLVMValueRef next = LLVMBuildNSWAdd(f->b, iv, step, "");
      LLVMBasicBlockRef latch = LLVMGetInsertBlock(f->b);
      LLVMBuildBr(f->b, head);
      LLVMValueRef in[2] = {lo, next};
      LLVMBasicBlockRef from[2] = {pre, latch};
      LLVMAddIncoming(iv, in, from, 2);
      LLVMPositionBuilderAtEnd(f->b, exit);
    }
  }
  isl_ast_node_free(body);
  isl_id_free(it);
}

/* ---- parallel loops ---- */

/* Outlines the for loop `node` into a task and runs it with parallel_for.
 * Falls back to a sequential loop when its bounds are not canonical. */
static void walk_parallel(walk_t *w, __isl_keep isl_ast_node *node) {
  cg_t *cg = w->cg;
  fn_t *f = w->f;
  if (isl_ast_node_get_type(node) != isl_ast_node_for ||
      isl_ast_node_for_is_degenerate(node) == isl_bool_true) {
    walk(w, node, false);
    return;
  }
  isl_ast_expr *itx = isl_ast_node_for_get_iterator(node);
  isl_id *it = isl_ast_expr_get_id(itx);
  isl_ast_expr_free(itx);
  isl_ast_expr *init = isl_ast_node_for_get_init(node), *inc = isl_ast_node_for_get_inc(node);
  LLVMValueRef lo = ast_expr(w, init), step = ast_expr(w, inc), hi = NULL;
  isl_ast_expr_free(init);
  isl_ast_expr_free(inc);
  if (!canonical_bounds(w, node, it, &hi)) {
    isl_id_free(it);
    walk(w, node, false);
    return;
  }
  /* trip = max(0, ceil((hi - lo) / step)) */
  LLVMValueRef span = LLVMBuildNSWSub(f->b, hi, lo, "");
  LLVMValueRef trip = LLVMBuildSDiv(
      f->b, LLVMBuildNSWAdd(f->b, span, LLVMBuildNSWSub(f->b, step, cg_i64(cg, 1), ""), ""), step,
      "");
  trip = LLVMBuildSelect(f->b, LLVMBuildICmp(f->b, LLVMIntSGT, span, cg_i64(cg, 0), ""), trip,
                         cg_i64(cg, 0), "trip");
  /* closure: [args, lo, step, enclosing iterators...] as i64 */
  uint32_t n = w->nvars + 3;
  LLVMTypeRef cl_t = LLVMArrayType(cg->i64, n);
  LLVMValueRef cl = fn_alloca(f, cl_t, "closure");
  LLVMValueRef vals[MAX_VARS + 3];
  vals[0] = LLVMBuildPtrToInt(f->b, f->args, cg->i64, "");
  vals[1] = lo;
  vals[2] = step;
  for (uint32_t i = 0; i < w->nvars; ++i) vals[i + 3] = w->vals[i];
  for (uint32_t i = 0; i < n; ++i) {
    LLVMValueRef idx[2] = {cg_i64(cg, 0), cg_i64(cg, i)};
    LLVMBuildStore(f->b, vals[i], LLVMBuildInBoundsGEP2(f->b, cl_t, cl, idx, 2, ""));
  }
  /* the task */
  char name[512];
  snprintf(name, sizeof name, "%s.task%u", w->symbol, w->num_tasks++);
  fn_t tf;
  fn_begin(&tf, cg, w->k, name, cg->task_t);
  LLVMSetLinkage(tf.fn, LLVMInternalLinkage);
  LLVMValueRef tcl = LLVMBuildBitCast(tf.eb, LLVMGetParam(tf.fn, 0), LLVMPointerType(cl_t, 0), "");
  LLVMValueRef loaded[MAX_VARS + 3];
  for (uint32_t i = 0; i < n; ++i) {
    LLVMValueRef idx[2] = {cg_i64(cg, 0), cg_i64(cg, i)};
    loaded[i] =
        LLVMBuildLoad2(tf.eb, cg->i64, LLVMBuildInBoundsGEP2(tf.eb, cl_t, tcl, idx, 2, ""), "");
  }
  fn_load_args(&tf, LLVMBuildIntToPtr(tf.eb, loaded[0], LLVMPointerType(cg->args_t, 0), "args"));
  LLVMValueRef saved[MAX_VARS];
  memcpy(saved, w->vals, w->nvars * sizeof *saved);
  for (uint32_t i = 0; i < w->nvars; ++i) w->vals[i] = loaded[i + 3];
  w->f = &tf;
  w->in_task = true;
  loop_t l;
  fn_loop_begin(&tf, &l, LLVMGetParam(tf.fn, 1), LLVMGetParam(tf.fn, 2), cg_i64(cg, 1), "chunk");
  LLVMValueRef c = LLVMBuildNSWAdd(tf.b, loaded[1], LLVMBuildNSWMul(tf.b, l.iv, loaded[2], ""), "");
  push_var(w, it, c);
  isl_ast_node *body = isl_ast_node_for_get_body(node);
  walk(w, body, false);
  isl_ast_node_free(body);
  w->nvars--;
  fn_loop_end(&tf, &l);
  LLVMBuildRetVoid(tf.b);
  fn_end(&tf);
  w->f = f;
  w->in_task = false;
  memcpy(w->vals, saved, w->nvars * sizeof *saved);
  fn_parallel_for(f, cg_i64(cg, 0), trip, cg_i64(cg, 1), tf.fn, cl);
  isl_id_free(it);
}

/* ---- nodes ---- */

static void walk(walk_t *w, __isl_keep isl_ast_node *node, bool vector) {
  if (w->cg->error) return;
  fn_t *f = w->f;
  switch (isl_ast_node_get_type(node)) {
  case isl_ast_node_for: walk_for(w, node, vector); return;
  case isl_ast_node_if: {
    isl_ast_expr *cond = isl_ast_node_if_get_cond(node);
    LLVMValueRef c = ast_cond(w, cond);
    isl_ast_expr_free(cond);
    LLVMBasicBlockRef then = fn_block(f, "then"), els = fn_block(f, "else"),
                      done = fn_block(f, "endif");
    LLVMBuildCondBr(f->b, c, then, els);
    LLVMPositionBuilderAtEnd(f->b, then);
    isl_ast_node *t = isl_ast_node_if_get_then_node(node);
    walk(w, t, false);
    isl_ast_node_free(t);
    LLVMBuildBr(f->b, done);
    LLVMPositionBuilderAtEnd(f->b, els);
    if (isl_ast_node_if_has_else_node(node) == isl_bool_true) {
      isl_ast_node *e = isl_ast_node_if_get_else_node(node);
      walk(w, e, false);
      isl_ast_node_free(e);
    }
    LLVMBuildBr(f->b, done);
    LLVMPositionBuilderAtEnd(f->b, done);
    return;
  }
  case isl_ast_node_block: {
    isl_ast_node_list *list = isl_ast_node_block_get_children(node);
    isl_size n = isl_ast_node_list_n_ast_node(list);
    for (int i = 0; i < n; ++i) {
      isl_ast_node *c = isl_ast_node_list_get_at(list, i);
      walk(w, c, false);
      isl_ast_node_free(c);
    }
    isl_ast_node_list_free(list);
    return;
  }
  case isl_ast_node_mark: {
    lathe_kmark_kind_t kind;
    uint32_t width;
    lathe_status_t st = lathe_kast_mark(node, &kind, &width);
    isl_ast_node *child = isl_ast_node_mark_get_node(node);
    if (st) lathe_status_free(st), kind = (lathe_kmark_kind_t)-1;
    if (kind == LATHE_KMARK_PARALLEL && !w->in_task && !w->serial) walk_parallel(w, child);
    else walk(w, child, kind == LATHE_KMARK_VECTOR);
    isl_ast_node_free(child);
    return;
  }
  case isl_ast_node_user: walk_user(w, node); return;
  default: cg_fail(w->cg, LATHE_STATUS_INTERNAL, "unexpected AST node"); return;
  }
}

static bool writes_packed(const lathe_kprogram_t *p, const lathe_kernel_t *k) {
  for (uint32_t i = 0; i < k->num_writes; ++i) {
    lathe_dtype_t t = p->buffers[k->writes[i]]->dtype;
    if (t == LATHE_DTYPE_I4 || t == LATHE_DTYPE_U4) return true;
  }
  return false;
}

/* The backend's schedule: each statement's own, without the strip-mining of
 * the vector loop. LLVM's vectorizer strip-mines the whole innermost loop
 * itself (choosing its width and interleave from the target, with one
 * remainder loop), where an isl tile of 8 would leave it a loop of at most 8
 * iterations behind a min() bound. Cache tiles and unrolling stay. */
static lathe_kschedule_t *cpu_schedules(cg_t *cg, const lathe_kernel_t *k) {
  lathe_kschedule_t *s = LATHE_ARENA_NEW_ARRAY(&cg->arena, lathe_kschedule_t, k->num_stmts + 1);
  for (uint32_t i = 0; i < k->num_stmts; ++i) {
    s[i] = k->stmts[i]->schedule;
    if (s[i].vector >= 0 && !s[i].unroll[s[i].vector] &&
        s[i].tile[s[i].vector] == s[i].vector_width) {
      s[i].tile[s[i].vector] = 0;
      s[i].vector = -1;
      s[i].vector_width = 0;
    }
  }
  return s;
}

LLVMValueRef cg_loops_kernel(cg_t *cg, const lathe_kernel_t *k, const char *symbol) {
  isl_ctx *ctx = isl_ctx_alloc();
  isl_ast_node *ast = NULL;
  lathe_status_t st = lathe_kernel_build_ast(cg->p, k, ctx, cpu_schedules(cg, k), &ast);
  if (st) {
    cg_fail(cg, lathe_status_code(st), "%s", lathe_status_message(st));
    lathe_status_free(st);
    isl_ctx_free(ctx);
    return NULL;
  }
  fn_t f;
  fn_begin(&f, cg, k, symbol, cg->kernel_t);
  LLVMSetLinkage(f.fn, LLVMInternalLinkage); /* reached through the descriptor only */
  fn_load_args(&f, LLVMGetParam(f.fn, 0));
  walk_t w = {.cg = cg, .f = &f, .k = k, .symbol = symbol, .serial = writes_packed(cg->p, k)};
  walk(&w, ast, false);
  LLVMBuildRet(f.b, LLVMConstInt(cg->i32, 0, 0));
  fn_end(&f);
  isl_ast_node_free(ast);
  isl_ctx_free(ctx);
  return cg->error ? NULL : f.fn;
}
