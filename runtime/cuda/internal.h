/* Private to runtime/cuda: the driver API as a table of function pointers
 * found with dlsym, and the loaded-program object. Not an API; use
 * runtime/cuda/cuda.h.
 *
 * The driver's types are declared here by what the ABI needs (handles are
 * pointers, CUdeviceptr is a 64-bit integer, CUresult an int), so building
 * this needs no CUDA header; the functions are the ones libcuda.so.1 exports
 * (the _v2 names where the header maps to them).
 */
#ifndef LATHE_RUNTIME_CUDA_INTERNAL_H
#define LATHE_RUNTIME_CUDA_INTERNAL_H

#include <pthread.h>
#include <stddef.h>

#include "runtime/cuda/cuda.h"

typedef int cu_result_t;
typedef unsigned long long cu_ptr_t;

enum {
  CU_SUCCESS = 0,
  CU_ATTR_CC_MAJOR = 75, /* CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR */
  CU_ATTR_CC_MINOR = 76,
};

typedef struct cu_api {
  void *lib;
  cu_result_t (*init)(unsigned flags);
  cu_result_t (*device_get)(int *device, int ordinal);
  cu_result_t (*device_attribute)(int *value, int attribute, int device);
  cu_result_t (*primary_retain)(void **ctx, int device);
  cu_result_t (*primary_release)(int device);
  cu_result_t (*ctx_set_current)(void *ctx);
  cu_result_t (*module_load_data)(void **module, const void *image);
  cu_result_t (*module_unload)(void *module);
  cu_result_t (*module_get_function)(void **function, void *module, const char *name);
  cu_result_t (*mem_alloc)(cu_ptr_t *ptr, size_t bytes);
  cu_result_t (*mem_free)(cu_ptr_t ptr);
  cu_result_t (*memcpy_htod)(cu_ptr_t dst, const void *src, size_t bytes);
  cu_result_t (*memcpy_htod_async)(cu_ptr_t dst, const void *src, size_t bytes, void *stream);
  cu_result_t (*memcpy_dtoh_async)(void *dst, cu_ptr_t src, size_t bytes, void *stream);
  cu_result_t (*stream_create)(void **stream, unsigned flags);
  cu_result_t (*stream_destroy)(void *stream);
  cu_result_t (*stream_synchronize)(void *stream);
  cu_result_t (*launch)(void *function, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                        unsigned by, unsigned bz, unsigned shared_bytes, void *stream,
                        void **params, void **extra);
  cu_result_t (*error_name)(cu_result_t r, const char **out);
  cu_result_t (*error_string)(cu_result_t r, const char **out);
} cu_api_t;

/* Opens the driver library ($LATHE_CUDA_DRIVER, else libcuda.so.1) and finds
 * every function; "no CUDA driver (DLERROR)" when it cannot be opened. */
lathe_status_t cu_api_open(cu_api_t *out);
void cu_api_close(cu_api_t *api);
/* NULL for CU_SUCCESS, else "CUDA error in CALL[ (kernel 'K')]: NAME: TEXT". */
lathe_status_t cu_check(const cu_api_t *api, cu_result_t r, const char *call, const char *kernel);

/* Opens the driver and loads the module unless done (caller holds rt->lock). */
lathe_status_t lathe_rt_cuda_load(lathe_rt_cuda_t *rt);

struct lathe_rt_cuda {
  cu_api_t api;
  const lathe_rt_program_t *program;
  const lathe_cuda_program_t *cuda;
  int device, arch;
  void *ctx, *module;
  void **functions; /* [num_kernels] */
  /* loading and the weights on the device (uploaded once per table) */
  pthread_mutex_t lock;
  const lathe_rt_weights_t *weights_of;
  cu_ptr_t *weights; /* [num_weights] */
};

#endif
