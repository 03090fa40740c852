/* Kernel-IR expressions: the scalar op table, typed constructors and light
 * folding.
 *
 * Constructors check operand dtypes against scalar_ops.def and return NULL
 * (recording the misuse, see program.c) when they do not fit, so lowering code
 * composes expressions freely and checks once. Integer arithmetic on
 * constants folds, and x+0, x*1, x*0 simplify on integers: index expressions
 * built from broadcasting and views then stay short and affine, which keeps
 * printed kernels readable and backends' address arithmetic cheap. Float
 * expressions are never rewritten (that would change rounding).
 */
#include <string.h>

#include "kernel/internal.h"

static const lathe_kop_info_t op_table[LATHE_KOP_COUNT] = {
#define SCALAR_OP(e, name, arity, operands, result) \
  [LATHE_KOP_##e] = {name, arity, LATHE_KOPD_##operands, LATHE_KRES_##result},
#include "kernel/scalar_ops.def"
#undef SCALAR_OP
};

const lathe_kop_info_t *lathe_kop_info(lathe_kop_t op) {
  return (unsigned)op < LATHE_KOP_COUNT ? &op_table[op] : NULL;
}

bool lathe_kop_from_name(const char *name, lathe_kop_t *out_op) {
  for (unsigned i = 0; i < LATHE_KOP_COUNT; ++i)
    if (strcmp(op_table[i].name, name) == 0) {
      *out_op = (lathe_kop_t)i;
      return true;
    }
  return false;
}

static bool operand_ok(lathe_kop_operands_t cls, lathe_dtype_t t) {
  bool is_bool = t == LATHE_DTYPE_BOOL;
  switch (cls) {
  case LATHE_KOPD_NUM: return lathe_dtype_is_float(t) || lathe_dtype_is_integer(t);
  case LATHE_KOPD_FLOAT: return lathe_dtype_is_float(t);
  case LATHE_KOPD_INT: return lathe_dtype_is_integer(t);
  case LATHE_KOPD_LOGIC: return is_bool || lathe_dtype_is_integer(t);
  case LATHE_KOPD_ANY: return t > LATHE_DTYPE_INVALID && t < LATHE_DTYPE_COUNT;
  }
  return false;
}

/* A new node; its argument slots (writable here, const once published) go
 * to *out_args when num_args > 0. */
static lathe_kexpr_t *node_args(lathe_kprogram_t *p, lathe_kexpr_kind_t kind, lathe_dtype_t dtype,
                                uint32_t num_args, const lathe_kexpr_t ***out_args) {
  lathe_kexpr_t *e = LATHE_ARENA_NEW(&p->arena, lathe_kexpr_t);
  e->kind = kind;
  e->dtype = dtype;
  e->num_args = num_args;
  if (num_args) {
    const lathe_kexpr_t **args = LATHE_ARENA_NEW_ARRAY(&p->arena, const lathe_kexpr_t *, num_args);
    e->args = args;
    *out_args = args;
  }
  return e;
}

static lathe_kexpr_t *node(lathe_kprogram_t *p, lathe_kexpr_kind_t kind, lathe_dtype_t dtype) {
  return node_args(p, kind, dtype, 0, NULL);
}

const lathe_kexpr_t *lathe_kexpr_iter(lathe_kprogram_t *p, uint32_t iter) {
  lathe_kexpr_t *e = node(p, LATHE_KEXPR_ITER, LATHE_DTYPE_I64);
  e->index = iter;
  return e;
}

const lathe_kexpr_t *lathe_kexpr_param(lathe_kprogram_t *p, uint32_t param) {
  if (param >= p->num_params) return kbuild_fail(p, "param %u does not exist", param);
  lathe_kexpr_t *e = node(p, LATHE_KEXPR_PARAM, LATHE_DTYPE_I64);
  e->index = param;
  return e;
}

const lathe_kexpr_t *lathe_kexpr_int(lathe_kprogram_t *p, lathe_dtype_t dtype, int64_t v) {
  if (lathe_dtype_is_float(dtype)) return lathe_kexpr_float(p, dtype, (double)v);
  if (!operand_ok(LATHE_KOPD_LOGIC, dtype)) return kbuild_fail(p, "int constant of a bad dtype");
  lathe_kexpr_t *e = node(p, LATHE_KEXPR_INT, dtype);
  e->i = kval_round(dtype, (kval_t){.i = v}).i;
  return e;
}

const lathe_kexpr_t *lathe_kexpr_float(lathe_kprogram_t *p, lathe_dtype_t dtype, double v) {
  if (!lathe_dtype_is_float(dtype))
    return lathe_kexpr_int(p, dtype, kval_convert(dtype, LATHE_DTYPE_F64, (kval_t){.f = v}).i);
  lathe_kexpr_t *e = node(p, LATHE_KEXPR_FLOAT, dtype);
  e->f = kval_round(dtype, (kval_t){.f = v}).f;
  return e;
}

const lathe_kexpr_t *lathe_kexpr_dim(lathe_kprogram_t *p, lathe_kdim_t dim) {
  return lathe_kdim_is_static(dim) ? lathe_kexpr_int(p, LATHE_DTYPE_I64, dim.size)
                                   : lathe_kexpr_param(p, (uint32_t)dim.param);
}

const lathe_kexpr_t *lathe_kexpr_load(lathe_kprogram_t *p, const lathe_kbuffer_t *buffer,
                                      const lathe_kexpr_t *const *index) {
  if (!buffer) return kbuild_fail(p, "load from no buffer");
  const lathe_kexpr_t **args = NULL;
  lathe_kexpr_t *e = node_args(p, LATHE_KEXPR_LOAD, buffer->dtype, buffer->rank, &args);
  e->index = buffer->id;
  for (uint32_t i = 0; i < buffer->rank; ++i) {
    if (!index[i]) return NULL;
    if (index[i]->dtype != LATHE_DTYPE_I64)
      return kbuild_fail(p, "load from '%s': index %u is not i64", buffer->name, i);
    args[i] = index[i];
  }
  return e;
}

static bool is_int_const(const lathe_kexpr_t *e, int64_t v) {
  return e->kind == LATHE_KEXPR_INT && e->i == v;
}

const lathe_kexpr_t *lathe_kexpr_unary(lathe_kprogram_t *p, lathe_kop_t op,
                                       const lathe_kexpr_t *a) {
  const lathe_kop_info_t *info = lathe_kop_info(op);
  if (!a) return NULL;
  if (!info || info->arity != 1) return kbuild_fail(p, "scalar op %d is not unary", (int)op);
  if (!operand_ok(info->operands, a->dtype))
    return kbuild_fail(p, "scalar op '%s' does not take %s", info->name,
                       lathe_dtype_name(a->dtype));
  lathe_dtype_t rt = info->result == LATHE_KRES_BOOL ? LATHE_DTYPE_BOOL : a->dtype;
  if (a->kind == LATHE_KEXPR_INT && !lathe_dtype_is_float(a->dtype))
    return lathe_kexpr_int(p, rt, kop_eval(op, a->dtype, (kval_t){.i = a->i}, (kval_t){0}).i);
  const lathe_kexpr_t **args;
  lathe_kexpr_t *e = node_args(p, LATHE_KEXPR_UNARY, rt, 1, &args);
  e->op = op;
  args[0] = a;
  return e;
}

/* Integer identities that keep index expressions short: neutral elements,
 * and constants gathered across nested adds and muls ((x * 4) * 6 = x * 24,
 * (x * 24) / 6 = x * 4). */
static const lathe_kexpr_t *simplify_int(lathe_kprogram_t *p, lathe_kop_t op,
                                         const lathe_kexpr_t *a, const lathe_kexpr_t *b) {
  bool inner_const = a->dtype == LATHE_DTYPE_I64 && a->kind == LATHE_KEXPR_BINARY &&
                     a->args[1]->kind == LATHE_KEXPR_INT && b->kind == LATHE_KEXPR_INT;
  int64_t k = inner_const ? a->args[1]->i : 0, folded;
  if (inner_const && op == a->op && op == LATHE_KOP_ADD && lathe_checked_add_i64(k, b->i, &folded))
    return lathe_kexpr_binary(p, LATHE_KOP_ADD, a->args[0], lathe_kexpr_int(p, a->dtype, folded));
  if (inner_const && op == a->op && op == LATHE_KOP_MUL && lathe_checked_mul_i64(k, b->i, &folded))
    return lathe_kexpr_binary(p, LATHE_KOP_MUL, a->args[0], lathe_kexpr_int(p, a->dtype, folded));
  if (inner_const && a->op == LATHE_KOP_MUL && op == LATHE_KOP_FLOORDIV && b->i > 0 &&
      k % b->i == 0)
    return lathe_kexpr_binary(p, LATHE_KOP_MUL, a->args[0], lathe_kexpr_int(p, a->dtype, k / b->i));
  switch (op) {
  case LATHE_KOP_ADD:
    if (is_int_const(a, 0)) return b;
    if (is_int_const(b, 0)) return a;
    break;
  case LATHE_KOP_SUB:
    if (is_int_const(b, 0)) return a;
    break;
  case LATHE_KOP_MUL:
    if (is_int_const(a, 1) || is_int_const(b, 0)) return b;
    if (is_int_const(b, 1) || is_int_const(a, 0)) return a;
    break;
  case LATHE_KOP_DIV:
  case LATHE_KOP_FLOORDIV:
    if (is_int_const(b, 1)) return a;
    break;
  default: break;
  }
  return NULL;
}

const lathe_kexpr_t *lathe_kexpr_binary(lathe_kprogram_t *p, lathe_kop_t op, const lathe_kexpr_t *a,
                                        const lathe_kexpr_t *b) {
  const lathe_kop_info_t *info = lathe_kop_info(op);
  if (!a || !b) return NULL;
  if (!info || info->arity != 2) return kbuild_fail(p, "scalar op %d is not binary", (int)op);
  if (a->dtype != b->dtype || !operand_ok(info->operands, a->dtype))
    return kbuild_fail(p, "scalar op '%s' does not take %s and %s", info->name,
                       lathe_dtype_name(a->dtype), lathe_dtype_name(b->dtype));
  lathe_dtype_t rt = info->result == LATHE_KRES_BOOL ? LATHE_DTYPE_BOOL : a->dtype;
  if (!lathe_dtype_is_float(a->dtype)) {
    if (a->kind == LATHE_KEXPR_INT && b->kind == LATHE_KEXPR_INT)
      return lathe_kexpr_int(p, rt,
                             kop_eval(op, a->dtype, (kval_t){.i = a->i}, (kval_t){.i = b->i}).i);
    const lathe_kexpr_t *s = rt == a->dtype ? simplify_int(p, op, a, b) : NULL;
    if (s) return s;
  }
  const lathe_kexpr_t **args;
  lathe_kexpr_t *e = node_args(p, LATHE_KEXPR_BINARY, rt, 2, &args);
  e->op = op;
  args[0] = a;
  args[1] = b;
  return e;
}

const lathe_kexpr_t *lathe_kexpr_select(lathe_kprogram_t *p, const lathe_kexpr_t *c,
                                        const lathe_kexpr_t *a, const lathe_kexpr_t *b) {
  if (!c || !a || !b) return NULL;
  if (c->dtype != LATHE_DTYPE_BOOL || a->dtype != b->dtype)
    return kbuild_fail(p, "select(%s, %s, %s) is ill-typed", lathe_dtype_name(c->dtype),
                       lathe_dtype_name(a->dtype), lathe_dtype_name(b->dtype));
  if (c->kind == LATHE_KEXPR_INT) return c->i ? a : b;
  const lathe_kexpr_t **args;
  lathe_kexpr_t *e = node_args(p, LATHE_KEXPR_SELECT, a->dtype, 3, &args);
  args[0] = c;
  args[1] = a;
  args[2] = b;
  return e;
}

const lathe_kexpr_t *lathe_kexpr_cast(lathe_kprogram_t *p, lathe_dtype_t dtype,
                                      const lathe_kexpr_t *a) {
  if (!a) return NULL;
  if (a->dtype == dtype) return a;
  if (!operand_ok(LATHE_KOPD_ANY, dtype)) return kbuild_fail(p, "cast to a bad dtype");
  if (a->kind == LATHE_KEXPR_INT || a->kind == LATHE_KEXPR_FLOAT) {
    kval_t v = a->kind == LATHE_KEXPR_INT ? (kval_t){.i = a->i} : (kval_t){.f = a->f};
    kval_t r = kval_convert(dtype, a->dtype, v);
    return lathe_dtype_is_float(dtype) ? lathe_kexpr_float(p, dtype, r.f)
                                       : lathe_kexpr_int(p, dtype, r.i);
  }
  const lathe_kexpr_t **args;
  lathe_kexpr_t *e = node_args(p, LATHE_KEXPR_CAST, dtype, 1, &args);
  args[0] = a;
  return e;
}

const lathe_kexpr_t *lathe_kexpr_acc(lathe_kprogram_t *p, lathe_dtype_t dtype) {
  return node(p, LATHE_KEXPR_ACC, dtype);
}

bool kexpr_equal(const lathe_kexpr_t *a, const lathe_kexpr_t *b) {
  if (a == b) return true;
  if (!a || !b || a->kind != b->kind || a->dtype != b->dtype || a->num_args != b->num_args)
    return false;
  switch (a->kind) {
  case LATHE_KEXPR_ITER:
  case LATHE_KEXPR_PARAM:
  case LATHE_KEXPR_LOAD:
    if (a->index != b->index) return false;
    break;
  case LATHE_KEXPR_INT:
    if (a->i != b->i) return false;
    break;
  case LATHE_KEXPR_FLOAT:
    if (memcmp(&a->f, &b->f, sizeof a->f) != 0) return false;
    break;
  case LATHE_KEXPR_UNARY:
  case LATHE_KEXPR_BINARY:
    if (a->op != b->op) return false;
    break;
  default: break;
  }
  for (uint32_t i = 0; i < a->num_args; ++i)
    if (!kexpr_equal(a->args[i], b->args[i])) return false;
  return true;
}

int64_t kexpr_eval_index(const lathe_kexpr_t *e, const int64_t *params) {
  switch (e->kind) {
  case LATHE_KEXPR_INT: return e->i;
  case LATHE_KEXPR_PARAM: return params[e->index];
  case LATHE_KEXPR_UNARY:
    return kop_eval(e->op, e->args[0]->dtype, (kval_t){.i = kexpr_eval_index(e->args[0], params)},
                    (kval_t){0})
        .i;
  case LATHE_KEXPR_BINARY:
    return kop_eval(e->op, e->args[0]->dtype, (kval_t){.i = kexpr_eval_index(e->args[0], params)},
                    (kval_t){.i = kexpr_eval_index(e->args[1], params)})
        .i;
  case LATHE_KEXPR_SELECT:
    return kexpr_eval_index(e->args[0], params) ? kexpr_eval_index(e->args[1], params)
                                                : kexpr_eval_index(e->args[2], params);
  default: return 0;
  }
}
