/* The runtime library's API: what runs compiled programs.
 *
 * lathe_runtime depends only on support/ and libc/pthreads: never on the IR,
 * the kernel IR or LLVM, so a host that loads an offline-compiled artifact
 * needs nothing else. The data layouts shared with generated code (tensors,
 * the kernel ABI, the program description) live in include/lathe/runtime.h;
 * this header adds the objects and functions that work on them:
 *
 *   - tensors: dtype sizes and names, dense byte sizes, shape checks;
 *   - the buffer planner: arena offsets for temporaries from live ranges;
 *   - the thread pool (an object, no global state) and its parallel_for;
 *   - the weights table: constant buffer ids -> pointers into mmapped files;
 *   - execution contexts: per-calling-thread arena, scratch, function table;
 *   - the program executor: binds symbolic sizes from the inputs, plans the
 *     temporaries and calls every kernel in order.
 *
 * Errors are lathe_status_t values; bad input (a wrong shape or dtype at run
 * time, a malformed program description) never aborts.
 *
 * Threading model: a pool may be shared by any number of contexts; a context
 * is used by one thread at a time; programs and weights tables are read-only
 * once built (but for the data kernels derive from the weights, made once
 * under a lock), so one compiled program runs from many threads at once,
 * each with its own context.
 */
#ifndef LATHE_RUNTIME_RUNTIME_H
#define LATHE_RUNTIME_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lathe/runtime.h"
#include "support/status.h"

/* ---- Tensors (tensor.c) ---- */

/* "f32"...; "invalid" for unknown codes. */
const char *lathe_rt_dtype_name(int32_t dtype);
/* Bits per element; 0 for unknown codes. */
unsigned lathe_rt_dtype_bits(int32_t dtype);
/* Bytes for `count` elements (packed types round up); false on overflow or an
 * unknown dtype. */
bool lathe_rt_dtype_bytes(int32_t dtype, uint64_t count, uint64_t *out_bytes);

/* Fills a dense tensor view. Fails on a bad dtype, a rank over
 * LATHE_RT_MAX_RANK, a negative dim or an element count that overflows. */
lathe_status_t lathe_rt_tensor_init(int32_t dtype, int32_t rank, const int64_t *dims, void *data,
                                    uint64_t byte_size, lathe_rt_tensor_t *out_tensor);
/* Bytes a dense tensor of this dtype and shape needs. */
lathe_status_t lathe_rt_tensor_dense_bytes(const lathe_rt_tensor_t *tensor, uint64_t *out_bytes);
/* True when the tensor is dense row-major (no strides, or strides equal to
 * the dense ones; dims of size 1 may have any stride). */
bool lathe_rt_tensor_is_dense(const lathe_rt_tensor_t *tensor);
/* Writes "f32[2, 3]" into buf (always NUL-terminated, truncated to size). */
void lathe_rt_tensor_format_type(const lathe_rt_tensor_t *tensor, char *buf, size_t size);

/* ---- Buffer planning (plan.c) ---- */

/* One temporary: its size and the kernels [first, last] (inclusive, in run
 * order) that use it. Two temporaries conflict when their ranges intersect. */
typedef struct lathe_rt_plan_item {
  uint64_t bytes;
  int32_t first;
  int32_t last;
} lathe_rt_plan_item_t;

/* Assigns each item an offset (a multiple of LATHE_RT_ALIGNMENT) in one arena
 * so that no two conflicting items overlap, keeping the arena small: greedy
 * by size (largest first), each placed in the smallest gap between the
 * conflicting items already placed, else after them. Zero-byte items get
 * offset 0 and conflict with nothing. Writes out_offsets[count] and the
 * arena's size in *out_peak_bytes. Fails on first > last, a negative index,
 * or sizes whose sum overflows. Deterministic. */
lathe_status_t lathe_rt_plan_buffers(const lathe_rt_plan_item_t *items, size_t count,
                                     uint64_t *out_offsets, uint64_t *out_peak_bytes);

/* ---- Thread pool (pool.c) ---- */

typedef struct lathe_rt_pool lathe_rt_pool_t;

/* Creates a pool that runs parallel_for on `num_threads` threads, the caller
 * included (num_threads - 1 workers are started); 0 means one per online CPU,
 * 1 means everything runs inline on the caller. The caller owns the pool. */
lathe_status_t lathe_rt_pool_create(int32_t num_threads, lathe_rt_pool_t **out_pool);
/* Stops and joins the workers. No parallel_for may be running on the pool.
 * NULL is fine. */
void lathe_rt_pool_destroy(lathe_rt_pool_t *pool);
int32_t lathe_rt_pool_num_threads(const lathe_rt_pool_t *pool);
/* Number of online CPUs (at least 1). */
int32_t lathe_rt_default_num_threads(void);
/* parallel_for straight on a pool (NULL runs inline), with the chunking
 * contract of lathe_rt_functions_t.parallel_for. Contexts add the inline
 * rule for nested calls on top of this. Safe from any number of threads. */
void lathe_rt_pool_parallel_for(lathe_rt_pool_t *pool, int64_t begin, int64_t end, int64_t grain,
                                lathe_rt_task_fn fn, void *closure);
/* 0 on threads that are not this pool's workers, else the worker's index in
 * [1, num_threads): which per-thread scratch slot the calling thread owns. */
int32_t lathe_rt_pool_thread_index(const lathe_rt_pool_t *pool);

/* ---- Execution contexts (context.c) ---- */

typedef struct lathe_rt_context lathe_rt_context_t;

/* Creates a context that runs on `pool` (borrowed; must outlive the context;
 * NULL runs everything on the calling thread). One thread at a time may use a
 * context; the caller owns it. */
lathe_status_t lathe_rt_context_create(lathe_rt_pool_t *pool, lathe_rt_context_t **out_ctx);
void lathe_rt_context_destroy(lathe_rt_context_t *ctx);

/* The function table kernels get, and the opaque pointer to pass it. Both
 * borrowed from the context. */
const lathe_rt_functions_t *lathe_rt_context_functions(const lathe_rt_context_t *ctx);
void *lathe_rt_context_handle(lathe_rt_context_t *ctx);
/* Shorthand for the table's parallel_for, for host code and tests. */
void lathe_rt_parallel_for(lathe_rt_context_t *ctx, int64_t begin, int64_t end, int64_t grain,
                           lathe_rt_task_fn fn, void *closure);

/* The context's temporaries arena: at least `bytes`, 64-byte aligned, grown
 * (contents not kept) when a run needs more. Borrowed until the next call. */
lathe_status_t lathe_rt_context_arena(lathe_rt_context_t *ctx, uint64_t bytes, void **out_base);
/* Current arena capacity in bytes (0 before the first run). */
uint64_t lathe_rt_context_arena_bytes(const lathe_rt_context_t *ctx);

/* ---- Weights (weights.c) ---- */

typedef struct lathe_rt_weights lathe_rt_weights_t;

/* A table of `count` constant buffers, all unset. The caller owns it; once
 * filled it is read-only and may be shared by any number of threads. It
 * also owns what kernels derive from the constants (packed GEMM weights,
 * lathe_rt_functions_t.derived), freed with it. */
lathe_status_t lathe_rt_weights_create(int32_t count, lathe_rt_weights_t **out_weights);
/* Releases every file mapping the table holds. NULL is fine. */
void lathe_rt_weights_destroy(lathe_rt_weights_t *weights);

/* Points weight `id` at [offset, offset + bytes) of the file at `path`
 * (.safetensors data, ONNX external data, a sidecar). Files are mapped once
 * per table and shared by every weight in them. The view is never copied,
 * unless its address is not a multiple of `align` (a power of two, e.g. the
 * element size): then it is copied into an aligned block the table owns and
 * counted by lathe_rt_weights_copied_bytes. */
lathe_status_t lathe_rt_weights_set_file(lathe_rt_weights_t *weights, int32_t id, const char *path,
                                         uint64_t offset, uint64_t bytes, uint32_t align);
/* Points weight `id` at caller memory (borrowed; must outlive the table),
 * e.g. constants embedded in an artifact or held by an IR weight store. */
lathe_status_t lathe_rt_weights_set_memory(lathe_rt_weights_t *weights, int32_t id,
                                           const void *data, uint64_t bytes);
/* The pointer and size of weight `id`; NOT_FOUND when it was never set. */
lathe_status_t lathe_rt_weights_get(const lathe_rt_weights_t *weights, int32_t id,
                                    const void **out_data, uint64_t *out_bytes);
int32_t lathe_rt_weights_count(const lathe_rt_weights_t *weights);
/* Bytes copied because of misalignment (0 when every view is in place). */
uint64_t lathe_rt_weights_copied_bytes(const lathe_rt_weights_t *weights);
/* Bytes of data kernels derived from these weights and keep for later runs
 * (packed GEMM weights; lathe_rt_functions_t.derived). */
uint64_t lathe_rt_weights_derived_bytes(const lathe_rt_weights_t *weights);

/* ---- Programs (program.c) ---- */

/* Checks a program description: ABI version, counts, every id and index in
 * range, each input and output bound by exactly one buffer, views of root
 * buffers of their dtype, params bound to an input dim that the input's
 * buffer declares as that param or derived by a well-formed postfix program
 * over earlier params. */
lathe_status_t lathe_rt_program_validate(const lathe_rt_program_t *program);

/* Binds every symbolic size from the inputs (derived ones computed from
 * those) and checks each input's dtype, rank and dims, and that inputs
 * agreeing on a param agree on its value. Errors name the input and give the expected and the given
 * type, e.g. "input 'x' (#0): expected f32[N, 128] with N = 4, got f32[4, 64]". Writes
 * out_params[program->num_params]. */
lathe_status_t lathe_rt_program_bind(const lathe_rt_program_t *program,
                                     const lathe_rt_tensor_t *inputs, int32_t num_inputs,
                                     int64_t *out_params);

/* The shape of buffer `id` under a binding (dims[rank]) and its byte size. */
lathe_status_t lathe_rt_program_buffer_shape(const lathe_rt_program_t *program, int32_t id,
                                             const int64_t *params, int64_t *out_dims,
                                             uint64_t *out_bytes);

/* Plans the temporaries under a binding: out_offsets[num_buffers] (only TEMP
 * entries meaningful) and the arena's peak bytes. What a compiler reports as
 * the program's peak temporary memory for those sizes. */
lathe_status_t lathe_rt_program_plan(const lathe_rt_program_t *program, const int64_t *params,
                                     uint64_t *out_offsets, uint64_t *out_peak_bytes);

/* Runs the program: validates it, binds params from the inputs, checks the
 * outputs have the shapes the binding gives (dense, large enough), plans the
 * temporaries in ctx's arena, points CONST buffers at `weights` and calls
 * each kernel in order. Inputs are read-only; outputs are written in place.
 * `weights` may be NULL when the program has no constants. Safe to call from
 * several threads at once on the same program and weights with different
 * contexts. */
lathe_status_t lathe_rt_program_run(const lathe_rt_program_t *program,
                                    const lathe_rt_weights_t *weights, lathe_rt_context_t *ctx,
                                    const lathe_rt_tensor_t *inputs, int32_t num_inputs,
                                    lathe_rt_tensor_t *outputs, int32_t num_outputs);

#endif
