/* config.json: typed reads of the keys the family builders need.
 *
 * transformers writes every family-specific key but leaves out shared keys
 * equal to PretrainedConfig's defaults, and several keys are legitimately
 * null ("n_inner": null means 4 * n_embd). So each read says whether the key
 * is required or what an absent/null key means, and a present key of the
 * wrong type is always an error: guessing would build a different model.
 * Messages are one line, "DIR/config.json: KEY: what is wrong", quoting the
 * offending JSON value.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/hf/hf_internal.h"
#include "support/mapped_file.h"
#include "support/strbuf.h"

lathe_status_t hf_config_error(const hf_config_t *c, lathe_status_code_t code, const char *key,
                               const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lathe_status_t s = lathe_status_makev(code, fmt, ap);
  va_end(ap);
  if (key) s = lathe_status_annotate(s, "%s", key);
  return lathe_status_annotate(s, "%s", c->path);
}

/* 1-based line and column of byte `offset` in text. */
static void line_col(const char *text, size_t offset, size_t *out_line, size_t *out_col) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  *out_line = line;
  *out_col = col;
}

lathe_status_t hf_config_load(const char *path, hf_config_t *out) {
  lathe_mapped_file_t *file;
  LATHE_RETURN_IF_ERROR(lathe_mapped_file_open(path, &file));
  const char *text = (const char *)lathe_mapped_file_data(file);
  size_t size = (size_t)lathe_mapped_file_size(file);
  hf_config_t c = {.path = path};
  const char *end = NULL;
  c.root = text ? cJSON_ParseWithLengthOpts(text, size, &end, 0) : NULL;
  lathe_status_t st = NULL;
  if (!c.root) {
    size_t line = 1, col = 1;
    if (text && end && end >= text) line_col(text, (size_t)(end - text), &line, &col);
    st = hf_config_error(&c, LATHE_STATUS_PARSE_ERROR, NULL,
                         "JSON syntax error near line %zu, column %zu", line, col);
  } else if (!cJSON_IsObject(c.root)) {
    st = hf_config_error(&c, LATHE_STATUS_PARSE_ERROR, NULL, "not a JSON object");
  }
  lathe_mapped_file_release(file);
  if (st) {
    hf_config_free(&c);
    return st;
  }
  *out = c;
  return NULL;
}

void hf_config_free(hf_config_t *c) {
  if (c) cJSON_Delete(c->root);
}

/* The key's item, or NULL when absent or null. */
static const cJSON *item(const hf_config_t *c, const char *key) {
  const cJSON *it = cJSON_GetObjectItemCaseSensitive(c->root, key);
  return cJSON_IsNull(it) ? NULL : it;
}

bool hf_config_has(const hf_config_t *c, const char *key) { return item(c, key) != NULL; }

static lathe_status_t missing(const hf_config_t *c, const char *key) {
  return hf_config_error(c, LATHE_STATUS_INVALID_ARGUMENT, key, "missing (or null)");
}

/* "expected X, got <the JSON value>" with long values cut short. */
static lathe_status_t ill_typed(const hf_config_t *c, const char *key, const cJSON *it,
                                const char *expected) {
  char *json = cJSON_PrintUnformatted(it);
  lathe_status_t s =
      hf_config_error(c, LATHE_STATUS_INVALID_ARGUMENT, key, "expected %s, got %.40s%s", expected,
                      json ? json : "?", json && strlen(json) > 40 ? "..." : "");
  free(json);
  return s;
}

static lathe_status_t read_size(const hf_config_t *c, const char *key, const cJSON *it,
                                int64_t *out) {
  double v = cJSON_IsNumber(it) ? it->valuedouble : NAN;
  if (!(v >= 1 && v <= (double)HF_MAX_SIZE && v == floor(v)))
    return ill_typed(c, key, it, "a whole number from 1 to 2^31");
  *out = (int64_t)v;
  return NULL;
}

lathe_status_t hf_config_size(const hf_config_t *c, const char *key, int64_t *out) {
  const cJSON *it = item(c, key);
  return it ? read_size(c, key, it, out) : missing(c, key);
}

lathe_status_t hf_config_size_or(const hf_config_t *c, const char *key, int64_t fallback,
                                 int64_t *out) {
  const cJSON *it = item(c, key);
  if (!it) {
    *out = fallback;
    return NULL;
  }
  return read_size(c, key, it, out);
}

lathe_status_t hf_config_number_or(const hf_config_t *c, const char *key, double fallback,
                                   double *out) {
  const cJSON *it = item(c, key);
  if (!it) {
    *out = fallback;
    return NULL;
  }
  double v = cJSON_IsNumber(it) ? it->valuedouble : NAN;
  if (!(v >= 0 && isfinite(v))) return ill_typed(c, key, it, "a finite number >= 0");
  *out = v;
  return NULL;
}

lathe_status_t hf_config_bool_or(const hf_config_t *c, const char *key, bool fallback, bool *out) {
  const cJSON *it = item(c, key);
  if (!it) {
    *out = fallback;
    return NULL;
  }
  if (!cJSON_IsBool(it)) return ill_typed(c, key, it, "true or false");
  *out = cJSON_IsTrue(it);
  return NULL;
}

lathe_status_t hf_config_string_or(const hf_config_t *c, const char *key, const char *fallback,
                                   const char **out) {
  const cJSON *it = item(c, key);
  if (!it) {
    *out = fallback;
    return NULL;
  }
  if (!cJSON_IsString(it)) return ill_typed(c, key, it, "a string");
  *out = it->valuestring;
  return NULL;
}

lathe_status_t hf_config_string(const hf_config_t *c, const char *key, const char **out) {
  if (!item(c, key)) return missing(c, key);
  return hf_config_string_or(c, key, NULL, out);
}

lathe_status_t hf_config_require_null(const hf_config_t *c, const char *key) {
  const cJSON *it = item(c, key);
  if (!it) return NULL;
  char *json = cJSON_PrintUnformatted(it);
  lathe_status_t s =
      hf_config_error(c, LATHE_STATUS_UNSUPPORTED, key, "%.40s%s is not supported (only null)",
                      json ? json : "?", json && strlen(json) > 40 ? "..." : "");
  free(json);
  return s;
}

lathe_status_t hf_config_require_bool(const hf_config_t *c, const char *key, bool expected,
                                      const char *why) {
  bool v;
  LATHE_RETURN_IF_ERROR(hf_config_bool_or(c, key, expected, &v));
  if (v != expected)
    return hf_config_error(c, LATHE_STATUS_UNSUPPORTED, key, "%s is not supported (%s)",
                           v ? "true" : "false", why);
  return NULL;
}

lathe_status_t hf_config_check_divides(const hf_config_t *c, const char *divisor_key,
                                       int64_t divisor, const char *key, int64_t value) {
  if (value % divisor == 0) return NULL;
  return hf_config_error(c, LATHE_STATUS_INVALID_ARGUMENT, divisor_key,
                         "%" PRId64 " does not divide %s = %" PRId64, divisor, key, value);
}

/* ---- activations ---- */

/* transformers' ACT2FN names for the functions Lathe has ops for. gelu_fast
 * and gelu_pytorch_tanh are gelu_new's formula written differently. */
static const struct {
  const char *name;
  hf_act_t act;
} activations[] = {
    {"relu", HF_ACT_RELU},
    {"gelu", HF_ACT_GELU},
    {"gelu_new", HF_ACT_GELU_TANH},
    {"gelu_fast", HF_ACT_GELU_TANH},
    {"gelu_pytorch_tanh", HF_ACT_GELU_TANH},
    {"silu", HF_ACT_SILU},
    {"swish", HF_ACT_SILU},
};
#define NUM_ACTIVATIONS (sizeof activations / sizeof activations[0])

lathe_status_t hf_config_activation_or(const hf_config_t *c, const char *key, const char *fallback,
                                       hf_act_t *out) {
  const char *name = NULL;
  LATHE_RETURN_IF_ERROR(hf_config_string_or(c, key, fallback, &name));
  for (size_t i = 0; i < NUM_ACTIVATIONS; ++i)
    if (!strcmp(name, activations[i].name)) {
      *out = activations[i].act;
      return NULL;
    }
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  for (size_t i = 0; i < NUM_ACTIVATIONS; ++i)
    lathe_strbuf_printf(&sb, "%s%s", i ? ", " : "", activations[i].name);
  lathe_status_t s =
      hf_config_error(c, LATHE_STATUS_UNSUPPORTED, key, "'%s' is not supported (supported: %s)",
                      name, lathe_strbuf_cstr(&sb));
  lathe_strbuf_destroy(&sb);
  return s;
}
