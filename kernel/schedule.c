/* Schedules: the default CPU schedule of a statement and the rules every
 * schedule must follow (kernel.h, lathe_kschedule_t).
 *
 * The default is deliberately plain: loops in the statement's own order (the
 * lowering emits iterators outermost-first in row-major order of the target,
 * reductions innermost), the outermost loop parallel, and, for statements
 * without reductions, the innermost loop tiled by the vector width and marked
 * for vectorization. Backends pick their own (the CUDA one maps loops to
 * blocks and threads instead).
 */
#include <string.h>

#include "kernel/internal.h"

lathe_kschedule_t lathe_kschedule_default(const lathe_kstmt_t *stmt, uint32_t vector_width) {
  lathe_kschedule_t s;
  memset(&s, 0, sizeof s);
  uint32_t n = stmt->num_iters, outer = n - stmt->num_reduce;
  for (uint32_t i = 0; i < n; ++i) s.order[i] = (uint8_t)i;
  s.parallel = outer > 0 ? 0 : -1;
  s.vector = -1;
  if (vector_width > 1 && n > 0 && stmt->num_reduce == 0) {
    lathe_kdim_t last = stmt->extents[n - 1];
    if (!lathe_kdim_is_static(last) || last.size >= (int64_t)vector_width) {
      s.vector = (int32_t)(n - 1);
      s.vector_width = vector_width;
      s.tile[n - 1] = vector_width;
    }
  }
  return s;
}

lathe_status_t lathe_kschedule_check(const lathe_kstmt_t *stmt, const lathe_kschedule_t *s) {
  uint32_t n = stmt->num_iters, outer = n - stmt->num_reduce;
  bool seen[LATHE_KMAX_ITERS] = {0};
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t it = s->order[i];
    if (it >= n || seen[it])
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                               "schedule order is not a permutation of the %u iterators", n);
    seen[it] = true;
  }
  for (uint32_t it = n; it < LATHE_KMAX_ITERS; ++it)
    if (s->tile[it] || s->unroll[it])
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                               "schedule tiles or unrolls iterator %u of %u", it, n);
  if (s->parallel >= 0 && ((uint32_t)s->parallel >= outer || s->order[0] != s->parallel))
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                             "parallel iterator %d must be the outermost loop and not a reduction",
                             s->parallel);
  if (s->vector >= 0) {
    if ((uint32_t)s->vector >= n || s->order[n - 1] != s->vector)
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                               "vector iterator %d must be the innermost loop", s->vector);
    if (s->vector_width == 0 || s->tile[s->vector] != s->vector_width)
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                               "vector iterator %d must be tiled by its width %u", s->vector,
                               s->vector_width);
  }
  for (uint32_t it = 0; it < n; ++it)
    if (s->unroll[it] && !s->tile[it] && !lathe_kdim_is_static(stmt->extents[it]))
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                               "iterator %u can only be unrolled when tiled or of static extent",
                               it);
  return NULL;
}
