/* Compile-time checks that the ABI structs in include/lathe/runtime.h have
 * the layouts the header documents: generated code is built against those
 * offsets, so a silent change here would miscompile every kernel. */
#include <stddef.h>

#include "lathe/runtime.h"

#if UINTPTR_MAX == UINT64_MAX
#define CHECK_OFFSET(type, field, off) \
  _Static_assert(offsetof(type, field) == (off), #type "." #field " moved")
#define CHECK_SIZE(type, size) _Static_assert(sizeof(type) == (size), #type " changed size")

CHECK_OFFSET(lathe_rt_tensor_t, data, 0);
CHECK_OFFSET(lathe_rt_tensor_t, byte_size, 8);
CHECK_OFFSET(lathe_rt_tensor_t, dtype, 16);
CHECK_OFFSET(lathe_rt_tensor_t, rank, 20);
CHECK_OFFSET(lathe_rt_tensor_t, flags, 24);
CHECK_OFFSET(lathe_rt_tensor_t, dims, 32);
CHECK_OFFSET(lathe_rt_tensor_t, strides, 96);
CHECK_SIZE(lathe_rt_tensor_t, 160);

CHECK_OFFSET(lathe_rt_functions_t, abi_version, 0);
CHECK_OFFSET(lathe_rt_functions_t, num_threads, 4);
CHECK_OFFSET(lathe_rt_functions_t, parallel_for, 8);
CHECK_OFFSET(lathe_rt_functions_t, scratch, 16);
CHECK_OFFSET(lathe_rt_functions_t, derived, 24);
CHECK_SIZE(lathe_rt_functions_t, 32);

CHECK_OFFSET(lathe_rt_kernel_args_t, buffers, 0);
CHECK_OFFSET(lathe_rt_kernel_args_t, params, 8);
CHECK_OFFSET(lathe_rt_kernel_args_t, rt, 16);
CHECK_OFFSET(lathe_rt_kernel_args_t, ctx, 24);
CHECK_SIZE(lathe_rt_kernel_args_t, 32);

CHECK_SIZE(lathe_rt_dim_t, 16);
CHECK_SIZE(lathe_rt_param_op_t, 16);
CHECK_OFFSET(lathe_rt_param_desc_t, input, 8);
CHECK_OFFSET(lathe_rt_param_desc_t, num_ops, 16);
CHECK_OFFSET(lathe_rt_param_desc_t, ops, 24);
CHECK_SIZE(lathe_rt_param_desc_t, 32);
CHECK_OFFSET(lathe_rt_buffer_desc_t, dims, 24);
CHECK_SIZE(lathe_rt_buffer_desc_t, 32);
CHECK_OFFSET(lathe_rt_kernel_desc_t, fn, 8);
CHECK_OFFSET(lathe_rt_kernel_desc_t, buffers, 24);
CHECK_SIZE(lathe_rt_kernel_desc_t, 32);
CHECK_OFFSET(lathe_rt_program_t, params, 32);
CHECK_OFFSET(lathe_rt_program_t, buffers, 40);
CHECK_OFFSET(lathe_rt_program_t, kernels, 48);
CHECK_SIZE(lathe_rt_program_t, 56);
#endif

/* ISO C forbids an empty translation unit where the checks compile away. */
typedef int lathe_rt_abi_checked;
