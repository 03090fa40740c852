/* The API's tensor helpers: views of caller memory, owned tensors read from
 * .npy or ONNX TensorProto files, .npy output, and the comparison behind
 * `lathe run --check` (numpy's allclose rule, with the error numbers a user
 * wants to see when it fails). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "driver/internal.h"
#include "frontend/frontend.h"
#include "support/half.h"
#include "support/npy.h"

const char *lathe_tensor_dtype_name(int32_t dtype) { return lathe_rt_dtype_name(dtype); }

lathe_status_t lathe_tensor_view(int32_t dtype, int32_t rank, const int64_t *dims, void *data,
                                 uint64_t byte_size, lathe_rt_tensor_t *out_tensor) {
  return lathe_rt_tensor_init(dtype, rank, dims, data, byte_size, out_tensor);
}

lathe_status_t lathe_tensor_alloc(int32_t dtype, int32_t rank, const int64_t *dims,
                                  lathe_rt_tensor_t *out_tensor) {
  lathe_rt_tensor_t t;
  LATHE_RETURN_IF_ERROR(lathe_rt_tensor_init(dtype, rank, dims, NULL, 0, &t));
  uint64_t bytes;
  LATHE_RETURN_IF_ERROR(lathe_rt_tensor_dense_bytes(&t, &bytes));
  /* 64-byte aligned like the runtime's temporaries, so vector code reading
   * an input never straddles a line it need not. */
  size_t rounded = (size_t)((bytes + 63) / 64 * 64);
  t.data = aligned_alloc(64, rounded ? rounded : 64);
  if (!t.data)
    return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory for %llu bytes",
                             (unsigned long long)bytes);
  memset(t.data, 0, rounded ? rounded : 64);
  t.byte_size = bytes;
  *out_tensor = t;
  return NULL;
}

void lathe_tensor_free(lathe_rt_tensor_t *tensor) {
  if (!tensor) return;
  free(tensor->data);
  tensor->data = NULL;
  tensor->byte_size = 0;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* A tensor of the given type holding a copy of `data`. */
static lathe_status_t adopt(const char *path, int32_t dtype, uint32_t rank, const int64_t *dims,
                            const void *data, uint64_t bytes, lathe_rt_tensor_t *out) {
  if (rank > LATHE_RT_MAX_RANK)
    return lathe_status_make(LATHE_STATUS_UNSUPPORTED, "%s: rank %u is above %d", path, rank,
                             LATHE_RT_MAX_RANK);
  lathe_rt_tensor_t t;
  LATHE_RETURN_IF_ERROR_CTX(lathe_tensor_alloc(dtype, (int32_t)rank, dims, &t), "%s", path);
  if (bytes != t.byte_size) {
    lathe_tensor_free(&t);
    return lathe_status_make(LATHE_STATUS_PARSE_ERROR, "%s: %llu bytes of data for %llu", path,
                             (unsigned long long)bytes, (unsigned long long)t.byte_size);
  }
  if (bytes) memcpy(t.data, data, bytes);
  *out = t;
  return NULL;
}

lathe_status_t lathe_tensor_read(const char *path, lathe_rt_tensor_t *out_tensor) {
  if (!path || !out_tensor)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "tensor_read: NULL argument");
  void *data = NULL;
  lathe_status_t st;
  if (ends_with(path, ".pb")) {
    lathe_dtype_t dtype;
    uint32_t rank;
    int64_t dims[LATHE_MAX_RANK];
    uint64_t bytes;
    st = lathe_onnx_read_tensor_file(path, &dtype, &rank, dims, &data, &bytes);
    if (!st) st = adopt(path, (int32_t)dtype, rank, dims, data, bytes, out_tensor);
  } else {
    lathe_npy_header_t h;
    st = lathe_npy_read(path, &h, &data);
    if (!st) st = adopt(path, h.dtype, h.rank, h.dims, data, h.num_bytes, out_tensor);
    if (st && !ends_with(path, ".npy") && lathe_status_code(st) != LATHE_STATUS_IO_ERROR) {
      /* neither name says what the file is: say what is expected */
      lathe_status_free(st);
      st = lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                             "%s: expected an ONNX TensorProto (.pb) or a NumPy array (.npy)", path);
    }
  }
  free(data);
  return st;
}

lathe_status_t lathe_tensor_write_npy(const char *path, const lathe_rt_tensor_t *t) {
  if (!path || !t)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "write_npy: NULL argument");
  uint64_t bytes;
  LATHE_RETURN_IF_ERROR(lathe_rt_tensor_dense_bytes(t, &bytes));
  if (!lathe_rt_tensor_is_dense(t) || t->byte_size < bytes || (bytes && !t->data))
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "%s: the tensor is not dense", path);
  return lathe_npy_write(path, t->dtype, (uint32_t)t->rank, t->dims, t->data, bytes);
}

/* ---- comparison ----------------------------------------------------------------- */

/* Element i as a double (integers exactly up to 2^53). */
static double element(const lathe_rt_tensor_t *t, int64_t i) {
  const uint8_t *p = t->data;
  switch (t->dtype) {
  case LATHE_RT_DTYPE_F32: {
    float v;
    memcpy(&v, p + 4 * i, 4);
    return v;
  }
  case LATHE_RT_DTYPE_F64: {
    double v;
    memcpy(&v, p + 8 * i, 8);
    return v;
  }
  case LATHE_RT_DTYPE_F16: {
    uint16_t v;
    memcpy(&v, p + 2 * i, 2);
    return lathe_f16_to_f32(v);
  }
  case LATHE_RT_DTYPE_BF16: {
    uint16_t v;
    memcpy(&v, p + 2 * i, 2);
    return lathe_bf16_to_f32(v);
  }
  case LATHE_RT_DTYPE_I8: return (int8_t)p[i];
  case LATHE_RT_DTYPE_U8:
  case LATHE_RT_DTYPE_BOOL: return p[i];
  case LATHE_RT_DTYPE_I16: {
    int16_t v;
    memcpy(&v, p + 2 * i, 2);
    return v;
  }
  case LATHE_RT_DTYPE_U16: {
    uint16_t v;
    memcpy(&v, p + 2 * i, 2);
    return v;
  }
  case LATHE_RT_DTYPE_I32: {
    int32_t v;
    memcpy(&v, p + 4 * i, 4);
    return v;
  }
  case LATHE_RT_DTYPE_U32: {
    uint32_t v;
    memcpy(&v, p + 4 * i, 4);
    return v;
  }
  case LATHE_RT_DTYPE_I64: {
    int64_t v;
    memcpy(&v, p + 8 * i, 8);
    return (double)v;
  }
  case LATHE_RT_DTYPE_U64: {
    uint64_t v;
    memcpy(&v, p + 8 * i, 8);
    return (double)v;
  }
  case LATHE_RT_DTYPE_I4: {
    int v = (p[i / 2] >> (4 * (i % 2))) & 0xf;
    return v >= 8 ? v - 16 : v;
  }
  case LATHE_RT_DTYPE_U4: return (p[i / 2] >> (4 * (i % 2))) & 0xf;
  default: return NAN;
  }
}

static lathe_status_t check_dense(const char *what, const lathe_rt_tensor_t *t,
                                  int64_t *out_count) {
  uint64_t bytes;
  LATHE_RETURN_IF_ERROR_CTX(lathe_rt_tensor_dense_bytes(t, &bytes), "%s", what);
  if (!lathe_rt_tensor_is_dense(t) || t->byte_size < bytes || (bytes && !t->data))
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "compare: %s is not a dense tensor",
                             what);
  int64_t count = 1;
  for (int32_t d = 0; d < t->rank; ++d) count *= t->dims[d];
  *out_count = count;
  return NULL;
}

lathe_status_t lathe_tensor_compare(const lathe_rt_tensor_t *got, const lathe_rt_tensor_t *want,
                                    double rtol, double atol, lathe_tensor_diff_t *out_diff) {
  if (!got || !want || !out_diff)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "compare: NULL argument");
  char a[256], b[256];
  lathe_rt_tensor_format_type(got, a, sizeof a);
  lathe_rt_tensor_format_type(want, b, sizeof b);
  if (strcmp(a, b))
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "compare: got %s, expected %s", a, b);
  int64_t n;
  LATHE_RETURN_IF_ERROR(check_dense("the result", got, &n));
  LATHE_RETURN_IF_ERROR(check_dense("the reference", want, &n));
  lathe_tensor_diff_t d = {.num_elements = n, .first_mismatch = -1};
  for (int64_t i = 0; i < n; ++i) {
    double x = element(got, i), y = element(want, i);
    bool bad;
    if (isnan(x) || isnan(y)) {
      bad = isnan(x) != isnan(y);
    } else if (isinf(x) || isinf(y)) {
      bad = x != y;
    } else {
      double err = fabs(x - y);
      if (err > d.max_abs) d.max_abs = err;
      if (y != 0 && err / fabs(y) > d.max_rel) d.max_rel = err / fabs(y);
      bad = err > atol + rtol * fabs(y);
    }
    if (bad) {
      if (d.first_mismatch < 0) d.first_mismatch = i;
      ++d.num_mismatched;
    }
  }
  *out_diff = d;
  return NULL;
}
