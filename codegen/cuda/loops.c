/* LOOPS kernels: the GPU schedule, the mapping of the loop nest onto the
 * grid, and the launch entry.
 *
 * The CUDA schedule of every statement is its natural iterator order with no
 * tiles, vector or parallel marks: the GPU's parallelism comes from
 * flattening loops onto threads (ast.c), which wants the plain nest, with
 * the shared iterators outermost as isl fuses them. The mapping (see
 * docs/codegen-cuda.md):
 *
 *   shared iterators, more work per point      row mode over the shared loops
 *   shared iterators, nothing else per point   thread mode over them
 *   one statement, no reduction                thread mode over every loop
 *   one reduction over <= 16 points            thread mode, a serial loop each
 *   one reduction over more points             row mode, a block per output
 *   several statements, nothing shared         single-block mode
 *
 * Threads per block in row mode: the smallest power of two from 32 to 256 that
 * covers the largest nest a row runs (params count as large). Grid sizes only
 * matter for speed: every loop the grid shares is a grid- or block-stride loop.
 */
#include "codegen/cuda/internal.h"

/* Grid blocks beyond this are folded into the stride loops. */
#define GRID_CAP (1 << 20)
/* Reductions over at most this many points run serially in one thread. */
#define SERIAL_REDUCE_MAX 16
/* Stand-in for a param extent when sizing blocks. */
#define LARGE (INT64_C(1) << 30)

lathe_cuda_work_t cu_work(const lathe_kdim_t *dims, uint32_t n) {
  lathe_cuda_work_t w = {.factor = 1};
  for (uint32_t i = 0; i < n; ++i) {
    if (!lathe_kdim_is_static(dims[i])) {
      if (w.num_params < LATHE_CUDA_MAX_WORK_PARAMS) w.params[w.num_params++] = dims[i].param;
      continue;
    }
    int64_t s = dims[i].size;
    w.factor = (s != 0 && w.factor > INT64_MAX / s) ? INT64_MAX : w.factor * s;
  }
  return w;
}

lathe_cuda_grid_dim_t cu_grid_dim(lathe_cuda_work_t work, int64_t per_block, int64_t cap) {
  return (lathe_cuda_grid_dim_t){.work = work, .per_block = per_block, .cap = cap};
}

/* Static product of extents[from, to), params counting as LARGE. */
static int64_t static_work(const lathe_kstmt_t *s, uint32_t from, uint32_t to) {
  int64_t w = 1;
  for (uint32_t i = from; i < to; ++i) {
    int64_t e = lathe_kdim_is_static(s->extents[i]) ? s->extents[i].size : LARGE;
    w = (e != 0 && w > LARGE / e) ? LARGE : w * e;
  }
  return w;
}

static uint32_t block_for(int64_t work) {
  uint32_t t = 32;
  while (t < CU_MAX_THREADS && t < work) t *= 2;
  return t;
}

static void plain_schedules(const lathe_kernel_t *k, lathe_kschedule_t *out) {
  for (uint32_t s = 0; s < k->num_stmts; ++s) {
    lathe_kschedule_t sc = {.parallel = -1, .vector = -1};
    for (uint32_t i = 0; i < k->stmts[s]->num_iters; ++i) sc.order[i] = (uint8_t)i;
    out[s] = sc;
  }
}

void cu_loops_kernel(gen_t *g, const lathe_kernel_t *k, lathe_cuda_launch_t *launch) {
  lathe_cuda_grid_dim_t single = cu_grid_dim(cu_work(NULL, 0), 1, 1);
  launch->block[0] = 32, launch->block[1] = launch->block[2] = 1;
  launch->grid[0] = launch->grid[1] = launch->grid[2] = single;
  if (k->num_stmts == 0) return;

  cu_map_t map;
  uint32_t depth, threads = CU_MAX_THREADS;
  const lathe_kstmt_t *s0 = k->stmts[0];
  lathe_cuda_work_t rows = cu_work(NULL, 0);
  if (k->num_shared > 0) {
    int64_t per_row = 1;
    for (uint32_t s = 0; s < k->num_stmts; ++s) {
      int64_t w = static_work(k->stmts[s], k->num_shared, k->stmts[s]->num_iters);
      per_row = w > per_row ? w : per_row;
    }
    depth = k->num_shared;
    rows = cu_work(s0->extents, depth);
    map = per_row <= 1 ? CU_MAP_THREAD : CU_MAP_ROW;
    if (map == CU_MAP_ROW) threads = block_for(per_row);
  } else if (k->num_stmts == 1) {
    depth = s0->num_iters - s0->num_reduce;
    rows = cu_work(s0->extents, depth);
    int64_t red = static_work(s0, depth, s0->num_iters);
    map = s0->num_reduce == 0 || red <= SERIAL_REDUCE_MAX ? CU_MAP_THREAD : CU_MAP_ROW;
    if (map == CU_MAP_ROW) threads = block_for(red);
  } else {
    map = CU_MAP_SINGLE, depth = 0;
  }
  launch->block[0] = threads;
  if (map == CU_MAP_THREAD) launch->grid[0] = cu_grid_dim(rows, threads, GRID_CAP);
  else if (map == CU_MAP_ROW) launch->grid[0] = cu_grid_dim(rows, 1, GRID_CAP);

  lathe_kschedule_t *sched = LATHE_ARENA_NEW_ARRAY(&g->arena, lathe_kschedule_t, k->num_stmts);
  plain_schedules(k, sched);
  /* One statement: its non-reduction iterators are trivially shared, and
   * saying so puts the reduction's init and updates under one outer nest
   * (isl would otherwise give each its own), which the mapping flattens. */
  lathe_kernel_t one = *k;
  if (k->num_shared == 0 && k->num_stmts == 1) one.num_shared = depth;
  isl_ctx *ctx = isl_ctx_alloc();
  isl_ast_node *ast = NULL;
  lathe_status_t st = lathe_kernel_build_ast(g->p, &one, ctx, sched, &ast);
  if (st) {
    gen_fail(g, lathe_status_code(st), "%s", lathe_status_message(st));
    lathe_status_free(st);
  } else {
    cu_ast_kernel(g, ast, map, depth, threads);
  }
  isl_ast_node_free(ast);
  isl_ctx_free(ctx);
}
