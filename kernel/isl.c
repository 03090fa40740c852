/* From statements and schedules to isl: iteration domains, the schedule tree
 * of a LOOPS kernel and its loop AST (the thing the interpreter and backends
 * walk). isl does the loop generation; this file only describes the loops.
 *
 * Each statement s becomes the isl statement S<s> over all its iterators; a
 * reduction also gets I<s> over its non-reduction iterators (the init of the
 * target). Schedule tree, top down:
 *   - a band over the kernel's shared iterators, when num_shared > 0
 *     (decorated with statement 0's tiles and parallel mark);
 *   - a sequence I0?, S0, I1?, S1, ... (statement order = dependence order);
 *   - under each, a band over the statement's remaining iterators in its
 *     schedule's order, tiled (isl_schedule_node_band_tile: tile loops, then
 *     point loops; size 1 stands for "not tiled"), with mark nodes "parallel"
 *     above the outermost loop and "vector" above the vectorized point loop.
 * Domains and partial schedules are written as isl text: params are C
 * identifiers (program.c makes them so), which keeps this file short and the
 * strings readable in a debugger. Ownership follows isl's __isl_give/__isl_take
 * annotations; every object made here is freed here or handed to the caller.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <isl/aff.h>
#include <isl/ast_build.h>
#include <isl/printer.h>
#include <isl/schedule.h>
#include <isl/schedule_node.h>
#include <isl/union_set.h>
#include <isl/val.h>

#include "kernel/internal.h"

void kstmt_tuple_name(char *buf, size_t size, uint32_t s, bool init) {
  snprintf(buf, size, "%c%u", init ? 'I' : 'S', s);
}

__isl_give isl_id *lathe_kprogram_param_id(const lathe_kprogram_t *p, isl_ctx *ctx, uint32_t k) {
  return isl_id_alloc(ctx, p->params[k]->name, NULL);
}

int32_t lathe_kprogram_param_of_id(const lathe_kprogram_t *p, __isl_keep isl_id *id) {
  const char *name = isl_id_get_name(id);
  for (uint32_t k = 0; name && k < p->num_params; ++k)
    if (strcmp(p->params[k]->name, name) == 0) return (int32_t)k;
  return -1;
}

/* "[N, P1] -> " or "" */
static void print_params(lathe_strbuf_t *sb, const lathe_kprogram_t *p) {
  if (!p->num_params) return;
  lathe_strbuf_putc(sb, '[');
  for (uint32_t k = 0; k < p->num_params; ++k)
    lathe_strbuf_printf(sb, "%s%s", k ? ", " : "", p->params[k]->name);
  lathe_strbuf_append(sb, "] -> ");
}

static void print_extent(lathe_strbuf_t *sb, const lathe_kprogram_t *p, lathe_kdim_t d) {
  if (lathe_kdim_is_static(d)) lathe_strbuf_printf(sb, "%lld", (long long)d.size);
  else lathe_strbuf_append(sb, p->params[d.param]->name);
}

/* "S3[i0, i1] : 0 <= i0 < N and 0 <= i1 < 128" over the first n iterators. */
static void print_tuple_set(lathe_strbuf_t *sb, const lathe_kprogram_t *p, const lathe_kstmt_t *s,
                            uint32_t si, bool init, uint32_t n) {
  char name[24];
  kstmt_tuple_name(name, sizeof name, si, init);
  lathe_strbuf_printf(sb, "%s[", name);
  for (uint32_t i = 0; i < n; ++i) lathe_strbuf_printf(sb, "%si%u", i ? ", " : "", i);
  lathe_strbuf_putc(sb, ']');
  for (uint32_t i = 0; i < n; ++i) {
    lathe_strbuf_printf(sb, "%s0 <= i%u < ", i ? " and " : " : ", i);
    print_extent(sb, p, s->extents[i]);
  }
}

static uint32_t num_outer(const lathe_kstmt_t *s) { return s->num_iters - s->num_reduce; }

__isl_give isl_set *lathe_kstmt_domain(const lathe_kprogram_t *p, const lathe_kernel_t *kernel,
                                       uint32_t s, isl_ctx *ctx) {
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  print_params(&sb, p);
  lathe_strbuf_append(&sb, "{ ");
  print_tuple_set(&sb, p, kernel->stmts[s], s, false, kernel->stmts[s]->num_iters);
  lathe_strbuf_append(&sb, " }");
  isl_set *set = isl_set_read_from_str(ctx, lathe_strbuf_cstr(&sb));
  lathe_strbuf_destroy(&sb);
  return set;
}

/* One isl statement of the kernel: S<s> or the init I<s>. */
typedef struct {
  uint32_t stmt;
  bool init;
} istmt_t;

static uint32_t istmt_iters(const lathe_kernel_t *k, istmt_t t) {
  const lathe_kstmt_t *s = k->stmts[t.stmt];
  return t.init ? num_outer(s) : s->num_iters;
}

/* "[params] -> { S0[i0, ...] ; I0[...] }" for the given isl statements. */
static __isl_give isl_union_set *domain_of(const lathe_kprogram_t *p, const lathe_kernel_t *k,
                                           isl_ctx *ctx, const istmt_t *ts, uint32_t n) {
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  print_params(&sb, p);
  lathe_strbuf_append(&sb, "{ ");
  for (uint32_t i = 0; i < n; ++i) {
    if (i) lathe_strbuf_append(&sb, "; ");
    print_tuple_set(&sb, p, k->stmts[ts[i].stmt], ts[i].stmt, ts[i].init, istmt_iters(k, ts[i]));
  }
  lathe_strbuf_append(&sb, " }");
  isl_union_set *set = isl_union_set_read_from_str(ctx, lathe_strbuf_cstr(&sb));
  lathe_strbuf_destroy(&sb);
  return set;
}

/* A band with one member per entry of `its`, mapping each isl statement in
 * `ts` to those iterators: "[params] -> [{ S0[i0, i1] -> [(i1)]; ... }, ...]". */
static __isl_give isl_multi_union_pw_aff *band_of(const lathe_kprogram_t *p,
                                                  const lathe_kernel_t *k, isl_ctx *ctx,
                                                  const istmt_t *ts, uint32_t n,
                                                  const uint32_t *its, uint32_t m) {
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  print_params(&sb, p);
  lathe_strbuf_putc(&sb, '[');
  for (uint32_t j = 0; j < m; ++j) {
    lathe_strbuf_append(&sb, j ? ", { " : "{ ");
    for (uint32_t i = 0; i < n; ++i) {
      char name[24];
      kstmt_tuple_name(name, sizeof name, ts[i].stmt, ts[i].init);
      lathe_strbuf_printf(&sb, "%s%s[", i ? "; " : "", name);
      for (uint32_t d = 0, nd = istmt_iters(k, ts[i]); d < nd; ++d)
        lathe_strbuf_printf(&sb, "%si%u", d ? ", " : "", d);
      lathe_strbuf_printf(&sb, "] -> [(i%u)]", its[j]);
    }
    lathe_strbuf_append(&sb, " }");
  }
  lathe_strbuf_putc(&sb, ']');
  isl_multi_union_pw_aff *mupa = isl_multi_union_pw_aff_read_from_str(ctx, lathe_strbuf_cstr(&sb));
  lathe_strbuf_destroy(&sb);
  return mupa;
}

static __isl_give isl_schedule_node *to_leaf(__isl_take isl_schedule_node *node) {
  while (node && isl_schedule_node_get_type(node) != isl_schedule_node_leaf)
    node = isl_schedule_node_child(node, 0);
  return node;
}

static __isl_give isl_schedule_node *up_to(__isl_take isl_schedule_node *node, isl_size depth) {
  isl_size now = isl_schedule_node_get_tree_depth(node);
  return now > depth ? isl_schedule_node_ancestor(node, now - depth) : node;
}

/* Inserts the band for iterators `its` of one statement's schedule at the
 * leaf `node`, tiles it and adds the marks; returns the node at the band's
 * top (for the caller to descend from). */
static __isl_give isl_schedule_node *add_band(__isl_take isl_schedule_node *node,
                                              __isl_take isl_multi_union_pw_aff *mupa,
                                              const lathe_kstmt_t *s, const lathe_kschedule_t *sc,
                                              const uint32_t *its, uint32_t m) {
  isl_ctx *ctx = isl_schedule_node_get_ctx(node);
  isl_size top = isl_schedule_node_get_tree_depth(node);
  node = isl_schedule_node_insert_partial_schedule(node, mupa);
  bool tiled = false;
  for (uint32_t j = 0; j < m; ++j) tiled |= sc->tile[its[j]] > 0;
  if (tiled) {
    isl_space *space = isl_schedule_node_band_get_space(node);
    isl_multi_val *sizes = isl_multi_val_zero(space);
    for (uint32_t j = 0; j < m; ++j) {
      uint32_t t = sc->tile[its[j]] ? sc->tile[its[j]] : 1;
      sizes = isl_multi_val_set_val(sizes, (int)j, isl_val_int_from_ui(ctx, t));
    }
    node = isl_schedule_node_band_tile(node, sizes);
  }
  /* Unroll: the point loop of a tiled iterator, the only loop of an untiled one. */
  for (uint32_t j = 0; j < m; ++j)
    if (sc->unroll[its[j]] && !sc->tile[its[j]])
      node = isl_schedule_node_band_member_set_ast_loop_type(node, (int)j, isl_ast_loop_unroll);
  if (tiled) {
    isl_size tile_depth = isl_schedule_node_get_tree_depth(node);
    node = isl_schedule_node_child(node, 0); /* the point band */
    for (uint32_t j = 0; j < m; ++j)
      if (sc->unroll[its[j]] && sc->tile[its[j]])
        node = isl_schedule_node_band_member_set_ast_loop_type(node, (int)j, isl_ast_loop_unroll);
    if (sc->vector >= 0 && its[m - 1] == (uint32_t)sc->vector) {
      if (m > 1) {
        node = isl_schedule_node_band_split(node, (int)m - 1);
        node = isl_schedule_node_child(node, 0);
      }
      isl_id *id = isl_id_alloc(ctx, "vector", (void *)(uintptr_t)sc->vector_width);
      node = isl_schedule_node_insert_mark(node, id);
    }
    node = up_to(node, tile_depth);
  }
  if (sc->parallel >= 0 && its[0] == (uint32_t)sc->parallel) {
    if (m > 1) node = isl_schedule_node_band_split(node, 1);
    node = isl_schedule_node_insert_mark(node, isl_id_alloc(ctx, "parallel", NULL));
  }
  (void)s;
  return up_to(node, top);
}

lathe_status_t lathe_kernel_build_ast(const lathe_kprogram_t *p, const lathe_kernel_t *k,
                                      isl_ctx *ctx, const lathe_kschedule_t *schedules,
                                      __isl_give isl_ast_node **out_ast) {
  if (k->kind != LATHE_KERNEL_LOOPS || k->num_stmts == 0)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                             "kernel '%s' has no loops to build an AST for", k->name);
  for (uint32_t s = 0; schedules && s < k->num_stmts; ++s) {
    lathe_status_t st = lathe_kschedule_check(k->stmts[s], &schedules[s]);
    if (st) return lathe_status_annotate(st, "kernel '%s' statement %u", k->name, s);
    for (uint32_t j = 0; j < k->num_shared; ++j)
      if (schedules[s].order[j] != j)
        return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                                 "kernel '%s': shared iterators must lead every schedule", k->name);
  }
#define SCHED(s) (schedules ? &schedules[s] : &k->stmts[s]->schedule)
  istmt_t *ts = calloc(2 * k->num_stmts, sizeof *ts);
  if (!ts) abort();
  uint32_t n = 0;
  for (uint32_t s = 0; s < k->num_stmts; ++s) {
    if (k->stmts[s]->combiner != LATHE_KCOMB_NONE) ts[n++] = (istmt_t){s, true};
    ts[n++] = (istmt_t){s, false};
  }
  isl_schedule *sched = isl_schedule_from_domain(domain_of(p, k, ctx, ts, n));
  isl_schedule_node *node = isl_schedule_node_child(isl_schedule_get_root(sched), 0);
  isl_schedule_free(sched);
  uint32_t shared[LATHE_KMAX_ITERS];
  for (uint32_t j = 0; j < k->num_shared; ++j) shared[j] = j;
  if (k->num_shared) {
    node = add_band(node, band_of(p, k, ctx, ts, n, shared, k->num_shared), k->stmts[0], SCHED(0),
                    shared, k->num_shared);
    node = to_leaf(node);
  }
  isl_size seq_depth = isl_schedule_node_get_tree_depth(node);
  if (n > 1) {
    isl_union_set_list *filters = isl_union_set_list_alloc(ctx, (int)n);
    for (uint32_t i = 0; i < n; ++i)
      filters = isl_union_set_list_add(filters, domain_of(p, k, ctx, &ts[i], 1));
    node = isl_schedule_node_insert_sequence(node, filters);
  }
  for (uint32_t i = 0; i < n; ++i) {
    const lathe_kstmt_t *s = k->stmts[ts[i].stmt];
    const lathe_kschedule_t *sc = SCHED(ts[i].stmt);
    uint32_t its[LATHE_KMAX_ITERS], m = 0, limit = istmt_iters(k, ts[i]);
    for (uint32_t j = k->num_shared; j < s->num_iters; ++j)
      if (sc->order[j] < limit) its[m++] = sc->order[j];
    if (!m) continue;
    if (n > 1) node = isl_schedule_node_child(isl_schedule_node_child(node, (int)i), 0);
    node = add_band(node, band_of(p, k, ctx, &ts[i], 1, its, m), s, sc, its, m);
    node = up_to(node, seq_depth);
  }
#undef SCHED
  free(ts);
  sched = isl_schedule_node_get_schedule(node);
  isl_schedule_node_free(node);
  /* Sizes are never negative: telling isl so drops needless guards. */
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  print_params(&sb, p);
  lathe_strbuf_append(&sb, "{ : ");
  for (uint32_t q = 0; q < p->num_params; ++q)
    lathe_strbuf_printf(&sb, "%s%s >= 0", q ? " and " : "", p->params[q]->name);
  lathe_strbuf_append(&sb, p->num_params ? " }" : "1 = 1 }");
  isl_set *context = isl_set_read_from_str(ctx, lathe_strbuf_cstr(&sb));
  lathe_strbuf_destroy(&sb);
  isl_ast_build *build = isl_ast_build_from_context(context);
  isl_ast_node *ast = isl_ast_build_node_from_schedule(build, sched);
  isl_ast_build_free(build);
  if (!ast)
    return lathe_status_make(LATHE_STATUS_INTERNAL, "kernel '%s': isl could not build the loops",
                             k->name);
  *out_ast = ast;
  return NULL;
}

lathe_status_t lathe_kast_user(__isl_keep isl_ast_node *user, uint32_t *out_stmt, bool *out_is_init,
                               __isl_give isl_ast_expr **out_call) {
  if (isl_ast_node_get_type(user) != isl_ast_node_user)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "not a user node");
  isl_ast_expr *call = isl_ast_node_user_get_expr(user);
  isl_ast_expr *fn = isl_ast_expr_op_get_arg(call, 0);
  isl_id *id = isl_ast_expr_id_get_id(fn);
  const char *name = id ? isl_id_get_name(id) : NULL;
  char *end = NULL;
  unsigned long s = name && (name[0] == 'S' || name[0] == 'I') ? strtoul(name + 1, &end, 10) : 0;
  bool ok = end && end != name + 1 && *end == '\0';
  if (ok) {
    *out_stmt = (uint32_t)s;
    *out_is_init = name[0] == 'I';
  }
  isl_id_free(id);
  isl_ast_expr_free(fn);
  if (!ok) {
    isl_ast_expr_free(call);
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "user node names no statement");
  }
  *out_call = call;
  return NULL;
}

lathe_status_t lathe_kast_mark(__isl_keep isl_ast_node *mark, lathe_kmark_kind_t *out_kind,
                               uint32_t *out_width) {
  if (isl_ast_node_get_type(mark) != isl_ast_node_mark)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "not a mark node");
  isl_id *id = isl_ast_node_mark_get_id(mark);
  const char *name = isl_id_get_name(id);
  lathe_status_t st = NULL;
  if (name && strcmp(name, "parallel") == 0) {
    *out_kind = LATHE_KMARK_PARALLEL;
    *out_width = 0;
  } else if (name && strcmp(name, "vector") == 0) {
    *out_kind = LATHE_KMARK_VECTOR;
    *out_width = (uint32_t)(uintptr_t)isl_id_get_user(id);
  } else {
    st = lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "unknown mark '%s'", name ? name : "");
  }
  isl_id_free(id);
  return st;
}

void lathe_kast_print(lathe_strbuf_t *sb, __isl_keep isl_ast_node *ast, int indent) {
  isl_printer *pr = isl_printer_to_str(isl_ast_node_get_ctx(ast));
  pr = isl_printer_set_output_format(pr, ISL_FORMAT_C);
  pr = isl_printer_set_indent(pr, indent);
  isl_ast_print_options *opts = isl_ast_print_options_alloc(isl_ast_node_get_ctx(ast));
  pr = isl_ast_node_print(ast, pr, opts);
  char *text = isl_printer_get_str(pr);
  if (text) lathe_strbuf_append(sb, text);
  free(text);
  isl_printer_free(pr);
}
