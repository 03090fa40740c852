/* `lathe compile --emit=...`: the model in each of its forms. The text forms
 * of the graph and kernel programs come from their printers; LLVM IR / CUDA
 * C, assembly (PTX on cuda), objects and shared libraries from the target's
 * backend, and a shared
 * library gets its weights written next to it (or appended to it) in the
 * layout weights_file.c describes, so lathe_compiled_load can run it.
 */
#include <stdio.h>
#include <string.h>

#include "driver/internal.h"
#include "ir/text.h"

static lathe_status_t write_text(const char *path, const lathe_strbuf_t *sb) {
  bool to_stdout = !strcmp(path, "-");
  FILE *f = to_stdout ? stdout : fopen(path, "wb");
  if (!f) return lathe_status_make(LATHE_STATUS_IO_ERROR, "cannot write '%s'", path);
  size_t n = fwrite(lathe_strbuf_cstr(sb), 1, sb->len, f);
  bool ok = n == sb->len && (to_stdout ? fflush(f) == 0 : fclose(f) == 0);
  if (!ok) return lathe_status_make(LATHE_STATUS_IO_ERROR, "cannot write '%s'", path);
  return NULL;
}

static lathe_status_t emit_text(lathe_model_t *m, lathe_emit_t kind, lathe_strbuf_t *sb) {
  if (kind == LATHE_EMIT_IR) {
    lathe_module_print(sb, m->module);
    return NULL;
  }
  if (kind == LATHE_EMIT_KERNEL_IR) {
    const lathe_kprogram_t *p;
    LATHE_RETURN_IF_ERROR(model_lower(m, &p));
    lathe_kprogram_print(sb, p);
    return NULL;
  }
  const lathe_backend_t *b;
  const lathe_codegen_artifact_t *a;
  LATHE_RETURN_IF_ERROR(model_artifact(m, &b, &a));
  bool cuda = kind == LATHE_EMIT_CUDA;
  if (!b->emit_text || strcmp(b->name, cuda ? "cuda" : "llvm"))
    return lathe_status_make(LATHE_STATUS_UNSUPPORTED, "--emit=%s needs the %s target",
                             cuda ? "cuda" : "llvm", cuda ? "cuda" : "cpu");
  return b->emit_text(a, sb);
}

static lathe_status_t emit_file(lathe_model_t *m, lathe_emit_t kind, const char *path,
                                uint32_t flags) {
  if (!strcmp(path, "-"))
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                             "binary output needs a file, not stdout");
  const lathe_backend_t *b;
  const lathe_codegen_artifact_t *a;
  LATHE_RETURN_IF_ERROR(model_artifact(m, &b, &a));
  if (!b->emit_file)
    return lathe_status_make(LATHE_STATUS_UNSUPPORTED, "backend '%s' writes no files", b->name);
  if (kind == LATHE_EMIT_PTX && strcmp(b->name, "cuda"))
    return lathe_status_make(LATHE_STATUS_UNSUPPORTED, "--emit=ptx needs the cuda target");
  lathe_codegen_file_t file = kind == LATHE_EMIT_ASM || kind == LATHE_EMIT_PTX
                                  ? LATHE_CODEGEN_FILE_ASM
                              : kind == LATHE_EMIT_OBJECT ? LATHE_CODEGEN_FILE_OBJECT
                                                          : LATHE_CODEGEN_FILE_SHARED;
  LATHE_RETURN_IF_ERROR(b->emit_file(a, file, path));
  if (kind != LATHE_EMIT_SHARED || lathe_codegen_num_weights(m->program) == 0) return NULL;
  if (flags & LATHE_EMIT_EMBED_WEIGHTS) return weights_file_write(m->program, path, true);
  lathe_strbuf_t sidecar;
  lathe_strbuf_init(&sidecar);
  lathe_strbuf_printf(&sidecar, "%s.weights", path);
  lathe_status_t st = weights_file_write(m->program, lathe_strbuf_cstr(&sidecar), false);
  lathe_strbuf_destroy(&sidecar);
  return st;
}

lathe_status_t lathe_model_emit(lathe_model_t *model, lathe_emit_t kind, const char *path,
                                uint32_t flags) {
  if (!model || !path)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "model_emit: NULL argument");
  switch (kind) {
  case LATHE_EMIT_IR:
  case LATHE_EMIT_KERNEL_IR:
  case LATHE_EMIT_LLVM:
  case LATHE_EMIT_CUDA: {
    lathe_strbuf_t sb;
    lathe_strbuf_init(&sb);
    lathe_status_t st = emit_text(model, kind, &sb);
    if (!st) st = write_text(path, &sb);
    lathe_strbuf_destroy(&sb);
    return st;
  }
  case LATHE_EMIT_ASM:
  case LATHE_EMIT_OBJECT:
  case LATHE_EMIT_SHARED:
  case LATHE_EMIT_PTX: return emit_file(model, kind, path, flags);
  }
  return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "unknown emit kind %d", (int)kind);
}
