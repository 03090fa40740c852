/* `lathe run MODEL|LIB.so -i NAME=FILE ... [-o OUTDIR] [--check NAME=REF ...]
 *  [--bench N]`
 *
 * Compiles a model (or loads a library `lathe compile` wrote), reads its
 * inputs from .npy or ONNX TensorProto (.pb) files, runs it once, and then
 * writes one .npy per output into OUTDIR, compares outputs against reference
 * files (exit 1 on a mismatch, with the max abs/rel error), prints a short
 * summary of each output, or times N runs after a warm-up and prints
 * `median_ms=<float>`. Everything goes through the public API.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "model_args.h"

#define fail(...) lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, __VA_ARGS__)

static const char usage[] =
    "usage: lathe run MODEL|LIB.so [-i NAME=FILE]... [-o OUTDIR] [--check NAME=REF]...\n"
    "                 [--rtol R] [--atol A] [--bench N] [options]\n"
    "\n"
    "Compiles MODEL (.onnx, a Hugging Face folder or .lir) or loads a library\n"
    "written by 'lathe compile', runs it on the given inputs and\n"
    "  - with -o, writes OUTDIR/<output name>.npy for every output;\n"
    "  - with --check, compares outputs with reference files and exits 1 when one\n"
    "    differs (|got - ref| > atol + rtol * |ref|), printing the max errors;\n"
    "  - with --bench N, times N runs after a warm-up run and prints a line\n"
    "    median_ms=<float>;\n"
    "  - otherwise prints each output's type and first values.\n"
    "Input and reference files are .npy or ONNX TensorProto (.pb). NAME= may be\n"
    "left out: such files are taken in input (output) order.\n"
    "\n"
    "options:\n"
    "  -i [NAME=]FILE           an input\n"
    "  -o OUTDIR                write the outputs as .npy files (created if needed)\n"
    "  --check [NAME=]REF       compare an output with a reference\n"
    "  --rtol R, --atol A       tolerances of --check (default 1e-4 and 1e-5)\n"
    "  --bench N                time N runs and print median_ms=...\n" CLI_MODEL_ARGS_HELP
    "  -h, --help               show this help\n";

typedef struct {
  const char *name; /* NULL: by position */
  const char *path;
} named_file_t;

#define MAX_FILES 256

typedef struct {
  const char *model, *outdir;
  named_file_t inputs[MAX_FILES], checks[MAX_FILES];
  int num_inputs, num_checks;
  double rtol, atol;
  long long bench;
  cli_model_args_t model_args;
} options_t;

/* "NAME=FILE" or "FILE". */
static named_file_t split_named(const char *arg) {
  const char *eq = strchr(arg, '=');
  if (!eq) return (named_file_t){NULL, arg};
  size_t n = (size_t)(eq - arg);
  char *name = malloc(n + 1);
  if (!name) return (named_file_t){NULL, arg};
  memcpy(name, arg, n);
  name[n] = '\0';
  return (named_file_t){name, eq + 1};
}

static bool parse_double(const char *text, double *out) {
  char *end;
  double v = strtod(text, &end);
  if (!*text || *end || !(v >= 0)) return false;
  *out = v;
  return true;
}

static int add_file(named_file_t *files, int *count, const char *arg, const char *what) {
  if (*count == MAX_FILES) {
    fprintf(stderr, "lathe: error: run: more than %d %s\n", MAX_FILES, what);
    return 2;
  }
  files[(*count)++] = split_named(arg);
  return 0;
}

static int parse_args(int argc, char **argv, options_t *o) {
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i], *v;
    int taken = cli_model_arg(argc, argv, &i, "run", &o->model_args);
    if (taken < 0) return 2;
    if (taken) continue;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(usage, stdout);
      return -1;
    } else if ((v = cli_flag_value(argc, argv, &i, "-i"))) {
      if (add_file(o->inputs, &o->num_inputs, v, "inputs")) return 2;
    } else if ((v = cli_flag_value(argc, argv, &i, "-o"))) {
      o->outdir = v;
    } else if ((v = cli_flag_value(argc, argv, &i, "--check"))) {
      if (add_file(o->checks, &o->num_checks, v, "checks")) return 2;
    } else if ((v = cli_flag_value(argc, argv, &i, "--rtol"))) {
      if (!parse_double(v, &o->rtol)) {
        fprintf(stderr, "lathe: error: run: --rtol takes a non-negative number, not '%s'\n", v);
        return 2;
      }
    } else if ((v = cli_flag_value(argc, argv, &i, "--atol"))) {
      if (!parse_double(v, &o->atol)) {
        fprintf(stderr, "lathe: error: run: --atol takes a non-negative number, not '%s'\n", v);
        return 2;
      }
    } else if ((v = cli_flag_value(argc, argv, &i, "--bench"))) {
      if (!cli_parse_int(v, 1, 1000000000, &o->bench)) {
        fprintf(stderr, "lathe: error: run: --bench takes a positive count, not '%s'\n", v);
        return 2;
      }
    } else if (a[0] == '-' && a[1] != '\0') {
      fprintf(stderr, "lathe: error: run: unknown option '%s' (see 'lathe run --help')\n", a);
      return 2;
    } else if (o->model) {
      fprintf(stderr, "lathe: error: run: more than one model ('%s' and '%s')\n", o->model, a);
      return 2;
    } else {
      o->model = a;
    }
  }
  if (!o->model) {
    fputs("lathe: error: run: no model given (see 'lathe run --help')\n", stderr);
    return 2;
  }
  return 0;
}

/* ---- the run ------------------------------------------------------------------- */

typedef struct {
  lathe_compiled_t *compiled;
  lathe_context_t *context;
  int32_t num_inputs, num_outputs;
  lathe_rt_tensor_t *inputs, *outputs;
  lathe_tensor_info_t *input_info, *output_info;
} session_t;

static void session_free(session_t *s) {
  for (int32_t k = 0; s->inputs && k < s->num_inputs; ++k) lathe_tensor_free(&s->inputs[k]);
  for (int32_t k = 0; s->outputs && k < s->num_outputs; ++k) lathe_tensor_free(&s->outputs[k]);
  free(s->inputs);
  free(s->outputs);
  free(s->input_info);
  free(s->output_info);
  lathe_context_destroy(s->context);
  lathe_compiled_destroy(s->compiled);
}

/* Appends "a, b, c" (the names of infos) to buf. */
static void list_names(const lathe_tensor_info_t *infos, int32_t n, char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (int32_t k = 0; k < n && used < size; ++k)
    used += (size_t)snprintf(buf + used, size - used, "%s%s", k ? ", " : "", infos[k].name);
}

/* Names match as written or as C identifiers (every other character '_'):
 * a library's descriptor spells "fc1.weight" as fc1_weight. */
static bool same_name(const char *a, const char *b) {
  for (; *a && *b; ++a, ++b) {
    bool ua = !isalnum((unsigned char)*a), ub = !isalnum((unsigned char)*b);
    if (ua != ub || (!ua && *a != *b)) return false;
  }
  return !*a && !*b;
}

/* Every NAME= given must name an input/output; then the file for slot k is
 * the one naming it, else the k-th unnamed one (NULL when none). */
static lathe_status_t match_files(const named_file_t *files, int count,
                                  const lathe_tensor_info_t *infos, int32_t n, const char *what,
                                  const char **out_paths) {
  for (int f = 0; f < count; ++f) {
    bool known = !files[f].name;
    for (int32_t k = 0; !known && k < n; ++k) known = same_name(files[f].name, infos[k].name);
    if (!known) {
      char names[1024];
      list_names(infos, n, names, sizeof names);
      return fail("the model has no %s named '%s' (it has: %s)", what, files[f].name, names);
    }
  }
  for (int32_t k = 0; k < n; ++k) {
    out_paths[k] = NULL;
    int unnamed = 0;
    for (int f = 0; f < count && !out_paths[k]; ++f) {
      if (files[f].name ? same_name(files[f].name, infos[k].name) : unnamed++ == k)
        out_paths[k] = files[f].path;
    }
  }
  return NULL;
}

static lathe_status_t load_inputs(const options_t *o, session_t *s) {
  const char **paths = calloc((size_t)s->num_inputs + 1, sizeof *paths);
  if (!paths) return fail("out of memory");
  lathe_status_t st =
      match_files(o->inputs, o->num_inputs, s->input_info, s->num_inputs, "input", paths);
  for (int32_t k = 0; !st && k < s->num_inputs; ++k) {
    if (!paths[k]) {
      char type[256];
      cli_format_info(&s->input_info[k], type, sizeof type);
      st = fail("input '%s' (%s) is not given (-i %s=FILE.npy)", s->input_info[k].name, type,
                s->input_info[k].name);
    } else {
      st = lathe_tensor_read(paths[k], &s->inputs[k]);
    }
  }
  free(paths);
  return st;
}

static lathe_status_t start(const options_t *o, session_t *s) {
  lathe_options_t *options;
  LATHE_CLI_TRY(cli_make_options(&o->model_args, &options));
  lathe_status_t st = cli_open_compiled(o->model, options, &s->compiled);
  lathe_options_destroy(options);
  LATHE_CLI_TRY(st);
  s->num_inputs = lathe_compiled_num_inputs(s->compiled);
  s->num_outputs = lathe_compiled_num_outputs(s->compiled);
  s->inputs = calloc((size_t)s->num_inputs + 1, sizeof *s->inputs);
  s->outputs = calloc((size_t)s->num_outputs + 1, sizeof *s->outputs);
  s->input_info = calloc((size_t)s->num_inputs + 1, sizeof *s->input_info);
  s->output_info = calloc((size_t)s->num_outputs + 1, sizeof *s->output_info);
  if (!s->inputs || !s->outputs || !s->input_info || !s->output_info) return fail("out of memory");
  for (int32_t k = 0; k < s->num_inputs; ++k)
    LATHE_CLI_TRY(lathe_compiled_input_info(s->compiled, k, &s->input_info[k]));
  for (int32_t k = 0; k < s->num_outputs; ++k)
    LATHE_CLI_TRY(lathe_compiled_output_info(s->compiled, k, &s->output_info[k]));
  LATHE_CLI_TRY(load_inputs(o, s));
  LATHE_CLI_TRY(lathe_compiled_output_shapes(s->compiled, s->inputs, s->num_inputs, s->outputs,
                                             s->num_outputs));
  for (int32_t k = 0; k < s->num_outputs; ++k) {
    lathe_rt_tensor_t shape = s->outputs[k];
    LATHE_CLI_TRY(lathe_tensor_alloc(shape.dtype, shape.rank, shape.dims, &s->outputs[k]));
  }
  return lathe_context_create(s->compiled, &s->context);
}

static lathe_status_t run_once(session_t *s) {
  return lathe_context_run(s->context, s->inputs, s->num_inputs, s->outputs, s->num_outputs);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* N timed runs after the warm-up run start() already did. */
static lathe_status_t bench(session_t *s, long long n) {
  double *ms = malloc((size_t)n * sizeof *ms);
  if (!ms) return fail("out of memory");
  lathe_status_t st = NULL;
  for (long long i = 0; i < n && !st; ++i) {
    double t0 = now_ms();
    st = run_once(s);
    ms[i] = now_ms() - t0;
  }
  if (!st) {
    qsort(ms, (size_t)n, sizeof *ms, by_value);
    double median = n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
    printf("runs=%lld min_ms=%.4f\n", n, ms[0]);
    printf("median_ms=%.4f\n", median);
  }
  free(ms);
  return st;
}

/* Output names may hold '/' (ONNX's "/fc/Add_output_0"): files are named
 * after the output as a C identifier, the same for a model and its library. */
static lathe_status_t write_outputs(const char *dir, const session_t *s) {
  if (mkdir(dir, 0777) != 0 && errno != EEXIST) return fail("cannot create folder '%s'", dir);
  for (int32_t k = 0; k < s->num_outputs; ++k) {
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/", dir);
    for (const char *c = s->output_info[k].name; *c && n + 5 < (int)sizeof path; ++c)
      path[n++] = isalnum((unsigned char)*c) ? *c : '_';
    snprintf(path + n, sizeof path - (size_t)n, ".npy");
    LATHE_CLI_TRY(lathe_tensor_write_npy(path, &s->outputs[k]));
  }
  return NULL;
}

/* Compares every --check; prints one line each; false on a mismatch. */
static lathe_status_t check(const options_t *o, const session_t *s, bool *out_ok) {
  const char **paths = calloc((size_t)s->num_outputs + 1, sizeof *paths);
  if (!paths) return fail("out of memory");
  lathe_status_t st =
      match_files(o->checks, o->num_checks, s->output_info, s->num_outputs, "output", paths);
  bool ok = true;
  for (int32_t k = 0; !st && k < s->num_outputs; ++k) {
    if (!paths[k]) continue;
    lathe_rt_tensor_t ref;
    st = lathe_tensor_read(paths[k], &ref);
    lathe_tensor_diff_t d;
    if (!st) st = lathe_tensor_compare(&s->outputs[k], &ref, o->rtol, o->atol, &d);
    lathe_tensor_free(&ref);
    if (st) { /* say which output and file */
      lathe_status_t named = fail("output '%s' against '%s': %s", s->output_info[k].name, paths[k],
                                  lathe_status_message(st));
      lathe_status_free(st);
      st = named;
      break;
    }
    bool match = d.num_mismatched == 0;
    printf("check %s: %s max_abs=%.3g max_rel=%.3g mismatched=%lld/%lld\n", s->output_info[k].name,
           match ? "ok" : "MISMATCH", d.max_abs, d.max_rel, (long long)d.num_mismatched,
           (long long)d.num_elements);
    if (!match) {
      if (ok)
        st = fail("output '%s' differs from '%s': max abs error %.3g, max rel error "
                  "%.3g, %lld of %lld elements beyond rtol %g atol %g",
                  s->output_info[k].name, paths[k], d.max_abs, d.max_rel,
                  (long long)d.num_mismatched, (long long)d.num_elements, o->rtol, o->atol);
      ok = false;
    }
  }
  free(paths);
  *out_ok = ok;
  return st;
}

/* Element i of a dense tensor as text, or false for dtypes not shown. */
static bool format_element(const lathe_rt_tensor_t *t, int64_t i, char *buf, size_t size) {
  switch (t->dtype) {
  case LATHE_RT_DTYPE_F32: snprintf(buf, size, "%.6g", ((const float *)t->data)[i]); return true;
  case LATHE_RT_DTYPE_F64: snprintf(buf, size, "%.6g", ((const double *)t->data)[i]); return true;
  case LATHE_RT_DTYPE_I32: snprintf(buf, size, "%d", ((const int32_t *)t->data)[i]); return true;
  case LATHE_RT_DTYPE_I64:
    snprintf(buf, size, "%lld", (long long)((const int64_t *)t->data)[i]);
    return true;
  case LATHE_RT_DTYPE_BOOL:
  case LATHE_RT_DTYPE_U8: snprintf(buf, size, "%u", ((const uint8_t *)t->data)[i]); return true;
  default: return false;
  }
}

/* "y: f32[3, 32] = [0.1, -2, ...]" (values for the common dtypes). */
static void print_output(const lathe_tensor_info_t *info, const lathe_rt_tensor_t *t) {
  char type[256], value[64];
  lathe_tensor_info_t shape = *info;
  for (int32_t d = 0; d < t->rank; ++d) shape.dims[d] = t->dims[d], shape.dim_names[d] = NULL;
  cli_format_info(&shape, type, sizeof type);
  printf("%s: %s", info->name, type);
  int64_t count = 1;
  for (int32_t d = 0; d < t->rank; ++d) count *= t->dims[d];
  int64_t shown = 0;
  for (; shown < count && shown < 8 && format_element(t, shown, value, sizeof value); ++shown)
    printf("%s%s", shown ? ", " : " = [", value);
  if (shown) printf("%s", count > shown ? ", ...]" : "]");
  printf("\n");
}

static lathe_status_t run(const options_t *o, bool *out_ok) {
  session_t s = {0};
  lathe_status_t st = start(o, &s);
  if (!st) st = run_once(&s);
  if (!st && o->outdir) st = write_outputs(o->outdir, &s);
  *out_ok = true;
  if (!st && o->num_checks) st = check(o, &s, out_ok);
  if (!st && o->bench) st = bench(&s, o->bench);
  if (!st && !o->outdir && !o->num_checks && !o->bench)
    for (int32_t k = 0; k < s.num_outputs; ++k) print_output(&s.output_info[k], &s.outputs[k]);
  session_free(&s);
  return st;
}

int lathe_cmd_run(int argc, char **argv) {
  options_t o = {.rtol = 1e-4, .atol = 1e-5, .model_args = CLI_MODEL_ARGS_INIT};
  int rc = parse_args(argc, argv, &o);
  bool ok = true;
  if (!rc) {
    lathe_status_t st = run(&o, &ok);
    rc = st ? cli_fail(st) : 0;
  }
  for (int f = 0; f < o.num_inputs; ++f) free((char *)o.inputs[f].name);
  for (int f = 0; f < o.num_checks; ++f) free((char *)o.checks[f].name);
  return rc < 0 ? 0 : rc;
}
