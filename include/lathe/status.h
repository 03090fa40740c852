/* Errors as values, as the public API reports them.
 *
 * Every fallible function of Lathe's public API (include/lathe/lathe.h)
 * returns a lathe_status_t: NULL on success, otherwise an owned pointer to a
 * failure holding a code, a one-line message and an optional location
 * ("file:line:col" for text IR, a file name for binary inputs). The caller
 * reads it with the functions below and must release it with
 * lathe_status_free. The library builds its statuses with the functions of
 * support/status.h, which includes this header: the public and the internal
 * status are one type.
 *
 * Thread safety: statuses are plain heap objects with no shared state.
 */
#ifndef LATHE_STATUS_H
#define LATHE_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  LATHE_STATUS_OK = 0,
  LATHE_STATUS_INVALID_ARGUMENT,   /* a caller passed something malformed */
  LATHE_STATUS_PARSE_ERROR,        /* text or binary input could not be read */
  LATHE_STATUS_VERIFY_ERROR,       /* IR violates an invariant */
  LATHE_STATUS_UNSUPPORTED,        /* well-formed but not handled (yet) */
  LATHE_STATUS_NOT_FOUND,          /* a named thing does not exist */
  LATHE_STATUS_OUT_OF_RANGE,       /* an index, offset or size is out of bounds */
  LATHE_STATUS_IO_ERROR,           /* the OS refused a file operation */
  LATHE_STATUS_RESOURCE_EXHAUSTED, /* out of memory or over a size limit */
  LATHE_STATUS_INTERNAL,           /* a bug in Lathe */
  LATHE_STATUS_CODE_COUNT
} lathe_status_code_t;

typedef struct lathe_status *lathe_status_t;

/* A new failure with a printf-formatted one-line message (for host code
 * that reports its own errors the same way). Never NULL for a non-OK code. */
lathe_status_t lathe_status_make(lathe_status_code_t code, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* LATHE_STATUS_OK for NULL. */
lathe_status_code_t lathe_status_code(lathe_status_t status);
/* Borrowed; valid until the status is freed. Never NULL for a failure. */
const char *lathe_status_message(lathe_status_t status);
/* Borrowed; NULL when the status has no location. */
const char *lathe_status_location(lathe_status_t status);
/* "invalid argument"...; static. */
const char *lathe_status_code_name(lathe_status_code_t code);
/* Releases a status; NULL is fine. */
void lathe_status_free(lathe_status_t status);

#ifdef __cplusplus
}
#endif

#endif
