/* Emulated images: CUDA C compiled by the host C++ compiler against
 * cuda_emu.h into a shared object, loaded with dlopen (RTLD_LOCAL, so each
 * image keeps its own device struct and __shared__ section).
 *
 * The compiler is $LATHE_EMU_CXX, else the C++ compiler CMake found
 * (LATHE_EMU_CXX_DEFAULT); $LATHE_EMU_CXXFLAGS adds flags (say "-O0 -g" to
 * debug a kernel in gdb). In a sanitizer build (LATHE_EMU_SANITIZE) images
 * are built with UBSan too, so undefined behaviour in generated code (signed
 * overflow, bad shifts) fails the test there. Work files live in a fresh
 * folder under $TMPDIR, removed with the image unless $LATHE_EMU_KEEP is set
 * or the compile failed (then the status names the folder).
 */
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/cuda_emu/emu.h"
#include "tests/cuda_emu/emu_abi.h"

#ifndef LATHE_EMU_CXX_DEFAULT
#define LATHE_EMU_CXX_DEFAULT "c++"
#endif
#ifndef LATHE_EMU_SOURCE_DIR
#error "LATHE_EMU_SOURCE_DIR must name tests/cuda_emu (CMake sets it)"
#endif

extern char **environ;

struct lathe_emu_image {
  void *dl;
  lathe_emu_device_t *dev;
  char dir[256]; /* "" when the image was opened, not compiled */
};

struct lathe_emu_device *lathe_emu_image_device(const lathe_emu_image_t *image) {
  return image->dev;
}

size_t lathe_emu_image_shared_bytes(const lathe_emu_image_t *image) {
  return (size_t)(image->dev->shared_end - image->dev->shared_begin);
}

static void remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char path[512];
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

/* The first `max` lines of a file, joined by " | ". */
static void first_lines(const char *path, char *buf, size_t size, int max) {
  buf[0] = 0;
  FILE *f = fopen(path, "r");
  if (!f) return;
  char line[512];
  size_t used = 0;
  for (int n = 0; n < max && fgets(line, sizeof line, f);) {
    line[strcspn(line, "\n")] = 0;
    if (!line[0]) continue;
    int w = snprintf(buf + used, size - used, "%s%s", n ? " | " : "", line);
    if (w < 0 || (size_t)w >= size - used) break;
    used += (size_t)w, ++n;
  }
  fclose(f);
}

/* Splits a flags string on spaces into argv (modifies `flags`). */
static int split_flags(char *flags, char **argv, int max) {
  int n = 0;
  for (char *tok = strtok(flags, " \t"); tok && n < max; tok = strtok(NULL, " \t")) argv[n++] = tok;
  return n;
}

static lathe_status_t run_compiler(const char *dir, bool werror) {
  char src[300], so[300], log[300], inc[512], force[512];
  snprintf(src, sizeof src, "%s/kernels.cu", dir);
  snprintf(so, sizeof so, "%s/kernels.so", dir);
  snprintf(log, sizeof log, "%s/compile.log", dir);
  snprintf(inc, sizeof inc, "-I%s/include", LATHE_EMU_SOURCE_DIR);
  snprintf(force, sizeof force, "%s/cuda_emu.h", LATHE_EMU_SOURCE_DIR);
  const char *cxx = getenv("LATHE_EMU_CXX");
  if (!cxx || !*cxx) cxx = LATHE_EMU_CXX_DEFAULT;
  char extra[512];
  snprintf(extra, sizeof extra, "%s", getenv("LATHE_EMU_CXXFLAGS") ? getenv("LATHE_EMU_CXXFLAGS") : "");
  char *argv[64];
  int n = 0;
  const char *fixed[] = {cxx, "-std=c++17", "-O1", "-fPIC", "-shared", "-fno-exceptions", "-fno-rtti",
                         "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-unused-function",
                         "-Wno-unknown-pragmas", /* #pragma unroll: a hint, ignored here */
                         werror ? "-Werror" : "-Wno-error",
#ifdef LATHE_EMU_SANITIZE
                         "-fsanitize=undefined", "-fno-sanitize-recover=all",
#endif
                         inc, "-include", force, "-x", "c++", src, "-o", so};
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; ++i) argv[n++] = (char *)fixed[i];
  n += split_flags(extra, argv + n, 63 - n - 1);
  argv[n] = NULL;

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid;
  int rc = posix_spawnp(&pid, cxx, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0)
    return lathe_status_make(LATHE_STATUS_NOT_FOUND, "emulated compile: cannot run '%s': %s", cxx,
                             strerror(rc));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return NULL;
  char msg[1500];
  first_lines(log, msg, sizeof msg, 6);
  return lathe_status_make(LATHE_STATUS_INTERNAL, "emulated compile of %s failed: %s", src, msg);
}

lathe_status_t lathe_emu_image_open(const char *so_path, lathe_emu_image_t **out_image) {
  void *dl = dlopen(so_path, RTLD_NOW | RTLD_LOCAL);
  if (!dl) return lathe_status_make(LATHE_STATUS_IO_ERROR, "emulated image: %s", dlerror());
  lathe_emu_device_t *dev = dlsym(dl, "lathe_emu_device");
  if (!dev || dev->abi_version != LATHE_EMU_ABI_VERSION) {
    dlclose(dl);
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                             "emulated image %s: no lathe_emu_device of ABI version %u "
                             "(not built with cuda_emu.h?)",
                             so_path, LATHE_EMU_ABI_VERSION);
  }
  lathe_emu_bind_device(dev);
  lathe_emu_image_t *image = calloc(1, sizeof *image);
  if (!image) {
    dlclose(dl);
    return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  image->dl = dl, image->dev = dev;
  *out_image = image;
  return NULL;
}

lathe_status_t lathe_emu_image_compile(const char *source, bool werror,
                                       lathe_emu_image_t **out_image) {
  const char *tmp = getenv("TMPDIR");
  char dir[256];
  snprintf(dir, sizeof dir, "%s/lathe-emu-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir))
    return lathe_status_make(LATHE_STATUS_IO_ERROR, "emulated compile: cannot create %s", dir);
  char path[300];
  snprintf(path, sizeof path, "%s/kernels.cu", dir);
  FILE *f = fopen(path, "w");
  if (!f || fputs(source, f) < 0 || fclose(f) != 0)
    return lathe_status_make(LATHE_STATUS_IO_ERROR, "emulated compile: cannot write %s", path);
  LATHE_RETURN_IF_ERROR(run_compiler(dir, werror)); /* the folder stays for a look */
  snprintf(path, sizeof path, "%s/kernels.so", dir);
  lathe_status_t st = lathe_emu_image_open(path, out_image);
  if (st) return st;
  snprintf((*out_image)->dir, sizeof (*out_image)->dir, "%s", dir);
  return NULL;
}

void lathe_emu_image_destroy(lathe_emu_image_t *image) {
  if (!image) return;
  dlclose(image->dl);
  if (image->dir[0] && !getenv("LATHE_EMU_KEEP")) remove_dir(image->dir);
  free(image);
}

lathe_status_t lathe_emu_image_kernel(const lathe_emu_image_t *image, const char *symbol,
                                      lathe_emu_kernel_t *out_kernel) {
  void *sym = dlsym(image->dl, symbol);
  if (!sym)
    return lathe_status_make(LATHE_STATUS_NOT_FOUND, "emulated image: no kernel '%s'", symbol);
  /* POSIX guarantees dlsym's object pointer converts to a function pointer. */
  lathe_emu_kernel_t k;
  memcpy(&k, &sym, sizeof k);
  *out_kernel = k;
  return NULL;
}
