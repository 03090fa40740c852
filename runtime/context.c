/* Execution contexts: what one calling thread needs to run programs.
 *
 * A context owns the temporaries arena (sized by the buffer plan's peak and
 * grown when a larger shape binding needs more), per-thread scratch slots
 * for kernels (indexed by the pool's thread index, so no two threads share a
 * slot), the function table generated code calls, and the executor's
 * workspace. Nothing in it is shared with other contexts, which is what lets
 * one compiled program run from several threads at once.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"

static uint64_t round_up(uint64_t n) {
  uint64_t a = LATHE_RT_ALIGNMENT;
  return n > UINT64_MAX - (a - 1) ? 0 : (n + a - 1) / a * a;
}

/* Makes `block` hold at least `bytes` aligned bytes; old contents are lost. */
static bool grow_block(rt_block_t *block, uint64_t bytes) {
  if (block->data && block->bytes >= bytes) return true;
  uint64_t size = round_up(bytes ? bytes : 1);
  if (size == 0 || size > SIZE_MAX) return false;
  void *data = aligned_alloc(LATHE_RT_ALIGNMENT, (size_t)size);
  if (!data) return false;
  free(block->data);
  block->data = data;
  block->bytes = size;
  return true;
}

static void ctx_parallel_for(void *handle, int64_t begin, int64_t end, int64_t grain,
                             lathe_rt_task_fn fn, void *closure) {
  lathe_rt_context_t *ctx = handle;
  if (end <= begin) return;
  if (atomic_load_explicit(&ctx->in_parallel, memory_order_relaxed)) {
    fn(closure, begin, end);
    return;
  }
  atomic_store_explicit(&ctx->in_parallel, 1, memory_order_relaxed);
  lathe_rt_pool_parallel_for(ctx->pool, begin, end, grain, fn, closure);
  atomic_store_explicit(&ctx->in_parallel, 0, memory_order_relaxed);
}

static void *ctx_scratch(void *handle, uint64_t bytes) {
  lathe_rt_context_t *ctx = handle;
  int32_t slot = lathe_rt_pool_thread_index(ctx->pool);
  if (slot < 0 || slot >= ctx->num_scratch) return NULL;
  rt_block_t *block = &ctx->scratch[slot];
  return grow_block(block, bytes) ? block->data : NULL;
}

static const void *ctx_derived(void *handle, int32_t slot, const void *source, uint64_t bytes,
                               lathe_rt_fill_fn fill, void *closure) {
  lathe_rt_context_t *ctx = handle;
  return lathe_rt_derived_get(ctx->run_derived, ctx->run_program, slot, source, bytes, fill,
                              closure);
}

lathe_status_t lathe_rt_context_create(lathe_rt_pool_t *pool, lathe_rt_context_t **out_ctx) {
  lathe_rt_context_t *ctx = calloc(1, sizeof *ctx);
  int32_t threads = lathe_rt_pool_num_threads(pool);
  if (ctx) ctx->scratch = calloc((size_t)threads, sizeof *ctx->scratch);
  if (!ctx || !ctx->scratch) {
    free(ctx);
    return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory creating a context");
  }
  ctx->pool = pool;
  ctx->num_scratch = threads;
  ctx->functions = (lathe_rt_functions_t){
      .abi_version = LATHE_RT_ABI_VERSION,
      .num_threads = threads,
      .parallel_for = ctx_parallel_for,
      .scratch = ctx_scratch,
      .derived = ctx_derived,
  };
  atomic_init(&ctx->in_parallel, 0);
  ctx->plan_count = -1;
  *out_ctx = ctx;
  return NULL;
}

void lathe_rt_context_destroy(lathe_rt_context_t *ctx) {
  if (!ctx) return;
  for (int32_t i = 0; i < ctx->num_scratch; ++i) free(ctx->scratch[i].data);
  free(ctx->scratch);
  free(ctx->arena.data);
  free(ctx->params);
  free(ctx->pointers);
  free(ctx->offsets);
  free(ctx->items);
  free(ctx->plan_items);
  free(ctx->plan_offsets);
  free(ctx);
}

const lathe_rt_functions_t *lathe_rt_context_functions(const lathe_rt_context_t *ctx) {
  return &ctx->functions;
}

void *lathe_rt_context_handle(lathe_rt_context_t *ctx) { return ctx; }

void lathe_rt_parallel_for(lathe_rt_context_t *ctx, int64_t begin, int64_t end, int64_t grain,
                           lathe_rt_task_fn fn, void *closure) {
  ctx_parallel_for(ctx, begin, end, grain, fn, closure);
}

lathe_status_t lathe_rt_context_arena(lathe_rt_context_t *ctx, uint64_t bytes, void **out_base) {
  if (bytes == 0) {
    *out_base = ctx->arena.data;
    return NULL;
  }
  if (!grow_block(&ctx->arena, bytes))
    return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED,
                             "cannot allocate %llu bytes for temporaries",
                             (unsigned long long)bytes);
  *out_base = ctx->arena.data;
  return NULL;
}

uint64_t lathe_rt_context_arena_bytes(const lathe_rt_context_t *ctx) { return ctx->arena.bytes; }

/* A fresh zeroed array replacing `old` (freed only on success). */
static void *regrow(void *old, size_t count, size_t elem) {
  void *p = calloc(count ? count : 1, elem);
  if (p) free(old);
  return p;
}

lathe_status_t lathe_rt_context_reserve(lathe_rt_context_t *ctx, int32_t num_params,
                                        int32_t num_buffers) {
  if (num_params > ctx->params_cap) {
    int64_t *params = regrow(ctx->params, (size_t)num_params, sizeof *params);
    if (!params) goto oom;
    ctx->params = params;
    ctx->params_cap = num_params;
  }
  if (num_buffers > ctx->buffers_cap) {
    size_t n = (size_t)num_buffers;
    void **pointers = regrow(ctx->pointers, n, sizeof *pointers);
    if (!pointers) goto oom;
    ctx->pointers = pointers;
    uint64_t *offsets = regrow(ctx->offsets, n, sizeof *offsets);
    if (!offsets) goto oom;
    ctx->offsets = offsets;
    lathe_rt_plan_item_t *items = regrow(ctx->items, n, sizeof *items);
    if (!items) goto oom;
    ctx->items = items;
    ctx->buffers_cap = num_buffers;
  }
  return NULL;
oom:
  return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED,
                           "out of memory for a program of %d buffers", (int)num_buffers);
}
