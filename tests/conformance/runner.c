/* One ONNX backend node test through Lathe's public C API, classified.
 *
 *   usage: lathe-conformance TEST_DIR [--target T] [--rtol R] [--atol A]
 *                            [--const-input NAME=K ...]
 *
 * TEST_DIR is one folder of onnx/backend/test/data/node: model.onnx plus
 * test_data_set_N/input_K.pb and output_K.pb. The runner opens the model,
 * compiles it (target `cpu`, the LLVM JIT, by default), runs every data set
 * and compares every output with its reference. It prints exactly one JSON
 * line on stdout and exits 0 whatever the verdict, so that the driver
 * (tests/conformance/run.py) can tell a verdict from a crash: no line, or a
 * non-zero exit, is a crash.
 *
 * Verdicts ("class"):
 *   pass         every output of every data set within tolerance
 *   wrong        an output differs (dtype, shape or values); names the output
 *                and gives the largest absolute and relative error
 *   unsupported  a clean error with code LATHE_STATUS_UNSUPPORTED, at import
 *                or compile time: the one-line message names the op, attribute
 *                or type Lathe lacks
 *   error        any other clean error; "phase" says where (import, compile,
 *                data, run)
 *
 * Tolerance: floats match numpy's allclose with rtol 1e-3, atol 1e-7 (NaN
 * matches NaN, inf must be the same inf); integers and bools must be exact.
 *
 * Graph inputs pair with input_K.pb by position, as ONNX's test layout
 * defines. --const-input NAME=K specializes the model to graph input NAME's
 * value in input_K.pb (lathe_options_set_const_input), for inputs Lathe needs
 * as constants (a Reshape shape, Slice bounds): the model is then opened and
 * compiled once per data set with that set's value, and the other inputs
 * pair with the remaining files in order. run.py adds these when the open
 * fails naming such an input, and reports the test as specialized.
 *
 * Where the .pb's element type disagrees with the model's but has the same
 * width (old bfloat16 data stored as UINT16), the model's type is trusted and
 * the bytes are reinterpreted.
 *
 * Only lathe/lathe.h is used: the harness sees what any host application sees.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lathe/lathe.h"

/* Bits per element, from the public dtype table. */
static int dtype_bits(int32_t dtype) {
  switch (dtype) {
#define X(e, code, name, bits) \
  case LATHE_RT_DTYPE_##e: return bits;
    LATHE_RT_DTYPES(X)
#undef X
  default: return 0;
  }
}

static bool is_float(int32_t dtype) {
  return dtype == LATHE_RT_DTYPE_F32 || dtype == LATHE_RT_DTYPE_F64 ||
         dtype == LATHE_RT_DTYPE_F16 || dtype == LATHE_RT_DTYPE_BF16;
}

#define MAX_CONST_INPUTS 16

typedef struct {
  const char *test_dir;
  const char *target;
  double rtol, atol;
  const char *const_names[MAX_CONST_INPUTS];
  int const_files[MAX_CONST_INPUTS]; /* K of input_K.pb */
  int num_const;
} config_t;

static bool is_const_file(const config_t *cfg, int k) {
  for (int i = 0; i < cfg->num_const; ++i)
    if (cfg->const_files[i] == k) return true;
  return false;
}

/* The verdict, filled in as the test goes; printed once at the end. */
typedef struct {
  const char *cls;   /* pass, wrong, unsupported, error */
  const char *phase; /* import, compile, data, run, compare; NULL for pass */
  char message[4096];
  int data_sets;
  /* For wrong: the first output that differs. */
  char output[256];
  int data_set;
  double max_abs, max_rel;
  int64_t mismatched, elements;
  bool has_diff;
} verdict_t;

/* Records a failed status as the verdict and frees it. UNSUPPORTED before
 * any run is a clean "not yet"; everything else is an error. */
static void take_status(verdict_t *v, const char *phase, lathe_status_t st) {
  bool early = !strcmp(phase, "import") || !strcmp(phase, "compile");
  v->cls = early && lathe_status_code(st) == LATHE_STATUS_UNSUPPORTED ? "unsupported" : "error";
  v->phase = phase;
  snprintf(v->message, sizeof v->message, "%s", lathe_status_message(st));
  lathe_status_free(st);
}

static void set_message(verdict_t *v, const char *cls, const char *phase, const char *fmt,
                        const char *a, const char *b) {
  v->cls = cls;
  v->phase = phase;
  snprintf(v->message, sizeof v->message, fmt, a, b);
}

static bool file_exists(const char *path) {
  struct stat s;
  return stat(path, &s) == 0;
}

/* TEST_DIR/test_data_set_N/KIND_K.pb */
static void pb_path(const config_t *cfg, int set, const char *kind, int k, char *out, size_t n) {
  snprintf(out, n, "%s/test_data_set_%d/%s_%d.pb", cfg->test_dir, set, kind, k);
}

static int count_files(const config_t *cfg, int set, const char *kind) {
  char path[4096];
  int k = 0;
  for (;; ++k) {
    pb_path(cfg, set, kind, k, path, sizeof path);
    if (!file_exists(path)) return k;
  }
}

static void format_type(const lathe_rt_tensor_t *t, char *out, size_t n) {
  size_t used = (size_t)snprintf(out, n, "%s[", lathe_tensor_dtype_name(t->dtype));
  for (int32_t d = 0; d < t->rank && used < n; ++d)
    used += (size_t)snprintf(out + used, n - used, "%s%lld", d ? ", " : "", (long long)t->dims[d]);
  if (used < n) snprintf(out + used, n - used, "]");
}

/* Adopts the model's element type for data read with another type of the
 * same width (bfloat16 stored as UINT16). */
static void trust_model_dtype(lathe_rt_tensor_t *t, int32_t model_dtype) {
  if (t->dtype != model_dtype && dtype_bits(t->dtype) == dtype_bits(model_dtype) &&
      dtype_bits(model_dtype) >= 8)
    t->dtype = model_dtype;
}

typedef struct {
  lathe_rt_tensor_t *inputs, *outputs, *wants;
  int32_t num_inputs, num_outputs;
} buffers_t;

static void buffers_free(buffers_t *b) {
  for (int32_t i = 0; b->inputs && i < b->num_inputs; ++i) lathe_tensor_free(&b->inputs[i]);
  for (int32_t i = 0; b->outputs && i < b->num_outputs; ++i) lathe_tensor_free(&b->outputs[i]);
  for (int32_t i = 0; b->wants && i < b->num_outputs; ++i) lathe_tensor_free(&b->wants[i]);
  free(b->inputs);
  free(b->outputs);
  free(b->wants);
  *b = (buffers_t){0};
}

/* Reads data set `set`'s inputs and references; false with the verdict set
 * when they do not fit the compiled model. */
static bool read_data_set(const config_t *cfg, lathe_compiled_t *c, int set, buffers_t *b,
                          verdict_t *v) {
  b->num_inputs = lathe_compiled_num_inputs(c);
  b->num_outputs = lathe_compiled_num_outputs(c);
  b->inputs = calloc((size_t)b->num_inputs + 1, sizeof *b->inputs);
  b->outputs = calloc((size_t)b->num_outputs + 1, sizeof *b->outputs);
  b->wants = calloc((size_t)b->num_outputs + 1, sizeof *b->wants);
  if (!b->inputs || !b->outputs || !b->wants) {
    set_message(v, "error", "data", "out of memory%s%s", "", "");
    return false;
  }
  int have_in = count_files(cfg, set, "input") - cfg->num_const;
  int have_out = count_files(cfg, set, "output");
  if (have_in != b->num_inputs || have_out != b->num_outputs) {
    char a[64], d[64];
    snprintf(a, sizeof a, "%d inputs, %d outputs", b->num_inputs, b->num_outputs);
    snprintf(d, sizeof d, "%d input files, %d output files", have_in, have_out);
    set_message(v, "error", "data", "the compiled model has %s; the data set has %s", a, d);
    return false;
  }
  char path[4096];
  int file = -1; /* the input file of compiled input idx: const inputs' files skipped */
  for (int32_t k = 0; k < b->num_inputs + b->num_outputs; ++k) {
    bool in = k < b->num_inputs;
    int32_t idx = in ? k : k - b->num_inputs;
    if (in)
      while (is_const_file(cfg, ++file)) {
      }
    pb_path(cfg, set, in ? "input" : "output", in ? file : idx, path, sizeof path);
    lathe_rt_tensor_t *t = in ? &b->inputs[idx] : &b->wants[idx];
    lathe_status_t st = lathe_tensor_read(path, t);
    if (st) {
      take_status(v, "data", st);
      return false;
    }
    lathe_tensor_info_t info;
    st = in ? lathe_compiled_input_info(c, idx, &info) : lathe_compiled_output_info(c, idx, &info);
    if (st) {
      take_status(v, "data", st);
      return false;
    }
    trust_model_dtype(t, info.dtype);
  }
  return true;
}

/* Compares output k; false with a "wrong" verdict when it differs. */
static bool compare_output(const config_t *cfg, lathe_compiled_t *c, int set, int32_t k,
                           const lathe_rt_tensor_t *got, const lathe_rt_tensor_t *want,
                           verdict_t *v) {
  lathe_tensor_info_t info;
  const char *name = "?";
  lathe_status_t st = lathe_compiled_output_info(c, k, &info);
  if (!st) name = info.name;
  lathe_status_free(st);
  char g[256], w[256];
  format_type(got, g, sizeof g);
  format_type(want, w, sizeof w);
  snprintf(v->output, sizeof v->output, "%s", name);
  v->data_set = set;
  if (strcmp(g, w)) {
    v->cls = "wrong";
    v->phase = "compare";
    snprintf(v->message, sizeof v->message, "output '%s' (#%d): got %s, expected %s", name, (int)k,
             g, w);
    return false;
  }
  bool exact = !is_float(want->dtype);
  lathe_tensor_diff_t d;
  st = lathe_tensor_compare(got, want, exact ? 0 : cfg->rtol, exact ? 0 : cfg->atol, &d);
  if (st) {
    take_status(v, "compare", st);
    return false;
  }
  if (!d.num_mismatched) return true;
  v->cls = "wrong";
  v->phase = "compare";
  v->has_diff = true;
  v->max_abs = d.max_abs;
  v->max_rel = d.max_rel;
  v->mismatched = d.num_mismatched;
  v->elements = d.num_elements;
  snprintf(v->message, sizeof v->message,
           "output '%s' (#%d) %s: %lld of %lld elements differ (first at %lld), max abs error "
           "%.3g, max rel error %.3g",
           name, (int)k, w, (long long)d.num_mismatched, (long long)d.num_elements,
           (long long)d.first_mismatch, d.max_abs, d.max_rel);
  return false;
}

/* Runs data set `set`; false with the verdict set on any failure. */
static bool run_data_set(const config_t *cfg, lathe_compiled_t *c, lathe_context_t *x, int set,
                         verdict_t *v) {
  buffers_t b = {0};
  bool ok = read_data_set(cfg, c, set, &b, v);
  lathe_status_t st = NULL;
  if (ok) st = lathe_compiled_output_shapes(c, b.inputs, b.num_inputs, b.outputs, b.num_outputs);
  for (int32_t k = 0; ok && !st && k < b.num_outputs; ++k)
    st =
        lathe_tensor_alloc(b.outputs[k].dtype, b.outputs[k].rank, b.outputs[k].dims, &b.outputs[k]);
  if (ok && !st) st = lathe_context_run(x, b.inputs, b.num_inputs, b.outputs, b.num_outputs);
  if (ok && st) {
    take_status(v, "run", st);
    ok = false;
  }
  for (int32_t k = 0; ok && k < b.num_outputs; ++k)
    ok = compare_output(cfg, c, set, k, &b.outputs[k], &b.wants[k], v);
  buffers_free(&b);
  return ok;
}

/* The open model, compiled, with a context. */
typedef struct {
  lathe_options_t *options;
  lathe_model_t *model;
  lathe_compiled_t *compiled;
  lathe_context_t *context;
} session_t;

static void session_close(session_t *s) {
  lathe_context_destroy(s->context);
  lathe_compiled_destroy(s->compiled);
  lathe_model_destroy(s->model);
  lathe_options_destroy(s->options);
  *s = (session_t){0};
}

/* Gives the const inputs their values from data set `set`. */
static lathe_status_t set_const_inputs(const config_t *cfg, int set, lathe_options_t *o) {
  char path[4096];
  for (int i = 0; i < cfg->num_const; ++i) {
    pb_path(cfg, set, "input", cfg->const_files[i], path, sizeof path);
    lathe_rt_tensor_t t;
    lathe_status_t st = lathe_tensor_read(path, &t);
    if (st) return st;
    st = lathe_options_set_const_input(o, cfg->const_names[i], &t);
    lathe_tensor_free(&t);
    if (st) return st;
  }
  return NULL;
}

/* Opens and compiles the model (specialized to data set `set`'s const
 * inputs); false with the verdict set on failure. */
static bool session_open(const config_t *cfg, int set, session_t *s, verdict_t *v) {
  char model_path[4096];
  snprintf(model_path, sizeof model_path, "%s/model.onnx", cfg->test_dir);
  lathe_status_t st = lathe_options_create(&s->options);
  /* One thread: the driver runs one test per core. */
  if (!st) st = lathe_options_set_num_threads(s->options, 1);
  if (!st) st = lathe_options_set_target(s->options, cfg->target);
  if (st) {
    take_status(v, "options", st);
    return false;
  }
  if ((st = set_const_inputs(cfg, set, s->options))) {
    take_status(v, "data", st);
    return false;
  }
  if ((st = lathe_model_open(model_path, s->options, &s->model))) {
    take_status(v, "import", st);
    return false;
  }
  if ((st = lathe_model_compile(s->model, &s->compiled))) {
    take_status(v, "compile", st);
    return false;
  }
  if ((st = lathe_context_create(s->compiled, &s->context))) {
    take_status(v, "run", st);
    return false;
  }
  return true;
}

static void run_test(const config_t *cfg, verdict_t *v) {
  session_t s = {0};
  for (int set = 0;; ++set) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/test_data_set_%d", cfg->test_dir, set);
    if (set > 0 && !file_exists(dir)) break;
    /* A specialized model is compiled again for each data set's values. */
    if (!s.compiled || cfg->num_const) {
      session_close(&s);
      if (!session_open(cfg, file_exists(dir) ? set : 0, &s, v)) goto done;
    }
    if (!file_exists(dir)) break;
    if (!run_data_set(cfg, s.compiled, s.context, set, v)) goto done;
    v->data_sets = set + 1;
  }
  if (v->data_sets) {
    v->cls = "pass";
  } else {
    set_message(v, "error", "data", "%s: no test_data_set_0 folder%s", cfg->test_dir, "");
  }
done:
  session_close(&s);
}

static void print_verdict(const config_t *cfg, const verdict_t *v) {
  cJSON *j = cJSON_CreateObject();
  const char *name = strrchr(cfg->test_dir, '/');
  name = name && name[1] ? name + 1 : cfg->test_dir;
  cJSON_AddStringToObject(j, "test", name);
  cJSON_AddStringToObject(j, "class", v->cls);
  if (v->phase) cJSON_AddStringToObject(j, "phase", v->phase);
  if (v->message[0]) cJSON_AddStringToObject(j, "message", v->message);
  cJSON_AddNumberToObject(j, "data_sets", v->data_sets);
  if (!strcmp(v->cls, "wrong")) {
    cJSON_AddStringToObject(j, "output", v->output);
    cJSON_AddNumberToObject(j, "data_set", v->data_set);
    if (v->has_diff) {
      cJSON_AddNumberToObject(j, "max_abs", v->max_abs);
      cJSON_AddNumberToObject(j, "max_rel", v->max_rel);
      cJSON_AddNumberToObject(j, "mismatched", (double)v->mismatched);
      cJSON_AddNumberToObject(j, "elements", (double)v->elements);
    }
  }
  char *text = cJSON_PrintUnformatted(j);
  if (text) printf("%s\n", text);
  fflush(stdout);
  cJSON_free(text);
  cJSON_Delete(j);
}

static int usage(void) {
  fprintf(stderr, "usage: lathe-conformance TEST_DIR [--target T] [--rtol R] [--atol A]\n"
                  "                         [--const-input NAME=K ...]\n");
  return 2;
}

int main(int argc, char **argv) {
  config_t cfg = {.target = "cpu", .rtol = 1e-3, .atol = 1e-7};
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    bool has_value = i + 1 < argc;
    if (!strcmp(a, "--target") && has_value) {
      cfg.target = argv[++i];
    } else if (!strcmp(a, "--rtol") && has_value) {
      cfg.rtol = strtod(argv[++i], NULL);
    } else if (!strcmp(a, "--atol") && has_value) {
      cfg.atol = strtod(argv[++i], NULL);
    } else if (!strcmp(a, "--const-input") && has_value && cfg.num_const < MAX_CONST_INPUTS) {
      char *arg = argv[++i], *eq = strrchr(arg, '='), *end;
      if (!eq || eq == arg) return usage();
      *eq = '\0';
      long k = strtol(eq + 1, &end, 10);
      if (*end || k < 0 || k > 1000) return usage();
      cfg.const_names[cfg.num_const] = arg;
      cfg.const_files[cfg.num_const++] = (int)k;
    } else if (a[0] != '-' && !cfg.test_dir) {
      cfg.test_dir = a;
    } else {
      return usage();
    }
  }
  if (!cfg.test_dir) return usage();
  verdict_t v = {.cls = "error"};
  run_test(&cfg, &v);
  print_verdict(&cfg, &v);
  return 0;
}
