/* The text IR lexer: turns source bytes into tokens for the parser.
 *
 * Tokens borrow the source text (start, len); nothing is allocated. Comments
 * (`//` to end of line) and whitespace, newlines included, are skipped: the
 * grammar never needs a newline to decide anything. Keywords (`graph`,
 * `return`, `dense`, dtype names, `inf`...) are plain identifiers; the parser
 * gives them meaning by context, so a symbolic dim may be called `inf`.
 *
 * A lexer is a small value: copying it saves a position the parser can return
 * to (dense literals are scanned once to count them, then again to store them
 * once the type after them is known).
 *
 * Internal to ir/.
 */
#ifndef LATHE_IR_TEXT_LEXER_H
#define LATHE_IR_TEXT_LEXER_H

#include <stddef.h>
#include <stdint.h>

#include "support/arena.h"
#include "support/status.h"

typedef enum {
  LATHE_TOK_EOF = 0,
  LATHE_TOK_IDENT,    /* [A-Za-z_][A-Za-z0-9_.]*  (keywords, op names, dtypes, dims) */
  LATHE_TOK_VALUE,    /* %name; start/len cover the name without '%' */
  LATHE_TOK_INT,      /* -?[0-9]+ */
  LATHE_TOK_FLOAT,    /* -?[0-9]+ ('.' [0-9]*)? ([eE][+-]?[0-9]+)?, with '.' or exponent */
  LATHE_TOK_STRING,   /* "..."; start/len cover the quotes; escapes checked, not decoded */
  LATHE_TOK_AT,       /* @ */
  LATHE_TOK_LPAREN,   /* ( */
  LATHE_TOK_RPAREN,   /* ) */
  LATHE_TOK_LBRACKET, /* [ */
  LATHE_TOK_RBRACKET, /* ] */
  LATHE_TOK_LBRACE,   /* { */
  LATHE_TOK_RBRACE,   /* } */
  LATHE_TOK_COMMA,    /* , */
  LATHE_TOK_COLON,    /* : */
  LATHE_TOK_EQUAL,    /* = */
  LATHE_TOK_ARROW,    /* -> */
  LATHE_TOK_QUESTION, /* ? */
  LATHE_TOK_MINUS,    /* - not followed by a digit or '>' (as in -inf) */
  LATHE_TOK_KIND_COUNT
} lathe_token_kind_t;

typedef struct lathe_token {
  lathe_token_kind_t kind;
  const char *start;
  size_t len;
  uint32_t line, col; /* 1-based position of the first character */
} lathe_token_t;

typedef struct lathe_lexer {
  const char *filename; /* for diagnostics; borrowed */
  const char *pos, *end;
  uint32_t line, col;
} lathe_lexer_t;

void lathe_lexer_init(lathe_lexer_t *lx, const char *text, size_t len, const char *filename);
/* Reads the next token. Malformed input (a stray character, an unterminated
 * string, a bad escape or number) is a located PARSE_ERROR. At the end of the
 * input every call returns an EOF token positioned after the last character. */
lathe_status_t lathe_lexer_next(lathe_lexer_t *lx, lathe_token_t *out_token);

/* True when `tok` is an identifier spelled `word`. */
int lathe_token_is(const lathe_token_t *tok, const char *word);
/* A short description for "expected X, got Y" messages: "'foo'", "end of input". */
const char *lathe_token_describe(const lathe_token_t *tok, char *buf, size_t size);

/* Decodes a STRING token (escapes already validated by the lexer) into a
 * NUL-terminated arena copy. */
char *lathe_token_string_value(const lathe_token_t *tok, lathe_arena_t *arena);

/* Re-makes `st` (consumed) located at FILE:LINE:COL, keeping its code and
 * message. */
lathe_status_t lathe_text_locate(lathe_status_t st, const char *filename, uint32_t line,
                                 uint32_t col);

#endif
