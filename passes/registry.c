/* The pass registry built from passes.def: lookup by name, the --help listing
 * and the typed option getters passes use. Keeping the table in one X-macro
 * means the pipeline parser, the help text and the run dispatch can never
 * disagree about which passes exist or what options they take.
 */
#include <inttypes.h>
#include <string.h>

#include "passes/pass.h"

static const lathe_pass_info_t pass_table[] = {
#define PASS(ident, name, summary, options, run) {name, summary, options, run},
#include "passes/passes.def"
#undef PASS
};

uint32_t lathe_pass_count(void) { return (uint32_t)(sizeof pass_table / sizeof pass_table[0]); }

const lathe_pass_info_t *lathe_pass_at(uint32_t i) {
  return i < lathe_pass_count() ? &pass_table[i] : NULL;
}

const lathe_pass_info_t *lathe_pass_lookup(const lathe_pass_info_t *passes, uint32_t num_passes,
                                           const char *name, size_t len) {
  for (uint32_t i = 0; i < num_passes; ++i)
    if (strlen(passes[i].name) == len && memcmp(passes[i].name, name, len) == 0) return &passes[i];
  return NULL;
}

uint32_t lathe_pass_num_options(const lathe_pass_info_t *pass) {
  uint32_t n = 0;
  while (pass->options && pass->options[n].name) ++n;
  return n;
}

static const char *const kind_names[] = {"int", "float", "bool", "string"};

static void print_default(FILE *out, const lathe_pass_option_schema_t *o) {
  switch (o->kind) {
  case LATHE_PASS_OPT_INT: fprintf(out, "%" PRId64, o->default_int); break;
  case LATHE_PASS_OPT_FLOAT: fprintf(out, "%g", o->default_float); break;
  case LATHE_PASS_OPT_BOOL: fputs(o->default_int ? "true" : "false", out); break;
  case LATHE_PASS_OPT_STRING:
    fprintf(out, "\"%s\"", o->default_string ? o->default_string : "");
    break;
  }
}

void lathe_pass_print_help(FILE *out) {
  fputs("passes (use as --passes=NAME or NAME{option=value,...}):\n", out);
  for (uint32_t i = 0; i < lathe_pass_count(); ++i) {
    const lathe_pass_info_t *p = &pass_table[i];
    fprintf(out, "  %-18s %s\n", p->name, p->summary);
    for (uint32_t j = 0; j < lathe_pass_num_options(p); ++j) {
      const lathe_pass_option_schema_t *o = &p->options[j];
      fprintf(out, "      %s: %s = ", o->name, kind_names[o->kind]);
      print_default(out, o);
      fprintf(out, "  %s\n", o->help ? o->help : "");
    }
  }
}

/* ---- options as seen by a pass ---- */

static const lathe_pass_option_value_t *find_option(const lathe_pass_ctx_t *ctx, const char *name,
                                                    lathe_pass_option_kind_t kind) {
  const lathe_pass_option_schema_t *s = ctx->pass->options;
  for (uint32_t i = 0; s && s[i].name; ++i)
    if (strcmp(s[i].name, name) == 0) return s[i].kind == kind ? &ctx->options[i] : NULL;
  return NULL;
}

int64_t lathe_pass_option_int(const lathe_pass_ctx_t *ctx, const char *name) {
  const lathe_pass_option_value_t *v = find_option(ctx, name, LATHE_PASS_OPT_INT);
  return v ? v->u.i : 0;
}

double lathe_pass_option_float(const lathe_pass_ctx_t *ctx, const char *name) {
  const lathe_pass_option_value_t *v = find_option(ctx, name, LATHE_PASS_OPT_FLOAT);
  return v ? v->u.f : 0.0;
}

bool lathe_pass_option_bool(const lathe_pass_ctx_t *ctx, const char *name) {
  const lathe_pass_option_value_t *v = find_option(ctx, name, LATHE_PASS_OPT_BOOL);
  return v ? v->u.b : false;
}

const char *lathe_pass_option_string(const lathe_pass_ctx_t *ctx, const char *name) {
  const lathe_pass_option_value_t *v = find_option(ctx, name, LATHE_PASS_OPT_STRING);
  return v && v->u.s ? v->u.s : "";
}

lathe_status_t lathe_pass_calibrate(lathe_pass_ctx_t *ctx, lathe_graph_t *graph,
                                    uint32_t num_values, const lathe_value_t *const *values,
                                    lathe_activation_t *out_activations) {
  if (!ctx->calibrator)
    return lathe_status_make(LATHE_STATUS_UNSUPPORTED,
                             "pass '%s' needs calibration data (none was given)",
                             ctx->pass->name);
  return ctx->calibrator->run(ctx->calibrator->ctx, graph, num_values, values, out_activations);
}
