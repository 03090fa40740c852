/* The interpreter's loop walker: runs a LOOPS kernel by executing the isl AST
 * of its schedule, so every test of the interpreter is also a test of the
 * domains, the schedule tree and isl's loop generation that the backends use.
 *
 * The AST is first compiled into a small tree of our own (anode_t/aexpr_t)
 * with variables resolved to slots (params first, then loop iterators), so
 * the hot loop makes no isl calls and no allocations. Then each user node
 * S<s>/I<s> evaluates statement s's tapes at the iterator values of its
 * arguments and stores, combines or initialises the target element.
 */
#include <stdlib.h>
#include <string.h>

#include <isl/ast.h>
#include <isl/val.h>

#include "kernel/interp.h"

enum { AX_INT = -2, AX_VAR = -3 };

typedef struct aexpr {
  int op;    /* AX_INT, AX_VAR or an isl_ast_expr_op_type */
  int64_t v; /* AX_INT: the value; AX_VAR: the slot */
  uint32_t n;
  struct aexpr **args;
} aexpr_t;

typedef struct anode {
  enum isl_ast_node_type kind;
  uint32_t var; /* for: the iterator's slot */
  bool degenerate;
  aexpr_t *init, *cond, *inc;
  struct anode *body, *els; /* for: body; if: then, else (may be NULL) */
  uint32_t n;
  struct anode **children; /* block */
  uint32_t stmt;
  bool is_init;
  aexpr_t **args; /* user: n iterator values */
} anode_t;

typedef struct {
  const lathe_kprogram_t *p;
  lathe_arena_t *arena;
  kvec_t ids; /* (isl_id *) per loop iterator slot, offset by num_params */
  lathe_status_t error;
} acomp_t;

static aexpr_t *comp_expr(acomp_t *c, __isl_take isl_ast_expr *x) {
  aexpr_t *e = LATHE_ARENA_NEW(c->arena, aexpr_t);
  switch (isl_ast_expr_get_type(x)) {
  case isl_ast_expr_int: {
    isl_val *v = isl_ast_expr_get_val(x);
    e->op = AX_INT;
    e->v = isl_val_get_num_si(v);
    isl_val_free(v);
    break;
  }
  case isl_ast_expr_id: {
    isl_id *id = isl_ast_expr_get_id(x);
    e->op = AX_VAR;
    int32_t param = lathe_kprogram_param_of_id(c->p, id);
    e->v = param;
    if (param < 0) {
      isl_id **ids = c->ids.data;
      e->v = -1;
      for (size_t i = c->ids.len; i-- > 0 && e->v < 0;)
        if (ids[i] == id) e->v = (int64_t)(c->p->num_params + i);
      if (e->v < 0 && !c->error)
        c->error = lathe_status_make(LATHE_STATUS_INTERNAL, "AST names an unknown variable");
      if (e->v < 0) e->v = 0;
    }
    isl_id_free(id);
    break;
  }
  default: {
    e->op = isl_ast_expr_get_op_type(x);
    isl_size n = isl_ast_expr_get_op_n_arg(x);
    e->n = n > 0 ? (uint32_t)n : 0;
    e->args = LATHE_ARENA_NEW_ARRAY(c->arena, aexpr_t *, e->n ? e->n : 1);
    for (uint32_t i = 0; i < e->n; ++i)
      e->args[i] = comp_expr(c, isl_ast_expr_get_op_arg(x, (int)i));
    break;
  }
  }
  isl_ast_expr_free(x);
  return e;
}

static anode_t *comp_node(acomp_t *c, __isl_keep isl_ast_node *x) {
  anode_t *a = LATHE_ARENA_NEW(c->arena, anode_t);
  a->kind = isl_ast_node_get_type(x);
  switch (a->kind) {
  case isl_ast_node_for: {
    isl_ast_expr *it = isl_ast_node_for_get_iterator(x);
    isl_id *id = isl_ast_expr_get_id(it);
    isl_ast_expr_free(it);
    a->var = c->p->num_params + (uint32_t)c->ids.len;
    *(isl_id **)kvec_push(&c->ids, sizeof id) = id;
    a->init = comp_expr(c, isl_ast_node_for_get_init(x));
    a->degenerate = isl_ast_node_for_is_degenerate(x) == isl_bool_true;
    if (!a->degenerate) {
      a->cond = comp_expr(c, isl_ast_node_for_get_cond(x));
      a->inc = comp_expr(c, isl_ast_node_for_get_inc(x));
    }
    isl_ast_node *body = isl_ast_node_for_get_body(x);
    a->body = comp_node(c, body);
    isl_ast_node_free(body);
    break;
  }
  case isl_ast_node_if: {
    a->cond = comp_expr(c, isl_ast_node_if_get_cond(x));
    isl_ast_node *then = isl_ast_node_if_get_then_node(x);
    a->body = comp_node(c, then);
    isl_ast_node_free(then);
    if (isl_ast_node_if_has_else_node(x) == isl_bool_true) {
      isl_ast_node *els = isl_ast_node_if_get_else_node(x);
      a->els = comp_node(c, els);
      isl_ast_node_free(els);
    }
    break;
  }
  case isl_ast_node_block: {
    isl_ast_node_list *list = isl_ast_node_block_get_children(x);
    isl_size n = isl_ast_node_list_n_ast_node(list);
    a->n = n > 0 ? (uint32_t)n : 0;
    a->children = LATHE_ARENA_NEW_ARRAY(c->arena, anode_t *, a->n ? a->n : 1);
    for (uint32_t i = 0; i < a->n; ++i) {
      isl_ast_node *child = isl_ast_node_list_get_at(list, (int)i);
      a->children[i] = comp_node(c, child);
      isl_ast_node_free(child);
    }
    isl_ast_node_list_free(list);
    break;
  }
  case isl_ast_node_mark: {
    isl_ast_node *child = isl_ast_node_mark_get_node(x);
    a->body = comp_node(c, child);
    isl_ast_node_free(child);
    break;
  }
  case isl_ast_node_user: {
    isl_ast_expr *call;
    lathe_status_t st = lathe_kast_user(x, &a->stmt, &a->is_init, &call);
    if (st) {
      if (!c->error) c->error = st;
      else lathe_status_free(st);
      a->kind = isl_ast_node_block; /* an empty block */
      break;
    }
    isl_size n = isl_ast_expr_op_get_n_arg(call);
    a->n = n > 1 ? (uint32_t)n - 1 : 0;
    a->args = LATHE_ARENA_NEW_ARRAY(c->arena, aexpr_t *, a->n ? a->n : 1);
    for (uint32_t i = 0; i < a->n; ++i)
      a->args[i] = comp_expr(c, isl_ast_expr_op_get_arg(call, (int)i + 1));
    isl_ast_expr_free(call);
    break;
  }
  default:
    if (!c->error) c->error = lathe_status_make(LATHE_STATUS_INTERNAL, "unexpected AST node");
    a->kind = isl_ast_node_block;
    break;
  }
  return a;
}

static int64_t floordiv(int64_t a, int64_t b) {
  if (b == 0) return 0;
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static int64_t eval(const aexpr_t *e, const int64_t *vars) {
  if (e->op == AX_INT) return e->v;
  if (e->op == AX_VAR) return vars[e->v];
  int64_t a = e->n > 0 ? eval(e->args[0], vars) : 0;
  switch ((enum isl_ast_expr_op_type)e->op) {
  case isl_ast_expr_op_and:
  case isl_ast_expr_op_and_then: return a && eval(e->args[1], vars);
  case isl_ast_expr_op_or:
  case isl_ast_expr_op_or_else: return a || eval(e->args[1], vars);
  case isl_ast_expr_op_max:
    for (uint32_t i = 1; i < e->n; ++i) {
      int64_t b = eval(e->args[i], vars);
      a = b > a ? b : a;
    }
    return a;
  case isl_ast_expr_op_min:
    for (uint32_t i = 1; i < e->n; ++i) {
      int64_t b = eval(e->args[i], vars);
      a = b < a ? b : a;
    }
    return a;
  case isl_ast_expr_op_minus: return -a;
  case isl_ast_expr_op_add: return a + eval(e->args[1], vars);
  case isl_ast_expr_op_sub: return a - eval(e->args[1], vars);
  case isl_ast_expr_op_mul: return a * eval(e->args[1], vars);
  case isl_ast_expr_op_div:
  case isl_ast_expr_op_pdiv_q: {
    int64_t b = eval(e->args[1], vars);
    return b ? a / b : 0;
  }
  case isl_ast_expr_op_fdiv_q: return floordiv(a, eval(e->args[1], vars));
  case isl_ast_expr_op_pdiv_r:
  case isl_ast_expr_op_zdiv_r: {
    int64_t b = eval(e->args[1], vars);
    return b ? a % b : 0;
  }
  case isl_ast_expr_op_cond:
  case isl_ast_expr_op_select: return a ? eval(e->args[1], vars) : eval(e->args[2], vars);
  case isl_ast_expr_op_eq: return a == eval(e->args[1], vars);
  case isl_ast_expr_op_le: return a <= eval(e->args[1], vars);
  case isl_ast_expr_op_lt: return a < eval(e->args[1], vars);
  case isl_ast_expr_op_ge: return a >= eval(e->args[1], vars);
  case isl_ast_expr_op_gt: return a > eval(e->args[1], vars);
  default: return 0;
  }
}

/* A statement ready to run: tapes for its init and update sides. */
typedef struct {
  const lathe_kstmt_t *s;
  tape_t init, upd;
  uint32_t init_slots[LATHE_MAX_RANK + 1], upd_slots[LATHE_MAX_RANK + 1];
} sprep_t;

typedef struct {
  irun_t *r;
  sprep_t *stmts;
  int64_t *vars;
} aexec_t;

static lathe_status_t run_user(aexec_t *x, const anode_t *a) {
  sprep_t *sp = &x->stmts[a->stmt];
  const lathe_kstmt_t *s = sp->s;
  int64_t iters[LATHE_KMAX_ITERS] = {0};
  for (uint32_t i = 0; i < a->n && i < LATHE_KMAX_ITERS; ++i) iters[i] = eval(a->args[i], x->vars);
  tape_t *t = a->is_init ? &sp->init : &sp->upd;
  uint32_t *slots = a->is_init ? sp->init_slots : sp->upd_slots;
  LATHE_RETURN_IF_ERROR(tape_run(x->r, t, iters, (kval_t){0}));
  ibuf_t *target = &x->r->bufs[s->target];
  int64_t index[LATHE_MAX_RANK], flat;
  for (uint32_t d = 0; d < target->rank; ++d) index[d] = t->slots[slots[d + 1]].i;
  LATHE_RETURN_IF_ERROR(ibuf_flat(x->r, s->target, index, &flat));
  kval_t v = t->slots[slots[0]];
  if (!a->is_init && s->combiner != LATHE_KCOMB_NONE) {
    static const lathe_kop_t ops[] = {LATHE_KOP_ADD, LATHE_KOP_ADD, LATHE_KOP_MUL, LATHE_KOP_MAX,
                                      LATHE_KOP_MIN};
    v = kop_eval(ops[s->combiner], target->dtype, ibuf_get(target, flat), v);
  }
  ibuf_set(target, flat, v);
  return NULL;
}

static lathe_status_t exec(aexec_t *x, const anode_t *a) {
  switch (a->kind) {
  case isl_ast_node_for:
    x->vars[a->var] = eval(a->init, x->vars);
    if (a->degenerate) return exec(x, a->body);
    for (; eval(a->cond, x->vars); x->vars[a->var] += eval(a->inc, x->vars))
      LATHE_RETURN_IF_ERROR(exec(x, a->body));
    return NULL;
  case isl_ast_node_if:
    if (eval(a->cond, x->vars)) return exec(x, a->body);
    return a->els ? exec(x, a->els) : NULL;
  case isl_ast_node_block:
    for (uint32_t i = 0; i < a->n; ++i) LATHE_RETURN_IF_ERROR(exec(x, a->children[i]));
    return NULL;
  case isl_ast_node_mark: return exec(x, a->body);
  case isl_ast_node_user: return run_user(x, a);
  default: return NULL;
  }
}

static void prep_stmt(sprep_t *sp, const lathe_kstmt_t *s, uint32_t rank) {
  const lathe_kexpr_t *roots[LATHE_MAX_RANK + 1];
  sp->s = s;
  for (uint32_t d = 0; d < rank; ++d) roots[d + 1] = s->target_index[d];
  roots[0] = s->value;
  tape_build(&sp->upd, rank + 1, roots, sp->upd_slots);
  if (s->init) {
    roots[0] = s->init;
    tape_build(&sp->init, rank + 1, roots, sp->init_slots);
  }
}

lathe_status_t interp_loops_kernel(irun_t *r, const lathe_kernel_t *k,
                                   const lathe_kschedule_t *schedules) {
  isl_ctx *ctx = isl_ctx_alloc();
  isl_ast_node *ast = NULL;
  lathe_status_t st = lathe_kernel_build_ast(r->p, k, ctx, schedules, &ast);
  lathe_arena_t arena;
  lathe_arena_init(&arena);
  acomp_t c = {.p = r->p, .arena = &arena};
  anode_t *root = NULL;
  if (!st) {
    root = comp_node(&c, ast);
    st = c.error;
  }
  isl_ast_node_free(ast);
  isl_id **ids = c.ids.data;
  size_t num_vars = r->p->num_params + c.ids.len;
  for (size_t i = 0; i < c.ids.len; ++i) isl_id_free(ids[i]);
  kvec_free(&c.ids);
  isl_ctx_free(ctx);
  sprep_t *stmts = calloc(k->num_stmts, sizeof *stmts);
  int64_t *vars = calloc(num_vars + 1, sizeof *vars);
  if (!stmts || !vars) abort();
  for (uint32_t s = 0; s < k->num_stmts; ++s)
    prep_stmt(&stmts[s], k->stmts[s], r->p->buffers[k->stmts[s]->target]->rank);
  if (r->p->num_params) memcpy(vars, r->params, r->p->num_params * sizeof *vars);
  aexec_t x = {r, stmts, vars};
  if (!st) st = exec(&x, root);
  for (uint32_t s = 0; s < k->num_stmts; ++s) {
    tape_free(&stmts[s].upd);
    tape_free(&stmts[s].init);
  }
  free(stmts);
  free(vars);
  lathe_arena_destroy(&arena);
  return st;
}
