/* The text IR lexer: see text_lexer.h.
 *
 * Positions are byte columns, tabs counting one, so a diagnostic's column is
 * what an editor shows for ASCII text. Every check on the input happens here
 * or in the parser; nothing past this point sees malformed bytes.
 */
#include "ir/text_lexer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lathe_lexer_init(lathe_lexer_t *lx, const char *text, size_t len, const char *filename) {
  lx->filename = filename ? filename : "<input>";
  lx->pos = text;
  lx->end = text + len;
  lx->line = 1;
  lx->col = 1;
}

lathe_status_t lathe_text_locate(lathe_status_t st, const char *filename, uint32_t line,
                                 uint32_t col) {
  /* Sized to fit: a long path must not be cut off mid-location. */
  int n = snprintf(NULL, 0, "%s:%u:%u", filename, line, col);
  char *where = n > 0 ? malloc((size_t)n + 1) : NULL;
  if (!where) return st; /* out of memory: keep the unlocated status */
  snprintf(where, (size_t)n + 1, "%s:%u:%u", filename, line, col);
  lathe_status_t located =
      lathe_status_make_at(lathe_status_code(st), where, "%s", lathe_status_message(st));
  free(where);
  lathe_status_free(st);
  return located;
}

static lathe_status_t error_at(const char *filename, uint32_t line, uint32_t col, const char *fmt,
                               ...) __attribute__((format(printf, 4, 5)));
static lathe_status_t error_at(const char *filename, uint32_t line, uint32_t col, const char *fmt,
                               ...) {
  va_list ap;
  va_start(ap, fmt);
  lathe_status_t st = lathe_status_makev(LATHE_STATUS_PARSE_ERROR, fmt, ap);
  va_end(ap);
  return lathe_text_locate(st, filename, line, col);
}

static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_ident_start(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static int is_ident_char(int c) { return is_ident_start(c) || is_digit(c) || c == '.'; }
static int is_hex(int c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
static int hex_value(int c) { return is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10; }

static int peek(const lathe_lexer_t *lx, size_t ahead) {
  return lx->pos + ahead < lx->end ? (unsigned char)lx->pos[ahead] : -1;
}

static void advance(lathe_lexer_t *lx, size_t n) {
  for (; n && lx->pos < lx->end; --n, ++lx->pos) {
    if (*lx->pos == '\n') {
      ++lx->line;
      lx->col = 1;
    } else {
      ++lx->col;
    }
  }
}

static void skip_space_and_comments(lathe_lexer_t *lx) {
  for (;;) {
    int c = peek(lx, 0);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      advance(lx, 1);
    } else if (c == '/' && peek(lx, 1) == '/') {
      while (lx->pos < lx->end && *lx->pos != '\n') advance(lx, 1);
    } else {
      return;
    }
  }
}

static size_t span_while(const lathe_lexer_t *lx, size_t from, int (*pred)(int)) {
  size_t n = from;
  while (peek(lx, n) >= 0 && pred(peek(lx, n))) ++n;
  return n;
}

/* Scans a number starting at the current position (optional '-' then a
 * digit); sets the kind and length. */
static lathe_status_t lex_number(lathe_lexer_t *lx, lathe_token_t *tok) {
  size_t n = peek(lx, 0) == '-' ? 1 : 0;
  n = span_while(lx, n, is_digit);
  tok->kind = LATHE_TOK_INT;
  if (peek(lx, n) == '.') {
    tok->kind = LATHE_TOK_FLOAT;
    n = span_while(lx, n + 1, is_digit);
  }
  if (peek(lx, n) == 'e' || peek(lx, n) == 'E') {
    size_t m = n + 1;
    if (peek(lx, m) == '+' || peek(lx, m) == '-') ++m;
    if (!is_digit(peek(lx, m)))
      return error_at(lx->filename, tok->line, tok->col,
                      "malformed number: exponent has no digits");
    tok->kind = LATHE_TOK_FLOAT;
    n = span_while(lx, m, is_digit);
  }
  if (is_ident_char(peek(lx, n)))
    return error_at(lx->filename, tok->line, tok->col, "malformed number '%.*s%c'", (int)n, lx->pos,
                    peek(lx, n));
  tok->len = n;
  advance(lx, n);
  return NULL;
}

/* Validates a string literal; the token keeps the quotes. */
static lathe_status_t lex_string(lathe_lexer_t *lx, lathe_token_t *tok) {
  size_t n = 1;
  for (;;) {
    int c = peek(lx, n);
    if (c < 0 || c == '\n')
      return error_at(lx->filename, tok->line, tok->col, "unterminated string");
    if (c == '"') break;
    if (c == '\\') {
      int e = peek(lx, n + 1);
      if (e == 'x') {
        int h1 = peek(lx, n + 2), h2 = peek(lx, n + 3);
        if (!is_hex(h1) || !is_hex(h2))
          return error_at(lx->filename, tok->line, tok->col + (uint32_t)n,
                          "'\\x' must be followed by two hex digits");
        if (hex_value(h1) == 0 && hex_value(h2) == 0)
          return error_at(lx->filename, tok->line, tok->col + (uint32_t)n,
                          "strings cannot contain NUL ('\\x00')");
        n += 4;
        continue;
      }
      if (e != '\\' && e != '"' && e != 'n' && e != 't' && e != 'r') {
        if (e < 0 || e == '\n')
          return error_at(lx->filename, tok->line, tok->col, "unterminated string");
        return error_at(lx->filename, tok->line, tok->col + (uint32_t)n,
                        "unknown escape sequence '\\%c' in string", e);
      }
      n += 2;
      continue;
    }
    ++n;
  }
  tok->kind = LATHE_TOK_STRING;
  tok->len = n + 1;
  advance(lx, n + 1);
  return NULL;
}

static lathe_token_kind_t punct_kind(int c) {
  switch (c) {
  case '@': return LATHE_TOK_AT;
  case '(': return LATHE_TOK_LPAREN;
  case ')': return LATHE_TOK_RPAREN;
  case '[': return LATHE_TOK_LBRACKET;
  case ']': return LATHE_TOK_RBRACKET;
  case '{': return LATHE_TOK_LBRACE;
  case '}': return LATHE_TOK_RBRACE;
  case ',': return LATHE_TOK_COMMA;
  case ':': return LATHE_TOK_COLON;
  case '=': return LATHE_TOK_EQUAL;
  case '?': return LATHE_TOK_QUESTION;
  default: return LATHE_TOK_EOF;
  }
}

lathe_status_t lathe_lexer_next(lathe_lexer_t *lx, lathe_token_t *out) {
  skip_space_and_comments(lx);
  lathe_token_t tok = {LATHE_TOK_EOF, lx->pos, 0, lx->line, lx->col};
  int c = peek(lx, 0);
  if (c < 0) {
    *out = tok;
    return NULL;
  }
  if (is_ident_start(c)) {
    tok.kind = LATHE_TOK_IDENT;
    tok.len = span_while(lx, 0, is_ident_char);
    advance(lx, tok.len);
  } else if (c == '%') {
    size_t n = span_while(lx, 1, is_ident_char);
    if (n == 1)
      return error_at(lx->filename, tok.line, tok.col, "expected a value name after '%%'");
    tok.kind = LATHE_TOK_VALUE;
    tok.start = lx->pos + 1;
    tok.len = n - 1;
    advance(lx, n);
  } else if (is_digit(c) || (c == '-' && is_digit(peek(lx, 1)))) {
    LATHE_RETURN_IF_ERROR(lex_number(lx, &tok));
  } else if (c == '-') {
    tok.kind = peek(lx, 1) == '>' ? LATHE_TOK_ARROW : LATHE_TOK_MINUS;
    tok.len = tok.kind == LATHE_TOK_ARROW ? 2 : 1;
    advance(lx, tok.len);
  } else if (c == '"') {
    LATHE_RETURN_IF_ERROR(lex_string(lx, &tok));
  } else if (punct_kind(c) != LATHE_TOK_EOF) {
    tok.kind = punct_kind(c);
    tok.len = 1;
    advance(lx, 1);
  } else if (c >= 0x21 && c < 0x7f) {
    return error_at(lx->filename, tok.line, tok.col, "unexpected character '%c'", c);
  } else {
    return error_at(lx->filename, tok.line, tok.col, "unexpected character '\\x%02x'", (unsigned)c);
  }
  *out = tok;
  return NULL;
}

int lathe_token_is(const lathe_token_t *tok, const char *word) {
  return tok->kind == LATHE_TOK_IDENT && strlen(word) == tok->len &&
         memcmp(tok->start, word, tok->len) == 0;
}

const char *lathe_token_describe(const lathe_token_t *tok, char *buf, size_t size) {
  if (tok->kind == LATHE_TOK_EOF) return "end of input";
  /* Quote the token itself, shortened so a long string stays one short line. */
  int n = tok->len > 40 ? 40 : (int)tok->len;
  snprintf(buf, size, "'%s%.*s%s'", tok->kind == LATHE_TOK_VALUE ? "%" : "", n, tok->start,
           tok->len > 40 ? "..." : "");
  return buf;
}

char *lathe_token_string_value(const lathe_token_t *tok, lathe_arena_t *arena) {
  /* The decoded string is never longer than the quoted source. */
  char *out = lathe_arena_alloc(arena, tok->len);
  size_t j = 0;
  for (size_t i = 1; i + 1 < tok->len; ++i) {
    char c = tok->start[i];
    if (c != '\\') {
      out[j++] = c;
      continue;
    }
    char e = tok->start[++i];
    switch (e) {
    case 'n': out[j++] = '\n'; break;
    case 't': out[j++] = '\t'; break;
    case 'r': out[j++] = '\r'; break;
    case 'x':
      out[j++] = (char)(hex_value((unsigned char)tok->start[i + 1]) * 16 +
                        hex_value((unsigned char)tok->start[i + 2]));
      i += 2;
      break;
    default: out[j++] = e; break; /* \\ and \" */
    }
  }
  out[j] = '\0';
  return out;
}
