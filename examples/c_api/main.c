/* A host application using Lathe's public C API (include/lathe/lathe.h):
 * open a model, compile it, ask for its signature, and run it from several
 * threads at once, each with its own context and its own batch size, on
 * buffers the application owns.
 *
 *   usage: c_api_example MODEL.lir [TARGET]      (TARGET: cpu or interp)
 *
 * The model is examples/c_api/tiny.lir, y = relu(x @ w + b); each thread
 * checks its result against the same formula computed here. Exit 0 when all
 * agree. Only lathe.h is included: this is what a user's program looks like.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "lathe/lathe.h"

static const float w[4][3] = {
    {0.5f, -1.0f, 0.25f}, {1.0f, 0.5f, -0.5f}, {-0.25f, 2.0f, 1.0f}, {0.75f, -1.5f, 0.125f}};
static const float b[3] = {0.1f, -0.2f, 0.3f};

/* Prints and frees a failure; true when there was one. */
static int failed(lathe_status_t st, const char *what) {
  if (!st) return 0;
  fprintf(stderr, "c_api_example: %s: %s\n", what, lathe_status_message(st));
  lathe_status_free(st);
  return 1;
}

typedef struct {
  lathe_compiled_t *compiled; /* shared by every thread: read-only */
  int64_t batch;
  int errors;
} job_t;

static void *worker(void *arg) {
  job_t *job = arg;
  lathe_context_t *ctx; /* one per thread */
  if (failed(lathe_context_create(job->compiled, &ctx), "context")) {
    job->errors = 1;
    return NULL;
  }
  int64_t n = job->batch;
  float *x = malloc((size_t)n * 4 * sizeof *x), *y = malloc((size_t)n * 3 * sizeof *y);
  for (int64_t i = 0; i < n * 4; ++i) x[i] = (float)((i * 7) % 11) / 5.0f - 1.0f;
  lathe_rt_tensor_t in, out;
  int64_t in_dims[2] = {n, 4}, out_dims[2] = {n, 3};
  int bad = failed(lathe_tensor_view(LATHE_RT_DTYPE_F32, 2, in_dims, x, (uint64_t)n * 16, &in),
                   "input") ||
            failed(lathe_tensor_view(LATHE_RT_DTYPE_F32, 2, out_dims, y, (uint64_t)n * 12, &out),
                   "output");
  for (int rep = 0; !bad && rep < 20; ++rep) /* the same context, run after run */
    bad = failed(lathe_context_run(ctx, &in, 1, &out, 1), "run");
  for (int64_t r = 0; !bad && r < n; ++r) {
    for (int c = 0; c < 3; ++c) {
      float want = b[c];
      for (int k = 0; k < 4; ++k) want += x[r * 4 + k] * w[k][c];
      want = want > 0 ? want : 0;
      if (fabsf(y[r * 3 + c] - want) > 1e-5f) {
        fprintf(stderr, "c_api_example: batch %lld row %lld col %d: got %g, want %g\n",
                (long long)n, (long long)r, c, y[r * 3 + c], want);
        bad = 1;
      }
    }
  }
  job->errors = bad;
  free(x);
  free(y);
  lathe_context_destroy(ctx);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: c_api_example MODEL.lir [cpu|interp]\n");
    return 2;
  }
  lathe_options_t *options = NULL;
  lathe_model_t *model = NULL;
  lathe_compiled_t *compiled = NULL;
  int bad = failed(lathe_options_create(&options), "options") ||
            (argc > 2 && failed(lathe_options_set_target(options, argv[2]), "target")) ||
            failed(lathe_options_set_num_threads(options, 2), "threads") ||
            failed(lathe_model_open(argv[1], options, &model), "open") ||
            failed(lathe_model_compile(model, &compiled), "compile");
  /* The compiled model keeps what it needs: the rest may go now. */
  lathe_model_destroy(model);
  lathe_options_destroy(options);
  if (bad) return 1;

  lathe_tensor_info_t x, y;
  if (failed(lathe_compiled_input_info(compiled, 0, &x), "input info") ||
      failed(lathe_compiled_output_info(compiled, 0, &y), "output info"))
    return 1;
  printf("target %s: %s: %s[%s, %lld] -> %s: %s[%s, %lld]\n", lathe_compiled_target(compiled),
         x.name, lathe_tensor_dtype_name(x.dtype), x.dim_names[0], (long long)x.dims[1], y.name,
         lathe_tensor_dtype_name(y.dtype), y.dim_names[0], (long long)y.dims[1]);

  enum { THREADS = 4 };
  job_t jobs[THREADS];
  pthread_t threads[THREADS];
  for (int t = 0; t < THREADS; ++t) {
    jobs[t] = (job_t){compiled, 1 + 13 * t, 0};
    pthread_create(&threads[t], NULL, worker, &jobs[t]);
  }
  int errors = 0;
  for (int t = 0; t < THREADS; ++t) {
    pthread_join(threads[t], NULL);
    errors += jobs[t].errors;
  }
  lathe_compiled_destroy(compiled);
  printf("%d threads, batches 1 to %d: %s\n", THREADS, 1 + 13 * (THREADS - 1),
         errors ? "MISMATCH" : "all match");
  return errors ? 1 : 0;
}
