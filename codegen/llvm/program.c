/* The program descriptor as LLVM constants: a `const lathe_rt_program_t`
 * global (include/lathe/runtime.h) with its param, buffer and kernel tables,
 * names and dims, referring to the kernel functions by address.
 *
 * The same global serves both outputs: a shared library exports it for the
 * runtime's loader to dlsym, and the JIT looks it up by name, so the
 * descriptor a JIT'd program runs with is byte for byte the one an offline
 * artifact carries. Layouts follow the LP64 offsets written in runtime.h
 * (checked by _Static_assert in runtime/abi.c); every pointer field is an i8*
 * here, which has the same size and alignment.
 *
 * Buffer roles map as: INPUT/OUTPUT (index = signature position), CONST
 * (index = weight id, codegen/backend.h), TEMP, and views as VIEW (index =
 * root id) whatever their root's role. Derived params become postfix
 * programs over earlier params.
 */
#include <string.h>

#include "codegen/llvm/internal.h"

typedef struct desc {
  cg_t *cg;
  LLVMTypeRef op_t, param_t, dim_t, buffer_t, kernel_t, program_t;
} desc_t;

static LLVMValueRef i32c(cg_t *cg, int64_t v) {
  return LLVMConstInt(cg->i32, (unsigned long long)v, 1);
}

static LLVMTypeRef make_struct(cg_t *cg, const char *name, LLVMTypeRef *fields, unsigned n) {
  LLVMTypeRef t = LLVMStructCreateNamed(cg->ctx, name);
  LLVMStructSetBody(t, fields, n, 0);
  return t;
}

static void desc_types(desc_t *d) {
  cg_t *cg = d->cg;
  LLVMTypeRef p = cg->i8p, i32 = cg->i32, i64 = cg->i64;
  d->op_t = make_struct(cg, "lathe_rt_param_op", (LLVMTypeRef[]){i32, i32, i64}, 3);
  d->param_t = make_struct(cg, "lathe_rt_param_desc", (LLVMTypeRef[]){p, i32, i32, i32, i32, p}, 6);
  d->dim_t = make_struct(cg, "lathe_rt_dim", (LLVMTypeRef[]){i64, i32, i32}, 3);
  d->buffer_t =
      make_struct(cg, "lathe_rt_buffer_desc", (LLVMTypeRef[]){p, i32, i32, i32, i32, p}, 6);
  d->kernel_t = make_struct(cg, "lathe_rt_kernel_desc", (LLVMTypeRef[]){p, p, i32, i32, p}, 5);
  d->program_t = make_struct(cg, "lathe_rt_program",
                             (LLVMTypeRef[]){i32, i32, i32, i32, i32, i32, i32, i32, p, p, p}, 11);
}

/* A private constant global holding `init`, as an i8*. */
static LLVMValueRef private_global(cg_t *cg, LLVMValueRef init, const char *name) {
  LLVMValueRef g = LLVMAddGlobal(cg->mod, LLVMTypeOf(init), name);
  LLVMSetInitializer(g, init);
  LLVMSetGlobalConstant(g, 1);
  LLVMSetLinkage(g, LLVMPrivateLinkage);
  LLVMSetUnnamedAddr(g, 1);
  return LLVMConstBitCast(g, cg->i8p);
}

static LLVMValueRef cstring(cg_t *cg, const char *s) {
  return private_global(cg, LLVMConstStringInContext(cg->ctx, s, (unsigned)strlen(s), 0), ".str");
}

/* An array of `n` structs as a private global (NULL pointer when empty). */
static LLVMValueRef table(cg_t *cg, LLVMTypeRef elem, LLVMValueRef *items, unsigned n,
                          const char *name) {
  if (n == 0) return LLVMConstNull(cg->i8p);
  return private_global(cg, LLVMConstArray(elem, items, n), name);
}

/* Postfix ops of a derived param's expression; false when it uses
 * something the runtime's param programs do not have. */
static bool postfix(desc_t *d, const lathe_kexpr_t *x, LLVMValueRef *ops, unsigned *n, int depth) {
  static const struct {
    lathe_kop_t op;
    lathe_rt_param_opcode_t rt;
  } map[] = {
      {LATHE_KOP_NEG, LATHE_RT_PARAM_OP_NEG},           {LATHE_KOP_ABS, LATHE_RT_PARAM_OP_ABS},
      {LATHE_KOP_ADD, LATHE_RT_PARAM_OP_ADD},           {LATHE_KOP_SUB, LATHE_RT_PARAM_OP_SUB},
      {LATHE_KOP_MUL, LATHE_RT_PARAM_OP_MUL},           {LATHE_KOP_DIV, LATHE_RT_PARAM_OP_DIV},
      {LATHE_KOP_FLOORDIV, LATHE_RT_PARAM_OP_FLOORDIV}, {LATHE_KOP_MOD, LATHE_RT_PARAM_OP_MOD},
      {LATHE_KOP_MAX, LATHE_RT_PARAM_OP_MAX},           {LATHE_KOP_MIN, LATHE_RT_PARAM_OP_MIN}};
  if (depth > LATHE_RT_MAX_PARAM_STACK || *n >= 256) return false;
  int32_t code = 0;
  int64_t value = 0;
  switch (x->kind) {
  case LATHE_KEXPR_PARAM: code = LATHE_RT_PARAM_OP_PARAM, value = x->index; break;
  case LATHE_KEXPR_INT: code = LATHE_RT_PARAM_OP_CONST, value = x->i; break;
  case LATHE_KEXPR_UNARY:
  case LATHE_KEXPR_BINARY:
    for (uint32_t i = 0; i < x->num_args; ++i)
      if (!postfix(d, x->args[i], ops, n, depth + 1)) return false;
    for (size_t i = 0; i < sizeof map / sizeof map[0] && !code; ++i)
      if (map[i].op == x->op) code = map[i].rt;
    if (!code) return false;
    break;
  case LATHE_KEXPR_CAST: return postfix(d, x->args[0], ops, n, depth);
  default: return false;
  }
  LLVMValueRef f[3] = {i32c(d->cg, code), i32c(d->cg, 0), cg_i64(d->cg, value)};
  ops[(*n)++] = LLVMConstNamedStruct(d->op_t, f, 3);
  return true;
}

static LLVMValueRef params_table(desc_t *d) {
  cg_t *cg = d->cg;
  const lathe_kprogram_t *p = cg->p;
  LLVMValueRef *items = LATHE_ARENA_NEW_ARRAY(&cg->arena, LLVMValueRef, p->num_params + 1);
  LLVMValueRef ops[256];
  for (uint32_t k = 0; k < p->num_params; ++k) {
    const lathe_kparam_t *q = p->params[k];
    unsigned n = 0;
    bool derived = q->kind == LATHE_KPARAM_DERIVED;
    if (derived && !postfix(d, q->expr, ops, &n, 0)) {
      cg_fail(cg, LATHE_STATUS_UNSUPPORTED,
              "derived size '%s' uses an operation the runtime cannot evaluate", q->name);
      n = 0;
    }
    LLVMValueRef f[6] = {cstring(cg, q->name),
                         i32c(cg, derived ? -1 : (int64_t)q->input),
                         i32c(cg, derived ? 0 : (int64_t)q->dim),
                         i32c(cg, n),
                         i32c(cg, 0),
                         table(cg, d->op_t, ops, n, ".param.ops")};
    items[k] = LLVMConstNamedStruct(d->param_t, f, 6);
  }
  return table(cg, d->param_t, items, p->num_params, ".params");
}

static LLVMValueRef buffers_table(desc_t *d) {
  cg_t *cg = d->cg;
  const lathe_kprogram_t *p = cg->p;
  LLVMValueRef *items = LATHE_ARENA_NEW_ARRAY(&cg->arena, LLVMValueRef, p->num_buffers + 1);
  for (uint32_t i = 0; i < p->num_buffers; ++i) {
    const lathe_kbuffer_t *b = p->buffers[i];
    int32_t role, index = 0;
    if (b->view_of >= 0) role = LATHE_RT_BUFFER_VIEW, index = b->view_of;
    else if (b->role == LATHE_KBUF_INPUT) role = LATHE_RT_BUFFER_INPUT, index = (int32_t)b->index;
    else if (b->role == LATHE_KBUF_OUTPUT) role = LATHE_RT_BUFFER_OUTPUT, index = (int32_t)b->index;
    else if (b->role == LATHE_KBUF_CONST)
      role = LATHE_RT_BUFFER_CONST, index = lathe_codegen_weight_id(p, i);
    else role = LATHE_RT_BUFFER_TEMP;
    LLVMValueRef *dims = LATHE_ARENA_NEW_ARRAY(&cg->arena, LLVMValueRef, b->rank + 1);
    for (uint32_t k = 0; k < b->rank; ++k) {
      LLVMValueRef f[3] = {cg_i64(cg, lathe_kdim_is_static(b->dims[k]) ? b->dims[k].size : 0),
                           i32c(cg, b->dims[k].param), i32c(cg, 0)};
      dims[k] = LLVMConstNamedStruct(d->dim_t, f, 3);
    }
    LLVMValueRef f[6] = {cstring(cg, b->io_name ? b->io_name : b->name), i32c(cg, role),
                         i32c(cg, index),      i32c(cg, b->dtype),
                         i32c(cg, b->rank),    table(cg, d->dim_t, dims, b->rank, ".dims")};
    items[i] = LLVMConstNamedStruct(d->buffer_t, f, 6);
  }
  return table(cg, d->buffer_t, items, p->num_buffers, ".buffers");
}

static LLVMValueRef kernels_table(desc_t *d, LLVMValueRef *fns) {
  cg_t *cg = d->cg;
  const lathe_kprogram_t *p = cg->p;
  LLVMValueRef *items = LATHE_ARENA_NEW_ARRAY(&cg->arena, LLVMValueRef, p->num_kernels + 1);
  for (uint32_t i = 0; i < p->num_kernels; ++i) {
    const lathe_kernel_t *k = p->kernels[i];
    uint32_t n = k->num_reads + k->num_writes;
    LLVMValueRef *ids = LATHE_ARENA_NEW_ARRAY(&cg->arena, LLVMValueRef, n + 1);
    for (uint32_t j = 0; j < n; ++j)
      ids[j] = i32c(cg, j < k->num_reads ? k->reads[j] : k->writes[j - k->num_reads]);
    LLVMValueRef list =
        n ? private_global(cg, LLVMConstArray(cg->i32, ids, n), ".kbufs") : LLVMConstNull(cg->i8p);
    LLVMValueRef fn = fns[i] ? LLVMConstBitCast(fns[i], cg->i8p) : LLVMConstNull(cg->i8p);
    LLVMValueRef f[5] = {cstring(cg, k->name), fn, i32c(cg, n), i32c(cg, 0), list};
    items[i] = LLVMConstNamedStruct(d->kernel_t, f, 5);
  }
  return table(cg, d->kernel_t, items, p->num_kernels, ".kernels");
}

void cg_program_descriptor(cg_t *cg, LLVMValueRef *kernel_fns) {
  desc_t d = {.cg = cg};
  desc_types(&d);
  const lathe_kprogram_t *p = cg->p;
  LLVMValueRef f[11] = {i32c(cg, LATHE_RT_ABI_VERSION),
                        i32c(cg, p->num_params),
                        i32c(cg, p->num_inputs),
                        i32c(cg, p->num_outputs),
                        i32c(cg, p->num_buffers),
                        i32c(cg, p->num_kernels),
                        i32c(cg, lathe_codegen_num_weights(p)),
                        i32c(cg, 0),
                        params_table(&d),
                        buffers_table(&d),
                        kernels_table(&d, kernel_fns)};
  LLVMValueRef init = LLVMConstNamedStruct(d.program_t, f, 11);
  LLVMValueRef g = LLVMAddGlobal(cg->mod, d.program_t, cg->symbol);
  LLVMSetInitializer(g, init);
  LLVMSetGlobalConstant(g, 1);
  LLVMSetAlignment(g, 8);
}
