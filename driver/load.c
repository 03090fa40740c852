/* Loading a compiled shared library: dlopen it, take the program descriptor
 * it exports as `lathe_program` (codegen/backend.h), check it like any
 * descriptor from disk, and map its weights from the library itself (when
 * they were embedded) or from the sidecar PATH.weights next to it.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "driver/internal.h"

void library_close(void *library) { dlclose(library); }

static lathe_status_t load_weights(lathe_compiled_t *c, const char *path) {
  LATHE_RETURN_IF_ERROR(lathe_rt_weights_create(c->program->num_weights, &c->weights));
  if (c->program->num_weights == 0) return NULL;
  lathe_status_t st = weights_file_load(c->program, path, c->weights);
  if (lathe_status_code(st) != LATHE_STATUS_NOT_FOUND) return st;
  lathe_status_free(st);
  lathe_strbuf_t sidecar;
  lathe_strbuf_init(&sidecar);
  lathe_strbuf_printf(&sidecar, "%s.weights", path);
  st = weights_file_load(c->program, lathe_strbuf_cstr(&sidecar), c->weights);
  if (lathe_status_code(st) == LATHE_STATUS_NOT_FOUND) {
    lathe_status_free(st);
    st = lathe_status_make(LATHE_STATUS_NOT_FOUND,
                           "%s: its weights are neither embedded nor in '%s'", path,
                           lathe_strbuf_cstr(&sidecar));
  }
  lathe_strbuf_destroy(&sidecar);
  return st;
}

lathe_status_t lathe_compiled_load(const char *path, const lathe_options_t *options,
                                   lathe_compiled_t **out_compiled) {
  if (!path || !out_compiled)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "compiled_load: NULL argument");
  /* dlopen searches the library path for names without a slash. */
  lathe_strbuf_t where;
  lathe_strbuf_init(&where);
  if (!strchr(path, '/')) lathe_strbuf_append(&where, "./");
  lathe_strbuf_append(&where, path);
  lathe_compiled_t *c;
  lathe_status_t st = compiled_new(COMPILED_LOADED, options ? options->num_threads : 0, &c);
  if (st) {
    lathe_strbuf_destroy(&where);
    return st;
  }
  c->library = dlopen(lathe_strbuf_cstr(&where), RTLD_NOW | RTLD_LOCAL);
  lathe_strbuf_destroy(&where);
  if (!c->library) {
    const char *why = dlerror();
    st = lathe_status_make(LATHE_STATUS_IO_ERROR, "%s: cannot load (%s)", path, why ? why : "?");
  }
  if (!st) {
    c->program = dlsym(c->library, "lathe_program");
    if (!c->program)
      st = lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                             "%s: exports no 'lathe_program' (not made by lathe compile?)", path);
  }
  if (!st) st = lathe_status_annotate(lathe_rt_program_validate(c->program), "%s", path);
  /* a CUDA library (codegen/cuda) carries its launch table and GPU images */
  const lathe_cuda_program_t *cuda = st ? NULL : dlsym(c->library, "lathe_program_cuda");
  if (cuda) st = lathe_status_annotate(lathe_rt_cuda_create(c->program, cuda, &c->cuda), "%s", path);
  if (!st) st = load_weights(c, path);
  if (st) {
    compiled_release(c);
    return st;
  }
  *out_compiled = c;
  return NULL;
}
