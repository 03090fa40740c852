/* State shared by the two halves of the text IR parser: text_parser.c
 * (module, graphs, ops, types, attributes) and text_parse_weights.c (`const`
 * weights and `weights` sources). Internal to ir/.
 */
#ifndef LATHE_IR_TEXT_PARSER_INTERNAL_H
#define LATHE_IR_TEXT_PARSER_INTERNAL_H

#include "ir/text.h"
#include "ir/text_lexer.h"

/* A growable array of fixed-size elements; aborts on out-of-memory like the
 * arena does for IR-sized allocations. */
typedef struct lathe_vec {
  void *data;
  size_t len, cap;
} lathe_vec_t;

/* Appends a zeroed element of `size` bytes and returns it. */
void *lathe_vec_push(lathe_vec_t *v, size_t size);
void lathe_vec_free(lathe_vec_t *v);

/* Where the lexer stands: saved to scan a dense literal twice. */
typedef struct lathe_parse_pos {
  lathe_lexer_t lex;
  lathe_token_t tok;
} lathe_parse_pos_t;

typedef struct lathe_parser {
  lathe_lexer_t lex;
  lathe_token_t tok;    /* the current (lookahead) token */
  const char *filename; /* for diagnostics and path resolution */
  const char *loc_file; /* module-arena copy stored in op locations */
  const lathe_parse_options_t *options;
  lathe_module_t *module;
  lathe_arena_t *arena;   /* the module's */
  lathe_hashmap_t values; /* value name -> lathe_value_t*, current graph only */
  lathe_hashmap_t files;  /* resolved path -> lathe_mapped_file_t* (one mapping each) */
  lathe_vec_t operands, result_tokens, types, attrs, scratch;
} lathe_parser_t;

/* Moves to the next token. */
lathe_status_t lathe_parser_advance(lathe_parser_t *p);
/* Consumes a token of `kind` (copied to *out_tok when not NULL) or fails with
 * "expected WHAT, got ..." at the current token. */
lathe_status_t lathe_parser_expect(lathe_parser_t *p, lathe_token_kind_t kind, const char *what,
                                   lathe_token_t *out_tok);
/* A PARSE_ERROR located at `tok`. */
lathe_status_t lathe_parser_error(const lathe_parser_t *p, const lathe_token_t *tok,
                                  const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Re-locates a status made without a location at `tok`, keeping its code and
 * message; consumes `st`. */
lathe_status_t lathe_parser_relocate(const lathe_parser_t *p, const lathe_token_t *tok,
                                     lathe_status_t st);
/* "expected WHAT, got X" (or "unexpected end of input, expected WHAT"). */
lathe_status_t lathe_parser_unexpected(const lathe_parser_t *p, const char *what);

/* type := DTYPE '[' [dim (',' dim)*] ']'; dims live in the module arena. */
lathe_status_t lathe_parser_type(lathe_parser_t *p, lathe_type_t *out_type);
/* A number or boolean literal (INT, FLOAT, true, false, inf, -inf, nan):
 * its text (in `buf` for "-inf") and the token it started at. */
lathe_status_t lathe_parser_literal(lathe_parser_t *p, const char **out_text, size_t *out_len,
                                    lathe_token_t *out_tok);

/* `weights STRING` at the current token. */
lathe_status_t lathe_parser_weights_decl(lathe_parser_t *p);
/* The rest of `VALUE = const weight : type`, from the weight on; `result`
 * is the result's name token and `loc` the op's location. */
lathe_status_t lathe_parser_const(lathe_parser_t *p, lathe_graph_t *g, const lathe_token_t *result,
                                  lathe_loc_t loc);
/* Records a new value's name, failing if the graph already has it. */
lathe_status_t lathe_parser_check_new_value(const lathe_parser_t *p, const lathe_token_t *tok);
void lathe_parser_define_value(lathe_parser_t *p, const lathe_token_t *tok, lathe_value_t *v);

#endif
