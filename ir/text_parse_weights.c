/* The parser's weight half: `weights "PATH"` declarations and the weight of a
 * `const` op (dense[...], splat(...), @"name", @file("path", offset)).
 *
 * A weight's literal comes before its type, but only the type says how to
 * read the literal (dtype, element count). Rather than buffer tokens, the
 * parser remembers where the literal starts, checks its syntax and counts its
 * elements, reads the type, then rewinds and stores each element straight
 * into the weight's buffer. Sizes come from user input, so they are checked
 * for overflow and capped (MAX_INLINE_BYTES) before anything is allocated.
 *
 * Paths in the text are relative to the directory of the file being parsed;
 * each file is mapped once per parse however many constants view it.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ir/text_literal.h"
#include "ir/text_parser_internal.h"

/* Inline constants are for small tensors; anything larger belongs in a file. */
#define MAX_INLINE_BYTES ((uint64_t)1 << 30)

typedef enum { W_DENSE, W_SPLAT, W_NAMED, W_FILE } weight_form_t;

/* What the text said about the weight, before the type is known. */
typedef struct {
  weight_form_t form;
  lathe_token_t tok;       /* 'dense', 'splat' or '@': where errors about it point */
  lathe_parse_pos_t start; /* dense: the first literal */
  uint64_t count;          /* dense: number of literals */
  lathe_token_t literal;   /* splat: the literal */
  const char *literal_text;
  size_t literal_len;
  const char *string; /* named: tensor name; file: the path as written */
  uint64_t offset;    /* file */
} pending_t;

static lathe_parse_pos_t save(const lathe_parser_t *p) {
  return (lathe_parse_pos_t){p->lex, p->tok};
}
static void restore(lathe_parser_t *p, lathe_parse_pos_t pos) {
  p->lex = pos.lex;
  p->tok = pos.tok;
}

/* `path` relative to the directory of the file being parsed (arena copy). */
static const char *resolve(lathe_parser_t *p, const char *path) {
  const char *slash = strrchr(p->filename, '/');
  if (path[0] == '/' || !slash) return path;
  return lathe_arena_printf(p->arena, "%.*s/%s", (int)(slash - p->filename), p->filename, path);
}

lathe_status_t lathe_parser_weights_decl(lathe_parser_t *p) {
  lathe_token_t tok;
  LATHE_RETURN_IF_ERROR(lathe_parser_advance(p));
  LATHE_RETURN_IF_ERROR(
      lathe_parser_expect(p, LATHE_TOK_STRING, "a path string after 'weights'", &tok));
  const char *display = lathe_token_string_value(&tok, p->arena);
  if (!p->options->open_weight_source)
    return lathe_parser_error(p, &tok,
                              "cannot open weights \"%s\": this tool reads no weight sources "
                              "(use @file(...) or dense[...] constants)",
                              display);
  lathe_weight_source_t source = {0};
  lathe_status_t st =
      p->options->open_weight_source(p->options->opener_ctx, resolve(p, display), &source);
  if (st) return lathe_parser_relocate(p, &tok, st);
  lathe_module_add_weight_source(p->module, display, &source);
  return NULL;
}

/* weight := 'dense' '[' [literal (',' literal)*] ']' | 'splat' '(' literal ')'
 *         | '@' STRING | '@file' '(' STRING ',' INT ')' */
static lathe_status_t parse_pending(lathe_parser_t *p, pending_t *w) {
  w->tok = p->tok;
  if (lathe_token_is(&p->tok, "dense")) {
    w->form = W_DENSE;
    LATHE_RETURN_IF_ERROR(lathe_parser_advance(p));
    LATHE_RETURN_IF_ERROR(lathe_parser_expect(p, LATHE_TOK_LBRACKET, "'[' after 'dense'", NULL));
    w->start = save(p);
    for (bool more = p->tok.kind != LATHE_TOK_RBRACKET; more; ++w->count) {
      const char *text;
      size_t len;
      lathe_token_t tok;
      LATHE_RETURN_IF_ERROR(lathe_parser_literal(p, &text, &len, &tok));
      more = p->tok.kind == LATHE_TOK_COMMA;
      if (more) LATHE_RETURN_IF_ERROR(lathe_parser_advance(p));
    }
    return lathe_parser_expect(p, LATHE_TOK_RBRACKET, "',' or ']' in the dense literal", NULL);
  }
  if (lathe_token_is(&p->tok, "splat")) {
    w->form = W_SPLAT;
    LATHE_RETURN_IF_ERROR(lathe_parser_advance(p));
    LATHE_RETURN_IF_ERROR(lathe_parser_expect(p, LATHE_TOK_LPAREN, "'(' after 'splat'", NULL));
    LATHE_RETURN_IF_ERROR(lathe_parser_literal(p, &w->literal_text, &w->literal_len, &w->literal));
    return lathe_parser_expect(p, LATHE_TOK_RPAREN, "')' after the splat value", NULL);
  }
  if (p->tok.kind != LATHE_TOK_AT)
    return lathe_parser_unexpected(p, "a weight (dense[...], splat(...), @\"name\" or @file(...))");
  LATHE_RETURN_IF_ERROR(lathe_parser_advance(p));
  lathe_token_t tok = p->tok;
  if (tok.kind == LATHE_TOK_STRING) {
    w->form = W_NAMED;
    w->string = lathe_token_string_value(&tok, p->arena);
    return lathe_parser_advance(p);
  }
  if (!lathe_token_is(&tok, "file"))
    return lathe_parser_unexpected(p, "a tensor name string or 'file' after '@'");
  w->form = W_FILE;
  LATHE_RETURN_IF_ERROR(lathe_parser_advance(p));
  LATHE_RETURN_IF_ERROR(lathe_parser_expect(p, LATHE_TOK_LPAREN, "'(' after '@file'", NULL));
  LATHE_RETURN_IF_ERROR(lathe_parser_expect(p, LATHE_TOK_STRING, "a path string", &tok));
  w->string = lathe_token_string_value(&tok, p->arena);
  LATHE_RETURN_IF_ERROR(lathe_parser_expect(p, LATHE_TOK_COMMA, "',' and a byte offset", NULL));
  LATHE_RETURN_IF_ERROR(lathe_parser_expect(p, LATHE_TOK_INT, "a byte offset", &tok));
  int64_t offset;
  lathe_status_t st = lathe_text_parse_int(tok.start, tok.len, &offset);
  if (st) return lathe_parser_relocate(p, &tok, st);
  if (offset < 0) return lathe_parser_error(p, &tok, "file offsets must be non-negative");
  w->offset = (uint64_t)offset;
  return lathe_parser_expect(p, LATHE_TOK_RPAREN, "')' after the offset", NULL);
}

static char *type_str(lathe_parser_t *p, const lathe_type_t *t) {
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  lathe_type_print(&sb, t);
  char *s = lathe_arena_strdup(p->arena, lathe_strbuf_cstr(&sb));
  lathe_strbuf_destroy(&sb);
  return s;
}

/* Stores the literal at `tok`/`text` as element `i`, errors located there. */
static lathe_status_t store(lathe_parser_t *p, const lathe_token_t *tok, const char *text,
                            size_t len, lathe_dtype_t dtype, uint8_t *buf, uint64_t i) {
  lathe_status_t st = lathe_text_store_element(dtype, text, len, buf, i);
  return st ? lathe_parser_relocate(p, tok, st) : NULL;
}

/* dense / splat: an owned buffer of the type's size, filled from the text. */
static lathe_status_t make_inline(lathe_parser_t *p, const pending_t *w, const lathe_type_t *type,
                                  uint64_t count, uint64_t bytes, lathe_weight_t **out) {
  if (w->form == W_DENSE && w->count != count)
    return lathe_parser_error(p, &w->tok,
                              "dense literal has %" PRIu64 " element%s but %s has %" PRIu64,
                              w->count, w->count == 1 ? "" : "s", type_str(p, type), count);
  if (bytes > MAX_INLINE_BYTES)
    return lathe_parser_error(p, &w->tok,
                              "inline constant of %" PRIu64 " bytes is over the 1 GiB limit; "
                              "put large weights in a file (@file or a weights source)",
                              bytes);
  /* At least 8 bytes, so a splat of an empty tensor still has room to
   * check its literal. calloc: packed dtypes leave a zero pad nibble. */
  uint8_t *buf = calloc(bytes < 8 ? 8 : (size_t)bytes, 1);
  if (!buf)
    return lathe_parser_error(p, &w->tok, "out of memory for a constant of %" PRIu64 " bytes",
                              bytes);
  lathe_status_t st = NULL;
  if (w->form == W_SPLAT) {
    st = store(p, &w->literal, w->literal_text, w->literal_len, type->dtype, buf, 0);
    if (!st) lathe_text_fill_elements(type->dtype, buf, count);
  } else {
    lathe_parse_pos_t after = save(p);
    restore(p, w->start);
    for (uint64_t i = 0; i < count && !st; ++i) {
      const char *text;
      size_t len;
      lathe_token_t tok;
      st = lathe_parser_literal(p, &text, &len, &tok);
      if (!st) st = store(p, &tok, text, len, type->dtype, buf, i);
      if (!st && p->tok.kind == LATHE_TOK_COMMA) st = lathe_parser_advance(p);
    }
    restore(p, after);
  }
  if (st) {
    free(buf);
    return st;
  }
  lathe_weight_t *weight = lathe_weight_adopt_buffer(p->module, type->dtype, buf, bytes);
  weight->form = w->form == W_SPLAT ? LATHE_WEIGHT_FORM_SPLAT : LATHE_WEIGHT_FORM_DENSE;
  *out = weight;
  return NULL;
}

static lathe_status_t make_file_view(lathe_parser_t *p, const pending_t *w, lathe_dtype_t dtype,
                                     uint64_t bytes, lathe_weight_t **out) {
  const char *path = resolve(p, w->string);
  lathe_mapped_file_t *file = lathe_hashmap_get_str(&p->files, path);
  if (!file) {
    lathe_status_t st = lathe_mapped_file_open(path, &file);
    if (st) return lathe_parser_relocate(p, &w->tok, st);
    if (!lathe_hashmap_put_str(&p->files, path, file)) abort();
  }
  lathe_status_t st =
      lathe_weight_create_file_view(p->module, dtype, file, w->string, w->offset, bytes, out);
  return st ? lathe_parser_relocate(p, &w->tok, st) : NULL;
}

static lathe_status_t make_named(lathe_parser_t *p, const pending_t *w, const lathe_type_t *type,
                                 lathe_weight_t **out) {
  lathe_weight_source_entry_t e;
  lathe_status_t st = lathe_weight_create_named(p->module, w->string, &e, out);
  if (st) return lathe_parser_relocate(p, &w->tok, st);
  lathe_dim_t dims[LATHE_MAX_RANK];
  uint32_t rank = e.rank <= LATHE_MAX_RANK ? e.rank : LATHE_MAX_RANK;
  for (uint32_t i = 0; i < rank; ++i) dims[i] = lathe_dim_static(e.dims[i]);
  lathe_type_t stored = {e.dtype, rank, rank ? dims : NULL};
  if (!lathe_type_equal(&stored, type))
    return lathe_parser_error(p, &w->tok, "weight \"%s\" is %s in its source, not %s", w->string,
                              type_str(p, &stored), type_str(p, type));
  return NULL;
}

lathe_status_t lathe_parser_const(lathe_parser_t *p, lathe_graph_t *g, const lathe_token_t *result,
                                  lathe_loc_t loc) {
  pending_t w = {0};
  LATHE_RETURN_IF_ERROR(parse_pending(p, &w));
  lathe_token_t colon, type_tok;
  LATHE_RETURN_IF_ERROR(
      lathe_parser_expect(p, LATHE_TOK_COLON, "':' and the constant's type", &colon));
  type_tok = p->tok;
  lathe_type_t type;
  LATHE_RETURN_IF_ERROR(lathe_parser_type(p, &type));
  if (p->tok.kind == LATHE_TOK_COMMA)
    return lathe_parser_error(p, &p->tok, "'const' has exactly one result type");

  int64_t count;
  uint64_t bytes;
  if (!lathe_type_is_static(&type))
    return lathe_parser_error(p, &type_tok, "a constant's type must be static, got %s",
                              type_str(p, &type));
  lathe_status_t st = lathe_type_num_elements(&type, &count);
  if (st || !lathe_dtype_storage_bytes(type.dtype, (uint64_t)count, &bytes)) {
    lathe_status_free(st);
    return lathe_parser_error(p, &type_tok, "%s has too many elements", type_str(p, &type));
  }

  lathe_weight_t *weight = NULL;
  if (w.form == W_DENSE || w.form == W_SPLAT)
    LATHE_RETURN_IF_ERROR(make_inline(p, &w, &type, (uint64_t)count, bytes, &weight));
  else if (w.form == W_FILE)
    LATHE_RETURN_IF_ERROR(make_file_view(p, &w, type.dtype, bytes, &weight));
  else LATHE_RETURN_IF_ERROR(make_named(p, &w, &type, &weight));

  lathe_builder_t b = lathe_builder_at_end(g);
  b.loc = loc;
  lathe_value_t *v;
  st = lathe_build_const(&b, weight, &type, &v);
  if (st) return lathe_parser_relocate(p, &w.tok, st);
  lathe_parser_define_value(p, result, v);
  return NULL;
}
