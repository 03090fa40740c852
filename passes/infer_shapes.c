/* Placeholder: the infer_shapes pass is being written; for now it changes nothing. */
#include "passes/pass.h"

lathe_status_t lathe_pass_infer_shapes_run(lathe_pass_ctx_t *ctx, lathe_graph_t *graph) {
  (void)ctx, (void)graph;
  return NULL;
}
