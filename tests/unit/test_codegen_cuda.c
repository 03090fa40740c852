/* The CUDA backend without NVRTC or a GPU: target strings, the mapping each
 * kernel shape gets (launch entries: block sizes, grids, shared bytes),
 * the source's kernel line ranges and determinism, the launch-grid
 * evaluation (caps, overflow), image choice per device architecture, the
 * CUDA table's validation, and the runtime's error when there is no driver.
 * Programs come from text IR through the lowering, one kernel per op.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codegen/cuda/cuda.h"
#include "ir/text.h"
#include "kernel/kernel.h"

#define OK(expr)                                                   \
  do {                                                             \
    lathe_status_t st_ = (expr);                                   \
    if (st_) fail_msg("%s: %s", #expr, lathe_status_message(st_)); \
  } while (0)

static void expect_error(lathe_status_t st, const char *needle) {
  assert_non_null(st);
  if (!strstr(lathe_status_message(st), needle))
    fail_msg("expected '%s' in '%s'", needle, lathe_status_message(st));
  lathe_status_free(st);
}

typedef struct lowered {
  lathe_module_t *module;
  lathe_kprogram_t *program;
  lathe_cuda_source_t *source;
} lowered_t;

/* Parses one graph, lowers it (no fusion: a kernel per op), generates CUDA C. */
static void lower(const char *text, const char *target, lowered_t *out) {
  *out = (lowered_t){0};
  OK(lathe_module_parse(text, strlen(text), "test.lir", NULL, &out->module));
  OK(lathe_kernel_lower_graph(lathe_module_first_graph(out->module), &out->program));
  lathe_codegen_options_t o;
  lathe_codegen_options_init(&o);
  o.target = target;
  OK(lathe_cuda_generate(out->program, &o, &out->source));
}

static void lowered_free(lowered_t *l) {
  lathe_cuda_source_destroy(l->source);
  lathe_kprogram_destroy(l->program);
  lathe_module_destroy(l->module);
}

static void test_targets(void **state) {
  (void)state;
  int32_t a[LATHE_CUDA_MAX_ARCHS];
  uint32_t n;
  OK(lathe_cuda_parse_target(NULL, a, &n));
  assert_int_equal(n, 2);
  assert_int_equal(a[0], 80);
  assert_int_equal(a[1], 90);
  OK(lathe_cuda_parse_target("sm_90,sm_80,sm_90", a, &n));
  assert_int_equal(n, 2);
  assert_int_equal(a[0], 80);
  OK(lathe_cuda_parse_target("sm_86", a, &n));
  assert_int_equal(n, 1);
  assert_int_equal(a[0], 86);
  static const char *const bad[] = {"sm_50", "sm_", "gpu", "sm_90x", "sm_80;sm_90"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i)
    expect_error(lathe_cuda_parse_target(bad[i], a, &n), "unknown CUDA target");
}

/* Each kernel shape and its launch entry (docs/codegen-cuda.md, Mapping). */
static void test_mappings(void **state) {
  (void)state;
  lowered_t l;
  lower("graph @g(%x: f32[N, 100], %w: f32[100, 48], %h: f16[N, 100], %v: f16[100, 48]) -> "
        "(f32[N, 100], f32[N, 100], f32[N], i32[N, 100], f32[N, 48], f16[N, 48]) {\n"
        "  %0 = tanh %x : f32[N, 100]\n"
        "  %1 = softmax %x {axis = -1} : f32[N, 100]\n"
        "  %2 = reduce_sum %x {axes = [1], keepdims = 0} : f32[N]\n"
        "  %3 = cast %x {to = i32} : i32[N, 100]\n"
        "  %4 = matmul %x, %w : f32[N, 48]\n"
        "  %5 = matmul %h, %v : f16[N, 48]\n"
        "  return %0, %1, %2, %3, %4, %5\n"
        "}\n",
        NULL, &l);
  const lathe_cuda_source_t *s = l.source;
  assert_int_equal(s->num_kernels, 6);
  /* elementwise: thread mode over N*100 */
  assert_int_equal(s->launches[0].block[0], 256);
  assert_int_equal(s->launches[0].grid[0].per_block, 256);
  assert_int_equal(s->launches[0].grid[0].work.factor, 100);
  assert_int_equal(s->launches[0].grid[0].work.num_params, 1);
  assert_int_equal(s->launches[0].shared_bytes, 0);
  /* softmax: a block of 128 per row, two partial arrays of 4 floats */
  assert_int_equal(s->launches[1].block[0], 128);
  assert_int_equal(s->launches[1].grid[0].per_block, 1);
  assert_int_equal(s->launches[1].grid[0].work.factor, 1);
  assert_int_equal(s->launches[1].shared_bytes, 32);
  /* a row sum of 100: row mode as well */
  assert_int_equal(s->launches[2].block[0], 128);
  /* f32 GEMM: 64x64 tiles over (N columns, M rows) */
  assert_int_equal(s->launches[4].block[0], 256);
  assert_int_equal(s->launches[4].grid[0].per_block, 64);
  assert_int_equal(s->launches[4].grid[0].work.factor, 48);
  assert_int_equal(s->launches[4].grid[1].per_block, 64);
  assert_int_equal(s->launches[4].shared_bytes, 2 * 16 * 68 * 4);
  /* f16 GEMM on tensor cores */
  assert_true(s->uses_wmma);
  assert_int_equal(s->launches[5].block[0], 128);
  assert_non_null(strstr(s->text, "#include <mma.h>"));
  assert_non_null(strstr(s->text, "nvcuda::wmma::mma_sync"));
  for (uint32_t k = 0; k < s->num_kernels; ++k) {
    char decl[256];
    snprintf(decl, sizeof decl, "__launch_bounds__(%u)\nlathe_program_%s(", s->launches[k].block[0],
             s->launches[k].kernel);
    if (!strstr(s->text, decl)) fail_msg("no '%s' in the source", decl);
    assert_string_equal(s->launches[k].symbol + strlen("lathe_program_"), s->launches[k].kernel);
  }
  lowered_free(&l);

  /* sm_75 has no bf16 WMMA: every GEMM stays on CUDA cores */
  lower("graph @g(%h: f16[N, 100], %v: f16[100, 48]) -> (f16[N, 48]) {\n"
        "  %0 = matmul %h, %v : f16[N, 48]\n"
        "  return %0\n"
        "}\n",
        "sm_75", &l);
  assert_false(l.source->uses_wmma);
  assert_null(strstr(l.source->text, "wmma"));
  lowered_free(&l);
}

/* first_line/last_line bracket each kernel; generation is deterministic. */
static void test_lines_and_determinism(void **state) {
  (void)state;
  const char *text = "graph @g(%x: f32[N, 9]) -> (f32[N, 9], f32[N, 9]) {\n"
                     "  %0 = exp %x : f32[N, 9]\n"
                     "  %1 = softmax %x {axis = 1} : f32[N, 9]\n"
                     "  return %0, %1\n"
                     "}\n";
  lowered_t a, b;
  lower(text, NULL, &a);
  lower(text, NULL, &b);
  assert_string_equal(a.source->text, b.source->text);
  assert_int_equal(a.source->length, strlen(a.source->text));
  for (uint32_t k = 0; k < a.source->num_kernels; ++k) {
    uint32_t line = 1;
    const char *p = a.source->text, *extern_at = NULL;
    for (; *p && line < a.source->first_line[k]; ++p) line += *p == '\n';
    assert_int_equal(line, a.source->first_line[k]);
    assert_true(strncmp(p, "/* kernel ", 10) == 0);
    extern_at = strchr(p, '\n') + 1;
    assert_true(strncmp(extern_at, "extern \"C\" __global__", 21) == 0);
    for (; *p && line < a.source->last_line[k]; ++p) line += *p == '\n';
    assert_true(strncmp(p, "}", 1) == 0);
  }
  lowered_free(&a);
  lowered_free(&b);
}

static void test_unfinished_program(void **state) {
  (void)state;
  lathe_kprogram_t *p = lathe_kprogram_create("p");
  lathe_cuda_source_t *s = NULL;
  expect_error(lathe_cuda_generate(p, NULL, &s), "not finished");
  lathe_kprogram_destroy(p);
}

static lathe_cuda_launch_t launch_of(int64_t factor, int32_t param, int64_t per_block,
                                     int64_t cap) {
  lathe_cuda_launch_t l = {.kernel = "k0", .symbol = "s", .block = {64, 1, 1}};
  for (int d = 0; d < 3; ++d)
    l.grid[d] = (lathe_cuda_grid_dim_t){.work = {.factor = 1}, .per_block = 1, .cap = 1};
  l.grid[0] =
      (lathe_cuda_grid_dim_t){.work = {.factor = factor}, .per_block = per_block, .cap = cap};
  if (param >= 0) l.grid[0].work.params[l.grid[0].work.num_params++] = param;
  return l;
}

static void test_launch_grid(void **state) {
  (void)state;
  const int64_t params[2] = {1000, INT64_MAX / 2};
  uint32_t g[3];
  lathe_cuda_launch_t l = launch_of(37, 0, 256, 1 << 20);
  lathe_cuda_launch_grid(&l, params, g); /* ceil(37000 / 256) */
  assert_int_equal(g[0], 145);
  assert_int_equal(g[1], 1);
  assert_int_equal(g[2], 1);
  l = launch_of(1, 0, 1, 7); /* capped */
  lathe_cuda_launch_grid(&l, params, g);
  assert_int_equal(g[0], 7);
  l = launch_of(INT64_MAX, 1, 1, 1 << 20); /* overflow saturates, then the cap */
  lathe_cuda_launch_grid(&l, params, g);
  assert_int_equal(g[0], 1 << 20);
  const int64_t zero[1] = {0};
  l = launch_of(5, 0, 1, 100); /* no work still launches one block */
  lathe_cuda_launch_grid(&l, zero, g);
  assert_int_equal(g[0], 1);
}

static const char ptx80[] = ".version 9.0\n.target sm_80\n", ptx90[] = ".target sm_90\n";
static const unsigned char elf[] = {0x7f, 'E', 'L', 'F'};

static void test_pick_image(void **state) {
  (void)state;
  const lathe_cuda_image_t images[] = {{LATHE_CUDA_IMAGE_CUBIN, 80, sizeof elf, elf},
                                       {LATHE_CUDA_IMAGE_PTX, 80, sizeof ptx80, ptx80},
                                       {LATHE_CUDA_IMAGE_CUBIN, 90, sizeof elf, elf},
                                       {LATHE_CUDA_IMAGE_PTX, 90, sizeof ptx90, ptx90}};
  lathe_cuda_program_t c = {
      .abi_version = LATHE_CUDA_ABI_VERSION, .num_images = 4, .images = images};
  assert_ptr_equal(lathe_cuda_pick_image(&c, 90), &images[2]);
  assert_ptr_equal(lathe_cuda_pick_image(&c, 80), &images[0]);
  assert_ptr_equal(lathe_cuda_pick_image(&c, 89), &images[1]); /* no sm_89 CUBIN: PTX of 80 */
  assert_ptr_equal(lathe_cuda_pick_image(&c, 100), &images[3]);
  assert_null(lathe_cuda_pick_image(&c, 75));
}

/* A one-kernel descriptor and CUDA table to break in different ways. */
typedef struct tables {
  lathe_rt_dim_t dims[1];
  lathe_rt_param_desc_t param;
  lathe_rt_buffer_desc_t buffers[2];
  int32_t ids[2];
  lathe_rt_kernel_desc_t kernel;
  lathe_rt_program_t program;
  lathe_cuda_launch_t launch;
  lathe_cuda_image_t image;
  lathe_cuda_program_t cuda;
} tables_t;

static int32_t not_on_host(const lathe_rt_kernel_args_t *args) {
  (void)args;
  return LATHE_RT_KERNEL_INVALID_VALUE;
}

static void make_tables(tables_t *t) {
  memset(t, 0, sizeof *t);
  t->dims[0] = (lathe_rt_dim_t){.param = 0};
  t->param = (lathe_rt_param_desc_t){.name = "N", .input = 0, .dim = 0};
  t->buffers[0] =
      (lathe_rt_buffer_desc_t){"x", LATHE_RT_BUFFER_INPUT, 0, LATHE_RT_DTYPE_F32, 1, t->dims};
  t->buffers[1] =
      (lathe_rt_buffer_desc_t){"y", LATHE_RT_BUFFER_OUTPUT, 0, LATHE_RT_DTYPE_F32, 1, t->dims};
  t->ids[0] = 0, t->ids[1] = 1;
  t->kernel = (lathe_rt_kernel_desc_t){"k0_exp", not_on_host, 2, 0, t->ids};
  t->program = (lathe_rt_program_t){.abi_version = LATHE_RT_ABI_VERSION,
                                    .num_params = 1,
                                    .num_inputs = 1,
                                    .num_outputs = 1,
                                    .num_buffers = 2,
                                    .num_kernels = 1,
                                    .params = &t->param,
                                    .buffers = t->buffers,
                                    .kernels = &t->kernel};
  t->launch = launch_of(1, 0, 256, 1 << 20);
  t->launch.kernel = "k0_exp";
  t->launch.block[0] = 256;
  t->image = (lathe_cuda_image_t){LATHE_CUDA_IMAGE_PTX, 80, sizeof ptx80, ptx80};
  t->cuda = (lathe_cuda_program_t){.abi_version = LATHE_CUDA_ABI_VERSION,
                                   .num_kernels = 1,
                                   .num_images = 1,
                                   .launches = &t->launch,
                                   .images = &t->image};
}

static void test_validate(void **state) {
  (void)state;
  tables_t t;
  make_tables(&t);
  OK(lathe_cuda_program_validate(&t.cuda, &t.program));
  t.cuda.abi_version = 99;
  expect_error(lathe_cuda_program_validate(&t.cuda, &t.program), "ABI version 99");
  make_tables(&t);
  t.launch.kernel = "k1_other";
  expect_error(lathe_cuda_program_validate(&t.cuda, &t.program), "does not name its kernel");
  make_tables(&t);
  t.launch.block[0] = 48;
  expect_error(lathe_cuda_program_validate(&t.cuda, &t.program), "block size");
  make_tables(&t);
  t.launch.grid[0].work.params[0] = 3;
  expect_error(lathe_cuda_program_validate(&t.cuda, &t.program), "param out of range");
  make_tables(&t);
  t.image.size = sizeof ptx80 - 1; /* PTX without its NUL */
  expect_error(lathe_cuda_program_validate(&t.cuda, &t.program), "image 0: malformed");
  make_tables(&t);
  t.cuda.num_kernels = 2;
  expect_error(lathe_cuda_program_validate(&t.cuda, &t.program), "2 launches for 1 kernels");
}

/* Creating touches no driver; running without one fails cleanly, every time. */
static void test_no_driver(void **state) {
  (void)state;
  tables_t t;
  make_tables(&t);
  setenv("LATHE_CUDA_DRIVER", "/nonexistent/libcuda.so.1", 1);
  lathe_rt_cuda_t *rt = NULL;
  OK(lathe_rt_cuda_create(&t.program, &t.cuda, &rt));
  float x[3] = {1, 2, 3}, y[3];
  const int64_t dims[1] = {3};
  lathe_rt_tensor_t in, out;
  OK(lathe_rt_tensor_init(LATHE_RT_DTYPE_F32, 1, dims, x, sizeof x, &in));
  OK(lathe_rt_tensor_init(LATHE_RT_DTYPE_F32, 1, dims, y, sizeof y, &out));
  for (int i = 0; i < 2; ++i)
    expect_error(lathe_rt_cuda_run(rt, NULL, &in, 1, &out, 1),
                 "no CUDA driver (/nonexistent/libcuda.so.1: cannot open shared object file");
  /* bad inputs are reported before the driver is needed */
  expect_error(lathe_rt_cuda_run(rt, NULL, &in, 0, &out, 1), "expected 1 inputs, got 0");
  lathe_rt_cuda_destroy(rt);
  unsetenv("LATHE_CUDA_DRIVER");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_targets),
      cmocka_unit_test(test_mappings),
      cmocka_unit_test(test_lines_and_determinism),
      cmocka_unit_test(test_unfinished_program),
      cmocka_unit_test(test_launch_grid),
      cmocka_unit_test(test_pick_image),
      cmocka_unit_test(test_validate),
      cmocka_unit_test(test_no_driver),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
