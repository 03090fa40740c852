/* Backend-independent helpers every backend shares: default options, the
 * weight-id numbering of CONST buffers (see backend.h), so that the driver
 * filling a weights table and each backend writing a descriptor agree, and
 * running the system C compiler.
 */
#include <errno.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>

#include "codegen/backend.h"

extern char **environ;

void lathe_codegen_options_init(lathe_codegen_options_t *out_options) {
  *out_options = (lathe_codegen_options_t){.target = NULL, .opt_level = 3, .vector_width = 0,
                                           .program_symbol = NULL};
}

static bool is_const_root(const lathe_kbuffer_t *b) {
  return b->role == LATHE_KBUF_CONST && b->view_of < 0;
}

int32_t lathe_codegen_weight_id(const lathe_kprogram_t *program, uint32_t buffer) {
  if (buffer >= program->num_buffers || !is_const_root(program->buffers[buffer])) return -1;
  int32_t id = 0;
  for (uint32_t i = 0; i < buffer; i++) id += is_const_root(program->buffers[i]);
  return id;
}

int32_t lathe_codegen_num_weights(const lathe_kprogram_t *program) {
  int32_t n = 0;
  for (uint32_t i = 0; i < program->num_buffers; i++) n += is_const_root(program->buffers[i]);
  return n;
}

lathe_status_t lathe_codegen_spawn(char *const *argv) {
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
  if (rc != 0)
    return lathe_status_make(LATHE_STATUS_IO_ERROR, "cannot run '%s': %s", argv[0], strerror(rc));
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return lathe_status_make(LATHE_STATUS_IO_ERROR, "waiting for '%s': %s", argv[0],
                               strerror(errno));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return lathe_status_make(LATHE_STATUS_IO_ERROR, "'%s' failed (exit status %d)", argv[0],
                             WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return NULL;
}
