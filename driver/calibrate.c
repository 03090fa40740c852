/* The calibration provider the driver installs in the pass pipeline
 * (lathe_calibrator_t, passes/passes.h), so that a compression pass can see
 * the activations of the values it names without passes/ knowing about
 * lowering or backends.
 *
 * For one request: the graph's `return` is rebuilt with the observed values
 * appended as extra outputs, the graph is lowered and compiled for the
 * options' target (interp or cpu), the return is restored, and the program
 * runs on every sample. Observed graph inputs and constants need no run:
 * their activation is the sample or the weight. Every sample must give a
 * value the same shape, so the activations stack into one buffer per value.
 * The buffers live until the manager calls release after the pass.
 */
#include <stdlib.h>
#include <string.h>

#include "driver/internal.h"
#include "driver/samples.h"

struct lathe_calibration {
  lathe_options_t options;
  samples_t samples;
  void **owned; /* activation buffers handed out since the last release */
  size_t num_owned;
};

static void release(void *ctx) {
  lathe_calibration_t *c = ctx;
  for (size_t i = 0; i < c->num_owned; ++i) free(c->owned[i]);
  free(c->owned);
  c->owned = NULL;
  c->num_owned = 0;
}

/* Per observed value: where it comes from in a run. */
typedef struct {
  int32_t output; /* graph output index in the rebuilt return, or -1 */
  int32_t input;  /* graph input index, or -1 */
  uint8_t *data;  /* num_samples * bytes */
  uint64_t bytes; /* of one sample */
  lathe_rt_tensor_t shape;
} watch_t;

/* Rebuilds the graph's return as original outputs + the op results among
 * `values` (those not already outputs); records where each value lands. */
static lathe_status_t add_outputs(lathe_graph_t *g, uint32_t n, const lathe_value_t *const *values,
                                  watch_t *watches, lathe_value_t **saved, uint32_t num_saved) {
  lathe_value_t **outs = calloc((size_t)num_saved + n + 1, sizeof *outs);
  if (!outs) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  memcpy(outs, saved, num_saved * sizeof *outs);
  uint32_t count = num_saved;
  for (uint32_t i = 0; i < n; ++i) {
    watches[i] = (watch_t){.output = -1, .input = -1};
    const lathe_value_t *v = values[i];
    if (!v || v->graph != g) {
      free(outs);
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                               "calibrate: value %u is not in graph '%s'", i, g->name);
    }
    if (!v->def) {
      watches[i].input = (int32_t)v->index;
      continue;
    }
    if (v->def->kind == LATHE_OP_CONST) continue;
    for (uint32_t k = 0; k < count && watches[i].output < 0; ++k)
      if (outs[k] == v) watches[i].output = (int32_t)k;
    if (watches[i].output < 0) {
      watches[i].output = (int32_t)count;
      outs[count++] = (lathe_value_t *)v;
    }
  }
  lathe_op_erase(lathe_graph_return(g));
  lathe_build_return(g, count, outs);
  free(outs);
  return NULL;
}

static void restore_outputs(lathe_graph_t *g, lathe_value_t **saved, uint32_t num_saved) {
  lathe_op_erase(lathe_graph_return(g));
  lathe_build_return(g, num_saved, saved);
}

/* Copies one sample's activation of watch w into its stack, checking the
 * shape against earlier samples. */
static lathe_status_t record(watch_t *w, const lathe_rt_tensor_t *t, size_t sample,
                             size_t num_samples, const char *name) {
  if (sample == 0) {
    w->shape = *t;
    w->bytes = t->byte_size;
    if (w->bytes && num_samples > UINT64_MAX / w->bytes)
      return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "calibrate: too much data");
    w->data = malloc(num_samples * w->bytes + 1);
    if (!w->data) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  } else {
    bool same = t->rank == w->shape.rank && t->byte_size == w->bytes;
    for (int32_t d = 0; same && d < t->rank; ++d) same = t->dims[d] == w->shape.dims[d];
    if (!same)
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                               "calibrate: '%s' changes shape between samples", name);
  }
  if (w->bytes) memcpy(w->data + sample * w->bytes, t->data, w->bytes);
  return NULL;
}

typedef struct {
  lathe_calibration_t *cal;
  lathe_graph_t *graph;
  uint32_t n;
  const lathe_value_t *const *values;
  watch_t *watches;
  lathe_compiled_t *compiled;
} request_t;

static lathe_status_t run_sample(request_t *r, lathe_rt_context_t *ctx, size_t s,
                                 const char *const *names, lathe_rt_tensor_t *inputs) {
  const lathe_rt_program_t *p = r->compiled->program;
  uint32_t num_in = r->graph->num_inputs;
  LATHE_RETURN_IF_ERROR(samples_read(r->cal->samples.paths[s], num_in, names, inputs));
  lathe_rt_tensor_t *outputs = calloc((size_t)p->num_outputs + 1, sizeof *outputs);
  lathe_status_t st =
      outputs ? NULL : lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  if (!st)
    st =
        lathe_compiled_output_shapes(r->compiled, inputs, (int32_t)num_in, outputs, p->num_outputs);
  for (int32_t k = 0; !st && k < p->num_outputs; ++k) {
    lathe_rt_tensor_t shape = outputs[k];
    st = lathe_tensor_alloc(shape.dtype, shape.rank, shape.dims, &outputs[k]);
  }
  if (!st) st = compiled_run(r->compiled, ctx, inputs, (int32_t)num_in, outputs, p->num_outputs);
  for (uint32_t i = 0; !st && i < r->n; ++i) {
    watch_t *w = &r->watches[i];
    const char *name = r->values[i]->name ? r->values[i]->name : "?";
    if (w->output >= 0) st = record(w, &outputs[w->output], s, r->cal->samples.count, name);
    else if (w->input >= 0) st = record(w, &inputs[w->input], s, r->cal->samples.count, name);
  }
  for (int32_t k = 0; outputs && k < p->num_outputs; ++k) lathe_tensor_free(&outputs[k]);
  for (uint32_t k = 0; k < num_in; ++k) lathe_tensor_free(&inputs[k]);
  free(outputs);
  return st;
}

static lathe_status_t run_all(request_t *r) {
  uint32_t num_in = r->graph->num_inputs;
  const char **names = calloc((size_t)num_in + 1, sizeof *names);
  lathe_rt_tensor_t *inputs = calloc((size_t)num_in + 1, sizeof *inputs);
  lathe_rt_context_t *ctx = NULL;
  lathe_status_t st =
      names && inputs ? NULL : lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  for (uint32_t k = 0; !st && k < num_in; ++k) {
    names[k] = r->graph->inputs[k]->name;
    if (!names[k])
      st = lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "calibrate: input %u has no name", k);
  }
  if (!st) st = lathe_rt_context_create(r->compiled->pool, &ctx);
  for (size_t s = 0; !st && s < r->cal->samples.count; ++s)
    st = lathe_status_annotate(run_sample(r, ctx, s, names, inputs), "calibration sample '%s'",
                               r->cal->samples.paths[s]);
  lathe_rt_context_destroy(ctx);
  free(names);
  free(inputs);
  return st;
}

/* Hands each watch's stack to the caller as an activation (ownership to the
 * calibration, freed on release). */
static lathe_status_t fill(request_t *r, lathe_activation_t *out) {
  lathe_arena_t *arena = lathe_module_arena(r->graph->module);
  void **owned = realloc(r->cal->owned, (r->cal->num_owned + r->n) * sizeof *owned + 1);
  if (!owned) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  r->cal->owned = owned;
  for (uint32_t i = 0; i < r->n; ++i) {
    const lathe_value_t *v = r->values[i];
    watch_t *w = &r->watches[i];
    out[i] = (lathe_activation_t){.value = v, .num_samples = (uint32_t)r->cal->samples.count};
    if (w->data) {
      owned[r->cal->num_owned++] = w->data;
      out[i].data = w->data;
      out[i].type = lathe_type_make_static(arena, (lathe_dtype_t)w->shape.dtype,
                                           (uint32_t)w->shape.rank, w->shape.dims);
      w->data = NULL;
    } else { /* a constant: the same weight for every sample */
      out[i].type = v->type;
      out[i].num_samples = 1;
      out[i].data = v->def->weight->data;
    }
  }
  return NULL;
}

static lathe_status_t run(void *ctx, lathe_graph_t *graph, uint32_t num_values,
                          const lathe_value_t *const *values, lathe_activation_t *out) {
  lathe_calibration_t *cal = ctx;
  if (num_values && (!values || !out))
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "calibrate: NULL argument");
  uint32_t num_saved = lathe_graph_num_outputs(graph);
  lathe_value_t **saved = calloc((size_t)num_saved + 1, sizeof *saved);
  watch_t *watches = calloc((size_t)num_values + 1, sizeof *watches);
  if (!saved || !watches) {
    free(saved);
    free(watches);
    return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  for (uint32_t k = 0; k < num_saved; ++k) saved[k] = lathe_graph_output(graph, k);
  request_t r = {cal, graph, num_values, values, watches, NULL};
  lathe_kprogram_t *program = NULL;
  /* The graph carries the extra outputs only while it is lowered. */
  lathe_status_t st = add_outputs(graph, num_values, values, watches, saved, num_saved);
  if (!st) {
    st = lathe_kernel_lower_graph(graph, &program);
    restore_outputs(graph, saved, num_saved);
  }
  if (!st) st = compile_program(program, &cal->options, &r.compiled);
  if (!st) st = run_all(&r);
  if (!st) st = fill(&r, out);
  for (uint32_t i = 0; i < num_values; ++i) free(watches[i].data);
  compiled_release(r.compiled);
  lathe_kprogram_destroy(program);
  free(watches);
  free(saved);
  return lathe_status_annotate(st, "calibrate");
}

lathe_status_t calibration_create(const lathe_options_t *options, lathe_calibration_t **out) {
  *out = NULL;
  if (!options->calibration) return NULL;
  lathe_calibration_t *c = calloc(1, sizeof *c);
  if (!c) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  lathe_status_t st = options_copy(&c->options, options);
  if (!st) st = samples_list(options->calibration, &c->samples);
  if (st) {
    calibration_destroy(c);
    return st;
  }
  *out = c;
  return NULL;
}

void calibration_destroy(lathe_calibration_t *c) {
  if (!c) return;
  release(c);
  samples_free(&c->samples);
  options_clear(&c->options);
  free(c);
}

lathe_calibrator_t calibration_calibrator(lathe_calibration_t *c) {
  return (lathe_calibrator_t){.ctx = c, .run = run, .release = release};
}
