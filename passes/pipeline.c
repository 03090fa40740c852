/* Parsing pipeline strings into pass instances with typed options.
 *
 *   pipeline := [entry (',' entry)*]
 *   entry    := NAME ['{' [option (',' option)*] '}']
 *   option   := NAME '=' value
 *   value    := '"' [^"]* '"' | [^,}]*        (bare values are trimmed)
 *   NAME     := [A-Za-z0-9_.-]+
 * Blanks around tokens are ignored. The string is checked completely before
 * anything runs, so a typo in the last pass never costs a long run; every
 * error names the pass and option involved.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/pass.h"

typedef struct {
  const char *text; /* the whole pipeline, for error messages */
  const char *p;
  const lathe_pass_info_t *passes; /* the registry to resolve names in */
  uint32_t num_passes;
} cursor_t;

static void skip_blanks(cursor_t *c) {
  while (*c->p == ' ' || *c->p == '\t' || *c->p == '\n') ++c->p;
}

static bool is_name_char(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         ch == '_' || ch == '-' || ch == '.';
}

static size_t scan_name(cursor_t *c) {
  skip_blanks(c);
  size_t n = 0;
  while (is_name_char(c->p[n])) ++n;
  return n;
}

static lathe_status_t syntax_error(const cursor_t *c, const char *what) {
  size_t col = (size_t)(c->p - c->text) + 1;
  if (*c->p)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                             "pipeline '%s': %s at column %zu (found '%c')", c->text, what, col,
                             *c->p);
  return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "pipeline '%s': %s at its end", c->text,
                           what);
}

static void set_default(const lathe_pass_option_schema_t *s, lathe_pass_option_value_t *v) {
  v->kind = s->kind;
  switch (s->kind) {
  case LATHE_PASS_OPT_INT: v->u.i = s->default_int; break;
  case LATHE_PASS_OPT_FLOAT: v->u.f = s->default_float; break;
  case LATHE_PASS_OPT_BOOL: v->u.b = s->default_int != 0; break;
  case LATHE_PASS_OPT_STRING: v->u.s = s->default_string ? s->default_string : ""; break;
  }
}

static const char *const kind_article[] = {"an int", "a float", "a bool", "a string"};

/* Converts the text of one value to the option's type. */
static lathe_status_t convert_value(const lathe_pass_info_t *pass,
                                    const lathe_pass_option_schema_t *s, const char *text,
                                    lathe_arena_t *arena, lathe_pass_option_value_t *out) {
  char *end = NULL;
  out->kind = s->kind;
  errno = 0;
  switch (s->kind) {
  case LATHE_PASS_OPT_INT:
    out->u.i = strtoll(text, &end, 10);
    if (*text && !*end && errno == 0) return NULL;
    break;
  case LATHE_PASS_OPT_FLOAT:
    out->u.f = strtod(text, &end);
    if (*text && !*end && !(errno == ERANGE && isinf(out->u.f))) return NULL;
    break;
  case LATHE_PASS_OPT_BOOL:
    if (!strcmp(text, "true") || !strcmp(text, "1")) return out->u.b = true, NULL;
    if (!strcmp(text, "false") || !strcmp(text, "0")) return out->u.b = false, NULL;
    break;
  case LATHE_PASS_OPT_STRING: out->u.s = lathe_arena_strdup(arena, text); return NULL;
  }
  return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                           "option '%s' of pass '%s' expects %s, got '%s'", s->name, pass->name,
                           kind_article[s->kind], text);
}

/* Reads a value up to ',' or '}' (or a quoted string) into an arena string. */
static lathe_status_t scan_value(cursor_t *c, lathe_arena_t *arena, char **out_text) {
  skip_blanks(c);
  if (*c->p == '"') {
    const char *close = strchr(c->p + 1, '"');
    if (!close) return syntax_error(c, "unterminated quoted value");
    *out_text = lathe_arena_strndup(arena, c->p + 1, (size_t)(close - c->p - 1));
    c->p = close + 1;
    return NULL;
  }
  size_t n = strcspn(c->p, ",}");
  while (n && (c->p[n - 1] == ' ' || c->p[n - 1] == '\t')) --n;
  *out_text = lathe_arena_strndup(arena, c->p, n);
  c->p += n;
  return NULL;
}

/* Parses `{k=v,...}` after a pass name into `values` (defaults already set). */
static lathe_status_t parse_options(cursor_t *c, lathe_arena_t *arena,
                                    const lathe_pass_info_t *pass,
                                    lathe_pass_option_value_t *values) {
  ++c->p; /* '{' */
  uint32_t n = lathe_pass_num_options(pass);
  bool given[n + 1];
  memset(given, 0, sizeof given);
  skip_blanks(c);
  if (*c->p == '}') return ++c->p, NULL;
  for (;;) {
    size_t len = scan_name(c);
    if (!len) return syntax_error(c, "expected an option name");
    const char *key = c->p;
    c->p += len;
    uint32_t idx = 0;
    while (idx < n && !(strlen(pass->options[idx].name) == len &&
                        memcmp(pass->options[idx].name, key, len) == 0))
      ++idx;
    if (idx == n)
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "pass '%s' has no option '%.*s'",
                               pass->name, (int)len, key);
    if (given[idx])
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                               "option '%s' of pass '%s' is given twice", pass->options[idx].name,
                               pass->name);
    given[idx] = true;
    skip_blanks(c);
    if (*c->p != '=')
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                               "option '%s' of pass '%s' needs a value ('%s=VALUE')",
                               pass->options[idx].name, pass->name, pass->options[idx].name);
    ++c->p;
    char *text = NULL;
    LATHE_RETURN_IF_ERROR(scan_value(c, arena, &text));
    LATHE_RETURN_IF_ERROR(convert_value(pass, &pass->options[idx], text, arena, &values[idx]));
    skip_blanks(c);
    if (*c->p == '}') return ++c->p, NULL;
    if (*c->p != ',') return syntax_error(c, "expected ',' or '}' after an option value");
    ++c->p;
  }
}

static lathe_status_t parse_entries(cursor_t *c, lathe_pipeline_t *pl, uint32_t cap) {
  skip_blanks(c);
  if (!*c->p) return NULL;
  for (;;) {
    size_t len = scan_name(c);
    if (!len) return syntax_error(c, "expected a pass name");
    const lathe_pass_info_t *pass = lathe_pass_lookup(c->passes, c->num_passes, c->p, len);
    if (!pass)
      return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                               "unknown pass '%.*s' (see --list-passes)", (int)len, c->p);
    c->p += len;
    uint32_t n = lathe_pass_num_options(pass);
    lathe_pass_option_value_t *values =
        LATHE_ARENA_NEW_ARRAY(&pl->arena, lathe_pass_option_value_t, n ? n : 1);
    for (uint32_t i = 0; i < n; ++i) set_default(&pass->options[i], &values[i]);
    skip_blanks(c);
    if (*c->p == '{') LATHE_RETURN_IF_ERROR(parse_options(c, &pl->arena, pass, values));
    if (pl->num_entries == cap) return syntax_error(c, "too many passes");
    pl->entries[pl->num_entries++] = (lathe_pipeline_entry_t){pass, values};
    skip_blanks(c);
    if (!*c->p) return NULL;
    if (*c->p != ',') return syntax_error(c, "expected ',' between passes");
    ++c->p;
  }
}

lathe_status_t lathe_pipeline_parse_with(const lathe_pass_info_t *passes, uint32_t num_passes,
                                         const char *text, lathe_pipeline_t **out_pipeline) {
  lathe_pipeline_t *pl = calloc(1, sizeof *pl);
  if (!pl) return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  lathe_arena_init(&pl->arena);
  pl->registry = passes;
  pl->registry_size = num_passes;
  /* Each pass but the last is followed by a comma: that bounds the count. */
  uint32_t cap = 1;
  for (const char *p = text; *p; ++p) cap += *p == ',';
  pl->entries = LATHE_ARENA_NEW_ARRAY(&pl->arena, lathe_pipeline_entry_t, cap);
  cursor_t c = {text, text, passes, num_passes};
  lathe_status_t st = parse_entries(&c, pl, cap);
  if (st) {
    lathe_pipeline_destroy(pl);
    return st;
  }
  *out_pipeline = pl;
  return NULL;
}

lathe_status_t lathe_pipeline_parse(const char *text, lathe_pipeline_t **out_pipeline) {
  return lathe_pipeline_parse_with(lathe_pass_at(0), lathe_pass_count(), text, out_pipeline);
}

void lathe_pipeline_destroy(lathe_pipeline_t *pl) {
  if (!pl) return;
  lathe_arena_destroy(&pl->arena);
  free(pl);
}

uint32_t lathe_pipeline_num_passes(const lathe_pipeline_t *pl) { return pl->num_entries; }

const char *lathe_pipeline_pass_name(const lathe_pipeline_t *pl, uint32_t i) {
  return i < pl->num_entries ? pl->entries[i].pass->name : NULL;
}

static void print_value(lathe_strbuf_t *sb, const lathe_pass_option_value_t *v) {
  switch (v->kind) {
  case LATHE_PASS_OPT_INT: lathe_strbuf_printf(sb, "%" PRId64, v->u.i); break;
  case LATHE_PASS_OPT_FLOAT: {
    /* Shortest form that reads back as the same double. */
    char buf[32];
    for (int prec = 1; prec <= 17; ++prec) {
      snprintf(buf, sizeof buf, "%.*g", prec, v->u.f);
      if (strtod(buf, NULL) == v->u.f || isnan(v->u.f)) break;
    }
    lathe_strbuf_append(sb, buf);
    break;
  }
  case LATHE_PASS_OPT_BOOL: lathe_strbuf_append(sb, v->u.b ? "true" : "false"); break;
  case LATHE_PASS_OPT_STRING:
    if (strpbrk(v->u.s, ",} ") || !*v->u.s) lathe_strbuf_printf(sb, "\"%s\"", v->u.s);
    else lathe_strbuf_append(sb, v->u.s);
    break;
  }
}

void lathe_pipeline_print(lathe_strbuf_t *sb, const lathe_pipeline_t *pl) {
  for (uint32_t i = 0; i < pl->num_entries; ++i) {
    const lathe_pipeline_entry_t *e = &pl->entries[i];
    if (i) lathe_strbuf_putc(sb, ',');
    lathe_strbuf_append(sb, e->pass->name);
    uint32_t n = lathe_pass_num_options(e->pass);
    for (uint32_t j = 0; j < n; ++j) {
      lathe_strbuf_append(sb, j ? "," : "{");
      lathe_strbuf_printf(sb, "%s=", e->pass->options[j].name);
      print_value(sb, &e->options[j]);
    }
    if (n) lathe_strbuf_putc(sb, '}');
  }
}
