/* What compile, run and inspect share: the compile options every one of them
 * takes (--target, -O, --passes, --threads, --calibration, --const-input),
 * turned into a
 * lathe_options_t, and one-line error reporting through the public API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_args.h"

const char *cli_flag_value(int argc, char **argv, int *i, const char *flag) {
  size_t n = strlen(flag);
  if (strncmp(argv[*i], flag, n)) return NULL;
  if (argv[*i][n] == '=') return argv[*i] + n + 1;
  if (argv[*i][n] == '\0' && *i + 1 < argc) return argv[++*i];
  return NULL;
}

bool cli_parse_int(const char *text, long long min, long long max, long long *out) {
  char *end;
  long long v = strtoll(text, &end, 10);
  if (!*text || *end || v < min || v > max) return false;
  *out = v;
  return true;
}

int cli_model_arg(int argc, char **argv, int *i, const char *cmd, cli_model_args_t *a) {
  const char *arg = argv[*i], *v;
  long long n;
  if (!strncmp(arg, "-O", 2) && arg[2] && !arg[3]) {
    if (!cli_parse_int(arg + 2, 0, 3, &n)) {
      fprintf(stderr, "lathe: error: %s: -O takes 0 to 3, not '%s'\n", cmd, arg + 2);
      return -1;
    }
    a->opt_level = (int)n;
  } else if ((v = cli_flag_value(argc, argv, i, "--target"))) {
    a->target = v;
  } else if ((v = cli_flag_value(argc, argv, i, "--passes"))) {
    a->passes = v;
  } else if ((v = cli_flag_value(argc, argv, i, "--calibration"))) {
    a->calibration = v;
  } else if ((v = cli_flag_value(argc, argv, i, "--const-input"))) {
    const char *eq = strchr(v, '=');
    if (!eq || eq == v || !eq[1]) {
      fprintf(stderr, "lathe: error: %s: --const-input takes NAME=FILE, not '%s'\n", cmd, v);
      return -1;
    }
    if (a->num_const_inputs == CLI_MAX_CONST_INPUTS) {
      fprintf(stderr, "lathe: error: %s: more than %d --const-input options\n", cmd,
              CLI_MAX_CONST_INPUTS);
      return -1;
    }
    a->const_inputs[a->num_const_inputs++] = v;
  } else if ((v = cli_flag_value(argc, argv, i, "--threads"))) {
    if (!cli_parse_int(v, 0, 4096, &n)) {
      fprintf(stderr, "lathe: error: %s: --threads takes a count (0 = all cores), not '%s'\n", cmd,
              v);
      return -1;
    }
    a->threads = (int)n;
  } else {
    return 0;
  }
  return 1;
}

/* "NAME=FILE": FILE's tensor becomes NAME's value. */
static lathe_status_t set_const_input(lathe_options_t *o, const char *arg) {
  const char *eq = strchr(arg, '=');
  char name[256];
  snprintf(name, sizeof name, "%.*s", (int)(eq - arg), arg);
  lathe_rt_tensor_t value;
  lathe_status_t st = lathe_tensor_read(eq + 1, &value);
  if (!st) {
    st = lathe_options_set_const_input(o, name, &value);
    lathe_tensor_free(&value);
  }
  if (!st) return NULL;
  lathe_status_t named = lathe_status_make(lathe_status_code(st), "--const-input %s: %s", name,
                                           lathe_status_message(st));
  lathe_status_free(st);
  return named;
}

lathe_status_t cli_make_options(const cli_model_args_t *a, lathe_options_t **out_options) {
  lathe_options_t *o;
  LATHE_CLI_TRY(lathe_options_create(&o));
  lathe_status_t st = NULL;
  if (!st && a->target) st = lathe_options_set_target(o, a->target);
  if (!st && a->opt_level >= 0) st = lathe_options_set_opt_level(o, a->opt_level);
  if (!st && a->passes) st = lathe_options_set_passes(o, a->passes);
  if (!st && a->threads >= 0) st = lathe_options_set_num_threads(o, a->threads);
  if (!st && a->calibration) st = lathe_options_set_calibration(o, a->calibration);
  for (int k = 0; !st && k < a->num_const_inputs; ++k) st = set_const_input(o, a->const_inputs[k]);
  if (st) {
    lathe_options_destroy(o);
    return st;
  }
  *out_options = o;
  return NULL;
}

int cli_fail(lathe_status_t st) {
  const char *loc = lathe_status_location(st);
  fprintf(stderr, "%s: error: %s\n", loc ? loc : "lathe", lathe_status_message(st));
  lathe_status_free(st);
  return 1;
}

bool cli_is_library(const char *path) {
  size_t n = strlen(path);
  return n >= 3 && !strcmp(path + n - 3, ".so");
}

lathe_status_t cli_open_compiled(const char *path, const lathe_options_t *options,
                                 lathe_compiled_t **out_compiled) {
  if (cli_is_library(path)) return lathe_compiled_load(path, options, out_compiled);
  lathe_model_t *m;
  LATHE_CLI_TRY(lathe_model_open(path, options, &m));
  lathe_status_t st = lathe_model_compile(m, out_compiled);
  lathe_model_destroy(m);
  return st;
}

void cli_format_info(const lathe_tensor_info_t *info, char *buf, size_t size) {
  int n = snprintf(buf, size, "%s[", lathe_tensor_dtype_name(info->dtype));
  for (int32_t d = 0; d < info->rank && n > 0 && (size_t)n < size; ++d) {
    const char *sep = d ? ", " : "";
    if (info->dim_names[d])
      n += snprintf(buf + n, size - (size_t)n, "%s%s", sep, info->dim_names[d]);
    else if (info->dims[d] < 0) n += snprintf(buf + n, size - (size_t)n, "%s?", sep);
    else n += snprintf(buf + n, size - (size_t)n, "%s%lld", sep, (long long)info->dims[d]);
  }
  if (n > 0 && (size_t)n < size) snprintf(buf + n, size - (size_t)n, "]");
}
