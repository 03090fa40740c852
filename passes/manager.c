/* The pass manager: runs a parsed pipeline over a module.
 *
 * For each pass instance, in order: run it on every graph, then (unless
 * disabled) verify the whole module, so a broken invariant is reported right
 * after the pass that broke it ("after pass 'cse': <verifier message>"), not
 * three passes later. IR dumps use the same text the parser reads, so a dump
 * can be cut out and fed back to lathe-opt. Timing is wall-clock per pass
 * instance, with verification reported as its own row so it never inflates a
 * pass's number.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ir/text.h"
#include "ir/verify.h"
#include "passes/pass.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Is `name` in the comma-separated `list`? */
static bool list_has(const char *list, const char *name) {
  size_t n = strlen(name);
  for (const char *p = list; p && *p;) {
    size_t len = strcspn(p, ",");
    if (len == n && memcmp(p, name, n) == 0) return true;
    p += len + (p[len] == ',');
  }
  return false;
}

/* Every name in --print-ir-after must be a registered pass: a typo there
 * would otherwise silently print nothing. */
static lathe_status_t check_print_list(const lathe_pipeline_t *pl, const char *list) {
  for (const char *p = list; p && *p;) {
    size_t len = strcspn(p, ",");
    if (len && !lathe_pass_lookup(pl->registry, pl->registry_size, p, len))
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                               "--print-ir-after: unknown pass '%.*s' (see --list-passes)",
                               (int)len, p);
    p += len + (p[len] == ',');
  }
  return NULL;
}

static void dump_ir(FILE *out, const char *pass_name, const lathe_module_t *module) {
  fprintf(out, "// -----// IR Dump After %s //----- //\n", pass_name);
  lathe_module_dump(out, module);
  fflush(out);
}

/* Activations a pass asked for live until it is done with the graph. */
static lathe_status_t run_one(const lathe_pipeline_entry_t *e, lathe_module_t *module,
                              const lathe_calibrator_t *calibrator) {
  lathe_pass_ctx_t ctx = {
      .module = module, .pass = e->pass, .options = e->options, .calibrator = calibrator};
  for (lathe_graph_t *g = lathe_module_first_graph(module); g; g = g->next) {
    lathe_status_t st = e->pass->run(&ctx, g);
    if (calibrator && calibrator->release) calibrator->release(calibrator->ctx);
    LATHE_RETURN_IF_ERROR_CTX(st, "pass '%s'", e->pass->name);
  }
  return NULL;
}

static void print_timing(FILE *out, const lathe_pipeline_t *pl, const double *ms,
                         double verify_ms) {
  double total = verify_ms;
  for (uint32_t i = 0; i < pl->num_entries; ++i) total += ms[i];
  double denom = total > 0 ? total : 1;
  fputs("// -----// Pass timing //----- //\n", out);
  fprintf(out, "%12s %8s  %s\n", "wall ms", "%", "pass");
  for (uint32_t i = 0; i < pl->num_entries; ++i)
    fprintf(out, "%12.3f %7.1f%%  %s\n", ms[i], 100.0 * ms[i] / denom, pl->entries[i].pass->name);
  fprintf(out, "%12.3f %7.1f%%  %s\n", verify_ms, 100.0 * verify_ms / denom, "(verify)");
  fprintf(out, "%12.3f %7.1f%%  %s\n", total, total > 0 ? 100.0 : 0.0, "total");
  fflush(out);
}

lathe_status_t lathe_pipeline_run(const lathe_pipeline_t *pl, lathe_module_t *module,
                                  const lathe_pipeline_config_t *config) {
  lathe_pipeline_config_t none = {0};
  if (!config) config = &none;
  FILE *dump = config->dump_stream ? config->dump_stream : stderr;
  LATHE_RETURN_IF_ERROR(check_print_list(pl, config->print_ir_after));

  double *ms = calloc(pl->num_entries ? pl->num_entries : 1, sizeof *ms);
  if (!ms) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  double verify_ms = 0;
  lathe_status_t st = NULL;
  for (uint32_t i = 0; i < pl->num_entries && !st; ++i) {
    const lathe_pipeline_entry_t *e = &pl->entries[i];
    double t0 = now_ms();
    st = run_one(e, module, config->calibrator);
    ms[i] = now_ms() - t0;
    if (st) break;
    if (!config->skip_verify) {
      t0 = now_ms();
      st = lathe_status_annotate(lathe_module_verify(module), "after pass '%s'", e->pass->name);
      verify_ms += now_ms() - t0;
      if (st) break;
    }
    if (config->print_ir_after_all || list_has(config->print_ir_after, e->pass->name))
      dump_ir(dump, e->pass->name, module);
  }
  if (config->time_passes) print_timing(dump, pl, ms, verify_ms);
  free(ms);
  return st;
}
