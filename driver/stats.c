/* What `lathe inspect` reports about a model: the op histogram, parameter
 * count and bytes, FLOPs, the kernels it lowers to and the planned peak of
 * temporaries (from the runtime's buffer planner, the same plan a run uses),
 * and the ops the target cannot lower.
 *
 * FLOPs count a multiply-add as two and are the usual first-order estimates:
 * the contraction ops (matmul, gemm, conv, conv_transpose, attention) by
 * their multiply-adds, every other op by the elements it reads or writes,
 * whichever is larger. Symbolic sizes come from the caller's binding
 * ("N=8"), unbound ones count as 1.
 */
#include <stdlib.h>
#include <string.h>

#include "driver/internal.h"

typedef struct {
  const char *names[64];
  int64_t values[64];
  int count;
} binding_t;

static lathe_status_t parse_binding(const char *text, lathe_arena_t *arena, binding_t *b) {
  b->count = 0;
  for (const char *p = text ? text : ""; *p;) {
    size_t len = strcspn(p, ", ");
    if (len) {
      const char *eq = memchr(p, '=', len);
      char *end = NULL;
      long long v = eq ? strtoll(eq + 1, &end, 10) : -1;
      if (!eq || eq == p || end != p + len || v < 0)
        return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                                 "bind: expected NAME=SIZE entries, got '%.*s'", (int)len, p);
      if (b->count == 64)
        return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "bind: too many symbols");
      b->names[b->count] = lathe_arena_strndup(arena, p, (size_t)(eq - p));
      b->values[b->count++] = v;
    }
    p += len + (p[len] != '\0');
  }
  return NULL;
}

static int64_t dim_value(lathe_dim_t d, const binding_t *b) {
  if (lathe_dim_is_static(d)) return d.size;
  for (int i = 0; d.sym && i < b->count; ++i)
    if (!strcmp(b->names[i], d.sym)) return b->values[i];
  return 1;
}

static double numel(const lathe_value_t *v, const binding_t *b) {
  double n = 1;
  for (uint32_t d = 0; v && d < v->type.rank; ++d) n *= (double)dim_value(v->type.dims[d], b);
  return n;
}

static double dim_of(const lathe_value_t *v, int32_t d, const binding_t *b) {
  if (!v || v->type.rank == 0) return 1;
  if (d < 0) d += (int32_t)v->type.rank;
  if (d < 0 || d >= (int32_t)v->type.rank) return 1;
  return (double)dim_value(v->type.dims[d], b);
}

static const lathe_value_t *operand(const lathe_op_t *op, uint32_t i) {
  return i < op->num_operands ? op->operands[i].value : NULL;
}

static double op_flops(const lathe_op_t *op, const binding_t *b) {
  const lathe_value_t *out = op->num_results ? &op->results[0] : NULL;
  double touched = numel(out, b);
  for (uint32_t i = 0; i < op->num_operands; ++i) {
    double n = numel(operand(op, i), b);
    if (n > touched) touched = n;
  }
  switch (op->kind) {
  case LATHE_OP_MATMUL: return 2 * numel(out, b) * dim_of(operand(op, 0), -1, b);
  case LATHE_OP_GEMM: /* K is A's dim 1, or dim 0 when transposed */
    return 2 * numel(out, b) * dim_of(operand(op, 0), lathe_op_attr_int(op, "trans_a") ? 0 : 1, b);
  case LATHE_OP_CONV: /* every output element: Cin/group * kernel multiply-adds */
    return 2 * numel(out, b) * numel(operand(op, 1), b) / dim_of(operand(op, 1), 0, b);
  case LATHE_OP_CONV_TRANSPOSE: /* every input element scatters Cout/group * kernel */
    return 2 * numel(operand(op, 0), b) * numel(operand(op, 1), b) / dim_of(operand(op, 1), 0, b);
  case LATHE_OP_ATTENTION: /* q.k^T over D and p.v over T, per query */
    return 2 * numel(operand(op, 0), b) * dim_of(operand(op, 1), -2, b) +
           2 * numel(out, b) * dim_of(operand(op, 1), -2, b);
  default: return touched;
  }
}

static int by_count(const void *a, const void *b) {
  const lathe_op_count_t *x = a, *y = b;
  if (x->count != y->count) return x->count > y->count ? -1 : 1;
  return strcmp(x->op, y->op);
}

/* Descriptors made here only plan; nothing calls their kernels. */
static int32_t none(const lathe_rt_kernel_args_t *args) {
  (void)args;
  return LATHE_RT_KERNEL_INVALID_VALUE;
}

/* Planned peak of the lowered program with every input at its bound size. */
static lathe_status_t planned_peak(const lathe_model_t *m, const lathe_kprogram_t *p,
                                   const binding_t *b, lathe_arena_t *arena, uint64_t *out) {
  const lathe_rt_program_t *desc;
  LATHE_RETURN_IF_ERROR(describe_program(p, arena, none, &desc));
  static const uint8_t unread;
  lathe_rt_tensor_t *inputs =
      LATHE_ARENA_NEW_ARRAY(arena, lathe_rt_tensor_t, m->graph->num_inputs + 1);
  for (uint32_t k = 0; k < m->graph->num_inputs; ++k) {
    const lathe_type_t *t = &m->graph->inputs[k]->type;
    if (t->rank > LATHE_RT_MAX_RANK)
      return lathe_status_make(LATHE_STATUS_UNSUPPORTED, "input %u: rank above %d", k,
                               LATHE_RT_MAX_RANK);
    inputs[k] = (lathe_rt_tensor_t){.data = (void *)&unread,
                                    .byte_size = UINT64_MAX,
                                    .dtype = (int32_t)t->dtype,
                                    .rank = (int32_t)t->rank};
    for (uint32_t d = 0; d < t->rank; ++d) inputs[k].dims[d] = dim_value(t->dims[d], b);
  }
  int64_t *params = LATHE_ARENA_NEW_ARRAY(arena, int64_t, desc->num_params + 1);
  uint64_t *offsets = LATHE_ARENA_NEW_ARRAY(arena, uint64_t, desc->num_buffers + 1);
  LATHE_RETURN_IF_ERROR(lathe_rt_program_bind(desc, inputs, desc->num_inputs, params));
  return lathe_rt_program_plan(desc, params, offsets, out);
}

lathe_status_t lathe_model_stats(lathe_model_t *model, const char *bind,
                                 lathe_model_stats_t *out_stats) {
  if (!model || !out_stats)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "model_stats: NULL argument");
  lathe_arena_t *arena = &model->stats_arena;
  lathe_arena_destroy(arena);
  lathe_arena_init(arena);
  binding_t b;
  LATHE_RETURN_IF_ERROR(parse_binding(bind, arena, &b));

  lathe_model_stats_t s = {0};
  lathe_op_count_t *kinds = LATHE_ARENA_NEW_ARRAY(arena, lathe_op_count_t, LATHE_OP_KIND_COUNT);
  LATHE_GRAPH_FOR_EACH_OP(model->graph, op) {
    if (op->kind == LATHE_OP_RETURN) continue;
    if (op->kind == LATHE_OP_CONST) {
      s.num_parameters += (int64_t)numel(&op->results[0], &b);
      s.parameter_bytes += op->weight ? op->weight->num_bytes : 0;
      continue;
    }
    double f = op_flops(op, &b);
    ++s.num_ops;
    s.flops += f;
    lathe_op_count_t *k = &kinds[op->kind];
    k->op = lathe_op_name(op->kind);
    ++k->count;
    k->flops += f;
  }
  for (int32_t k = 0; k < LATHE_OP_KIND_COUNT; ++k)
    if (kinds[k].count) kinds[s.num_op_kinds++] = kinds[k];
  qsort(kinds, (size_t)s.num_op_kinds, sizeof *kinds, by_count);
  s.op_kinds = kinds;

  /* Lowering reports the first op it cannot handle; the model still has its
   * histogram and FLOPs. */
  const lathe_kprogram_t *p = NULL;
  lathe_status_t st = model_lower(model, &p);
  if (st && lathe_status_code(st) != LATHE_STATUS_UNSUPPORTED) return st;
  if (st) {
    const char **list = LATHE_ARENA_NEW_ARRAY(arena, const char *, 1);
    const char *loc = lathe_status_location(st);
    list[0] = loc ? lathe_arena_printf(arena, "%s: %s", loc, lathe_status_message(st))
                  : lathe_arena_strdup(arena, lathe_status_message(st));
    s.num_unsupported = 1;
    s.unsupported = list;
    lathe_status_free(st);
  } else {
    s.num_kernels = (int32_t)p->num_kernels;
    LATHE_RETURN_IF_ERROR(planned_peak(model, p, &b, arena, &s.peak_bytes));
  }
  *out_stats = s;
  return NULL;
}
