/* The text IR parser: recursive descent over the tokens of text_lexer.c,
 * building the module through the ordinary IR builders (docs/ir.md has the
 * grammar; each function below quotes the rule it reads).
 *
 * The parser checks what only the text knows: names (undefined, defined
 * twice), the op name, operand/result counts, attribute names and kinds
 * against the op's schema, types, the graph signature against the returned
 * values, and literals. Everything the IR itself can check (inference, op
 * verifiers) is left to lathe_module_verify, run once at the end, whose
 * errors carry the locations recorded here.
 *
 * On any error the partly built module is destroyed, so a failed parse leaks
 * nothing. Nothing recurses on input structure, so deep input cannot
 * overflow the stack.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ir/text_literal.h"
#include "ir/text_parser_internal.h"
#include "ir/verify.h"

/* Largest static dim accepted: products of a few such dims still fit int64
 * checks, and no real tensor comes close. */
#define MAX_DIM ((int64_t)1 << 62)

/* ---- small helpers ---- */

void *lathe_vec_push(lathe_vec_t *v, size_t size) {
  if (v->len == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 8;
    void *data = realloc(v->data, cap * size);
    if (!data) abort();
    v->data = data;
    v->cap = cap;
  }
  void *slot = (char *)v->data + v->len++ * size;
  memset(slot, 0, size);
  return slot;
}

void lathe_vec_free(lathe_vec_t *v) {
  free(v->data);
  *v = (lathe_vec_t){0};
}

lathe_status_t lathe_parser_advance(lathe_parser_t *p) {
  return lathe_lexer_next(&p->lex, &p->tok);
}

lathe_status_t lathe_parser_error(const lathe_parser_t *p, const lathe_token_t *tok,
                                  const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lathe_status_t st = lathe_status_makev(LATHE_STATUS_PARSE_ERROR, fmt, ap);
  va_end(ap);
  return lathe_parser_relocate(p, tok, st);
}

lathe_status_t lathe_parser_relocate(const lathe_parser_t *p, const lathe_token_t *tok,
                                     lathe_status_t st) {
  return lathe_text_locate(st, p->filename, tok->line, tok->col);
}

lathe_status_t lathe_parser_unexpected(const lathe_parser_t *p, const char *what) {
  if (p->tok.kind == LATHE_TOK_EOF)
    return lathe_parser_error(p, &p->tok, "unexpected end of input, expected %s", what);
  char buf[64];
  return lathe_parser_error(p, &p->tok, "expected %s, got %s", what,
                            lathe_token_describe(&p->tok, buf, sizeof buf));
}

lathe_status_t lathe_parser_expect(lathe_parser_t *p, lathe_token_kind_t kind, const char *what,
                                   lathe_token_t *out_tok) {
  if (p->tok.kind != kind) return lathe_parser_unexpected(p, what);
  if (out_tok) *out_tok = p->tok;
  return lathe_parser_advance(p);
}

/* Consumes a ',' when there is one; *out_more says whether it did. */
static lathe_status_t accept_comma(lathe_parser_t *p, bool *out_more) {
  *out_more = p->tok.kind == LATHE_TOK_COMMA;
  return *out_more ? lathe_parser_advance(p) : NULL;
}

static char *token_cstr(lathe_parser_t *p, const lathe_token_t *tok) {
  return lathe_arena_strndup(p->arena, tok->start, tok->len);
}

/* ---- values ---- */

static lathe_status_t lookup_value(lathe_parser_t *p, const lathe_token_t *tok,
                                   lathe_value_t **out) {
  void *v;
  if (!lathe_hashmap_get(&p->values, tok->start, tok->len, &v))
    return lathe_parser_error(p, tok, "use of undefined value '%%%.*s'", (int)tok->len, tok->start);
  *out = v;
  return NULL;
}

lathe_status_t lathe_parser_check_new_value(const lathe_parser_t *p, const lathe_token_t *tok) {
  void *v;
  if (lathe_hashmap_get(&p->values, tok->start, tok->len, &v))
    return lathe_parser_error(p, tok, "value '%%%.*s' is defined twice", (int)tok->len, tok->start);
  return NULL;
}

void lathe_parser_define_value(lathe_parser_t *p, const lathe_token_t *tok, lathe_value_t *v) {
  v->name = token_cstr(p, tok);
  if (!lathe_hashmap_put(&p->values, tok->start, tok->len, v)) abort();
}

/* ---- types ---- */

/* dim := INT | NAME | '?' */
static lathe_status_t parse_dim(lathe_parser_t *p, lathe_dim_t *out) {
  lathe_token_t tok = p->tok;
  if (tok.kind == LATHE_TOK_QUESTION) {
    *out = lathe_dim_unknown();
  } else if (tok.kind == LATHE_TOK_IDENT) {
    *out = lathe_dim_symbolic(lathe_module_intern(p->module, token_cstr(p, &tok)));
  } else if (tok.kind == LATHE_TOK_INT) {
    int64_t v;
    lathe_status_t st = lathe_text_parse_int(tok.start, tok.len, &v);
    if (st || v > MAX_DIM) {
      lathe_status_free(st);
      return lathe_parser_error(p, &tok, "dim %.*s is too large (the limit is 2^62)", (int)tok.len,
                                tok.start);
    }
    if (v < 0) return lathe_parser_error(p, &tok, "dims must be non-negative, got %" PRId64, v);
    *out = lathe_dim_static(v);
  } else {
    return lathe_parser_unexpected(p, "a dim (an integer, a symbol or '?')");
  }
  return lathe_parser_advance(p);
}

lathe_status_t lathe_parser_type(lathe_parser_t *p, lathe_type_t *out_type) {
  lathe_token_t dtype_tok = p->tok;
  if (dtype_tok.kind != LATHE_TOK_IDENT) return lathe_parser_unexpected(p, "a type");
  lathe_dtype_t dtype = lathe_dtype_from_name(dtype_tok.start, dtype_tok.len);
  if (dtype == LATHE_DTYPE_INVALID)
    return lathe_parser_error(p, &dtype_tok, "unknown dtype '%.*s'", (int)dtype_tok.len,
                              dtype_tok.start);
  LATHE_RETURN_IF_ERROR(lathe_parser_advance(p));
  LATHE_RETURN_IF_ERROR(lathe_parser_expect(p, LATHE_TOK_LBRACKET, "'[' after the dtype", NULL));
  lathe_dim_t dims[LATHE_MAX_RANK];
  uint32_t rank = 0;
  for (bool more = p->tok.kind != LATHE_TOK_RBRACKET; more;) {
    if (rank == LATHE_MAX_RANK)
      return lathe_parser_error(p, &p->tok, "rank exceeds the limit of %d dims", LATHE_MAX_RANK);
    LATHE_RETURN_IF_ERROR(parse_dim(p, &dims[rank++]));
    LATHE_RETURN_IF_ERROR(accept_comma(p, &more));
  }
  LATHE_RETURN_IF_ERROR(
      lathe_parser_expect(p, LATHE_TOK_RBRACKET, "',' or ']' in the shape", NULL));
  *out_type = lathe_type_make(p->arena, dtype, rank, dims);
  return NULL;
}

/* ---- literals and attributes ---- */

lathe_status_t lathe_parser_literal(lathe_parser_t *p, const char **out_text, size_t *out_len,
                                    lathe_token_t *out_tok) {
  lathe_token_t tok = p->tok;
  *out_tok = tok;
  if (tok.kind == LATHE_TOK_MINUS) {
    LATHE_RETURN_IF_ERROR(lathe_parser_advance(p));
    if (!lathe_token_is(&p->tok, "inf")) return lathe_parser_unexpected(p, "'inf' after '-'");
    *out_text = "-inf";
    *out_len = 4;
    return lathe_parser_advance(p);
  }
  bool ok = tok.kind == LATHE_TOK_INT || tok.kind == LATHE_TOK_FLOAT ||
            lathe_token_is(&tok, "true") || lathe_token_is(&tok, "false") ||
            lathe_token_is(&tok, "inf") || lathe_token_is(&tok, "nan");
  if (!ok) return lathe_parser_unexpected(p, "a literal (number, true, false, inf or nan)");
  *out_text = tok.start;
  *out_len = tok.len;
  return lathe_parser_advance(p);
}

static const char *kind_article(lathe_attr_kind_t kind) {
  static const char *const names[LATHE_ATTR_KIND_COUNT] = {
      "nothing",        "an int",           "a float",           "a string",
      "a list of ints", "a list of floats", "a list of strings", "a dtype"};
  return (unsigned)kind < LATHE_ATTR_KIND_COUNT ? names[kind] : "?";
}

static lathe_status_t wrong_kind(lathe_parser_t *p, lathe_op_kind_t op,
                                 const lathe_attr_schema_t *s) {
  char buf[64];
  if (p->tok.kind == LATHE_TOK_EOF) return lathe_parser_unexpected(p, kind_article(s->kind));
  return lathe_parser_error(p, &p->tok, "attribute '%s' of '%s' must be %s, got %s", s->name,
                            lathe_op_name(op), kind_article(s->kind),
                            lathe_token_describe(&p->tok, buf, sizeof buf));
}

/* One scalar of `kind` (INT, FLOAT, STRING or DTYPE) into *out. An INT
 * literal is accepted where a float is expected. */
static lathe_status_t parse_scalar(lathe_parser_t *p, lathe_op_kind_t op,
                                   const lathe_attr_schema_t *s, lathe_attr_kind_t kind,
                                   lathe_attr_t *out) {
  lathe_token_t tok = p->tok;
  lathe_status_t st = NULL;
  if (kind == LATHE_ATTR_INT && tok.kind == LATHE_TOK_INT) {
    st = lathe_text_parse_int(tok.start, tok.len, &out->u.i);
  } else if (kind == LATHE_ATTR_FLOAT &&
             (tok.kind == LATHE_TOK_INT || tok.kind == LATHE_TOK_FLOAT ||
              tok.kind == LATHE_TOK_MINUS || lathe_token_is(&tok, "inf") ||
              lathe_token_is(&tok, "nan"))) {
    const char *text;
    size_t len;
    LATHE_RETURN_IF_ERROR(lathe_parser_literal(p, &text, &len, &tok));
    st = lathe_text_parse_double(text, len, &out->u.f);
    return st ? lathe_parser_relocate(p, &tok, st) : NULL;
  } else if (kind == LATHE_ATTR_STRING && tok.kind == LATHE_TOK_STRING) {
    out->u.s = lathe_token_string_value(&tok, p->arena);
  } else if (kind == LATHE_ATTR_DTYPE && tok.kind == LATHE_TOK_IDENT &&
             lathe_dtype_from_name(tok.start, tok.len) != LATHE_DTYPE_INVALID) {
    out->u.dtype = lathe_dtype_from_name(tok.start, tok.len);
  } else {
    return wrong_kind(p, op, s);
  }
  if (st) return lathe_parser_relocate(p, &tok, st);
  return lathe_parser_advance(p);
}

/* '[' [scalar (',' scalar)*] ']' for a list kind; elements gathered in the
 * scratch vector, then copied to the arena. */
static lathe_status_t parse_list(lathe_parser_t *p, lathe_op_kind_t op,
                                 const lathe_attr_schema_t *s, lathe_attr_t *out) {
  if (p->tok.kind != LATHE_TOK_LBRACKET) return wrong_kind(p, op, s);
  LATHE_RETURN_IF_ERROR(lathe_parser_advance(p));
  lathe_attr_kind_t elem = s->kind == LATHE_ATTR_INTS     ? LATHE_ATTR_INT
                           : s->kind == LATHE_ATTR_FLOATS ? LATHE_ATTR_FLOAT
                                                          : LATHE_ATTR_STRING;
  p->scratch.len = 0;
  for (bool more = p->tok.kind != LATHE_TOK_RBRACKET; more;) {
    lathe_attr_t *a = lathe_vec_push(&p->scratch, sizeof *a);
    LATHE_RETURN_IF_ERROR(parse_scalar(p, op, s, elem, a));
    LATHE_RETURN_IF_ERROR(accept_comma(p, &more));
  }
  LATHE_RETURN_IF_ERROR(lathe_parser_expect(p, LATHE_TOK_RBRACKET, "',' or ']'", NULL));
  size_t n = p->scratch.len;
  const lathe_attr_t *items = p->scratch.data;
  if (elem == LATHE_ATTR_INT) {
    int64_t *v = LATHE_ARENA_NEW_ARRAY(p->arena, int64_t, n ? n : 1);
    for (size_t i = 0; i < n; ++i) v[i] = items[i].u.i;
    out->u.ints.data = v;
    out->u.ints.count = n;
  } else if (elem == LATHE_ATTR_FLOAT) {
    double *v = LATHE_ARENA_NEW_ARRAY(p->arena, double, n ? n : 1);
    for (size_t i = 0; i < n; ++i) v[i] = items[i].u.f;
    out->u.floats.data = v;
    out->u.floats.count = n;
  } else {
    const char **v = LATHE_ARENA_NEW_ARRAY(p->arena, const char *, n ? n : 1);
    for (size_t i = 0; i < n; ++i) v[i] = items[i].u.s;
    out->u.strings.data = v;
    out->u.strings.count = n;
  }
  return NULL;
}

/* attrs := '{' NAME '=' attr (',' NAME '=' attr)* '}'; the op's schema says
 * how each value reads. */
static lathe_status_t parse_attrs(lathe_parser_t *p, lathe_op_kind_t op) {
  LATHE_RETURN_IF_ERROR(lathe_parser_advance(p)); /* '{' */
  for (bool more = true; more;) {
    lathe_token_t name = {0};
    LATHE_RETURN_IF_ERROR(lathe_parser_expect(p, LATHE_TOK_IDENT, "an attribute name", &name));
    const char *key = token_cstr(p, &name);
    const lathe_attr_schema_t *s = lathe_op_attr_schema(op, key);
    if (!s)
      return lathe_parser_error(p, &name, "op '%s' has no attribute '%s'", lathe_op_name(op), key);
    const lathe_attr_t *seen = p->attrs.data;
    for (size_t i = 0; i < p->attrs.len; ++i)
      if (strcmp(seen[i].name, key) == 0)
        return lathe_parser_error(p, &name, "attribute '%s' is given twice", key);
    LATHE_RETURN_IF_ERROR(
        lathe_parser_expect(p, LATHE_TOK_EQUAL, "'=' after the attribute name", NULL));
    lathe_attr_t a = {.name = s->name, .kind = s->kind};
    if (s->kind == LATHE_ATTR_INTS || s->kind == LATHE_ATTR_FLOATS || s->kind == LATHE_ATTR_STRINGS)
      LATHE_RETURN_IF_ERROR(parse_list(p, op, s, &a));
    else LATHE_RETURN_IF_ERROR(parse_scalar(p, op, s, s->kind, &a));
    *(lathe_attr_t *)lathe_vec_push(&p->attrs, sizeof a) = a;
    LATHE_RETURN_IF_ERROR(accept_comma(p, &more));
  }
  return lathe_parser_expect(p, LATHE_TOK_RBRACE, "',' or '}' after the attribute", NULL);
}

/* ---- ops ---- */

static lathe_loc_t loc_of(const lathe_parser_t *p, const lathe_token_t *tok) {
  return (lathe_loc_t){p->loc_file, tok->line, tok->col, NULL};
}

/* op := VALUE (',' VALUE)* '=' OPNAME [operand (',' operand)*] [attrs] ':' type (',' type)*
 *     | VALUE '=' 'const' weight ':' type
 * operand := VALUE | '_' */
static lathe_status_t parse_op(lathe_parser_t *p, lathe_graph_t *g) {
  lathe_token_t first = p->tok;
  p->result_tokens.len = p->operands.len = p->types.len = p->attrs.len = 0;
  for (bool more = true; more;) {
    lathe_token_t tok;
    LATHE_RETURN_IF_ERROR(lathe_parser_expect(p, LATHE_TOK_VALUE, "a result value", &tok));
    LATHE_RETURN_IF_ERROR(lathe_parser_check_new_value(p, &tok));
    const lathe_token_t *seen = p->result_tokens.data;
    for (size_t i = 0; i < p->result_tokens.len; ++i)
      if (seen[i].len == tok.len && memcmp(seen[i].start, tok.start, tok.len) == 0)
        return lathe_parser_error(p, &tok, "value '%%%.*s' is defined twice", (int)tok.len,
                                  tok.start);
    *(lathe_token_t *)lathe_vec_push(&p->result_tokens, sizeof tok) = tok;
    LATHE_RETURN_IF_ERROR(accept_comma(p, &more));
  }
  LATHE_RETURN_IF_ERROR(
      lathe_parser_expect(p, LATHE_TOK_EQUAL, "',' or '=' after the results", NULL));
  lathe_token_t name = {0};
  LATHE_RETURN_IF_ERROR(lathe_parser_expect(p, LATHE_TOK_IDENT, "an op name", &name));
  uint32_t num_results = (uint32_t)p->result_tokens.len;
  if (lathe_token_is(&name, "const")) {
    if (num_results != 1)
      return lathe_parser_error(p, &first, "'const' defines one value, got %u", num_results);
    return lathe_parser_const(p, g, p->result_tokens.data, loc_of(p, &first));
  }
  lathe_op_kind_t kind;
  if (!lathe_op_kind_from_name(name.start, name.len, &kind))
    return lathe_parser_error(p, &name, "unknown op '%.*s'", (int)name.len, name.start);

  bool more = p->tok.kind == LATHE_TOK_VALUE || lathe_token_is(&p->tok, "_");
  while (more) {
    lathe_value_t **slot = lathe_vec_push(&p->operands, sizeof *slot);
    if (p->tok.kind == LATHE_TOK_VALUE) LATHE_RETURN_IF_ERROR(lookup_value(p, &p->tok, slot));
    else if (!lathe_token_is(&p->tok, "_")) return lathe_parser_unexpected(p, "an operand");
    LATHE_RETURN_IF_ERROR(lathe_parser_advance(p));
    LATHE_RETURN_IF_ERROR(accept_comma(p, &more));
  }
  if (p->tok.kind == LATHE_TOK_LBRACE) LATHE_RETURN_IF_ERROR(parse_attrs(p, kind));
  lathe_token_t colon;
  LATHE_RETURN_IF_ERROR(
      lathe_parser_expect(p, LATHE_TOK_COLON, "':' and the result types", &colon));
  for (more = true; more;) {
    LATHE_RETURN_IF_ERROR(lathe_parser_type(p, lathe_vec_push(&p->types, sizeof(lathe_type_t))));
    LATHE_RETURN_IF_ERROR(accept_comma(p, &more));
  }
  if (p->types.len != num_results)
    return lathe_parser_error(p, &colon, "%u result value%s but %zu result type%s", num_results,
                              num_results == 1 ? "" : "s", p->types.len,
                              p->types.len == 1 ? "" : "s");
  lathe_status_t st = lathe_op_check_arity(kind, (uint32_t)p->operands.len, num_results);
  if (st) return lathe_parser_relocate(p, &name, st);

  lathe_builder_t b = lathe_builder_at_end(g);
  b.loc = loc_of(p, &first);
  lathe_op_t *op =
      lathe_build_op_typed(&b, kind, (uint32_t)p->operands.len, p->operands.data,
                           (uint32_t)p->attrs.len, p->attrs.data, num_results, p->types.data);
  const lathe_token_t *results = p->result_tokens.data;
  for (uint32_t i = 0; i < num_results; ++i)
    lathe_parser_define_value(p, &results[i], &op->results[i]);
  return NULL;
}

/* 'return' [VALUE (',' VALUE)*], checked against the signature's types. */
static lathe_status_t parse_return(lathe_parser_t *p, lathe_graph_t *g, const lathe_vec_t *sig) {
  lathe_token_t ret = p->tok;
  LATHE_RETURN_IF_ERROR(lathe_parser_advance(p));
  p->operands.len = 0;
  const lathe_type_t *declared = sig->data;
  for (bool more = p->tok.kind == LATHE_TOK_VALUE; more;) {
    lathe_token_t tok = p->tok;
    lathe_value_t *v = NULL;
    LATHE_RETURN_IF_ERROR(lathe_parser_expect(p, LATHE_TOK_VALUE, "a value to return", NULL));
    LATHE_RETURN_IF_ERROR(lookup_value(p, &tok, &v));
    size_t i = p->operands.len;
    if (i < sig->len && !lathe_type_equal(&v->type, &declared[i])) {
      lathe_strbuf_t a, b;
      lathe_strbuf_init(&a);
      lathe_strbuf_init(&b);
      lathe_type_print(&a, &v->type);
      lathe_type_print(&b, &declared[i]);
      lathe_status_t st = lathe_parser_error(
          p, &tok, "returned value '%%%.*s' has type %s but the signature of @%s declares %s",
          (int)tok.len, tok.start, lathe_strbuf_cstr(&a), g->name, lathe_strbuf_cstr(&b));
      lathe_strbuf_destroy(&a);
      lathe_strbuf_destroy(&b);
      return st;
    }
    *(lathe_value_t **)lathe_vec_push(&p->operands, sizeof v) = v;
    LATHE_RETURN_IF_ERROR(accept_comma(p, &more));
  }
  if (p->operands.len != sig->len)
    return lathe_parser_error(p, &ret, "@%s returns %zu value%s but its signature declares %zu",
                              g->name, p->operands.len, p->operands.len == 1 ? "" : "s", sig->len);
  lathe_op_t *op = lathe_build_return(g, (uint32_t)p->operands.len, p->operands.data);
  op->loc = loc_of(p, &ret);
  return NULL;
}

/* ---- graphs and the module ---- */

/* The ops of a graph body up to and including '}'. */
static lathe_status_t parse_body(lathe_parser_t *p, lathe_graph_t *g, const lathe_vec_t *sig,
                                 const lathe_token_t *open) {
  bool returned = false;
  for (;;) {
    if (p->tok.kind == LATHE_TOK_EOF)
      return lathe_parser_error(p, &p->tok,
                                "unexpected end of input: the body of @%s (line %u) has no "
                                "closing '}'",
                                g->name, open->line);
    if (p->tok.kind == LATHE_TOK_RBRACE) break;
    if (returned)
      return lathe_parser_unexpected(p, "'}': 'return' must be the last op of the graph");
    if (lathe_token_is(&p->tok, "return")) {
      LATHE_RETURN_IF_ERROR(parse_return(p, g, sig));
      returned = true;
    } else if (p->tok.kind == LATHE_TOK_VALUE) {
      LATHE_RETURN_IF_ERROR(parse_op(p, g));
    } else {
      return lathe_parser_unexpected(p, "an op, 'return' or '}'");
    }
  }
  if (!returned) return lathe_parser_error(p, &p->tok, "graph @%s has no 'return'", g->name);
  return lathe_parser_advance(p);
}

/* graph := 'graph' '@' NAME '(' [VALUE ':' type (',' VALUE ':' type)*] ')'
 *          '->' '(' [type (',' type)*] ')' '{' op* '}' */
static lathe_status_t parse_graph(lathe_parser_t *p) {
  lathe_token_t kw = p->tok, name = {0};
  LATHE_RETURN_IF_ERROR(lathe_parser_advance(p));
  LATHE_RETURN_IF_ERROR(lathe_parser_expect(p, LATHE_TOK_AT, "'@' and the graph name", NULL));
  LATHE_RETURN_IF_ERROR(lathe_parser_expect(p, LATHE_TOK_IDENT, "a graph name", &name));
  lathe_graph_t *g;
  lathe_status_t st = lathe_graph_create(p->module, token_cstr(p, &name), &g);
  if (st) return lathe_parser_relocate(p, &name, st);
  g->loc = loc_of(p, &kw);
  lathe_hashmap_destroy(&p->values);
  lathe_hashmap_init(&p->values);

  LATHE_RETURN_IF_ERROR(lathe_parser_expect(p, LATHE_TOK_LPAREN, "'('", NULL));
  for (bool more = p->tok.kind != LATHE_TOK_RPAREN; more;) {
    lathe_token_t tok;
    lathe_type_t type;
    LATHE_RETURN_IF_ERROR(lathe_parser_expect(p, LATHE_TOK_VALUE, "an input value", &tok));
    LATHE_RETURN_IF_ERROR(lathe_parser_check_new_value(p, &tok));
    LATHE_RETURN_IF_ERROR(lathe_parser_expect(p, LATHE_TOK_COLON, "':' after the input", NULL));
    LATHE_RETURN_IF_ERROR(lathe_parser_type(p, &type));
    lathe_parser_define_value(p, &tok, lathe_graph_add_input(g, NULL, &type));
    LATHE_RETURN_IF_ERROR(accept_comma(p, &more));
  }
  LATHE_RETURN_IF_ERROR(lathe_parser_expect(p, LATHE_TOK_RPAREN, "',' or ')'", NULL));
  LATHE_RETURN_IF_ERROR(lathe_parser_expect(p, LATHE_TOK_ARROW, "'->' and the result types", NULL));
  LATHE_RETURN_IF_ERROR(
      lathe_parser_expect(p, LATHE_TOK_LPAREN, "'(' before the result types", NULL));
  /* The signature outlives the ops' use of p->types, so it gets its own vector. */
  lathe_vec_t sig = {0};
  for (bool more = p->tok.kind != LATHE_TOK_RPAREN; more && !st;) {
    st = lathe_parser_type(p, lathe_vec_push(&sig, sizeof(lathe_type_t)));
    if (!st) st = accept_comma(p, &more);
  }
  lathe_token_t open;
  if (!st) st = lathe_parser_expect(p, LATHE_TOK_RPAREN, "',' or ')'", NULL);
  if (!st) st = lathe_parser_expect(p, LATHE_TOK_LBRACE, "'{' to open the graph body", &open);
  if (!st) st = parse_body(p, g, &sig, &open);
  lathe_vec_free(&sig);
  return st;
}

/* module := item*;  item := 'weights' STRING | graph */
static lathe_status_t parse_module(lathe_parser_t *p) {
  LATHE_RETURN_IF_ERROR(lathe_parser_advance(p));
  while (p->tok.kind != LATHE_TOK_EOF) {
    if (lathe_token_is(&p->tok, "graph")) LATHE_RETURN_IF_ERROR(parse_graph(p));
    else if (lathe_token_is(&p->tok, "weights"))
      LATHE_RETURN_IF_ERROR(lathe_parser_weights_decl(p));
    else return lathe_parser_unexpected(p, "'graph' or 'weights'");
  }
  return NULL;
}

static void parser_destroy(lathe_parser_t *p) {
  for (size_t i = 0; i < p->files.capacity; ++i)
    if (p->files.slots[i].key) lathe_mapped_file_release(p->files.slots[i].value);
  lathe_hashmap_destroy(&p->files);
  lathe_hashmap_destroy(&p->values);
  lathe_vec_free(&p->operands);
  lathe_vec_free(&p->result_tokens);
  lathe_vec_free(&p->types);
  lathe_vec_free(&p->attrs);
  lathe_vec_free(&p->scratch);
}

lathe_status_t lathe_module_parse(const char *text, size_t len, const char *filename,
                                  const lathe_parse_options_t *options,
                                  lathe_module_t **out_module) {
  static const lathe_parse_options_t no_options = {0};
  if (!text && len)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "no text given to parse");
  lathe_parser_t p = {0};
  p.filename = filename ? filename : "<input>";
  p.options = options ? options : &no_options;
  p.module = lathe_module_create(p.filename);
  if (!p.module) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  p.arena = lathe_module_arena(p.module);
  p.loc_file = lathe_module_source_name(p.module);
  lathe_hashmap_init(&p.values);
  lathe_hashmap_init(&p.files);
  lathe_lexer_init(&p.lex, text ? text : "", len, p.filename);
  lathe_status_t st = parse_module(&p);
  parser_destroy(&p);
  if (!st && !p.options->skip_verify) st = lathe_module_verify(p.module);
  if (st) {
    lathe_module_destroy(p.module);
    return st;
  }
  *out_module = p.module;
  return NULL;
}

lathe_status_t lathe_module_parse_file(const char *path, const lathe_parse_options_t *options,
                                       lathe_module_t **out_module) {
  if (strcmp(path, "-") == 0) {
    lathe_strbuf_t sb;
    lathe_strbuf_init(&sb);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) lathe_strbuf_append_n(&sb, buf, n);
    lathe_status_t st = ferror(stdin)
                            ? lathe_status_make(LATHE_STATUS_IO_ERROR, "cannot read stdin")
                            : lathe_module_parse(sb.data, sb.len, "<stdin>", options, out_module);
    lathe_strbuf_destroy(&sb);
    return st;
  }
  /* Parse straight from the mapping: no copy of the text. */
  lathe_mapped_file_t *file;
  LATHE_RETURN_IF_ERROR(lathe_mapped_file_open(path, &file));
  lathe_status_t st =
      lathe_module_parse((const char *)lathe_mapped_file_data(file),
                         (size_t)lathe_mapped_file_size(file), path, options, out_module);
  lathe_mapped_file_release(file);
  return st;
}
