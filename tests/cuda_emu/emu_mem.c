/* The emulator's "device memory": every buffer in its own pages, ending
 * right before an inaccessible page, so a kernel that indexes one element
 * past a buffer faults at once instead of reading a neighbour's data. A
 * SIGSEGV/SIGBUS handler, installed for the length of each launch (on an
 * alternate stack: a fiber that overflows its stack faults too), names the
 * buffer the address belongs to or sits just past, and the CUDA thread that
 * was running, then hands the fault to whatever handler was there before
 * (the default kills the process; cmocka's fails the test).
 *
 * The registry of buffers is a fixed table guarded by a mutex; the handler
 * only reads it.
 */
/* MAP_ANONYMOUS, MAP_NORESERVE, sigaltstack: beyond plain POSIX. */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/cuda_emu/emu.h"

#define MAX_ALLOCS 4096

typedef struct alloc {
  unsigned char *map; /* NULL: free slot */
  size_t map_bytes;
  unsigned char *p;
  size_t bytes;
  bool read_only;
  char name[64];
} alloc_t;

static alloc_t allocs[MAX_ALLOCS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* The handlers a launch displaced (a test framework's, say), put back when
 * the launch ends or a fault has been reported. */
static struct sigaction saved_segv, saved_bus;

static void on_fault(int sig, siginfo_t *info, void *uctx) {
  (void)uctx;
  unsigned char *addr = info->si_addr;
  char what[160] = "not in any emulated buffer (a wild pointer, or a fiber's stack overflow)";
  for (size_t i = 0; i < MAX_ALLOCS; ++i) {
    const alloc_t *a = &allocs[i];
    if (!a->map || addr < a->map || addr >= a->map + a->map_bytes) continue;
    if (addr >= a->p + a->bytes)
      snprintf(what, sizeof what, "%zu bytes past the end of buffer '%s' (%zu bytes)",
               (size_t)(addr - (a->p + a->bytes)), a->name, a->bytes);
    else
      snprintf(what, sizeof what, "inside %sbuffer '%s'", a->read_only ? "read-only " : "",
               a->name);
    break;
  }
  char where[192], line[512];
  lathe_emu_describe_current(where, sizeof where);
  int n = snprintf(line, sizeof line, "lathe-emu: %s at %p: %s%s%s\n",
                   sig == SIGBUS ? "bus error" : "invalid memory access", (void *)addr, what,
                   where[0] ? "; " : "", where);
  if (n > 0) {
    ssize_t unused = write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    (void)unused;
  }
  /* Returning re-runs the faulting access under the displaced handler. */
  lathe_emu_faults_end();
}

void lathe_emu_faults_begin(void) {
  static _Thread_local unsigned char altstack[64 * 1024];
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
  sigaltstack(&ss, NULL);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &saved_segv);
  sigaction(SIGBUS, &sa, &saved_bus);
}

void lathe_emu_faults_end(void) {
  sigaction(SIGSEGV, &saved_segv, NULL);
  sigaction(SIGBUS, &saved_bus, NULL);
}

void *lathe_emu_alloc(size_t bytes, size_t align, unsigned char fill, const char *name) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  if (align == 0 || align > 16 || (align & (align - 1))) align = 16;
  size_t data = (bytes + align - 1 + page - 1) / page * page;
  unsigned char *map =
      mmap(NULL, data + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) return NULL;
  mprotect(map + data, page, PROT_NONE);
  unsigned char *p = (unsigned char *)((uintptr_t)(map + data - bytes) & ~(uintptr_t)(align - 1));
  memset(p, fill, bytes);
  pthread_mutex_lock(&lock);
  size_t slot = 0;
  while (slot < MAX_ALLOCS && allocs[slot].map) ++slot;
  if (slot < MAX_ALLOCS) {
    alloc_t *a = &allocs[slot];
    a->map_bytes = data + page, a->p = p, a->bytes = bytes, a->read_only = false;
    snprintf(a->name, sizeof a->name, "%s", name ? name : "?");
    a->map = map; /* last: the handler reads slots without the lock */
  }
  pthread_mutex_unlock(&lock);
  return p;
}

void lathe_emu_protect(void *ptr) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  pthread_mutex_lock(&lock);
  for (size_t i = 0; i < MAX_ALLOCS; ++i) {
    alloc_t *a = &allocs[i];
    if (a->map && a->p == ptr) {
      mprotect(a->map, a->map_bytes - page, PROT_READ);
      a->read_only = true;
      break;
    }
  }
  pthread_mutex_unlock(&lock);
}

void lathe_emu_free(void *ptr) {
  if (!ptr) return;
  pthread_mutex_lock(&lock);
  for (size_t i = 0; i < MAX_ALLOCS; ++i) {
    alloc_t *a = &allocs[i];
    if (a->map && a->p == ptr) {
      unsigned char *map = a->map;
      size_t bytes = a->map_bytes;
      a->map = NULL;
      munmap(map, bytes);
      break;
    }
  }
  pthread_mutex_unlock(&lock);
}
