/* `lathe import MODEL.onnx [-o OUT.lir] [--weights OUT.safetensors]
 *                          [--const-input NAME=FILE.pb|FILE.npy ...]`
 * `lathe import MODEL_DIR ...` (a Hugging Face folder: config.json + safetensors)
 *
 * Imports an ONNX model or a Hugging Face model folder and writes its text
 * IR. Paths inside the IR (`@file("model.onnx", OFFSET)` views of raw_data
 * and external data, the `weights "..."` sidecar or checkpoint) are relative
 * to the output file's directory, which is where lathe-opt resolves them;
 * with the output on stdout, relative to the current directory.
 *
 * --const-input gives a graph input a value (an ONNX TensorProto file, as in
 * the test data sets, or an .npy array): the input becomes a constant. The
 * importer folds shape computations through fold-constants' evaluator,
 * which this tool hands it (frontend/ does not depend on passes/).
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "frontend/frontend.h"
#include "ir/text.h"
#include "lathe/lathe.h"
#include "passes/passes.h"

static const char usage[] =
    "usage: lathe import MODEL.onnx [-o OUT.lir] [--weights OUT.safetensors]\n"
    "       lathe import MODEL_DIR [-o OUT.lir] [--weights OUT.safetensors]\n"
    "\n"
    "Converts an ONNX model (default domain, opsets 7 to 24) to Lathe's text IR.\n"
    "Large constants stay in the model file (or its external-data files) and are\n"
    "referenced as @file(\"PATH\", OFFSET); small ones are written inline.\n"
    "\n"
    "A folder is read as a Hugging Face model (config.json plus model.safetensors\n"
    "or a sharded model.safetensors.index.json; model_type gpt2, opt or llama);\n"
    "its tensors are referenced by name in the checkpoint (docs/hf.md).\n"
    "\n"
    "options:\n"
    "  -o FILE                  write the IR to FILE instead of stdout\n"
    "  --weights FILE           write the large constants to a safetensors file and\n"
    "                           reference them by name instead\n"
    "  --inline-max N           constants with at most N elements are inline\n"
    "                           (default 16)\n"
    "  --const-input NAME=FILE  give graph input NAME the value in FILE (an ONNX\n"
    "                           TensorProto .pb or a NumPy .npy): it becomes a\n"
    "                           constant, so shapes and axes computed from it\n"
    "                           become attributes (repeatable; ONNX models only)\n"
    "  -h, --help               show this help\n";

typedef struct {
  const char *model, *output, *weights;
  int64_t inline_max;  /* -1: not given */
  char **const_inputs; /* NAME=FILE arguments, num_const_inputs of them */
  int num_const_inputs;
} options_t;

/* Accepts "--flag VALUE" and "--flag=VALUE"; advances *i past the value. */
static const char *flag_value(int argc, char **argv, int *i, const char *flag) {
  size_t n = strlen(flag);
  if (strncmp(argv[*i], flag, n)) return NULL;
  if (argv[*i][n] == '=') return argv[*i] + n + 1;
  if (argv[*i][n] == '\0' && *i + 1 < argc) return argv[++*i];
  return NULL;
}

static int parse_args(int argc, char **argv, options_t *o) {
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i], *v;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(usage, stdout);
      return -1;
    } else if ((v = flag_value(argc, argv, &i, "-o"))) {
      o->output = v;
    } else if ((v = flag_value(argc, argv, &i, "--weights"))) {
      o->weights = v;
    } else if ((v = flag_value(argc, argv, &i, "--inline-max"))) {
      char *end;
      long long n = strtoll(v, &end, 10);
      if (*end || n < 0) {
        fprintf(stderr, "lathe: error: --inline-max needs a non-negative integer, not '%s'\n", v);
        return 2;
      }
      o->inline_max = n;
    } else if ((v = flag_value(argc, argv, &i, "--const-input"))) {
      const char *eq = strchr(v, '=');
      if (!eq || eq == v || !eq[1]) {
        fprintf(stderr, "lathe: error: --const-input needs NAME=FILE, not '%s'\n", v);
        return 2;
      }
      o->const_inputs[o->num_const_inputs++] = (char *)v;
    } else if (!strcmp(a, "--const-input")) { /* last, without its value */
      fputs("lathe: error: --const-input needs NAME=FILE\n", stderr);
      return 2;
    } else if (a[0] == '-' && a[1] != '\0') {
      fprintf(stderr, "lathe: error: import: unknown option '%s' (see 'lathe import --help')\n", a);
      return 2;
    } else if (o->model) {
      fprintf(stderr, "lathe: error: import: more than one model ('%s' and '%s')\n", o->model, a);
      return 2;
    } else {
      o->model = a;
    }
  }
  if (!o->model) {
    fputs("lathe: error: import: no model given (see 'lathe import --help')\n", stderr);
    return 2;
  }
  if (o->output && !strcmp(o->output, "-")) o->output = NULL;
  return 0;
}

/* ---- paths ----------------------------------------------------------------- */

/* The canonical absolute directory holding `path` (which need not exist). */
static lathe_status_t abs_dir_of(const char *path, char *out /* PATH_MAX */) {
  char dir[PATH_MAX];
  const char *slash = strrchr(path, '/');
  if (!slash) snprintf(dir, sizeof dir, ".");
  else if (slash == path) snprintf(dir, sizeof dir, "/");
  else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
  if (!realpath(dir, out))
    return lathe_status_make(LATHE_STATUS_IO_ERROR, "%s: directory '%s' does not exist", path, dir);
  return NULL;
}

/* The relative path from absolute directory `from` to absolute directory
 * `to` ("." when equal), into sb. */
static void relative_dir(const char *from, const char *to, lathe_strbuf_t *sb) {
  size_t common = 0; /* length of the shared leading components */
  for (size_t i = 0;; ++i) {
    bool end_f = from[i] == '\0' || from[i] == '/', end_t = to[i] == '\0' || to[i] == '/';
    if (end_f && end_t) common = i;
    if (from[i] != to[i] || !from[i]) break;
  }
  bool first = true;
  for (const char *p = from + common; *p; ++p)
    if (*p == '/' && p[1]) {
      lathe_strbuf_append(sb, first ? ".." : "/..");
      first = false;
    }
  const char *rest = to + common;
  while (*rest == '/') ++rest;
  if (*rest) {
    if (!first) lathe_strbuf_putc(sb, '/');
    lathe_strbuf_append(sb, rest);
    first = false;
  }
  if (first) lathe_strbuf_append(sb, ".");
}

/* How `target` is written in a file that lives in `out_dir`. */
static lathe_status_t display_dir(const char *out_dir, const char *target, lathe_strbuf_t *sb) {
  char to[PATH_MAX];
  LATHE_RETURN_IF_ERROR(abs_dir_of(target, to));
  relative_dir(out_dir, to, sb);
  return NULL;
}

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

/* ---- --const-input --------------------------------------------------------- */

/* Reads "NAME=FILE" (.npy or TensorProto .pb, as lathe_tensor_read takes)
 * into *out; *out_value owns the data, the caller frees both. */
static lathe_status_t read_value(const char *arg, lathe_rt_tensor_t *out_value,
                                 lathe_onnx_const_input_t *out) {
  const char *eq = strchr(arg, '=');
  lathe_onnx_const_input_t c = {.name = strndup(arg, (size_t)(eq - arg)), .source = eq + 1};
  if (!c.name) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  lathe_status_t st = lathe_tensor_read(eq + 1, out_value);
  if (st) {
    free((char *)c.name);
    return lathe_status_annotate(st, "--const-input %.*s", (int)(eq - arg), arg);
  }
  c.dtype = (lathe_dtype_t)out_value->dtype; /* the codes are the IR's (test_dtype) */
  c.rank = (uint32_t)out_value->rank;
  c.dims = out_value->dims;
  c.data = out_value->data;
  c.num_bytes = out_value->byte_size;
  *out = c;
  return NULL;
}

typedef struct {
  lathe_onnx_const_input_t *inputs;
  lathe_rt_tensor_t *tensors; /* own the inputs' data and dims */
  int count;
} values_t;

static void values_free(values_t *v) {
  for (int i = 0; i < v->count; ++i) {
    free((char *)v->inputs[i].name);
    lathe_tensor_free(&v->tensors[i]);
  }
  free(v->inputs);
  free(v->tensors);
}

static lathe_status_t read_values(const options_t *o, values_t *out) {
  int n = o->num_const_inputs;
  values_t v = {.inputs = calloc((size_t)n + 1, sizeof *v.inputs),
                .tensors = calloc((size_t)n + 1, sizeof *v.tensors)};
  if (!v.inputs || !v.tensors) {
    values_free(&v);
    return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  for (; v.count < n; ++v.count) {
    lathe_status_t st =
        read_value(o->const_inputs[v.count], &v.tensors[v.count], &v.inputs[v.count]);
    if (st) {
      values_free(&v);
      return st;
    }
  }
  *out = v;
  return NULL;
}

/* ---- the command ----------------------------------------------------------- */

static lathe_status_t write_text(const char *path, const lathe_module_t *m) {
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  lathe_module_print(&sb, m);
  FILE *f = path ? fopen(path, "wb") : stdout;
  lathe_status_t st = NULL;
  if (!f) {
    st = lathe_status_make(LATHE_STATUS_IO_ERROR, "cannot write '%s'", path);
  } else {
    size_t n = fwrite(sb.data ? sb.data : "", 1, sb.len, f);
    if ((f != stdout ? fclose(f) : fflush(f)) != 0 || n != sb.len)
      st = lathe_status_make(LATHE_STATUS_IO_ERROR, "cannot write '%s'", path ? path : "stdout");
  }
  lathe_strbuf_destroy(&sb);
  return st;
}

static lathe_status_t run(const options_t *o) {
  char out_dir[PATH_MAX];
  if (o->output) LATHE_RETURN_IF_ERROR(abs_dir_of(o->output, out_dir));
  else if (!getcwd(out_dir, sizeof out_dir))
    return lathe_status_make(LATHE_STATUS_IO_ERROR, "cannot read the current directory");

  lathe_strbuf_t model_dir, weights_path;
  lathe_strbuf_init(&model_dir);
  lathe_strbuf_init(&weights_path);
  lathe_module_t *m = NULL;
  /* display_dir names the folder holding a file, so a model folder is named
   * through a file inside it. */
  struct stat model_stat;
  bool hf = stat(o->model, &model_stat) == 0 && S_ISDIR(model_stat.st_mode);
  lathe_strbuf_t inside;
  lathe_strbuf_init(&inside);
  lathe_strbuf_printf(&inside, "%s/config.json", o->model);
  lathe_status_t st = display_dir(out_dir, hf ? lathe_strbuf_cstr(&inside) : o->model, &model_dir);
  lathe_strbuf_destroy(&inside);
  values_t values = {0};
  if (!st && hf && o->num_const_inputs)
    st = lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                           "--const-input applies to ONNX models, not model folders");
  if (!st && !hf) st = read_values(o, &values);
  if (!st && hf) {
    lathe_hf_import_options_t opts = {.display_dir = lathe_strbuf_cstr(&model_dir)};
    st = lathe_hf_import(o->model, &opts, &m);
  } else if (!st) {
    /* The importer reads 0 as "default" and a negative count as "never". */
    lathe_onnx_import_options_t opts = {
        .display_dir = lathe_strbuf_cstr(&model_dir),
        .inline_max_elements = o->inline_max < 0    ? 0
                               : o->inline_max == 0 ? -1
                                                    : o->inline_max,
        .const_inputs = values.inputs,
        .num_const_inputs = (size_t)values.count,
        .fold = lathe_fold_evaluate,
    };
    st = lathe_onnx_import_file(o->model, &opts, &m);
  }
  if (!st && o->weights) {
    st = display_dir(out_dir, o->weights, &weights_path);
    if (!st) {
      if (strcmp(lathe_strbuf_cstr(&weights_path), ".")) lathe_strbuf_putc(&weights_path, '/');
      else lathe_strbuf_destroy(&weights_path);
      lathe_strbuf_append(&weights_path, base_name(o->weights));
      int64_t max = o->inline_max < 0 ? LATHE_ONNX_DEFAULT_INLINE_MAX : o->inline_max;
      st = lathe_sidecar_write(m, o->weights, lathe_strbuf_cstr(&weights_path), max);
    }
  }
  if (!st) st = write_text(o->output, m);
  values_free(&values);
  lathe_module_destroy(m);
  lathe_strbuf_destroy(&model_dir);
  lathe_strbuf_destroy(&weights_path);
  return st;
}

int lathe_cmd_import(int argc, char **argv) {
  options_t o = {.inline_max = -1, .const_inputs = calloc((size_t)argc, sizeof(char *))};
  if (!o.const_inputs) return 1;
  int rc = parse_args(argc, argv, &o);
  lathe_status_t st = rc ? NULL : run(&o);
  free(o.const_inputs);
  if (rc) return rc < 0 ? 0 : rc;
  if (st) {
    lathe_status_print(stderr, "lathe", st);
    lathe_status_free(st);
    return 1;
  }
  return 0;
}
