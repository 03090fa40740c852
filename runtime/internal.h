/* Private to runtime/: the execution context's fields, shared by context.c
 * (which owns them) and program.c (which keeps its per-run workspace and the
 * cached buffer plan in them). Not part of the API; use runtime/runtime.h. */
#ifndef LATHE_RUNTIME_INTERNAL_H
#define LATHE_RUNTIME_INTERNAL_H

#include <stdatomic.h>

#include "runtime/runtime.h"

typedef struct {
  void *data;
  uint64_t bytes;
} rt_block_t;

struct lathe_rt_context {
  lathe_rt_pool_t *pool; /* borrowed; NULL = inline */
  lathe_rt_functions_t functions;
  /* Set while a parallel_for of this context runs, so nested calls from its
   * tasks (on any thread) run inline. */
  atomic_int in_parallel;
  rt_block_t *scratch; /* [num_threads], one per pool thread index */
  int32_t num_scratch;
  rt_block_t arena; /* temporaries, LATHE_RT_ALIGNMENT aligned */

  /* Per-run workspace, grown to the largest program seen. */
  int64_t *params;
  void **pointers;
  uint64_t *offsets;
  lathe_rt_plan_item_t *items;
  int32_t params_cap, buffers_cap;

  /* The last plan: reused when the next run's items are identical. */
  lathe_rt_plan_item_t *plan_items;
  uint64_t *plan_offsets;
  int32_t plan_count; /* -1 = no plan cached */
  uint64_t plan_peak;
};

/* Makes room for a program's workspace arrays. */
lathe_status_t lathe_rt_context_reserve(lathe_rt_context_t *ctx, int32_t num_params,
                                        int32_t num_buffers);

/* Checks the postfix program of derived param `index` (params.c). */
lathe_status_t lathe_rt_param_check(const lathe_rt_program_t *program, int32_t index);
/* Computes every derived param, in order, from the ones already bound; fails
 * when one is negative. */
lathe_status_t lathe_rt_param_derive(const lathe_rt_program_t *program, int64_t *params);

#endif
