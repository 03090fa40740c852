/* ONNX TensorProto files (.pb): the input and output files of ONNX's backend
 * test data sets (test_data_set_0/input_0.pb), which `lathe run -i` accepts
 * next to .npy. Such a file is one serialized TensorProto; unlike a model,
 * it is small, so protobuf-c's copy of raw_data costs nothing. Typed fields
 * (float_data, int64_data...) go through the importer's own decoder, so the
 * two paths agree on every dtype. */
#include <stdlib.h>
#include <string.h>

#include "frontend/onnx/onnx_import.h"
#include "frontend/onnx/onnx_internal.h"

static lathe_status_t decode(const char *path, const Onnx__TensorProto *t, lathe_dtype_t *out_dtype,
                             uint32_t *out_rank, int64_t *out_dims, void **out_data,
                             uint64_t *out_bytes) {
  if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
    return lathe_status_make(LATHE_STATUS_UNSUPPORTED, "%s: external data is not supported here",
                             path);
  lathe_module_t *m = lathe_module_create(path);
  onnx_tensor_ctx_t ctx = {.module = m, .model_display = path, .display_dir = ""};
  onnx_const_t c;
  lathe_status_t st = NULL;
  if (t->has_raw_data) {
    /* The importer's raw path views a mapped model; here the bytes are in
     * the unpacked message, so check the size and keep a copy. */
    lathe_dtype_t dtype = onnx_dtype_to_lathe(t->has_data_type ? t->data_type : 0);
    int64_t count = 1;
    uint64_t expected = 0;
    if (dtype == LATHE_DTYPE_INVALID)
      st = lathe_status_make(LATHE_STATUS_UNSUPPORTED, "%s: data type %d is not supported", path,
                             (int)t->data_type);
    for (size_t i = 0; !st && i < t->n_dims; ++i)
      if (t->dims[i] < 0 || !lathe_checked_mul_i64(count, t->dims[i], &count))
        st = lathe_status_make(LATHE_STATUS_PARSE_ERROR, "%s: bad dims", path);
    if (!st && !lathe_dtype_storage_bytes(dtype, (uint64_t)count, &expected))
      st = lathe_status_make(LATHE_STATUS_PARSE_ERROR, "%s: tensor too large", path);
    if (!st && t->raw_data.len != expected)
      st = lathe_status_make(LATHE_STATUS_PARSE_ERROR, "%s: raw_data has %zu bytes, expected %llu",
                             path, t->raw_data.len, (unsigned long long)expected);
    lathe_weight_t *w = NULL;
    if (!st) st = lathe_weight_create_inline(m, dtype, t->raw_data.data, expected, &w);
    if (!st)
      c = (onnx_const_t){.type = lathe_type_make_static(lathe_module_arena(m), dtype,
                                                        (uint32_t)t->n_dims, t->dims),
                         .weight = w};
  } else {
    st = onnx_tensor_decode(&ctx, t, NULL, path, &c);
  }
  if (!st && c.type.rank > LATHE_MAX_RANK)
    st = lathe_status_make(LATHE_STATUS_UNSUPPORTED, "%s: rank too large", path);
  void *data = NULL;
  if (!st) {
    data = malloc(c.weight->num_bytes ? c.weight->num_bytes : 1);
    if (!data) st = lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "%s: out of memory", path);
  }
  if (!st) {
    if (c.weight->num_bytes) memcpy(data, c.weight->data, c.weight->num_bytes);
    *out_dtype = c.type.dtype;
    *out_rank = c.type.rank;
    for (uint32_t d = 0; d < c.type.rank; ++d) out_dims[d] = c.type.dims[d].size;
    *out_data = data;
    *out_bytes = c.weight->num_bytes;
  }
  lathe_module_destroy(m);
  return st;
}

lathe_status_t lathe_onnx_read_tensor_file(const char *path, lathe_dtype_t *out_dtype,
                                           uint32_t *out_rank, int64_t *out_dims, void **out_data,
                                           uint64_t *out_bytes) {
  lathe_mapped_file_t *f;
  LATHE_RETURN_IF_ERROR(lathe_mapped_file_open(path, &f));
  Onnx__TensorProto *t =
      onnx__tensor_proto__unpack(NULL, lathe_mapped_file_size(f), lathe_mapped_file_data(f));
  lathe_mapped_file_release(f);
  if (!t)
    return lathe_status_make(LATHE_STATUS_PARSE_ERROR, "%s: not a serialized ONNX TensorProto",
                             path);
  lathe_status_t st = decode(path, t, out_dtype, out_rank, out_dims, out_data, out_bytes);
  onnx__tensor_proto__free_unpacked(t, NULL);
  return st;
}
