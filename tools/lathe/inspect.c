/* `lathe inspect MODEL|LIB.so [--bind N=8,...]`
 *
 * What a model is made of, after the graph passes: inputs and outputs, the op
 * histogram, parameters, FLOPs, the kernels it lowers to and the planned peak
 * of temporaries (the runtime's buffer plan), and the ops the target cannot
 * lower. For a compiled library only the signature and the planned peak are
 * known. Symbolic sizes are bound by --bind (unbound ones count as 1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "model_args.h"

static const char usage[] =
    "usage: lathe inspect MODEL|LIB.so [--bind NAME=SIZE,...] [options]\n"
    "\n"
    "Prints the inputs and outputs of MODEL after its graph passes, the op\n"
    "histogram, parameter count and bytes, FLOPs, the kernels it lowers to, the\n"
    "planned peak memory of its temporaries, and any op the target cannot lower.\n"
    "FLOPs and memory are for symbolic sizes bound by --bind; unbound ones are 1.\n"
    "\n"
    "options:\n"
    "  --bind NAME=SIZE,...     values of symbolic dims (e.g. N=8,seq=128)\n" CLI_MODEL_ARGS_HELP
    "  -h, --help               show this help\n";

typedef struct {
  const char *model, *bind;
  cli_model_args_t model_args;
} options_t;

static int parse_args(int argc, char **argv, options_t *o) {
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i], *v;
    int taken = cli_model_arg(argc, argv, &i, "inspect", &o->model_args);
    if (taken < 0) return 2;
    if (taken) continue;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(usage, stdout);
      return -1;
    } else if ((v = cli_flag_value(argc, argv, &i, "--bind"))) {
      o->bind = v;
    } else if (a[0] == '-' && a[1] != '\0') {
      fprintf(stderr, "lathe: error: inspect: unknown option '%s' (see 'lathe inspect --help')\n",
              a);
      return 2;
    } else if (o->model) {
      fprintf(stderr, "lathe: error: inspect: more than one model ('%s' and '%s')\n", o->model, a);
      return 2;
    } else {
      o->model = a;
    }
  }
  if (!o->model) {
    fputs("lathe: error: inspect: no model given (see 'lathe inspect --help')\n", stderr);
    return 2;
  }
  return 0;
}

/* "12.3 MiB" */
static void format_bytes(double bytes, char *buf, size_t size) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) bytes /= 1024, ++u;
  snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

/* "1.23 GFLOP" */
static void format_flops(double flops, char *buf, size_t size) {
  static const char *const units[] = {"", "K", "M", "G", "T", "P"};
  int u = 0;
  while (flops >= 1000 && u < 5) flops /= 1000, ++u;
  snprintf(buf, size, "%.3g %sFLOP", flops, units[u]);
}

typedef lathe_status_t (*info_fn)(const void *handle, int32_t index, lathe_tensor_info_t *out);

static lathe_status_t print_signature(const char *title, const void *handle, int32_t n,
                                      info_fn info) {
  printf("%s:\n", title);
  for (int32_t k = 0; k < n; ++k) {
    lathe_tensor_info_t t;
    LATHE_CLI_TRY(info(handle, k, &t));
    char type[256];
    cli_format_info(&t, type, sizeof type);
    printf("  %-24s %s\n", t.name, type);
  }
  return NULL;
}

static lathe_status_t model_input(const void *m, int32_t i, lathe_tensor_info_t *out) {
  return lathe_model_input_info(m, i, out);
}
static lathe_status_t model_output(const void *m, int32_t i, lathe_tensor_info_t *out) {
  return lathe_model_output_info(m, i, out);
}
static lathe_status_t lib_input(const void *c, int32_t i, lathe_tensor_info_t *out) {
  return lathe_compiled_input_info(c, i, out);
}
static lathe_status_t lib_output(const void *c, int32_t i, lathe_tensor_info_t *out) {
  return lathe_compiled_output_info(c, i, out);
}

static lathe_status_t inspect_model(const options_t *o, const lathe_options_t *options) {
  lathe_model_t *m;
  LATHE_CLI_TRY(lathe_model_open(o->model, options, &m));
  lathe_model_stats_t s;
  lathe_status_t st = lathe_model_stats(m, o->bind, &s);
  if (!st) st = print_signature("inputs", m, lathe_model_num_inputs(m), model_input);
  if (!st) st = print_signature("outputs", m, lathe_model_num_outputs(m), model_output);
  if (!st) {
    char text[64];
    printf("ops: %lld\n", (long long)s.num_ops);
    for (int32_t k = 0; k < s.num_op_kinds; ++k) {
      format_flops(s.op_kinds[k].flops, text, sizeof text);
      printf("  %-24s %6lld  %s\n", s.op_kinds[k].op, (long long)s.op_kinds[k].count, text);
    }
    format_bytes((double)s.parameter_bytes, text, sizeof text);
    printf("parameters: %lld (%s)\n", (long long)s.num_parameters, text);
    format_flops(s.flops, text, sizeof text);
    printf("flops: %s\n", text);
    if (s.num_unsupported) {
      printf("kernels: none (the model does not lower)\n");
      printf("planned peak memory: unknown\n");
      for (int32_t k = 0; k < s.num_unsupported; ++k) printf("unsupported: %s\n", s.unsupported[k]);
    } else {
      format_bytes((double)s.peak_bytes, text, sizeof text);
      printf("kernels: %d\n", (int)s.num_kernels);
      printf("planned peak memory: %llu bytes (%s of temporaries)\n",
             (unsigned long long)s.peak_bytes, text);
      printf("unsupported: none\n");
    }
  }
  lathe_model_destroy(m);
  return st;
}

/* A library: its signature, and the plan for inputs at the bound sizes. */
static lathe_status_t inspect_library(const options_t *o, const lathe_options_t *options) {
  lathe_compiled_t *c;
  LATHE_CLI_TRY(lathe_compiled_load(o->model, options, &c));
  int32_t n = lathe_compiled_num_inputs(c);
  lathe_status_t st = print_signature("inputs", c, n, lib_input);
  if (!st) st = print_signature("outputs", c, lathe_compiled_num_outputs(c), lib_output);
  lathe_rt_tensor_t *inputs = calloc((size_t)n + 1, sizeof *inputs);
  if (!st && !inputs) st = lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  for (int32_t k = 0; !st && k < n; ++k) {
    lathe_tensor_info_t t;
    st = lathe_compiled_input_info(c, k, &t);
    inputs[k] = (lathe_rt_tensor_t){.dtype = t.dtype, .rank = t.rank};
    for (int32_t d = 0; !st && d < t.rank; ++d) {
      inputs[k].dims[d] = t.dims[d] >= 0 ? t.dims[d] : 1;
      for (const char *p = o->bind; t.dim_names[d] && p && *p;) {
        size_t len = strcspn(p, ", "), name = strlen(t.dim_names[d]);
        if (len > name && !strncmp(p, t.dim_names[d], name) && p[name] == '=')
          inputs[k].dims[d] = strtoll(p + name + 1, NULL, 10);
        p += len + (p[len] != '\0');
      }
    }
  }
  uint64_t peak;
  if (!st) st = lathe_compiled_peak_bytes(c, inputs, n, &peak);
  if (!st) printf("planned peak memory: %llu bytes\n", (unsigned long long)peak);
  free(inputs);
  lathe_compiled_destroy(c);
  return st;
}

int lathe_cmd_inspect(int argc, char **argv) {
  options_t o = {.model_args = CLI_MODEL_ARGS_INIT};
  int rc = parse_args(argc, argv, &o);
  if (rc) return rc < 0 ? 0 : rc;
  lathe_options_t *options;
  lathe_status_t st = cli_make_options(&o.model_args, &options);
  if (st) return cli_fail(st);
  printf("model: %s\n", o.model);
  st = cli_is_library(o.model) ? inspect_library(&o, options) : inspect_model(&o, options);
  lathe_options_destroy(options);
  return st ? cli_fail(st) : 0;
}
