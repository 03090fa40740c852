/* The calibration hook end to end: a test pass asks the pass manager for the
 * activations of named values; the driver's provider compiles the graph as it
 * stands (interp target) with those values as extra outputs, runs it on every
 * sample (a folder per sample, and .npz archives), and hands back stacked
 * activations. The graph's outputs are as before afterwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <cmocka.h>

#include "driver/internal.h"
#include "ir/text.h"
#include "passes/pass.h"
#include "support/npy.h"

static const char model[] = "graph @g(%x: f32[2, 3]) -> (f32[2, 3]) {\n"
                            "  %s = const dense[2.0] : f32[]\n"
                            "  %h = mul %x, %s : f32[2, 3]\n"
                            "  %y = relu %h : f32[2, 3]\n"
                            "  return %y\n"
                            "}\n";

/* What the observing pass saw. */
static struct {
  lathe_status_t status;
  lathe_activation_t acts[3];
  float h[2][6], x[2][6];
  uint32_t outputs_during;
} seen;

static lathe_value_t *find(lathe_graph_t *g, const char *name) {
  for (uint32_t i = 0; i < g->num_inputs; ++i)
    if (!strcmp(g->inputs[i]->name, name)) return g->inputs[i];
  LATHE_GRAPH_FOR_EACH_OP(g, op)
  for (uint32_t r = 0; r < op->num_results; ++r)
    if (op->results[r].name && !strcmp(op->results[r].name, name)) return &op->results[r];
  return NULL;
}

static lathe_status_t observe_run(lathe_pass_ctx_t *ctx, lathe_graph_t *graph) {
  const lathe_value_t *values[3] = {find(graph, "h"), find(graph, "x"), find(graph, "y")};
  seen.status = lathe_pass_calibrate(ctx, graph, 3, values, seen.acts);
  seen.outputs_during = lathe_graph_num_outputs(graph);
  if (!seen.status) { /* the data is only valid during the pass */
    for (uint32_t s = 0; s < seen.acts[0].num_samples && s < 2; ++s) {
      memcpy(seen.h[s], (const float *)seen.acts[0].data + 6 * s, 6 * sizeof(float));
      memcpy(seen.x[s], (const float *)seen.acts[1].data + 6 * s, 6 * sizeof(float));
    }
  }
  return NULL;
}

static const lathe_pass_info_t registry[] = {
    {"observe", "asks for activations", NULL, observe_run}};

static char dir[] = "/tmp/lathe-calib-XXXXXX";
static const float sample[2][6] = {{1, -2, 3, -4, 5, -6}, {0.5f, 0.25f, -1, 2, -3, 4}};

static void write_sample(const char *path, int s) {
  const int64_t dims[2] = {2, 3};
  assert_null(lathe_npy_write(path, LATHE_RT_DTYPE_F32, 2, dims, sample[s], sizeof sample[s]));
}

/* Runs the observing pass with calibration data at `path`. */
static void observe(const char *path) {
  memset(&seen, 0, sizeof seen);
  lathe_module_t *m;
  assert_null(lathe_module_parse(model, sizeof model - 1, "g.lir", NULL, &m));
  lathe_options_t o;
  options_defaults(&o);
  o.target = TARGET_INTERP;
  o.calibration = (char *)path;
  lathe_calibration_t *cal;
  assert_null(calibration_create(&o, &cal));
  lathe_calibrator_t calibrator = calibration_calibrator(cal);
  lathe_pipeline_config_t config = {.calibrator = &calibrator};
  lathe_pipeline_t *pl;
  assert_null(lathe_pipeline_parse_with(registry, 1, "observe", &pl));
  assert_null(lathe_pipeline_run(pl, m, &config));
  /* Verified after the pass and back to one output. */
  assert_int_equal(lathe_graph_num_outputs(lathe_module_first_graph(m)), 1);
  lathe_pipeline_destroy(pl);
  calibration_destroy(cal);
  lathe_module_destroy(m);
}

static void check_two_samples(void) {
  assert_null(seen.status);
  assert_int_equal(seen.outputs_during, 1);
  assert_int_equal(seen.acts[0].num_samples, 2);
  assert_int_equal(seen.acts[0].type.rank, 2);
  for (int s = 0; s < 2; ++s)
    for (int i = 0; i < 6; ++i) {
      assert_float_equal(seen.h[s][i], 2 * sample[s][i], 0);
      assert_float_equal(seen.x[s][i], sample[s][i], 0);
    }
}

static void test_sample_folders(void **state) {
  (void)state;
  char path[256];
  for (int s = 0; s < 2; ++s) {
    snprintf(path, sizeof path, "%s/folders/s%d", dir, s);
    assert_int_equal(mkdir(path, 0777), 0);
    strcat(path, "/x.npy");
    write_sample(path, s);
  }
  snprintf(path, sizeof path, "%s/folders", dir);
  observe(path);
  check_two_samples();
}

static void test_npz_archives(void **state) {
  (void)state;
  char path[256], npy[256];
  for (int s = 0; s < 2; ++s) {
    snprintf(npy, sizeof npy, "%s/x%d.npy", dir, s);
    write_sample(npy, s);
    snprintf(path, sizeof path, "%s/archives/%d.npz", dir, s);
    int err;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    assert_non_null(z);
    zip_source_t *src = zip_source_file(z, npy, 0, -1);
    assert_true(zip_file_add(z, "x.npy", src, ZIP_FL_OVERWRITE) >= 0);
    assert_int_equal(zip_close(z), 0);
  }
  snprintf(path, sizeof path, "%s/archives", dir);
  observe(path);
  check_two_samples();
}

static void test_one_sample_folder(void **state) {
  (void)state;
  char path[256];
  snprintf(path, sizeof path, "%s/one/x.npy", dir);
  write_sample(path, 1);
  snprintf(path, sizeof path, "%s/one", dir);
  observe(path);
  assert_null(seen.status);
  assert_int_equal(seen.acts[2].num_samples, 1);
  for (int i = 0; i < 6; ++i) assert_float_equal(seen.h[0][i], 2 * sample[1][i], 0);
}

static void test_missing_input_names_the_sample(void **state) {
  (void)state;
  char path[256];
  snprintf(path, sizeof path, "%s/wrong/s0/z.npy", dir);
  write_sample(path, 0);
  snprintf(path, sizeof path, "%s/wrong", dir);
  observe(path);
  assert_non_null(seen.status);
  assert_non_null(strstr(lathe_status_message(seen.status), "calibration sample"));
  assert_non_null(strstr(lathe_status_message(seen.status), "x.npy"));
  lathe_status_free(seen.status);
}

static void test_without_data_is_unsupported(void **state) {
  (void)state;
  memset(&seen, 0, sizeof seen);
  lathe_module_t *m;
  assert_null(lathe_module_parse(model, sizeof model - 1, "g.lir", NULL, &m));
  lathe_pipeline_t *pl;
  assert_null(lathe_pipeline_parse_with(registry, 1, "observe", &pl));
  assert_null(lathe_pipeline_run(pl, m, NULL));
  assert_int_equal(lathe_status_code(seen.status), LATHE_STATUS_UNSUPPORTED);
  lathe_status_free(seen.status);
  lathe_pipeline_destroy(pl);
  lathe_module_destroy(m);
}

static int setup(void **state) {
  (void)state;
  if (!mkdtemp(dir)) return -1;
  const char *subs[] = {"folders", "archives", "one", "wrong", "wrong/s0"};
  for (size_t i = 0; i < sizeof subs / sizeof subs[0]; ++i) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, subs[i]);
    if (mkdir(path, 0777)) return -1;
  }
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sample_folders),
      cmocka_unit_test(test_npz_archives),
      cmocka_unit_test(test_one_sample_folder),
      cmocka_unit_test(test_missing_input_names_the_sample),
      cmocka_unit_test(test_without_data_is_unsupported),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
