/* Status objects: see status.h. Messages are formatted once, at creation, so a
 * status can be passed around and printed without further allocation. */
#include "support/status.h"

#include <stdlib.h>
#include <string.h>

struct lathe_status {
  lathe_status_code_t code;
  char *location; /* NULL when absent */
  char *message;
};

/* Returned when even the status allocation fails; never freed. */
static struct lathe_status oom_status = {LATHE_STATUS_RESOURCE_EXHAUSTED, NULL,
                                         (char *)"out of memory"};

static char *vformat(const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) return NULL;
  char *buf = malloc((size_t)n + 1);
  if (buf) vsnprintf(buf, (size_t)n + 1, fmt, ap);
  return buf;
}

/* Keeps every message on one line: a newline in user data (a tensor name,
 * an NVRTC log) would break the one-line diagnostic contract. */
static void flatten_newlines(char *s) {
  for (; *s; ++s)
    if (*s == '\n' || *s == '\r') *s = ' ';
}

lathe_status_t lathe_status_makev(lathe_status_code_t code, const char *fmt, va_list ap) {
  struct lathe_status *s = calloc(1, sizeof *s);
  if (!s) return &oom_status;
  s->code = code == LATHE_STATUS_OK ? LATHE_STATUS_INTERNAL : code;
  s->message = vformat(fmt, ap);
  if (!s->message) {
    free(s);
    return &oom_status;
  }
  flatten_newlines(s->message);
  return s;
}

lathe_status_t lathe_status_make(lathe_status_code_t code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lathe_status_t s = lathe_status_makev(code, fmt, ap);
  va_end(ap);
  return s;
}

lathe_status_t lathe_status_make_at(lathe_status_code_t code, const char *location,
                                    const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lathe_status_t s = lathe_status_makev(code, fmt, ap);
  va_end(ap);
  if (s != &oom_status && location) {
    s->location = strdup(location);
    if (s->location) flatten_newlines(s->location);
  }
  return s;
}

lathe_status_t lathe_status_annotate(lathe_status_t status, const char *fmt, ...) {
  if (!status || status == &oom_status) return status;
  va_list ap;
  va_start(ap, fmt);
  char *ctx = vformat(fmt, ap);
  va_end(ap);
  if (!ctx) return status;
  size_t n = strlen(ctx) + 2 + strlen(status->message) + 1;
  char *joined = malloc(n);
  if (joined) {
    snprintf(joined, n, "%s: %s", ctx, status->message);
    flatten_newlines(joined);
    free(status->message);
    status->message = joined;
  }
  free(ctx);
  return status;
}

lathe_status_code_t lathe_status_code(lathe_status_t status) {
  return status ? status->code : LATHE_STATUS_OK;
}

const char *lathe_status_message(lathe_status_t status) {
  return status ? status->message : "ok";
}

const char *lathe_status_location(lathe_status_t status) {
  return status ? status->location : NULL;
}

const char *lathe_status_code_name(lathe_status_code_t code) {
  static const char *const names[LATHE_STATUS_CODE_COUNT] = {
      "ok",        "invalid argument", "parse error",  "verify error",
      "unsupported", "not found",      "out of range", "I/O error",
      "resource exhausted", "internal error",
  };
  return (unsigned)code < LATHE_STATUS_CODE_COUNT ? names[code] : "unknown";
}

void lathe_status_print(FILE *out, const char *tool, lathe_status_t status) {
  if (!status) return;
  if (status->location)
    fprintf(out, "%s: error: %s\n", status->location, status->message);
  else
    fprintf(out, "%s: error: %s\n", tool ? tool : "lathe", status->message);
}

void lathe_status_free(lathe_status_t status) {
  if (!status || status == &oom_status) return;
  free(status->location);
  free(status->message);
  free(status);
}
