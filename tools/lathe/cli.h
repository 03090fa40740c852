/* The `lathe` driver's subcommands. Each takes the arguments after its name
 * (argv[0] is the subcommand) and returns the process exit code: 0 success,
 * 1 error (one line on stderr), 2 usage error. Only these and main() print
 * or exit; the work is done by the libraries.
 */
#ifndef LATHE_TOOLS_LATHE_CLI_H
#define LATHE_TOOLS_LATHE_CLI_H

#include "ir/ir.h"

int lathe_cmd_import(int argc, char **argv);
int lathe_cmd_compile(int argc, char **argv);
int lathe_cmd_run(int argc, char **argv);
int lathe_cmd_inspect(int argc, char **argv);

/* Moves every constant of `module` with more than `inline_max` elements
 * (except splats and packed dtypes) into a new safetensors file at `path`,
 * declares it as a weight source printed as `display_path`, and points the
 * const ops at its tensors by name. */
lathe_status_t lathe_sidecar_write(lathe_module_t *module, const char *path,
                                   const char *display_path, int64_t inline_max);

#endif
