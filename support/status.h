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

typedef enum {
  LATHE_STATUS_OK = 0,
  LATHE_STATUS_INVALID_ARGUMENT, /* a caller passed something malformed */
  LATHE_STATUS_PARSE_ERROR,      /* text or binary input could not be read */
  LATHE_STATUS_VERIFY_ERROR,     /* IR violates an invariant */
  LATHE_STATUS_UNSUPPORTED,      /* well-formed but not handled (yet) */
  LATHE_STATUS_NOT_FOUND,        /* a named thing does not exist */
  LATHE_STATUS_OUT_OF_RANGE,     /* an index, offset or size is out of bounds */
  LATHE_STATUS_IO_ERROR,         /* the OS refused a file operation */
  LATHE_STATUS_RESOURCE_EXHAUSTED, /* out of memory or over a size limit */
  LATHE_STATUS_INTERNAL,         /* a bug in Lathe */
  LATHE_STATUS_CODE_COUNT
} lathe_status_code_t;

typedef struct lathe_status *lathe_status_t;

/* Creates a failure status. Never returns NULL for a non-OK code (falls back
 * to a static out-of-memory status if allocation fails). */
lathe_status_t lathe_status_make(lathe_status_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
lathe_status_t lathe_status_makev(lathe_status_code_t code, const char *fmt, va_list ap);

/* Like lathe_status_make, with a location printed before the message. */
lathe_status_t lathe_status_make_at(lathe_status_code_t code, const char *location,
                                    const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the message with "context: ". Takes ownership of `status` and
 * returns it (NULL stays NULL). */
lathe_status_t lathe_status_annotate(lathe_status_t status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

lathe_status_code_t lathe_status_code(lathe_status_t status);
/* Borrowed; valid until the status is freed. Never NULL for a failure. */
const char *lathe_status_message(lathe_status_t status);
/* Borrowed; NULL when the status has no location. */
const char *lathe_status_location(lathe_status_t status);
const char *lathe_status_code_name(lathe_status_code_t code);

/* Writes the status as one line: "LOCATION: error: MESSAGE" when it has a
 * location, else "TOOL: error: MESSAGE". */
void lathe_status_print(FILE *out, const char *tool, lathe_status_t status);

void lathe_status_free(lathe_status_t status);

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
