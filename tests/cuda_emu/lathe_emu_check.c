/* lathe-emu-check: a text-IR graph through codegen/cuda and the CUDA
 * emulator, compared with the kernel-IR interpreter (emu_program.h). The lit
 * tests in tests/lit/cuda_emu drive it, one RUN line per shape and pipeline:
 *
 *   lathe-emu-check FILE.lir [IN.npy...] [--passes=P] [--dims=N=7,S=3] [--rtol=R] [--atol=A]
 *                   [--orders=reverse,random,forward] [--seed=K] [--scale=INPUT=F]...
 *                   [--expect-wmma] [--allow-warnings]
 *   lathe-emu-check --batch=LIST
 *
 * Given .npy files, those are the graph's inputs, in order (dtypes must
 * match; symbolic dims take the arrays' sizes). Otherwise symbolic input dims
 * take their values from --dims and inputs are
 * deterministic pseudo-random data from --seed: floats in [-2, 2) (times
 * the input's --scale factor: weights of a deep model want ~1/sqrt(fan_in),
 * or sharp softmaxes amplify f32 rounding past any fair tolerance), integers
 * in [-3, 3] (unsigned: [0, 6]), bools half true. On success it prints
 *   emulated CUDA matches the interpreter: GRAPH, K kernels (wmma), ...
 * and exits 0; any mismatch or failure is one line on stderr and exit 1.
 * With --write-inputs=DIR it only writes those inputs as DIR/in<k>.npy
 * (tests/gpu/run.sh feeds them to the GPU and the CPU backend).
 *
 * --batch=LIST checks many graphs with one host compile
 * (lathe_emu_check_programs): each line of LIST that is not blank or a '#'
 * comment holds one check's arguments as above, separated by spaces. Each
 * prints one line on stdout, "ok FILE: emulated CUDA matches ..." or
 * "FAIL FILE: [LOCATION: ]MESSAGE"; the exit code is 1 when any failed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/text.h"
#include "passes/passes.h"
#include "support/half.h"
#include "support/npy.h"
#include "tests/cuda_emu/emu_program.h"

#define MAX_DIMS 16
#define MAX_INPUTS 64
#define MAX_LINE 8192

typedef struct options {
  const char *path, *passes;
  char dim_names[MAX_DIMS][32];
  int64_t dim_values[MAX_DIMS];
  uint32_t num_dims;
  lathe_emu_check_opts_t check;
  uint32_t seed;
  bool expect_wmma;
  char scale_names[MAX_DIMS][32];
  double scale_values[MAX_DIMS];
  uint32_t num_scales;
  const char *write_inputs; /* a folder: write in<k>.npy and stop */
  const char *npy[MAX_INPUTS]; /* input arrays, in order */
  uint32_t num_npy;
  const char *batch;
} options_t;

static lathe_status_t parse_dims(options_t *o, const char *text) {
  char buf[512];
  snprintf(buf, sizeof buf, "%s", text);
  for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
    char *eq = strchr(tok, '=');
    if (!eq || o->num_dims == MAX_DIMS)
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "--dims: expected NAME=SIZE, got '%s'", tok);
    *eq = 0;
    snprintf(o->dim_names[o->num_dims], sizeof o->dim_names[0], "%s", tok);
    o->dim_values[o->num_dims++] = strtoll(eq + 1, NULL, 10);
  }
  return NULL;
}

static lathe_status_t parse_scale(options_t *o, const char *text) {
  const char *eq = strchr(text, '=');
  if (!eq || o->num_scales == MAX_DIMS)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "--scale: expected INPUT=FACTOR, got '%s'", text);
  snprintf(o->scale_names[o->num_scales], sizeof o->scale_names[0], "%.*s", (int)(eq - text), text);
  o->scale_values[o->num_scales++] = strtod(eq + 1, NULL);
  return NULL;
}

static double input_scale(const options_t *o, const char *name) {
  for (uint32_t i = 0; name && i < o->num_scales; ++i)
    if (!strcmp(o->scale_names[i], name)) return o->scale_values[i];
  return 1.0;
}

static lathe_status_t parse_orders(options_t *o, const char *text) {
  char buf[128];
  snprintf(buf, sizeof buf, "%s", text);
  o->check.num_orders = 0;
  for (char *tok = strtok(buf, ","); tok && o->check.num_orders < 4; tok = strtok(NULL, ",")) {
    lathe_emu_order_t v;
    if (!strcmp(tok, "forward")) v = LATHE_EMU_ORDER_FORWARD;
    else if (!strcmp(tok, "reverse")) v = LATHE_EMU_ORDER_REVERSE;
    else if (!strcmp(tok, "random")) v = LATHE_EMU_ORDER_RANDOM;
    else return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "--orders: unknown order '%s'", tok);
    o->check.orders[o->check.num_orders++] = v;
  }
  return NULL;
}

static lathe_status_t parse_args(int argc, char **argv, options_t *o) {
  o->check = (lathe_emu_check_opts_t){.rel_tol = 1e-5, .abs_tol = 1e-5};
  o->seed = 1;
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    if (!strncmp(a, "--passes=", 9)) o->passes = a + 9;
    else if (!strncmp(a, "--dims=", 7)) LATHE_RETURN_IF_ERROR(parse_dims(o, a + 7));
    else if (!strncmp(a, "--rtol=", 7)) o->check.rel_tol = strtod(a + 7, NULL);
    else if (!strncmp(a, "--atol=", 7)) o->check.abs_tol = strtod(a + 7, NULL);
    else if (!strncmp(a, "--orders=", 9)) LATHE_RETURN_IF_ERROR(parse_orders(o, a + 9));
    else if (!strncmp(a, "--seed=", 7)) o->seed = (uint32_t)strtoul(a + 7, NULL, 10);
    else if (!strncmp(a, "--scale=", 8)) LATHE_RETURN_IF_ERROR(parse_scale(o, a + 8));
    else if (!strncmp(a, "--write-inputs=", 15)) o->write_inputs = a + 15;
    else if (!strcmp(a, "--expect-wmma")) o->expect_wmma = true;
    else if (!strcmp(a, "--allow-warnings")) o->check.allow_warnings = true;
    else if (!strncmp(a, "--batch=", 8)) o->batch = a + 8;
    else if (a[0] == '-') return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "unknown option '%s'", a);
    else if (!o->path) o->path = a;
    else if (o->num_npy < MAX_INPUTS) o->npy[o->num_npy++] = a;
    else return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "more than %d input arrays", MAX_INPUTS);
  }
  if (!o->path && !o->batch) return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "usage: lathe-emu-check FILE.lir [options]");
  return NULL;
}

static lathe_status_t dim_value(const options_t *o, lathe_dim_t d, const char *input, int64_t *out) {
  if (lathe_dim_is_static(d)) {
    *out = d.size;
    return NULL;
  }
  for (uint32_t i = 0; d.sym && i < o->num_dims; ++i)
    if (!strcmp(o->dim_names[i], d.sym)) {
      *out = o->dim_values[i];
      return NULL;
    }
  return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "input '%s': give dim '%s' with --dims",
                           input, d.sym ? d.sym : "?");
}

/* Deterministic data of dtype t (see the header comment). */
static void fill(lathe_dtype_t t, void *data, int64_t n, uint32_t seed, float scale) {
  uint32_t s = seed * 2654435761u + 12345u;
  uint8_t *p = data;
  for (int64_t i = 0; i < n; ++i) {
    s = s * 1664525u + 1013904223u;
    float f = scale * (-2.0f + 4.0f * (float)(s >> 8) / (float)(1u << 24));
    int64_t iv = (int64_t)((s >> 16) % 7) - 3;
    uint64_t uv = (uint64_t)(iv + 3);
    switch (t) {
    case LATHE_DTYPE_F32: ((float *)data)[i] = f; break;
    case LATHE_DTYPE_F64: ((double *)data)[i] = f; break;
    case LATHE_DTYPE_F16: ((uint16_t *)data)[i] = lathe_f32_to_f16(f); break;
    case LATHE_DTYPE_BF16: ((uint16_t *)data)[i] = lathe_f32_to_bf16(f); break;
    case LATHE_DTYPE_BOOL: p[i] = (s >> 20) & 1; break;
    case LATHE_DTYPE_I8: ((int8_t *)data)[i] = (int8_t)iv; break;
    case LATHE_DTYPE_U8: p[i] = (uint8_t)uv; break;
    case LATHE_DTYPE_I16: ((int16_t *)data)[i] = (int16_t)iv; break;
    case LATHE_DTYPE_U16: ((uint16_t *)data)[i] = (uint16_t)uv; break;
    case LATHE_DTYPE_I32: ((int32_t *)data)[i] = (int32_t)iv; break;
    case LATHE_DTYPE_U32: ((uint32_t *)data)[i] = (uint32_t)uv; break;
    case LATHE_DTYPE_I64: ((int64_t *)data)[i] = iv; break;
    case LATHE_DTYPE_U64: ((uint64_t *)data)[i] = uv; break;
    case LATHE_DTYPE_I4:
    case LATHE_DTYPE_U4:
      p[i / 2] = (uint8_t)((p[i / 2] & ~(0xf << (4 * (i & 1)))) | ((uv & 0xf) << (4 * (i & 1))));
      break;
    default: break;
    }
  }
}

/* One check made ready: its graph lowered, its inputs made or read. */
typedef struct loaded {
  lathe_module_t *m;
  lathe_kprogram_t *p;
  const lathe_graph_t *g;
  int64_t (*dims)[LATHE_MAX_RANK];
  const int64_t **dim_ptrs;
  void **data;
} loaded_t;

static void unload(loaded_t *l) {
  for (uint32_t k = 0; l->data && l->g && k < l->g->num_inputs; ++k) free(l->data[k]);
  free(l->data), free(l->dim_ptrs), free(l->dims);
  lathe_kprogram_destroy(l->p);
  lathe_module_destroy(l->m);
  *l = (loaded_t){0};
}

/* Input k from its .npy file: dtype, rank and static dims must be the
 * graph's; symbolic dims take the array's sizes. */
static lathe_status_t read_input(const char *path, const lathe_value_t *v, int64_t *dims, void **out) {
  lathe_npy_header_t h;
  LATHE_RETURN_IF_ERROR(lathe_npy_read(path, &h, out));
  if (h.dtype != (int32_t)v->type.dtype || h.rank != v->type.rank)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "%s: a rank-%u %s array for input '%s' (rank %u %s)",
                             path, h.rank, lathe_dtype_name((lathe_dtype_t)h.dtype), v->name ? v->name : "?",
                             v->type.rank, lathe_dtype_name(v->type.dtype));
  for (uint32_t d = 0; d < h.rank; ++d) {
    if (lathe_dim_is_static(v->type.dims[d]) && v->type.dims[d].size != h.dims[d])
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "%s: dim %u is %lld, input '%s' has %lld", path,
                               d, (long long)h.dims[d], v->name ? v->name : "?",
                               (long long)v->type.dims[d].size);
    dims[d] = h.dims[d];
  }
  return NULL;
}

static lathe_status_t make_inputs(const options_t *o, loaded_t *l) {
  uint32_t n = l->g->num_inputs;
  if (o->num_npy && o->num_npy != n)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "%u input arrays for the %u inputs of '%s'",
                             o->num_npy, n, l->g->name);
  l->dims = calloc(n + 1, sizeof *l->dims);
  l->dim_ptrs = calloc(n + 1, sizeof *l->dim_ptrs);
  l->data = calloc(n + 1, sizeof *l->data);
  if (!l->dims || !l->dim_ptrs || !l->data)
    return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  for (uint32_t k = 0; k < n; ++k) {
    const lathe_value_t *v = l->g->inputs[k];
    l->dim_ptrs[k] = l->dims[k];
    if (o->num_npy) {
      LATHE_RETURN_IF_ERROR(read_input(o->npy[k], v, l->dims[k], &l->data[k]));
      continue;
    }
    int64_t count = 1;
    for (uint32_t d = 0; d < v->type.rank; ++d) {
      LATHE_RETURN_IF_ERROR(dim_value(o, v->type.dims[d], v->name ? v->name : "?", &l->dims[k][d]));
      count *= l->dims[k][d];
    }
    size_t bytes = (size_t)((count * lathe_dtype_bits(v->type.dtype) + 7) / 8);
    if (!(l->data[k] = calloc(bytes + 8, 1)))
      return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    fill(v->type.dtype, l->data[k], count, o->seed + k, (float)input_scale(o, v->name));
  }
  return NULL;
}

static lathe_status_t load(const options_t *o, loaded_t *l) {
  lathe_pipeline_t *pl = NULL;
  LATHE_RETURN_IF_ERROR(lathe_module_parse_file(o->path, NULL, &l->m));
  lathe_status_t st = lathe_pipeline_parse(o->passes ? o->passes : "", &pl);
  if (!st) st = lathe_pipeline_run(pl, l->m, NULL);
  lathe_pipeline_destroy(pl);
  LATHE_RETURN_IF_ERROR(st);
  if (!(l->g = lathe_module_first_graph(l->m)))
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "%s has no graph", o->path);
  LATHE_RETURN_IF_ERROR(lathe_kernel_lower_graph(l->g, &l->p));
  return make_inputs(o, l);
}

static lathe_status_t write_inputs(const options_t *o, const loaded_t *l) {
  for (uint32_t k = 0; k < l->g->num_inputs; ++k) {
    const lathe_value_t *v = l->g->inputs[k];
    int64_t count = 1;
    for (uint32_t d = 0; d < v->type.rank; ++d) count *= l->dims[k][d];
    char path[600];
    snprintf(path, sizeof path, "%s/in%u.npy", o->write_inputs, k);
    LATHE_RETURN_IF_ERROR(lathe_npy_write(path, (int32_t)v->type.dtype, v->type.rank, l->dims[k], l->data[k],
                                          (uint64_t)((count * lathe_dtype_bits(v->type.dtype) + 7) / 8)));
  }
  printf("wrote %u inputs of %s to %s\n", l->g->num_inputs, l->g->name, o->write_inputs);
  return NULL;
}

static lathe_status_t check_wmma(const options_t *o, const loaded_t *l, const lathe_emu_check_report_t *r) {
  if (o->expect_wmma && !r->uses_wmma)
    return lathe_status_make(LATHE_STATUS_INTERNAL, "--expect-wmma: no GEMM of '%s' ran on tensor cores",
                             l->g->name);
  return NULL;
}

static void print_match(const loaded_t *l, const lathe_emu_check_report_t *r) {
  printf("emulated CUDA matches the interpreter: %s, %u kernels%s, worst abs error %.3g, "
         "%llu blocks, %llu barriers, %llu warp collectives\n",
         l->g->name, r->num_kernels, r->uses_wmma ? " (wmma)" : "", r->worst_abs,
         (unsigned long long)r->stats.blocks, (unsigned long long)r->stats.barriers,
         (unsigned long long)r->stats.shuffles);
}

static lathe_status_t run_one(const options_t *o) {
  loaded_t l = {0};
  lathe_emu_check_report_t r = {0};
  lathe_status_t st = load(o, &l);
  if (!st && o->write_inputs) st = write_inputs(o, &l);
  else if (!st) st = lathe_emu_check_program(l.p, l.dim_ptrs, (const void *const *)l.data, &o->check, &r);
  if (!st && !o->write_inputs) st = check_wmma(o, &l, &r);
  if (!st && !o->write_inputs) print_match(&l, &r);
  unload(&l);
  return st;
}

/* A batch: every line's check loaded, then all checked with one compile. */
typedef struct batch {
  uint32_t n;
  char **lines; /* the options point into these */
  options_t *opts;
  loaded_t *loaded;
  lathe_emu_case_t *cases;
} batch_t;

static lathe_status_t batch_read(const char *list, batch_t *b) {
  FILE *f = fopen(list, "r");
  if (!f) return lathe_status_make(LATHE_STATUS_IO_ERROR, "--batch: cannot open '%s'", list);
  char line[MAX_LINE];
  uint32_t cap = 0;
  lathe_status_t st = NULL;
  while (!st && fgets(line, sizeof line, f)) {
    const char *first = line + strspn(line, " \t\r\n");
    if (!*first || *first == '#') continue;
    if (b->n == cap) {
      cap = cap ? 2 * cap : 64;
      char **lines = realloc(b->lines, cap * sizeof *lines);
      if (lines) b->lines = lines;
      options_t *opts = lines ? realloc(b->opts, cap * sizeof *opts) : NULL;
      if (opts) b->opts = opts;
      if (!lines || !opts) st = lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    }
    if (!st && !(b->lines[b->n] = strdup(line)))
      st = lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    if (st) break;
    char *argv[2 * MAX_INPUTS + 16] = {"lathe-emu-check"};
    int argc = 1;
    for (char *tok = strtok(b->lines[b->n++], " \t\r\n"); tok && argc < (int)(sizeof argv / sizeof *argv);
         tok = strtok(NULL, " \t\r\n"))
      argv[argc++] = tok;
    b->opts[b->n - 1] = (options_t){0};
    st = parse_args(argc, argv, &b->opts[b->n - 1]);
    if (!st && (b->opts[b->n - 1].batch || b->opts[b->n - 1].write_inputs || !b->opts[b->n - 1].path))
      st = lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "--batch: a line needs FILE.lir, and no --batch "
                                                            "or --write-inputs: %s", first);
  }
  fclose(f);
  return st;
}

static lathe_status_t run_batch(const char *list, bool *out_all_ok) {
  batch_t b = {0};
  lathe_status_t st = batch_read(list, &b);
  if (!st) {
    b.loaded = calloc(b.n + 1, sizeof *b.loaded);
    b.cases = calloc(b.n + 1, sizeof *b.cases);
    if (!b.loaded || !b.cases) st = lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  uint32_t ready = 0;
  uint32_t *which = st ? NULL : calloc(b.n + 1, sizeof *which); /* cases[i] is line which[i] */
  if (!st && !which) st = lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  lathe_status_t *failed = st ? NULL : calloc(b.n + 1, sizeof *failed);
  if (!st && !failed) st = lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  for (uint32_t i = 0; !st && i < b.n; ++i) {
    failed[i] = load(&b.opts[i], &b.loaded[i]);
    if (failed[i]) continue;
    b.cases[ready] = (lathe_emu_case_t){.program = b.loaded[i].p, .in_dims = b.loaded[i].dim_ptrs,
                                        .inputs = (const void *const *)b.loaded[i].data, .opts = b.opts[i].check};
    which[ready++] = i;
  }
  if (!st) st = lathe_emu_check_programs(b.cases, ready);
  for (uint32_t k = 0; !st && k < ready; ++k) {
    uint32_t i = which[k];
    failed[i] = b.cases[k].status;
    b.cases[k].status = NULL;
  }
  *out_all_ok = !st;
  for (uint32_t i = 0; !st && i < b.n; ++i) {
    lathe_emu_check_report_t r = {0};
    for (uint32_t k = 0; k < ready; ++k)
      if (which[k] == i) r = b.cases[k].report;
    if (!failed[i]) failed[i] = check_wmma(&b.opts[i], &b.loaded[i], &r);
    if (!failed[i]) {
      printf("ok %s: ", b.opts[i].path);
      print_match(&b.loaded[i], &r);
    } else {
      const char *where = lathe_status_location(failed[i]);
      printf("FAIL %s: %s%s%s\n", b.opts[i].path, where ? where : "", where ? ": " : "",
             lathe_status_message(failed[i]));
      *out_all_ok = false;
    }
  }
  for (uint32_t i = 0; i < b.n; ++i) {
    if (failed) lathe_status_free(failed[i]);
    if (b.loaded) unload(&b.loaded[i]);
    free(b.lines[i]);
  }
  for (uint32_t k = 0; b.cases && k < ready; ++k) lathe_status_free(b.cases[k].status);
  free(failed), free(which), free(b.cases), free(b.loaded), free(b.opts), free(b.lines);
  return st;
}

int main(int argc, char **argv) {
  options_t o = {0};
  bool all_ok = true;
  lathe_status_t st = parse_args(argc, argv, &o);
  if (!st) st = o.batch ? run_batch(o.batch, &all_ok) : run_one(&o);
  if (st) {
    lathe_status_print(stderr, "lathe-emu-check", st);
    lathe_status_free(st);
    return 1;
  }
  return all_ok ? 0 : 1;
}
