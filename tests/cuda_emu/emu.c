/* The emulator's launch: a grid of blocks, each block's threads as fibers.
 *
 * Blocks run one after another, so static storage (the image's __shared__
 * section) belongs to the block in flight; it is filled with a poison byte
 * before each block. The threads of a block are ucontext fibers on the
 * calling OS thread. The scheduler runs in rounds: every runnable fiber runs,
 * in the launch's order, until it finishes, reaches __syncthreads, or
 * reaches a warp collective (a shuffle, a WMMA call). Between rounds:
 *
 *   - a warp whose 32 lanes all wait at a collective is released (shuffle
 *     results are computed from the values every lane posted);
 *   - a warp with some lanes at a collective and others at a barrier or
 *     finished can never meet: an error;
 *   - when nothing else can move, every thread must be at __syncthreads
 *     (all released) or finished (the block is done); a mix is an error.
 *
 * One fiber at a time and a deterministic order make a run reproducible;
 * the reverse and random orders make missing barriers show: a thread reads
 * shared memory that the threads scheduled after it have not written yet.
 *
 * Under AddressSanitizer the stack switches are announced with the
 * sanitizer's fiber API (ASan still prints one warning about swapcontext).
 */
/* MAP_ANONYMOUS, MAP_NORESERVE, sigaltstack: beyond plain POSIX. */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "support/half.h"
#include "tests/cuda_emu/emu.h"
#include "tests/cuda_emu/emu_abi.h"

#if defined(__SANITIZE_ADDRESS__)
#define EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EMU_ASAN 1
#endif
#endif
#ifdef EMU_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

#define STACK_BYTES (128u * 1024u)
#define MAX_THREADS 1024u
#define MAX_BLOCKS (1u << 24)

typedef enum { F_READY, F_BARRIER, F_WARP, F_DONE } fstate_t;

typedef struct fiber {
  ucontext_t ctx;
  unsigned char *stack;
  fstate_t state;
  lathe_emu_uint3_t tid;
  /* the collective it waits at */
  uint64_t value, result;
  int kind, arg;
  unsigned int mask;
  void *fake_stack; /* ASan's, while switched away */
} fiber_t;

typedef struct sched {
  lathe_emu_device_t *dev;
  lathe_emu_kernel_t kernel;
  void *const *buffers;
  const long long *params;
  const char *name;
  uint32_t n; /* threads per block */
  fiber_t *fibers;
  fiber_t *current;
  unsigned char *stacks;
  size_t stacks_bytes;
  ucontext_t main;
  void *main_fake_stack;
  const void *main_stack_bottom;
  size_t main_stack_size;
  uint64_t rng;
  lathe_emu_stats_t stats;
  char error[512]; /* the first failure; "" while none */
} sched_t;

/* The launch in flight on this OS thread (fiber entry points take no
 * arguments, and the fault handler wants to know where we are). */
static _Thread_local sched_t *running;

static void fail(sched_t *s, const char *fmt, const char *detail) {
  if (s->error[0]) return;
  char where[160];
  lathe_emu_describe_current(where, sizeof where);
  snprintf(s->error, sizeof s->error, "%s: %s%s", where, fmt, detail ? detail : "");
}

void lathe_emu_describe_current(char *buf, size_t size) {
  sched_t *s = running;
  if (!s) {
    snprintf(buf, size, "%s", "");
    return;
  }
  const lathe_emu_uint3_t b = s->dev->block_idx, t = s->current ? s->current->tid : s->dev->thread_idx;
  snprintf(buf, size, "kernel '%s': block (%u,%u,%u) thread (%u,%u,%u)", s->name, b.x, b.y, b.z,
           t.x, t.y, t.z);
}

/* ---- switching ---------------------------------------------------------------- */

static void to_fiber(sched_t *s, fiber_t *f) {
  s->current = f;
  s->dev->thread_idx = f->tid;
#ifdef EMU_ASAN
  __sanitizer_start_switch_fiber(&s->main_fake_stack, f->stack, STACK_BYTES);
#endif
  swapcontext(&s->main, &f->ctx);
#ifdef EMU_ASAN
  __sanitizer_finish_switch_fiber(s->main_fake_stack, NULL, NULL);
#endif
  s->current = NULL;
}

/* Parks the running fiber in `state` until the scheduler resumes it. */
static void park(sched_t *s, fstate_t state) {
  fiber_t *f = s->current;
  f->state = state;
#ifdef EMU_ASAN
  __sanitizer_start_switch_fiber(state == F_DONE ? NULL : &f->fake_stack, s->main_stack_bottom,
                                 s->main_stack_size);
#endif
  swapcontext(&f->ctx, &s->main);
#ifdef EMU_ASAN
  __sanitizer_finish_switch_fiber(f->fake_stack, NULL, NULL);
#endif
  /* resumed: to_fiber restored this thread's builtins */
}

static void fiber_main(void) {
  sched_t *s = running;
#ifdef EMU_ASAN
  __sanitizer_finish_switch_fiber(NULL, &s->main_stack_bottom, &s->main_stack_size);
#endif
  s->kernel(s->buffers, s->params);
  park(s, F_DONE); /* never resumed */
}

/* ---- hooks the image calls ------------------------------------------------------ */

static void hook_syncthreads(void *emu) {
  sched_t *s = emu;
  s->stats.barriers += s->current->tid.x == 0 && s->current->tid.y == 0 && s->current->tid.z == 0;
  park(s, F_BARRIER);
}

static uint64_t hook_shfl(void *emu, uint64_t bits, int kind, int arg, unsigned int mask) {
  sched_t *s = emu;
  fiber_t *f = s->current;
  if (mask != 0xffffffffu) fail(s, "a shuffle with a partial mask (outside the CUDA subset)", NULL);
  f->value = bits, f->kind = kind, f->arg = arg, f->mask = mask;
  park(s, F_WARP);
  return f->result;
}

static void hook_fail(void *emu, const char *message) { fail(emu, message, NULL); }

void lathe_emu_bind_device(struct lathe_emu_device *device) {
  device->syncthreads = hook_syncthreads;
  device->shfl = hook_shfl;
  device->fail = hook_fail;
  device->f32_to_f16 = lathe_f32_to_f16;
  device->f16_to_f32 = lathe_f16_to_f32;
  device->f32_to_bf16 = lathe_f32_to_bf16;
  device->bf16_to_f32 = lathe_bf16_to_f32;
}

/* ---- scheduling ------------------------------------------------------------------- */

static uint64_t next_random(sched_t *s) { /* xorshift64* */
  s->rng ^= s->rng >> 12, s->rng ^= s->rng << 25, s->rng ^= s->rng >> 27;
  return s->rng * 2685821657736338717ull;
}

static void order_indices(sched_t *s, lathe_emu_order_t order, uint32_t *idx, uint32_t n) {
  if (order == LATHE_EMU_ORDER_REVERSE)
    for (uint32_t i = 0; i < n / 2; ++i) {
      uint32_t t = idx[i];
      idx[i] = idx[n - 1 - i], idx[n - 1 - i] = t;
    }
  else if (order == LATHE_EMU_ORDER_RANDOM)
    for (uint32_t i = n; i > 1; --i) {
      uint32_t j = (uint32_t)(next_random(s) % i), t = idx[i - 1];
      idx[i - 1] = idx[j], idx[j] = t;
    }
}

/* Releases every warp whose lanes all wait at a collective; false after
 * recording an error for a warp that can never meet. */
static bool resolve_warps(sched_t *s, bool *out_released) {
  *out_released = false;
  for (uint32_t w = 0; w < s->n / 32; ++w) {
    fiber_t *lane = &s->fibers[w * 32];
    uint32_t waiting = 0;
    for (uint32_t l = 0; l < 32; ++l) waiting += lane[l].state == F_WARP;
    if (waiting == 0) continue;
    if (waiting < 32) {
      s->current = &lane[0];
      char detail[96];
      snprintf(detail, sizeof detail, " (warp %u: %u of 32 lanes there, the rest at a barrier or exited)",
               w, waiting);
      fail(s, "divergent warp collective", detail);
      return false;
    }
    for (uint32_t l = 0; l < 32; ++l) {
      int src = (int)l, arg = lane[l].arg;
      switch (lane[l].kind) {
      case LATHE_EMU_SHFL_IDX: src = arg & 31; break;
      case LATHE_EMU_SHFL_DOWN: src = (int)l + arg < 32 ? (int)l + arg : (int)l; break;
      case LATHE_EMU_SHFL_UP: src = (int)l - arg >= 0 ? (int)l - arg : (int)l; break;
      case LATHE_EMU_SHFL_XOR: src = ((int)l ^ arg) & 31; break;
      default: break;
      }
      lane[l].result = lane[src].value;
    }
    for (uint32_t l = 0; l < 32; ++l) lane[l].state = F_READY;
    s->stats.shuffles++;
    *out_released = true;
  }
  return true;
}

/* Runs one block to completion; false after recording an error. */
static bool run_block(sched_t *s, const lathe_emu_launch_opts_t *o, uint32_t *order) {
  for (uint32_t i = 0; i < s->n; ++i) {
    fiber_t *f = &s->fibers[i];
    getcontext(&f->ctx);
    f->ctx.uc_stack.ss_sp = f->stack;
    f->ctx.uc_stack.ss_size = STACK_BYTES;
    f->ctx.uc_link = NULL;
    makecontext(&f->ctx, fiber_main, 0);
    f->state = F_READY;
  }
  for (;;) {
    uint32_t m = 0;
    for (uint32_t i = 0; i < s->n; ++i)
      if (s->fibers[i].state == F_READY) order[m++] = i;
    order_indices(s, o->order, order, m);
    for (uint32_t j = 0; j < m; ++j) to_fiber(s, &s->fibers[order[j]]);
    if (s->error[0]) return false;
    bool released;
    if (!resolve_warps(s, &released)) return false;
    if (released) continue;
    uint32_t done = 0, barrier = 0;
    for (uint32_t i = 0; i < s->n; ++i)
      done += s->fibers[i].state == F_DONE, barrier += s->fibers[i].state == F_BARRIER;
    if (done == s->n) return true;
    if (barrier == s->n) {
      for (uint32_t i = 0; i < s->n; ++i) s->fibers[i].state = F_READY;
      continue;
    }
    char detail[96];
    snprintf(detail, sizeof detail, " (%u threads waiting, %u exited)", barrier, done);
    s->current = NULL;
    fail(s, "__syncthreads not reached by every thread of the block", detail);
    return false;
  }
}

static lathe_status_t check_launch(const uint32_t grid[3], const uint32_t block[3],
                                   uint64_t *out_blocks) {
  uint64_t threads = (uint64_t)block[0] * block[1] * block[2];
  uint64_t blocks = (uint64_t)grid[0] * grid[1] * grid[2];
  if (threads == 0 || threads > MAX_THREADS || threads % 32)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                             "emulated launch: a block of %llu threads (need 32..1024, a multiple of 32)",
                             (unsigned long long)threads);
  if (blocks == 0 || grid[1] > 65535 || grid[2] > 65535)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "emulated launch: grid (%u,%u,%u)",
                             grid[0], grid[1], grid[2]);
  if (blocks > MAX_BLOCKS)
    return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED,
                             "emulated launch: %llu blocks is more than the emulator runs",
                             (unsigned long long)blocks);
  *out_blocks = blocks;
  return NULL;
}

/* Fiber stacks, each above an inaccessible guard page. */
static bool alloc_stacks(sched_t *s) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE), each = STACK_BYTES + page;
  s->stacks_bytes = each * s->n;
  void *mem = mmap(NULL, s->stacks_bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) return false;
  s->stacks = mem;
  for (uint32_t i = 0; i < s->n; ++i) {
    mprotect(s->stacks + i * each, page, PROT_NONE);
    s->fibers[i].stack = s->stacks + i * each + page;
  }
  return true;
}

lathe_status_t lathe_emu_launch(lathe_emu_image_t *image, lathe_emu_kernel_t kernel,
                                const uint32_t grid[3], const uint32_t block[3],
                                void *const *buffers, const long long *params,
                                const lathe_emu_launch_opts_t *opts, lathe_emu_stats_t *out_stats) {
  lathe_emu_launch_opts_t o = {.order = LATHE_EMU_ORDER_FORWARD, .poison = 0xff};
  if (opts) o = *opts;
  uint64_t num_blocks = 0;
  LATHE_RETURN_IF_ERROR(check_launch(grid, block, &num_blocks));
  if (running)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "emulated launch from device code");
  sched_t s = {.dev = lathe_emu_image_device(image), .kernel = kernel, .buffers = buffers,
               .params = params, .name = o.name ? o.name : "kernel",
               .n = block[0] * block[1] * block[2], .rng = o.seed * 2 + 0x9e3779b97f4a7c15ull};
  s.fibers = calloc(s.n, sizeof *s.fibers);
  uint32_t *order = calloc(s.n, sizeof *order);
  uint32_t *blocks = calloc(o.order == LATHE_EMU_ORDER_RANDOM ? num_blocks : 1, sizeof *blocks);
  if (!s.fibers || !order || !blocks || !alloc_stacks(&s)) {
    free(s.fibers), free(order), free(blocks);
    return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "emulated launch: out of memory");
  }
  for (uint32_t i = 0; i < s.n; ++i)
    s.fibers[i].tid = (lathe_emu_uint3_t){i % block[0], i / block[0] % block[1],
                                          i / (block[0] * block[1])};
  if (o.order == LATHE_EMU_ORDER_RANDOM) {
    for (uint64_t b = 0; b < num_blocks; ++b) blocks[b] = (uint32_t)b;
    order_indices(&s, o.order, blocks, (uint32_t)num_blocks);
  }
  s.dev->block_dim = (lathe_emu_uint3_t){block[0], block[1], block[2]};
  s.dev->grid_dim = (lathe_emu_uint3_t){grid[0], grid[1], grid[2]};
  s.dev->emu = &s;
  size_t shared = (size_t)(s.dev->shared_end - s.dev->shared_begin);
  running = &s;
  lathe_emu_faults_begin();
  for (uint64_t i = 0; i < num_blocks; ++i) {
    uint64_t b = o.order == LATHE_EMU_ORDER_RANDOM    ? blocks[i]
                 : o.order == LATHE_EMU_ORDER_REVERSE ? num_blocks - 1 - i
                                                      : i;
    s.dev->block_idx = (lathe_emu_uint3_t){(uint32_t)(b % grid[0]), (uint32_t)(b / grid[0] % grid[1]),
                                           (uint32_t)(b / ((uint64_t)grid[0] * grid[1]))};
    if (shared) memset(s.dev->shared_begin, o.poison, shared);
    s.stats.blocks++;
    if (!run_block(&s, &o, order)) break;
  }
  lathe_emu_faults_end();
  running = NULL;
  s.dev->emu = NULL;
  munmap(s.stacks, s.stacks_bytes);
  free(s.fibers), free(order), free(blocks);
  if (out_stats) *out_stats = s.stats;
  if (s.error[0]) return lathe_status_make(LATHE_STATUS_INTERNAL, "%s", s.error);
  return NULL;
}
