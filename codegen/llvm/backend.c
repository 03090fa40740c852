/* The lathe_backend_t table of the LLVM backend (placeholder while the code
 * generators land: every entry reports that it is not ready). */
#include "codegen/llvm/llvm.h"

static lathe_status_t compile(const lathe_kprogram_t *program,
                              const lathe_codegen_options_t *options,
                              lathe_codegen_artifact_t **out_artifact) {
  (void)program, (void)options, (void)out_artifact;
  return lathe_status_make(LATHE_STATUS_UNSUPPORTED, "llvm backend: not implemented yet");
}

const lathe_backend_t lathe_codegen_llvm_backend = {
    .name = "llvm",
    .summary = "host CPU code through LLVM 14 (JIT, object, shared library, LLVM IR)",
    .compile = compile,
};
