/* Placeholder: the fold_constants pass is being written; for now it changes nothing. */
#include "passes/pass.h"

lathe_status_t lathe_pass_fold_constants_run(lathe_pass_ctx_t *ctx, lathe_graph_t *graph) {
  (void)ctx, (void)graph;
  return NULL;
}
