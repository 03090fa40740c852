/* The pass manager: the API of passes/.
 *
 * Passes are registered by name in one table (passes/passes.def) with typed
 * options and a one-line summary. A pipeline is a string:
 *     canonicalize,cse,dce,slice{fraction=0.25},quant-fuse{bits=4,group=128}
 * parsed once, then run over every graph of a module. After each pass the
 * module is verified (unless disabled); IR can be printed after chosen passes
 * and each pass timed.
 *
 * Ownership: lathe_pipeline_parse gives the caller a pipeline to destroy;
 * running borrows the module and mutates it in place.
 */
#ifndef LATHE_PASSES_PASSES_H
#define LATHE_PASSES_PASSES_H

#include <stdio.h>

#include "ir/ir.h"

typedef struct lathe_pipeline lathe_pipeline_t;

/* The activations of one value over every calibration sample: num_samples
 * row-major tensors of `type` (static), back to back. */
typedef struct lathe_activation {
  const lathe_value_t *value; /* the observed value */
  lathe_type_t type;          /* static type of one sample's tensor */
  uint32_t num_samples;
  const void *data;           /* type.dtype elements; owned by the calibrator */
} lathe_activation_t;

/* Calibration, for compression passes that need activations: a provider the
 * caller of lathe_pipeline_run installs (the driver compiles and runs the
 * graph; passes/ never depends on a backend). `run` compiles `graph` as it
 * stands with `values` as extra outputs, runs it on each calibration sample
 * and fills out_activations[num_values]; their data stays valid until
 * `release`, which the manager calls after each pass has run on a graph. */
typedef struct lathe_calibrator {
  void *ctx;
  lathe_status_t (*run)(void *ctx, lathe_graph_t *graph, uint32_t num_values,
                        const lathe_value_t *const *values, lathe_activation_t *out_activations);
  void (*release)(void *ctx);
} lathe_calibrator_t;

typedef struct lathe_pipeline_config {
  const char *print_ir_after; /* comma-separated pass names, or NULL */
  int print_ir_after_all;
  int time_passes;   /* print a timing table after the run */
  int skip_verify;   /* don't verify after each pass */
  FILE *dump_stream; /* IR dumps and timings; stderr when NULL */
  /* Calibration provider (borrowed), or NULL: passes that ask fail with
   * UNSUPPORTED. */
  const lathe_calibrator_t *calibrator;
} lathe_pipeline_config_t;

/* Parses a pipeline string. Unknown pass names, unknown options and badly
 * typed option values are errors naming the pass and option. An empty string
 * is an empty pipeline. */
lathe_status_t lathe_pipeline_parse(const char *text, lathe_pipeline_t **out_pipeline);
/* Runs every pass on every graph, in order. `config` may be NULL. */
lathe_status_t lathe_pipeline_run(const lathe_pipeline_t *pipeline, lathe_module_t *module,
                                  const lathe_pipeline_config_t *config);
void lathe_pipeline_destroy(lathe_pipeline_t *pipeline);

/* The parsed pipeline, for tools and tests: the pass count, each pass's name,
 * and the canonical text with every option spelled out in schema order
 * (`fold-constants{max-elements=65536},cse`). */
uint32_t lathe_pipeline_num_passes(const lathe_pipeline_t *pipeline);
const char *lathe_pipeline_pass_name(const lathe_pipeline_t *pipeline, uint32_t i);
void lathe_pipeline_print(lathe_strbuf_t *sb, const lathe_pipeline_t *pipeline);

/* The evaluator behind fold-constants, for other libraries (the ONNX importer
 * folds shape computations through it, see docs/onnx.md): when `op` has one
 * static result and its operands are `const` ops (for shape and size: any
 * operands with static types), *out_weight is a new INLINE weight of the
 * module holding the result; otherwise NULL (not an error: the op is left
 * as it is). The graph is not changed. */
lathe_status_t lathe_fold_evaluate(const lathe_op_t *op, lathe_weight_t **out_weight);

/* Lists registered passes, their summaries and options (for --help). */
void lathe_pass_print_help(FILE *out);

#endif
