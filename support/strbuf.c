/* Growable string: see strbuf.h. */
#include "support/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lathe_strbuf_init(lathe_strbuf_t *sb) { memset(sb, 0, sizeof *sb); }

void lathe_strbuf_destroy(lathe_strbuf_t *sb) {
  free(sb->data);
  lathe_strbuf_init(sb);
}

static void reserve(lathe_strbuf_t *sb, size_t extra) {
  if (sb->len + extra + 1 <= sb->cap) return;
  size_t cap = sb->cap ? sb->cap : 64;
  while (cap < sb->len + extra + 1) cap *= 2;
  char *p = realloc(sb->data, cap);
  if (!p) {
    fprintf(stderr, "lathe: fatal: out of memory growing a string to %zu bytes\n", cap);
    abort();
  }
  sb->data = p;
  sb->cap = cap;
}

void lathe_strbuf_append_n(lathe_strbuf_t *sb, const char *s, size_t n) {
  reserve(sb, n);
  memcpy(sb->data + sb->len, s, n);
  sb->len += n;
  sb->data[sb->len] = '\0';
}

void lathe_strbuf_append(lathe_strbuf_t *sb, const char *s) {
  lathe_strbuf_append_n(sb, s, strlen(s));
}

void lathe_strbuf_putc(lathe_strbuf_t *sb, char c) { lathe_strbuf_append_n(sb, &c, 1); }

void lathe_strbuf_printf(lathe_strbuf_t *sb, const char *fmt, ...) {
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n > 0) {
    reserve(sb, (size_t)n);
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap2);
    sb->len += (size_t)n;
  }
  va_end(ap2);
}

char *lathe_strbuf_release(lathe_strbuf_t *sb) {
  char *s = sb->data;
  if (!s) {
    s = malloc(1);
    if (!s) abort();
    s[0] = '\0';
  }
  lathe_strbuf_init(sb);
  return s;
}

const char *lathe_strbuf_cstr(const lathe_strbuf_t *sb) { return sb->data ? sb->data : ""; }
