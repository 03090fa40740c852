/* Tensor descriptors: dtype sizes and names, dense byte sizes and the type
 * strings that run-time shape errors print.
 *
 * The runtime keeps its own dtype table (LATHE_RT_DTYPES) because it may not
 * depend on ir/; the codes equal lathe_dtype_t and a unit test checks it. */
#include <stdio.h>
#include <string.h>

#include "runtime/runtime.h"

typedef struct {
  const char *name;
  unsigned bits;
} dtype_info_t;

static const dtype_info_t dtypes[LATHE_RT_DTYPE_COUNT] = {[LATHE_RT_DTYPE_INVALID] = {"invalid", 0},
#define X(e, code, name, bits) [code] = {name, bits},
                                                          LATHE_RT_DTYPES(X)
#undef X
};

static bool valid_dtype(int32_t dtype) {
  return dtype > LATHE_RT_DTYPE_INVALID && dtype < LATHE_RT_DTYPE_COUNT;
}

const char *lathe_rt_dtype_name(int32_t dtype) {
  return valid_dtype(dtype) ? dtypes[dtype].name : "invalid";
}

unsigned lathe_rt_dtype_bits(int32_t dtype) { return valid_dtype(dtype) ? dtypes[dtype].bits : 0; }

bool lathe_rt_dtype_bytes(int32_t dtype, uint64_t count, uint64_t *out_bytes) {
  unsigned bits = lathe_rt_dtype_bits(dtype);
  if (!bits) return false;
  if (bits < 8) {
    /* Packed: round up to whole bytes without overflowing count * bits. */
    uint64_t per_byte = 8 / bits;
    *out_bytes = count / per_byte + (count % per_byte != 0);
    return true;
  }
  uint64_t size = bits / 8;
  if (count > UINT64_MAX / size) return false;
  *out_bytes = count * size;
  return true;
}

lathe_status_t lathe_rt_tensor_init(int32_t dtype, int32_t rank, const int64_t *dims, void *data,
                                    uint64_t byte_size, lathe_rt_tensor_t *out_tensor) {
  lathe_rt_tensor_t t;
  memset(&t, 0, sizeof t);
  t.data = data;
  t.byte_size = byte_size;
  t.dtype = dtype;
  t.rank = rank;
  if (rank < 0 || rank > LATHE_RT_MAX_RANK)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "tensor rank %d is outside [0, %d]",
                             (int)rank, LATHE_RT_MAX_RANK);
  if (rank > 0 && !dims)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "tensor of rank %d has no dims",
                             (int)rank);
  for (int32_t i = 0; i < rank; ++i) t.dims[i] = dims[i];
  uint64_t bytes;
  LATHE_RETURN_IF_ERROR(lathe_rt_tensor_dense_bytes(&t, &bytes));
  *out_tensor = t;
  return NULL;
}

lathe_status_t lathe_rt_tensor_dense_bytes(const lathe_rt_tensor_t *tensor, uint64_t *out_bytes) {
  if (!valid_dtype(tensor->dtype))
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "unknown tensor dtype code %d",
                             (int)tensor->dtype);
  if (tensor->rank < 0 || tensor->rank > LATHE_RT_MAX_RANK)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "tensor rank %d is outside [0, %d]",
                             (int)tensor->rank, LATHE_RT_MAX_RANK);
  bool empty = false;
  for (int32_t i = 0; i < tensor->rank; ++i) {
    if (tensor->dims[i] < 0)
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "tensor dim %d is negative (%lld)",
                               (int)i, (long long)tensor->dims[i]);
    empty |= tensor->dims[i] == 0;
  }
  /* An empty tensor is empty however large its other dims are. */
  uint64_t count = empty ? 0 : 1;
  for (int32_t i = 0; i < tensor->rank && !empty; ++i) {
    uint64_t d = (uint64_t)tensor->dims[i];
    if (count > UINT64_MAX / d)
      return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "tensor size overflows 64 bits");
    count *= d;
  }
  if (!lathe_rt_dtype_bytes(tensor->dtype, count, out_bytes))
    return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "tensor size overflows 64 bits");
  return NULL;
}

bool lathe_rt_tensor_is_dense(const lathe_rt_tensor_t *tensor) {
  if (!(tensor->flags & LATHE_RT_TENSOR_STRIDED)) return true;
  if (tensor->rank < 0 || tensor->rank > LATHE_RT_MAX_RANK) return false;
  for (int32_t i = 0; i < tensor->rank; ++i)
    if (tensor->dims[i] == 0) return true; /* empty: nothing to address */
  int64_t expect = 1;
  for (int32_t i = tensor->rank - 1; i >= 0; --i) {
    int64_t d = tensor->dims[i];
    if (d != 1 && tensor->strides[i] != expect) return false;
    if (d > 0 && expect > INT64_MAX / d) return false;
    expect *= d;
  }
  return true;
}

void lathe_rt_tensor_format_type(const lathe_rt_tensor_t *tensor, char *buf, size_t size) {
  if (!size) return;
  int rank = tensor->rank < 0                   ? 0
             : tensor->rank > LATHE_RT_MAX_RANK ? LATHE_RT_MAX_RANK
                                                : tensor->rank;
  size_t used = 0;
  int n = snprintf(buf, size, "%s[", lathe_rt_dtype_name(tensor->dtype));
  for (int i = 0; i < rank && n >= 0; ++i) {
    used += (size_t)n;
    if (used >= size) return;
    n = snprintf(buf + used, size - used, "%s%lld", i ? ", " : "", (long long)tensor->dims[i]);
  }
  if (n < 0) return;
  used += (size_t)n;
  if (used >= size) return;
  snprintf(buf + used, size - used, "]");
}
