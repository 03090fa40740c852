/* Compiled models: making one (interp, or the cpu backend's JIT) and the
 * questions every compiled model answers from its runtime descriptor, so a
 * model loaded from a shared library (load.c) answers them the same way.
 */
#include <stdlib.h>
#include <string.h>

#include "driver/internal.h"

lathe_status_t compiled_new(compiled_kind_t kind, int32_t num_threads,
                            lathe_compiled_t **out_compiled) {
  lathe_compiled_t *c = calloc(1, sizeof *c);
  if (!c) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  atomic_init(&c->refs, 1);
  c->kind = kind;
  lathe_arena_init(&c->arena);
  /* The interpreter runs on the calling thread; a pool would idle. */
  lathe_status_t st = lathe_rt_pool_create(kind == COMPILED_INTERP ? 1 : num_threads, &c->pool);
  if (st) {
    free(c);
    return st;
  }
  *out_compiled = c;
  return NULL;
}

void compiled_retain(lathe_compiled_t *c) { atomic_fetch_add(&c->refs, 1); }

void compiled_release(lathe_compiled_t *c) {
  if (!c || atomic_fetch_sub(&c->refs, 1) != 1) return;
  lathe_rt_pool_destroy(c->pool);
  lathe_rt_weights_destroy(c->weights);
  if (c->jit) c->backend->jit_destroy(c->jit);
  lathe_rt_cuda_destroy(c->cuda);
  if (c->library) library_close(c->library);
  lathe_arena_destroy(&c->arena);
  model_release(c->model);
  free(c);
}

void lathe_compiled_destroy(lathe_compiled_t *compiled) { compiled_release(compiled); }

/* The interp target's kernels are never called through the descriptor: runs
 * go to lathe_kprogram_run_reference. */
static int32_t not_callable(const lathe_rt_kernel_args_t *args) {
  (void)args;
  return LATHE_RT_KERNEL_INVALID_VALUE;
}

static lathe_status_t compile_interp(const lathe_kprogram_t *p, lathe_compiled_t *c) {
  c->kprogram = p;
  LATHE_RETURN_IF_ERROR(describe_program(p, &c->arena, not_callable, &c->program));
  return program_weights(p, &c->weights);
}

static lathe_status_t compile_jit(const lathe_backend_t *b, const lathe_codegen_artifact_t *a,
                                  const lathe_kprogram_t *p, lathe_compiled_t *c) {
  if (!b->jit || !b->jit_program)
    return lathe_status_make(LATHE_STATUS_UNSUPPORTED, "backend '%s' cannot JIT", b->name);
  c->backend = b;
  LATHE_RETURN_IF_ERROR(b->jit(a, &c->jit));
  c->program = b->jit_program(c->jit);
  LATHE_RETURN_IF_ERROR(lathe_rt_program_validate(c->program));
  return program_weights(p, &c->weights);
}

/* The graph's own input and output names, for info queries. */
static void keep_names(const lathe_graph_t *g, lathe_compiled_t *c) {
  uint32_t n_in = g->num_inputs, n_out = lathe_graph_num_outputs(g);
  if ((int32_t)n_in != c->program->num_inputs || (int32_t)n_out != c->program->num_outputs) return;
  c->input_names = LATHE_ARENA_NEW_ARRAY(&c->arena, const char *, n_in + 1);
  c->output_names = LATHE_ARENA_NEW_ARRAY(&c->arena, const char *, n_out + 1);
  for (uint32_t k = 0; k < n_in; ++k)
    c->input_names[k] =
        g->inputs[k]->name ? lathe_arena_strdup(&c->arena, g->inputs[k]->name) : NULL;
  for (uint32_t k = 0; k < n_out; ++k) {
    const lathe_value_t *v = lathe_graph_output(g, k);
    c->output_names[k] = v->name ? lathe_arena_strdup(&c->arena, v->name) : NULL;
  }
}

lathe_status_t lathe_model_compile(lathe_model_t *model, lathe_compiled_t **out_compiled) {
  if (!model || !out_compiled)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "model_compile: NULL argument");
  bool interp = model->options.target == TARGET_INTERP;
  const lathe_kprogram_t *p;
  const lathe_backend_t *b = NULL;
  const lathe_codegen_artifact_t *a = NULL;
  LATHE_RETURN_IF_ERROR(model_lower(model, &p));
  if (!interp) LATHE_RETURN_IF_ERROR(model_artifact(model, &b, &a));
  lathe_compiled_t *c;
  LATHE_RETURN_IF_ERROR(
      compiled_new(interp ? COMPILED_INTERP : COMPILED_JIT, model->options.num_threads, &c));
  model_retain(model);
  c->model = model;
  lathe_status_t st = interp ? compile_interp(p, c) : compile_jit(b, a, p, c);
  if (!st) keep_names(model->graph, c);
  if (st) {
    compiled_release(c);
    return st;
  }
  *out_compiled = c;
  return NULL;
}

lathe_status_t compile_program(const lathe_kprogram_t *p, const lathe_options_t *o,
                               lathe_compiled_t **out_compiled) {
  bool interp = o->target == TARGET_INTERP;
  const lathe_backend_t *b = NULL;
  lathe_codegen_artifact_t *a = NULL;
  if (!interp) LATHE_RETURN_IF_ERROR(backend_compile(p, o, &b, &a));
  lathe_compiled_t *c;
  lathe_status_t st = compiled_new(interp ? COMPILED_INTERP : COMPILED_JIT, o->num_threads, &c);
  if (!st) st = interp ? compile_interp(p, c) : compile_jit(b, a, p, c);
  if (a) b->destroy(a);
  if (st) {
    compiled_release(c);
    return st;
  }
  *out_compiled = c;
  return NULL;
}

const char *lathe_compiled_target(const lathe_compiled_t *c) {
  if (!c) return "";
  switch (c->kind) {
  case COMPILED_INTERP: return "interp";
  case COMPILED_JIT: return c->backend && !strcmp(c->backend->name, "cuda") ? "cuda" : "cpu";
  case COMPILED_LOADED: return "so";
  }
  return "";
}

/* ---- inputs and outputs ------------------------------------------------------ */

int32_t lathe_compiled_num_inputs(const lathe_compiled_t *c) {
  return c ? c->program->num_inputs : 0;
}

int32_t lathe_compiled_num_outputs(const lathe_compiled_t *c) {
  return c ? c->program->num_outputs : 0;
}

/* The buffer bound to input/output `index`, or -1. */
static int32_t bound_buffer(const lathe_rt_program_t *p, int32_t role, int32_t index) {
  for (int32_t id = 0; id < p->num_buffers; ++id)
    if (p->buffers[id].role == role && p->buffers[id].index == index) return id;
  return -1;
}

static lathe_status_t info(const lathe_compiled_t *c, int32_t role, int32_t index,
                           lathe_tensor_info_t *out_info) {
  if (!c || !out_info)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "compiled info: NULL argument");
  const char *what = role == LATHE_RT_BUFFER_INPUT ? "input" : "output";
  int32_t count = role == LATHE_RT_BUFFER_INPUT ? c->program->num_inputs : c->program->num_outputs;
  if (index < 0 || index >= count)
    return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "%s %d does not exist (the model has %d)",
                             what, (int)index, (int)count);
  const lathe_rt_program_t *p = c->program;
  const lathe_rt_buffer_desc_t *b = &p->buffers[bound_buffer(p, role, index)];
  const char **names = role == LATHE_RT_BUFFER_INPUT ? c->input_names : c->output_names;
  const char *name = names && names[index] ? names[index] : b->name;
  lathe_tensor_info_t out = {.name = name, .dtype = b->dtype, .rank = b->rank};
  for (int32_t d = 0; d < b->rank; ++d) {
    out.dims[d] = b->dims[d].param < 0 ? b->dims[d].size : -1;
    out.dim_names[d] = b->dims[d].param < 0 ? NULL : p->params[b->dims[d].param].name;
  }
  *out_info = out;
  return NULL;
}

lathe_status_t lathe_compiled_input_info(const lathe_compiled_t *c, int32_t index,
                                         lathe_tensor_info_t *out_info) {
  return info(c, LATHE_RT_BUFFER_INPUT, index, out_info);
}

lathe_status_t lathe_compiled_output_info(const lathe_compiled_t *c, int32_t index,
                                          lathe_tensor_info_t *out_info) {
  return info(c, LATHE_RT_BUFFER_OUTPUT, index, out_info);
}

/* ---- shapes and the buffer plan ----------------------------------------------- */

/* Binds the params from the inputs' types only: the runtime's binder also
 * checks the data size, which shape queries do not have, so each input is
 * seen with enough (never read) bytes. */
static lathe_status_t bind_shapes(const lathe_compiled_t *c, const lathe_rt_tensor_t *inputs,
                                  int32_t num_inputs, int64_t **out_params) {
  if (!c || (num_inputs && !inputs))
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "shape query: NULL argument");
  const lathe_rt_program_t *p = c->program;
  if (num_inputs != p->num_inputs)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "expected %d inputs, got %d",
                             (int)p->num_inputs, (int)num_inputs);
  static const uint8_t unread;
  lathe_rt_tensor_t *shapes = calloc((size_t)num_inputs + 1, sizeof *shapes);
  int64_t *params = calloc((size_t)p->num_params + 1, sizeof *params);
  if (!shapes || !params) {
    free(shapes);
    free(params);
    return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  for (int32_t k = 0; k < num_inputs; ++k) {
    shapes[k] = inputs[k];
    shapes[k].data = (void *)&unread;
    shapes[k].byte_size = UINT64_MAX;
    shapes[k].flags = 0;
  }
  lathe_status_t st = lathe_rt_program_bind(p, shapes, num_inputs, params);
  free(shapes);
  if (st) {
    free(params);
    return st;
  }
  *out_params = params;
  return NULL;
}

lathe_status_t lathe_compiled_output_shapes(const lathe_compiled_t *c,
                                            const lathe_rt_tensor_t *inputs, int32_t num_inputs,
                                            lathe_rt_tensor_t *out_outputs, int32_t num_outputs) {
  int64_t *params;
  LATHE_RETURN_IF_ERROR(bind_shapes(c, inputs, num_inputs, &params));
  const lathe_rt_program_t *p = c->program;
  lathe_status_t st = NULL;
  if (num_outputs != p->num_outputs || (num_outputs && !out_outputs))
    st = lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "expected %d outputs, got %d",
                           (int)p->num_outputs, (int)num_outputs);
  for (int32_t k = 0; k < num_outputs && !st; ++k) {
    int32_t id = bound_buffer(p, LATHE_RT_BUFFER_OUTPUT, k);
    lathe_rt_tensor_t t = {.dtype = p->buffers[id].dtype, .rank = p->buffers[id].rank};
    st = lathe_rt_program_buffer_shape(p, id, params, t.dims, &t.byte_size);
    if (!st) out_outputs[k] = t;
  }
  free(params);
  return st;
}

lathe_status_t lathe_compiled_peak_bytes(const lathe_compiled_t *c, const lathe_rt_tensor_t *inputs,
                                         int32_t num_inputs, uint64_t *out_bytes) {
  int64_t *params;
  LATHE_RETURN_IF_ERROR(bind_shapes(c, inputs, num_inputs, &params));
  uint64_t *offsets = calloc((size_t)c->program->num_buffers + 1, sizeof *offsets);
  lathe_status_t st = offsets ? lathe_rt_program_plan(c->program, params, offsets, out_bytes)
                              : lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  free(offsets);
  free(params);
  return st;
}
