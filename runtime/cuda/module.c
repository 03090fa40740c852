/* Loading a CUDA program: checking its tables, choosing the image for the
 * device, loading the module and finding its kernels; the grid of a launch.
 *
 * Creating a loaded program touches no driver: the driver is opened and the
 * module loaded by the first run (lathe_rt_cuda_load, under the program's
 * lock), so a machine without a GPU can still open, inspect and shape-check
 * a CUDA program, and only running it fails ("no CUDA driver (...)").
 *
 * Image choice: the CUBIN built for exactly the device's architecture runs
 * as is; otherwise the PTX of the highest architecture not above the device's
 * is JIT-compiled by the driver (PTX is forward compatible, a CUBIN is not).
 * A device older than every image cannot run the program.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime/cuda/internal.h"

static lathe_status_t bad(const char *fmt, int32_t k, const char *what) {
  return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, fmt, (int)k, what);
}

static lathe_status_t check_grid(const lathe_cuda_grid_dim_t *g, int32_t k,
                                 const lathe_rt_program_t *p) {
  if (g->per_block < 1 || g->cap < 1 || g->work.factor < 0 || g->work.num_params < 0 ||
      g->work.num_params > LATHE_CUDA_MAX_WORK_PARAMS)
    return bad("cuda program: launch %d: %s", k, "malformed grid dimension");
  for (int32_t i = 0; i < g->work.num_params; ++i)
    if (g->work.params[i] < 0 || g->work.params[i] >= p->num_params)
      return bad("cuda program: launch %d: %s", k, "grid names a param out of range");
  return NULL;
}

lathe_status_t lathe_cuda_program_validate(const lathe_cuda_program_t *c,
                                           const lathe_rt_program_t *p) {
  if (!c || !p) return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "cuda program: NULL");
  if (c->abi_version != LATHE_CUDA_ABI_VERSION)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                             "cuda program: ABI version %u, this runtime reads %u", c->abi_version,
                             LATHE_CUDA_ABI_VERSION);
  if (c->num_kernels != p->num_kernels || (c->num_kernels && !c->launches))
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                             "cuda program: %d launches for %d kernels", (int)c->num_kernels,
                             (int)p->num_kernels);
  for (int32_t k = 0; k < c->num_kernels; ++k) {
    const lathe_cuda_launch_t *l = &c->launches[k];
    if (!l->symbol || !l->kernel || !p->kernels[k].name || strcmp(l->kernel, p->kernels[k].name))
      return bad("cuda program: launch %d: %s", k, "does not name its kernel");
    uint32_t threads = l->block[0] * l->block[1] * l->block[2];
    if (threads == 0 || threads > 1024 || threads % 32 || l->block[0] > 1024)
      return bad("cuda program: launch %d: %s", k, "block size is not 32..1024 threads in warps");
    for (int d = 0; d < 3; ++d) LATHE_RETURN_IF_ERROR(check_grid(&l->grid[d], k, p));
  }
  if (c->num_images < 0 || (c->num_images && !c->images))
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "cuda program: malformed image table");
  for (int32_t i = 0; i < c->num_images; ++i) {
    const lathe_cuda_image_t *im = &c->images[i];
    bool kind_ok = im->kind == LATHE_CUDA_IMAGE_PTX || im->kind == LATHE_CUDA_IMAGE_CUBIN;
    bool ptx_ok = im->kind != LATHE_CUDA_IMAGE_PTX ||
                  (im->size > 0 && ((const char *)im->data)[im->size - 1] == '\0');
    if (!kind_ok || !im->data || im->size == 0 || !ptx_ok || im->arch <= 0)
      return bad("cuda program: image %d: %s", i, "malformed");
  }
  return NULL;
}

void lathe_cuda_launch_grid(const lathe_cuda_launch_t *l, const int64_t *params,
                            uint32_t out_grid[3]) {
  for (int d = 0; d < 3; ++d) {
    const lathe_cuda_grid_dim_t *g = &l->grid[d];
    uint64_t work = g->work.factor > 0 ? (uint64_t)g->work.factor : 0;
    for (int32_t i = 0; i < g->work.num_params && i < LATHE_CUDA_MAX_WORK_PARAMS; ++i) {
      int64_t v = params[g->work.params[i]];
      uint64_t u = v > 0 ? (uint64_t)v : 0;
      work = (u && work > UINT64_MAX / u) ? UINT64_MAX : work * u;
    }
    uint64_t per = g->per_block > 0 ? (uint64_t)g->per_block : 1;
    uint64_t blocks = work / per + (work % per != 0);
    uint64_t cap = g->cap > 0 ? (uint64_t)g->cap : 1;
    if (blocks > cap) blocks = cap;
    if (blocks > UINT32_MAX) blocks = UINT32_MAX;
    out_grid[d] = blocks ? (uint32_t)blocks : 1;
  }
}

const lathe_cuda_image_t *lathe_cuda_pick_image(const lathe_cuda_program_t *c, int32_t arch) {
  const lathe_cuda_image_t *best = NULL;
  for (int32_t i = 0; i < c->num_images; ++i) {
    const lathe_cuda_image_t *im = &c->images[i];
    if (im->kind == LATHE_CUDA_IMAGE_CUBIN && im->arch == arch) return im;
    if (im->kind == LATHE_CUDA_IMAGE_PTX && im->arch <= arch && (!best || im->arch > best->arch))
      best = im;
  }
  return best;
}

/* ---- loading ---- */

void lathe_rt_cuda_destroy(lathe_rt_cuda_t *rt) {
  if (!rt) return;
  cu_api_t *api = &rt->api;
  if (rt->ctx) api->ctx_set_current(rt->ctx);
  for (int32_t w = 0; rt->weights && w < rt->program->num_weights; ++w)
    if (rt->weights[w]) api->mem_free(rt->weights[w]);
  if (rt->module) api->module_unload(rt->module);
  if (rt->ctx) api->primary_release(rt->device);
  pthread_mutex_destroy(&rt->lock);
  cu_api_close(api);
  free(rt->weights);
  free(rt->functions);
  free(rt);
}

static lathe_status_t load(lathe_rt_cuda_t *rt) {
  cu_api_t *api = &rt->api;
  int major = 0, minor = 0;
  LATHE_RETURN_IF_ERROR(cu_check(api, api->init(0), "cuInit", NULL));
  LATHE_RETURN_IF_ERROR(cu_check(api, api->device_get(&rt->device, 0), "cuDeviceGet", NULL));
  LATHE_RETURN_IF_ERROR(cu_check(api, api->device_attribute(&major, CU_ATTR_CC_MAJOR, rt->device),
                                 "cuDeviceGetAttribute", NULL));
  LATHE_RETURN_IF_ERROR(cu_check(api, api->device_attribute(&minor, CU_ATTR_CC_MINOR, rt->device),
                                 "cuDeviceGetAttribute", NULL));
  rt->arch = major * 10 + minor;
  const lathe_cuda_image_t *image = lathe_cuda_pick_image(rt->cuda, rt->arch);
  if (!image)
    return lathe_status_make(LATHE_STATUS_UNSUPPORTED,
                             "the GPU is sm_%d, older than every architecture the program was "
                             "compiled for",
                             rt->arch);
  LATHE_RETURN_IF_ERROR(
      cu_check(api, api->primary_retain(&rt->ctx, rt->device), "cuDevicePrimaryCtxRetain", NULL));
  LATHE_RETURN_IF_ERROR(cu_check(api, api->ctx_set_current(rt->ctx), "cuCtxSetCurrent", NULL));
  LATHE_RETURN_IF_ERROR(
      cu_check(api, api->module_load_data(&rt->module, image->data), "cuModuleLoadData", NULL));
  for (int32_t k = 0; k < rt->cuda->num_kernels; ++k)
    LATHE_RETURN_IF_ERROR(cu_check(
        api, api->module_get_function(&rt->functions[k], rt->module, rt->cuda->launches[k].symbol),
        "cuModuleGetFunction", rt->cuda->launches[k].kernel));
  return NULL;
}

lathe_status_t lathe_rt_cuda_load(lathe_rt_cuda_t *rt) {
  if (rt->module) return NULL;
  cu_api_close(&rt->api);
  LATHE_RETURN_IF_ERROR(cu_api_open(&rt->api));
  lathe_status_t st = load(rt);
  if (st) { /* leave nothing half-loaded: the next run tries again */
    if (rt->module) rt->api.module_unload(rt->module);
    if (rt->ctx) rt->api.primary_release(rt->device);
    rt->module = rt->ctx = NULL;
    cu_api_close(&rt->api);
  }
  return st;
}

lathe_status_t lathe_rt_cuda_create(const lathe_rt_program_t *program,
                                    const lathe_cuda_program_t *cuda, lathe_rt_cuda_t **out) {
  LATHE_RETURN_IF_ERROR(lathe_rt_program_validate(program));
  LATHE_RETURN_IF_ERROR(lathe_cuda_program_validate(cuda, program));
  lathe_rt_cuda_t *rt = calloc(1, sizeof *rt);
  if (!rt) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  rt->program = program;
  rt->cuda = cuda;
  pthread_mutex_init(&rt->lock, NULL);
  rt->functions = calloc((size_t)cuda->num_kernels + 1, sizeof *rt->functions);
  rt->weights = calloc((size_t)program->num_weights + 1, sizeof *rt->weights);
  if (!rt->functions || !rt->weights) {
    lathe_rt_cuda_destroy(rt);
    return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  *out = rt;
  return NULL;
}
