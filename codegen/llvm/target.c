/* Targets: from the `target` option to an LLVM TargetMachine, and the
 * optimisation pipeline that runs with it.
 *
 * "host" asks LLVM for the CPU name and the features the CPU reports
 * (LLVMGetHostCPUName/LLVMGetHostCPUFeatures). The feature list matters more
 * than the name: LLVM 14 calls a Zen 4 "znver3" yet lists avx512* in its
 * features, and those features are what the code generator uses. An explicit
 * target is "CPU" or "CPU:FEATURES" (an LLVM feature string).
 *
 * What the code generators need to know about the target (vector register
 * width, register count, FMA) is measured, not parsed out of names: a tiny
 * probe function is compiled to assembly and inspected for zmm/ymm registers
 * and fused multiply-adds. That works the same for "host", for a bare CPU name
 * whose features LLVM derives itself, and for an explicit feature string.
 *
 * The pass pipeline is LLVM's default<O0..3> through the new pass manager, and
 * the TargetMachine must be passed to it: without the target's cost model the
 * loop vectorizer does nothing (dependency-probes §1). Objects for shared
 * libraries need position-independent code, so every TargetMachine is RelocPIC.
 *
 * For looking into the backend, LATHE_LLVM_ARGS (e.g. "-time-passes") is
 * handed to LLVM's command-line parser once per process, before the first
 * compile: pass timings, remarks, debug switches.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Support.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "codegen/llvm/internal.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void llvm_args(void) {
  const char *env = getenv("LATHE_LLVM_ARGS");
  if (!env || !*env) return;
  static char buf[1024];
  const char *argv[32] = {"lathe"};
  int argc = 1;
  snprintf(buf, sizeof buf, "%s", env);
  for (char *save = NULL, *t = strtok_r(buf, " ", &save); t && argc < 32;
       t = strtok_r(NULL, " ", &save))
    argv[argc++] = t;
  LLVMParseCommandLineOptions(argc, argv, "lathe: LLVM options from LATHE_LLVM_ARGS");
}

static void init_llvm(void) {
  LLVMInitializeNativeTarget();
  LLVMInitializeNativeAsmPrinter();
  LLVMInitializeNativeAsmParser();
  llvm_args();
}

static bool valid_cpu_name(const char *s, size_t n) {
  if (n == 0 || n >= 64) return false;
  for (size_t i = 0; i < n; ++i) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_' || c == '.'))
      return false;
  }
  return true;
}

/* Compiles a probe that uses the widest vectors LLVM might have and a vector
 * FMA, and reads the assembly for the registers and instructions chosen. */
static lathe_status_t probe(LLVMTargetMachineRef tm, lathe_llvm_target_info_t *info) {
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMModuleRef mod = LLVMModuleCreateWithNameInContext("probe", ctx);
  cg_module_target(mod, tm);
  LLVMTypeRef v16 = LLVMVectorType(LLVMFloatTypeInContext(ctx), 16);
  LLVMTypeRef params[3] = {v16, v16, v16};
  LLVMValueRef fn = LLVMAddFunction(mod, "probe", LLVMFunctionType(v16, params, 3, 0));
  LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
  LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(ctx, fn, "entry"));
  unsigned id = LLVMLookupIntrinsicID("llvm.fma", 8);
  LLVMValueRef fma = LLVMGetIntrinsicDeclaration(mod, id, &v16, 1);
  LLVMValueRef args[3] = {LLVMGetParam(fn, 0), LLVMGetParam(fn, 1), LLVMGetParam(fn, 2)};
  LLVMBuildRet(b, LLVMBuildCall2(b, LLVMFunctionType(v16, params, 3, 0), fma, args, 3, ""));
  /* float h2f(half): a library call here means no f16 conversion instructions. */
  LLVMTypeRef half = LLVMHalfTypeInContext(ctx), f32 = LLVMFloatTypeInContext(ctx);
  LLVMValueRef h2f = LLVMAddFunction(mod, "h2f", LLVMFunctionType(f32, &half, 1, 0));
  LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(ctx, h2f, "entry"));
  LLVMBuildRet(b, LLVMBuildFPExt(b, LLVMGetParam(h2f, 0), f32, ""));
  LLVMDisposeBuilder(b);
  LLVMMemoryBufferRef asm_buf = NULL;
  char *err = NULL;
  lathe_status_t st = NULL;
  if (LLVMTargetMachineEmitToMemoryBuffer(tm, mod, LLVMAssemblyFile, &err, &asm_buf)) {
    st = lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "target '%s': cannot generate code: %s",
                           info->cpu, err ? err : "unknown error");
  } else {
    size_t n = LLVMGetBufferSize(asm_buf);
    char *text = malloc(n + 1);
    if (!text) abort();
    memcpy(text, LLVMGetBufferStart(asm_buf), n);
    text[n] = 0;
    bool is_x86 = strncmp(info->triple, "x86_64", 6) == 0 || strncmp(info->triple, "i686", 4) == 0;
    info->vector_bits = strstr(text, "zmm") ? 512 : strstr(text, "ymm") ? 256 : 128;
    info->num_vector_regs = info->vector_bits == 512 || !is_x86 ? 32 : 16;
    info->has_fma = strstr(text, "vfmadd") || strstr(text, "fmla") || strstr(text, "xvmadd");
    info->has_f16 = !strstr(text, "h2f_ieee") && !strstr(text, "extendhfsf2");
    free(text);
    LLVMDisposeMemoryBuffer(asm_buf);
  }
  LLVMDisposeMessage(err);
  LLVMDisposeModule(mod);
  LLVMContextDispose(ctx);
  return st;
}

static lathe_status_t resolve(const char *target, lathe_llvm_target_info_t *info) {
  memset(info, 0, sizeof *info);
  char *triple = LLVMGetDefaultTargetTriple();
  char *norm = LLVMNormalizeTargetTriple(triple);
  snprintf(info->triple, sizeof info->triple, "%s", norm);
  LLVMDisposeMessage(triple);
  LLVMDisposeMessage(norm);
  if (!target || strcmp(target, "host") == 0 || !*target) {
    char *cpu = LLVMGetHostCPUName(), *features = LLVMGetHostCPUFeatures();
    snprintf(info->cpu, sizeof info->cpu, "%s", cpu);
    int n = snprintf(info->features, sizeof info->features, "%s", features);
    LLVMDisposeMessage(cpu);
    LLVMDisposeMessage(features);
    if (n < 0 || (size_t)n >= sizeof info->features)
      return lathe_status_make(LATHE_STATUS_INTERNAL, "host feature string is too long");
    return NULL;
  }
  const char *colon = strchr(target, ':');
  size_t cpu_len = colon ? (size_t)(colon - target) : strlen(target);
  if (!valid_cpu_name(target, cpu_len))
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                             "target '%s': expected 'host', 'CPU' or 'CPU:FEATURES'", target);
  memcpy(info->cpu, target, cpu_len);
  const char *features = colon ? colon + 1 : "";
  if (strlen(features) >= sizeof info->features)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "target '%s': feature string too long",
                             target);
  for (const char *c = features; *c; ++c)
    if (!(*c == '+' || *c == '-' || *c == ',' || *c == '.' || *c == '_' ||
          (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')))
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                               "target '%s': bad character '%c' in the feature string", target, *c);
  snprintf(info->features, sizeof info->features, "%s", features);
  return NULL;
}

static LLVMCodeGenOptLevel opt_level_of(uint32_t level) {
  static const LLVMCodeGenOptLevel levels[] = {LLVMCodeGenLevelNone, LLVMCodeGenLevelLess,
                                               LLVMCodeGenLevelDefault, LLVMCodeGenLevelAggressive};
  return levels[level > 3 ? 3 : level];
}

lathe_status_t cg_target_machine(const lathe_codegen_options_t *opts,
                                 lathe_llvm_target_info_t *out_info, LLVMTargetMachineRef *out_tm) {
  pthread_once(&init_once, init_llvm);
  if (opts->opt_level > 3)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "opt level %u is not in 0..3",
                             opts->opt_level);
  lathe_llvm_target_info_t info;
  LATHE_RETURN_IF_ERROR(resolve(opts->target, &info));
  LLVMTargetRef target;
  char *err = NULL;
  if (LLVMGetTargetFromTriple(info.triple, &target, &err)) {
    lathe_status_t st = lathe_status_make(LATHE_STATUS_UNSUPPORTED, "no LLVM target for '%s': %s",
                                          info.triple, err ? err : "unknown");
    LLVMDisposeMessage(err);
    return st;
  }
  LLVMTargetMachineRef tm =
      LLVMCreateTargetMachine(target, info.triple, info.cpu, info.features,
                              opt_level_of(opts->opt_level), LLVMRelocPIC, LLVMCodeModelDefault);
  if (!tm)
    return lathe_status_make(LATHE_STATUS_UNSUPPORTED, "LLVM cannot make a target machine for '%s'",
                             info.cpu);
  lathe_status_t st = probe(tm, &info);
  if (st) {
    LLVMDisposeTargetMachine(tm);
    return st;
  }
  *out_info = info;
  *out_tm = tm;
  return NULL;
}

lathe_status_t lathe_llvm_target_resolve(const char *target, lathe_llvm_target_info_t *out_info) {
  lathe_codegen_options_t opts;
  lathe_codegen_options_init(&opts);
  opts.target = target;
  LLVMTargetMachineRef tm;
  LATHE_RETURN_IF_ERROR(cg_target_machine(&opts, out_info, &tm));
  LLVMDisposeTargetMachine(tm);
  return NULL;
}

void cg_module_target(LLVMModuleRef mod, LLVMTargetMachineRef tm) {
  char *triple = LLVMGetTargetMachineTriple(tm);
  LLVMSetTarget(mod, triple);
  LLVMDisposeMessage(triple);
  LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
  char *layout = LLVMCopyStringRepOfTargetData(td);
  LLVMSetDataLayout(mod, layout);
  LLVMDisposeMessage(layout);
  LLVMDisposeTargetData(td);
}

lathe_status_t cg_optimize(LLVMModuleRef mod, LLVMTargetMachineRef tm, uint32_t opt_level) {
  char pipeline[32];
  snprintf(pipeline, sizeof pipeline, "default<O%u>", opt_level > 3 ? 3 : opt_level);
  LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
  bool vec = opt_level >= 2;
  LLVMPassBuilderOptionsSetLoopVectorization(po, vec);
  LLVMPassBuilderOptionsSetSLPVectorization(po, vec);
  LLVMPassBuilderOptionsSetLoopInterleaving(po, vec);
  LLVMPassBuilderOptionsSetLoopUnrolling(po, opt_level >= 2);
  LLVMPassBuilderOptionsSetVerifyEach(po, 0);
  LLVMErrorRef e = LLVMRunPasses(mod, pipeline, tm, po);
  LLVMDisposePassBuilderOptions(po);
  if (!e) return NULL;
  char *msg = LLVMGetErrorMessage(e);
  lathe_status_t st = lathe_status_make(LATHE_STATUS_INTERNAL, "LLVM passes: %s", msg);
  LLVMDisposeErrorMessage(msg);
  return st;
}
