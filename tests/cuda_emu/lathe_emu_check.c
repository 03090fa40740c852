/* lathe-emu-check: a text-IR graph through codegen/cuda and the CUDA
 * emulator, compared with the kernel-IR interpreter (emu_program.h). The lit
 * tests in tests/lit/cuda_emu drive it, one RUN line per shape and pipeline:
 *
 *   lathe-emu-check FILE.lir [--passes=P] [--dims=N=7,S=3] [--rtol=R] [--atol=A]
 *                   [--orders=reverse,random,forward] [--seed=K] [--scale=INPUT=F]...
 *                   [--expect-wmma] [--allow-warnings]
 *
 * Symbolic input dims take their values from --dims. Inputs are
 * deterministic pseudo-random data from --seed: floats in [-2, 2) (times
 * the input's --scale factor: weights of a deep model want ~1/sqrt(fan_in),
 * or sharp softmaxes amplify f32 rounding past any fair tolerance), integers
 * in [-3, 3] (unsigned: [0, 6]), bools half true. On success it prints
 *   emulated CUDA matches the interpreter: GRAPH, K kernels (wmma), ...
 * and exits 0; any mismatch or failure is one line on stderr and exit 1.
 * With --write-inputs=DIR it only writes those inputs as DIR/in<k>.npy
 * (tests/gpu/run.sh feeds them to the GPU and the CPU backend).
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
    else if (a[0] == '-') return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "unknown option '%s'", a);
    else o->path = a;
  }
  if (!o->path) return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "usage: lathe-emu-check FILE.lir [options]");
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

static lathe_status_t run(const options_t *o, lathe_module_t *m) {
  const lathe_graph_t *g = lathe_module_first_graph(m);
  if (!g) return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "%s has no graph", o->path);
  lathe_kprogram_t *p = NULL;
  LATHE_RETURN_IF_ERROR(lathe_kernel_lower_graph(g, &p));
  uint32_t n = g->num_inputs;
  int64_t(*dims)[LATHE_MAX_RANK] = calloc(n + 1, sizeof *dims);
  const int64_t **dim_ptrs = calloc(n + 1, sizeof *dim_ptrs);
  void **data = calloc(n + 1, sizeof *data);
  lathe_status_t st = (!dims || !dim_ptrs || !data)
                          ? lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory")
                          : NULL;
  for (uint32_t k = 0; !st && k < n; ++k) {
    const lathe_value_t *v = g->inputs[k];
    int64_t count = 1;
    for (uint32_t d = 0; !st && d < v->type.rank; ++d) {
      st = dim_value(o, v->type.dims[d], v->name ? v->name : "?", &dims[k][d]);
      count *= st ? 1 : dims[k][d];
    }
    dim_ptrs[k] = dims[k];
    size_t bytes = (size_t)((count * lathe_dtype_bits(v->type.dtype) + 7) / 8);
    if (!st && !(data[k] = calloc(bytes + 8, 1)))
      st = lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    if (!st) fill(v->type.dtype, data[k], count, o->seed + k, (float)input_scale(o, v->name));
  }
  for (uint32_t k = 0; !st && o->write_inputs && k < n; ++k) {
    const lathe_value_t *v = g->inputs[k];
    int64_t count = 1;
    for (uint32_t d = 0; d < v->type.rank; ++d) count *= dims[k][d];
    char path[600];
    snprintf(path, sizeof path, "%s/in%u.npy", o->write_inputs, k);
    st = lathe_npy_write(path, (int32_t)v->type.dtype, v->type.rank, dims[k], data[k],
                         (uint64_t)((count * lathe_dtype_bits(v->type.dtype) + 7) / 8));
  }
  lathe_emu_check_report_t r = {0};
  if (!st && o->write_inputs) printf("wrote %u inputs of %s to %s\n", n, g->name, o->write_inputs);
  else if (!st) st = lathe_emu_check_program(p, dim_ptrs, (const void *const *)data, &o->check, &r);
  if (!st && !o->write_inputs && o->expect_wmma && !r.uses_wmma)
    st = lathe_status_make(LATHE_STATUS_INTERNAL, "--expect-wmma: no GEMM of '%s' ran on tensor cores", g->name);
  if (!st && !o->write_inputs)
    printf("emulated CUDA matches the interpreter: %s, %u kernels%s, worst abs error %.3g, "
           "%llu blocks, %llu barriers, %llu warp collectives\n",
           g->name, r.num_kernels, r.uses_wmma ? " (wmma)" : "", r.worst_abs,
           (unsigned long long)r.stats.blocks, (unsigned long long)r.stats.barriers,
           (unsigned long long)r.stats.shuffles);
  for (uint32_t k = 0; data && k < n; ++k) free(data[k]);
  free(data), free(dim_ptrs), free(dims);
  lathe_kprogram_destroy(p);
  return st;
}

int main(int argc, char **argv) {
  options_t o = {0};
  lathe_status_t st = parse_args(argc, argv, &o);
  lathe_module_t *m = NULL;
  lathe_pipeline_t *pl = NULL;
  if (!st) st = lathe_module_parse_file(o.path, NULL, &m);
  if (!st) st = lathe_pipeline_parse(o.passes ? o.passes : "", &pl);
  if (!st) st = lathe_pipeline_run(pl, m, NULL);
  if (!st) st = run(&o, m);
  lathe_pipeline_destroy(pl);
  lathe_module_destroy(m);
  if (st) {
    lathe_status_print(stderr, "lathe-emu-check", st);
    lathe_status_free(st);
    return 1;
  }
  return 0;
}
