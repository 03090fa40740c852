/* Expression DAGs at one point, as CUDA C statements.
 *
 * An evaluator emits each node once (memoized by pointer: x * sigmoid(x)
 * reads x once) as a `const` temporary of the node's register type at the
 * current position in the kernel body, and returns its name; leaves
 * (iterators, params, constants, the GEMM accumulator) are used inline.
 * Index arithmetic that is affine in iterators and params (no loaded value
 * below it) uses plain signed `long long` operators, since indices of the
 * kernel IR never overflow, so NVCC sees the strides it can strength-reduce;
 * arithmetic on loaded integers keeps the wrap-around of the kernel IR.
 */
#include "codegen/cuda/internal.h"

void ev_init(ev_t *e, gen_t *g, const char *const *iters, const char *acc) {
  e->g = g;
  e->iters = iters;
  e->acc = acc;
  lathe_hashmap_init(&e->memo);
}

void ev_free(ev_t *e) { lathe_hashmap_destroy(&e->memo); }

const char *cu_dim(gen_t *g, lathe_kdim_t d) {
  return lathe_kdim_is_static(d) ? gen_str(g, "%lldLL", (long long)d.size)
                                 : gen_param(g, (uint32_t)d.param);
}

/* No LOAD below x: its arithmetic is on iterators, params and constants. */
static bool affine_only(const lathe_kexpr_t *x, int depth) {
  if (x->kind == LATHE_KEXPR_LOAD || depth > 64) return false;
  for (uint32_t i = 0; i < x->num_args; ++i)
    if (!affine_only(x->args[i], depth + 1)) return false;
  return true;
}

static const char *binary(ev_t *e, const lathe_kexpr_t *x, const char *a, const char *b) {
  if (x->dtype == LATHE_DTYPE_I64 && affine_only(x, 0)) {
    const char *sym = x->op == LATHE_KOP_ADD   ? "+"
                      : x->op == LATHE_KOP_SUB ? "-"
                      : x->op == LATHE_KOP_MUL ? "*"
                                               : NULL;
    if (sym) return gen_str(e->g, "(%s %s %s)", a, sym, b);
  }
  return cu_op(e->g, x->op, x->args[0]->dtype, a, b);
}

const char *cu_flat(gen_t *g, uint32_t buffer, const char *const *idx) {
  const lathe_kbuffer_t *kb = g->p->buffers[buffer];
  if (kb->rank == 0) return "0LL";
  const char *flat = idx[0];
  for (uint32_t d = 1; d < kb->rank; ++d)
    flat = gen_str(g, "(%s * %s + %s)", flat, cu_dim(g, kb->dims[d]), idx[d]);
  return flat;
}

const char *ev_flat(ev_t *e, uint32_t buffer, const lathe_kexpr_t *const *idx) {
  const lathe_kbuffer_t *kb = e->g->p->buffers[buffer];
  const char **parts = LATHE_ARENA_NEW_ARRAY(&e->g->arena, const char *, kb->rank + 1);
  for (uint32_t d = 0; d < kb->rank; ++d)
    if (!(parts[d] = ev_expr(e, idx[d]))) return NULL;
  return cu_flat(e->g, buffer, parts);
}

/* Binds a non-leaf value to a new temporary. */
static const char *bind(ev_t *e, lathe_dtype_t t, const char *v) {
  const char *name = gen_tmp(e->g, "v");
  gen_line(e->g, "const %s %s = %s;", cu_reg_type(t), name, v);
  return name;
}

const char *ev_expr(ev_t *e, const lathe_kexpr_t *x) {
  gen_t *g = e->g;
  void *found;
  if (!x) return gen_fail(g, LATHE_STATUS_INTERNAL, "missing expression");
  if (lathe_hashmap_get(&e->memo, &x, sizeof x, &found)) return found;
  if (!cu_dtype_supported(x->dtype))
    return gen_fail(g, LATHE_STATUS_UNSUPPORTED, "unsupported dtype %s",
                    lathe_dtype_name(x->dtype));
  const char *v = NULL, *arg[3] = {NULL, NULL, NULL};
  if (x->kind != LATHE_KEXPR_LOAD)
    for (uint32_t i = 0; i < x->num_args && i < 3; ++i)
      if (!(arg[i] = ev_expr(e, x->args[i]))) return NULL;
  switch (x->kind) {
  case LATHE_KEXPR_ITER:
    v = e->iters ? e->iters[x->index] : NULL;
    if (!v) return gen_fail(g, LATHE_STATUS_INTERNAL, "iterator %u has no value here", x->index);
    break;
  case LATHE_KEXPR_PARAM:
    if (x->index >= g->p->num_params) return gen_fail(g, LATHE_STATUS_INTERNAL, "bad param");
    v = gen_param(g, x->index);
    break;
  case LATHE_KEXPR_INT: v = cu_const_int(g, x->dtype, x->i); break;
  case LATHE_KEXPR_FLOAT: v = cu_const_float(g, x->dtype, x->f); break;
  case LATHE_KEXPR_ACC:
    v = e->acc;
    if (!v) return gen_fail(g, LATHE_STATUS_INTERNAL, "acc outside a GEMM epilogue");
    break;
  case LATHE_KEXPR_LOAD: {
    if (x->index >= g->p->num_buffers) return gen_fail(g, LATHE_STATUS_INTERNAL, "bad buffer id");
    const char *flat = ev_flat(e, x->index, x->args);
    if (!flat) return NULL;
    v = bind(e, x->dtype, cu_load(g, x->index, flat));
    break;
  }
  case LATHE_KEXPR_UNARY:
    if (!(v = cu_op(g, x->op, x->args[0]->dtype, arg[0], NULL))) return NULL;
    v = bind(e, x->dtype, v);
    break;
  case LATHE_KEXPR_BINARY:
    if (!(v = binary(e, x, arg[0], arg[1]))) return NULL;
    v = bind(e, x->dtype, v);
    break;
  case LATHE_KEXPR_SELECT:
    v = bind(e, x->dtype, gen_str(g, "(%s ? %s : %s)", arg[0], arg[1], arg[2]));
    break;
  case LATHE_KEXPR_CAST: {
    const char *c = cu_cast(g, x->dtype, x->args[0]->dtype, arg[0]);
    v = c == arg[0] ? c : bind(e, x->dtype, c);
    break;
  }
  }
  if (!v) return gen_fail(g, LATHE_STATUS_INTERNAL, "cannot emit an expression");
  lathe_hashmap_put(&e->memo, &x, sizeof x, (void *)v);
  return v;
}

bool cu_expr_reads_root(const lathe_kprogram_t *p, const lathe_kexpr_t *x, uint32_t root) {
  if (!x) return false;
  if (x->kind == LATHE_KEXPR_LOAD && cu_root(p, x->index) == root) return true;
  for (uint32_t i = 0; i < x->num_args; ++i)
    if (cu_expr_reads_root(p, x->args[i], root)) return true;
  return false;
}
