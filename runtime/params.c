/* Derived sizes: params computed from other params by a small postfix
 * program (N*128, (H+1)/2) instead of read from an input dim.
 *
 * The kernel IR keeps every buffer dim a constant or exactly one param, so
 * sizes like N*128 become params of their own; the compiler writes each as
 * postfix ops over earlier params, which can live in an artifact as plain
 * data. Evaluating them here, with the integer semantics of
 * kernel/scalar_ops.def and wrapping instead of trapping, means a hostile
 * binding (a huge N) can never crash the runtime: it yields a size that the
 * executor then rejects or that fails allocation with a status. */
#include "runtime/internal.h"

static const char *param_name(const lathe_rt_param_desc_t *q) { return q->name ? q->name : "?"; }

lathe_status_t lathe_rt_param_check(const lathe_rt_program_t *p, int32_t index) {
  const lathe_rt_param_desc_t *q = &p->params[index];
  if (q->num_ops <= 0 || !q->ops)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                             "program: param %d ('%s'): derived but has no ops", (int)index,
                             param_name(q));
  int32_t depth = 0;
  for (int32_t i = 0; i < q->num_ops; ++i) {
    const lathe_rt_param_op_t *op = &q->ops[i];
    int32_t pops, why = 0; /* 1: bad op, 2: bad param ref */
    switch (op->op) {
    case LATHE_RT_PARAM_OP_CONST: pops = 0; break;
    case LATHE_RT_PARAM_OP_PARAM:
      pops = 0;
      if (op->value < 0 || op->value >= index) why = 2;
      break;
    case LATHE_RT_PARAM_OP_NEG:
    case LATHE_RT_PARAM_OP_ABS: pops = 1; break;
    default:
      pops = 2;
      if (op->op <= LATHE_RT_PARAM_OP_ABS || op->op >= LATHE_RT_PARAM_OP_COUNT) why = 1;
    }
    if (why || depth < pops || depth - pops + 1 > LATHE_RT_MAX_PARAM_STACK)
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "program: param %d ('%s'): op %d %s",
                               (int)index, param_name(q), (int)i,
                               why == 1       ? "is unknown"
                               : why == 2     ? "reads a param that is not an earlier one"
                               : depth < pops ? "underflows the stack"
                                              : "overflows the stack");
    depth = depth - pops + 1;
  }
  if (depth != 1)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                             "program: param %d ('%s'): ops leave %d values, not 1", (int)index,
                             param_name(q), (int)depth);
  return NULL;
}

/* Wrapping arithmetic: the unsigned forms are defined for every input. */
static int64_t wrap(uint64_t v) { return (int64_t)v; }

static int64_t binary(int32_t op, int64_t a, int64_t b) {
  switch (op) {
  case LATHE_RT_PARAM_OP_ADD: return wrap((uint64_t)a + (uint64_t)b);
  case LATHE_RT_PARAM_OP_SUB: return wrap((uint64_t)a - (uint64_t)b);
  case LATHE_RT_PARAM_OP_MUL: return wrap((uint64_t)a * (uint64_t)b);
  case LATHE_RT_PARAM_OP_MAX: return a > b ? a : b;
  case LATHE_RT_PARAM_OP_MIN: return a < b ? a : b;
  default: break;
  }
  if (b == 0) return 0;
  if (b == -1) { /* INT64_MIN / -1 overflows: negate with wrapping */
    return op == LATHE_RT_PARAM_OP_MOD ? 0 : wrap(0 - (uint64_t)a);
  }
  int64_t q = a / b, r = a % b;
  bool floor_fix = r != 0 && ((r < 0) != (b < 0));
  switch (op) {
  case LATHE_RT_PARAM_OP_DIV: return q;
  case LATHE_RT_PARAM_OP_FLOORDIV: return floor_fix ? q - 1 : q;
  default: return floor_fix ? r + b : r; /* MOD */
  }
}

lathe_status_t lathe_rt_param_derive(const lathe_rt_program_t *p, int64_t *params) {
  for (int32_t index = 0; index < p->num_params; ++index) {
    const lathe_rt_param_desc_t *q = &p->params[index];
    if (q->input >= 0) continue;
    int64_t stack[LATHE_RT_MAX_PARAM_STACK];
    int32_t depth = 0;
    for (int32_t i = 0; i < q->num_ops; ++i) {
      const lathe_rt_param_op_t *op = &q->ops[i];
      switch (op->op) {
      case LATHE_RT_PARAM_OP_CONST: stack[depth++] = op->value; break;
      case LATHE_RT_PARAM_OP_PARAM: stack[depth++] = params[op->value]; break;
      case LATHE_RT_PARAM_OP_NEG: stack[depth - 1] = wrap(0 - (uint64_t)stack[depth - 1]); break;
      case LATHE_RT_PARAM_OP_ABS:
        if (stack[depth - 1] < 0) stack[depth - 1] = wrap(0 - (uint64_t)stack[depth - 1]);
        break;
      default: --depth; stack[depth - 1] = binary(op->op, stack[depth - 1], stack[depth]);
      }
    }
    params[index] = stack[0];
    if (params[index] < 0)
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                               "size '%s' derived from the inputs' dims is negative (%lld)",
                               param_name(q), (long long)params[index]);
  }
  return NULL;
}
