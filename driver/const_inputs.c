/* Graph inputs given fixed values (lathe_options_set_const_input).
 *
 * Lathe keeps shapes and axes as attributes, so an ONNX model whose Reshape
 * shape, Slice bounds or TopK k arrive as graph inputs cannot be compiled
 * until those inputs have values. A host that knows them (they are often
 * fixed for a deployment: a sequence length, a crop box) gives them here; the
 * importer turns each into a constant and folds what depends on it, and the
 * input leaves the compiled model's signature. The options own copies of the
 * values, so the caller's buffers may go as soon as the setter returns.
 */
#include <stdlib.h>
#include <string.h>

#include "driver/internal.h"

static void entry_free(const_input_t *c) {
  free(c->name);
  free(c->value.data);
}

void const_inputs_clear(lathe_options_t *o) {
  for (int32_t i = 0; i < o->num_const_inputs; ++i) entry_free(&o->const_inputs[i]);
  free(o->const_inputs);
  o->const_inputs = NULL;
  o->num_const_inputs = 0;
}

/* A dense, owned copy of `value` named `name`. */
static lathe_status_t entry_make(const char *name, const lathe_rt_tensor_t *value,
                                 const_input_t *out) {
  uint64_t bytes;
  LATHE_RETURN_IF_ERROR(lathe_rt_tensor_dense_bytes(value, &bytes));
  if (value->byte_size < bytes)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                             "the value holds %llu bytes, its type needs %llu",
                             (unsigned long long)value->byte_size, (unsigned long long)bytes);
  const_input_t c = {.name = strdup(name), .value = *value};
  c.value.flags &= ~(uint32_t)LATHE_RT_TENSOR_STRIDED; /* the copy is dense */
  c.value.data = malloc(bytes ? bytes : 1);
  if (!c.name || !c.value.data) {
    entry_free(&c);
    return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  if (bytes) memcpy(c.value.data, value->data, bytes);
  c.value.byte_size = bytes;
  *out = c;
  return NULL;
}

lathe_status_t const_inputs_copy(lathe_options_t *dst, const lathe_options_t *src) {
  dst->const_inputs = NULL;
  dst->num_const_inputs = 0;
  if (!src->num_const_inputs) return NULL;
  dst->const_inputs = calloc((size_t)src->num_const_inputs, sizeof *dst->const_inputs);
  if (!dst->const_inputs)
    return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  for (int32_t i = 0; i < src->num_const_inputs; ++i) {
    const const_input_t *c = &src->const_inputs[i];
    LATHE_RETURN_IF_ERROR(entry_make(c->name, &c->value, &dst->const_inputs[i]));
    ++dst->num_const_inputs;
  }
  return NULL;
}

static int32_t find(const lathe_options_t *o, const char *name) {
  for (int32_t i = 0; i < o->num_const_inputs; ++i)
    if (!strcmp(o->const_inputs[i].name, name)) return i;
  return -1;
}

lathe_status_t lathe_options_set_const_input(lathe_options_t *o, const char *name,
                                             const lathe_rt_tensor_t *value) {
  if (!o) return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "options: NULL handle");
  if (!name || !*name)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "const input: no name");
  int32_t at = find(o, name);
  if (!value) { /* removal keeps the others in the order they were given */
    if (at < 0) return NULL;
    entry_free(&o->const_inputs[at]);
    memmove(&o->const_inputs[at], &o->const_inputs[at + 1],
            (size_t)(o->num_const_inputs - at - 1) * sizeof *o->const_inputs);
    --o->num_const_inputs;
    return NULL;
  }
  if (!value->data && value->byte_size)
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "const input '%s': no data", name);
  if (!lathe_rt_tensor_is_dense(value))
    return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT,
                             "const input '%s': the value must be a dense row-major tensor", name);
  const_input_t c;
  LATHE_RETURN_IF_ERROR_CTX(entry_make(name, value, &c), "const input '%s'", name);
  if (at >= 0) {
    entry_free(&o->const_inputs[at]);
    o->const_inputs[at] = c;
    return NULL;
  }
  const_input_t *grown =
      realloc(o->const_inputs, (size_t)(o->num_const_inputs + 1) * sizeof *grown);
  if (!grown) {
    entry_free(&c);
    return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  o->const_inputs = grown;
  o->const_inputs[o->num_const_inputs++] = c;
  return NULL;
}
