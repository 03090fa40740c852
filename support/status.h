/* Errors as values.
 *
 * A lathe_status_t is NULL on success, or an owned pointer describing a
 * failure: a code, a one-line message and an optional source location
 * ("file:line:col" for text IR, a file name for binary inputs). Callers either
 * return it upward (optionally annotated with more context) or consume it with
 * lathe_status_free. Bad input is always reported this way, never by assert.
 *
 * Thread safety: statuses are plain heap objects with no shared state.
 */
#ifndef LATHE_SUPPORT_STATUS_H
#define LATHE_SUPPORT_STATUS_H

#include <stdarg.h>
#include <stdio.h>

/* The code enum, the status type and its readers (code, message, location,
 * code name, free) are public: include/lathe/status.h. */
#include "lathe/status.h"

/* lathe_status_make (public) never returns NULL for a non-OK code: it falls
 * back to a static out-of-memory status if allocation fails. */
lathe_status_t lathe_status_makev(lathe_status_code_t code, const char *fmt, va_list ap);

/* Like lathe_status_make, with a location printed before the message. */
lathe_status_t lathe_status_make_at(lathe_status_code_t code, const char *location,
                                    const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the message with "context: ". Takes ownership of `status` and
 * returns it (NULL stays NULL). */
lathe_status_t lathe_status_annotate(lathe_status_t status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Writes the status as one line: "LOCATION: error: MESSAGE" when it has a
 * location, else "TOOL: error: MESSAGE". */
void lathe_status_print(FILE *out, const char *tool, lathe_status_t status);

/* Returns early from the enclosing function when `expr` fails. */
#define LATHE_RETURN_IF_ERROR(expr)            \
  do {                                         \
    lathe_status_t lathe_status_ = (expr);     \
    if (lathe_status_) return lathe_status_;   \
  } while (0)

/* Same, adding printf-style context to the message on the way up. */
#define LATHE_RETURN_IF_ERROR_CTX(expr, ...)                         \
  do {                                                               \
    lathe_status_t lathe_status_ = (expr);                           \
    if (lathe_status_) return lathe_status_annotate(lathe_status_, __VA_ARGS__); \
  } while (0)

#endif
