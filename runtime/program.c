/* The program executor: checks a program description, binds its symbolic
 * sizes from the inputs, plans the temporaries and calls the kernels.
 *
 * A program (include/lathe/runtime.h) is plain data that may come from an
 * artifact on disk, so it is validated before use and every run-time input
 * is checked against it: a wrong dtype, rank or dim is a status that names
 * the input and shows the expected and the given type, never a crash inside
 * a kernel. Temporaries' live ranges come from the kernels' buffer lists;
 * the plan is cached in the context and reused while the sizes stay the same.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"
#include "support/strbuf.h"

static const char *name_of(const lathe_rt_buffer_desc_t *b) { return b->name ? b->name : "?"; }

static lathe_status_t bad(const char *fmt, const char *what, int32_t id, const char *name) {
  return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "program: %s %d ('%s'): %s", what,
                           (int)id, name, fmt);
}

static lathe_status_t check_header(const lathe_rt_program_t *p) {
  if (!p) return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "program: NULL");
  if (p->abi_version != LATHE_RT_ABI_VERSION)
    return lathe_status_make(LATHE_STATUS_UNSUPPORTED,
                             "program: built for runtime ABI %u, this runtime speaks %u",
                             (unsigned)p->abi_version, LATHE_RT_ABI_VERSION);
  if (p->num_params < 0 || p->num_inputs < 0 || p->num_outputs < 0 || p->num_buffers < 0 ||
      p->num_kernels < 0 || p->num_weights < 0)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "program: a negative count");
  if ((p->num_params && !p->params) || (p->num_buffers && !p->buffers) ||
      (p->num_kernels && !p->kernels))
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "program: a missing table");
  return NULL;
}

/* One buffer; records which buffer binds each input/output in `binders`
 * ([num_inputs] then [num_outputs], -1 = none yet). */
static lathe_status_t check_buffer(const lathe_rt_program_t *p, int32_t id, int32_t *binders) {
  const lathe_rt_buffer_desc_t *b = &p->buffers[id];
  const char *name = name_of(b);
  if (!lathe_rt_dtype_bits(b->dtype)) return bad("unknown dtype", "buffer", id, name);
  if (b->rank < 0 || b->rank > LATHE_RT_MAX_RANK) return bad("bad rank", "buffer", id, name);
  if (b->rank && !b->dims) return bad("no dims", "buffer", id, name);
  for (int32_t d = 0; d < b->rank; ++d) {
    const lathe_rt_dim_t *dim = &b->dims[d];
    if (dim->param >= p->num_params || dim->param < -1)
      return bad("a dim names an unknown param", "buffer", id, name);
    if (dim->param < 0 && dim->size < 0) return bad("a negative dim", "buffer", id, name);
  }
  if (b->role == LATHE_RT_BUFFER_VIEW) {
    if (b->index < 0 || b->index >= p->num_buffers || b->index == id)
      return bad("views an unknown buffer", "buffer", id, name);
    const lathe_rt_buffer_desc_t *root = &p->buffers[b->index];
    if (root->role == LATHE_RT_BUFFER_VIEW) return bad("views a view", "buffer", id, name);
    if (root->dtype != b->dtype) return bad("differs from its root in dtype", "buffer", id, name);
    return NULL; /* binds nothing itself */
  }
  int32_t count, *slot;
  switch (b->role) {
  case LATHE_RT_BUFFER_INPUT: count = p->num_inputs, slot = binders; break;
  case LATHE_RT_BUFFER_OUTPUT: count = p->num_outputs, slot = binders + p->num_inputs; break;
  case LATHE_RT_BUFFER_CONST:
    if (b->index < 0 || b->index >= p->num_weights)
      return bad("weight index out of range", "buffer", id, name);
    return NULL;
  case LATHE_RT_BUFFER_TEMP: return NULL;
  default: return bad("unknown role", "buffer", id, name);
  }
  if (b->index < 0 || b->index >= count) return bad("index out of range", "buffer", id, name);
  if (slot[b->index] >= 0) return bad("binds an input/output twice", "buffer", id, name);
  slot[b->index] = id;
  return NULL;
}

static lathe_status_t check_tables(const lathe_rt_program_t *p, int32_t *binders) {
  for (int32_t id = 0; id < p->num_buffers; ++id)
    LATHE_RETURN_IF_ERROR(check_buffer(p, id, binders));
  for (int32_t k = 0; k < p->num_inputs + p->num_outputs; ++k) {
    if (binders[k] < 0)
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "program: no buffer for %s %d",
                               k < p->num_inputs ? "input" : "output",
                               (int)(k < p->num_inputs ? k : k - p->num_inputs));
  }
  for (int32_t i = 0; i < p->num_params; ++i) {
    const lathe_rt_param_desc_t *q = &p->params[i];
    const char *name = q->name ? q->name : "?";
    if (q->input < 0) {
      LATHE_RETURN_IF_ERROR(lathe_rt_param_check(p, i));
      continue;
    }
    if (q->input >= p->num_inputs) return bad("unknown input", "param", i, name);
    const lathe_rt_buffer_desc_t *b = &p->buffers[binders[q->input]];
    if (q->dim < 0 || q->dim >= b->rank || b->dims[q->dim].param != i)
      return bad("its input does not declare it at that dim", "param", i, name);
  }
  for (int32_t k = 0; k < p->num_kernels; ++k) {
    const lathe_rt_kernel_desc_t *kd = &p->kernels[k];
    const char *name = kd->name ? kd->name : "?";
    if (!kd->fn) return bad("no function", "kernel", k, name);
    if (kd->num_buffers < 0 || (kd->num_buffers && !kd->buffers))
      return bad("bad buffer list", "kernel", k, name);
    for (int32_t j = 0; j < kd->num_buffers; ++j) {
      if (kd->buffers[j] < 0 || kd->buffers[j] >= p->num_buffers)
        return bad("unknown buffer id", "kernel", k, name);
    }
  }
  return NULL;
}

lathe_status_t lathe_rt_program_validate(const lathe_rt_program_t *program) {
  LATHE_RETURN_IF_ERROR(check_header(program));
  size_t n = (size_t)program->num_inputs + (size_t)program->num_outputs;
  int32_t *binders = malloc((n ? n : 1) * sizeof *binders);
  if (!binders) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  for (size_t i = 0; i < n; ++i) binders[i] = -1;
  lathe_status_t status = check_tables(program, binders);
  free(binders);
  return status;
}

/* The buffer bound to input/output `index` of `role`. Validated programs
 * have one. */
static int32_t find_buffer(const lathe_rt_program_t *p, int32_t role, int32_t index) {
  for (int32_t id = 0; id < p->num_buffers; ++id) {
    const lathe_rt_buffer_desc_t *b = &p->buffers[id];
    if (b->role == role && b->index == index) return id;
  }
  return -1;
}

/* "f32[N, 128] with N = 4" (params unbound so far print without a value). */
static void format_expected(const lathe_rt_program_t *p, const lathe_rt_buffer_desc_t *b,
                            const int64_t *params, lathe_strbuf_t *sb) {
  lathe_strbuf_printf(sb, "%s[", lathe_rt_dtype_name(b->dtype));
  for (int32_t d = 0; d < b->rank; ++d) {
    const lathe_rt_dim_t *dim = &b->dims[d];
    if (d) lathe_strbuf_append(sb, ", ");
    if (dim->param < 0) lathe_strbuf_printf(sb, "%lld", (long long)dim->size);
    else lathe_strbuf_append(sb, p->params[dim->param].name ? p->params[dim->param].name : "?");
  }
  lathe_strbuf_append(sb, "]");
  const char *sep = " with ";
  for (int32_t d = 0; params && d < b->rank; ++d) {
    int32_t q = b->dims[d].param;
    if (q < 0 || params[q] < 0) continue;
    bool seen = false; /* print each param once */
    for (int32_t e = 0; e < d; ++e) seen |= b->dims[e].param == q;
    if (seen) continue;
    lathe_strbuf_printf(sb, "%s%s = %lld", sep, p->params[q].name ? p->params[q].name : "?",
                        (long long)params[q]);
    sep = ", ";
  }
}

static lathe_status_t mismatch(const lathe_rt_program_t *p, const char *what, int32_t k,
                               const lathe_rt_buffer_desc_t *b, const int64_t *params,
                               const lathe_rt_tensor_t *t, const char *why) {
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  format_expected(p, b, params, &sb);
  char given[256];
  lathe_rt_tensor_format_type(t, given, sizeof given);
  lathe_status_t s =
      lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "%s '%s' (#%d): expected %s, got %s%s", what,
                        name_of(b), (int)k, lathe_strbuf_cstr(&sb), given, why);
  lathe_strbuf_destroy(&sb);
  return s;
}

/* Dtype, rank and every dim of `t` against buffer `b` under `params`
 * (entries < 0 are unbound and match anything), then its memory. */
static lathe_status_t check_tensor(const lathe_rt_program_t *p, const char *what, int32_t k,
                                   const lathe_rt_buffer_desc_t *b, const int64_t *params,
                                   const lathe_rt_tensor_t *t) {
  if (t->dtype != b->dtype || t->rank != b->rank) return mismatch(p, what, k, b, params, t, "");
  for (int32_t d = 0; d < b->rank; ++d) {
    const lathe_rt_dim_t *dim = &b->dims[d];
    int64_t want = dim->param < 0 ? dim->size : params ? params[dim->param] : -1;
    if (t->dims[d] < 0 || (want >= 0 && t->dims[d] != want))
      return mismatch(p, what, k, b, params, t, "");
  }
  if (!params) return NULL;
  uint64_t bytes;
  LATHE_RETURN_IF_ERROR_CTX(lathe_rt_tensor_dense_bytes(t, &bytes), "%s '%s' (#%d)", what,
                            name_of(b), (int)k);
  if (!lathe_rt_tensor_is_dense(t))
    return mismatch(p, what, k, b, params, t, " (strided; dense row-major needed)");
  if (t->byte_size < bytes || (bytes && !t->data))
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                             "%s '%s' (#%d): needs %llu bytes of data, got %llu%s", what,
                             name_of(b), (int)k, (unsigned long long)bytes,
                             (unsigned long long)t->byte_size, t->data ? "" : " (NULL)");
  return NULL;
}

static lathe_status_t bind(const lathe_rt_program_t *p, const lathe_rt_tensor_t *inputs,
                           int32_t num_inputs, int64_t *params) {
  if (num_inputs != p->num_inputs || (num_inputs && !inputs))
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "expected %d inputs, got %d",
                             (int)p->num_inputs, (int)num_inputs);
  /* First types and static dims, so that binding reads dims that exist. */
  for (int32_t k = 0; k < num_inputs; ++k)
    LATHE_RETURN_IF_ERROR(check_tensor(
        p, "input", k, &p->buffers[find_buffer(p, LATHE_RT_BUFFER_INPUT, k)], NULL, &inputs[k]));
  for (int32_t q = 0; q < p->num_params; ++q)
    params[q] = p->params[q].input < 0 ? -1 : inputs[p->params[q].input].dims[p->params[q].dim];
  LATHE_RETURN_IF_ERROR(lathe_rt_param_derive(p, params));
  /* Then every param use agrees with its binding, and the memory suffices. */
  for (int32_t k = 0; k < num_inputs; ++k)
    LATHE_RETURN_IF_ERROR(check_tensor(
        p, "input", k, &p->buffers[find_buffer(p, LATHE_RT_BUFFER_INPUT, k)], params, &inputs[k]));
  return NULL;
}

lathe_status_t lathe_rt_program_bind(const lathe_rt_program_t *program,
                                     const lathe_rt_tensor_t *inputs, int32_t num_inputs,
                                     int64_t *out_params) {
  LATHE_RETURN_IF_ERROR(lathe_rt_program_validate(program));
  return bind(program, inputs, num_inputs, out_params);
}

/* Shape and bytes of a buffer of a validated program. */
static lathe_status_t shape_of(const lathe_rt_program_t *p, int32_t id, const int64_t *params,
                               lathe_rt_tensor_t *out) {
  const lathe_rt_buffer_desc_t *b = &p->buffers[id];
  memset(out, 0, sizeof *out);
  out->dtype = b->dtype;
  out->rank = b->rank;
  for (int32_t d = 0; d < b->rank; ++d)
    out->dims[d] = b->dims[d].param < 0 ? b->dims[d].size : params[b->dims[d].param];
  LATHE_RETURN_IF_ERROR_CTX(lathe_rt_tensor_dense_bytes(out, &out->byte_size), "buffer '%s'",
                            name_of(b));
  return NULL;
}

lathe_status_t lathe_rt_program_buffer_shape(const lathe_rt_program_t *program, int32_t id,
                                             const int64_t *params, int64_t *out_dims,
                                             uint64_t *out_bytes) {
  LATHE_RETURN_IF_ERROR(lathe_rt_program_validate(program));
  if (id < 0 || id >= program->num_buffers)
    return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "buffer id %d is outside [0, %d)", (int)id,
                             (int)program->num_buffers);
  lathe_rt_tensor_t t;
  LATHE_RETURN_IF_ERROR(shape_of(program, id, params, &t));
  memcpy(out_dims, t.dims, (size_t)t.rank * sizeof *out_dims);
  *out_bytes = t.byte_size;
  return NULL;
}

/* Plan items by buffer id: temporaries get their size and the kernels that
 * touch them or their views; everything else (views and unused temporaries
 * included) is empty. */
static lathe_status_t plan_items(const lathe_rt_program_t *p, const int64_t *params,
                                 lathe_rt_plan_item_t *items) {
  for (int32_t id = 0; id < p->num_buffers; ++id) items[id] = (lathe_rt_plan_item_t){0, -1, -1};
  for (int32_t k = 0; k < p->num_kernels; ++k) {
    for (int32_t j = 0; j < p->kernels[k].num_buffers; ++j) {
      int32_t id = p->kernels[k].buffers[j];
      if (p->buffers[id].role == LATHE_RT_BUFFER_VIEW) id = p->buffers[id].index;
      lathe_rt_plan_item_t *it = &items[id];
      if (it->first < 0) it->first = k;
      it->last = k;
    }
  }
  for (int32_t id = 0; id < p->num_buffers; ++id) {
    lathe_rt_plan_item_t *it = &items[id];
    const lathe_rt_buffer_desc_t *b = &p->buffers[id];
    if (b->role != LATHE_RT_BUFFER_TEMP || it->first < 0) {
      *it = (lathe_rt_plan_item_t){0, 0, 0};
      continue;
    }
    lathe_rt_tensor_t t;
    LATHE_RETURN_IF_ERROR(shape_of(p, id, params, &t));
    it->bytes = t.byte_size;
  }
  return NULL;
}

lathe_status_t lathe_rt_program_plan(const lathe_rt_program_t *program, const int64_t *params,
                                     uint64_t *out_offsets, uint64_t *out_peak_bytes) {
  LATHE_RETURN_IF_ERROR(lathe_rt_program_validate(program));
  size_t n = (size_t)program->num_buffers;
  lathe_rt_plan_item_t *items = calloc(n ? n : 1, sizeof *items);
  if (!items) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  lathe_status_t s = plan_items(program, params, items);
  if (!s) s = lathe_rt_plan_buffers(items, n, out_offsets, out_peak_bytes);
  free(items);
  return s;
}

/* Plans into ctx->offsets, reusing the cached plan when the items match. */
static lathe_status_t plan_in_context(const lathe_rt_program_t *p, lathe_rt_context_t *ctx,
                                      uint64_t *out_peak) {
  size_t n = (size_t)p->num_buffers;
  LATHE_RETURN_IF_ERROR(plan_items(p, ctx->params, ctx->items));
  if (ctx->plan_count == p->num_buffers &&
      (n == 0 || memcmp(ctx->plan_items, ctx->items, n * sizeof *ctx->items) == 0)) {
    if (n) memcpy(ctx->offsets, ctx->plan_offsets, n * sizeof *ctx->offsets);
    *out_peak = ctx->plan_peak;
    return NULL;
  }
  LATHE_RETURN_IF_ERROR(lathe_rt_plan_buffers(ctx->items, n, ctx->offsets, out_peak));
  /* Cache it; failing to is not an error, only a slower next run. */
  lathe_rt_plan_item_t *items = malloc((n ? n : 1) * sizeof *items);
  uint64_t *offsets = malloc((n ? n : 1) * sizeof *offsets);
  free(ctx->plan_items);
  free(ctx->plan_offsets);
  ctx->plan_items = items;
  ctx->plan_offsets = offsets;
  ctx->plan_count = -1;
  if (items && offsets) {
    if (n) memcpy(items, ctx->items, n * sizeof *items);
    if (n) memcpy(offsets, ctx->offsets, n * sizeof *offsets);
    ctx->plan_count = p->num_buffers;
    ctx->plan_peak = *out_peak;
  }
  return NULL;
}

static const char *kernel_error(int32_t code) {
  switch (code) {
  case LATHE_RT_KERNEL_INDEX_OUT_OF_RANGE: return "an index in the data is out of range";
  case LATHE_RT_KERNEL_OUT_OF_MEMORY: return "out of memory";
  case LATHE_RT_KERNEL_INVALID_VALUE: return "a value in the data is invalid";
  default: return "unknown error code";
  }
}

static lathe_status_t check_outputs(const lathe_rt_program_t *p, const int64_t *params,
                                    const lathe_rt_tensor_t *outputs, int32_t num_outputs) {
  if (num_outputs != p->num_outputs || (num_outputs && !outputs))
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "expected %d outputs, got %d",
                             (int)p->num_outputs, (int)num_outputs);
  for (int32_t k = 0; k < num_outputs; ++k) {
    const lathe_rt_buffer_desc_t *b = &p->buffers[find_buffer(p, LATHE_RT_BUFFER_OUTPUT, k)];
    LATHE_RETURN_IF_ERROR(check_tensor(p, "output", k, b, params, &outputs[k]));
  }
  return NULL;
}

/* Points each view at its root's memory, after checking that the two have
 * the same size under this binding (a compiler bug otherwise). */
static lathe_status_t bind_views(const lathe_rt_program_t *p, lathe_rt_context_t *ctx) {
  for (int32_t id = 0; id < p->num_buffers; ++id) {
    if (p->buffers[id].role != LATHE_RT_BUFFER_VIEW) continue;
    int32_t root = p->buffers[id].index;
    lathe_rt_tensor_t view, base;
    LATHE_RETURN_IF_ERROR(shape_of(p, id, ctx->params, &view));
    LATHE_RETURN_IF_ERROR(shape_of(p, root, ctx->params, &base));
    if (view.byte_size != base.byte_size)
      return lathe_status_make(LATHE_STATUS_INTERNAL,
                               "view '%s' has %llu bytes but its root '%s' has %llu",
                               name_of(&p->buffers[id]), (unsigned long long)view.byte_size,
                               name_of(&p->buffers[root]), (unsigned long long)base.byte_size);
    ctx->pointers[id] = ctx->pointers[root];
  }
  return NULL;
}

/* Points every root buffer at its memory: the caller's tensors, the weights,
 * or the arena at the planned offset; then the views at their roots'. */
static lathe_status_t bind_pointers(const lathe_rt_program_t *p, lathe_rt_context_t *ctx,
                                    const lathe_rt_weights_t *weights,
                                    const lathe_rt_tensor_t *inputs, lathe_rt_tensor_t *outputs,
                                    uint8_t *arena) {
  for (int32_t id = 0; id < p->num_buffers; ++id) {
    const lathe_rt_buffer_desc_t *b = &p->buffers[id];
    void *ptr = NULL;
    if (b->role == LATHE_RT_BUFFER_VIEW) continue;
    switch (b->role) {
    case LATHE_RT_BUFFER_INPUT: ptr = inputs[b->index].data; break;
    case LATHE_RT_BUFFER_OUTPUT: ptr = outputs[b->index].data; break;
    case LATHE_RT_BUFFER_TEMP: ptr = ctx->items[id].bytes ? arena + ctx->offsets[id] : NULL; break;
    case LATHE_RT_BUFFER_CONST: {
      if (!weights)
        return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                                 "constant '%s' needs a weights table", name_of(b));
      const void *data;
      uint64_t have;
      lathe_rt_tensor_t t;
      LATHE_RETURN_IF_ERROR_CTX(lathe_rt_weights_get(weights, b->index, &data, &have),
                                "constant '%s'", name_of(b));
      LATHE_RETURN_IF_ERROR(shape_of(p, id, ctx->params, &t));
      if (have < t.byte_size)
        return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                                 "constant '%s': weight %d has %llu bytes, the type needs %llu",
                                 name_of(b), (int)b->index, (unsigned long long)have,
                                 (unsigned long long)t.byte_size);
      ptr = (void *)data; /* kernels never write constants */
      break;
    }
    }
    ctx->pointers[id] = ptr;
  }
  return bind_views(p, ctx);
}

lathe_status_t lathe_rt_program_run(const lathe_rt_program_t *program,
                                    const lathe_rt_weights_t *weights, lathe_rt_context_t *ctx,
                                    const lathe_rt_tensor_t *inputs, int32_t num_inputs,
                                    lathe_rt_tensor_t *outputs, int32_t num_outputs) {
  LATHE_RETURN_IF_ERROR(lathe_rt_program_validate(program));
  if (!ctx) return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "run: no context");
  LATHE_RETURN_IF_ERROR(lathe_rt_context_reserve(ctx, program->num_params, program->num_buffers));
  LATHE_RETURN_IF_ERROR(bind(program, inputs, num_inputs, ctx->params));
  LATHE_RETURN_IF_ERROR(check_outputs(program, ctx->params, outputs, num_outputs));
  uint64_t peak;
  LATHE_RETURN_IF_ERROR(plan_in_context(program, ctx, &peak));
  void *arena;
  LATHE_RETURN_IF_ERROR(lathe_rt_context_arena(ctx, peak, &arena));
  LATHE_RETURN_IF_ERROR(bind_pointers(program, ctx, weights, inputs, outputs, arena));

  lathe_rt_kernel_args_t args = {ctx->pointers, ctx->params, &ctx->functions, ctx};
  ctx->run_program = program;
  ctx->run_derived = lathe_rt_weights_derived(weights);
  int32_t rc = LATHE_RT_KERNEL_OK, k = 0;
  for (; k < program->num_kernels && rc == LATHE_RT_KERNEL_OK; ++k)
    rc = program->kernels[k].fn(&args);
  ctx->run_program = NULL;
  ctx->run_derived = NULL;
  if (rc != LATHE_RT_KERNEL_OK) {
    const lathe_rt_kernel_desc_t *kd = &program->kernels[--k];
    return lathe_status_make(rc == LATHE_RT_KERNEL_OUT_OF_MEMORY ? LATHE_STATUS_RESOURCE_EXHAUSTED
                                                                 : LATHE_STATUS_INVALID_ARGUMENT,
                             "kernel %d '%s' failed: %s (code %d)", (int)k,
                             kd->name ? kd->name : "?", kernel_error(rc), (int)rc);
  }
  return NULL;
}
