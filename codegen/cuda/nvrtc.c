/* NVRTC: a generated source to PTX and CUBIN for one architecture.
 *
 * One NVRTC program per call, compiled with --gpu-architecture=sm_NN, which
 * yields both the CUBIN and the PTX it came from. That PTX is byte for byte
 * the PTX of a compute_NN (virtual architecture) build, `.target sm_NN`,
 * which a newer GPU's driver can JIT: test_codegen_cuda_nvrtc compares the
 * two (lathe_cuda_nvrtc_compile_virtual), so one compile per architecture
 * gives the compute_NN PTX and the sm_NN CUBIN. The CUDA headers come from
 * the toolkit the build found (-I), since NVRTC 13 does not embed
 * cuda_fp16.h. Gotchas (docs/research: dependency-probes §2): the CUBIN size
 * of a compute_NN build is 0 with NVRTC_SUCCESS, so an empty CUBIN is an
 * error here; the PTX size counts its NUL.
 *
 * A compile error is a bug in the generator, reported as one line: the kernel
 * whose lines hold the first error, the architecture, the first error line of
 * NVRTC's log and how many more there were.
 *
 * Built without NVRTC (no LATHE_HAVE_NVRTC), every call fails with
 * LATHE_CUDA_UNAVAILABLE.
 */
#include <stdlib.h>
#include <string.h>

#include "codegen/cuda/cuda.h"

void lathe_cuda_binary_free(lathe_cuda_binary_t *b) {
  if (!b) return;
  free(b->ptx);
  free(b->cubin);
  *b = (lathe_cuda_binary_t){0};
}

#ifndef LATHE_HAVE_NVRTC

bool lathe_cuda_have_nvrtc(void) { return false; }

lathe_status_t lathe_cuda_nvrtc_compile(const lathe_cuda_source_t *source, int32_t arch,
                                        lathe_cuda_binary_t *out) {
  (void)source, (void)arch, (void)out;
  return lathe_status_make(LATHE_STATUS_UNSUPPORTED, "%s", LATHE_CUDA_UNAVAILABLE);
}

lathe_status_t lathe_cuda_nvrtc_compile_virtual(const lathe_cuda_source_t *source, int32_t arch,
                                                lathe_cuda_binary_t *out) {
  return lathe_cuda_nvrtc_compile(source, arch, out);
}

#else

#include <nvrtc.h>

bool lathe_cuda_have_nvrtc(void) { return true; }

static lathe_status_t nvrtc_error(nvrtcResult r, const char *call, int32_t arch) {
  return lathe_status_make(LATHE_STATUS_INTERNAL, "NVRTC (sm_%d): %s: %s", (int)arch, call,
                           nvrtcGetErrorString(r));
}

/* The kernel whose lines hold `line`, or NULL (the prelude). */
static const char *kernel_at(const lathe_cuda_source_t *s, unsigned long line) {
  for (uint32_t i = 0; i < s->num_kernels; ++i)
    if (line >= s->first_line[i] && line <= s->last_line[i]) return s->launches[i].kernel;
  return NULL;
}

/* The first error of NVRTC's log, its kernel and the count of the others. */
static lathe_status_t compile_error(const lathe_cuda_source_t *s, const char *log, int32_t arch) {
  const char *first = NULL;
  size_t first_len = 0;
  int errors = 0;
  for (const char *line = log; line && *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    const char *hit = strstr(line, "error");
    if (hit && hit < line + len && strncmp(line, "lathe.cu(", 9) == 0) {
      if (!first) first = line, first_len = len;
      ++errors;
    }
    line = end ? end + 1 : NULL;
  }
  bool located = first != NULL;
  if (!located) { /* no located error: the log's first line */
    first = log ? log : "";
    const char *end = strchr(first, '\n');
    first_len = end ? (size_t)(end - first) : strlen(first);
    errors = 1;
  }
  const char *kernel = located ? kernel_at(s, strtoul(first + 9, NULL, 10)) : NULL;
  char more[48] = "";
  if (errors > 1)
    snprintf(more, sizeof more, " (+%d more error%s)", errors - 1, errors > 2 ? "s" : "");
  lathe_status_t st = lathe_status_make(LATHE_STATUS_INTERNAL, "NVRTC (sm_%d): %.*s%s", (int)arch,
                                        (int)first_len, first, more);
  return kernel ? lathe_status_annotate(st, "kernel '%s'", kernel) : st;
}

/* sm_NN (virtual false): PTX and CUBIN; compute_NN: PTX alone. */
static lathe_status_t compile(const lathe_cuda_source_t *source, int32_t arch, bool virtual_arch,
                              lathe_cuda_binary_t *out) {
  nvrtcProgram prog;
  nvrtcResult r = nvrtcCreateProgram(&prog, source->text, "lathe.cu", 0, NULL, NULL);
  if (r != NVRTC_SUCCESS) return nvrtc_error(r, "nvrtcCreateProgram", arch);
  char gpu[64];
  snprintf(gpu, sizeof gpu, "--gpu-architecture=%s_%d", virtual_arch ? "compute" : "sm", (int)arch);
  const char *opts[] = {gpu, "--std=c++17", "-default-device", "-I" LATHE_CUDA_INCLUDE_DIR};
  r = nvrtcCompileProgram(prog, (int)(sizeof opts / sizeof opts[0]), opts);
  lathe_status_t st = NULL;
  if (r == NVRTC_ERROR_COMPILATION) {
    size_t n = 0;
    nvrtcGetProgramLogSize(prog, &n);
    char *log = calloc(n + 1, 1);
    if (log) nvrtcGetProgramLog(prog, log);
    st = compile_error(source, log, arch);
    free(log);
  } else if (r != NVRTC_SUCCESS) {
    st = nvrtc_error(r, "nvrtcCompileProgram", arch);
  }
  lathe_cuda_binary_t b = {.arch = arch};
  if (!st && (r = nvrtcGetPTXSize(prog, &b.ptx_size)) != NVRTC_SUCCESS)
    st = nvrtc_error(r, "nvrtcGetPTXSize", arch);
  if (!st && (r = nvrtcGetCUBINSize(prog, &b.cubin_size)) != NVRTC_SUCCESS)
    st = nvrtc_error(r, "nvrtcGetCUBINSize", arch);
  if (!st && virtual_arch) b.cubin_size = 0; /* 0 already: NVRTC makes none */
  if (!st && (b.ptx_size == 0 || (b.cubin_size == 0 && !virtual_arch)))
    st = lathe_status_make(LATHE_STATUS_INTERNAL, "NVRTC (sm_%d): empty %s", (int)arch,
                           b.ptx_size ? "CUBIN" : "PTX");
  if (!st) {
    b.ptx = malloc(b.ptx_size + 1);
    b.cubin = virtual_arch ? NULL : malloc(b.cubin_size);
    if (!b.ptx || (!b.cubin && !virtual_arch))
      st = lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  if (!st && (r = nvrtcGetPTX(prog, b.ptx)) != NVRTC_SUCCESS)
    st = nvrtc_error(r, "nvrtcGetPTX", arch);
  if (!st && !virtual_arch && (r = nvrtcGetCUBIN(prog, b.cubin)) != NVRTC_SUCCESS)
    st = nvrtc_error(r, "nvrtcGetCUBIN", arch);
  nvrtcDestroyProgram(&prog);
  if (st) {
    lathe_cuda_binary_free(&b);
    return st;
  }
  b.ptx[b.ptx_size] = '\0';
  *out = b;
  return NULL;
}

lathe_status_t lathe_cuda_nvrtc_compile(const lathe_cuda_source_t *source, int32_t arch,
                                        lathe_cuda_binary_t *out) {
  return compile(source, arch, false, out);
}

lathe_status_t lathe_cuda_nvrtc_compile_virtual(const lathe_cuda_source_t *source, int32_t arch,
                                                lathe_cuda_binary_t *out) {
  return compile(source, arch, true, out);
}

#endif
