/* The public API (include/lathe/lathe.h) as a host sees it: options checked
 * where they are set, signatures with symbolic dims, output shapes and the
 * planned peak for given input shapes, runs with wrong tensors refused with a
 * message, handles destroyed in any order, tensor files and comparison. Uses
 * the interp target, which every build has. */
#define _DEFAULT_SOURCE /* mkstemps */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lathe/lathe.h"

static const char model[] = "graph @g(%x: f32[N, 3]) -> (f32[N, 3], f32[N]) {\n"
                            "  %s = const dense[2.0] : f32[]\n"
                            "  %h = mul %x, %s : f32[N, 3]\n"
                            "  %e = exp %h : f32[N, 3]\n"
                            "  %y = relu %e : f32[N, 3]\n"
                            "  %r = reduce_sum %y {axes = [1], keepdims = 0} : f32[N]\n"
                            "  return %y, %r\n"
                            "}\n";

static char path[] = "/tmp/lathe-api-XXXXXX.lir";

static void expect_error(lathe_status_t st, lathe_status_code_t code, const char *text) {
  assert_non_null(st);
  assert_int_equal(lathe_status_code(st), code);
  if (!strstr(lathe_status_message(st), text))
    fail_msg("'%s' lacks '%s'", lathe_status_message(st), text);
  lathe_status_free(st);
}

static lathe_compiled_t *compile(void) {
  lathe_options_t *o;
  assert_null(lathe_options_create(&o));
  assert_null(lathe_options_set_target(o, "interp"));
  lathe_model_t *m;
  assert_null(lathe_model_open(path, o, &m));
  lathe_compiled_t *c;
  assert_null(lathe_model_compile(m, &c));
  lathe_options_destroy(o); /* in any order: the compiled model keeps the weights */
  lathe_model_destroy(m);
  return c;
}

static void test_options_are_checked(void **state) {
  (void)state;
  lathe_options_t *o;
  assert_null(lathe_options_create(&o));
  expect_error(lathe_options_set_target(o, "tpu"), LATHE_STATUS_INVALID_ARGUMENT,
               "unknown target 'tpu'");
  expect_error(lathe_options_set_opt_level(o, 4), LATHE_STATUS_INVALID_ARGUMENT, "not in 0..3");
  expect_error(lathe_options_set_passes(o, "cse,nope"), LATHE_STATUS_INVALID_ARGUMENT, "nope");
  expect_error(lathe_options_set_num_threads(o, -1), LATHE_STATUS_INVALID_ARGUMENT, "thread count");
  assert_null(lathe_options_set_target(o, "cpu:x86-64-v3"));
  assert_null(lathe_options_set_passes(o, "cse,dce"));
  assert_null(lathe_options_set_passes(o, NULL));
  lathe_options_destroy(o);
  lathe_options_destroy(NULL);
}

/* Const inputs are copied when set (the caller's buffer may go), replaced,
 * removed; a strided or short value is refused, and so is a non-ONNX model
 * given one (the options are copied into the model first). */
static void test_const_inputs(void **state) {
  (void)state;
  lathe_options_t *o;
  assert_null(lathe_options_create(&o));
  int64_t v[2] = {3, -1}, dims[1] = {2};
  lathe_rt_tensor_t t;
  assert_null(lathe_tensor_view(LATHE_RT_DTYPE_I64, 1, dims, v, sizeof v, &t));
  assert_null(lathe_options_set_const_input(o, "shape", &t));
  assert_null(lathe_options_set_const_input(o, "shape", &t)); /* replaced */
  assert_null(lathe_options_set_const_input(o, "other", &t));
  assert_null(lathe_options_set_const_input(o, "other", NULL)); /* removed */
  assert_null(lathe_options_set_const_input(o, "never-set", NULL));
  t.byte_size = 8;
  expect_error(lathe_options_set_const_input(o, "short", &t), LATHE_STATUS_INVALID_ARGUMENT,
               "holds 8 bytes, its type needs 16");
  t.byte_size = sizeof v;
  t.flags = LATHE_RT_TENSOR_STRIDED;
  t.strides[0] = 2;
  expect_error(lathe_options_set_const_input(o, "strided", &t), LATHE_STATUS_INVALID_ARGUMENT,
               "dense row-major");
  expect_error(lathe_options_set_const_input(o, "", &t), LATHE_STATUS_INVALID_ARGUMENT, "no name");
  lathe_model_t *m = NULL;
  expect_error(lathe_model_open(path, o, &m), LATHE_STATUS_INVALID_ARGUMENT,
               "const inputs ('shape') apply to ONNX models only");
  assert_null(m);
  lathe_options_destroy(o);
}

static void test_signature(void **state) {
  (void)state;
  lathe_compiled_t *c = compile();
  assert_string_equal(lathe_compiled_target(c), "interp");
  assert_int_equal(lathe_compiled_num_inputs(c), 1);
  assert_int_equal(lathe_compiled_num_outputs(c), 2);
  lathe_tensor_info_t t;
  assert_null(lathe_compiled_input_info(c, 0, &t));
  assert_string_equal(t.name, "x");
  assert_int_equal(t.dtype, LATHE_RT_DTYPE_F32);
  assert_int_equal(t.rank, 2);
  assert_int_equal(t.dims[0], -1);
  assert_string_equal(t.dim_names[0], "N");
  assert_int_equal(t.dims[1], 3);
  assert_null(t.dim_names[1]);
  assert_null(lathe_compiled_output_info(c, 1, &t));
  assert_string_equal(t.name, "r");
  assert_int_equal(t.rank, 1);
  expect_error(lathe_compiled_output_info(c, 2, &t), LATHE_STATUS_OUT_OF_RANGE, "output 2");
  lathe_compiled_destroy(c);
}

static void test_shapes_and_plan(void **state) {
  (void)state;
  lathe_compiled_t *c = compile();
  int64_t dims[2] = {5, 3};
  lathe_rt_tensor_t x;
  assert_null(lathe_tensor_view(LATHE_RT_DTYPE_F32, 2, dims, NULL, 0, &x)); /* shape only */
  lathe_rt_tensor_t out[2];
  assert_null(lathe_compiled_output_shapes(c, &x, 1, out, 2));
  assert_int_equal(out[0].rank, 2);
  assert_int_equal(out[0].dims[0], 5);
  assert_int_equal(out[1].dims[0], 5);
  assert_int_equal(out[1].byte_size, 20);
  uint64_t peak;
  assert_null(lathe_compiled_peak_bytes(c, &x, 1, &peak));
  assert_true(peak % 64 == 0);
  dims[1] = 4;
  assert_null(lathe_tensor_view(LATHE_RT_DTYPE_F32, 2, dims, NULL, 0, &x));
  expect_error(lathe_compiled_output_shapes(c, &x, 1, out, 2), LATHE_STATUS_INVALID_ARGUMENT,
               "input 'x' (#0): expected f32[N, 3]");
  lathe_compiled_destroy(c);
}

static void test_run(void **state) {
  (void)state;
  lathe_compiled_t *c = compile();
  lathe_context_t *ctx;
  assert_null(lathe_context_create(c, &ctx));
  lathe_compiled_destroy(c); /* the context keeps it */
  float xs[6] = {0, 1, -1, 0.5f, -0.5f, 2}, ys[6], rs[2];
  int64_t xd[2] = {2, 3}, rd[1] = {2};
  lathe_rt_tensor_t x, out[2];
  assert_null(lathe_tensor_view(LATHE_RT_DTYPE_F32, 2, xd, xs, sizeof xs, &x));
  assert_null(lathe_tensor_view(LATHE_RT_DTYPE_F32, 2, xd, ys, sizeof ys, &out[0]));
  assert_null(lathe_tensor_view(LATHE_RT_DTYPE_F32, 1, rd, rs, sizeof rs, &out[1]));
  assert_null(lathe_context_run(ctx, &x, 1, out, 2));
  for (int i = 0; i < 6; ++i) assert_float_equal(ys[i], expf(2 * xs[i]), 1e-5 * ys[i]);
  assert_float_equal(rs[0], ys[0] + ys[1] + ys[2], 1e-4);
  /* A too-small output is refused before anything runs. */
  out[1].byte_size = 4;
  expect_error(lathe_context_run(ctx, &x, 1, out, 2), LATHE_STATUS_INVALID_ARGUMENT, "output 'r'");
  expect_error(lathe_context_run(ctx, &x, 1, out, 1), LATHE_STATUS_INVALID_ARGUMENT,
               "expected 2 outputs");
  lathe_context_destroy(ctx);
}

static void test_tensor_files_and_compare(void **state) {
  (void)state;
  char npy[] = "/tmp/lathe-api-XXXXXX.npy";
  int fd = mkstemps(npy, 4);
  assert_true(fd >= 0);
  close(fd);
  int64_t dims[2] = {2, 2};
  lathe_rt_tensor_t a, b;
  assert_null(lathe_tensor_alloc(LATHE_RT_DTYPE_F32, 2, dims, &a));
  float *p = a.data;
  p[0] = 1, p[1] = 2, p[2] = 3, p[3] = 4;
  assert_null(lathe_tensor_write_npy(npy, &a));
  assert_null(lathe_tensor_read(npy, &b));
  lathe_tensor_diff_t d;
  assert_null(lathe_tensor_compare(&b, &a, 0, 0, &d));
  assert_int_equal(d.num_mismatched, 0);
  ((float *)b.data)[2] = 3.5f;
  assert_null(lathe_tensor_compare(&b, &a, 0.1, 0, &d));
  assert_int_equal(d.num_mismatched, 1);
  assert_int_equal(d.first_mismatch, 2);
  assert_float_equal(d.max_abs, 0.5, 0);
  assert_float_equal(d.max_rel, 0.5 / 3, 1e-12);
  b.dims[0] = 1;
  expect_error(lathe_tensor_compare(&b, &a, 0, 0, &d), LATHE_STATUS_INVALID_ARGUMENT,
               "got f32[1, 2], expected f32[2, 2]");
  lathe_tensor_free(&a);
  lathe_tensor_free(&b);
  expect_error(lathe_tensor_read("/nonexistent.npy", &a), LATHE_STATUS_IO_ERROR, "nonexistent");
  unlink(npy);
}

static void test_model_stats(void **state) {
  (void)state;
  lathe_options_t *o;
  assert_null(lathe_options_create(&o));
  assert_null(lathe_options_set_target(o, "interp"));
  lathe_model_t *m;
  assert_null(lathe_model_open(path, o, &m));
  lathe_model_stats_t s;
  assert_null(lathe_model_stats(m, "N=10", &s));
  assert_int_equal(s.num_ops, 4);
  assert_int_equal(s.num_parameters, 1);
  assert_int_equal(s.num_unsupported, 0);
  assert_true(s.num_kernels >= 1);
  expect_error(lathe_model_stats(m, "N", &s), LATHE_STATUS_INVALID_ARGUMENT, "NAME=SIZE");
  lathe_model_destroy(m);
  lathe_options_destroy(o);
}

static int setup(void **state) {
  (void)state;
  int fd = mkstemps(path, 4);
  if (fd < 0) return -1;
  ssize_t n = write(fd, model, sizeof model - 1);
  close(fd);
  return n == (ssize_t)(sizeof model - 1) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  return unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_options_are_checked),
      cmocka_unit_test(test_const_inputs),
      cmocka_unit_test(test_signature),
      cmocka_unit_test(test_shapes_and_plan),
      cmocka_unit_test(test_run),
      cmocka_unit_test(test_tensor_files_and_compare),
      cmocka_unit_test(test_model_stats),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
