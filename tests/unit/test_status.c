/* Unit tests for support/status: errors as values.
 *
 * The diagnostics contract every tool relies on: a failure carries a code, a
 * message and an optional location; context is prepended as "ctx: msg";
 * everything prints as exactly one line, "LOC: error: MSG" with a location or
 * "TOOL: error: MSG" without, even when user data holds newlines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/status.h"

/* Prints `st` through lathe_status_print into a malloc'd string. */
static char *printed(const char *tool, lathe_status_t st) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  assert_non_null(f);
  lathe_status_print(f, tool, st);
  fclose(f);
  return text;
}

static void test_ok_is_null(void **state) {
  lathe_status_t ok = NULL;
  assert_int_equal(lathe_status_code(ok), LATHE_STATUS_OK);
  assert_string_equal(lathe_status_message(ok), "ok");
  assert_null(lathe_status_location(ok));
  assert_null(lathe_status_annotate(NULL, "context"));
  char *text = printed("tool", NULL);
  assert_string_equal(text, "");
  free(text);
  lathe_status_free(NULL);
}

static void test_codes_and_names(void **state) {
  for (int c = LATHE_STATUS_OK + 1; c < LATHE_STATUS_CODE_COUNT; ++c) {
    lathe_status_t st = lathe_status_make((lathe_status_code_t)c, "code %d", c);
    assert_non_null(st);
    assert_int_equal(lathe_status_code(st), c);
    lathe_status_free(st);
    /* Every code has its own name. */
    const char *name = lathe_status_code_name((lathe_status_code_t)c);
    assert_non_null(name);
    assert_string_not_equal(name, "unknown");
    for (int d = 0; d < c; ++d)
      assert_string_not_equal(name, lathe_status_code_name((lathe_status_code_t)d));
  }
  assert_string_equal(lathe_status_code_name(LATHE_STATUS_OK), "ok");
  assert_string_equal(lathe_status_code_name(LATHE_STATUS_CODE_COUNT), "unknown");
  assert_string_equal(lathe_status_code_name((lathe_status_code_t)-1), "unknown");
  /* A failure can't carry the OK code: that would read as success. */
  lathe_status_t st = lathe_status_make(LATHE_STATUS_OK, "oops");
  assert_non_null(st);
  assert_int_equal(lathe_status_code(st), LATHE_STATUS_INTERNAL);
  lathe_status_free(st);
}

static void test_message_formatting(void **state) {
  lathe_status_t st = lathe_status_make(LATHE_STATUS_NOT_FOUND, "no value '%s' (%d uses)", "%x", 3);
  assert_string_equal(lathe_status_message(st), "no value '%x' (3 uses)");
  assert_null(lathe_status_location(st));
  lathe_status_free(st);
  /* Long messages are kept whole. */
  st = lathe_status_make(LATHE_STATUS_INTERNAL, "%3000d", 7);
  assert_int_equal(strlen(lathe_status_message(st)), 3000);
  lathe_status_free(st);
}

static void test_annotate(void **state) {
  lathe_status_t st = lathe_status_make(LATHE_STATUS_PARSE_ERROR, "unexpected ')'");
  st = lathe_status_annotate(st, "in graph @%s", "main");
  assert_string_equal(lathe_status_message(st), "in graph @main: unexpected ')'");
  st = lathe_status_annotate(st, "pass %s", "cse");
  assert_string_equal(lathe_status_message(st), "pass cse: in graph @main: unexpected ')'");
  assert_int_equal(lathe_status_code(st), LATHE_STATUS_PARSE_ERROR);
  lathe_status_free(st);
}

static void test_location(void **state) {
  char loc[32] = "model.lir:3:7";
  lathe_status_t st = lathe_status_make_at(LATHE_STATUS_PARSE_ERROR, loc, "expected '%c'", ':');
  strcpy(loc, "overwritten"); /* the status keeps its own copy */
  assert_string_equal(lathe_status_location(st), "model.lir:3:7");
  assert_string_equal(lathe_status_message(st), "expected ':'");
  /* Annotation changes the message, never the location. */
  st = lathe_status_annotate(st, "while parsing");
  assert_string_equal(lathe_status_location(st), "model.lir:3:7");
  lathe_status_free(st);
  st = lathe_status_make_at(LATHE_STATUS_IO_ERROR, NULL, "no location");
  assert_null(lathe_status_location(st));
  lathe_status_free(st);
}

/* Newlines from user data (names, tool logs) never split a diagnostic. */
static void test_one_line_flattening(void **state) {
  lathe_status_t st =
      lathe_status_make_at(LATHE_STATUS_VERIFY_ERROR, "a\nb.lir:1:2", "line one\nline two\r\n");
  assert_null(strpbrk(lathe_status_message(st), "\r\n"));
  assert_null(strpbrk(lathe_status_location(st), "\r\n"));
  assert_string_equal(lathe_status_message(st), "line one line two  ");
  st = lathe_status_annotate(st, "ctx\nmore");
  assert_null(strpbrk(lathe_status_message(st), "\r\n"));
  char *text = printed("tool", st);
  assert_string_equal(text, "a b.lir:1:2: error: ctx more: line one line two  \n");
  free(text);
  lathe_status_free(st);
}

static void test_print_formats(void **state) {
  lathe_status_t st = lathe_status_make_at(LATHE_STATUS_PARSE_ERROR, "f.lir:12:5", "bad token");
  char *text = printed("lathe-opt", st);
  assert_string_equal(text, "f.lir:12:5: error: bad token\n");
  free(text);
  lathe_status_free(st);

  st = lathe_status_make(LATHE_STATUS_IO_ERROR, "cannot open 'x.lir'");
  text = printed("lathe-opt", st);
  assert_string_equal(text, "lathe-opt: error: cannot open 'x.lir'\n");
  free(text);
  text = printed(NULL, st);
  assert_string_equal(text, "lathe: error: cannot open 'x.lir'\n");
  free(text);
  lathe_status_free(st);
}

static lathe_status_t fail_if(int fail) {
  return fail ? lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "index %d", fail) : NULL;
}

static int reached_end;

static lathe_status_t plain_caller(int fail) {
  LATHE_RETURN_IF_ERROR(fail_if(fail));
  reached_end = 1;
  return NULL;
}

static lathe_status_t annotating_caller(int fail) {
  LATHE_RETURN_IF_ERROR_CTX(fail_if(fail), "operand %d", 2);
  reached_end = 1;
  return NULL;
}

static void test_return_if_error_macros(void **state) {
  reached_end = 0;
  assert_null(plain_caller(0));
  assert_true(reached_end);
  reached_end = 0;
  lathe_status_t st = plain_caller(5);
  assert_false(reached_end);
  assert_string_equal(lathe_status_message(st), "index 5");
  lathe_status_free(st);

  assert_null(annotating_caller(0));
  assert_true(reached_end);
  reached_end = 0;
  st = annotating_caller(9);
  assert_false(reached_end);
  assert_int_equal(lathe_status_code(st), LATHE_STATUS_OUT_OF_RANGE);
  assert_string_equal(lathe_status_message(st), "operand 2: index 9");
  lathe_status_free(st);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ok_is_null),
      cmocka_unit_test(test_codes_and_names),
      cmocka_unit_test(test_message_formatting),
      cmocka_unit_test(test_annotate),
      cmocka_unit_test(test_location),
      cmocka_unit_test(test_one_line_flattening),
      cmocka_unit_test(test_print_formats),
      cmocka_unit_test(test_return_if_error_macros),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
