/* The conversions a row of op_table.def cannot express. Each runs after the
 * generic mapping (operands materialized, attributes converted) and either
 * adjusts the onnx_conv_t or builds the ops itself and sets c->op.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"

static lathe_status_t build(onnx_conv_t *c, lathe_op_kind_t kind, uint32_t num_operands,
                            lathe_value_t *const *operands, uint32_t num_attrs,
                            const lathe_attr_t *attrs, lathe_op_t **out_op) {
  lathe_status_t st = lathe_build_op(c->ctx->builder, kind, num_operands, operands, num_attrs,
                                     attrs, 0, out_op);
  return st ? lathe_status_annotate(st, "node %s (%s)", c->ctx->label, c->ctx->node->op_type)
            : NULL;
}

static lathe_value_t **grow_operands(onnx_conv_t *c, uint32_t n) {
  lathe_value_t **ops = LATHE_ARENA_NEW_ARRAY(lathe_module_arena(c->ctx->module),
                                              lathe_value_t *, n);
  memcpy(ops, c->operands, c->num_operands * sizeof *ops);
  return ops;
}

/* Clip before opset 11: min and max are float attributes; Lathe takes them
 * as scalar operands of x's dtype. */
lathe_status_t onnx_special_clip_6(onnx_conv_t *c) {
  if (c->num_operands < 1) return onnx_conv_error(c, "missing input");
  lathe_value_t **ops = grow_operands(c, 3);
  lathe_dtype_t dtype = ops[0]->type.dtype;
  const char *names[2] = {"min", "max"};
  uint32_t n = 1;
  for (uint32_t i = 0; i < 2; ++i) {
    const Onnx__AttributeProto *a = onnx_node_attr(c->ctx->node, names[i]);
    ops[1 + i] = NULL;
    if (!a) continue;
    LATHE_RETURN_IF_ERROR(onnx_conv_scalar(c, dtype, a->f, &ops[1 + i]));
    n = 2 + i;
  }
  c->operands = ops;
  c->num_operands = n;
  return NULL;
}

/* Pad before opset 11: the fill value is attribute `value`; Lathe takes it
 * as an optional scalar operand. */
lathe_status_t onnx_special_pad_value(onnx_conv_t *c) {
  const Onnx__AttributeProto *a = onnx_node_attr(c->ctx->node, "value");
  if (!a || a->f == 0.0f || c->num_operands != 1) return NULL;
  lathe_value_t **ops = grow_operands(c, 2);
  LATHE_RETURN_IF_ERROR(onnx_conv_scalar(c, ops[0]->type.dtype, a->f, &ops[1]));
  c->operands = ops;
  c->num_operands = 2;
  return NULL;
}

/* Softmax, LogSoftmax and Hardmax before opset 13 coerce the input to 2-D:
 * [prod(dims[:axis]), prod(dims[axis:])], normalize each row, and reshape
 * back. Over the last axis that is the opset-13 op; otherwise flatten, run
 * over the last axis, and reshape to the (static) input shape. */
lathe_status_t onnx_special_softmax_2d(onnx_conv_t *c) {
  if (c->num_operands != 1) return onnx_conv_error(c, "expects one input");
  const lathe_type_t *t = &c->operands[0]->type;
  const lathe_attr_t *a = onnx_conv_find_attr(c, "axis");
  int64_t axis = a ? a->u.i : 1, rank = t->rank;
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank)
    return onnx_conv_error(c, "axis %lld is out of range for rank %lld",
                           (long long)(a ? a->u.i : 1), (long long)rank);
  onnx_conv_set_attr(c, lathe_attr_int("axis", -1));
  if (axis == rank - 1) return NULL;

  int64_t dims[LATHE_MAX_RANK];
  for (uint32_t i = 0; i < t->rank; ++i) {
    if (!lathe_dim_is_static(t->dims[i]))
      return onnx_conv_error(c, "axis %lld is not the last one and the input shape is not "
                             "static; the pre-opset-13 2-D coercion needs static dims",
                             (long long)axis);
    dims[i] = t->dims[i].size;
  }
  lathe_op_t *flat, *norm, *back;
  lathe_attr_t flat_axis = lathe_attr_int("axis", axis);
  LATHE_RETURN_IF_ERROR(build(c, LATHE_OP_FLATTEN, 1, c->operands, 1, &flat_axis, &flat));
  LATHE_RETURN_IF_ERROR(
      build(c, c->kind, 1, &(lathe_value_t *){&flat->results[0]}, c->num_attrs, c->attrs, &norm));
  lathe_attr_t shape = lathe_attr_ints("shape", dims, t->rank);
  LATHE_RETURN_IF_ERROR(
      build(c, LATHE_OP_RESHAPE, 1, &(lathe_value_t *){&norm->results[0]}, 1, &shape, &back));
  c->op = back;
  return NULL;
}

/* Upsample (opsets 7-9) and Resize 10 map source coordinates as
 * x_in = x_out / scale ("asymmetric") and round nearest neighbours down. */
lathe_status_t onnx_special_upsample(onnx_conv_t *c) {
  onnx_conv_set_attr(c, lathe_attr_string("coordinate_transformation_mode", "asymmetric"));
  const lathe_attr_t *mode = onnx_conv_find_attr(c, "mode");
  if (!mode || !strcmp(mode->u.s, "nearest"))
    onnx_conv_set_attr(c, lathe_attr_string("nearest_mode", "floor"));
  return NULL;
}

/* GroupNormalization 18 has one scale and bias per group; Lathe's (opset
 * 21's) has one per channel: repeat each C/G times (C must be static). */
lathe_status_t onnx_special_group_norm_18(onnx_conv_t *c) {
  if (c->num_operands != 3) return onnx_conv_error(c, "expects three inputs");
  const lathe_type_t *x = &c->operands[0]->type;
  const lathe_attr_t *g = onnx_conv_find_attr(c, "num_groups");
  if (!g || g->u.i <= 0) return onnx_conv_error(c, "needs a positive num_groups");
  if (x->rank < 2 || !lathe_dim_is_static(x->dims[1]) || x->dims[1].size % g->u.i)
    return onnx_conv_error(c, "the channel dim must be static and a multiple of num_groups");
  int64_t groups = g->u.i, channels = x->dims[1].size;
  lathe_value_t **ops = grow_operands(c, 3);
  for (uint32_t i = 1; i < 3; ++i) {
    int64_t col[2] = {groups, 1}, grid[2] = {groups, channels / groups};
    lathe_attr_t a_col = lathe_attr_ints("shape", col, 2), a_grid = lathe_attr_ints("shape", grid, 2),
                 a_flat = lathe_attr_ints("shape", &channels, 1);
    lathe_op_t *r1, *e, *r2;
    LATHE_RETURN_IF_ERROR(build(c, LATHE_OP_RESHAPE, 1, &ops[i], 1, &a_col, &r1));
    LATHE_RETURN_IF_ERROR(
        build(c, LATHE_OP_EXPAND, 1, &(lathe_value_t *){&r1->results[0]}, 1, &a_grid, &e));
    LATHE_RETURN_IF_ERROR(
        build(c, LATHE_OP_RESHAPE, 1, &(lathe_value_t *){&e->results[0]}, 1, &a_flat, &r2));
    ops[i] = &r2->results[0];
  }
  c->operands = ops;
  return NULL;
}

/* ConstantOfShape with a constant shape is a splat constant: build it. The
 * fill element is attribute `value` (one element, default f32 0). */
lathe_status_t onnx_special_constant_of_shape(onnx_conv_t *c) {
  const Onnx__NodeProto *node = c->ctx->node;
  onnx_value_t *in = NULL;
  if (node->n_input >= 1)
    LATHE_RETURN_IF_ERROR_CTX(c->ctx->lookup(c->ctx->self, node->input[0], &in), "node %s (%s)",
                              c->ctx->label, node->op_type);
  if (!in) return onnx_conv_error(c, "missing input");
  const char *why = NULL;
  LATHE_RETURN_IF_ERROR(c->ctx->constant(c->ctx->self, in, &why));
  if (!in->konst)
    return lathe_status_make(LATHE_STATUS_UNSUPPORTED,
                             "input '%s' of node %s (ConstantOfShape) must be a constant, but %s",
                             node->input[0], c->ctx->label, why);
  int64_t rank = onnx_const_count(in->konst), count = 1;
  if (rank > LATHE_MAX_RANK) return onnx_conv_error(c, "rank %lld is too large", (long long)rank);
  int64_t dims[LATHE_MAX_RANK];
  for (int64_t i = 0; i < rank; ++i) {
    dims[i] = onnx_const_int(in->konst, i);
    if (dims[i] < 0 || !lathe_checked_mul_i64(count, dims[i], &count))
      return onnx_conv_error(c, "shape dim %lld is negative or the size overflows", (long long)i);
  }
  onnx_const_t fill = {0};
  float zero = 0.0f;
  const uint8_t *elem = (const uint8_t *)&zero;
  lathe_dtype_t dtype = LATHE_DTYPE_F32;
  for (size_t i = 0; i < node->n_attribute; ++i) {
    if (strcmp(node->attribute[i]->name, "value") || !node->attribute[i]->t) continue;
    LATHE_RETURN_IF_ERROR(c->ctx->attr_tensor(c->ctx->self, i, &fill));
    if (onnx_const_count(&fill) != 1)
      return onnx_conv_error(c, "attribute 'value' must hold one element");
    dtype = fill.type.dtype;
    elem = fill.data;
  }
  unsigned bits = lathe_dtype_bits(dtype), size = bits / 8;
  uint64_t bytes;
  if (bits < 8) return onnx_conv_error(c, "%s fill values are not supported", lathe_dtype_name(dtype));
  if (!lathe_dtype_storage_bytes(dtype, (uint64_t)count, &bytes) || bytes > ((uint64_t)1 << 32))
    return onnx_conv_error(c, "the constant is too large (%lld elements)", (long long)count);
  uint8_t *buf = malloc(bytes ? bytes : 1);
  if (!buf) return onnx_conv_error(c, "out of memory");
  for (int64_t i = 0; i < count; ++i) memcpy(buf + (size_t)i * size, elem, size);
  lathe_weight_t *w = lathe_weight_adopt_buffer(c->ctx->module, dtype, buf, bytes);
  lathe_type_t type = lathe_type_make_static(lathe_module_arena(c->ctx->module), dtype,
                                             (uint32_t)rank, dims);
  lathe_value_t *v;
  LATHE_RETURN_IF_ERROR(lathe_build_const(c->ctx->builder, w, &type, &v));
  c->op = v->def;
  return NULL;
}

/* Element i of a Range result: start + i * delta (the spec's definition,
 * computed in the domain of the dtype and stored little-endian). */
static void range_store(lathe_dtype_t dtype, uint8_t *buf, int64_t i, const double *f,
                        const int64_t *n) {
  switch (dtype) {
  case LATHE_DTYPE_F32: {
    float v = (float)(f[0] + (double)i * f[2]);
    memcpy(buf + i * 4, &v, 4);
    break;
  }
  case LATHE_DTYPE_F64: {
    double v = f[0] + (double)i * f[2];
    memcpy(buf + i * 8, &v, 8);
    break;
  }
  default: {
    unsigned size = lathe_dtype_bits(dtype) / 8;
    uint64_t v = (uint64_t)n[0] + (uint64_t)i * (uint64_t)n[2];
    for (unsigned b = 0; b < size; ++b) buf[(size_t)i * size + b] = (uint8_t)(v >> (8 * b));
  }
  }
}

/* The element count of Range(start, limit, delta): max(ceil((limit - start)
 * / delta), 0); -1 when delta is 0 or the count does not fit. */
static int64_t range_count(bool is_float, const double *f, const int64_t *n) {
  if (is_float) {
    if (f[2] == 0 || f[0] != f[0] || f[1] != f[1]) return -1;
    double count = ceil((f[1] - f[0]) / f[2]);
    return count <= 0 ? 0 : count > (double)INT32_MAX ? -1 : (int64_t)count;
  }
  int64_t diff;
  if (n[2] == 0 || __builtin_sub_overflow(n[1], n[0], &diff)) return -1;
  int64_t count = diff / n[2];
  if (diff % n[2] && (diff > 0) == (n[2] > 0)) ++count;
  return count < 0 ? 0 : count;
}

/* Range over constants is a constant: computed here, because Lathe's range
 * has a data-dependent `?` length that no evaluator can fold, and the axes
 * and shapes that function bodies derive from it (reductions over
 * Range(0, Size(Shape(x)))) must become attributes. The inputs are folded
 * on demand. A Range over other values, or one with more than
 * ONNX_FOLD_MAX_ELEMENTS elements, stays a range op. */
lathe_status_t onnx_special_range(onnx_conv_t *c) {
  const Onnx__NodeProto *node = c->ctx->node;
  onnx_value_t *in[3] = {NULL, NULL, NULL};
  bool constant = node->n_input == 3;
  for (uint32_t i = 0; i < 3 && i < node->n_input; ++i) {
    LATHE_RETURN_IF_ERROR_CTX(c->ctx->lookup(c->ctx->self, node->input[i], &in[i]),
                              "node %s (%s)", c->ctx->label, node->op_type);
    const char *why;
    if (in[i]) LATHE_RETURN_IF_ERROR(c->ctx->constant(c->ctx->self, in[i], &why));
    constant = constant && in[i] && in[i]->konst && onnx_const_count(in[i]->konst) == 1;
  }
  lathe_dtype_t dtype = constant ? in[0]->konst->type.dtype : LATHE_DTYPE_INVALID;
  bool is_float = dtype == LATHE_DTYPE_F32 || dtype == LATHE_DTYPE_F64;
  bool is_int = dtype == LATHE_DTYPE_I16 || dtype == LATHE_DTYPE_I32 || dtype == LATHE_DTYPE_I64;
  double f[3] = {0};
  int64_t n[3] = {0};
  for (uint32_t i = 0; i < 3 && (is_float || is_int); ++i) {
    f[i] = onnx_const_float(in[i]->konst, 0);
    n[i] = onnx_const_int(in[i]->konst, 0);
  }
  int64_t count = is_float || is_int ? range_count(is_float, f, n) : -1;
  if (count < 0 || count > ONNX_FOLD_MAX_ELEMENTS) {
    /* Folding may have replaced the values the operands were taken from. */
    for (uint32_t i = 0; i < c->num_operands; ++i)
      if (in[i]) LATHE_RETURN_IF_ERROR(c->ctx->materialize(c->ctx->self, in[i], &c->operands[i]));
    return NULL;
  }
  unsigned size = lathe_dtype_bits(dtype) / 8;
  uint8_t *buf = malloc(count ? (size_t)count * size : 1);
  if (!buf) return onnx_conv_error(c, "out of memory");
  for (int64_t i = 0; i < count; ++i) range_store(dtype, buf, i, f, n);
  lathe_weight_t *w = lathe_weight_adopt_buffer(c->ctx->module, dtype, buf, (uint64_t)count * size);
  lathe_type_t type = lathe_type_make_static(lathe_module_arena(c->ctx->module), dtype, 1, &count);
  lathe_value_t *v;
  LATHE_RETURN_IF_ERROR(lathe_build_const(c->ctx->builder, w, &type, &v));
  c->op = v->def;
  return NULL;
}
