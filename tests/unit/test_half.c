/* Unit tests for support/half: f32 <-> f16 and f32 <-> bf16.
 *
 * The f16 direction is checked against the compiler's own _Float16
 * conversions (hardware round-to-nearest-even) on every 16-bit pattern and on
 * a dense sweep of f32 patterns, plus the boundary values where rounding
 * decides between a finite value and infinity or between a subnormal and zero.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "support/half.h"

__extension__ typedef _Float16 half_t;

static uint16_t oracle_f32_to_f16(float f) {
  half_t h = (half_t)f;
  uint16_t bits;
  memcpy(&bits, &h, sizeof bits);
  return bits;
}

static bool is_f16_nan(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff); }

static void test_f16_widen_is_exact_and_roundtrips(void **state) {
  for (uint32_t i = 0; i <= 0xffff; ++i) {
    uint16_t h = (uint16_t)i;
    half_t oracle;
    memcpy(&oracle, &h, sizeof oracle);
    float f = lathe_f16_to_f32(h);
    if (is_f16_nan(h)) {
      assert_true(isnan(f));
      assert_true(is_f16_nan(lathe_f32_to_f16(f)));
      continue;
    }
    assert_int_equal(lathe_f32_bits(f), lathe_f32_bits((float)oracle));
    assert_int_equal(lathe_f32_to_f16(f), h);
  }
}

static void test_f16_narrow_matches_hardware(void **state) {
  /* A stride that is odd and not a power of two hits every exponent and
   * many mantissa patterns, including the low bits that decide ties. */
  for (uint64_t x = 0; x <= 0xffffffffu; x += 4099) {
    float f = lathe_f32_from_bits((uint32_t)x);
    uint16_t got = lathe_f32_to_f16(f);
    if (isnan(f)) {
      assert_true(is_f16_nan(got));
      continue;
    }
    assert_int_equal(got, oracle_f32_to_f16(f));
  }
  /* Exact ties and the edges: the largest finite, overflow, subnormals. */
  const float edges[] = {65504.0f,        65519.996f,      65520.0f,        65536.0f,
                         1e10f,           -65520.0f,       0x1p-14f,        0x1p-24f,
                         0x1p-25f,        0x1.8p-25f,      0x1.000002p-25f, 0x1.ffcp-15f,
                         1.0f + 0x1p-11f, 1.0f + 0x3p-11f, -0.0f,           0.0f};
  for (size_t i = 0; i < sizeof edges / sizeof edges[0]; ++i)
    assert_int_equal(lathe_f32_to_f16(edges[i]), oracle_f32_to_f16(edges[i]));
  assert_int_equal(lathe_f32_to_f16(INFINITY), 0x7c00);
  assert_int_equal(lathe_f32_to_f16(-INFINITY), 0xfc00);
  assert_int_equal(lathe_f32_to_f16(65520.0f), 0x7c00);
  assert_int_equal(lathe_f32_to_f16(0x1p-25f), 0x0000);   /* tie to even: zero */
  assert_int_equal(lathe_f32_to_f16(0x1.8p-24f), 0x0002); /* 1.5 units: tie to even */
  assert_int_equal(lathe_f32_to_f16(-0.0f), 0x8000);
}

static void test_bf16(void **state) {
  assert_int_equal(lathe_f32_to_bf16(1.0f), 0x3f80);
  assert_int_equal(lathe_f32_to_bf16(-2.0f), 0xc000);
  /* Ties go to the even mantissa. */
  assert_int_equal(lathe_f32_to_bf16(lathe_f32_from_bits(0x3f808000)), 0x3f80);
  assert_int_equal(lathe_f32_to_bf16(lathe_f32_from_bits(0x3f818000)), 0x3f82);
  assert_int_equal(lathe_f32_to_bf16(lathe_f32_from_bits(0x3f808001)), 0x3f81);
  /* The largest f32 rounds up to infinity; infinities and NaN survive. */
  assert_int_equal(lathe_f32_to_bf16(lathe_f32_from_bits(0x7f7fffff)), 0x7f80);
  assert_int_equal(lathe_f32_to_bf16(INFINITY), 0x7f80);
  assert_int_equal(lathe_f32_to_bf16(-INFINITY), 0xff80);
  uint16_t nan = lathe_f32_to_bf16(lathe_f32_from_bits(0x7f800001)); /* low payload only */
  assert_true((nan & 0x7f80) == 0x7f80 && (nan & 0x7f));
  for (uint32_t i = 0; i <= 0xffff; ++i) {
    float f = lathe_bf16_to_f32((uint16_t)i);
    assert_int_equal(lathe_f32_bits(f), i << 16);
    if (!isnan(f)) assert_int_equal(lathe_f32_to_bf16(f), i);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_f16_widen_is_exact_and_roundtrips),
      cmocka_unit_test(test_f16_narrow_matches_hardware),
      cmocka_unit_test(test_bf16),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
