/* Data movement and shape queries for fold-constants: see fold_eval.h.
 *
 * These ops never compute on element values, so they move whole elements as
 * bytes and work for every dtype whose elements are whole bytes. Index
 * arithmetic follows the ops' ONNX definitions; wherever the attributes and
 * the declared result type disagree (which the verifier would also reject) the
 * evaluator declines instead of guessing.
 */
#include <string.h>

#include "passes/fold_eval.h"

/* Bytes per element, or 0 for packed dtypes. */
static size_t elem_size(lathe_dtype_t dt) {
  unsigned bits = lathe_dtype_bits(dt);
  return bits % 8 ? 0 : bits / 8;
}

static int64_t product(const lathe_type_t *t, uint32_t from, uint32_t to) {
  int64_t p = 1;
  for (uint32_t d = from; d < to; ++d) p *= t->dims[d].size;
  return p;
}

/* Row-major element strides of a static type. */
static void strides_of(const lathe_type_t *t, int64_t *out) {
  int64_t s = 1;
  for (uint32_t d = t->rank; d-- > 0;) {
    out[d] = s;
    s *= t->dims[d].size;
  }
}

/* Visits every result position: `index` holds the multi-index. */
#define FOR_EACH_INDEX(rt, k, index)                                                    \
  for (int64_t k = 0, index[LATHE_MAX_RANK] = {0}, count_ = product(rt, 0, (rt)->rank); \
       k < count_; ++k, advance(rt, index))

static void advance(const lathe_type_t *t, int64_t *index) {
  for (uint32_t d = t->rank; d-- > 0;) {
    if (++index[d] < t->dims[d].size) return;
    index[d] = 0;
  }
}

bool lathe_fold_copy(const lathe_op_t *op, const lathe_literal_t *in, const lathe_type_t *rt,
                     void *out) {
  uint64_t bytes;
  if (op->num_results != 1 || in[0].type.dtype != rt->dtype ||
      in[0].count != product(rt, 0, rt->rank) ||
      !lathe_dtype_storage_bytes(rt->dtype, (uint64_t)in[0].count, &bytes))
    return false;
  if (bytes) memcpy(out, in[0].data, bytes);
  return true;
}

bool lathe_fold_transpose(const lathe_op_t *op, const lathe_literal_t *in, const lathe_type_t *rt,
                          void *out) {
  size_t es = elem_size(rt->dtype);
  const lathe_type_t *t = &in[0].type;
  if (!es || t->rank != rt->rank) return false;
  const int64_t *perm;
  size_t n = lathe_op_attr_ints(op, "perm", &perm);
  int64_t p[LATHE_MAX_RANK], st[LATHE_MAX_RANK];
  for (uint32_t d = 0; d < t->rank; ++d) {
    p[d] = n ? perm[d] : (int64_t)(t->rank - 1 - d);
    if (p[d] < 0 || p[d] >= (int64_t)t->rank || t->dims[p[d]].size != rt->dims[d].size)
      return false;
  }
  strides_of(t, st);
  FOR_EACH_INDEX(rt, k, idx) {
    int64_t src = 0;
    for (uint32_t d = 0; d < rt->rank; ++d) src += idx[d] * st[p[d]];
    memcpy((uint8_t *)out + k * (int64_t)es, in[0].data + src * (int64_t)es, es);
  }
  return true;
}

bool lathe_fold_concat(const lathe_op_t *op, const lathe_literal_t *in, const lathe_type_t *rt,
                       void *out) {
  size_t es = elem_size(rt->dtype);
  uint32_t axis;
  lathe_status_t st = lathe_normalize_axis(lathe_op_attr_int(op, "axis"), rt->rank, &axis);
  if (st || !es) return lathe_status_free(st), false;
  int64_t outer = product(rt, 0, axis);
  uint8_t *dst = out;
  for (int64_t o = 0; o < outer; ++o)
    for (uint32_t j = 0; j < op->num_operands; ++j) {
      const lathe_type_t *t = &in[j].type;
      if (t->rank != rt->rank || t->dtype != rt->dtype) return false;
      size_t chunk = (size_t)product(t, axis, t->rank) * es;
      if (!chunk) continue; /* an empty operand may have no bytes at all */
      memcpy(dst, in[j].data + (size_t)o * chunk, chunk);
      dst += chunk;
    }
  return (size_t)(dst - (uint8_t *)out) == (size_t)product(rt, 0, rt->rank) * es;
}

static int64_t clamp(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

/* ONNX Slice: negative starts/ends count from the end, then clamp to the
 * dim ([0, dim] going forward, [-1, dim-1] going backward). */
bool lathe_fold_slice(const lathe_op_t *op, const lathe_literal_t *in, const lathe_type_t *rt,
                      void *out) {
  size_t es = elem_size(rt->dtype);
  const lathe_type_t *t = &in[0].type;
  if (!es || t->rank != rt->rank) return false;
  const int64_t *starts, *ends, *axes, *steps;
  size_t n = lathe_op_attr_ints(op, "starts", &starts);
  if (lathe_op_attr_ints(op, "ends", &ends) != n) return false;
  size_t n_axes = lathe_op_attr_ints(op, "axes", &axes);
  size_t n_steps = lathe_op_attr_ints(op, "steps", &steps);
  if ((n_axes && n_axes != n) || (n_steps && n_steps != n)) return false;
  int64_t begin[LATHE_MAX_RANK] = {0}, step[LATHE_MAX_RANK], st[LATHE_MAX_RANK];
  for (uint32_t d = 0; d < t->rank; ++d) step[d] = 1;
  for (size_t i = 0; i < n; ++i) {
    uint32_t a;
    lathe_status_t s = lathe_normalize_axis(n_axes ? axes[i] : (int64_t)i, t->rank, &a);
    if (s) return lathe_status_free(s), false;
    int64_t dim = t->dims[a].size, b = starts[i], e = ends[i];
    step[a] = n_steps ? steps[i] : 1;
    if (step[a] == 0) return false;
    if (b < 0) b += dim;
    if (e < 0) e += dim;
    int64_t len;
    if (step[a] > 0) {
      b = clamp(b, 0, dim), e = clamp(e, 0, dim);
      len = e > b ? (e - b + step[a] - 1) / step[a] : 0;
    } else {
      b = clamp(b, 0, dim - 1), e = clamp(e, -1, dim - 1);
      len = b > e ? (b - e - step[a] - 1) / -step[a] : 0;
    }
    if (len != rt->dims[a].size) return false;
    begin[a] = b;
  }
  for (uint32_t d = 0; d < t->rank; ++d)
    if (rt->dims[d].size > t->dims[d].size) return false;
  strides_of(t, st);
  FOR_EACH_INDEX(rt, k, idx) {
    int64_t src = 0;
    for (uint32_t d = 0; d < rt->rank; ++d) src += (begin[d] + idx[d] * step[d]) * st[d];
    memcpy((uint8_t *)out + k * (int64_t)es, in[0].data + src * (int64_t)es, es);
  }
  return true;
}

/* result = data[:axis] ++ indices.shape ++ data[axis+1:]; negative indices
 * count from the end; out-of-range ones leave the op unfolded. */
bool lathe_fold_gather(const lathe_op_t *op, const lathe_literal_t *in, const lathe_type_t *rt,
                       void *out) {
  size_t es = elem_size(rt->dtype);
  const lathe_type_t *t = &in[0].type, *it = &in[1].type;
  uint32_t axis;
  lathe_status_t st = lathe_normalize_axis(lathe_op_attr_int(op, "axis"), t->rank, &axis);
  if (st) return lathe_status_free(st), false;
  if (!es || t->dtype != rt->dtype || rt->rank != t->rank - 1 + it->rank ||
      lathe_literal_float_domain(it->dtype))
    return false;
  int64_t outer = product(t, 0, axis), dim = t->dims[axis].size;
  size_t chunk = (size_t)product(t, axis + 1, t->rank) * es;
  uint8_t *dst = out;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < in[1].count; ++j) {
      int64_t v = lathe_literal_load_i64(it->dtype, in[1].data, j);
      if (v < 0) v += dim;
      if (v < 0 || v >= dim) return false;
      memcpy(dst, in[0].data + (size_t)(o * dim + v) * chunk, chunk);
      dst += chunk;
    }
  return (size_t)(dst - (uint8_t *)out) == (size_t)product(rt, 0, rt->rank) * es;
}

/* dims [start, end) of the operand's shape, clamped like slice. The operand
 * need not be constant: only those dims must be static. */
bool lathe_fold_shape(const lathe_op_t *op, const lathe_literal_t *in, const lathe_type_t *rt,
                      void *out) {
  const lathe_type_t *t = &in[0].type;
  int64_t r = t->rank, b = lathe_op_attr_int(op, "start"), e = lathe_op_attr_int(op, "end");
  if (b < 0) b += r;
  if (e < 0) e += r;
  b = clamp(b, 0, r), e = clamp(e, 0, r);
  if (rt->rank != 1 || rt->dims[0].size != (e > b ? e - b : 0)) return false;
  for (int64_t d = b; d < e; ++d) {
    if (!lathe_dim_is_static(t->dims[d])) return false;
    lathe_literal_store_i64(rt->dtype, out, d - b, t->dims[d].size);
  }
  return true;
}

bool lathe_fold_size(const lathe_op_t *op, const lathe_literal_t *in, const lathe_type_t *rt,
                     void *out) {
  (void)op;
  int64_t count;
  lathe_status_t st = lathe_type_num_elements(&in[0].type, &count);
  if (st) return lathe_status_free(st), false;
  lathe_literal_store_i64(rt->dtype, out, 0, count);
  return true;
}
