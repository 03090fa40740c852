/* Opening a model: the file kind picks the importer (a folder is a Hugging
 * Face checkpoint, .lir is text IR, anything else ONNX), then the options'
 * pass pipeline runs over the module. The model keeps the module (its
 * weights are views of the model files, never copies), and caches what later
 * calls derive from it: the kernel program and the backend artifact.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "driver/internal.h"
#include "frontend/frontend.h"
#include "ir/text.h"
#include "passes/passes.h"

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The options' const inputs as the ONNX importer takes them (views of the
 * options' copies; *out is malloc'd). */
static lathe_status_t onnx_const_inputs(const lathe_options_t *o, lathe_onnx_const_input_t **out) {
  *out = calloc((size_t)o->num_const_inputs + 1, sizeof **out);
  if (!*out) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  for (int32_t i = 0; i < o->num_const_inputs; ++i) {
    const const_input_t *c = &o->const_inputs[i];
    (*out)[i] = (lathe_onnx_const_input_t){
        .name = c->name,
        .dtype = (lathe_dtype_t)c->value.dtype, /* the codes are the IR's (test_dtype) */
        .rank = (uint32_t)c->value.rank,
        .dims = c->value.dims,
        .data = c->value.data,
        .num_bytes = c->value.byte_size,
    };
  }
  return NULL;
}

static lathe_status_t import(const char *path, const lathe_options_t *o,
                             lathe_module_t **out_module) {
  struct stat st;
  if (stat(path, &st) != 0)
    return lathe_status_make(LATHE_STATUS_IO_ERROR, "%s: no such file or folder", path);
  bool onnx = !S_ISDIR(st.st_mode) && !ends_with(path, ".lir");
  if (!onnx && o->num_const_inputs)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                             "%s: const inputs ('%s') apply to ONNX models only", path,
                             o->const_inputs[0].name);
  if (S_ISDIR(st.st_mode)) return lathe_hf_import(path, NULL, out_module);
  if (!onnx) {
    const lathe_parse_options_t parse = {.open_weight_source =
                                             lathe_safetensors_open_weight_source};
    return lathe_module_parse_file(path, &parse, out_module);
  }
  /* Shape computations (Shape -> Gather -> Concat into a Reshape) fold at
   * import time through fold-constants' evaluator, as `lathe import` does. */
  lathe_onnx_import_options_t import_options = {.fold = lathe_fold_evaluate};
  lathe_onnx_const_input_t *values = NULL;
  LATHE_RETURN_IF_ERROR(onnx_const_inputs(o, &values));
  import_options.const_inputs = values;
  import_options.num_const_inputs = (size_t)o->num_const_inputs;
  lathe_status_t s = lathe_onnx_import_file(path, &import_options, out_module);
  free(values);
  return s;
}

static lathe_status_t run_pipeline(lathe_model_t *m) {
  char *text = options_pipeline(&m->options);
  lathe_pipeline_t *pl = NULL;
  lathe_status_t st = lathe_pipeline_parse(text, &pl);
  free(text);
  lathe_calibration_t *cal = NULL;
  if (!st) st = calibration_create(&m->options, &cal);
  if (!st) {
    lathe_calibrator_t calibrator = {0};
    lathe_pipeline_config_t config = {0};
    if (cal) {
      calibrator = calibration_calibrator(cal);
      config.calibrator = &calibrator;
    }
    st = lathe_pipeline_run(pl, m->module, &config);
  }
  calibration_destroy(cal);
  lathe_pipeline_destroy(pl);
  return st;
}

lathe_status_t lathe_model_open(const char *path, const lathe_options_t *options,
                                lathe_model_t **out_model) {
  if (!path || !out_model)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "model_open: NULL argument");
  lathe_model_t *m = calloc(1, sizeof *m);
  if (!m) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  atomic_init(&m->refs, 1);
  lathe_arena_init(&m->stats_arena);
  lathe_options_t defaults;
  options_defaults(&defaults);
  lathe_status_t st = options_copy(&m->options, options ? options : &defaults);
  if (st) {
    free(m);
    return st;
  }
  st = import(path, &m->options, &m->module);
  if (!st) {
    m->graph = lathe_module_first_graph(m->module);
    if (!m->graph) st = lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "%s: no graph", path);
  }
  if (!st) st = run_pipeline(m);
  if (st) {
    model_release(m);
    return st;
  }
  *out_model = m;
  return NULL;
}

void model_retain(lathe_model_t *m) { atomic_fetch_add(&m->refs, 1); }

void model_release(lathe_model_t *m) {
  if (!m || atomic_fetch_sub(&m->refs, 1) != 1) return;
  if (m->artifact) m->backend->destroy(m->artifact);
  lathe_kprogram_destroy(m->program);
  lathe_module_destroy(m->module);
  lathe_arena_destroy(&m->stats_arena);
  options_clear(&m->options);
  free(m);
}

void lathe_model_destroy(lathe_model_t *model) { model_release(model); }

/* ---- inputs and outputs ------------------------------------------------------ */

lathe_status_t value_info(const lathe_value_t *v, lathe_tensor_info_t *out_info) {
  const lathe_type_t *t = &v->type;
  if (t->rank > LATHE_RT_MAX_RANK)
    return lathe_status_make(LATHE_STATUS_UNSUPPORTED, "'%s' has rank %u, above the API's %d",
                             v->name ? v->name : "?", t->rank, LATHE_RT_MAX_RANK);
  lathe_tensor_info_t info = {
      .name = v->name, .dtype = (int32_t)t->dtype, .rank = (int32_t)t->rank};
  for (uint32_t d = 0; d < t->rank; ++d) {
    info.dims[d] = lathe_dim_is_static(t->dims[d]) ? t->dims[d].size : -1;
    info.dim_names[d] = t->dims[d].sym;
  }
  *out_info = info;
  return NULL;
}

int32_t lathe_model_num_inputs(const lathe_model_t *model) {
  return model ? (int32_t)model->graph->num_inputs : 0;
}

int32_t lathe_model_num_outputs(const lathe_model_t *model) {
  return model ? (int32_t)lathe_graph_num_outputs(model->graph) : 0;
}

static lathe_status_t bad_index(const char *what, int32_t index, int32_t count) {
  return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "%s %d does not exist (the model has %d)",
                           what, (int)index, (int)count);
}

lathe_status_t lathe_model_input_info(const lathe_model_t *model, int32_t index,
                                      lathe_tensor_info_t *out_info) {
  int32_t n = lathe_model_num_inputs(model);
  if (index < 0 || index >= n) return bad_index("input", index, n);
  return value_info(model->graph->inputs[index], out_info);
}

lathe_status_t lathe_model_output_info(const lathe_model_t *model, int32_t index,
                                       lathe_tensor_info_t *out_info) {
  int32_t n = lathe_model_num_outputs(model);
  if (index < 0 || index >= n) return bad_index("output", index, n);
  return value_info(lathe_graph_output(model->graph, (uint32_t)index), out_info);
}

/* ---- lowering and the backend artifact, cached ------------------------------- */

lathe_status_t model_lower(lathe_model_t *m, const lathe_kprogram_t **out_program) {
  if (!m->program) LATHE_RETURN_IF_ERROR(lathe_kernel_lower_graph(m->graph, &m->program));
  *out_program = m->program;
  return NULL;
}

lathe_status_t backend_compile(const lathe_kprogram_t *p, const lathe_options_t *o,
                               const lathe_backend_t **out_backend,
                               lathe_codegen_artifact_t **out_artifact) {
  if (o->target == TARGET_INTERP)
    return lathe_status_make(LATHE_STATUS_UNSUPPORTED,
                             "target '%s' makes no machine code (use --target cpu)",
                             target_name(o->target));
  const lathe_backend_t *b = lathe_backend_find(o->target == TARGET_CUDA ? "cuda" : "llvm");
  if (!b || !b->compile)
    return lathe_status_make(LATHE_STATUS_UNSUPPORTED, "this build has no %s backend",
                             target_name(o->target));
  lathe_codegen_options_t cg;
  lathe_codegen_options_init(&cg);
  cg.target = o->cpu;
  cg.opt_level = (uint32_t)o->opt_level;
  LATHE_RETURN_IF_ERROR(b->compile(p, &cg, out_artifact));
  *out_backend = b;
  return NULL;
}

lathe_status_t model_artifact(lathe_model_t *m, const lathe_backend_t **out_backend,
                              const lathe_codegen_artifact_t **out_artifact) {
  if (!m->artifact) {
    const lathe_kprogram_t *p;
    LATHE_RETURN_IF_ERROR(model_lower(m, &p));
    LATHE_RETURN_IF_ERROR(backend_compile(p, &m->options, &m->backend, &m->artifact));
  }
  *out_backend = m->backend;
  *out_artifact = m->artifact;
  return NULL;
}

lathe_status_t program_weights(const lathe_kprogram_t *p, lathe_rt_weights_t **out_weights) {
  lathe_rt_weights_t *w;
  LATHE_RETURN_IF_ERROR(lathe_rt_weights_create(lathe_codegen_num_weights(p), &w));
  for (uint32_t b = 0; b < p->num_buffers; ++b) {
    int32_t id = lathe_codegen_weight_id(p, b);
    if (id < 0) continue;
    const lathe_weight_t *weight = p->buffers[b]->weight;
    lathe_status_t st = lathe_rt_weights_set_memory(w, id, weight->data, weight->num_bytes);
    if (st) {
      lathe_rt_weights_destroy(w);
      return st;
    }
  }
  *out_weights = w;
  return NULL;
}
