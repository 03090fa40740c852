/* A kernel program as the runtime's plain-data program descriptor, built in
 * memory (codegen/backend.h: lathe_codegen_describe).
 *
 * Whoever needs a lathe_rt_program_t without machine code behind it uses
 * this: the interp target (everything a compiled model answers - input and
 * output types, binding symbolic sizes with the runtime's messages, output
 * shapes, the buffer plan's peak - is read from a descriptor), and the CUDA
 * backend (its kernels are GPU functions, not host ones). It describes a
 * program the way the LLVM backend's constant globals do: buffer ids, params
 * (derived sizes as postfix programs), weight ids by lathe_codegen_weight_id,
 * and each kernel's buffers for liveness. Names are borrowed from the
 * program.
 */
#include "codegen/backend.h"

static lathe_status_t unsupported(const char *what, const char *name) {
  return lathe_status_make(LATHE_STATUS_UNSUPPORTED, "describe: %s '%s'", what, name);
}

/* The runtime's opcode for an i64 scalar op of a derived size, or 0. */
static int32_t param_opcode(const lathe_kexpr_t *e) {
  static const struct {
    lathe_kop_t op;
    int32_t code;
  } table[] = {
      {LATHE_KOP_NEG, LATHE_RT_PARAM_OP_NEG},           {LATHE_KOP_ABS, LATHE_RT_PARAM_OP_ABS},
      {LATHE_KOP_ADD, LATHE_RT_PARAM_OP_ADD},           {LATHE_KOP_SUB, LATHE_RT_PARAM_OP_SUB},
      {LATHE_KOP_MUL, LATHE_RT_PARAM_OP_MUL},           {LATHE_KOP_DIV, LATHE_RT_PARAM_OP_DIV},
      {LATHE_KOP_FLOORDIV, LATHE_RT_PARAM_OP_FLOORDIV}, {LATHE_KOP_MOD, LATHE_RT_PARAM_OP_MOD},
      {LATHE_KOP_MAX, LATHE_RT_PARAM_OP_MAX},           {LATHE_KOP_MIN, LATHE_RT_PARAM_OP_MIN},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; ++i)
    if (table[i].op == e->op) return table[i].code;
  return 0;
}

/* Appends the postfix form of `e` to ops (capacity cap). */
static lathe_status_t postfix(const lathe_kexpr_t *e, lathe_rt_param_op_t *ops, int32_t cap,
                              int32_t *n, const char *name) {
  if (*n >= cap) return unsupported("a derived size too large:", name);
  switch (e->kind) {
  case LATHE_KEXPR_INT:
    ops[(*n)++] = (lathe_rt_param_op_t){.op = LATHE_RT_PARAM_OP_CONST, .value = e->i};
    return NULL;
  case LATHE_KEXPR_PARAM:
    ops[(*n)++] = (lathe_rt_param_op_t){.op = LATHE_RT_PARAM_OP_PARAM, .value = e->index};
    return NULL;
  case LATHE_KEXPR_UNARY:
  case LATHE_KEXPR_BINARY: {
    int32_t code = param_opcode(e);
    if (!code) return unsupported("an op in the derived size", name);
    for (uint32_t a = 0; a < e->num_args; ++a)
      LATHE_RETURN_IF_ERROR(postfix(e->args[a], ops, cap, n, name));
    if (*n >= cap) return unsupported("a derived size too large:", name);
    ops[(*n)++] = (lathe_rt_param_op_t){.op = code};
    return NULL;
  }
  default: return unsupported("an expression in the derived size", name);
  }
}

static lathe_status_t describe_param(const lathe_kparam_t *kp, lathe_arena_t *arena,
                                     lathe_rt_param_desc_t *out) {
  *out = (lathe_rt_param_desc_t){.name = kp->name, .input = -1};
  if (kp->kind == LATHE_KPARAM_INPUT_DIM) {
    out->input = (int32_t)kp->input;
    out->dim = (int32_t)kp->dim;
    return NULL;
  }
  enum { MAX_OPS = 256 };
  lathe_rt_param_op_t ops[MAX_OPS];
  int32_t n = 0;
  LATHE_RETURN_IF_ERROR(postfix(kp->expr, ops, MAX_OPS, &n, kp->name));
  out->num_ops = n;
  out->ops = lathe_arena_memdup(arena, ops, (size_t)n * sizeof ops[0]);
  return NULL;
}

static lathe_status_t describe_buffer(const lathe_kprogram_t *p, uint32_t id, lathe_arena_t *arena,
                                      lathe_rt_buffer_desc_t *out) {
  const lathe_kbuffer_t *b = p->buffers[id];
  if (b->rank > LATHE_RT_MAX_RANK) return unsupported("a buffer of rank above 8:", b->name);
  lathe_rt_dim_t *dims = LATHE_ARENA_NEW_ARRAY(arena, lathe_rt_dim_t, b->rank ? b->rank : 1);
  for (uint32_t d = 0; d < b->rank; ++d)
    dims[d] = (lathe_rt_dim_t){.size = b->dims[d].size, .param = b->dims[d].param};
  *out = (lathe_rt_buffer_desc_t){.name = b->io_name ? b->io_name : b->name,
                                  .dtype = (int32_t)b->dtype,
                                  .rank = (int32_t)b->rank,
                                  .dims = dims};
  if (b->view_of >= 0) {
    out->role = LATHE_RT_BUFFER_VIEW;
    out->index = b->view_of;
    return NULL;
  }
  switch (b->role) {
  case LATHE_KBUF_INPUT: out->role = LATHE_RT_BUFFER_INPUT, out->index = (int32_t)b->index; break;
  case LATHE_KBUF_OUTPUT: out->role = LATHE_RT_BUFFER_OUTPUT, out->index = (int32_t)b->index; break;
  case LATHE_KBUF_CONST:
    out->role = LATHE_RT_BUFFER_CONST, out->index = lathe_codegen_weight_id(p, id);
    break;
  case LATHE_KBUF_TEMP: out->role = LATHE_RT_BUFFER_TEMP; break;
  }
  return NULL;
}

static void describe_kernel(const lathe_kernel_t *k, lathe_arena_t *arena, lathe_rt_kernel_fn fn,
                            lathe_rt_kernel_desc_t *out) {
  uint32_t n = k->num_reads + k->num_writes;
  int32_t *ids = LATHE_ARENA_NEW_ARRAY(arena, int32_t, n ? n : 1);
  for (uint32_t i = 0; i < k->num_reads; ++i) ids[i] = (int32_t)k->reads[i];
  for (uint32_t i = 0; i < k->num_writes; ++i) ids[k->num_reads + i] = (int32_t)k->writes[i];
  *out = (lathe_rt_kernel_desc_t){
      .name = k->name, .fn = fn, .num_buffers = (int32_t)n, .buffers = ids};
}

lathe_status_t lathe_codegen_describe(const lathe_kprogram_t *p, lathe_arena_t *arena,
                                      lathe_rt_kernel_fn fn,
                                      const lathe_rt_program_t **out_program) {
  lathe_rt_program_t *d = LATHE_ARENA_NEW(arena, lathe_rt_program_t);
  lathe_rt_param_desc_t *params =
      LATHE_ARENA_NEW_ARRAY(arena, lathe_rt_param_desc_t, p->num_params + 1);
  lathe_rt_buffer_desc_t *buffers =
      LATHE_ARENA_NEW_ARRAY(arena, lathe_rt_buffer_desc_t, p->num_buffers + 1);
  lathe_rt_kernel_desc_t *kernels =
      LATHE_ARENA_NEW_ARRAY(arena, lathe_rt_kernel_desc_t, p->num_kernels + 1);
  for (uint32_t i = 0; i < p->num_params; ++i)
    LATHE_RETURN_IF_ERROR(describe_param(p->params[i], arena, &params[i]));
  for (uint32_t i = 0; i < p->num_buffers; ++i)
    LATHE_RETURN_IF_ERROR(describe_buffer(p, i, arena, &buffers[i]));
  for (uint32_t i = 0; i < p->num_kernels; ++i)
    describe_kernel(p->kernels[i], arena, fn, &kernels[i]);
  *d = (lathe_rt_program_t){
      .abi_version = LATHE_RT_ABI_VERSION,
      .num_params = (int32_t)p->num_params,
      .num_inputs = (int32_t)p->num_inputs,
      .num_outputs = (int32_t)p->num_outputs,
      .num_buffers = (int32_t)p->num_buffers,
      .num_kernels = (int32_t)p->num_kernels,
      .num_weights = lathe_codegen_num_weights(p),
      .params = params,
      .buffers = buffers,
      .kernels = kernels,
  };
  LATHE_RETURN_IF_ERROR_CTX(lathe_rt_program_validate(d), "describe");
  *out_program = d;
  return NULL;
}
