/* Inference for image-layout ops: resize (by scales or target sizes, with
 * ONNX's keep_aspect_ratio_policy and tf_crop_and_resize roi) and the
 * depth_to_space / space_to_depth block shuffles. Layout [N, C, H, W] for
 * the block shuffles; resize works on any subset of axes.
 */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "ir/infer.h"

/* Largest size a float computation may produce before it stops being exact. */
#define MAX_EXACT_SIZE 9007199254740992.0 /* 2^53 */

static lathe_status_t size_from_double(double v, uint32_t axis, lathe_dim_t *out) {
  if (!(v >= 0.0) || v >= MAX_EXACT_SIZE)
    return LATHE_INFER_ERROR("resized dim %u would have size %g", axis, v);
  *out = lathe_dim_static((int64_t)v);
  return NULL;
}

lathe_status_t lathe_infer_resize(lathe_infer_ctx_t *ctx) {
  const lathe_type_t *x = lathe_infer_operand_type(ctx, 0);
  const int64_t *axes, *sizes;
  const double *scales, *roi;
  size_t n_axes = lathe_op_attr_ints(ctx->op, "axes", &axes);
  size_t n_sizes = lathe_op_attr_ints(ctx->op, "sizes", &sizes);
  size_t n_scales = lathe_op_attr_floats(ctx->op, "scales", &scales);
  size_t n_roi = lathe_op_attr_floats(ctx->op, "roi", &roi);
  uint32_t norm[LATHE_MAX_RANK], n = x->rank;
  if (n_axes) {
    LATHE_RETURN_IF_ERROR_CTX(lathe_normalize_axes(axes, n_axes, x->rank, norm), "attribute 'axes'");
    n = (uint32_t)n_axes;
  } else {
    for (uint32_t i = 0; i < x->rank; ++i) norm[i] = i;
  }
  if ((n_sizes == 0) == (n_scales == 0))
    return LATHE_INFER_ERROR("exactly one of scales and sizes must be given");
  size_t given = n_sizes ? n_sizes : n_scales;
  if (given != n)
    return LATHE_INFER_ERROR("%s has %zu entries but %u axes are resized",
                             n_sizes ? "sizes" : "scales", given, n);
  bool crop = strcmp(lathe_op_attr_string(ctx->op, "coordinate_transformation_mode"),
                     "tf_crop_and_resize") == 0;
  if (crop && n_roi != 2 * (size_t)n)
    return LATHE_INFER_ERROR("tf_crop_and_resize needs roi with %u entries, got %zu", 2 * n, n_roi);
  const char *policy = lathe_op_attr_string(ctx->op, "keep_aspect_ratio_policy");
  bool stretch = strcmp(policy, "stretch") == 0;
  if (!stretch && strcmp(policy, "not_larger") != 0 && strcmp(policy, "not_smaller") != 0)
    LATHE_RETURN_IF_ERROR(lathe_infer_check_enum(ctx->op, "keep_aspect_ratio_policy",
                                                 "stretch|not_larger|not_smaller"));
  lathe_dim_t dims[LATHE_MAX_RANK];
  memcpy(dims, x->dims, x->rank * sizeof *dims);
  if (n_scales) {
    for (uint32_t i = 0; i < n; ++i) {
      double s = scales[i], extent = crop ? roi[n + i] - roi[i] : 1.0;
      if (!(s > 0.0)) return LATHE_INFER_ERROR("scales[%u] is %g, must be > 0", i, s);
      lathe_dim_t in = x->dims[norm[i]];
      if (!lathe_dim_is_static(in)) {
        dims[norm[i]] = s == 1.0 && !crop ? in : lathe_dim_unknown();
        continue;
      }
      LATHE_RETURN_IF_ERROR(size_from_double(floor((double)in.size * extent * s), norm[i],
                                             &dims[norm[i]]));
    }
  } else {
    /* not_larger / not_smaller: one scale for every resized axis. */
    double scale = stretch ? 1.0 : strcmp(policy, "not_larger") == 0 ? INFINITY : 0.0;
    bool known = true;
    for (uint32_t i = 0; i < n; ++i) {
      if (sizes[i] < 0) return LATHE_INFER_ERROR("sizes[%u] is %" PRId64, i, sizes[i]);
      lathe_dim_t in = x->dims[norm[i]];
      if (!lathe_dim_is_static(in)) known = false;
      else if (in.size > 0 && !stretch) {
        double r = (double)sizes[i] / (double)in.size;
        scale = strcmp(policy, "not_larger") == 0 ? fmin(scale, r) : fmax(scale, r);
      }
    }
    for (uint32_t i = 0; i < n; ++i) {
      lathe_dim_t in = x->dims[norm[i]];
      if (stretch) dims[norm[i]] = lathe_dim_static(sizes[i]);
      else if (!known) dims[norm[i]] = lathe_dim_unknown();
      else
        LATHE_RETURN_IF_ERROR(size_from_double(isinf(scale) ? 0.0 : floor(scale * (double)in.size + 0.5),
                                               norm[i], &dims[norm[i]]));
    }
  }
  lathe_infer_set_result(ctx, 0, x->dtype, x->rank, dims);
  return NULL;
}

lathe_status_t lathe_verify_resize(const lathe_op_t *op) {
  LATHE_RETURN_IF_ERROR(lathe_verify_flags(op));
  LATHE_RETURN_IF_ERROR(lathe_infer_check_enum(op, "mode", "nearest|linear|cubic"));
  LATHE_RETURN_IF_ERROR(lathe_infer_check_enum(
      op, "coordinate_transformation_mode",
      "half_pixel|half_pixel_symmetric|pytorch_half_pixel|align_corners|asymmetric|"
      "tf_crop_and_resize"));
  LATHE_RETURN_IF_ERROR(lathe_infer_check_enum(op, "nearest_mode",
                                               "round_prefer_floor|round_prefer_ceil|floor|ceil"));
  return lathe_infer_check_enum(op, "keep_aspect_ratio_policy", "stretch|not_larger|not_smaller");
}

/* ---- block shuffles ---- */

/* d * f, or d / f (exactly) when divide; a symbolic d survives only f == 1. */
static lathe_status_t scale_dim(lathe_dim_t d, int64_t f, bool divide, uint32_t axis,
                                lathe_dim_t *out) {
  if (!lathe_dim_is_static(d)) {
    *out = f == 1 ? d : lathe_dim_unknown();
    return NULL;
  }
  if (divide) {
    if (d.size % f != 0)
      return LATHE_INFER_ERROR("dim %u of size %" PRId64 " is not a multiple of %" PRId64, axis,
                               d.size, f);
    *out = lathe_dim_static(d.size / f);
    return NULL;
  }
  int64_t v;
  if (!lathe_checked_mul_i64(d.size, f, &v))
    return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "dim %u overflows int64", axis);
  *out = lathe_dim_static(v);
  return NULL;
}

/* to_space: [N, C, H, W] -> [N, C/b², H*b, W*b]; else the reverse. */
static lathe_status_t block_shuffle(lathe_infer_ctx_t *ctx, bool to_space) {
  LATHE_RETURN_IF_ERROR(lathe_infer_require_rank(ctx, 0, 4, 4));
  const lathe_type_t *x = lathe_infer_operand_type(ctx, 0);
  int64_t b = lathe_op_attr_int(ctx->op, "blocksize"), bb;
  if (b < 1) return LATHE_INFER_ERROR("blocksize must be >= 1, got %" PRId64, b);
  if (!lathe_checked_mul_i64(b, b, &bb))
    return lathe_status_make(LATHE_STATUS_OUT_OF_RANGE, "blocksize squared overflows int64");
  lathe_dim_t dims[4] = {x->dims[0]};
  LATHE_RETURN_IF_ERROR(scale_dim(x->dims[1], bb, to_space, 1, &dims[1]));
  LATHE_RETURN_IF_ERROR(scale_dim(x->dims[2], b, !to_space, 2, &dims[2]));
  LATHE_RETURN_IF_ERROR(scale_dim(x->dims[3], b, !to_space, 3, &dims[3]));
  lathe_infer_set_result(ctx, 0, x->dtype, 4, dims);
  return NULL;
}

lathe_status_t lathe_infer_depth_to_space(lathe_infer_ctx_t *ctx) { return block_shuffle(ctx, true); }
lathe_status_t lathe_infer_space_to_depth(lathe_infer_ctx_t *ctx) { return block_shuffle(ctx, false); }

lathe_status_t lathe_verify_depth_to_space(const lathe_op_t *op) {
  if (lathe_op_attr_schema(op->kind, "mode"))
    LATHE_RETURN_IF_ERROR(lathe_infer_check_enum(op, "mode", "DCR|CRD"));
  return NULL;
}
