/* Unit tests for runtime/weights.c: the weights table.
 *
 * Weights must be views into the mapped file, never copies (STYLE rule 6):
 * two weights from one file sit exactly their offset difference apart in one
 * mapping, and the table reports zero copied bytes. The one exception, a view
 * misaligned for its element type, is copied and counted. Bad ids, ranges
 * past the end of the file, missing files and unset weights are statuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/runtime.h"

static char path[64];

static int setup(void **state) {
  snprintf(path, sizeof path, "/tmp/lathe_rt_weights_%d.bin", (int)getpid());
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  for (int i = 0; i < 4096; ++i) fputc(i & 0xff, f);
  fclose(f);
  return 0;
}

static int teardown(void **state) {
  unlink(path);
  return 0;
}

static void expect_code(lathe_status_t s, lathe_status_code_t code) {
  assert_non_null(s);
  assert_int_equal(lathe_status_code(s), code);
  lathe_status_free(s);
}

static void test_views_are_not_copies(void **state) {
  lathe_rt_weights_t *w;
  assert_null(lathe_rt_weights_create(3, &w));
  assert_int_equal(lathe_rt_weights_count(w), 3);
  assert_null(lathe_rt_weights_set_file(w, 0, path, 64, 256, 4));
  assert_null(lathe_rt_weights_set_file(w, 2, path, 1024, 1000, 8));
  const void *a, *b;
  uint64_t na, nb;
  assert_null(lathe_rt_weights_get(w, 0, &a, &na));
  assert_null(lathe_rt_weights_get(w, 2, &b, &nb));
  assert_int_equal(na, 256);
  assert_int_equal(nb, 1000);
  /* One mapping, shared: the views are exactly 960 bytes apart. */
  assert_ptr_equal((const uint8_t *)a + 960, b);
  assert_int_equal(((const uint8_t *)a)[0], 64);
  assert_int_equal(((const uint8_t *)b)[1], (1025 & 0xff));
  assert_int_equal(lathe_rt_weights_copied_bytes(w), 0);
  /* An unset weight is NOT_FOUND, an id past the end OUT_OF_RANGE. */
  expect_code(lathe_rt_weights_get(w, 1, &a, &na), LATHE_STATUS_NOT_FOUND);
  expect_code(lathe_rt_weights_get(w, 3, &a, &na), LATHE_STATUS_OUT_OF_RANGE);
  expect_code(lathe_rt_weights_get(w, -1, &a, &na), LATHE_STATUS_OUT_OF_RANGE);
  /* Resetting a weight replaces it; zero-byte weights are fine. */
  assert_null(lathe_rt_weights_set_file(w, 0, path, 4096, 0, 4));
  assert_null(lathe_rt_weights_get(w, 0, &a, &na));
  assert_int_equal(na, 0);
  lathe_rt_weights_destroy(w);
  lathe_rt_weights_destroy(NULL);
}

static void test_misaligned_view_is_copied_and_counted(void **state) {
  lathe_rt_weights_t *w;
  assert_null(lathe_rt_weights_create(2, &w));
  assert_null(lathe_rt_weights_set_file(w, 0, path, 0, 8, 4)); /* maps the file */
  const void *base, *p;
  uint64_t n;
  assert_null(lathe_rt_weights_get(w, 0, &base, &n));
  assert_null(lathe_rt_weights_set_file(w, 1, path, 3, 16, 4));
  assert_null(lathe_rt_weights_get(w, 1, &p, &n));
  assert_int_equal((uintptr_t)p % 4, 0);
  assert_ptr_not_equal(p, (const uint8_t *)base + 3);
  assert_memory_equal(p, (const uint8_t *)base + 3, 16);
  assert_int_equal(lathe_rt_weights_copied_bytes(w), 16);
  /* Alignment 1 never copies. */
  assert_null(lathe_rt_weights_set_file(w, 1, path, 3, 16, 1));
  assert_null(lathe_rt_weights_get(w, 1, &p, &n));
  assert_ptr_equal(p, (const uint8_t *)base + 3);
  assert_int_equal(lathe_rt_weights_copied_bytes(w), 16);
  expect_code(lathe_rt_weights_set_file(w, 1, path, 0, 4, 3), LATHE_STATUS_INVALID_ARGUMENT);
  lathe_rt_weights_destroy(w);
}

static void test_bad_files_and_ranges(void **state) {
  lathe_rt_weights_t *w;
  assert_null(lathe_rt_weights_create(1, &w));
  expect_code(lathe_rt_weights_set_file(w, 0, path, 4000, 97, 1), LATHE_STATUS_OUT_OF_RANGE);
  expect_code(lathe_rt_weights_set_file(w, 0, path, UINT64_MAX, 2, 1), LATHE_STATUS_OUT_OF_RANGE);
  expect_code(lathe_rt_weights_set_file(w, 0, "/nonexistent/lathe.bin", 0, 1, 1),
              LATHE_STATUS_IO_ERROR);
  expect_code(lathe_rt_weights_set_file(w, 1, path, 0, 1, 1), LATHE_STATUS_OUT_OF_RANGE);
  expect_code(lathe_rt_weights_set_memory(w, 0, NULL, 4), LATHE_STATUS_INVALID_ARGUMENT);
  static const float mem[2] = {1, 2};
  assert_null(lathe_rt_weights_set_memory(w, 0, mem, sizeof mem));
  const void *p;
  uint64_t n;
  assert_null(lathe_rt_weights_get(w, 0, &p, &n));
  assert_ptr_equal(p, mem);
  lathe_rt_weights_destroy(w);
  lathe_rt_weights_t *none;
  expect_code(lathe_rt_weights_create(-1, &none), LATHE_STATUS_INVALID_ARGUMENT);
  assert_null(lathe_rt_weights_create(0, &none));
  lathe_rt_weights_destroy(none);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_views_are_not_copies),
      cmocka_unit_test(test_misaligned_view_is_copied_and_counted),
      cmocka_unit_test(test_bad_files_and_ranges),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
