/* Unit tests for the dtype table (ir/dtype): every dtype's text name parses
 * back to itself, widths and classes are what the IR and the backends assume,
 * and storage sizes round packed 4-bit types up to whole bytes and refuse to
 * overflow (element counts come from user-written shapes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ir/dtype.h"

static void test_names_round_trip(void **state) {
  for (int d = LATHE_DTYPE_INVALID + 1; d < LATHE_DTYPE_COUNT; ++d) {
    const char *name = lathe_dtype_name((lathe_dtype_t)d);
    assert_string_not_equal(name, "invalid");
    assert_int_equal(lathe_dtype_from_name(name, strlen(name)), d);
    assert_non_null(lathe_dtype_numpy_name((lathe_dtype_t)d));
    /* Names are distinct. */
    for (int e = LATHE_DTYPE_INVALID + 1; e < d; ++e)
      assert_string_not_equal(name, lathe_dtype_name((lathe_dtype_t)e));
  }
}

static void test_unknown_names(void **state) {
  static const char *const bad[] = {"", "f", "f3", "f33", "F32", "float32", "i", "invalid", "i4x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i)
    assert_int_equal(lathe_dtype_from_name(bad[i], strlen(bad[i])), LATHE_DTYPE_INVALID);
  /* The length bounds the name: the parser passes slices of a line. */
  assert_int_equal(lathe_dtype_from_name("f32[4]", 3), LATHE_DTYPE_F32);
  assert_int_equal(lathe_dtype_from_name("i4", 1), LATHE_DTYPE_INVALID);
  assert_string_equal(lathe_dtype_name(LATHE_DTYPE_INVALID), "invalid");
  assert_string_equal(lathe_dtype_name(LATHE_DTYPE_COUNT), "invalid");
  assert_int_equal(lathe_dtype_bits(LATHE_DTYPE_COUNT), 0);
}

typedef struct {
  lathe_dtype_t dtype;
  const char *name, *numpy;
  unsigned bits;
  bool is_float, is_integer, is_signed;
} expect_t;

static const expect_t expected[] = {
    {LATHE_DTYPE_F32, "f32", "float32", 32, true, false, true},
    {LATHE_DTYPE_F16, "f16", "float16", 16, true, false, true},
    {LATHE_DTYPE_BF16, "bf16", "bfloat16", 16, true, false, true},
    {LATHE_DTYPE_F64, "f64", "float64", 64, true, false, true},
    {LATHE_DTYPE_I8, "i8", "int8", 8, false, true, true},
    {LATHE_DTYPE_U8, "u8", "uint8", 8, false, true, false},
    {LATHE_DTYPE_I32, "i32", "int32", 32, false, true, true},
    {LATHE_DTYPE_I64, "i64", "int64", 64, false, true, true},
    {LATHE_DTYPE_U64, "u64", "uint64", 64, false, true, false},
    {LATHE_DTYPE_BOOL, "bool", "bool", 8, false, false, false},
    {LATHE_DTYPE_I4, "i4", "int4", 4, false, true, true},
    {LATHE_DTYPE_U4, "u4", "uint4", 4, false, true, false},
};

static void test_properties(void **state) {
  for (size_t i = 0; i < sizeof expected / sizeof expected[0]; ++i) {
    const expect_t *e = &expected[i];
    assert_string_equal(lathe_dtype_name(e->dtype), e->name);
    assert_string_equal(lathe_dtype_numpy_name(e->dtype), e->numpy);
    assert_int_equal(lathe_dtype_bits(e->dtype), e->bits);
    assert_int_equal(lathe_dtype_is_float(e->dtype), e->is_float);
    assert_int_equal(lathe_dtype_is_integer(e->dtype), e->is_integer);
    assert_int_equal(lathe_dtype_is_signed(e->dtype), e->is_signed);
    assert_int_equal((lathe_dtype_flags(e->dtype) & LATHE_DTYPE_PACKED) != 0, e->bits < 8);
  }
  assert_false(lathe_dtype_is_float(LATHE_DTYPE_INVALID));
  assert_false(lathe_dtype_is_integer(LATHE_DTYPE_INVALID));
}

typedef struct {
  lathe_dtype_t dtype;
  uint64_t count;
  bool ok;
  uint64_t bytes;
} storage_case_t;

static const storage_case_t storage_cases[] = {
    {LATHE_DTYPE_F32, 0, true, 0},
    {LATHE_DTYPE_F32, 10, true, 40},
    {LATHE_DTYPE_BF16, 3, true, 6},
    {LATHE_DTYPE_BOOL, 5, true, 5},
    {LATHE_DTYPE_F64, UINT64_MAX / 8, true, UINT64_MAX / 8 * 8},
    {LATHE_DTYPE_F64, UINT64_MAX / 8 + 1, false, 0},
    {LATHE_DTYPE_F32, UINT64_MAX / 4 + 1, false, 0},
    {LATHE_DTYPE_U8, UINT64_MAX, true, UINT64_MAX},
    /* Packed: two elements per byte, an odd count rounds up. */
    {LATHE_DTYPE_I4, 0, true, 0},
    {LATHE_DTYPE_I4, 1, true, 1},
    {LATHE_DTYPE_I4, 2, true, 1},
    {LATHE_DTYPE_I4, 3, true, 2},
    {LATHE_DTYPE_U4, 7, true, 4},
    {LATHE_DTYPE_U4, 4096, true, 2048},
    {LATHE_DTYPE_U4, UINT64_MAX, true, UINT64_MAX / 2 + 1},
    {LATHE_DTYPE_INVALID, 1, false, 0},
};

static void test_storage_bytes(void **state) {
  for (size_t i = 0; i < sizeof storage_cases / sizeof storage_cases[0]; ++i) {
    const storage_case_t *c = &storage_cases[i];
    uint64_t bytes = 12345;
    bool ok = lathe_dtype_storage_bytes(c->dtype, c->count, &bytes);
    assert_int_equal(ok, c->ok);
    if (ok) assert_int_equal(bytes, c->bytes);
    else assert_int_equal(bytes, 12345); /* out-params are written only on success */
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names_round_trip),
      cmocka_unit_test(test_unknown_names),
      cmocka_unit_test(test_properties),
      cmocka_unit_test(test_storage_bytes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
