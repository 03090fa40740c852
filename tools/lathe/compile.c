/* `lathe compile MODEL -o OUT [--emit=KIND] [--embed-weights]`
 *
 * Compiles a model ahead of time. The default output is a shared library
 * exporting the program descriptor, with the weights in OUT.weights next to
 * it (or appended to it with --embed-weights); `lathe run OUT.so` and
 * lathe_compiled_load run it. The other kinds are the stages on the way:
 * graph IR after the passes, the kernel program, LLVM IR, assembly, an
 * object file.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "model_args.h"

static const char usage[] =
    "usage: lathe compile MODEL -o OUT [--emit=KIND] [--embed-weights] [options]\n"
    "\n"
    "Compiles MODEL (.onnx, a Hugging Face folder or .lir). KIND is one of\n"
    "  so         a shared library (default) + its weights in OUT.weights\n"
    "  obj        a position-independent object file\n"
    "  asm        target assembly\n"
    "  llvm       LLVM IR after optimisation\n"
    "  cuda       CUDA C (--target cuda)\n"
    "  ptx        PTX (--target cuda; the lowest architecture of the target)\n"
    "  kernel-ir  the lowered kernel program\n"
    "  ir         the graph IR after the passes\n"
    "Text kinds go to stdout without -o (or with -o -).\n"
    "\n"
    "options:\n"
    "  -o OUT                   output file\n"
    "  --emit=KIND              what to write (see above)\n"
    "  --embed-weights          append the weights to the .so instead of "
    "OUT.weights\n" CLI_MODEL_ARGS_HELP "  -h, --help               show this help\n";

static const struct {
  const char *name;
  lathe_emit_t kind;
  bool text;
} kinds[] = {
    {"so", LATHE_EMIT_SHARED, false},
    {"obj", LATHE_EMIT_OBJECT, false},
    {"asm", LATHE_EMIT_ASM, false},
    {"llvm", LATHE_EMIT_LLVM, true},
    {"cuda", LATHE_EMIT_CUDA, true},
    {"ptx", LATHE_EMIT_PTX, false},
    {"kernel-ir", LATHE_EMIT_KERNEL_IR, true},
    {"ir", LATHE_EMIT_IR, true},
};
#define NUM_KINDS (sizeof kinds / sizeof kinds[0])

typedef struct {
  const char *model, *output;
  size_t kind;
  bool embed;
  cli_model_args_t model_args;
} options_t;

static int parse_args(int argc, char **argv, options_t *o) {
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i], *v;
    int taken = cli_model_arg(argc, argv, &i, "compile", &o->model_args);
    if (taken < 0) return 2;
    if (taken) continue;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(usage, stdout);
      return -1;
    } else if ((v = cli_flag_value(argc, argv, &i, "-o"))) {
      o->output = v;
    } else if ((v = cli_flag_value(argc, argv, &i, "--emit"))) {
      o->kind = NUM_KINDS;
      for (size_t k = 0; k < NUM_KINDS; ++k)
        if (!strcmp(kinds[k].name, v)) o->kind = k;
      if (o->kind == NUM_KINDS) {
        fprintf(stderr,
                "lathe: error: compile: unknown --emit kind '%s' (so, obj, asm, llvm, cuda, ptx, "
                "kernel-ir, ir)\n",
                v);
        return 2;
      }
    } else if (!strcmp(a, "--embed-weights")) {
      o->embed = true;
    } else if (a[0] == '-' && a[1] != '\0') {
      fprintf(stderr, "lathe: error: compile: unknown option '%s' (see 'lathe compile --help')\n",
              a);
      return 2;
    } else if (o->model) {
      fprintf(stderr, "lathe: error: compile: more than one model ('%s' and '%s')\n", o->model, a);
      return 2;
    } else {
      o->model = a;
    }
  }
  if (!o->model) {
    fputs("lathe: error: compile: no model given (see 'lathe compile --help')\n", stderr);
    return 2;
  }
  if (!o->output && !kinds[o->kind].text) {
    fprintf(stderr, "lathe: error: compile: --emit=%s needs an output file (-o OUT)\n",
            kinds[o->kind].name);
    return 2;
  }
  if (o->embed && kinds[o->kind].kind != LATHE_EMIT_SHARED) {
    fputs("lathe: error: compile: --embed-weights applies to --emit=so only\n", stderr);
    return 2;
  }
  return 0;
}

static lathe_status_t compile(const options_t *o) {
  lathe_options_t *options;
  LATHE_CLI_TRY(cli_make_options(&o->model_args, &options));
  lathe_model_t *m = NULL;
  lathe_status_t st = lathe_model_open(o->model, options, &m);
  if (!st)
    st = lathe_model_emit(m, kinds[o->kind].kind, o->output ? o->output : "-",
                          o->embed ? LATHE_EMIT_EMBED_WEIGHTS : 0);
  lathe_model_destroy(m);
  lathe_options_destroy(options);
  return st;
}

int lathe_cmd_compile(int argc, char **argv) {
  options_t o = {.model_args = CLI_MODEL_ARGS_INIT};
  int rc = parse_args(argc, argv, &o);
  if (rc) return rc < 0 ? 0 : rc;
  lathe_status_t st = compile(&o);
  return st ? cli_fail(st) : 0;
}
