/* Unit tests for runtime/tensor.c: the tensor descriptor helpers.
 *
 * The runtime keeps its own dtype table because it may not depend on ir/;
 * the compiler passes lathe_dtype_t values straight through as runtime dtype
 * codes, so the first test pins the two tables together (codes, names, bits).
 * The rest: byte sizes (packed types, empty tensors, overflow), density, and
 * the type strings that run-time errors print.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ir/dtype.h"
#include "runtime/runtime.h"

static void test_dtype_codes_match_ir(void **state) {
  int count = 0;
#define X(e, code, name, bits)                                                       \
  assert_int_equal(LATHE_RT_DTYPE_##e, LATHE_DTYPE_##e);                             \
  assert_string_equal(lathe_rt_dtype_name(code), lathe_dtype_name(LATHE_DTYPE_##e)); \
  assert_int_equal(lathe_rt_dtype_bits(code), lathe_dtype_bits(LATHE_DTYPE_##e));    \
  ++count;
  LATHE_RT_DTYPES(X)
#undef X
  assert_int_equal(count + 1, LATHE_DTYPE_COUNT);
  assert_int_equal(LATHE_RT_DTYPE_COUNT, LATHE_DTYPE_COUNT);
  assert_string_equal(lathe_rt_dtype_name(0), "invalid");
  assert_string_equal(lathe_rt_dtype_name(99), "invalid");
  assert_string_equal(lathe_rt_dtype_name(-1), "invalid");
  assert_int_equal(lathe_rt_dtype_bits(LATHE_RT_DTYPE_COUNT), 0);
}

static void test_dtype_bytes(void **state) {
  uint64_t b;
  assert_true(lathe_rt_dtype_bytes(LATHE_RT_DTYPE_F32, 3, &b));
  assert_int_equal(b, 12);
  assert_true(lathe_rt_dtype_bytes(LATHE_RT_DTYPE_I4, 3, &b));
  assert_int_equal(b, 2);
  assert_true(lathe_rt_dtype_bytes(LATHE_RT_DTYPE_U4, UINT64_MAX, &b));
  assert_int_equal(b, UINT64_MAX / 2 + 1);
  assert_false(lathe_rt_dtype_bytes(LATHE_RT_DTYPE_F64, UINT64_MAX / 4, &b));
  assert_false(lathe_rt_dtype_bytes(0, 1, &b));
  /* Agrees with the IR's storage size on every dtype and a few counts. */
  const uint64_t counts[] = {0, 1, 7, 1000003};
  for (int d = 1; d < LATHE_RT_DTYPE_COUNT; ++d) {
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; ++i) {
      uint64_t ir;
      assert_true(lathe_rt_dtype_bytes(d, counts[i], &b));
      assert_true(lathe_dtype_storage_bytes((lathe_dtype_t)d, counts[i], &ir));
      assert_int_equal(b, ir);
    }
  }
}

static void test_tensor_init_and_bytes(void **state) {
  float data[6];
  lathe_rt_tensor_t t;
  int64_t dims[] = {2, 3};
  assert_null(lathe_rt_tensor_init(LATHE_RT_DTYPE_F32, 2, dims, data, sizeof data, &t));
  assert_ptr_equal(t.data, data);
  assert_int_equal(t.rank, 2);
  assert_int_equal(t.dims[1], 3);
  assert_true(lathe_rt_tensor_is_dense(&t));
  uint64_t bytes;
  assert_null(lathe_rt_tensor_dense_bytes(&t, &bytes));
  assert_int_equal(bytes, 24);

  /* Scalars and empty tensors. */
  assert_null(lathe_rt_tensor_init(LATHE_RT_DTYPE_I64, 0, NULL, data, 8, &t));
  assert_null(lathe_rt_tensor_dense_bytes(&t, &bytes));
  assert_int_equal(bytes, 8);
  int64_t empty[] = {INT64_MAX, 0, INT64_MAX};
  assert_null(lathe_rt_tensor_init(LATHE_RT_DTYPE_F32, 3, empty, NULL, 0, &t));
  assert_null(lathe_rt_tensor_dense_bytes(&t, &bytes));
  assert_int_equal(bytes, 0);

  /* Bad input is a status, not a crash. */
  int64_t huge[] = {INT64_MAX, INT64_MAX};
  int64_t negative[] = {2, -1};
  struct {
    int32_t dtype, rank;
    const int64_t *dims;
    lathe_status_code_t code;
  } bad[] = {
      {LATHE_RT_DTYPE_F32, 2, huge, LATHE_STATUS_OUT_OF_RANGE},
      {LATHE_RT_DTYPE_F32, 2, negative, LATHE_STATUS_INVALID_ARGUMENT},
      {0, 1, dims, LATHE_STATUS_INVALID_ARGUMENT},
      {LATHE_RT_DTYPE_COUNT, 1, dims, LATHE_STATUS_INVALID_ARGUMENT},
      {LATHE_RT_DTYPE_F32, LATHE_RT_MAX_RANK + 1, huge, LATHE_STATUS_INVALID_ARGUMENT},
      {LATHE_RT_DTYPE_F32, -1, dims, LATHE_STATUS_INVALID_ARGUMENT},
      {LATHE_RT_DTYPE_F32, 2, NULL, LATHE_STATUS_INVALID_ARGUMENT},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    memset(&t, 0x5a, sizeof t);
    lathe_status_t s = lathe_rt_tensor_init(bad[i].dtype, bad[i].rank, bad[i].dims, NULL, 0, &t);
    assert_non_null(s);
    assert_int_equal(lathe_status_code(s), bad[i].code);
    lathe_status_free(s);
    assert_int_equal(t.rank, 0x5a5a5a5a); /* untouched on failure */
  }
}

static void test_density(void **state) {
  lathe_rt_tensor_t t;
  int64_t dims[] = {2, 1, 3};
  assert_null(lathe_rt_tensor_init(LATHE_RT_DTYPE_F32, 3, dims, NULL, 24, &t));
  t.flags = LATHE_RT_TENSOR_STRIDED;
  t.strides[0] = 3, t.strides[1] = 99, t.strides[2] = 1; /* size-1 dims: any stride */
  assert_true(lathe_rt_tensor_is_dense(&t));
  t.strides[0] = 4;
  assert_false(lathe_rt_tensor_is_dense(&t));
  t.strides[0] = 3, t.strides[2] = 2;
  assert_false(lathe_rt_tensor_is_dense(&t));
  t.dims[1] = 0; /* empty: nothing to address */
  assert_true(lathe_rt_tensor_is_dense(&t));
}

static void test_format_type(void **state) {
  lathe_rt_tensor_t t;
  int64_t dims[] = {4, 128, 7};
  assert_null(lathe_rt_tensor_init(LATHE_RT_DTYPE_BF16, 3, dims, NULL, 0, &t));
  char buf[64];
  lathe_rt_tensor_format_type(&t, buf, sizeof buf);
  assert_string_equal(buf, "bf16[4, 128, 7]");
  t.rank = 0;
  lathe_rt_tensor_format_type(&t, buf, sizeof buf);
  assert_string_equal(buf, "bf16[]");
  /* Truncation keeps the string terminated. */
  t.rank = 3;
  lathe_rt_tensor_format_type(&t, buf, 8);
  assert_string_equal(buf, "bf16[4,");
  t.rank = 1000; /* hostile rank: clamped, not read out of bounds */
  lathe_rt_tensor_format_type(&t, buf, sizeof buf);
  assert_true(strlen(buf) < sizeof buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dtype_codes_match_ir),  cmocka_unit_test(test_dtype_bytes),
      cmocka_unit_test(test_tensor_init_and_bytes), cmocka_unit_test(test_density),
      cmocka_unit_test(test_format_type),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
