/* The CUDA backend with NVRTC: generated sources compile for sm_80 and
 * sm_90 (PTX with the right target and entry points, equal to the compute_80
 * and compute_90 PTX; CUBIN as ELF), a
 * compile error names the kernel holding it, and the backend table writes
 * PTX and a shared library whose descriptor and CUDA table validate. A run
 * needs a GPU: without a driver it fails cleanly; with one (a GPU machine) the
 * outputs are compared with the reference interpreter.
 *
 * Exits 77 (ctest: skipped), saying why, in a build without NVRTC.
 */
#include <dlfcn.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "codegen/cuda/cuda.h"
#include "ir/text.h"
#include "kernel/kernel.h"

#define OK(expr)                                                   \
  do {                                                             \
    lathe_status_t st_ = (expr);                                   \
    if (st_) fail_msg("%s: %s", #expr, lathe_status_message(st_)); \
  } while (0)

/* softmax rows (block reductions) and a GEMM, no weights */
static const char graph[] =
    "graph @g(%x: f32[N, 100], %w: f32[100, 48]) -> (f32[N, 100], f32[N, 48]) {\n"
    "  %0 = softmax %x {axis = -1} : f32[N, 100]\n"
    "  %1 = matmul %x, %w : f32[N, 48]\n"
    "  return %0, %1\n"
    "}\n";

typedef struct fixture {
  lathe_module_t *module;
  lathe_kprogram_t *program;
} fixture_t;

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  if (lathe_module_parse(graph, strlen(graph), "g.lir", NULL, &f->module) ||
      lathe_kernel_lower_graph(lathe_module_first_graph(f->module), &f->program))
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  lathe_kprogram_destroy(f->program);
  lathe_module_destroy(f->module);
  free(f);
  return 0;
}

static void test_archs(void **state) {
  fixture_t *f = *state;
  lathe_cuda_source_t *s;
  OK(lathe_cuda_generate(f->program, NULL, &s));
  for (int32_t arch = 80; arch <= 90; arch += 10) {
    lathe_cuda_binary_t b;
    OK(lathe_cuda_nvrtc_compile(s, arch, &b));
    assert_int_equal(b.arch, arch);
    assert_int_equal(b.ptx_size, strlen(b.ptx) + 1);
    char target[32];
    snprintf(target, sizeof target, ".target sm_%d", (int)arch);
    assert_non_null(strstr(b.ptx, target));
    for (uint32_t k = 0; k < s->num_kernels; ++k) {
      char entry[256];
      snprintf(entry, sizeof entry, ".entry %s(", s->launches[k].symbol);
      if (!strstr(b.ptx, entry)) fail_msg("no '%s' in the PTX", entry);
    }
    assert_true(b.cubin_size > 4 && memcmp(b.cubin,
                                           "\x7f"
                                           "ELF",
                                           4) == 0);
    /* The sm_NN build's PTX is the compute_NN PTX: one compile gives both. */
    lathe_cuda_binary_t v;
    OK(lathe_cuda_nvrtc_compile_virtual(s, arch, &v));
    assert_int_equal(v.cubin_size, 0);
    assert_null(v.cubin);
    assert_string_equal(v.ptx, b.ptx);
    lathe_cuda_binary_free(&v);
    lathe_cuda_binary_free(&b);
  }
  lathe_cuda_source_destroy(s);
}

/* A hand-made source: the error on line 3 belongs to the second kernel. */
static void test_compile_error(void **state) {
  (void)state;
  char text[] =
      "extern \"C\" __global__ void k_a(void *const *lathe_B, const long long *lathe_P) {}\n"
      "extern \"C\" __global__ void k_b(void *const *lathe_B, const long long *lathe_P) {\n"
      "  undefined_thing = 1; other_undefined = 2;\n"
      "}\n";
  lathe_cuda_launch_t launches[2] = {{.kernel = "k0_good", .symbol = "k_a"},
                                     {.kernel = "k1_bad", .symbol = "k_b"}};
  uint32_t first[2] = {1, 2}, last[2] = {1, 4};
  lathe_cuda_source_t s = {.text = text,
                           .length = strlen(text),
                           .num_kernels = 2,
                           .launches = launches,
                           .first_line = first,
                           .last_line = last};
  lathe_cuda_binary_t b;
  lathe_status_t st = lathe_cuda_nvrtc_compile(&s, 80, &b);
  assert_non_null(st);
  const char *msg = lathe_status_message(st);
  if (!strstr(
          msg,
          "kernel 'k1_bad': NVRTC (sm_80): lathe.cu(3): error: identifier \"undefined_thing\"") ||
      !strstr(msg, "(+1 more error)") || strchr(msg, '\n'))
    fail_msg("unexpected message: %s", msg);
  lathe_status_free(st);
}

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = calloc((size_t)n + 1, 1);
  if (s && fread(s, 1, (size_t)n, f) != (size_t)n) s[0] = '\0';
  fclose(f);
  return s;
}

/* Runs the JIT'd program on a GPU, when there is one, against the interpreter. */
static void run_if_gpu(const lathe_backend_t *b, const lathe_codegen_jit_t *j,
                       const lathe_kprogram_t *p) {
  enum { ROWS = 5 };
  static float x[ROWS * 100], w[100 * 48], y0[ROWS * 100], y1[ROWS * 48], r0[ROWS * 100],
      r1[ROWS * 48];
  for (int i = 0; i < ROWS * 100; ++i) x[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
  for (int i = 0; i < 100 * 48; ++i) w[i] = (float)((i * 11) % 23) / 23.0f - 0.5f;
  const int64_t dx[2] = {ROWS, 100}, dw[2] = {100, 48}, dy0[2] = {ROWS, 100}, dy1[2] = {ROWS, 48};
  lathe_rt_tensor_t in[2], out[2];
  OK(lathe_rt_tensor_init(LATHE_RT_DTYPE_F32, 2, dx, x, sizeof x, &in[0]));
  OK(lathe_rt_tensor_init(LATHE_RT_DTYPE_F32, 2, dw, w, sizeof w, &in[1]));
  OK(lathe_rt_tensor_init(LATHE_RT_DTYPE_F32, 2, dy0, y0, sizeof y0, &out[0]));
  OK(lathe_rt_tensor_init(LATHE_RT_DTYPE_F32, 2, dy1, y1, sizeof y1, &out[1]));
  lathe_status_t st = b->jit_run(j, NULL, in, 2, out, 2);
  if (st && strstr(lathe_status_message(st), "no CUDA driver")) {
    printf("note: no GPU here (%s): the numeric check runs on GPU machines\n",
           lathe_status_message(st));
    lathe_status_free(st);
    return;
  }
  OK(st);
  const int64_t *dims[2] = {dx, dw};
  int64_t params[8];
  OK(lathe_kprogram_bind_params(p, dims, params));
  const void *ins[2] = {x, w};
  void *outs[2] = {r0, r1};
  OK(lathe_kprogram_run_reference(p, params, ins, outs, NULL, NULL));
  for (int i = 0; i < ROWS * 100; ++i)
    assert_true(fabsf(y0[i] - r0[i]) <= 1e-5f + 1e-4f * fabsf(r0[i]));
  for (int i = 0; i < ROWS * 48; ++i)
    assert_true(fabsf(y1[i] - r1[i]) <= 1e-4f + 1e-4f * fabsf(r1[i]));
}

static void test_backend(void **state) {
  fixture_t *f = *state;
  const lathe_backend_t *b = lathe_backend_find("cuda");
  assert_non_null(b);
  lathe_codegen_artifact_t *a;
  OK(b->compile(f->program, NULL, &a));
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  OK(b->emit_text(a, &sb));
  assert_non_null(strstr(lathe_strbuf_cstr(&sb), "extern \"C\" __global__"));
  lathe_strbuf_destroy(&sb);

  char dir[] = "/tmp/lathe_cuda_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char ptx[64], so[64];
  snprintf(ptx, sizeof ptx, "%s/g.ptx", dir);
  snprintf(so, sizeof so, "%s/g.so", dir);
  OK(b->emit_file(a, LATHE_CODEGEN_FILE_ASM, ptx));
  char *text = read_file(ptx);
  assert_non_null(text);
  assert_non_null(strstr(text, ".target sm_80"));
  free(text);
  OK(b->emit_file(a, LATHE_CODEGEN_FILE_SHARED, so));
  void *lib = dlopen(so, RTLD_NOW | RTLD_LOCAL);
  assert_non_null(lib);
  const lathe_rt_program_t *d = dlsym(lib, "lathe_program");
  const lathe_cuda_program_t *c = dlsym(lib, "lathe_program_cuda");
  assert_non_null(d);
  assert_non_null(c);
  OK(lathe_rt_program_validate(d));
  OK(lathe_cuda_program_validate(c, d));
  assert_int_equal(c->num_images, 4); /* CUBIN and PTX for sm_80 and sm_90 */
  assert_non_null(lathe_cuda_pick_image(c, 90));
  dlclose(lib);
  unlink(ptx), unlink(so), rmdir(dir);

  /* the JIT loads lazily: it works here, its runs need a driver */
  lathe_codegen_jit_t *j;
  OK(b->jit(a, &j));
  b->destroy(a); /* the jit handle keeps what it needs */
  OK(lathe_rt_program_validate(b->jit_program(j)));
  setenv("LATHE_CUDA_DRIVER", "/nonexistent/libcuda.so.1", 1);
  lathe_status_t st = b->jit_run(j, NULL, NULL, 0, NULL, 0);
  assert_non_null(st); /* the wrong input count is reported first */
  lathe_status_free(st);
  unsetenv("LATHE_CUDA_DRIVER");
  run_if_gpu(b, j, f->program);
  b->jit_destroy(j);
}

int main(void) {
  if (!lathe_cuda_have_nvrtc()) {
    printf("SKIPPED: %s\n", LATHE_CUDA_UNAVAILABLE);
    return 77;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_archs),
      cmocka_unit_test(test_compile_error),
      cmocka_unit_test(test_backend),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
