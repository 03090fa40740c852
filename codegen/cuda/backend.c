/* The CUDA backend's lathe_backend_t: compile a kernel program to CUDA C,
 * PTX and CUBIN; print the source; write PTX or a shared library; load it
 * on the GPU through runtime/cuda.
 *
 * compile generates the source (source.c), describes the program for the
 * runtime (lathe_codegen_describe, names copied into the artifact so it
 * outlives the kernel program) and, when this build has NVRTC, compiles the
 * source for every target architecture. Without NVRTC the artifact still
 * holds the source, so `--emit=cuda` works; everything that needs machine
 * code fails with LATHE_CUDA_UNAVAILABLE.
 *
 * The artifact is reference-counted: a jit handle keeps the artifact it came
 * from (its descriptor, launch table and images) alive, so the two may be
 * destroyed in any order, as backend.h asks.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/cuda/internal.h"

struct lathe_codegen_artifact {
  atomic_int refs;
  lathe_arena_t arena;
  char *symbol;
  lathe_cuda_source_t *source;
  lathe_cuda_binary_t binaries[LATHE_CUDA_MAX_ARCHS];
  uint32_t num_binaries;
  const lathe_rt_program_t *program; /* in arena */
  lathe_cuda_program_t cuda;         /* tables in arena */
};

struct lathe_codegen_jit {
  lathe_codegen_artifact_t *artifact;
  lathe_rt_cuda_t *rt;
};

static void release(lathe_codegen_artifact_t *a) {
  if (!a || atomic_fetch_sub(&a->refs, 1) != 1) return;
  lathe_cuda_source_destroy(a->source);
  for (uint32_t i = 0; i < a->num_binaries; ++i) lathe_cuda_binary_free(&a->binaries[i]);
  lathe_arena_destroy(&a->arena);
  free(a->symbol);
  free(a);
}

static void destroy(lathe_codegen_artifact_t *a) { release(a); }

/* Copies the descriptor's names into the artifact's arena. */
static void own_names(lathe_codegen_artifact_t *a) {
  lathe_rt_program_t *d = (lathe_rt_program_t *)a->program;
  for (int32_t i = 0; i < d->num_params; ++i)
    ((lathe_rt_param_desc_t *)&d->params[i])->name =
        lathe_arena_strdup(&a->arena, d->params[i].name);
  for (int32_t i = 0; i < d->num_buffers; ++i)
    ((lathe_rt_buffer_desc_t *)&d->buffers[i])->name =
        lathe_arena_strdup(&a->arena, d->buffers[i].name ? d->buffers[i].name : "");
  for (int32_t i = 0; i < d->num_kernels; ++i)
    ((lathe_rt_kernel_desc_t *)&d->kernels[i])->name = a->source->launches[i].kernel;
}

static int32_t not_on_host(const lathe_rt_kernel_args_t *args) {
  (void)args;
  return LATHE_RT_KERNEL_INVALID_VALUE;
}

/* The CUDA table: launches from the source, CUBIN then PTX per architecture. */
static void cuda_table(lathe_codegen_artifact_t *a) {
  lathe_cuda_image_t *images =
      LATHE_ARENA_NEW_ARRAY(&a->arena, lathe_cuda_image_t, 2 * a->num_binaries + 1);
  int32_t n = 0;
  for (uint32_t i = 0; i < a->num_binaries; ++i) {
    const lathe_cuda_binary_t *b = &a->binaries[i];
    images[n++] = (lathe_cuda_image_t){LATHE_CUDA_IMAGE_CUBIN, b->arch, b->cubin_size, b->cubin};
    images[n++] = (lathe_cuda_image_t){LATHE_CUDA_IMAGE_PTX, b->arch, b->ptx_size, b->ptx};
  }
  a->cuda = (lathe_cuda_program_t){.abi_version = LATHE_CUDA_ABI_VERSION,
                                   .num_kernels = (int32_t)a->source->num_kernels,
                                   .num_images = n,
                                   .launches = a->source->launches,
                                   .images = images};
}

static lathe_status_t compile(const lathe_kprogram_t *program,
                              const lathe_codegen_options_t *options,
                              lathe_codegen_artifact_t **out_artifact) {
  lathe_codegen_options_t opts;
  if (options) opts = *options;
  else lathe_codegen_options_init(&opts);
  int32_t archs[LATHE_CUDA_MAX_ARCHS];
  uint32_t num_archs;
  LATHE_RETURN_IF_ERROR(lathe_cuda_parse_target(opts.target, archs, &num_archs));
  lathe_codegen_artifact_t *a = calloc(1, sizeof *a);
  if (!a) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  atomic_init(&a->refs, 1);
  lathe_arena_init(&a->arena);
  a->symbol = strdup(opts.program_symbol ? opts.program_symbol : "lathe_program");
  lathe_status_t st =
      a->symbol ? NULL : lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  if (!st) st = lathe_cuda_generate(program, &opts, &a->source);
  if (!st) st = lathe_codegen_describe(program, &a->arena, not_on_host, &a->program);
  if (!st) own_names(a);
  for (uint32_t i = 0; !st && lathe_cuda_have_nvrtc() && i < num_archs; ++i) {
    st = lathe_cuda_nvrtc_compile(a->source, archs[i], &a->binaries[i]);
    if (!st) a->num_binaries++;
  }
  if (st) {
    release(a);
    return st;
  }
  cuda_table(a);
  *out_artifact = a;
  return NULL;
}

static lathe_status_t need_binaries(const lathe_codegen_artifact_t *a) {
  if (a->num_binaries) return NULL;
  return lathe_status_make(LATHE_STATUS_UNSUPPORTED, "%s", LATHE_CUDA_UNAVAILABLE);
}

static lathe_status_t emit_text(const lathe_codegen_artifact_t *a, lathe_strbuf_t *sb) {
  lathe_strbuf_append(sb, a->source->text);
  return NULL;
}

static lathe_status_t emit_file(const lathe_codegen_artifact_t *a, lathe_codegen_file_t kind,
                                const char *path) {
  LATHE_RETURN_IF_ERROR(need_binaries(a));
  switch (kind) {
  case LATHE_CODEGEN_FILE_ASM: return cu_write_ptx(&a->binaries[0], path);
  case LATHE_CODEGEN_FILE_SHARED: return cu_write_shared(a->program, &a->cuda, a->symbol, path);
  case LATHE_CODEGEN_FILE_OBJECT:
    return lathe_status_make(LATHE_STATUS_UNSUPPORTED,
                             "the cuda target writes PTX (--emit=ptx) or a shared library "
                             "(--emit=so), not objects");
  }
  return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "unknown output kind %d", (int)kind);
}

static void jit_destroy(lathe_codegen_jit_t *j) {
  if (!j) return;
  lathe_rt_cuda_destroy(j->rt);
  release(j->artifact);
  free(j);
}

static lathe_status_t jit(const lathe_codegen_artifact_t *a, lathe_codegen_jit_t **out_jit) {
  LATHE_RETURN_IF_ERROR(need_binaries(a));
  lathe_codegen_jit_t *j = calloc(1, sizeof *j);
  if (!j) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  j->artifact = (lathe_codegen_artifact_t *)a;
  atomic_fetch_add(&j->artifact->refs, 1);
  lathe_status_t st = lathe_rt_cuda_create(a->program, &a->cuda, &j->rt);
  if (st) {
    jit_destroy(j);
    return st;
  }
  *out_jit = j;
  return NULL;
}

static const lathe_rt_program_t *jit_program(const lathe_codegen_jit_t *j) {
  return j->artifact->program;
}

static lathe_status_t jit_run(const lathe_codegen_jit_t *j, const lathe_rt_weights_t *weights,
                              const lathe_rt_tensor_t *inputs, int32_t num_inputs,
                              lathe_rt_tensor_t *outputs, int32_t num_outputs) {
  return lathe_rt_cuda_run(j->rt, weights, inputs, num_inputs, outputs, num_outputs);
}

const lathe_backend_t lathe_codegen_cuda_backend = {
    .name = "cuda",
    .summary = "NVIDIA GPUs: CUDA C through NVRTC (PTX, CUBIN for sm_80/sm_90), run by the CUDA "
               "driver",
    .compile = compile,
    .emit_text = emit_text,
    .emit_file = emit_file,
    .jit = jit,
    .jit_program = jit_program,
    .jit_destroy = jit_destroy,
    .destroy = destroy,
    .jit_run = jit_run,
};
