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

typedef struct lathe_rt_derived lathe_rt_derived_t;

struct lathe_rt_context {
  lathe_rt_pool_t *pool; /* borrowed; NULL = inline */
  lathe_rt_functions_t functions;
  /* Set while a parallel_for of this context runs, so nested calls from its
   * tasks (on any thread) run inline. */
  atomic_int in_parallel;
  rt_block_t *scratch; /* [num_threads], one per pool thread index */
  int32_t num_scratch;
  rt_block_t arena; /* temporaries, LATHE_RT_ALIGNMENT aligned */
  /* During lathe_rt_program_run: the program and its weights' derived
   * constants, for the function table's `derived`. */
  const lathe_rt_program_t *run_program;
  lathe_rt_derived_t *run_derived;

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

/* Derived constants (derived.c): blocks computed once from constants, known
 * by (program, slot, source), shared by every thread; see
 * lathe_rt_functions_t.derived. */
lathe_status_t lathe_rt_derived_create(lathe_rt_derived_t **out);
void lathe_rt_derived_destroy(lathe_rt_derived_t *derived);
/* The block, filled by fill(closure, block) on first use; NULL when out of
 * memory, when d is NULL, or when the block exists with another size. */
const void *lathe_rt_derived_get(lathe_rt_derived_t *derived, const void *program, int32_t slot,
                                 const void *source, uint64_t bytes, lathe_rt_fill_fn fill,
                                 void *closure);
uint64_t lathe_rt_derived_bytes(lathe_rt_derived_t *derived);
/* The weights table's store (weights.c). */
lathe_rt_derived_t *lathe_rt_weights_derived(const lathe_rt_weights_t *weights);

/* Makes room for a program's workspace arrays. */
lathe_status_t lathe_rt_context_reserve(lathe_rt_context_t *ctx, int32_t num_params,
                                        int32_t num_buffers);

/* Checks the postfix program of derived param `index` (params.c). */
lathe_status_t lathe_rt_param_check(const lathe_rt_program_t *program, int32_t index);
/* Computes every derived param, in order, from the ones already bound; fails
 * when one is negative. */
lathe_status_t lathe_rt_param_derive(const lathe_rt_program_t *program, int64_t *params);

#endif
