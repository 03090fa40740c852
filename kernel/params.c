/* Run-time sizes: binding params to the concrete dims of the graph inputs,
 * and buffer sizes under bound params. Shared by the interpreter and the
 * runtime, which must agree on every size.
 */
#include "kernel/internal.h"

lathe_status_t lathe_kprogram_bind_params(const lathe_kprogram_t *p,
                                          const int64_t *const *input_dims, int64_t *out_params) {
  for (uint32_t k = 0; k < p->num_params; ++k) {
    const lathe_kparam_t *q = p->params[k];
    if (q->kind == LATHE_KPARAM_INPUT_DIM) {
      if (q->input >= p->num_inputs || q->dim >= p->buffers[p->inputs[q->input]]->rank)
        return lathe_status_make(LATHE_STATUS_INTERNAL, "param '%s' binds no input dim", q->name);
      out_params[k] = input_dims[q->input][q->dim];
    } else {
      out_params[k] = kexpr_eval_index(q->expr, out_params);
    }
    if (out_params[k] < 0)
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "size '%s' is negative (%lld)",
                               q->name, (long long)out_params[k]);
  }
  /* Every input dim must equal what the program expects: static sizes, and a
   * symbol shared by several inputs bound to one value. */
  for (uint32_t i = 0; i < p->num_inputs; ++i) {
    const lathe_kbuffer_t *b = p->buffers[p->inputs[i]];
    for (uint32_t d = 0; d < b->rank; ++d) {
      int64_t want = lathe_kdim_value(b->dims[d], out_params), got = input_dims[i][d];
      if (want != got)
        return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                                 "input %u ('%s') dim %u is %lld, expected %lld", i, b->name, d,
                                 (long long)got, (long long)want);
    }
  }
  return NULL;
}

lathe_status_t lathe_kbuffer_num_elements(const lathe_kbuffer_t *b, const int64_t *params,
                                          int64_t *out_count) {
  int64_t n = 1;
  for (uint32_t d = 0; d < b->rank; ++d)
    if (!lathe_checked_mul_i64(n, lathe_kdim_value(b->dims[d], params), &n))
      return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "buffer '%s' is too large", b->name);
  *out_count = n;
  return NULL;
}

lathe_status_t lathe_kbuffer_num_bytes(const lathe_kbuffer_t *b, const int64_t *params,
                                       uint64_t *out_bytes) {
  int64_t n;
  LATHE_RETURN_IF_ERROR(lathe_kbuffer_num_elements(b, params, &n));
  if (!lathe_dtype_storage_bytes(b->dtype, (uint64_t)n, out_bytes))
    return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "buffer '%s' is too large", b->name);
  return NULL;
}
