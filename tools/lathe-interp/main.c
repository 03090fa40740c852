/* lathe-interp: runs a text-IR graph through the kernel-IR reference
 * interpreter, with .npy files in and out. The numeric lit tests use it to
 * check lowering against numpy, and backends' tests use its outputs as the
 * oracle:
 *     lathe-interp --passes=fuse model.lir x.npy -o y.npy
 * Inputs are the graph's inputs in order; one -o per graph output.
 * --tile=T runs every loop kernel under a schedule that tiles each iterator
 * by T (the results must not change: the schedule is how, not what).
 * Exit status: 0 on success, 1 on an error (one line on stderr), 2 on a
 * usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"
#include "ir/text.h"
#include "kernel/kernel.h"
#include "passes/passes.h"
#include "support/npy.h"

static const char usage[] =
    "usage: lathe-interp [options] FILE.lir [INPUT.npy ...] -o OUTPUT.npy [-o OUTPUT.npy ...]\n"
    "\n"
    "Lowers the first graph of FILE.lir to kernel IR and runs it with the reference\n"
    "interpreter on the .npy inputs (one per graph input, in order), writing one\n"
    ".npy per graph output.\n"
    "\n"
    "options:\n"
    "  --passes=PIPELINE   graph passes to run first, e.g. 'fuse'\n"
    "  --tile=T            run loop kernels with every iterator tiled by T\n"
    "  --print             print the kernel program to stdout\n"
    "  -o FILE             where the next graph output goes (repeat per output)\n"
    "  -h, --help          show this help\n";

enum { MAX_FILES = 64 };

typedef struct {
  const char *lir, *pipeline;
  const char *inputs[MAX_FILES], *outputs[MAX_FILES];
  uint32_t num_inputs, num_outputs, tile;
  int print;
} options_t;

static int parse_args(int argc, char **argv, options_t *o) {
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(usage, stdout);
      return -1;
    } else if (!strncmp(a, "--passes=", 9)) {
      o->pipeline = a + 9;
    } else if (!strncmp(a, "--tile=", 7)) {
      o->tile = (uint32_t)strtoul(a + 7, NULL, 10);
    } else if (!strcmp(a, "--print")) {
      o->print = 1;
    } else if (!strcmp(a, "-o") && i + 1 < argc && o->num_outputs < MAX_FILES) {
      o->outputs[o->num_outputs++] = argv[++i];
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "lathe-interp: error: unknown option '%s' (see --help)\n", a);
      return 2;
    } else if (!o->lir) {
      o->lir = a;
    } else if (o->num_inputs < MAX_FILES) {
      o->inputs[o->num_inputs++] = a;
    }
  }
  if (!o->lir) {
    fputs(usage, stderr);
    return 2;
  }
  return 0;
}

static lathe_status_t read_text(const char *path, char **out_text, size_t *out_len) {
  FILE *f = fopen(path, "rb");
  if (!f) return lathe_status_make(LATHE_STATUS_IO_ERROR, "cannot open '%s'", path);
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) lathe_strbuf_append_n(&sb, buf, n);
  fclose(f);
  *out_len = sb.len;
  *out_text = lathe_strbuf_release(&sb);
  return NULL;
}

/* Every statement tiled by T in every iterator; no vector loop. */
static const lathe_kschedule_t *tiled(void *ctx, const lathe_kernel_t *k) {
  static _Thread_local lathe_kschedule_t buf[256];
  uint32_t t = *(const uint32_t *)ctx;
  if (k->num_stmts > 256) return NULL;
  for (uint32_t s = 0; s < k->num_stmts; ++s) {
    buf[s] = k->stmts[s]->schedule;
    buf[s].vector = -1;
    buf[s].vector_width = 0;
    for (uint32_t i = 0; i < k->stmts[s]->num_iters; ++i) buf[s].tile[i] = t;
  }
  return buf;
}

static lathe_status_t run(const options_t *o, lathe_kprogram_t *p) {
  if (o->num_inputs != p->num_inputs)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "the graph has %u inputs, %u given",
                             p->num_inputs, o->num_inputs);
  if (o->num_outputs != p->num_outputs)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "the graph has %u outputs, %u -o given",
                             p->num_outputs, o->num_outputs);
  lathe_npy_header_t hdr[MAX_FILES];
  void *in[MAX_FILES] = {0}, *out[MAX_FILES] = {0};
  const int64_t *in_dims[MAX_FILES];
  int64_t *params = calloc(p->num_params + 1, sizeof *params);
  lathe_status_t st = NULL;
  for (uint32_t i = 0; i < o->num_inputs && !st; ++i) {
    st = lathe_npy_read(o->inputs[i], &hdr[i], &in[i]);
    const lathe_kbuffer_t *b = p->buffers[p->inputs[i]];
    if (!st && ((lathe_dtype_t)hdr[i].dtype != b->dtype || hdr[i].rank != b->rank))
      st = lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "%s: expected a %s array of rank %u",
                             o->inputs[i], lathe_dtype_name(b->dtype), b->rank);
    in_dims[i] = hdr[i].dims;
  }
  if (!st) st = lathe_kprogram_bind_params(p, in_dims, params);
  uint64_t bytes[MAX_FILES] = {0};
  for (uint32_t i = 0; i < p->num_outputs && !st; ++i) {
    st = lathe_kbuffer_num_bytes(p->buffers[p->outputs[i]], params, &bytes[i]);
    if (!st && !(out[i] = calloc(bytes[i] + 1, 1)))
      st = lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  uint32_t tile = o->tile;
  if (!st)
    st = lathe_kprogram_run_reference(p, params, (const void *const *)in, out, tile ? tiled : NULL,
                                      &tile);
  for (uint32_t i = 0; i < p->num_outputs && !st; ++i) {
    const lathe_kbuffer_t *b = p->buffers[p->outputs[i]];
    int64_t dims[LATHE_MAX_RANK];
    for (uint32_t d = 0; d < b->rank; ++d) dims[d] = lathe_kdim_value(b->dims[d], params);
    st = lathe_npy_write(o->outputs[i], (int32_t)b->dtype, b->rank, dims, out[i], bytes[i]);
  }
  for (uint32_t i = 0; i < MAX_FILES; ++i) {
    free(in[i]);
    free(out[i]);
  }
  free(params);
  return st;
}

static lathe_status_t main_status(const options_t *o) {
  char *text;
  size_t len;
  LATHE_RETURN_IF_ERROR(read_text(o->lir, &text, &len));
  lathe_module_t *m = NULL;
  lathe_pipeline_t *pipeline = NULL;
  lathe_kprogram_t *p = NULL;
  const lathe_parse_options_t parse_options = {.open_weight_source =
                                                   lathe_safetensors_open_weight_source};
  lathe_status_t st = lathe_module_parse(text, len, o->lir, &parse_options, &m);
  free(text);
  if (!st) st = lathe_pipeline_parse(o->pipeline ? o->pipeline : "", &pipeline);
  if (!st) st = lathe_pipeline_run(pipeline, m, NULL);
  if (!st && !lathe_module_first_graph(m))
    st = lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "%s has no graph", o->lir);
  if (!st) st = lathe_kernel_lower_graph(lathe_module_first_graph(m), &p);
  if (!st && o->print) {
    lathe_strbuf_t sb;
    lathe_strbuf_init(&sb);
    lathe_kprogram_print(&sb, p);
    fputs(lathe_strbuf_cstr(&sb), stdout);
    lathe_strbuf_destroy(&sb);
  }
  if (!st && (o->num_outputs || o->num_inputs || !o->print)) st = run(o, p);
  lathe_kprogram_destroy(p);
  lathe_pipeline_destroy(pipeline);
  lathe_module_destroy(m);
  return st;
}

int main(int argc, char **argv) {
  options_t o = {0};
  int rc = parse_args(argc, argv, &o);
  if (rc) return rc < 0 ? 0 : rc;
  lathe_status_t st = main_status(&o);
  if (st) {
    lathe_status_print(stderr, "lathe-interp", st);
    lathe_status_free(st);
    return 1;
  }
  return 0;
}
