/* Unit tests for the pass manager: pipeline strings and running them.
 *
 * Parsing is checked through lathe_pipeline_print, which spells every option
 * out, so a test sees both which passes were picked and what each option
 * ended up as (given or default). Every option type is exercised through a
 * private registry (lathe_pipeline_parse_with), since the real passes need not
 * have one option of each type. Errors are checked by their exact message:
 * they are the user interface of --passes.
 *
 * Running is checked on small modules built with the IR API: a dead op goes
 * away under dce, a pass that breaks the IR is caught by the verifier with the
 * pass named, and dumps/timings go to the configured stream.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ir/verify.h"
#include "passes/pass.h"

/* Parses `text` with the real registry and returns the printed pipeline
 * (static buffer), or fails the test. */
static const char *roundtrip(const char *text) {
  static char out[512];
  lathe_pipeline_t *pl = NULL;
  lathe_status_t st = lathe_pipeline_parse(text, &pl);
  if (st) fail_msg("'%s' failed: %s", text, lathe_status_message(st));
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  lathe_pipeline_print(&sb, pl);
  snprintf(out, sizeof out, "%s", lathe_strbuf_cstr(&sb));
  lathe_strbuf_destroy(&sb);
  lathe_pipeline_destroy(pl);
  return out;
}

/* Expects parsing to fail with exactly `message`. */
static void expect_error_with(const lathe_pass_info_t *passes, uint32_t n, const char *text,
                              const char *message) {
  lathe_pipeline_t *pl = NULL;
  lathe_status_t st = lathe_pipeline_parse_with(passes, n, text, &pl);
  if (!st) fail_msg("'%s' parsed but should fail with: %s", text, message);
  assert_null(pl);
  assert_int_equal(lathe_status_code(st), LATHE_STATUS_INVALID_ARGUMENT);
  assert_string_equal(lathe_status_message(st), message);
  lathe_status_free(st);
}

static void expect_error(const char *text, const char *message) {
  expect_error_with(lathe_pass_at(0), lathe_pass_count(), text, message);
}

static void test_empty_pipeline(void **state) {
  assert_string_equal(roundtrip(""), "");
  assert_string_equal(roundtrip("   "), "");
}

static void test_names_and_defaults(void **state) {
  assert_string_equal(roundtrip("dce"), "dce");
  assert_string_equal(roundtrip("canonicalize,cse,dce"),
                      "canonicalize,cse{merge-constants=true},dce");
  assert_string_equal(roundtrip("fold-constants"), "fold-constants{max-elements=65536}");
  assert_string_equal(roundtrip("dce,dce"), "dce,dce");
  lathe_pipeline_t *pl;
  assert_null(lathe_pipeline_parse("infer-shapes,dce", &pl));
  assert_int_equal(lathe_pipeline_num_passes(pl), 2);
  assert_string_equal(lathe_pipeline_pass_name(pl, 0), "infer-shapes");
  assert_string_equal(lathe_pipeline_pass_name(pl, 1), "dce");
  assert_null(lathe_pipeline_pass_name(pl, 2));
  lathe_pipeline_destroy(pl);
}

static void test_options_and_blanks(void **state) {
  assert_string_equal(roundtrip("fold-constants{max-elements=16}"),
                      "fold-constants{max-elements=16}");
  assert_string_equal(roundtrip(" fold-constants { max-elements = -3 } , dce "),
                      "fold-constants{max-elements=-3},dce");
  assert_string_equal(roundtrip("cse{merge-constants=false}"), "cse{merge-constants=false}");
  assert_string_equal(roundtrip("cse{merge-constants=0},cse{merge-constants=1}"),
                      "cse{merge-constants=false},cse{merge-constants=true}");
  assert_string_equal(roundtrip("cse{}"), "cse{merge-constants=true}");
}

static void test_errors(void **state) {
  expect_error("foo", "unknown pass 'foo' (see --list-passes)");
  expect_error("cse,frobnicate{x=1}", "unknown pass 'frobnicate' (see --list-passes)");
  expect_error("cse{foo=1}", "pass 'cse' has no option 'foo'");
  expect_error("dce{foo=1}", "pass 'dce' has no option 'foo'");
  expect_error("fold-constants{max-elements=abc}",
               "option 'max-elements' of pass 'fold-constants' expects an int, got 'abc'");
  expect_error("fold-constants{max-elements=1.5}",
               "option 'max-elements' of pass 'fold-constants' expects an int, got '1.5'");
  expect_error("fold-constants{max-elements=}",
               "option 'max-elements' of pass 'fold-constants' expects an int, got ''");
  expect_error("fold-constants{max-elements=99999999999999999999}",
               "option 'max-elements' of pass 'fold-constants' expects an int, got "
               "'99999999999999999999'");
  expect_error("cse{merge-constants=yes}",
               "option 'merge-constants' of pass 'cse' expects a bool, got 'yes'");
  expect_error("fold-constants{max-elements=1,max-elements=2}",
               "option 'max-elements' of pass 'fold-constants' is given twice");
  expect_error("fold-constants{max-elements}",
               "option 'max-elements' of pass 'fold-constants' needs a value "
               "('max-elements=VALUE')");
  expect_error("cse,,dce", "pipeline 'cse,,dce': expected a pass name at column 5 (found ',')");
  expect_error("cse,", "pipeline 'cse,': expected a pass name at its end");
  expect_error(",cse", "pipeline ',cse': expected a pass name at column 1 (found ',')");
  expect_error("fold-constants{max-elements=1",
               "pipeline 'fold-constants{max-elements=1': expected ',' or '}' after an option "
               "value at its end");
  expect_error("cse dce",
               "pipeline 'cse dce': expected ',' between passes at column 5 (found 'd')");
  expect_error("cse{=1}", "pipeline 'cse{=1}': expected an option name at column 5 (found '=')");
}

/* ---- every option type, through a private registry ---- */

static lathe_status_t noop_run(lathe_pass_ctx_t *ctx, lathe_graph_t *graph) {
  (void)ctx, (void)graph;
  return NULL;
}

static const lathe_pass_option_schema_t typed_options[] = {
    {.name = "n", .kind = LATHE_PASS_OPT_INT, .default_int = 7},
    {.name = "fraction", .kind = LATHE_PASS_OPT_FLOAT, .default_float = 0.5},
    {.name = "on", .kind = LATHE_PASS_OPT_BOOL, .default_int = 0},
    {.name = "mode", .kind = LATHE_PASS_OPT_STRING, .default_string = "auto"},
    {.name = NULL},
};
static const lathe_pass_info_t typed_registry[] = {
    {"x", "a pass with one option of each type", typed_options, noop_run},
};

static void test_typed_options(void **state) {
  lathe_pipeline_t *pl;
  lathe_status_t st = lathe_pipeline_parse_with(
      typed_registry, 1, "x{fraction=0.25, on=true, mode=\"a, b}\"}, x", &pl);
  assert_null(st);
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  lathe_pipeline_print(&sb, pl);
  assert_string_equal(
      lathe_strbuf_cstr(&sb),
      "x{n=7,fraction=0.25,on=true,mode=\"a, b}\"},x{n=7,fraction=0.5,on=false,mode=auto}");
  lathe_strbuf_destroy(&sb);
  /* What the pass sees through its context. */
  lathe_pass_ctx_t ctx = {.pass = pl->entries[0].pass, .options = pl->entries[0].options};
  assert_int_equal(lathe_pass_option_int(&ctx, "n"), 7);
  assert_true(lathe_pass_option_float(&ctx, "fraction") == 0.25);
  assert_true(lathe_pass_option_bool(&ctx, "on"));
  assert_string_equal(lathe_pass_option_string(&ctx, "mode"), "a, b}");
  /* Misused getters are pass bugs, answered with zero values, not crashes. */
  assert_int_equal(lathe_pass_option_int(&ctx, "fraction"), 0);
  assert_string_equal(lathe_pass_option_string(&ctx, "missing"), "");
  lathe_pipeline_destroy(pl);

  expect_error_with(typed_registry, 1, "x{fraction=abc}",
                    "option 'fraction' of pass 'x' expects a float, got 'abc'");
  expect_error_with(typed_registry, 1, "x{fraction=1e999}",
                    "option 'fraction' of pass 'x' expects a float, got '1e999'");
  expect_error_with(typed_registry, 1, "x{on=2}",
                    "option 'on' of pass 'x' expects a bool, got '2'");
  expect_error_with(
      typed_registry, 1, "x{mode=\"open}",
      "pipeline 'x{mode=\"open}': unterminated quoted value at column 8 (found '\"')");
}

/* ---- running ---- */

/* @g(%x: f32[4]) { %0 = relu %x; %1 = neg %x (dead); return %0 } */
static lathe_module_t *small_module(void) {
  lathe_module_t *m = lathe_module_create("small.lir");
  lathe_graph_t *g;
  assert_null(lathe_graph_create(m, "g", &g));
  int64_t four = 4;
  lathe_type_t t = lathe_type_make_static(lathe_module_arena(m), LATHE_DTYPE_F32, 1, &four);
  lathe_value_t *x = lathe_graph_add_input(g, "x", &t);
  lathe_builder_t b = lathe_builder_at_end(g);
  lathe_op_t *relu, *neg;
  assert_null(lathe_build_op(&b, LATHE_OP_RELU, 1, &x, 0, NULL, 0, &relu));
  assert_null(lathe_build_op(&b, LATHE_OP_NEG, 1, &x, 0, NULL, 0, &neg));
  lathe_value_t *out = &relu->results[0];
  lathe_build_return(g, 1, &out);
  assert_null(lathe_module_verify(m));
  return m;
}

/* Breaks the IR: declares the first op's result with a wrong shape. */
static lathe_status_t break_run(lathe_pass_ctx_t *ctx, lathe_graph_t *graph) {
  int64_t five = 5;
  lathe_type_t t =
      lathe_type_make_static(lathe_module_arena(ctx->module), LATHE_DTYPE_F32, 1, &five);
  lathe_value_set_type(&graph->first->results[0], &t);
  lathe_pass_mark_changed(ctx);
  return NULL;
}

static lathe_status_t fail_run(lathe_pass_ctx_t *ctx, lathe_graph_t *graph) {
  return lathe_pass_calibrate(ctx, graph, 0, NULL, NULL);
}

static const lathe_pass_info_t run_registry[] = {
    {"break", "corrupts the IR", NULL, break_run},
    {"fail", "asks for calibration", NULL, fail_run},
    {"noop", "does nothing", NULL, noop_run},
};

static lathe_status_t run_with(const char *text, lathe_module_t *m,
                               const lathe_pipeline_config_t *config) {
  lathe_pipeline_t *pl;
  assert_null(lathe_pipeline_parse_with(run_registry, 3, text, &pl));
  lathe_status_t st = lathe_pipeline_run(pl, m, config);
  lathe_pipeline_destroy(pl);
  return st;
}

static void test_run_dce(void **state) {
  lathe_module_t *m = small_module();
  lathe_pipeline_t *pl;
  assert_null(lathe_pipeline_parse("dce", &pl));
  assert_int_equal(lathe_module_first_graph(m)->num_ops, 3);
  assert_null(lathe_pipeline_run(pl, m, NULL));
  assert_int_equal(lathe_module_first_graph(m)->num_ops, 2);
  lathe_pipeline_destroy(pl);
  lathe_module_destroy(m);
}

static void test_verify_after_each_pass(void **state) {
  lathe_module_t *m = small_module();
  lathe_status_t st = run_with("noop,break,noop", m, NULL);
  assert_non_null(st);
  assert_string_equal(lathe_status_message(st),
                      "after pass 'break': op 'relu': result 0 is declared f32[5] but its "
                      "operands give f32[4]");
  assert_string_equal(lathe_status_location(st), "small.lir");
  lathe_status_free(st);
  /* With verification off the broken IR goes through. */
  lathe_pipeline_config_t config = {.skip_verify = 1};
  assert_null(run_with("break", m, &config));
  lathe_module_destroy(m);
}

static void test_pass_errors_name_the_pass(void **state) {
  lathe_module_t *m = small_module();
  lathe_status_t st = run_with("fail", m, NULL);
  assert_int_equal(lathe_status_code(st), LATHE_STATUS_UNSUPPORTED);
  assert_string_equal(
      lathe_status_message(st),
      "pass 'fail': pass 'fail' needs calibration data (none was given)");
  lathe_status_free(st);
  lathe_module_destroy(m);
}

static void test_dumps_and_timing(void **state) {
  lathe_module_t *m = small_module();
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  lathe_pipeline_config_t config = {.print_ir_after = "noop", .time_passes = 1, .dump_stream = f};
  assert_null(run_with("noop,noop", m, &config));
  fclose(f);
  const char *first =
      strstr(text, "// -----// IR Dump After noop //----- //\ngraph @g(%x: f32[4])");
  assert_non_null(first);
  assert_non_null(strstr(first + 1, "// -----// IR Dump After noop //----- //\n"));
  assert_non_null(strstr(text, "// -----// Pass timing //----- //\n"));
  assert_non_null(strstr(text, "%  noop\n"));
  assert_non_null(strstr(text, "100.0%  total\n"));
  free(text);

  config = (lathe_pipeline_config_t){.print_ir_after = "noop,bogus"};
  lathe_status_t st = run_with("noop", m, &config);
  assert_string_equal(lathe_status_message(st),
                      "--print-ir-after: unknown pass 'bogus' (see --list-passes)");
  lathe_status_free(st);
  lathe_module_destroy(m);
}

static void test_help_lists_every_pass(void **state) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  lathe_pass_print_help(f);
  fclose(f);
  for (uint32_t i = 0; i < lathe_pass_count(); ++i)
    assert_non_null(strstr(text, lathe_pass_at(i)->name));
  assert_non_null(strstr(text, "max-elements: int = 65536"));
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_pipeline),
      cmocka_unit_test(test_names_and_defaults),
      cmocka_unit_test(test_options_and_blanks),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_typed_options),
      cmocka_unit_test(test_help_lists_every_pass),
      cmocka_unit_test(test_run_dce),
      cmocka_unit_test(test_verify_after_each_pass),
      cmocka_unit_test(test_pass_errors_name_the_pass),
      cmocka_unit_test(test_dumps_and_timing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
