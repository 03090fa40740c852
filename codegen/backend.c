/* The table of built-in backends, looked up by name.
 *
 * Kept apart from common.c so that backends (which use common.c's helpers)
 * and this registry (which names the backends) do not depend on each other
 * in a circle: lathe_codegen_common <- lathe_codegen_<backend> <- lathe_codegen.
 * A backend is added by one entry here and one library in CMakeLists.txt.
 */
#include <string.h>

#include "codegen/backend.h"
#include "codegen/cuda/cuda.h"
#include "codegen/llvm/llvm.h"

static const lathe_backend_t *const backends[] = {
    &lathe_codegen_llvm_backend,
    &lathe_codegen_cuda_backend,
};

const lathe_backend_t *lathe_backend_find(const char *name) {
  if (!name) return NULL;
  for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
    if (strcmp(backends[i]->name, name) == 0) return backends[i];
  return NULL;
}

const lathe_backend_t *const *lathe_backend_list(uint32_t *out_count) {
  *out_count = (uint32_t)(sizeof backends / sizeof backends[0]);
  return backends;
}
