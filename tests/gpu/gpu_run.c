/* gpu_run: runs a CUDA artifact of `lathe compile --target cuda` on the GPU
 * through runtime/cuda and checks its one output against a reference; with
 * --bench N also times N runs. tests/gpu/run.sh builds it on a GPU machine
 * that lacks Lathe's compiler dependencies (LLVM, isl, protobuf-c...): it
 * needs only support/, runtime/ and runtime/cuda/ (plain C, libdl, pthreads),
 * the CUDA driver at run time, and artifacts prepared elsewhere.
 *
 *   gpu_run LIB.so --inputs DIR --ref FILE.npy [--rtol R] [--atol A] [--bench N]
 *
 * Inputs are DIR/in0.npy, in1.npy... in input order. Prints
 *   gpu_run: NAME: PASS max_abs=... max_rel=... [median_ms=...]
 * and exits 0, or prints FAIL (or the error) and exits 1. Timings include
 * the host-device copies of inputs and outputs (a whole run, as a caller of
 * the API sees it). Artifacts whose program has weights are refused: the GPU
 * models keep their weights as inputs, so no weights file is involved.
 */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/cuda/cuda.h"
#include "runtime/runtime.h"
#include "support/half.h"
#include "support/npy.h"

#define MAX_IO 32

typedef struct args {
  const char *lib, *inputs, *ref;
  double rtol, atol;
  int bench;
} args_t;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double as_double(int32_t dtype, const void *p, int64_t i) {
  switch (dtype) {
  case LATHE_RT_DTYPE_F32: return ((const float *)p)[i];
  case LATHE_RT_DTYPE_F64: return ((const double *)p)[i];
  case LATHE_RT_DTYPE_F16: return lathe_f16_to_f32(((const uint16_t *)p)[i]);
  case LATHE_RT_DTYPE_BF16: return lathe_bf16_to_f32(((const uint16_t *)p)[i]);
  case LATHE_RT_DTYPE_I32: return ((const int32_t *)p)[i];
  case LATHE_RT_DTYPE_I64: return (double)((const int64_t *)p)[i];
  default: return NAN;
  }
}

static lathe_status_t parse(int argc, char **argv, args_t *a) {
  *a = (args_t){.rtol = 1e-3, .atol = 1e-4};
  for (int i = 1; i < argc; ++i) {
    const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(s, "--inputs") && v) a->inputs = v, ++i;
    else if (!strcmp(s, "--ref") && v) a->ref = v, ++i;
    else if (!strcmp(s, "--rtol") && v) a->rtol = strtod(v, NULL), ++i;
    else if (!strcmp(s, "--atol") && v) a->atol = strtod(v, NULL), ++i;
    else if (!strcmp(s, "--bench") && v) a->bench = atoi(v), ++i;
    else if (s[0] != '-' && !a->lib) a->lib = s;
    else return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "gpu_run: bad argument '%s'", s);
  }
  if (!a->lib || !a->inputs || !a->ref)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                             "usage: gpu_run LIB.so --inputs DIR --ref FILE.npy [--rtol R] "
                             "[--atol A] [--bench N]");
  return NULL;
}

/* Compares the output with the reference; prints the verdict line. */
static lathe_status_t compare(const args_t *a, const lathe_rt_tensor_t *out, const void *ref,
                              const lathe_npy_header_t *rh, int64_t count, bool *out_pass,
                              char *line, size_t size) {
  if (rh->dtype != out->dtype || rh->num_bytes != out->byte_size)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                             "reference %s: dtype %d, %llu bytes; the output is dtype %d, %llu bytes",
                             a->ref, rh->dtype, (unsigned long long)rh->num_bytes, out->dtype,
                             (unsigned long long)out->byte_size);
  double max_abs = 0, max_rel = 0;
  int64_t bad = 0, first_bad = -1;
  for (int64_t i = 0; i < count; ++i) {
    double g = as_double(out->dtype, out->data, i), w = as_double(rh->dtype, ref, i);
    double d = fabs(g - w);
    bool ok = isnan(w) ? isnan(g) : (isinf(w) ? g == w : d <= a->atol + a->rtol * fabs(w));
    if (!ok && first_bad < 0) first_bad = i;
    bad += !ok;
    if (isfinite(d)) {
      if (d > max_abs) max_abs = d;
      if (w != 0 && d / fabs(w) > max_rel) max_rel = d / fabs(w);
    }
  }
  *out_pass = bad == 0;
  snprintf(line, size, "%s max_abs=%.3g max_rel=%.3g%s", bad ? "FAIL" : "PASS", max_abs, max_rel,
           bad ? " (mismatches)" : "");
  if (bad)
    fprintf(stderr, "gpu_run: %lld of %lld elements differ; first at %lld: got %.9g, want %.9g\n",
            (long long)bad, (long long)count, (long long)first_bad,
            as_double(out->dtype, out->data, first_bad), as_double(rh->dtype, ref, first_bad));
  return NULL;
}

static lathe_status_t run(const args_t *a, bool *out_pass) {
  char lib[1024]; /* dlopen searches the library path for names without a slash */
  snprintf(lib, sizeof lib, "%s%s", strchr(a->lib, '/') ? "" : "./", a->lib);
  void *dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  if (!dl) return lathe_status_make(LATHE_STATUS_IO_ERROR, "%s", dlerror());
  const lathe_rt_program_t *prog = dlsym(dl, "lathe_program");
  /* "<program symbol>_cuda", as driver/load.c looks it up */
  const lathe_cuda_program_t *cuda = dlsym(dl, "lathe_program_cuda");
  if (!prog || !cuda)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "%s: not a CUDA artifact", a->lib);
  if (prog->num_weights > 0)
    return lathe_status_make(LATHE_STATUS_UNSUPPORTED,
                             "%s: the program has weights; gpu_run takes weights as inputs", a->lib);
  if (prog->num_inputs > MAX_IO || prog->num_outputs != 1)
    return lathe_status_make(LATHE_STATUS_UNSUPPORTED, "%s: need <= %d inputs and one output",
                             a->lib, MAX_IO);
  lathe_rt_tensor_t in[MAX_IO], out;
  void *data[MAX_IO] = {0};
  for (int32_t k = 0; k < prog->num_inputs; ++k) {
    char path[1024];
    snprintf(path, sizeof path, "%s/in%d.npy", a->inputs, k);
    lathe_npy_header_t h;
    LATHE_RETURN_IF_ERROR(lathe_npy_read(path, &h, &data[k]));
    LATHE_RETURN_IF_ERROR(lathe_rt_tensor_init(h.dtype, (int32_t)h.rank, h.dims, data[k], h.num_bytes, &in[k]));
  }
  int64_t params[256] = {0}, dims[LATHE_RT_MAX_RANK];
  if (prog->num_params > 256) return lathe_status_make(LATHE_STATUS_UNSUPPORTED, "too many params");
  LATHE_RETURN_IF_ERROR(lathe_rt_program_bind(prog, in, prog->num_inputs, params));
  int32_t out_id = -1;
  for (int32_t b = 0; b < prog->num_buffers; ++b)
    if (prog->buffers[b].role == LATHE_RT_BUFFER_OUTPUT && prog->buffers[b].index == 0) out_id = b;
  uint64_t out_bytes = 0;
  LATHE_RETURN_IF_ERROR(lathe_rt_program_buffer_shape(prog, out_id, params, dims, &out_bytes));
  void *out_data = calloc(out_bytes + 1, 1);
  const lathe_rt_buffer_desc_t *od = &prog->buffers[out_id];
  LATHE_RETURN_IF_ERROR(lathe_rt_tensor_init(od->dtype, od->rank, dims, out_data, out_bytes, &out));
  lathe_npy_header_t rh;
  void *ref = NULL;
  LATHE_RETURN_IF_ERROR(lathe_npy_read(a->ref, &rh, &ref));

  lathe_rt_cuda_t *rt = NULL;
  LATHE_RETURN_IF_ERROR(lathe_rt_cuda_create(prog, cuda, &rt));
  LATHE_RETURN_IF_ERROR(lathe_rt_cuda_run(rt, NULL, in, prog->num_inputs, &out, 1));
  int64_t count = 1;
  for (int32_t d = 0; d < od->rank; ++d) count *= dims[d];
  char line[256];
  LATHE_RETURN_IF_ERROR(compare(a, &out, ref, &rh, count, out_pass, line, sizeof line));
  double median = -1;
  if (a->bench > 0) {
    double *t = calloc((size_t)a->bench, sizeof *t);
    for (int i = 0; i < a->bench; ++i) {
      double t0 = now_ms();
      LATHE_RETURN_IF_ERROR(lathe_rt_cuda_run(rt, NULL, in, prog->num_inputs, &out, 1));
      t[i] = now_ms() - t0;
    }
    qsort(t, (size_t)a->bench, sizeof *t, cmp_double);
    median = t[a->bench / 2];
    free(t);
  }
  const char *name = strrchr(a->lib, '/') ? strrchr(a->lib, '/') + 1 : a->lib;
  if (median >= 0) printf("gpu_run: %s: %s median_ms=%.4f\n", name, line, median);
  else printf("gpu_run: %s: %s\n", name, line);
  lathe_rt_cuda_destroy(rt);
  for (int32_t k = 0; k < prog->num_inputs; ++k) free(data[k]);
  free(out_data), free(ref);
  return NULL; /* the library stays loaded: the runtime borrowed its tables */
}

int main(int argc, char **argv) {
  args_t a;
  bool pass = false;
  lathe_status_t st = parse(argc, argv, &a);
  if (!st) st = run(&a, &pass);
  if (st) {
    fprintf(stderr, "gpu_run: error: %s\n", lathe_status_message(st));
    lathe_status_free(st);
    return 1;
  }
  return pass ? 0 : 1;
}
