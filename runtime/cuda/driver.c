/* The CUDA driver API through dlopen + dlsym.
 *
 * Lathe never links libcuda: a binary linked against it (even the toolkit's
 * stub) cannot start on a machine without the driver, and the stub's cuInit
 * fails anyway (dependency-probes §2). So the driver is opened when a CUDA
 * program is first loaded, and a machine without one gets a status naming
 * why: "no CUDA driver (libcuda.so.1: cannot open shared object file: No
 * such file or directory)". $LATHE_CUDA_DRIVER names another library with
 * the same functions (tests, emulators).
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cuda/internal.h"

static const struct {
  const char *name;
  size_t offset;
} symbols[] = {
    {"cuInit", offsetof(cu_api_t, init)},
    {"cuDeviceGet", offsetof(cu_api_t, device_get)},
    {"cuDeviceGetAttribute", offsetof(cu_api_t, device_attribute)},
    {"cuDevicePrimaryCtxRetain", offsetof(cu_api_t, primary_retain)},
    {"cuDevicePrimaryCtxRelease_v2", offsetof(cu_api_t, primary_release)},
    {"cuCtxSetCurrent", offsetof(cu_api_t, ctx_set_current)},
    {"cuModuleLoadData", offsetof(cu_api_t, module_load_data)},
    {"cuModuleUnload", offsetof(cu_api_t, module_unload)},
    {"cuModuleGetFunction", offsetof(cu_api_t, module_get_function)},
    {"cuMemAlloc_v2", offsetof(cu_api_t, mem_alloc)},
    {"cuMemFree_v2", offsetof(cu_api_t, mem_free)},
    {"cuMemcpyHtoD_v2", offsetof(cu_api_t, memcpy_htod)},
    {"cuMemcpyHtoDAsync_v2", offsetof(cu_api_t, memcpy_htod_async)},
    {"cuMemcpyDtoHAsync_v2", offsetof(cu_api_t, memcpy_dtoh_async)},
    {"cuStreamCreate", offsetof(cu_api_t, stream_create)},
    {"cuStreamDestroy_v2", offsetof(cu_api_t, stream_destroy)},
    {"cuStreamSynchronize", offsetof(cu_api_t, stream_synchronize)},
    {"cuLaunchKernel", offsetof(cu_api_t, launch)},
    {"cuGetErrorName", offsetof(cu_api_t, error_name)},
    {"cuGetErrorString", offsetof(cu_api_t, error_string)},
};

lathe_status_t cu_api_open(cu_api_t *out) {
  const char *path = getenv("LATHE_CUDA_DRIVER");
  if (!path || !*path) path = "libcuda.so.1";
  cu_api_t api = {0};
  dlerror();
  api.lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!api.lib) {
    const char *why = dlerror();
    return lathe_status_make(LATHE_STATUS_UNSUPPORTED, "no CUDA driver (%s)", why ? why : path);
  }
  for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; ++i) {
    void *sym = dlsym(api.lib, symbols[i].name);
    if (!sym) {
      dlclose(api.lib);
      return lathe_status_make(LATHE_STATUS_UNSUPPORTED, "CUDA driver '%s' has no %s (too old?)",
                               path, symbols[i].name);
    }
    /* a function pointer has the size of a data pointer on every POSIX system */
    memcpy((char *)&api + symbols[i].offset, &sym, sizeof sym);
  }
  *out = api;
  return NULL;
}

void cu_api_close(cu_api_t *api) {
  if (api && api->lib) dlclose(api->lib);
  if (api) *api = (cu_api_t){0};
}

lathe_status_t cu_check(const cu_api_t *api, cu_result_t r, const char *call, const char *kernel) {
  if (r == CU_SUCCESS) return NULL;
  const char *name = NULL, *text = NULL;
  if (api->error_name) api->error_name(r, &name);
  if (api->error_string) api->error_string(r, &text);
  lathe_status_code_t code = r == 2 ? LATHE_STATUS_RESOURCE_EXHAUSTED /* out of memory */
                                    : LATHE_STATUS_INTERNAL;
  if (kernel)
    return lathe_status_make(code, "CUDA error in %s (kernel '%s'): %s: %s", call, kernel,
                             name ? name : "?", text ? text : "unknown error");
  return lathe_status_make(code, "CUDA error in %s: %s: %s (%d)", call, name ? name : "?",
                           text ? text : "unknown error", r);
}
