/* What a pass implements and what it is handed: internal to passes/.
 *
 * A pass is one entry in passes/passes.def: a name, a one-line summary, an
 * option schema and a run function. The manager calls the run function once
 * per graph with a lathe_pass_ctx_t holding the module, the parsed options and
 * a flag the pass raises when it changed the IR. Options are read by name with
 * the typed getters below; every option always has a value (the schema
 * default when the pipeline string did not set it).
 *
 * Ownership: the context and everything it points to are borrowed for the
 * duration of one run call.
 */
#ifndef LATHE_PASSES_PASS_H
#define LATHE_PASSES_PASS_H

#include <stdbool.h>
#include <stdint.h>

#include "passes/passes.h"

typedef enum {
  LATHE_PASS_OPT_INT,
  LATHE_PASS_OPT_FLOAT,
  LATHE_PASS_OPT_BOOL,
  LATHE_PASS_OPT_STRING,
} lathe_pass_option_kind_t;

/* One option of a pass: name as written in `pass{name=value}`, its type, its
 * default and a line for --help. */
typedef struct lathe_pass_option_schema {
  const char *name;
  lathe_pass_option_kind_t kind;
  int64_t default_int; /* INT and BOOL */
  double default_float;
  const char *default_string;
  const char *help;
} lathe_pass_option_schema_t;

typedef struct lathe_pass_option_value {
  lathe_pass_option_kind_t kind;
  union {
    int64_t i;
    double f;
    bool b;
    const char *s; /* owned by the pipeline */
  } u;
} lathe_pass_option_value_t;

typedef struct lathe_pass_info lathe_pass_info_t;

typedef struct lathe_pass_ctx {
  lathe_module_t *module;
  const lathe_pass_info_t *pass;
  const lathe_pass_option_value_t *options; /* one per schema entry, schema order */
  bool changed; /* set by the pass (lathe_pass_mark_changed) when it rewrote anything */
  /* Calibration provider from the pipeline config, or NULL (no calibration
   * data was given). */
  const lathe_calibrator_t *calibrator;
} lathe_pass_ctx_t;

typedef lathe_status_t (*lathe_pass_run_fn_t)(lathe_pass_ctx_t *ctx, lathe_graph_t *graph);

struct lathe_pass_info {
  const char *name;
  const char *summary;
  const lathe_pass_option_schema_t *options; /* terminated by an entry with name == NULL */
  lathe_pass_run_fn_t run;
};

/* The registered passes (from passes.def), in table order. */
uint32_t lathe_pass_count(void);
const lathe_pass_info_t *lathe_pass_at(uint32_t i);
/* The pass named `name` (`len` bytes, not NUL-terminated) among `passes`,
 * or NULL. */
const lathe_pass_info_t *lathe_pass_lookup(const lathe_pass_info_t *passes, uint32_t num_passes,
                                           const char *name, size_t len);
uint32_t lathe_pass_num_options(const lathe_pass_info_t *pass);

/* Typed option getters. Naming an option the pass does not declare, or with
 * the wrong getter, is a bug in the pass: it returns 0 / false / "". */
int64_t lathe_pass_option_int(const lathe_pass_ctx_t *ctx, const char *name);
double lathe_pass_option_float(const lathe_pass_ctx_t *ctx, const char *name);
bool lathe_pass_option_bool(const lathe_pass_ctx_t *ctx, const char *name);
const char *lathe_pass_option_string(const lathe_pass_ctx_t *ctx, const char *name);

static inline void lathe_pass_mark_changed(lathe_pass_ctx_t *ctx) { ctx->changed = true; }

/* Asks for the activations of `values` of `graph` on the calibration inputs
 * (see lathe_calibrator_t in passes.h): the graph as it stands is compiled
 * with the values as extra outputs and run on every sample. The data stays
 * valid until the pass returns from its run on this graph. UNSUPPORTED when
 * no calibration data was given. */
lathe_status_t lathe_pass_calibrate(lathe_pass_ctx_t *ctx, lathe_graph_t *graph,
                                    uint32_t num_values, const lathe_value_t *const *values,
                                    lathe_activation_t *out_activations);

/* A parsed pipeline (shared by pipeline.c, which parses it, and manager.c,
 * which runs it): pass instances in order, each with a full option array. */
typedef struct lathe_pipeline_entry {
  const lathe_pass_info_t *pass;
  lathe_pass_option_value_t *options; /* lathe_pass_num_options(pass) entries */
} lathe_pipeline_entry_t;

struct lathe_pipeline {
  const lathe_pass_info_t *registry; /* what names resolve against */
  uint32_t registry_size;
  lathe_arena_t arena; /* entries, option arrays and string values */
  uint32_t num_entries;
  lathe_pipeline_entry_t *entries;
};

/* lathe_pipeline_parse against another registry than passes.def (`passes`
 * must outlive the pipeline); lets tests exercise every option type. */
lathe_status_t lathe_pipeline_parse_with(const lathe_pass_info_t *passes, uint32_t num_passes,
                                         const char *text, lathe_pipeline_t **out_pipeline);

/* Run functions named in passes.def. */
#define PASS(ident, name, summary, options, run) \
  lathe_status_t run(lathe_pass_ctx_t *ctx, lathe_graph_t *graph);
#include "passes/passes.def"
#undef PASS

#endif
