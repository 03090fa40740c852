/* One run of a CUDA program on host tensors.
 *
 *   1. bind the params from the inputs and check the outputs, with the CPU
 *      runtime's functions (same messages as lathe_rt_program_run); load
 *      the driver and the module if no run did yet;
 *   2. plan the temporaries (lathe_rt_program_plan: the same arena layout
 *      the CPU uses, placed in one device allocation);
 *   3. upload the weights once per weights table (kept on the device);
 *   4. allocate device copies of the inputs and outputs, copy the inputs in,
 *      write the buffer-pointer table and the params (the kernel ABI of
 *      docs/codegen-cuda.md) in one copy;
 *   5. launch every kernel in order on a stream of the run's own, grid from
 *      the launch table under the bound params;
 *   6. copy the outputs back, wait, free.
 * Every run allocates its own device memory and stream, so runs from several
 * threads never share anything but the module and the weights.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime/cuda/internal.h"

typedef struct run {
  lathe_rt_cuda_t *rt;
  void *stream;
  cu_ptr_t arena, table;
  cu_ptr_t *inputs, *outputs; /* device copies */
  int64_t *params;
  uint64_t *offsets, *host_table;
} run_t;

static lathe_status_t oom(void) {
  return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
}

/* A device allocation of `bytes` (0 stays NULL). */
static lathe_status_t alloc(run_t *r, cu_ptr_t *out, uint64_t bytes, const char *what) {
  *out = 0;
  if (!bytes) return NULL;
  return lathe_status_annotate(
      cu_check(&r->rt->api, r->rt->api.mem_alloc(out, bytes), "cuMemAlloc", NULL), "%s", what);
}

static lathe_status_t upload_weights(lathe_rt_cuda_t *rt, const lathe_rt_weights_t *weights) {
  const lathe_rt_program_t *p = rt->program;
  if (p->num_weights == 0) return NULL;
  if (!weights)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                             "the program has %d weights, none given", (int)p->num_weights);
  if (rt->weights_of == weights) return NULL;
  cu_api_t *api = &rt->api;
  for (int32_t w = 0; w < p->num_weights; ++w)
    if (rt->weights[w]) api->mem_free(rt->weights[w]), rt->weights[w] = 0;
  rt->weights_of = NULL;
  for (int32_t w = 0; w < p->num_weights; ++w) {
    const void *data;
    uint64_t bytes;
    LATHE_RETURN_IF_ERROR(lathe_rt_weights_get(weights, w, &data, &bytes));
    if (!bytes) continue;
    LATHE_RETURN_IF_ERROR(
        cu_check(api, api->mem_alloc(&rt->weights[w], bytes), "cuMemAlloc", NULL));
    LATHE_RETURN_IF_ERROR(
        cu_check(api, api->memcpy_htod(rt->weights[w], data, bytes), "cuMemcpyHtoD", NULL));
  }
  rt->weights_of = weights;
  return NULL;
}

/* Outputs: dense, of the bound shape and large enough. */
static lathe_status_t check_outputs(const lathe_rt_program_t *p, const int64_t *params,
                                    const lathe_rt_tensor_t *outputs, int32_t n) {
  if (n != p->num_outputs || (n && !outputs))
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "expected %d outputs, got %d",
                             (int)p->num_outputs, (int)n);
  for (int32_t id = 0; id < p->num_buffers; ++id) {
    const lathe_rt_buffer_desc_t *b = &p->buffers[id];
    if (b->role != LATHE_RT_BUFFER_OUTPUT) continue;
    const lathe_rt_tensor_t *t = &outputs[b->index];
    lathe_rt_tensor_t want = {.dtype = b->dtype, .rank = b->rank};
    LATHE_RETURN_IF_ERROR(lathe_rt_program_buffer_shape(p, id, params, want.dims, &want.byte_size));
    bool same = t->dtype == want.dtype && t->rank == want.rank && lathe_rt_tensor_is_dense(t) &&
                t->byte_size >= want.byte_size && (!want.byte_size || t->data);
    for (int32_t d = 0; same && d < want.rank; ++d) same = t->dims[d] == want.dims[d];
    if (!same) {
      char expected[256];
      lathe_rt_tensor_format_type(&want, expected, sizeof expected);
      return lathe_status_make(
          LATHE_STATUS_INVALID_ARGUMENT, "output '%s' (#%d): expected a dense %s of %llu bytes",
          b->name ? b->name : "?", (int)b->index, expected, (unsigned long long)want.byte_size);
    }
  }
  return NULL;
}

/* The device address of every buffer (views after their roots). */
static void fill_table(run_t *r) {
  const lathe_rt_program_t *p = r->rt->program;
  for (int pass = 0; pass < 2; ++pass)
    for (int32_t id = 0; id < p->num_buffers; ++id) {
      const lathe_rt_buffer_desc_t *b = &p->buffers[id];
      bool view = b->role == LATHE_RT_BUFFER_VIEW;
      if (view != (pass == 1)) continue;
      cu_ptr_t v = 0;
      switch (b->role) {
      case LATHE_RT_BUFFER_INPUT: v = r->inputs[b->index]; break;
      case LATHE_RT_BUFFER_OUTPUT: v = r->outputs[b->index]; break;
      case LATHE_RT_BUFFER_CONST: v = r->rt->weights[b->index]; break;
      case LATHE_RT_BUFFER_TEMP: v = r->arena ? r->arena + r->offsets[id] : 0; break;
      case LATHE_RT_BUFFER_VIEW: v = (cu_ptr_t)r->host_table[b->index]; break;
      default: break;
      }
      r->host_table[id] = v;
    }
  memcpy(r->host_table + p->num_buffers, r->params, (size_t)p->num_params * sizeof *r->params);
}

static lathe_status_t execute(run_t *r, const lathe_rt_weights_t *weights,
                              const lathe_rt_tensor_t *inputs, int32_t num_inputs,
                              lathe_rt_tensor_t *outputs, int32_t num_outputs) {
  lathe_rt_cuda_t *rt = r->rt;
  const lathe_rt_program_t *p = rt->program;
  cu_api_t *api = &rt->api;
  LATHE_RETURN_IF_ERROR(lathe_rt_program_bind(p, inputs, num_inputs, r->params));
  LATHE_RETURN_IF_ERROR(check_outputs(p, r->params, outputs, num_outputs));
  for (int32_t k = 0; k < num_inputs; ++k)
    if (!lathe_rt_tensor_is_dense(&inputs[k]))
      return lathe_status_make(LATHE_STATUS_UNSUPPORTED,
                               "input #%d: the cuda target takes dense inputs only", (int)k);
  uint64_t peak = 0;
  LATHE_RETURN_IF_ERROR(lathe_rt_program_plan(p, r->params, r->offsets, &peak));
  pthread_mutex_lock(&rt->lock);
  lathe_status_t st = lathe_rt_cuda_load(rt);
  if (!st) st = cu_check(api, api->ctx_set_current(rt->ctx), "cuCtxSetCurrent", NULL);
  if (!st) st = upload_weights(rt, weights);
  pthread_mutex_unlock(&rt->lock);
  LATHE_RETURN_IF_ERROR(st);
  LATHE_RETURN_IF_ERROR(cu_check(api, api->stream_create(&r->stream, 0), "cuStreamCreate", NULL));
  LATHE_RETURN_IF_ERROR(alloc(r, &r->arena, peak, "temporaries"));
  for (int32_t k = 0; k < num_inputs; ++k) {
    uint64_t bytes = 0;
    LATHE_RETURN_IF_ERROR(lathe_rt_tensor_dense_bytes(&inputs[k], &bytes));
    LATHE_RETURN_IF_ERROR(alloc(r, &r->inputs[k], bytes, "inputs"));
    if (bytes)
      LATHE_RETURN_IF_ERROR(
          cu_check(api, api->memcpy_htod_async(r->inputs[k], inputs[k].data, bytes, r->stream),
                   "cuMemcpyHtoDAsync", NULL));
  }
  for (int32_t k = 0; k < num_outputs; ++k) {
    uint64_t bytes = 0;
    LATHE_RETURN_IF_ERROR(lathe_rt_tensor_dense_bytes(&outputs[k], &bytes));
    LATHE_RETURN_IF_ERROR(alloc(r, &r->outputs[k], bytes, "outputs"));
  }
  uint64_t table_bytes = 8 * (uint64_t)(p->num_buffers + p->num_params);
  LATHE_RETURN_IF_ERROR(alloc(r, &r->table, table_bytes ? table_bytes : 8, "tables"));
  fill_table(r);
  if (table_bytes)
    LATHE_RETURN_IF_ERROR(
        cu_check(api, api->memcpy_htod_async(r->table, r->host_table, table_bytes, r->stream),
                 "cuMemcpyHtoDAsync", NULL));
  cu_ptr_t buffers = r->table, params = r->table + 8 * (uint64_t)p->num_buffers;
  void *args[2] = {&buffers, &params};
  for (int32_t k = 0; k < p->num_kernels; ++k) {
    const lathe_cuda_launch_t *l = &rt->cuda->launches[k];
    uint32_t grid[3];
    lathe_cuda_launch_grid(l, r->params, grid);
    LATHE_RETURN_IF_ERROR(
        cu_check(api,
                 api->launch(rt->functions[k], grid[0], grid[1], grid[2], l->block[0], l->block[1],
                             l->block[2], 0, r->stream, args, NULL),
                 "cuLaunchKernel", l->kernel));
  }
  for (int32_t k = 0; k < num_outputs; ++k) {
    uint64_t bytes = 0;
    LATHE_RETURN_IF_ERROR(lathe_rt_tensor_dense_bytes(&outputs[k], &bytes));
    if (bytes)
      LATHE_RETURN_IF_ERROR(
          cu_check(api, api->memcpy_dtoh_async(outputs[k].data, r->outputs[k], bytes, r->stream),
                   "cuMemcpyDtoHAsync", NULL));
  }
  return cu_check(api, api->stream_synchronize(r->stream), "cuStreamSynchronize", NULL);
}

lathe_status_t lathe_rt_cuda_run(lathe_rt_cuda_t *rt, const lathe_rt_weights_t *weights,
                                 const lathe_rt_tensor_t *inputs, int32_t num_inputs,
                                 lathe_rt_tensor_t *outputs, int32_t num_outputs) {
  if (!rt) return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "cuda run: NULL program");
  const lathe_rt_program_t *p = rt->program;
  if (num_inputs != p->num_inputs || (num_inputs && !inputs))
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "expected %d inputs, got %d",
                             (int)p->num_inputs, (int)num_inputs);
  run_t r = {.rt = rt};
  r.inputs = calloc((size_t)num_inputs + 1, sizeof *r.inputs);
  r.outputs = calloc((size_t)p->num_outputs + 1, sizeof *r.outputs);
  r.params = calloc((size_t)p->num_params + 1, sizeof *r.params);
  r.offsets = calloc((size_t)p->num_buffers + 1, sizeof *r.offsets);
  r.host_table = calloc((size_t)(p->num_buffers + p->num_params) + 1, sizeof *r.host_table);
  lathe_status_t st = r.inputs && r.outputs && r.params && r.offsets && r.host_table
                          ? execute(&r, weights, inputs, num_inputs, outputs, num_outputs)
                          : oom();
  cu_api_t *api = &rt->api; /* loaded, or nothing below was allocated */
  if (r.stream) api->stream_synchronize(r.stream);
  for (int32_t k = 0; r.inputs && k < num_inputs; ++k)
    if (r.inputs[k]) api->mem_free(r.inputs[k]);
  for (int32_t k = 0; r.outputs && k < p->num_outputs; ++k)
    if (r.outputs[k]) api->mem_free(r.outputs[k]);
  if (r.arena) api->mem_free(r.arena);
  if (r.table) api->mem_free(r.table);
  if (r.stream) api->stream_destroy(r.stream);
  free(r.inputs), free(r.outputs), free(r.params), free(r.offsets), free(r.host_table);
  return st;
}
