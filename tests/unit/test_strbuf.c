/* Unit tests for support/strbuf: the printers' output buffer. Checks the
 * always-NUL-terminated invariant, growth across many reallocations, bytes
 * (including NUL) appended verbatim, and the hand-over of the string. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/strbuf.h"

static void test_empty(void **state) {
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  assert_string_equal(lathe_strbuf_cstr(&sb), "");
  assert_int_equal(sb.len, 0);
  char *s = lathe_strbuf_release(&sb); /* never NULL, even when empty */
  assert_non_null(s);
  assert_string_equal(s, "");
  free(s);
  lathe_strbuf_destroy(&sb);
}

static void test_append_putc_printf(void **state) {
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  lathe_strbuf_append(&sb, "graph @");
  lathe_strbuf_append_n(&sb, "mainXYZ", 4);
  lathe_strbuf_putc(&sb, '(');
  lathe_strbuf_printf(&sb, "%%%s: %s[%d, %s]", "x", "f32", 128, "N");
  lathe_strbuf_putc(&sb, ')');
  lathe_strbuf_append(&sb, "");
  lathe_strbuf_printf(&sb, "%s", "");
  assert_string_equal(lathe_strbuf_cstr(&sb), "graph @main(%x: f32[128, N])");
  assert_int_equal(sb.len, strlen("graph @main(%x: f32[128, N])"));
  lathe_strbuf_destroy(&sb);
  assert_null(sb.data);
  assert_int_equal(sb.len, 0);
}

/* append_n copies bytes, NULs included; len counts them. */
static void test_embedded_nul(void **state) {
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  lathe_strbuf_append_n(&sb, "a\0b", 3);
  lathe_strbuf_putc(&sb, '\0');
  assert_int_equal(sb.len, 4);
  assert_memory_equal(sb.data, "a\0b\0", 5);
  lathe_strbuf_destroy(&sb);
}

static void test_growth(void **state) {
  enum { N = 100000 };
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  for (int i = 0; i < N; ++i) {
    lathe_strbuf_putc(&sb, (char)('a' + i % 26));
    assert_true(sb.len < sb.cap);
    assert_int_equal(sb.data[sb.len], '\0');
  }
  assert_int_equal(sb.len, N);
  for (int i = 0; i < N; ++i) assert_int_equal(sb.data[i], 'a' + i % 26);
  /* One printf much larger than the current capacity. */
  size_t before = sb.len;
  lathe_strbuf_printf(&sb, "%*d", 300000, 1);
  assert_int_equal(sb.len, before + 300000);
  assert_int_equal(sb.data[sb.len - 1], '1');
  assert_int_equal(sb.data[sb.len], '\0');
  lathe_strbuf_destroy(&sb);
}

static void test_release_resets(void **state) {
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  lathe_strbuf_append(&sb, "first");
  char *first = lathe_strbuf_release(&sb);
  assert_string_equal(first, "first");
  assert_int_equal(sb.len, 0);
  assert_string_equal(lathe_strbuf_cstr(&sb), "");
  /* The buffer is reusable and independent of the released string. */
  lathe_strbuf_append(&sb, "second");
  assert_string_equal(first, "first");
  char *second = lathe_strbuf_release(&sb);
  assert_string_equal(second, "second");
  free(first);
  free(second);
  lathe_strbuf_destroy(&sb);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty),
      cmocka_unit_test(test_append_putc_printf),
      cmocka_unit_test(test_embedded_nul),
      cmocka_unit_test(test_growth),
      cmocka_unit_test(test_release_resets),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
