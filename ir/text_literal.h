/* Numbers in the text IR: reading literals into tensor elements of each dtype
 * and printing elements and float attributes back in canonical form.
 *
 * Floats print as the shortest decimal that reads back to the same bits for
 * their type (f64 and attributes: double; f32: float; f16/bf16: the 16-bit
 * pattern, via f32), and always look like floats ("1.0", "1e-05", "inf",
 * "-inf", "nan") so they re-lex as FLOAT. NaN payloads and signs are not
 * kept: every NaN prints as "nan". Integers print in decimal, bools as
 * true/false, i4/u4 as the nibble's integer value.
 *
 * Element storage follows weights.h: native little-endian scalars, packed
 * dtypes two per byte, low nibble first.
 *
 * Internal to ir/ (the printer and parser).
 */
#ifndef LATHE_IR_TEXT_LITERAL_H
#define LATHE_IR_TEXT_LITERAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir/dtype.h"
#include "support/status.h"
#include "support/strbuf.h"

/* Appends the canonical text of a double (FLOAT attributes, f64 elements). */
void lathe_text_print_double(lathe_strbuf_t *sb, double v);
/* Appends element `index` of a `dtype` buffer. */
void lathe_text_print_element(lathe_strbuf_t *sb, lathe_dtype_t dtype, const uint8_t *data,
                              uint64_t index);

/* Reads a literal ("12", "-3", "0.5", "1e-05", "inf", "-inf", "nan", "true",
 * "false") as element `index` of a `dtype` buffer. Fails (without a location;
 * the parser adds it) when the literal's kind does not fit the dtype (a float
 * for an integer dtype, a number for bool) or its value is out of range. */
lathe_status_t lathe_text_store_element(lathe_dtype_t dtype, const char *text, size_t len,
                                        uint8_t *data, uint64_t index);
/* Copies element 0 into elements 1..count-1 (splat constants). */
void lathe_text_fill_elements(lathe_dtype_t dtype, uint8_t *data, uint64_t count);
/* True when all `count` elements have the same bits. */
bool lathe_text_elements_equal(lathe_dtype_t dtype, const uint8_t *data, uint64_t count);

/* Reads a number literal as a double: integers, floats, "inf", "-inf", "nan".
 * Overflow to infinity is an error. */
lathe_status_t lathe_text_parse_double(const char *text, size_t len, double *out);
/* Reads a decimal integer literal; an error when it does not fit int64. */
lathe_status_t lathe_text_parse_int(const char *text, size_t len, int64_t *out);

#endif
