/* f16/bf16 conversions: see half.h.
 *
 * Written on the bit patterns rather than with _Float16/__bf16 because ISO C17
 * has neither type and the compilers we target disagree on their support; the
 * unit test checks every f16 pattern against the compiler's own conversion
 * where it exists.
 */
#include "support/half.h"

#include <math.h>
#include <string.h>

uint32_t lathe_f32_bits(float value) {
  uint32_t bits;
  memcpy(&bits, &value, sizeof bits);
  return bits;
}

float lathe_f32_from_bits(uint32_t bits) {
  float value;
  memcpy(&value, &bits, sizeof value);
  return value;
}

/* Shifts `m` right by `shift` (1..31) rounding to nearest, ties to even. */
static uint32_t shift_round_even(uint32_t m, unsigned shift) {
  uint32_t q = m >> shift;
  uint32_t rem = m & ((1u << shift) - 1);
  uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1))) ++q;
  return q;
}

uint16_t lathe_f32_to_f16(float value) {
  uint32_t x = lathe_f32_bits(value);
  uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
  x &= 0x7fffffff;
  if (x >= 0x7f800000) { /* inf or NaN; a NaN keeps the top payload bits and stays quiet */
    if (x > 0x7f800000) return (uint16_t)(sign | 0x7e00 | ((x >> 13) & 0x3ff));
    return (uint16_t)(sign | 0x7c00);
  }
  if (x >= 0x477ff000) return (uint16_t)(sign | 0x7c00); /* >= 65520 rounds to inf */
  if (x < 0x38800000) {                                  /* below 2^-14: f16 subnormal */
    if (x < 0x33000000) return sign;                     /* <= 2^-25 rounds to zero */
    uint32_t e = x >> 23;
    uint32_t m = (x & 0x7fffff) | 0x800000;
    /* value = m * 2^(e-150); in units of 2^-24 that is m >> (126 - e). A carry
     * into bit 10 correctly yields the smallest normal. */
    return (uint16_t)(sign | shift_round_even(m, 126 - e));
  }
  /* Rebias the exponent (127 -> 15), then drop 13 mantissa bits; a carry out of
   * the mantissa correctly bumps the exponent. */
  return (uint16_t)(sign | shift_round_even(x - 0x38000000, 13));
}

float lathe_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e == 0x1f) return lathe_f32_from_bits(sign | 0x7f800000 | (m << 13));
  if (e == 0) {
    float v = ldexpf((float)m, -24); /* exact: m < 2^10 */
    return sign ? -v : v;
  }
  return lathe_f32_from_bits(sign | ((e + 112) << 23) | (m << 13));
}

uint16_t lathe_f32_to_bf16(float value) {
  uint32_t x = lathe_f32_bits(value);
  if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 0x40); /* quiet NaN */
  /* Round to nearest even on the low 16 bits; overflow carries into inf. */
  return (uint16_t)((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

float lathe_bf16_to_f32(uint16_t bits) { return lathe_f32_from_bits((uint32_t)bits << 16); }
