/* Execution contexts and runs. A context is the per-thread state of running
 * one compiled model: the runtime context (temporaries arena, scratch, plan
 * cache) on the compiled model's shared pool. Machine code (JIT or loaded)
 * runs through the runtime's executor; the interp target binds and checks
 * through the same descriptor, then hands the buffers to the reference
 * interpreter.
 */
#include <stdlib.h>

#include "driver/internal.h"

struct lathe_context {
  lathe_compiled_t *compiled;
  lathe_rt_context_t *rt;
};

lathe_status_t lathe_context_create(lathe_compiled_t *compiled, lathe_context_t **out_context) {
  if (!compiled || !out_context)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "context_create: NULL argument");
  lathe_context_t *x = calloc(1, sizeof *x);
  if (!x) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  lathe_status_t st = lathe_rt_context_create(compiled->pool, &x->rt);
  if (st) {
    free(x);
    return st;
  }
  compiled_retain(compiled);
  x->compiled = compiled;
  *out_context = x;
  return NULL;
}

void lathe_context_destroy(lathe_context_t *context) {
  if (!context) return;
  lathe_rt_context_destroy(context->rt);
  compiled_release(context->compiled);
  free(context);
}

/* Every output dense, of the bound shape and large enough. */
static lathe_status_t check_outputs(const lathe_rt_program_t *p, const int64_t *params,
                                    const lathe_rt_tensor_t *outputs, int32_t num_outputs) {
  if (num_outputs != p->num_outputs || (num_outputs && !outputs))
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "expected %d outputs, got %d",
                             (int)p->num_outputs, (int)num_outputs);
  for (int32_t id = 0; id < p->num_buffers; ++id) {
    const lathe_rt_buffer_desc_t *b = &p->buffers[id];
    if (b->role != LATHE_RT_BUFFER_OUTPUT) continue;
    const lathe_rt_tensor_t *t = &outputs[b->index];
    lathe_rt_tensor_t want = {.dtype = b->dtype, .rank = b->rank};
    LATHE_RETURN_IF_ERROR(lathe_rt_program_buffer_shape(p, id, params, want.dims, &want.byte_size));
    bool same = t->dtype == want.dtype && t->rank == want.rank;
    for (int32_t d = 0; same && d < want.rank; ++d) same = t->dims[d] == want.dims[d];
    if (!same || !lathe_rt_tensor_is_dense(t) || t->byte_size < want.byte_size ||
        (want.byte_size && !t->data)) {
      char got[256], expected[256];
      lathe_rt_tensor_format_type(t, got, sizeof got);
      lathe_rt_tensor_format_type(&want, expected, sizeof expected);
      return lathe_status_make(
          LATHE_STATUS_INVALID_ARGUMENT,
          "output '%s' (#%d): expected a dense %s of %llu bytes, got %s "
          "(%llu bytes%s)",
          b->name ? b->name : "?", (int)b->index, expected, (unsigned long long)want.byte_size, got,
          (unsigned long long)t->byte_size, lathe_rt_tensor_is_dense(t) ? "" : ", strided");
    }
  }
  return NULL;
}

static lathe_status_t run_interp(const lathe_compiled_t *c, const lathe_rt_tensor_t *inputs,
                                 int32_t num_inputs, lathe_rt_tensor_t *outputs,
                                 int32_t num_outputs) {
  const lathe_rt_program_t *p = c->program;
  int64_t *params = calloc((size_t)p->num_params + 1, sizeof *params);
  const void **in = calloc((size_t)num_inputs + 1, sizeof *in);
  void **out = calloc((size_t)num_outputs + 1, sizeof *out);
  lathe_status_t st = NULL;
  if (!params || !in || !out)
    st = lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  if (!st) st = lathe_rt_program_bind(p, inputs, num_inputs, params);
  if (!st) st = check_outputs(p, params, outputs, num_outputs);
  for (int32_t k = 0; !st && k < num_inputs; ++k) in[k] = inputs[k].data;
  for (int32_t k = 0; !st && k < num_outputs; ++k) out[k] = outputs[k].data;
  if (!st)
    st = lathe_kprogram_run_reference(c->kprogram, params, (const void *const *)in,
                                      (void *const *)out, NULL, NULL);
  free(params);
  free(in);
  free(out);
  return st;
}

lathe_status_t compiled_run(const lathe_compiled_t *c, lathe_rt_context_t *ctx,
                            const lathe_rt_tensor_t *inputs, int32_t num_inputs,
                            lathe_rt_tensor_t *outputs, int32_t num_outputs) {
  if (c->kind == COMPILED_INTERP) return run_interp(c, inputs, num_inputs, outputs, num_outputs);
  if (c->kind == COMPILED_JIT && c->backend->jit_run) /* kernels that are not host functions */
    return c->backend->jit_run(c->jit, c->weights, inputs, num_inputs, outputs, num_outputs);
  if (c->cuda) return lathe_rt_cuda_run(c->cuda, c->weights, inputs, num_inputs, outputs, num_outputs);
  return lathe_rt_program_run(c->program, c->weights, ctx, inputs, num_inputs, outputs,
                              num_outputs);
}

lathe_status_t lathe_context_run(lathe_context_t *context, const lathe_rt_tensor_t *inputs,
                                 int32_t num_inputs, lathe_rt_tensor_t *outputs,
                                 int32_t num_outputs) {
  if (!context) return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "run: NULL context");
  return compiled_run(context->compiled, context->rt, inputs, num_inputs, outputs, num_outputs);
}
