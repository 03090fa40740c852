#include "codegen/llvm/internal.h"
LLVMValueRef cg_gemm_kernel(cg_t *cg, const lathe_kernel_t *k, const char *symbol) {
  (void)k, (void)symbol;
  return cg_fail(cg, LATHE_STATUS_UNSUPPORTED, "gemm: not yet");
}
