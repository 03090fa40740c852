/* lathe: the command-line driver. `lathe COMMAND [options]`; one table lists
 * the subcommands, so adding one (compile, run, inspect) is one row plus its
 * file.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} command_t;

static const command_t commands[] = {
    {"import", lathe_cmd_import, "convert an ONNX model to text IR (.lir)"},
    {"compile", lathe_cmd_compile, "compile a model to a shared library (or IR, object...)"},
    {"run", lathe_cmd_run, "run a model or compiled library on .npy inputs"},
    {"inspect", lathe_cmd_inspect, "ops, parameters, FLOPs and planned memory of a model"},
};
#define NUM_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out) {
  fputs("usage: lathe COMMAND [options]\n"
        "\n"
        "commands:\n",
        out);
  for (size_t i = 0; i < NUM_COMMANDS; ++i)
    fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fputs("\n'lathe COMMAND --help' describes a command's options.\n", out);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
    if (argc > 2 && strcmp(cmd, "help") == 0) {
      char *help_argv[] = {argv[2], "--help", NULL};
      for (size_t i = 0; i < NUM_COMMANDS; ++i)
        if (!strcmp(commands[i].name, argv[2])) return commands[i].run(2, help_argv);
    }
    usage(stdout);
    return 0;
  }
  for (size_t i = 0; i < NUM_COMMANDS; ++i)
    if (!strcmp(commands[i].name, cmd)) return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "lathe: error: unknown command '%s' (see 'lathe --help')\n", cmd);
  return 2;
}
