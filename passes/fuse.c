/* fuse: choose which ops run together as one kernel.
 *
 * What: groups ops and records each op's group in the graph's fusion side
 * table (graph->fusion, ir/ir.h), which the lowering (kernel/lower.c) reads:
 * the ops of a group become one kernel, and values that never leave a group
 * are never written to memory. The graph itself is not changed, so the IR text
 * stays the same; `lathe-opt --passes=fuse --lower` shows the decisions as
 * kernels named after the ops they fuse (k0_matmul_add_relu).
 *
 * Why: a kernel per op writes and re-reads every intermediate tensor; most
 * time in small and memory-bound models goes there. The rules follow the
 * usual producer/consumer fusion of XLA and TVM (elementwise chains,
 * epilogues of heavy ops, reductions with their elementwise neighbours):
 *   - a heavy op (matmul, gemm, einsum) starts a GEMM group; elementwise consumers of
 *     its result with the same shape extend it as a chain (bias, activation,
 *     residual add, scale), which the GEMM kernel applies while storing;
 *   - every other kernel op (elementwise, data movement, reductions, norms,
 *     softmax, conv, pooling, attention) joins the group of an operand when
 *     that operand is used only by this op and its group is not a GEMM group,
 *     so elementwise producers inline into reductions and norms, and
 *     elementwise consumers follow convolutions and reductions;
 *   - views (reshape, flatten, squeeze, unsqueeze, identity, dropout), consts
 *     and `return` never join: they are not kernels.
 * Only single-use edges are fused, so no value is both computed in a group and
 * needed elsewhere; a join that would let an op between the group's ops read
 * a group value is refused (the group runs as one kernel at its last op).
 *
 * Preconditions: a verified graph. Postconditions: graph->fusion holds a
 * group per op (0 = alone); the IR is unchanged. Running it again recomputes
 * the groups. Options: none.
 */
#include <stdlib.h>

#include "passes/pass.h"

static bool is_view(lathe_op_kind_t k) {
  return k == LATHE_OP_RESHAPE || k == LATHE_OP_FLATTEN || k == LATHE_OP_SQUEEZE ||
         k == LATHE_OP_UNSQUEEZE || k == LATHE_OP_IDENTITY || k == LATHE_OP_DROPOUT;
}

static bool is_kernel_op(const lathe_op_t *op) {
  return op->kind != LATHE_OP_CONST && op->kind != LATHE_OP_RETURN && !is_view(op->kind);
}

static bool is_heavy(const lathe_op_t *op) {
  return op->kind == LATHE_OP_MATMUL || op->kind == LATHE_OP_GEMM || op->kind == LATHE_OP_EINSUM;
}

static bool is_elementwise(const lathe_op_t *op) {
  return (lathe_op_info(op->kind)->flags & LATHE_OPF_ELEMENTWISE) && op->num_results == 1;
}

static bool same_shape(const lathe_type_t *a, const lathe_type_t *b) {
  if (a->rank != b->rank) return false;
  for (uint32_t d = 0; d < a->rank; ++d)
    if (!lathe_dim_equal(a->dims[d], b->dims[d]) || lathe_dim_is_unknown(a->dims[d])) return false;
  return true;
}

typedef struct {
  uint32_t *group;          /* by op id: group number, 0 = none yet */
  const lathe_op_t **heavy; /* by group: its heavy op, or NULL for a LOOPS group */
  const lathe_op_t **tail;  /* by group: the last op joined */
  const lathe_op_t **first; /* by group: its first op */
  uint32_t num_groups;
} groups_t;

/* Would `op` joining group g leave an op between g's first op and `op` that
 * reads a value of g? */
static bool breaks_convexity(const groups_t *gs, uint32_t g, const lathe_op_t *op) {
  for (const lathe_op_t *x = gs->first[g]->next; x && x != op; x = x->next) {
    if (gs->group[x->id] == g) continue;
    for (uint32_t i = 0; i < x->num_operands; ++i) {
      const lathe_value_t *v = x->operands[i].value;
      if (v && v->def && gs->group[v->def->id] == g) return true;
    }
  }
  return false;
}

/* The group `op` may join through operand i, or 0. */
static uint32_t joinable(const groups_t *gs, const lathe_op_t *op, uint32_t i) {
  const lathe_value_t *v = op->operands[i].value;
  if (!v || !v->def || lathe_value_num_uses(v) != 1) return 0;
  uint32_t g = gs->group[v->def->id];
  if (!g || breaks_convexity(gs, g, op)) return 0;
  const lathe_op_t *h = gs->heavy[g];
  if (!h) return is_heavy(op) ? 0 : g;
  /* A GEMM epilogue: a same-shape elementwise chain from the product. */
  if (!is_elementwise(op) || gs->tail[g] != v->def) return 0;
  return same_shape(&op->results[0].type, &h->results[0].type) ? g : 0;
}

static void free_groups(groups_t *gs, uint32_t *size) {
  free(gs->group);
  free(gs->heavy);
  free(gs->tail);
  free(gs->first);
  free(size);
}

lathe_status_t lathe_pass_fuse_run(lathe_pass_ctx_t *ctx, lathe_graph_t *graph) {
  uint32_t n = graph->next_op_id + 1;
  groups_t gs = {0};
  gs.group = calloc(n, sizeof *gs.group);
  gs.heavy = calloc(n + 1, sizeof *gs.heavy);
  gs.tail = calloc(n + 1, sizeof *gs.tail);
  gs.first = calloc(n + 1, sizeof *gs.first);
  uint32_t *size = calloc(n + 1, sizeof *size);
  if (!gs.group || !gs.heavy || !gs.tail || !gs.first || !size) {
    free_groups(&gs, size);
    return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "fuse: out of memory");
  }
  LATHE_GRAPH_FOR_EACH_OP(graph, op) {
    if (!is_kernel_op(op)) continue;
    uint32_t g = 0;
    for (uint32_t i = 0; i < op->num_operands && !g && !is_heavy(op); ++i) g = joinable(&gs, op, i);
    if (!g) {
      g = ++gs.num_groups;
      gs.heavy[g] = is_heavy(op) ? op : NULL;
      gs.first[g] = op;
    }
    gs.group[op->id] = g;
    gs.tail[g] = op;
    size[g]++;
  }
  /* Groups of one stay ungrouped; the rest are numbered 1, 2, ... in order. */
  uint32_t *number = calloc(gs.num_groups + 1, sizeof *number), next = 0;
  uint32_t *fusion = lathe_arena_alloc_array(lathe_module_arena(graph->module), n, sizeof *fusion);
  for (uint32_t g = 1; number && g <= gs.num_groups; ++g)
    if (size[g] > 1) number[g] = ++next;
  for (uint32_t i = 0; number && i < n; ++i) fusion[i] = number[gs.group[i]];
  graph->fusion = fusion;
  graph->fusion_size = n;
  if (next) lathe_pass_mark_changed(ctx);
  free(number);
  free_groups(&gs, size);
  return NULL;
}
