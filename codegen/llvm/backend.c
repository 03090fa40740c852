/* The LLVM backend's lathe_backend_t: compile a kernel program into one
 * optimised LLVM module, then print it, write it as assembly, an object or a
 * shared library, or JIT it with ORC's LLJIT.
 *
 * The module is built inside an ORC ThreadSafeContext from the start, so the
 * JIT can take a clone of it without re-parsing anything; the context is
 * reference-counted, so an artifact and the JITs made from it may be
 * destroyed in any order. Objects are always written from a clone:
 * LLVMTargetMachineEmitToFile runs codegen passes that change the module it
 * is given. A shared library is that object linked by the system C compiler
 * (`cc -shared`, run without a shell), with -lm for the libm calls.
 *
 * LLVM's diagnostics (e.g. "loop not vectorized" remarks for a hinted loop)
 * are swallowed: they are advice, and the CLI's stderr is for errors.
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>

#include "codegen/llvm/internal.h"

extern char **environ;

struct lathe_codegen_artifact {
  LLVMOrcThreadSafeContextRef tsctx;
  LLVMModuleRef mod;
  LLVMTargetMachineRef tm;
  lathe_codegen_options_t opts;
  char *symbol;
};

struct lathe_codegen_jit {
  LLVMOrcLLJITRef jit;
  const lathe_rt_program_t *program;
};

static void ignore_diagnostic(LLVMDiagnosticInfoRef info, void *ctx) { (void)info, (void)ctx; }

static lathe_status_t llvm_error(LLVMErrorRef e, const char *what) {
  char *msg = LLVMGetErrorMessage(e);
  lathe_status_t st = lathe_status_make(LATHE_STATUS_INTERNAL, "%s: %s", what, msg);
  LLVMDisposeErrorMessage(msg);
  return st;
}

static void destroy(lathe_codegen_artifact_t *a) {
  if (!a) return;
  if (a->mod) LLVMDisposeModule(a->mod);
  if (a->tm) LLVMDisposeTargetMachine(a->tm);
  if (a->tsctx) LLVMOrcDisposeThreadSafeContext(a->tsctx);
  free(a->symbol);
  free(a);
}

/* "<prefix>_<name>" with anything but [A-Za-z0-9_] replaced by '_'. */
static char *symbol_name(cg_t *cg, const char *prefix, const char *name) {
  char *s = lathe_arena_printf(&cg->arena, "%s_%s", prefix, name);
  for (char *c = s; *c; ++c)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')))
      *c = '_';
  return s;
}

static lathe_status_t check_program(const lathe_kprogram_t *p) {
  if (p->build) return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "program is not finished");
  for (uint32_t i = 0; i < p->num_buffers; ++i)
    if (p->buffers[i]->dtype <= LATHE_DTYPE_INVALID || p->buffers[i]->dtype > LATHE_DTYPE_U4)
      return lathe_status_make(LATHE_STATUS_UNSUPPORTED, "buffer %%%s has an unsupported dtype",
                               p->buffers[i]->name);
  return NULL;
}

static lathe_status_t generate(cg_t *cg) {
  const lathe_kprogram_t *p = cg->p;
  LLVMValueRef *fns = LATHE_ARENA_NEW_ARRAY(&cg->arena, LLVMValueRef, p->num_kernels + 1);
  for (uint32_t i = 0; i < p->num_kernels && !cg->error; ++i) {
    const lathe_kernel_t *k = p->kernels[i];
    cg->kernel_name = k->name;
    const char *sym = symbol_name(cg, cg->symbol, k->name);
    fns[i] =
        k->kind == LATHE_KERNEL_GEMM ? cg_gemm_kernel(cg, k, sym) : cg_loops_kernel(cg, k, sym);
    if (!fns[i] && !cg->error) cg_fail(cg, LATHE_STATUS_INTERNAL, "no code generated");
  }
  cg->kernel_name = NULL;
  if (!cg->error) cg_program_descriptor(cg, fns);
  lathe_status_t st = cg->error;
  cg->error = NULL;
  return st;
}

static lathe_status_t compile(const lathe_kprogram_t *program,
                              const lathe_codegen_options_t *options,
                              lathe_codegen_artifact_t **out_artifact) {
  LATHE_RETURN_IF_ERROR(check_program(program));
  lathe_codegen_options_t opts;
  if (options) opts = *options;
  else lathe_codegen_options_init(&opts);
  lathe_codegen_artifact_t *a = calloc(1, sizeof *a);
  if (!a) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  a->opts = opts;
  a->opts.target = NULL; /* not kept: borrowed from the caller */
  a->symbol = strdup(opts.program_symbol ? opts.program_symbol : "lathe_program");
  cg_t cg = {.p = program, .symbol = a->symbol};
  lathe_arena_init(&cg.arena);
  lathe_status_t st = cg_target_machine(&opts, &cg.target, &a->tm);
  if (!st) {
    a->tsctx = LLVMOrcCreateNewThreadSafeContext();
    cg.ctx = LLVMOrcThreadSafeContextGetContext(a->tsctx);
    LLVMContextSetDiagnosticHandler(cg.ctx, ignore_diagnostic, NULL);
    a->mod = cg.mod =
        LLVMModuleCreateWithNameInContext(program->name ? program->name : "lathe", cg.ctx);
    cg_module_target(cg.mod, a->tm);
    cg.tm = a->tm;
    cg.force_width = opts.vector_width;
    cg_types_init(&cg);
    st = generate(&cg);
  }
  char *msg = NULL;
  if (!st && LLVMVerifyModule(cg.mod, LLVMReturnStatusAction, &msg)) {
    char *nl = msg ? strchr(msg, '\n') : NULL;
    if (nl) *nl = 0;
    st = lathe_status_make(LATHE_STATUS_INTERNAL, "generated LLVM IR does not verify: %s",
                           msg ? msg : "?");
  }
  LLVMDisposeMessage(msg);
  if (!st) st = cg_optimize(cg.mod, a->tm, opts.opt_level);
  lathe_arena_destroy(&cg.arena);
  if (st) {
    destroy(a);
    return st;
  }
  *out_artifact = a;
  return NULL;
}

static lathe_status_t emit_text(const lathe_codegen_artifact_t *a, lathe_strbuf_t *sb) {
  char *text = LLVMPrintModuleToString(a->mod);
  lathe_strbuf_append(sb, text);
  LLVMDisposeMessage(text);
  return NULL;
}

static lathe_status_t emit_object(const lathe_codegen_artifact_t *a, LLVMCodeGenFileType type,
                                  const char *path) {
  LLVMModuleRef clone = LLVMCloneModule(a->mod);
  char *err = NULL, *p = strdup(path); /* the API takes a non-const path */
  lathe_status_t st = NULL;
  if (!p || LLVMTargetMachineEmitToFile(a->tm, clone, p, type, &err))
    st = lathe_status_make(LATHE_STATUS_IO_ERROR, "cannot write '%s': %s", path,
                           err ? err : "out of memory");
  LLVMDisposeMessage(err);
  free(p);
  LLVMDisposeModule(clone);
  return st;
}

/* cc -shared -o out obj -lm, without a shell. */
static lathe_status_t link_shared(const char *obj, const char *out) {
  const char *cc = getenv("CC");
  if (!cc || !*cc) cc = "cc";
  char *argv[] = {(char *)cc, "-shared", "-o", (char *)out, (char *)obj, "-lm", NULL};
  pid_t pid;
  int rc = posix_spawnp(&pid, cc, NULL, NULL, argv, environ);
  if (rc != 0)
    return lathe_status_make(LATHE_STATUS_IO_ERROR, "cannot run '%s' to link '%s': %s", cc, out,
                             strerror(rc));
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return lathe_status_make(LATHE_STATUS_IO_ERROR, "waiting for '%s': %s", cc, strerror(errno));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return lathe_status_make(LATHE_STATUS_IO_ERROR, "'%s -shared' failed to link '%s'", cc, out);
  return NULL;
}

static lathe_status_t emit_file(const lathe_codegen_artifact_t *a, lathe_codegen_file_t kind,
                                const char *path) {
  switch (kind) {
  case LATHE_CODEGEN_FILE_ASM: return emit_object(a, LLVMAssemblyFile, path);
  case LATHE_CODEGEN_FILE_OBJECT: return emit_object(a, LLVMObjectFile, path);
  case LATHE_CODEGEN_FILE_SHARED: {
    size_t n = strlen(path) + 16;
    char *obj = malloc(n);
    if (!obj) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    snprintf(obj, n, "%s.XXXXXX", path);
    int fd = mkstemp(obj);
    if (fd < 0) {
      lathe_status_t st = lathe_status_make(
          LATHE_STATUS_IO_ERROR, "cannot create a file next to '%s': %s", path, strerror(errno));
      free(obj);
      return st;
    }
    close(fd);
    lathe_status_t st = emit_object(a, LLVMObjectFile, obj);
    if (!st) st = link_shared(obj, path);
    unlink(obj);
    free(obj);
    return st;
  }
  }
  return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "unknown output kind %d", (int)kind);
}

static void jit_destroy(lathe_codegen_jit_t *j) {
  if (!j) return;
  if (j->jit) {
    LLVMErrorRef e = LLVMOrcDisposeLLJIT(j->jit);
    if (e) LLVMConsumeError(e);
  }
  free(j);
}

static lathe_status_t jit(const lathe_codegen_artifact_t *a, lathe_codegen_jit_t **out_jit) {
  lathe_codegen_jit_t *j = calloc(1, sizeof *j);
  if (!j) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  /* The JIT gets its own TargetMachine for the same target (the builder
   * takes ownership of it). */
  lathe_llvm_target_info_t info;
  LLVMTargetMachineRef tm;
  lathe_codegen_options_t opts = a->opts;
  char *cpu = LLVMGetTargetMachineCPU(a->tm), *features = LLVMGetTargetMachineFeatureString(a->tm);
  char target[2200];
  snprintf(target, sizeof target, "%s:%s", cpu, features);
  LLVMDisposeMessage(cpu);
  LLVMDisposeMessage(features);
  opts.target = target;
  lathe_status_t st = cg_target_machine(&opts, &info, &tm);
  if (st) {
    free(j);
    return st;
  }
  LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
  LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(
      builder, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(tm));
  LLVMErrorRef e = LLVMOrcCreateLLJIT(&j->jit, builder);
  if (e) {
    free(j);
    return llvm_error(e, "cannot create the JIT");
  }
  /* libm and the rest of the process resolve the module's external calls */
  LLVMOrcDefinitionGeneratorRef gen;
  e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(
      &gen, LLVMOrcLLJITGetGlobalPrefix(j->jit), NULL, NULL);
  if (e) {
    jit_destroy(j);
    return llvm_error(e, "JIT process symbols");
  }
  LLVMOrcJITDylibRef dylib = LLVMOrcLLJITGetMainJITDylib(j->jit);
  LLVMOrcJITDylibAddGenerator(dylib, gen);
  LLVMOrcThreadSafeModuleRef tsm =
      LLVMOrcCreateNewThreadSafeModule(LLVMCloneModule(a->mod), a->tsctx);
  e = LLVMOrcLLJITAddLLVMIRModule(j->jit, dylib, tsm);
  if (e) {
    LLVMOrcDisposeThreadSafeModule(tsm);
    jit_destroy(j);
    return llvm_error(e, "JIT add module");
  }
  LLVMOrcExecutorAddress addr = 0;
  e = LLVMOrcLLJITLookup(j->jit, &addr, a->symbol);
  if (e) {
    jit_destroy(j);
    return llvm_error(e, "JIT compile");
  }
  j->program = (const lathe_rt_program_t *)(uintptr_t)addr;
  *out_jit = j;
  return NULL;
}

static const lathe_rt_program_t *jit_program(const lathe_codegen_jit_t *j) { return j->program; }

const lathe_backend_t lathe_codegen_llvm_backend = {
    .name = "llvm",
    .summary = "host CPU code through LLVM 14 (JIT, object, shared library, LLVM IR)",
    .compile = compile,
    .emit_text = emit_text,
    .emit_file = emit_file,
    .jit = jit,
    .jit_program = jit_program,
    .jit_destroy = jit_destroy,
    .destroy = destroy,
};
