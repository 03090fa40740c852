/* The kernel program's text form: what `lathe-opt --lower` prints and what
 * the lit tests check. Print-only (nothing parses it back); docs/kernel-ir.md
 * describes it. One line per param list, buffer, statement and schedule, so
 * FileCheck patterns stay simple:
 *
 *   kprogram @mlp params(N, P1 = mul(N, 128)) {
 *     buffer %x : f32[N, 64] input 0
 *     buffer %t0 : f32[N, 128] temp
 *     kernel @k0_matmul_add gemm(%x, %w) -> %t0 {
 *       %t0[b < 1, m < N, n < 128] = sum(k < 64) %x[b, m, k] * %w[k, n] : acc f32
 *       epilogue: add(acc, load %bias[n])
 *     }
 *     kernel @k1_softmax loops(%t0) -> (%m, %y) shared 1 {
 *       s0[i0 < N, r1 < 128]: %m[i0] max= load %t0[i0, r1] init -inf
 *       schedule s0: order(i0, r1) parallel(i0)
 *     }
 *   }
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/internal.h"

/* Iterator naming for one expression walk. */
typedef struct {
  const lathe_kprogram_t *p;
  uint32_t num_iters, num_reduce;
  const char *const *names; /* fixed names (GEMM: b, m, n), or NULL */
} pctx_t;

static void print_iter(lathe_strbuf_t *sb, const pctx_t *c, uint32_t i) {
  if (c->names && i < 3) lathe_strbuf_append(sb, c->names[i]);
  else if (i >= c->num_iters - c->num_reduce && i < c->num_iters) lathe_strbuf_printf(sb, "r%u", i);
  else lathe_strbuf_printf(sb, "i%u", i);
}

/* The shortest decimal that reads back to the same value of `dtype`. */
static void print_float(lathe_strbuf_t *sb, lathe_dtype_t dtype, double v) {
  if (isnan(v)) {
    lathe_strbuf_append(sb, "nan");
    return;
  }
  if (isinf(v)) {
    lathe_strbuf_append(sb, v < 0 ? "-inf" : "inf");
    return;
  }
  char buf[64];
  for (int prec = 1; prec <= 17; ++prec) {
    snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (kval_round(dtype, (kval_t){.f = strtod(buf, NULL)}).f == v) break;
  }
  /* Plain notation for everyday magnitudes: 10.0, not 1e+01. */
  double mag = fabs(v);
  if (strchr(buf, 'e') && mag >= 1e-4 && mag < 1e15)
    for (int digits = 0; digits <= 20; ++digits) {
      snprintf(buf, sizeof buf, "%.*f", digits, v);
      if (kval_round(dtype, (kval_t){.f = strtod(buf, NULL)}).f == v) break;
    }
  lathe_strbuf_append(sb, buf);
  for (const char *q = buf; *q; ++q)
    if (*q == '.' || *q == 'e' || *q == 'n' || *q == 'i') return;
  lathe_strbuf_append(sb, ".0");
}

static void print_buffer_ref(lathe_strbuf_t *sb, const lathe_kprogram_t *p, uint32_t id) {
  lathe_strbuf_printf(sb, "%%%s", p->buffers[id]->name);
}

static void print_expr(lathe_strbuf_t *sb, const pctx_t *c, const lathe_kexpr_t *e) {
  switch (e->kind) {
  case LATHE_KEXPR_ITER: {
    print_iter(sb, c, e->index);
    return;
  }
  case LATHE_KEXPR_PARAM: {
    lathe_strbuf_append(sb, c->p->params[e->index]->name);
    return;
  }
  case LATHE_KEXPR_INT:
    if (e->dtype == LATHE_DTYPE_BOOL) {
      lathe_strbuf_append(sb, e->i ? "true" : "false");
      return;
    }
    if (e->dtype == LATHE_DTYPE_U64) {
      lathe_strbuf_printf(sb, "%llu", (unsigned long long)e->i);
      return;
    }
    {
      lathe_strbuf_printf(sb, "%lld", (long long)e->i);
      return;
    }
  case LATHE_KEXPR_FLOAT: {
    print_float(sb, e->dtype, e->f);
    return;
  }
  case LATHE_KEXPR_ACC: {
    lathe_strbuf_append(sb, "acc");
    return;
  }
  case LATHE_KEXPR_LOAD:
    lathe_strbuf_append(sb, "load ");
    print_buffer_ref(sb, c->p, e->index);
    lathe_strbuf_putc(sb, '[');
    for (uint32_t i = 0; i < e->num_args; ++i) {
      if (i) lathe_strbuf_append(sb, ", ");
      print_expr(sb, c, e->args[i]);
    }
    {
      lathe_strbuf_putc(sb, ']');
      return;
    }
  case LATHE_KEXPR_UNARY:
  case LATHE_KEXPR_BINARY:
  case LATHE_KEXPR_SELECT:
  case LATHE_KEXPR_CAST:
    if (e->kind == LATHE_KEXPR_CAST)
      lathe_strbuf_printf(sb, "cast<%s>(", lathe_dtype_name(e->dtype));
    else if (e->kind == LATHE_KEXPR_SELECT) lathe_strbuf_append(sb, "select(");
    else lathe_strbuf_printf(sb, "%s(", lathe_kop_info(e->op)->name);
    for (uint32_t i = 0; i < e->num_args; ++i) {
      if (i) lathe_strbuf_append(sb, ", ");
      print_expr(sb, c, e->args[i]);
    }
    {
      lathe_strbuf_putc(sb, ')');
      return;
    }
  }
}

void lathe_kexpr_print(lathe_strbuf_t *sb, const lathe_kprogram_t *p, const lathe_kexpr_t *e,
                       uint32_t num_iters, uint32_t num_reduce) {
  pctx_t c = {p, num_iters, num_reduce, NULL};
  print_expr(sb, &c, e);
}

static void print_dim(lathe_strbuf_t *sb, const lathe_kprogram_t *p, lathe_kdim_t d) {
  if (lathe_kdim_is_static(d)) lathe_strbuf_printf(sb, "%lld", (long long)d.size);
  else lathe_strbuf_append(sb, p->params[d.param]->name);
}

static void print_params(lathe_strbuf_t *sb, const lathe_kprogram_t *p) {
  if (!p->num_params) return;
  lathe_strbuf_append(sb, " params(");
  for (uint32_t k = 0; k < p->num_params; ++k) {
    const lathe_kparam_t *q = p->params[k];
    lathe_strbuf_printf(sb, "%s%s", k ? ", " : "", q->name);
    if (q->kind == LATHE_KPARAM_DERIVED) {
      lathe_strbuf_append(sb, " = ");
      lathe_kexpr_print(sb, p, q->expr, 0, 0);
    }
  }
  lathe_strbuf_putc(sb, ')');
}

static void print_buffer(lathe_strbuf_t *sb, const lathe_kprogram_t *p, const lathe_kbuffer_t *b) {
  static const char *const roles[] = {"input", "output", "const", "temp"};
  lathe_strbuf_printf(sb, "  buffer %%%s : %s[", b->name, lathe_dtype_name(b->dtype));
  for (uint32_t d = 0; d < b->rank; ++d) {
    if (d) lathe_strbuf_append(sb, ", ");
    print_dim(sb, p, b->dims[d]);
  }
  lathe_strbuf_putc(sb, ']');
  if (b->view_of >= 0) {
    lathe_strbuf_append(sb, " view ");
    print_buffer_ref(sb, p, (uint32_t)b->view_of);
  } else {
    lathe_strbuf_printf(sb, " %s", roles[b->role]);
    if (b->role == LATHE_KBUF_INPUT || b->role == LATHE_KBUF_OUTPUT)
      lathe_strbuf_printf(sb, " %u", b->index);
    if (b->role == LATHE_KBUF_CONST && b->weight && b->weight->kind == LATHE_WEIGHT_NAMED)
      lathe_strbuf_printf(sb, " @\"%s\"", b->weight->name);
    if (b->local_to >= 0) lathe_strbuf_append(sb, " local");
  }
  lathe_strbuf_putc(sb, '\n');
}

static void print_id_list(lathe_strbuf_t *sb, const lathe_kprogram_t *p, uint32_t n,
                          const uint32_t *ids, bool parens) {
  if (parens) lathe_strbuf_putc(sb, '(');
  for (uint32_t i = 0; i < n; ++i) {
    if (i) lathe_strbuf_append(sb, ", ");
    print_buffer_ref(sb, p, ids[i]);
  }
  if (parens) lathe_strbuf_putc(sb, ')');
}

static const char *combiner_text(lathe_kcombiner_t c) {
  static const char *const t[] = {"=", "+=", "*=", "max=", "min="};
  return t[c];
}

static void print_stmt(lathe_strbuf_t *sb, const lathe_kprogram_t *p, const lathe_kstmt_t *s,
                       uint32_t si) {
  pctx_t c = {p, s->num_iters, s->num_reduce, NULL};
  lathe_strbuf_printf(sb, "    s%u[", si);
  for (uint32_t i = 0; i < s->num_iters; ++i) {
    if (i) lathe_strbuf_append(sb, ", ");
    print_iter(sb, &c, i);
    lathe_strbuf_append(sb, " < ");
    print_dim(sb, p, s->extents[i]);
  }
  lathe_strbuf_append(sb, "]: ");
  print_buffer_ref(sb, p, s->target);
  lathe_strbuf_putc(sb, '[');
  for (uint32_t d = 0; d < p->buffers[s->target]->rank; ++d) {
    if (d) lathe_strbuf_append(sb, ", ");
    print_expr(sb, &c, s->target_index[d]);
  }
  lathe_strbuf_printf(sb, "] %s ", combiner_text(s->combiner));
  print_expr(sb, &c, s->value);
  if (s->init) {
    lathe_strbuf_append(sb, " init ");
    print_expr(sb, &c, s->init);
  }
  lathe_strbuf_putc(sb, '\n');
}

static void print_schedule(lathe_strbuf_t *sb, const lathe_kstmt_t *s, uint32_t si) {
  const lathe_kschedule_t *sc = &s->schedule;
  pctx_t c = {NULL, s->num_iters, s->num_reduce, NULL};
  if (!s->num_iters) return;
  lathe_strbuf_printf(sb, "    schedule s%u: order(", si);
  for (uint32_t i = 0; i < s->num_iters; ++i) {
    if (i) lathe_strbuf_append(sb, ", ");
    print_iter(sb, &c, sc->order[i]);
  }
  lathe_strbuf_putc(sb, ')');
  for (uint32_t i = 0; i < s->num_iters; ++i)
    if (sc->tile[i] && (int32_t)i != sc->vector) {
      lathe_strbuf_append(sb, " tile(");
      print_iter(sb, &c, i);
      lathe_strbuf_printf(sb, ", %u)", sc->tile[i]);
    }
  for (uint32_t i = 0; i < s->num_iters; ++i)
    if (sc->unroll[i]) {
      lathe_strbuf_append(sb, " unroll(");
      print_iter(sb, &c, i);
      lathe_strbuf_putc(sb, ')');
    }
  if (sc->parallel >= 0) {
    lathe_strbuf_append(sb, " parallel(");
    print_iter(sb, &c, (uint32_t)sc->parallel);
    lathe_strbuf_putc(sb, ')');
  }
  if (sc->vector >= 0) {
    lathe_strbuf_append(sb, " vector(");
    print_iter(sb, &c, (uint32_t)sc->vector);
    lathe_strbuf_printf(sb, ", %u)", sc->vector_width);
  }
  lathe_strbuf_putc(sb, '\n');
}

static void print_gemm(lathe_strbuf_t *sb, const lathe_kprogram_t *p, const lathe_kgemm_t *g) {
  static const char *const names[] = {"b", "m", "n"};
  pctx_t c = {p, 3, 0, names};
  lathe_strbuf_append(sb, "    ");
  print_buffer_ref(sb, p, g->c);
  lathe_strbuf_append(sb, "[b < ");
  print_dim(sb, p, g->batch);
  lathe_strbuf_append(sb, ", m < ");
  print_dim(sb, p, g->m);
  lathe_strbuf_append(sb, ", n < ");
  print_dim(sb, p, g->n);
  lathe_strbuf_append(sb, "] = sum(k < ");
  print_dim(sb, p, g->k);
  lathe_strbuf_append(sb, ") ");
  print_buffer_ref(sb, p, g->a.buffer);
  lathe_strbuf_printf(sb, "[%s%s] * ", g->a.broadcast ? "" : "b, ", g->a.trans ? "k, m" : "m, k");
  print_buffer_ref(sb, p, g->b.buffer);
  lathe_strbuf_printf(sb, "[%s%s] : acc %s\n", g->b.broadcast ? "" : "b, ",
                      g->b.trans ? "n, k" : "k, n", lathe_dtype_name(g->acc_dtype));
  if (g->epilogue) {
    lathe_strbuf_append(sb, "    epilogue: ");
    print_expr(sb, &c, g->epilogue);
    lathe_strbuf_putc(sb, '\n');
  }
}

static void print_kernel(lathe_strbuf_t *sb, const lathe_kprogram_t *p, const lathe_kernel_t *k) {
  lathe_strbuf_printf(sb, "  kernel @%s %s", k->name,
                      k->kind == LATHE_KERNEL_GEMM ? "gemm" : "loops");
  print_id_list(sb, p, k->num_reads, k->reads, true);
  lathe_strbuf_append(sb, " -> ");
  print_id_list(sb, p, k->num_writes, k->writes, k->num_writes != 1);
  if (k->num_shared) lathe_strbuf_printf(sb, " shared %u", k->num_shared);
  lathe_strbuf_append(sb, " {\n");
  if (k->kind == LATHE_KERNEL_GEMM) {
    print_gemm(sb, p, k->gemm);
  } else {
    for (uint32_t s = 0; s < k->num_stmts; ++s) print_stmt(sb, p, k->stmts[s], s);
    for (uint32_t s = 0; s < k->num_stmts; ++s) print_schedule(sb, k->stmts[s], s);
  }
  lathe_strbuf_append(sb, "  }\n");
}

void lathe_kprogram_print(lathe_strbuf_t *sb, const lathe_kprogram_t *p) {
  lathe_strbuf_printf(sb, "kprogram @%s", p->name);
  print_params(sb, p);
  lathe_strbuf_append(sb, " {\n");
  for (uint32_t b = 0; b < p->num_buffers; ++b) print_buffer(sb, p, p->buffers[b]);
  for (uint32_t k = 0; k < p->num_kernels; ++k) print_kernel(sb, p, p->kernels[k]);
  lathe_strbuf_append(sb, "}\n");
}
