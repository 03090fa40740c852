/* A growable, NUL-terminated character buffer for printers and diagnostics.
 * Owned by whoever initialised it; lathe_strbuf_release hands the string over.
 * Allocation failure aborts (printers have no partial-output recovery). */
#ifndef LATHE_SUPPORT_STRBUF_H
#define LATHE_SUPPORT_STRBUF_H

#include <stddef.h>

typedef struct lathe_strbuf {
  char *data; /* always NUL-terminated once anything was appended */
  size_t len;
  size_t cap;
} lathe_strbuf_t;

void lathe_strbuf_init(lathe_strbuf_t *sb);
void lathe_strbuf_destroy(lathe_strbuf_t *sb);
void lathe_strbuf_append(lathe_strbuf_t *sb, const char *s);
void lathe_strbuf_append_n(lathe_strbuf_t *sb, const char *s, size_t n);
void lathe_strbuf_putc(lathe_strbuf_t *sb, char c);
void lathe_strbuf_printf(lathe_strbuf_t *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Returns the malloc'd string (never NULL) and resets the buffer. */
char *lathe_strbuf_release(lathe_strbuf_t *sb);
/* Borrowed view; "" when empty. */
const char *lathe_strbuf_cstr(const lathe_strbuf_t *sb);

#endif
