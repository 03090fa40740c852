/* Inference for convolutions (conv, conv_transpose, conv_integer,
 * qlinear_conv) and the sliding-window helper they share with pooling
 * (infer_pool.c): reading and checking kernel_shape / strides / dilations /
 * pads / auto_pad, and the output size of one spatial dim.
 *
 * Layout is ONNX's: x [N, C, D1..Dn], weight [M, C/group, k1..kn] (transposed
 * convolution: [C, M/group, k1..kn]), result [N, M, O1..On].
 */
#include <inttypes.h>
#include <string.h>

#include "ir/infer.h"

static const char auto_pad_choices[] = "NOTSET|SAME_UPPER|SAME_LOWER|VALID";

/* Reads a positive-entries INTS attribute of n entries (empty: all `dflt`). */
static lathe_status_t read_list(const lathe_op_t *op, const char *name, uint32_t n, int64_t min,
                                int64_t dflt, int64_t *out) {
  const int64_t *v;
  size_t count = lathe_op_attr_ints(op, name, &v);
  if (count == 0) {
    for (uint32_t i = 0; i < n; ++i) out[i] = dflt;
    return NULL;
  }
  if (count != n)
    return strcmp(name, "pads") == 0
               ? LATHE_INFER_ERROR("pads has %zu entries but the input has %u spatial dims "
                                   "(expected 2 per dim)", count, n / 2)
               : LATHE_INFER_ERROR("%s has %zu entries but the input has %u spatial dims", name,
                                   count, n);
  for (uint32_t i = 0; i < n; ++i) {
    if (v[i] < min)
      return LATHE_INFER_ERROR("%s[%u] is %" PRId64 ", must be >= %" PRId64, name, i, v[i], min);
    out[i] = v[i];
  }
  return NULL;
}

lathe_status_t lathe_window_read(const lathe_op_t *op, uint32_t spatial,
                                 const lathe_dim_t *weight_kernel, lathe_window_t *out) {
  memset(out, 0, sizeof *out);
  out->n = spatial;
  LATHE_RETURN_IF_ERROR(lathe_infer_check_enum(op, "auto_pad", auto_pad_choices));
  const char *ap = lathe_op_attr_string(op, "auto_pad");
  out->auto_pad = strcmp(ap, "SAME_UPPER") == 0   ? LATHE_AUTO_PAD_SAME_UPPER
                  : strcmp(ap, "SAME_LOWER") == 0 ? LATHE_AUTO_PAD_SAME_LOWER
                  : strcmp(ap, "VALID") == 0      ? LATHE_AUTO_PAD_VALID
                                                  : LATHE_AUTO_PAD_NOTSET;
  if (lathe_op_find_attr(op, "kernel_shape") || !weight_kernel) {
    const int64_t *v;
    size_t count = lathe_op_attr_ints(op, "kernel_shape", &v);
    if (count == 0 && !weight_kernel) return LATHE_INFER_ERROR("kernel_shape is empty");
    LATHE_RETURN_IF_ERROR(read_list(op, "kernel_shape", spatial, 1, 1, out->kernel));
    if (weight_kernel)
      for (uint32_t i = 0; i < spatial; ++i)
        if (!lathe_dim_compatible(weight_kernel[i], lathe_dim_static(out->kernel[i]))) {
          char b[32];
          return LATHE_INFER_ERROR("kernel_shape[%u] is %" PRId64 " but the weight has %s", i,
                                   out->kernel[i], lathe_dim_str(weight_kernel[i], b, sizeof b));
        }
  } else {
    for (uint32_t i = 0; i < spatial; ++i)
      out->kernel[i] = lathe_dim_is_static(weight_kernel[i]) ? weight_kernel[i].size : -1;
  }
  LATHE_RETURN_IF_ERROR(read_list(op, "strides", spatial, 1, 1, out->strides));
  LATHE_RETURN_IF_ERROR(read_list(op, "dilations", spatial, 1, 1, out->dilations));
  LATHE_RETURN_IF_ERROR(read_list(op, "pads", 2 * spatial, 0, 0, out->pads));
  out->ceil_mode = lathe_op_attr_int(op, "ceil_mode") != 0;
  return NULL;
}

/* (k - 1) * d + 1, or -1 when the kernel size is unknown. */
static lathe_status_t effective_kernel(const lathe_window_t *w, uint32_t i, int64_t *out) {
  if (w->kernel[i] < 0) {
    *out = -1;
    return NULL;
  }
  if (!lathe_checked_mul_i64(w->kernel[i] - 1, w->dilations[i], out) ||
      !lathe_checked_add_i64(*out, 1, out))
    return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "kernel extent overflows int64");
  return NULL;
}

lathe_status_t lathe_window_out_dim(const lathe_window_t *w, uint32_t i, lathe_dim_t in,
                                    lathe_dim_t *out) {
  int64_t ek, s = w->strides[i];
  LATHE_RETURN_IF_ERROR(effective_kernel(w, i, &ek));
  bool same = w->auto_pad == LATHE_AUTO_PAD_SAME_UPPER || w->auto_pad == LATHE_AUTO_PAD_SAME_LOWER;
  int64_t pb = 0, pe = 0;
  if (w->auto_pad == LATHE_AUTO_PAD_NOTSET) {
    pb = w->pads[i];
    pe = w->pads[i + w->n];
  }
  if (!lathe_dim_is_static(in)) {
    /* Only the size-preserving windows keep a symbolic dim. */
    bool keeps = s == 1 && (same || (ek >= 0 && pb + pe == ek - 1));
    *out = keeps ? in : lathe_dim_unknown();
    return NULL;
  }
  if (same) {
    *out = lathe_dim_static(in.size / s + (in.size % s != 0));
    return NULL;
  }
  if (ek < 0) {
    *out = lathe_dim_unknown();
    return NULL;
  }
  int64_t padded;
  if (!lathe_checked_add_i64(in.size, pb, &padded) || !lathe_checked_add_i64(padded, pe, &padded))
    return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "padded size overflows int64");
  if (padded < ek)
    return LATHE_INFER_ERROR("spatial dim %u: the window (extent %" PRId64
                             ") is larger than the padded input (%" PRId64 ")",
                             i, ek, padded);
  int64_t span = padded - ek;
  int64_t o = span / s + 1;
  if (w->ceil_mode && span % s != 0) {
    ++o;
    /* A last window that would start inside the end padding is dropped. */
    if ((o - 1) * s >= in.size + pb) --o;
  }
  *out = lathe_dim_static(o);
  return NULL;
}

/* ---- convolutions ---- */

/* Shared by the four convolution ops: x and w operand indices, optional bias
 * index (-1: none), result dtype. */
static lathe_status_t conv_core(lathe_infer_ctx_t *ctx, uint32_t xi, uint32_t wi, int bi,
                                bool transposed, lathe_dtype_t dtype) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_rank(ctx, xi, 3, LATHE_MAX_RANK));
  const lathe_type_t *x = lathe_infer_operand_type(ctx, xi), *w = lathe_infer_operand_type(ctx, wi);
  if (w->rank != x->rank)
    return LATHE_INFER_ERROR("the weight has rank %u but the input has rank %u", w->rank, x->rank);
  int64_t group = lathe_op_attr_int(ctx->op, "group");
  if (group < 1) return LATHE_INFER_ERROR("group must be >= 1, got %" PRId64, group);
  uint32_t n = x->rank - 2;
  lathe_window_t win;
  LATHE_RETURN_IF_ERROR(lathe_window_read(ctx->op, n, w->dims + 2, &win));
  /* Channels in: x[1] against w[1] * group (w[0] for transposed). */
  lathe_dim_t cin = x->dims[1], wc = transposed ? w->dims[0] : w->dims[1];
  if (lathe_dim_is_static(cin) && lathe_dim_is_static(wc)) {
    int64_t per_group = transposed ? 1 : group, want;
    if (!lathe_checked_mul_i64(wc.size, per_group, &want) || want != cin.size) {
      if (per_group == 1)
        return LATHE_INFER_ERROR("the input has %" PRId64 " channels but the weight expects %" PRId64,
                                 cin.size, wc.size);
      return LATHE_INFER_ERROR("the input has %" PRId64 " channels but the weight expects %" PRId64
                               " per group, with group = %" PRId64,
                               cin.size, wc.size, group);
    }
  }
  lathe_dim_t m = w->dims[0];
  if (transposed) {
    if (lathe_dim_is_static(w->dims[1])) {
      int64_t mm;
      if (!lathe_checked_mul_i64(w->dims[1].size, group, &mm))
        return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "channel count overflows int64");
      m = lathe_dim_static(mm);
    } else {
      m = group == 1 ? w->dims[1] : lathe_dim_unknown();
    }
    if (lathe_dim_is_static(cin) && cin.size % group != 0)
      return LATHE_INFER_ERROR("group %" PRId64 " does not divide the %" PRId64 " input channels",
                               group, cin.size);
  } else if (lathe_dim_is_static(m) && m.size % group != 0) {
    return LATHE_INFER_ERROR("group %" PRId64 " does not divide the %" PRId64 " output channels",
                             group, m.size);
  }
  if (bi >= 0 && lathe_infer_has_operand(ctx, (uint32_t)bi)) {
    LATHE_RETURN_IF_ERROR(lathe_infer_require_vector(ctx, (uint32_t)bi, m));
  }
  lathe_dim_t dims[LATHE_MAX_RANK];
  dims[0] = x->dims[0];
  dims[1] = m;
  for (uint32_t i = 0; i < n; ++i) {
    if (!transposed) {
      LATHE_RETURN_IF_ERROR(lathe_window_out_dim(&win, i, x->dims[2 + i], &dims[2 + i]));
      continue;
    }
    const int64_t *os, *op;
    size_t n_os = lathe_op_attr_ints(ctx->op, "output_shape", &os);
    size_t n_op = lathe_op_attr_ints(ctx->op, "output_padding", &op);
    if (n_os && n_os != n)
      return LATHE_INFER_ERROR("output_shape has %zu entries but the input has %u spatial dims",
                               n_os, n);
    if (n_op && n_op != n)
      return LATHE_INFER_ERROR("output_padding has %zu entries but the input has %u spatial dims",
                               n_op, n);
    if (n_os) {
      if (os[i] < 1) return LATHE_INFER_ERROR("output_shape[%u] is %" PRId64, i, os[i]);
      dims[2 + i] = lathe_dim_static(os[i]);
      continue;
    }
    int64_t ek, s = win.strides[i], extra = n_op ? op[i] : 0;
    if (extra < 0) return LATHE_INFER_ERROR("output_padding[%u] is %" PRId64, i, extra);
    LATHE_RETURN_IF_ERROR(effective_kernel(&win, i, &ek));
    lathe_dim_t in = x->dims[2 + i];
    bool same = win.auto_pad == LATHE_AUTO_PAD_SAME_UPPER || win.auto_pad == LATHE_AUTO_PAD_SAME_LOWER;
    int64_t pads = win.auto_pad == LATHE_AUTO_PAD_NOTSET ? win.pads[i] + win.pads[i + n] : 0;
    if (!lathe_dim_is_static(in) || ek < 0) {
      bool keeps = s == 1 && (same || (ek >= 0 && extra + ek - 1 - pads == 0));
      dims[2 + i] = keeps ? in : lathe_dim_unknown();
      continue;
    }
    int64_t o;
    if (same) {
      if (!lathe_checked_mul_i64(in.size, s, &o))
        return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "output size overflows int64");
    } else if (in.size < 1 || !lathe_checked_mul_i64(in.size - 1, s, &o) ||
               !lathe_checked_add_i64(o, extra + ek, &o)) {
      return LATHE_INFER_ERROR("spatial dim %u: input size %" PRId64 " is not valid here", i,
                               in.size);
    } else {
      o -= pads;
    }
    if (o < 1)
      return LATHE_INFER_ERROR("spatial dim %u: the output size would be %" PRId64, i, o);
    dims[2 + i] = lathe_dim_static(o);
  }
  lathe_infer_set_result(ctx, 0, dtype, x->rank, dims);
  return NULL;
}

lathe_status_t lathe_infer_conv(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, 0, LATHE_DTC_FLOAT));
  LATHE_RETURN_IF_ERROR(lathe_infer_require_same_dtype(ctx, 0, 1));
  if (lathe_infer_has_operand(ctx, 2))
    LATHE_RETURN_IF_ERROR(lathe_infer_require_same_dtype(ctx, 0, 2));
  return conv_core(ctx, 0, 1, 2, false, lathe_infer_operand_type(ctx, 0)->dtype);
}

lathe_status_t lathe_infer_conv_transpose(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, 0, LATHE_DTC_FLOAT));
  LATHE_RETURN_IF_ERROR(lathe_infer_require_same_dtype(ctx, 0, 1));
  if (lathe_infer_has_operand(ctx, 2))
    LATHE_RETURN_IF_ERROR(lathe_infer_require_same_dtype(ctx, 0, 2));
  return conv_core(ctx, 0, 1, 2, true, lathe_infer_operand_type(ctx, 0)->dtype);
}

lathe_status_t lathe_infer_conv_integer(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_8bit(ctx, 0));
  LATHE_RETURN_IF_ERROR(lathe_infer_require_8bit(ctx, 1));
  LATHE_RETURN_IF_ERROR(lathe_infer_check_zero_point(ctx, 2, 0));
  LATHE_RETURN_IF_ERROR(lathe_infer_check_zero_point(ctx, 3, 1));
  return conv_core(ctx, 0, 1, -1, false, LATHE_DTYPE_I32);
}

/* Operands: x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale,
 * y_zero_point, b? (i32). */
lathe_status_t lathe_infer_qlinear_conv(lathe_infer_ctx_t *ctx) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_8bit(ctx, 0));
  LATHE_RETURN_IF_ERROR(lathe_infer_require_8bit(ctx, 3));
  LATHE_RETURN_IF_ERROR(lathe_infer_require_8bit(ctx, 7));
  static const uint32_t scales[] = {1, 4, 6};
  for (size_t i = 0; i < 3; ++i)
    LATHE_RETURN_IF_ERROR(lathe_infer_require_dtype(ctx, scales[i], LATHE_DTC_FLOAT));
  LATHE_RETURN_IF_ERROR(lathe_infer_check_zero_point(ctx, 2, 0));
  LATHE_RETURN_IF_ERROR(lathe_infer_check_zero_point(ctx, 5, 3));
  if (lathe_infer_has_operand(ctx, 8) && lathe_infer_operand_type(ctx, 8)->dtype != LATHE_DTYPE_I32)
    return LATHE_INFER_ERROR("operand 8 (bias) must be i32, got %s",
                             lathe_dtype_name(lathe_infer_operand_type(ctx, 8)->dtype));
  return conv_core(ctx, 0, 3, 8, false, lathe_infer_operand_type(ctx, 7)->dtype);
}

/* ---- verifier (convolutions and pools) ---- */

lathe_status_t lathe_verify_window(const lathe_op_t *op) {
  LATHE_RETURN_IF_ERROR(lathe_verify_flags(op));
  LATHE_RETURN_IF_ERROR(lathe_infer_check_enum(op, "auto_pad", auto_pad_choices));
  if (strcmp(lathe_op_attr_string(op, "auto_pad"), "NOTSET") != 0 &&
      lathe_op_attr_ints(op, "pads", NULL) != 0)
    return LATHE_INFER_ERROR("pads cannot be combined with auto_pad = \"%s\"",
                             lathe_op_attr_string(op, "auto_pad"));
  const int64_t *op_pad, *strides, *dil;
  size_t n_pad = lathe_op_attr_ints(op, "output_padding", &op_pad);
  size_t n_s = lathe_op_attr_ints(op, "strides", &strides);
  size_t n_d = lathe_op_attr_ints(op, "dilations", &dil);
  for (size_t i = 0; i < n_pad; ++i) {
    int64_t s = i < n_s ? strides[i] : 1, d = i < n_d ? dil[i] : 1;
    if (op_pad[i] >= (s > d ? s : d))
      return LATHE_INFER_ERROR("output_padding[%zu] is %" PRId64
                               ", must be less than the stride or dilation",
                               i, op_pad[i]);
  }
  return NULL;
}

lathe_status_t lathe_verify_conv(const lathe_op_t *op) { return lathe_verify_window(op); }
