/* lathe_options_t: how to compile. Setters check their argument at once, so
 * a typo in a pass pipeline or a target fails where it was written rather
 * than at the first compile. */
#include <stdlib.h>
#include <string.h>

#include "codegen/cuda/cuda.h"
#include "driver/internal.h"
#include "passes/passes.h"

/* The graph pipeline at -O1 and up; `fuse` follows it when registered. */
static const char default_pipeline[] = "canonicalize,cse,fold-constants,dce";

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

void options_defaults(lathe_options_t *o) {
  *o = (lathe_options_t){.target = TARGET_CPU, .opt_level = 3, .num_threads = 0};
}

void options_clear(lathe_options_t *o) {
  free(o->cpu);
  free(o->passes);
  free(o->calibration);
  const_inputs_clear(o);
  options_defaults(o);
}

lathe_status_t options_copy(lathe_options_t *dst, const lathe_options_t *src) {
  *dst = *src;
  dst->cpu = dup_or_null(src->cpu);
  dst->passes = dup_or_null(src->passes);
  dst->calibration = dup_or_null(src->calibration);
  lathe_status_t st = const_inputs_copy(dst, src);
  if (!st && ((src->cpu && !dst->cpu) || (src->passes && !dst->passes) ||
              (src->calibration && !dst->calibration)))
    st = lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  if (st) options_clear(dst);
  return st;
}

const char *target_name(target_t t) {
  return t == TARGET_INTERP ? "interp" : t == TARGET_CUDA ? "cuda" : "cpu";
}

/* Does the comma-separated pipeline run `fuse`? */
static bool names_fuse(const char *pipeline) {
  lathe_pipeline_t *pl = NULL;
  lathe_status_t st = lathe_pipeline_parse(pipeline, &pl);
  bool found = false;
  for (uint32_t i = 0; !st && i < lathe_pipeline_num_passes(pl); ++i)
    found |= strcmp(lathe_pipeline_pass_name(pl, i), "fuse") == 0;
  lathe_status_free(st);
  lathe_pipeline_destroy(pl);
  return found;
}

static bool fuse_registered(void) {
  lathe_pipeline_t *pl = NULL;
  lathe_status_t st = lathe_pipeline_parse("fuse", &pl);
  lathe_pipeline_destroy(pl);
  bool ok = st == NULL;
  lathe_status_free(st);
  return ok;
}

char *options_pipeline(const lathe_options_t *o) {
  const char *base = o->passes ? o->passes : o->opt_level > 0 ? default_pipeline : "";
  bool add_fuse = o->opt_level > 0 && fuse_registered() && !names_fuse(base);
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  lathe_strbuf_append(&sb, base);
  if (add_fuse) lathe_strbuf_append(&sb, *base ? ",fuse" : "fuse");
  return lathe_strbuf_release(&sb);
}

lathe_status_t lathe_options_create(lathe_options_t **out_options) {
  lathe_options_t *o = malloc(sizeof *o);
  if (!o) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  options_defaults(o);
  *out_options = o;
  return NULL;
}

void lathe_options_destroy(lathe_options_t *options) {
  if (!options) return;
  options_clear(options);
  free(options);
}

static lathe_status_t null_options(void) {
  return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "options: NULL handle");
}

/* Replaces *slot by a copy of value (NULL clears it). */
static lathe_status_t set_string(char **slot, const char *value) {
  char *copy = dup_or_null(value);
  if (value && !copy) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  free(*slot);
  *slot = copy;
  return NULL;
}

lathe_status_t lathe_options_set_target(lathe_options_t *o, const char *target) {
  if (!o) return null_options();
  if (!target) return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "target: NULL");
  if (!strcmp(target, "interp")) {
    o->target = TARGET_INTERP;
    return set_string(&o->cpu, NULL);
  }
  if (!strcmp(target, "cpu")) {
    o->target = TARGET_CPU;
    return set_string(&o->cpu, NULL);
  }
  if (!strncmp(target, "cpu:", 4) && target[4]) {
    o->target = TARGET_CPU;
    return set_string(&o->cpu, target + 4);
  }
  if (!strcmp(target, "cuda") || (!strncmp(target, "cuda:", 5) && target[5])) {
    int32_t archs[LATHE_CUDA_MAX_ARCHS];
    uint32_t n;
    const char *sm = target[4] ? target + 5 : NULL;
    LATHE_RETURN_IF_ERROR(lathe_cuda_parse_target(sm, archs, &n));
    o->target = TARGET_CUDA;
    return set_string(&o->cpu, sm);
  }
  return lathe_status_make(
      LATHE_STATUS_INVALID_ARGUMENT,
      "unknown target '%s' (expected cpu, cpu:CPU[:FEATURES], cuda, cuda:sm_NN[,sm_MM] or interp)",
      target);
}

lathe_status_t lathe_options_set_passes(lathe_options_t *o, const char *pipeline) {
  if (!o) return null_options();
  if (pipeline) {
    lathe_pipeline_t *pl = NULL;
    LATHE_RETURN_IF_ERROR_CTX(lathe_pipeline_parse(pipeline, &pl), "passes");
    lathe_pipeline_destroy(pl);
  }
  return set_string(&o->passes, pipeline);
}

lathe_status_t lathe_options_set_opt_level(lathe_options_t *o, int32_t level) {
  if (!o) return null_options();
  if (level < 0 || level > 3)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "optimisation level %d is not in 0..3",
                             (int)level);
  o->opt_level = level;
  return NULL;
}

lathe_status_t lathe_options_set_num_threads(lathe_options_t *o, int32_t num_threads) {
  if (!o) return null_options();
  if (num_threads < 0 || num_threads > 4096)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                             "thread count %d is not in 0..4096 (0 = one per core)",
                             (int)num_threads);
  o->num_threads = num_threads;
  return NULL;
}

lathe_status_t lathe_options_set_calibration(lathe_options_t *o, const char *path) {
  if (!o) return null_options();
  return set_string(&o->calibration, path);
}

const char *lathe_version(void) { return "0.1.0"; }
