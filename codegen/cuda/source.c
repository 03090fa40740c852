/* A kernel program as one CUDA C source and its launch table.
 *
 * Layout of the source: a banner, the headers the program needs (cuda_fp16.h
 * and cuda_bf16.h when some buffer has those dtypes, mma.h for tensor-core
 * GEMMs), the prelude (prelude.c), then one function per kernel:
 *
 *   extern "C" __global__ void __launch_bounds__(T) SYMBOL(void *const *lathe_B,
 *                                                          const long long *lathe_P) {
 *     __shared__ ...;                          its static shared arrays
 *     const long long p_N = lathe_P[0];        the params it uses
 *     const float *__restrict__ b3 = ...;      the buffers it uses
 *     ...body...
 *   }
 *
 * A kernel's body is generated first (into its own buffer), so the
 * declarations list exactly what it uses. Buffers the kernel only reads (no
 * write to their root in this kernel) are `const T *__restrict__`, which lets
 * NVCC use the read-only data path; written ones are plain pointers, since a
 * kernel may read and write one root through different views.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/cuda/internal.h"

/* ---- generator helpers ---- */

void *gen_fail(gen_t *g, lathe_status_code_t code, const char *fmt, ...) {
  if (g->error) return NULL;
  va_list ap;
  va_start(ap, fmt);
  lathe_status_t st = lathe_status_makev(code, fmt, ap);
  va_end(ap);
  g->error = g->k ? lathe_status_annotate(st, "kernel '%s'", g->k->name) : st;
  return NULL;
}

void gen_line(gen_t *g, const char *fmt, ...) {
  for (int i = 0; i < g->indent; ++i) lathe_strbuf_append(g->out, "  ");
  va_list ap;
  va_start(ap, fmt);
  char small[512];
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n >= 0 && (size_t)n < sizeof small) {
    lathe_strbuf_append(g->out, small);
  } else {
    char *big = malloc((size_t)n + 1);
    va_start(ap, fmt);
    if (big) vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    if (big) lathe_strbuf_append(g->out, big);
    free(big);
  }
  lathe_strbuf_putc(g->out, '\n');
}

const char *gen_str(gen_t *g, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *s = lathe_arena_alloc(&g->arena, (size_t)(n < 0 ? 0 : n) + 1);
  va_start(ap, fmt);
  vsnprintf(s, (size_t)(n < 0 ? 0 : n) + 1, fmt, ap);
  va_end(ap);
  return s;
}

const char *gen_tmp(gen_t *g, const char *prefix) { return gen_str(g, "%s%u", prefix, g->tmp++); }

const char *gen_param(gen_t *g, uint32_t k) {
  g->param_used[k] = true;
  return gen_str(g, "p_%s", g->p->params[k]->name);
}

const char *gen_buffer(gen_t *g, uint32_t id) {
  g->buffer_used[id] = true;
  return gen_str(g, "b%u", id);
}

const char *gen_shared(gen_t *g, const char *type, uint32_t count, uint32_t elem_bytes,
                       uint32_t align) {
  const char *name = gen_tmp(g, "sh");
  lathe_strbuf_printf(&g->shared, "  __shared__ __align__(%u) %s %s[%u];\n", align, type, name,
                      count);
  g->shared_bytes = (g->shared_bytes + align - 1) / align * align + count * elem_bytes;
  return name;
}

uint32_t cu_root(const lathe_kprogram_t *p, uint32_t buffer) {
  int32_t root = p->buffers[buffer]->view_of;
  return root >= 0 ? (uint32_t)root : buffer;
}

/* ---- kernels ---- */

static const char *symbol_name(gen_t *g, const char *name) {
  char *s = (char *)gen_str(g, "%s_%s", g->symbol, name);
  for (char *c = s; *c; ++c)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')))
      *c = '_';
  return s;
}

static uint32_t count_lines(const char *s) {
  uint32_t n = 0;
  for (; *s; ++s) n += *s == '\n';
  return n;
}

/* "ceil(N*100 / 256)" (capped blocks are not shown: grid loops cover them). */
static void grid_text(lathe_strbuf_t *sb, const lathe_kprogram_t *p,
                      const lathe_cuda_grid_dim_t *g) {
  lathe_strbuf_t w;
  lathe_strbuf_init(&w);
  if (g->work.factor != 1 || g->work.num_params == 0)
    lathe_strbuf_printf(&w, "%lld", (long long)g->work.factor);
  for (int32_t i = 0; i < g->work.num_params; ++i)
    lathe_strbuf_printf(&w, "%s%s", w.len ? "*" : "", p->params[g->work.params[i]]->name);
  if (g->per_block > 1)
    lathe_strbuf_printf(sb, "ceil(%s / %lld)", lathe_strbuf_cstr(&w), (long long)g->per_block);
  else lathe_strbuf_append(sb, lathe_strbuf_cstr(&w));
  lathe_strbuf_destroy(&w);
}

/* Appends kernel k's function to `src` and fills its launch entry. */
static void kernel(gen_t *g, uint32_t index, lathe_strbuf_t *src, lathe_cuda_launch_t *launch) {
  const lathe_kprogram_t *p = g->p;
  const lathe_kernel_t *k = p->kernels[index];
  g->k = k;
  g->tmp = 0;
  g->shared_bytes = 0;
  memset(g->param_used, 0, p->num_params * sizeof *g->param_used);
  memset(g->buffer_used, 0, p->num_buffers * sizeof *g->buffer_used);
  memset(g->root_written, 0, p->num_buffers * sizeof *g->root_written);
  for (uint32_t i = 0; i < k->num_writes; ++i) g->root_written[cu_root(p, k->writes[i])] = true;
  lathe_strbuf_t body;
  lathe_strbuf_init(&body);
  lathe_strbuf_init(&g->shared);
  g->out = &body;
  g->indent = 1;
  *launch = (lathe_cuda_launch_t){.kernel = k->name, .symbol = symbol_name(g, k->name)};
  if (k->kind == LATHE_KERNEL_GEMM) cu_gemm_kernel(g, k, launch);
  else cu_loops_kernel(g, k, launch);
  launch->shared_bytes = g->shared_bytes;

  lathe_strbuf_printf(src, "/* kernel %u: %s; %u threads, %u bytes shared, grid (", index, k->name,
                      launch->block[0], launch->shared_bytes);
  for (int d = 0; d < 3; ++d) {
    if (d) lathe_strbuf_append(src, ", ");
    grid_text(src, p, &launch->grid[d]);
  }
  lathe_strbuf_append(src, ") */\n");
  lathe_strbuf_printf(
      src,
      "extern \"C\" __global__ void __launch_bounds__(%u)\n"
      "%s(void *const *__restrict__ lathe_B, const long long *__restrict__ lathe_P) {\n",
      launch->block[0], launch->symbol);
  lathe_strbuf_append(src, lathe_strbuf_cstr(&g->shared));
  bool any_param = false;
  for (uint32_t q = 0; q < p->num_params; ++q)
    if (g->param_used[q]) {
      lathe_strbuf_printf(src, "  const long long p_%s = lathe_P[%u];\n", p->params[q]->name, q);
      any_param = true;
    }
  if (!any_param) lathe_strbuf_append(src, "  (void)lathe_P;\n");
  for (uint32_t b = 0; b < p->num_buffers; ++b) {
    if (!g->buffer_used[b]) continue;
    const char *t = cu_storage_type(p->buffers[b]->dtype);
    bool ro = !g->root_written[cu_root(p, b)];
    lathe_strbuf_printf(src, "  %s%s *%sb%u = (%s%s *)lathe_B[%u];\n", ro ? "const " : "", t,
                        ro ? "__restrict__ " : "", b, ro ? "const " : "", t, b);
  }
  lathe_strbuf_append(src, lathe_strbuf_cstr(&body));
  lathe_strbuf_append(src, "}\n\n");
  lathe_strbuf_destroy(&body);
  lathe_strbuf_destroy(&g->shared);
  g->out = NULL;
  g->k = NULL;
}

static lathe_status_t check_program(const lathe_kprogram_t *p) {
  if (p->build) return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "program is not finished");
  for (uint32_t i = 0; i < p->num_buffers; ++i)
    if (!cu_dtype_supported(p->buffers[i]->dtype))
      return lathe_status_make(LATHE_STATUS_UNSUPPORTED, "buffer %%%s has an unsupported dtype",
                               p->buffers[i]->name);
  return NULL;
}

void lathe_cuda_source_destroy(lathe_cuda_source_t *s) {
  if (!s) return;
  free(s->text);
  for (uint32_t i = 0; s->launches && i < s->num_kernels; ++i) {
    free((char *)s->launches[i].kernel);
    free((char *)s->launches[i].symbol);
  }
  free(s->launches);
  free(s->first_line);
  free(s->last_line);
  free(s);
}

lathe_status_t lathe_cuda_generate(const lathe_kprogram_t *p,
                                   const lathe_codegen_options_t *options,
                                   lathe_cuda_source_t **out_source) {
  LATHE_RETURN_IF_ERROR(check_program(p));
  lathe_codegen_options_t opts;
  if (options) opts = *options;
  else lathe_codegen_options_init(&opts);
  int32_t archs[LATHE_CUDA_MAX_ARCHS];
  uint32_t num_archs;
  LATHE_RETURN_IF_ERROR(lathe_cuda_parse_target(opts.target, archs, &num_archs));
  gen_t g = {.p = p,
             .symbol = opts.program_symbol ? opts.program_symbol : "lathe_program",
             .wmma_ok = archs[0] >= 80};
  lathe_arena_init(&g.arena);
  g.param_used = LATHE_ARENA_NEW_ARRAY(&g.arena, bool, p->num_params + 1);
  g.buffer_used = LATHE_ARENA_NEW_ARRAY(&g.arena, bool, p->num_buffers + 1);
  g.root_written = LATHE_ARENA_NEW_ARRAY(&g.arena, bool, p->num_buffers + 1);
  for (uint32_t i = 0; i < p->num_buffers; ++i) {
    g.need_f16 |= p->buffers[i]->dtype == LATHE_DTYPE_F16;
    g.need_bf16 |= p->buffers[i]->dtype == LATHE_DTYPE_BF16;
  }
  lathe_cuda_source_t *s = calloc(1, sizeof *s);
  lathe_cuda_launch_t *launches = calloc(p->num_kernels + 1, sizeof *launches);
  uint32_t *first = calloc(p->num_kernels + 1, sizeof *first);
  uint32_t *last = calloc(p->num_kernels + 1, sizeof *last);
  lathe_strbuf_t kernels;
  lathe_strbuf_init(&kernels);
  for (uint32_t i = 0; i < p->num_kernels && !g.error && s && launches && first && last; ++i) {
    first[i] = count_lines(lathe_strbuf_cstr(&kernels));
    kernel(&g, i, &kernels, &launches[i]);
    last[i] =
        count_lines(lathe_strbuf_cstr(&kernels)) - 1; /* the closing brace, not the blank line */
  }
  if (!g.error && (!s || !launches || !first || !last))
    g.error = lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  if (g.error) {
    lathe_status_t st = g.error;
    free(s), free(launches), free(first), free(last);
    lathe_strbuf_destroy(&kernels);
    lathe_arena_destroy(&g.arena);
    return st;
  }
  lathe_strbuf_t text;
  lathe_strbuf_init(&text);
  lathe_strbuf_printf(&text, "/* %s: CUDA C generated by Lathe (docs/codegen-cuda.md) */\n",
                      p->name ? p->name : "program");
  if (g.need_f16) lathe_strbuf_append(&text, "#include <cuda_fp16.h>\n");
  if (g.need_bf16) lathe_strbuf_append(&text, "#include <cuda_bf16.h>\n");
  if (g.need_wmma) lathe_strbuf_append(&text, "#include <mma.h>\n");
  lathe_strbuf_append(&text, "\n");
  cu_prelude(&text);
  lathe_strbuf_append(&text, "\n");
  uint32_t offset = count_lines(lathe_strbuf_cstr(&text));
  lathe_strbuf_append(&text, lathe_strbuf_cstr(&kernels));
  lathe_strbuf_destroy(&kernels);
  for (uint32_t i = 0; i < p->num_kernels; ++i) {
    first[i] += offset + 1;
    last[i] += offset;
    launches[i].kernel = strdup(launches[i].kernel);
    launches[i].symbol = strdup(launches[i].symbol);
  }
  s->length = text.len;
  s->text = lathe_strbuf_release(&text);
  s->num_kernels = p->num_kernels;
  s->launches = launches;
  s->first_line = first;
  s->last_line = last;
  s->uses_wmma = g.need_wmma;
  lathe_arena_destroy(&g.arena);
  *out_source = s;
  return NULL;
}

lathe_status_t lathe_cuda_parse_target(const char *target, int32_t *out_archs,
                                       uint32_t *out_count) {
  if (!target || !*target || !strcmp(target, "host")) {
    out_archs[0] = 80, out_archs[1] = 90;
    *out_count = 2;
    return NULL;
  }
  uint32_t n = 0;
  for (const char *c = target; *c;) {
    char *end;
    long arch = strncmp(c, "sm_", 3) == 0 ? strtol(c + 3, &end, 10) : -1;
    if (arch < 75 || arch > 999 || (arch >= 0 && *end && *end != ',') || n >= LATHE_CUDA_MAX_ARCHS)
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                               "unknown CUDA target '%s' (expected sm_NN[,sm_MM...], NN >= 75)",
                               target);
    bool dup = false;
    for (uint32_t i = 0; i < n; ++i) dup |= out_archs[i] == arch;
    if (!dup) out_archs[n++] = (int32_t)arch;
    c = *end ? end + 1 : end;
  }
  for (uint32_t i = 1; i < n; ++i) /* insertion sort, ascending */
    for (uint32_t j = i; j > 0 && out_archs[j - 1] > out_archs[j]; --j) {
      int32_t t = out_archs[j];
      out_archs[j] = out_archs[j - 1], out_archs[j - 1] = t;
    }
  *out_count = n;
  return NULL;
}
