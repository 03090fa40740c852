/* Helpers the compile, run and inspect subcommands share (model_args.c).
 * They use only the public API (lathe/lathe.h): the CLI is a client of it
 * like any host application. */
#ifndef LATHE_TOOLS_LATHE_MODEL_ARGS_H
#define LATHE_TOOLS_LATHE_MODEL_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "lathe/lathe.h"

/* Returns early with the status of a failing API call. */
#define LATHE_CLI_TRY(expr)              \
  do {                                   \
    lathe_status_t cli_status_ = (expr); \
    if (cli_status_) return cli_status_; \
  } while (0)

#define CLI_MAX_CONST_INPUTS 64

/* The compile options on a command line; -1 / NULL = not given. */
typedef struct cli_model_args {
  const char *target, *passes, *calibration;
  int opt_level, threads;
  const char *const_inputs[CLI_MAX_CONST_INPUTS]; /* "NAME=FILE" */
  int num_const_inputs;
} cli_model_args_t;

#define CLI_MODEL_ARGS_INIT \
  { .opt_level = -1, .threads = -1 }

/* The option help lines every command that compiles prints. */
#define CLI_MODEL_ARGS_HELP                                                           \
  "  --target T               cpu (machine code, the default), cuda (NVIDIA GPUs,\n"  \
  "                           cuda:sm_90 for one architecture) or interp (the\n"      \
  "                           reference interpreter)\n"                               \
  "  -O0 .. -O3               optimisation level (default 3; 0: no graph passes)\n"   \
  "  --passes P               graph pass pipeline instead of the default\n"           \
  "                           'canonicalize,cse,fold-constants,dce' (see lathe-opt\n" \
  "                           --list-passes)\n"                                       \
  "  --threads N              threads per run, 0 = one per core (default)\n"          \
  "  --calibration PATH       calibration samples for passes that ask for them\n"     \
  "  --const-input NAME=FILE  give ONNX graph input NAME the value in FILE (.npy\n"   \
  "                           or a TensorProto .pb): the model is specialized to\n"   \
  "                           it, so shapes computed from it are known (repeatable)\n"

/* "--flag VALUE" or "--flag=VALUE": the value (advancing *i), else NULL. */
const char *cli_flag_value(int argc, char **argv, int *i, const char *flag);
bool cli_parse_int(const char *text, long long min, long long max, long long *out);
/* Consumes argv[*i] when it is a shared option: 1 taken, 0 not ours, -1 a bad
 * value (already reported). */
int cli_model_arg(int argc, char **argv, int *i, const char *cmd, cli_model_args_t *a);
lathe_status_t cli_make_options(const cli_model_args_t *a, lathe_options_t **out_options);
/* Prints the status as one line ("LOCATION: error: ..." or "lathe: error:
 * ...") and frees it; returns 1, the error exit code. */
int cli_fail(lathe_status_t st);
/* A compiled shared library (loaded) rather than a model (compiled)? */
bool cli_is_library(const char *path);
/* Loads PATH.so, or opens and compiles a model. */
lathe_status_t cli_open_compiled(const char *path, const lathe_options_t *options,
                                 lathe_compiled_t **out_compiled);
/* "f32[N, 64]" */
void cli_format_info(const lathe_tensor_info_t *info, char *buf, size_t size);

#endif
