/* A kernel program as the runtime's plain-data program descriptor: the
 * driver's name for lathe_codegen_describe (codegen/describe.c), which the
 * interp target and the CUDA backend share. */
#include "driver/internal.h"

lathe_status_t describe_program(const lathe_kprogram_t *p, lathe_arena_t *arena,
                                lathe_rt_kernel_fn fn, const lathe_rt_program_t **out_program) {
  return lathe_codegen_describe(p, arena, fn, out_program);
}
