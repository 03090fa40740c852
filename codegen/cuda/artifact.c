/* Files the CUDA backend writes: PTX text, and the shared library that
 * carries a compiled program.
 *
 * The shared library is generated C compiled by the system C compiler
 * ($CC, else cc; `-shared -fPIC -O0`, data only): it exports the program
 * descriptor under the program symbol (a `const lathe_rt_program_t`, as the
 * LLVM backend's libraries do, so inspect, shape queries and the loader read
 * it the same way) and `<symbol>_cuda`, a `const lathe_cuda_program_t`
 * (runtime/cuda/cuda.h) with the launch table and every image. The C
 * declares its own structs with the layouts of those headers (fixed-width
 * fields and pointers, checked against the ABI version by the loader), so
 * compiling it needs no Lathe header. Descriptor kernels point at a host stub
 * that fails: a GPU kernel is not a host function, and a loader that ignores
 * the CUDA table gets an error rather than wrong results.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codegen/cuda/internal.h"

lathe_status_t cu_write_ptx(const lathe_cuda_binary_t *b, const char *path) {
  FILE *f = fopen(path, "wb");
  size_t n = b->ptx_size && b->ptx[b->ptx_size - 1] == '\0' ? b->ptx_size - 1 : b->ptx_size;
  bool ok = f && fwrite(b->ptx, 1, n, f) == n;
  if (f) ok = fclose(f) == 0 && ok;
  if (!ok) return lathe_status_make(LATHE_STATUS_IO_ERROR, "cannot write '%s'", path);
  return NULL;
}

static const char types[] =
    "#include <stdint.h>\n"
    "typedef struct { int32_t op, reserved; int64_t value; } op_t;\n"
    "typedef struct { const char *name; int32_t input, dim, num_ops, reserved; const op_t *ops; } "
    "param_t;\n"
    "typedef struct { int64_t size; int32_t param, reserved; } dim_t;\n"
    "typedef struct { const char *name; int32_t role, index, dtype, rank; const dim_t *dims; } "
    "buffer_t;\n"
    "typedef struct { const char *name; int32_t (*fn)(const void *); int32_t num_buffers, "
    "reserved; const int32_t *buffers; } kernel_t;\n"
    "typedef struct { uint32_t abi_version; int32_t num_params, num_inputs, num_outputs, "
    "num_buffers, num_kernels, num_weights, reserved; const param_t *params; const buffer_t "
    "*buffers; const kernel_t *kernels; } program_t;\n"
    "typedef struct { int64_t factor; int32_t num_params; int32_t params[8]; int32_t reserved; } "
    "work_t;\n"
    "typedef struct { work_t work; int64_t per_block, cap; } grid_t;\n"
    "typedef struct { const char *kernel, *symbol; uint32_t block[3], shared_bytes; grid_t "
    "grid[3]; } launch_t;\n"
    "typedef struct { int32_t kind, arch; uint64_t size; const void *data; } image_t;\n"
    "typedef struct { uint32_t abi_version; int32_t num_kernels, num_images, reserved; const "
    "launch_t *launches; const image_t *images; } cuda_t;\n"
    "static int32_t not_on_host(const void *args) { (void)args; return 3; }\n";

/* A C string literal of n bytes, every byte escaped, in lines. */
static void literal(FILE *f, const void *data, size_t n) {
  const unsigned char *p = data;
  fputc('"', f);
  for (size_t i = 0; i < n; ++i) {
    fprintf(f, "\\x%02x", p[i]);
    if (i % 64 == 63 && i + 1 < n) fputs("\"\n\"", f);
  }
  fputc('"', f);
}

static void cstring(FILE *f, const char *s) {
  if (!s) fputs("0", f);
  else literal(f, s, strlen(s));
}

static void work(FILE *f, const lathe_cuda_work_t *w) {
  fprintf(f, "{%lldLL, %d, {", (long long)w->factor, (int)w->num_params);
  for (int i = 0; i < LATHE_CUDA_MAX_WORK_PARAMS; ++i)
    fprintf(f, "%s%d", i ? ", " : "", (int)w->params[i]);
  fputs("}, 0}", f);
}

static void descriptor(FILE *f, const lathe_rt_program_t *d, const char *symbol) {
  for (int32_t i = 0; i < d->num_params; ++i) {
    const lathe_rt_param_desc_t *q = &d->params[i];
    if (q->num_ops <= 0) continue;
    fprintf(f, "static const op_t param%d_ops[] = {", (int)i);
    for (int32_t o = 0; o < q->num_ops; ++o)
      fprintf(f, "%s{%d, 0, %lldLL}", o ? ", " : "", (int)q->ops[o].op, (long long)q->ops[o].value);
    fputs("};\n", f);
  }
  fputs("static const param_t params[] = {\n", f);
  for (int32_t i = 0; i < d->num_params; ++i) {
    const lathe_rt_param_desc_t *q = &d->params[i];
    fputs("  {", f);
    cstring(f, q->name);
    fprintf(f, ", %d, %d, %d, 0, ", (int)q->input, (int)q->dim, (int)q->num_ops);
    if (q->num_ops > 0) fprintf(f, "param%d_ops},\n", (int)i);
    else fputs("0},\n", f);
  }
  fputs("  {0, 0, 0, 0, 0, 0}};\n", f);
  for (int32_t i = 0; i < d->num_buffers; ++i) {
    const lathe_rt_buffer_desc_t *b = &d->buffers[i];
    if (b->rank <= 0) continue;
    fprintf(f, "static const dim_t buffer%d_dims[] = {", (int)i);
    for (int32_t k = 0; k < b->rank; ++k)
      fprintf(f, "%s{%lldLL, %d, 0}", k ? ", " : "", (long long)b->dims[k].size,
              (int)b->dims[k].param);
    fputs("};\n", f);
  }
  fputs("static const buffer_t buffers[] = {\n", f);
  for (int32_t i = 0; i < d->num_buffers; ++i) {
    const lathe_rt_buffer_desc_t *b = &d->buffers[i];
    fputs("  {", f);
    cstring(f, b->name);
    fprintf(f, ", %d, %d, %d, %d, ", (int)b->role, (int)b->index, (int)b->dtype, (int)b->rank);
    if (b->rank > 0) fprintf(f, "buffer%d_dims},\n", (int)i);
    else fputs("0},\n", f);
  }
  fputs("  {0, 0, 0, 0, 0, 0}};\n", f);
  for (int32_t i = 0; i < d->num_kernels; ++i) {
    const lathe_rt_kernel_desc_t *k = &d->kernels[i];
    fprintf(f, "static const int32_t kernel%d_buffers[] = {", (int)i);
    for (int32_t j = 0; j < k->num_buffers; ++j)
      fprintf(f, "%s%d", j ? ", " : "", (int)k->buffers[j]);
    fputs(k->num_buffers ? "};\n" : "0};\n", f);
  }
  fputs("static const kernel_t kernels[] = {\n", f);
  for (int32_t i = 0; i < d->num_kernels; ++i) {
    fputs("  {", f);
    cstring(f, d->kernels[i].name);
    fprintf(f, ", not_on_host, %d, 0, kernel%d_buffers},\n", (int)d->kernels[i].num_buffers,
            (int)i);
  }
  fputs("  {0, 0, 0, 0, 0}};\n", f);
  fprintf(f, "const program_t %s = {%uu, %d, %d, %d, %d, %d, %d, 0, params, buffers, kernels};\n",
          symbol, (unsigned)d->abi_version, (int)d->num_params, (int)d->num_inputs,
          (int)d->num_outputs, (int)d->num_buffers, (int)d->num_kernels, (int)d->num_weights);
}

static void cuda_table(FILE *f, const lathe_cuda_program_t *c, const char *symbol) {
  for (int32_t i = 0; i < c->num_images; ++i) {
    fprintf(f, "static const char image%d[] = ", (int)i);
    literal(f, c->images[i].data, (size_t)c->images[i].size);
    fputs(";\n", f);
  }
  fputs("static const image_t images[] = {\n", f);
  for (int32_t i = 0; i < c->num_images; ++i)
    fprintf(f, "  {%d, %d, %lluULL, image%d},\n", (int)c->images[i].kind, (int)c->images[i].arch,
            (unsigned long long)c->images[i].size, (int)i);
  fputs("  {0, 0, 0, 0}};\n", f);
  fputs("static const launch_t launches[] = {\n", f);
  for (int32_t i = 0; i < c->num_kernels; ++i) {
    const lathe_cuda_launch_t *l = &c->launches[i];
    fputs("  {", f);
    cstring(f, l->kernel);
    fputs(", ", f);
    cstring(f, l->symbol);
    fprintf(f, ", {%u, %u, %u}, %u, {", l->block[0], l->block[1], l->block[2], l->shared_bytes);
    for (int d = 0; d < 3; ++d) {
      fputs(d ? ", {" : "{", f);
      work(f, &l->grid[d].work);
      fprintf(f, ", %lldLL, %lldLL}", (long long)l->grid[d].per_block, (long long)l->grid[d].cap);
    }
    fputs("}},\n", f);
  }
  fputs("  {0}};\n", f);
  fprintf(f, "const cuda_t %s_cuda = {%uu, %d, %d, 0, launches, images};\n", symbol,
          (unsigned)c->abi_version, (int)c->num_kernels, (int)c->num_images);
}

lathe_status_t cu_write_shared(const lathe_rt_program_t *d, const lathe_cuda_program_t *cuda,
                               const char *symbol, const char *path) {
  size_t n = strlen(path) + 16;
  char *src = malloc(n);
  if (!src) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  snprintf(src, n, "%s.XXXXXX", path);
  int fd = mkstemp(src);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (!f) {
    lathe_status_t st = lathe_status_make(
        LATHE_STATUS_IO_ERROR, "cannot create a file next to '%s': %s", path, strerror(errno));
    if (fd >= 0) close(fd), unlink(src);
    free(src);
    return st;
  }
  fputs("/* A CUDA program compiled by Lathe: descriptor, launch table, images. */\n", f);
  fputs(types, f);
  descriptor(f, d, symbol);
  cuda_table(f, cuda, symbol);
  bool ok = !ferror(f);
  ok = fclose(f) == 0 && ok;
  lathe_status_t st =
      ok ? NULL : lathe_status_make(LATHE_STATUS_IO_ERROR, "cannot write '%s'", src);
  if (!st) {
    const char *cc = getenv("CC");
    char *argv[] = {(char *)(cc && *cc ? cc : "cc"),
                    "-shared",
                    "-fPIC",
                    "-O0",
                    "-x",
                    "c",
                    "-o",
                    (char *)path,
                    src,
                    NULL};
    st = lathe_status_annotate(lathe_codegen_spawn(argv), "linking '%s'", path);
  }
  unlink(src);
  free(src);
  return st;
}
