/* 16-bit floating point conversions: IEEE binary16 (f16) and bfloat16 (bf16).
 *
 * Both formats are stored as uint16_t bit patterns; arithmetic happens in f32.
 * Narrowing rounds to nearest, ties to even, the way hardware converts, so a
 * value printed from f32 and parsed back lands on the same 16-bit pattern.
 * Overflow gives an infinity of the right sign, tiny values become
 * subnormals or signed zero, NaN stays NaN (quiet, with as much payload as
 * fits). Widening is exact.
 *
 * Pure functions; thread-safe.
 */
#ifndef LATHE_SUPPORT_HALF_H
#define LATHE_SUPPORT_HALF_H

#include <stdint.h>

uint16_t lathe_f32_to_f16(float value);
float lathe_f16_to_f32(uint16_t bits);
uint16_t lathe_f32_to_bf16(float value);
float lathe_bf16_to_f32(uint16_t bits);

/* The bit pattern of a float and back (memcpy, no aliasing tricks). */
uint32_t lathe_f32_bits(float value);
float lathe_f32_from_bits(uint32_t bits);

#endif
