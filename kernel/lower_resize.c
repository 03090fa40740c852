/* resize: every output element as an expression over a few input elements.
 *
 * Each resized axis maps an output position x to a source coordinate x_ori
 * (coordinate_transformation_mode), then reads n neighbouring input
 * positions ("taps") and weighs them (mode): nearest reads one element,
 * linear two, cubic four, and antialias widens the window by 1/scale when
 * downsampling. A multi-axis resize nests the 1-D interpolations (the first
 * axis outermost), so the result is a sum of products over the taps of every
 * resized axis; it is an expression, so resize fuses with its neighbours and
 * needs no statement of its own.
 *
 * ONNX's reference implementation (onnx/reference/ops/op_resize.py) produced
 * the conformance data, and this mirrors it rather than the prose of the spec
 * where the two differ:
 *   - the output "length" in align_corners, pytorch_half_pixel,
 *     half_pixel_symmetric and tf_crop_and_resize is scale * in_size as a
 *     float (float32 when `scales` were given, as the reference computes it),
 *     not the integer output size;
 *   - a coordinate that is an integer uses the taps to its left with ratio 1
 *     (weights [0, 1] for linear), and the window of taps is clamped into
 *     the input padded by n/2 on each side, then read with edge padding;
 *   - exclude_outside zeroes the weights of taps outside the input and
 *     renormalizes;
 *   - tf_crop_and_resize gives extrapolation_value where any coordinate
 *     falls outside [0, in_size - 1];
 *   - integer results are rounded half to even, then saturated.
 * Weights and coordinates compute in f64 like the reference; nearest is a
 * plain load of the chosen element (exact for every dtype). Unsupported,
 * with a message: tf_crop_and_resize by scales with a cropping roi (the spec
 * and the reference disagree on the output size), antialias or
 * exclude_outside with nearest (the reference refuses them), and a resized
 * axis whose size is symbolic.
 */
#include <math.h>
#include <string.h>

#include "kernel/lower.h"

#define MAX_TAPS 32     /* per axis */
#define MAX_PRODUCT 256 /* taps over all resized axes: the expression's loads */

typedef enum { NEAREST, LINEAR, CUBIC } interp_t;
typedef enum { HALF_PIXEL, HALF_PIXEL_SYM, PYTORCH, ALIGN, ASYMMETRIC, CROP } coord_t;

typedef struct {
  bool resized;                    /* false: out = in and x_ori = x exactly (read in place) */
  int64_t in, out;                 /* static when resized */
  double s;                        /* the scale factor, as the reference holds it */
  bool s32;                        /* `scales` were given: the reference's float32 arithmetic */
  double ow, ow_m1;                /* output "length" scale * in, and it minus 1 */
  double crop_a, crop_b, crop_one; /* tf_crop_and_resize terms (see coord) */
  uint32_t taps;
  int32_t start; /* first tap, relative to the left neighbour */
} axis_t;

typedef struct {
  interp_t mode;
  coord_t coord;
  int64_t nearest; /* 0 round_prefer_floor, 1 round_prefer_ceil, 2 floor, 3 ceil */
  double a;        /* cubic_coeff_a */
  bool exclude, antialias;
  double extrapolation;
  axis_t ax[LATHE_MAX_RANK];
} rs_t;

static int find(const char *s, const char *const *names, int n) {
  for (int i = 0; i < n; ++i)
    if (strcmp(s, names[i]) == 0) return i;
  return -1;
}

/* The reference's min(scale, 1) and the antialias window start:
 * floor(-k / scale) + 1, in float32 when the scale is a float32. */
static int32_t aa_start(const axis_t *x, double k) {
  double sc = fmin(x->s, 1.0);
  double q = x->s32 ? (double)((float)-k / (float)sc) : -k / sc;
  return (int32_t)floor(q) + 1;
}

/* Per-axis constants; fails when the axis cannot be lowered exactly. */
static lathe_status_t axis_init(const lathe_op_t *op, const rs_t *r, axis_t *x, lathe_kdim_t in,
                                lathe_kdim_t out, double s, bool s32, const double *roi) {
  x->s = s;
  x->s32 = s32;
  bool crop_id = r->coord != CROP || (roi[0] == 0.0 && roi[1] == 1.0);
  x->resized = !(s == 1.0 && dim_eq(in, out) && crop_id &&
                 (r->coord != PYTORCH || !lathe_kdim_is_static(in) || in.size > 1));
  if (!x->resized) return NULL;
  if (!lathe_kdim_is_static(in) || !lathe_kdim_is_static(out))
    return unsupported(op, "a resized axis must have a static size");
  x->in = in.size;
  x->out = out.size;
  x->ow = s32 ? (double)(float)(s * (double)in.size) : s * (double)in.size;
  x->ow_m1 = s32 ? (double)((float)x->ow - 1.0f) : x->ow - 1.0;
  if (r->coord == CROP) {
    float a = (float)roi[1] - (float)roi[0], b = (float)roi[0] * (float)(in.size - 1);
    x->crop_a = a;
    x->crop_b = b;
    x->crop_one = (double)(a * (float)(in.size - 1) / 2.0f + b);
  }
  if (r->antialias) {
    x->start = r->mode == LINEAR ? aa_start(x, 1.0) : aa_start(x, 2.0);
    x->taps = (uint32_t)(2 - 2 * x->start);
  } else {
    x->taps = r->mode == CUBIC ? 4 : 2;
    x->start = r->mode == CUBIC ? -1 : 0;
  }
  if (x->taps > MAX_TAPS) return unsupported(op, "antialias at this scale needs too many taps");
  return NULL;
}

/* Reads the attributes; fills in `?` result dims the reference's way. */
static lathe_status_t parse(lower_ctx_t *c, const lathe_op_t *op, const lval_t *xv,
                            lathe_kdim_t *dims, rs_t *r) {
  static const char *const modes[] = {"nearest", "linear", "cubic"};
  static const char *const coords[] = {"half_pixel",         "half_pixel_symmetric",
                                       "pytorch_half_pixel", "align_corners",
                                       "asymmetric",         "tf_crop_and_resize"};
  static const char *const nearest[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
  (void)c;
  int m = find(lathe_op_attr_string(op, "mode"), modes, 3);
  int k = find(lathe_op_attr_string(op, "coordinate_transformation_mode"), coords, 6);
  int nm = find(lathe_op_attr_string(op, "nearest_mode"), nearest, 4);
  if (m < 0 || k < 0 || nm < 0) return unsupported(op, "unknown mode");
  *r = (rs_t){.mode = (interp_t)m,
              .coord = (coord_t)k,
              .nearest = nm,
              .a = lathe_op_attr_float(op, "cubic_coeff_a"),
              .exclude = lathe_op_attr_int(op, "exclude_outside") != 0,
              .antialias = lathe_op_attr_int(op, "antialias") != 0,
              .extrapolation = lathe_op_attr_float(op, "extrapolation_value")};
  if ((r->antialias || r->exclude) && r->mode == NEAREST)
    return unsupported(op, "%s is not defined for mode nearest",
                       r->antialias ? "antialias" : "exclude_outside");
  const int64_t *axes, *sizes;
  const double *scales, *roi;
  size_t n_axes = lathe_op_attr_ints(op, "axes", &axes);
  size_t n_sizes = lathe_op_attr_ints(op, "sizes", &sizes);
  size_t n_scales = lathe_op_attr_floats(op, "scales", &scales);
  size_t n_roi = lathe_op_attr_floats(op, "roi", &roi);
  uint32_t rank = xv->rank, n = n_axes ? (uint32_t)n_axes : rank, axis[LATHE_MAX_RANK];
  for (uint32_t i = 0; i < n; ++i) {
    int64_t a = n_axes ? axes[i] : (int64_t)i;
    if (a < 0) a += rank;
    if (a < 0 || a >= (int64_t)rank) return unsupported(op, "axis out of range");
    axis[i] = (uint32_t)a;
  }
  if ((n_sizes ? n_sizes : n_scales) != n || (r->coord == CROP && n_roi != 2 * (size_t)n))
    return unsupported(op, "scales, sizes or roi do not match the axes");
  double scale[LATHE_MAX_RANK], one_roi[2] = {0.0, 1.0};
  const double *axis_roi[LATHE_MAX_RANK];
  int64_t want[LATHE_MAX_RANK];
  for (uint32_t d = 0; d < rank; ++d) {
    scale[d] = 1.0;
    axis_roi[d] = one_roi;
    want[d] = -1;
  }
  /* keep_aspect_ratio_policy: one scale (min or max over the axes), sizes
   * rounded half up, as the reference does. */
  const char *policy = lathe_op_attr_string(op, "keep_aspect_ratio_policy");
  bool stretch = strcmp(policy, "stretch") == 0, not_larger = strcmp(policy, "not_larger") == 0;
  double kept = not_larger ? INFINITY : 0.0;
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t d = axis[i];
    if (n_sizes) {
      if (!lathe_kdim_is_static(xv->dims[d]) || xv->dims[d].size == 0)
        return unsupported(op, "resizing to sizes needs a static, nonzero input size");
      scale[d] = (double)sizes[i] / (double)xv->dims[d].size;
      want[d] = sizes[i];
      kept = not_larger ? fmin(kept, scale[d]) : fmax(kept, scale[d]);
    } else {
      scale[d] = scales[i];
      if (lathe_kdim_is_static(xv->dims[d]))
        want[d] = (int64_t)(scales[i] * (double)xv->dims[d].size);
    }
  }
  double roi_pair[LATHE_MAX_RANK][2];
  for (uint32_t i = 0; i < n && r->coord == CROP; ++i) {
    roi_pair[axis[i]][0] = roi[i];
    roi_pair[axis[i]][1] = roi[n + i];
    axis_roi[axis[i]] = roi_pair[axis[i]];
    if (n_scales && (roi[i] != 0.0 || roi[n + i] != 1.0))
      return unsupported(op, "tf_crop_and_resize by scales with a cropping roi: ONNX's spec and "
                             "reference disagree on the output size");
  }
  if (n_sizes && !stretch)
    for (uint32_t i = 0; i < n; ++i) {
      uint32_t d = axis[i];
      scale[d] = kept;
      want[d] = (int64_t)(kept * (double)xv->dims[d].size + 0.5);
    }
  for (uint32_t d = 0; d < rank; ++d) {
    if (want[d] >= 0 && lathe_dim_is_unknown(op->results[0].type.dims[d]))
      dims[d] = lathe_kdim_static(want[d]);
    if (want[d] >= 0 && lathe_kdim_is_static(dims[d]) && dims[d].size != want[d])
      return unsupported(op, "result dim %u is %lld, but ONNX's reference gives %lld", d,
                         (long long)dims[d].size, (long long)want[d]);
    LATHE_RETURN_IF_ERROR(
        axis_init(op, r, &r->ax[d], xv->dims[d], dims[d], scale[d], n_scales != 0, axis_roi[d]));
  }
  return NULL;
}

/* ---- per-axis expressions ---- */

static const lathe_kexpr_t *f64(lower_ctx_t *c, double v) { return kf(c, LATHE_DTYPE_F64, v); }
static const lathe_kexpr_t *fop(lower_ctx_t *c, lathe_kop_t op, const lathe_kexpr_t *a,
                                const lathe_kexpr_t *b) {
  return kbin(c, op, a, b);
}

/* x_ori for output position x (i64), in f64, as the reference computes it. */
static const lathe_kexpr_t *coord(lower_ctx_t *c, const rs_t *r, const axis_t *a,
                                  const lathe_kexpr_t *x) {
  const lathe_kexpr_t *X = lathe_kexpr_cast(c->p, LATHE_DTYPE_F64, x);
  const lathe_kexpr_t *half = f64(c, 0.5), *s = f64(c, a->s);
  const lathe_kexpr_t *hp = fop(c, LATHE_KOP_DIV, fop(c, LATHE_KOP_ADD, X, half), s);
  switch (r->coord) {
  case HALF_PIXEL: return fop(c, LATHE_KOP_SUB, hp, half);
  case PYTORCH: return a->ow == 1.0 ? f64(c, -0.5) : fop(c, LATHE_KOP_SUB, hp, half);
  case HALF_PIXEL_SYM: {
    double adjustment = (double)a->out / a->ow, center = (double)a->in / 2.0;
    double offset = center * (1.0 - adjustment);
    return fop(c, LATHE_KOP_SUB, fop(c, LATHE_KOP_ADD, f64(c, offset), hp), half);
  }
  case ALIGN:
    if (a->ow == 1.0) return f64(c, 0.0);
    return fop(c, LATHE_KOP_DIV, fop(c, LATHE_KOP_MUL, X, f64(c, (double)(a->in - 1))),
               f64(c, a->ow_m1));
  case ASYMMETRIC: return fop(c, LATHE_KOP_DIV, X, s);
  case CROP: {
    if (a->ow == 1.0) return f64(c, a->crop_one);
    const lathe_kexpr_t *t = fop(c, LATHE_KOP_MUL, fop(c, LATHE_KOP_MUL, X, f64(c, a->crop_a)),
                                 f64(c, (double)(a->in - 1)));
    return fop(c, LATHE_KOP_ADD, fop(c, LATHE_KOP_DIV, t, f64(c, a->ow_m1)), f64(c, a->crop_b));
  }
  }
  return NULL;
}

/* The cubic kernel of the antialias path at distance d >= 0. */
static const lathe_kexpr_t *cubic_at(lower_ctx_t *c, double A, const lathe_kexpr_t *d) {
  const lathe_kexpr_t *d2 = fop(c, LATHE_KOP_MUL, d, d), *d3 = fop(c, LATHE_KOP_MUL, d, d2);
  const lathe_kexpr_t *near = fop(c, LATHE_KOP_ADD,
                                  fop(c, LATHE_KOP_SUB, fop(c, LATHE_KOP_MUL, f64(c, A + 2), d3),
                                      fop(c, LATHE_KOP_MUL, f64(c, A + 3), d2)),
                                  f64(c, 1.0));
  const lathe_kexpr_t *far = fop(c, LATHE_KOP_SUB,
                                 fop(c, LATHE_KOP_ADD,
                                     fop(c, LATHE_KOP_SUB, fop(c, LATHE_KOP_MUL, f64(c, A), d3),
                                         fop(c, LATHE_KOP_MUL, f64(c, 5 * A), d2)),
                                     fop(c, LATHE_KOP_MUL, f64(c, 8 * A), d)),
                                 f64(c, 4 * A));
  return ksel(c, fop(c, LATHE_KOP_LE, d, f64(c, 1.0)), near,
              ksel(c, fop(c, LATHE_KOP_LT, d, f64(c, 2.0)), far, f64(c, 0.0)));
}

/* ((A*(t+1) - 5A)*(t+1) + 8A)*(t+1) - 4A and ((A+2)*t - (A+3))*t*t + 1:
 * the reference's cubic weights for a tap at distance t+1 and t. */
static const lathe_kexpr_t *cubic_far(lower_ctx_t *c, double A, const lathe_kexpr_t *t1) {
  const lathe_kexpr_t *e =
      fop(c, LATHE_KOP_SUB, fop(c, LATHE_KOP_MUL, f64(c, A), t1), f64(c, 5 * A));
  e = fop(c, LATHE_KOP_ADD, fop(c, LATHE_KOP_MUL, e, t1), f64(c, 8 * A));
  return fop(c, LATHE_KOP_SUB, fop(c, LATHE_KOP_MUL, e, t1), f64(c, 4 * A));
}
static const lathe_kexpr_t *cubic_near(lower_ctx_t *c, double A, const lathe_kexpr_t *t) {
  const lathe_kexpr_t *e =
      fop(c, LATHE_KOP_SUB, fop(c, LATHE_KOP_MUL, f64(c, A + 2), t), f64(c, A + 3));
  return fop(c, LATHE_KOP_ADD, fop(c, LATHE_KOP_MUL, fop(c, LATHE_KOP_MUL, e, t), t), f64(c, 1.0));
}

/* The taps of one resized axis at output position x: input positions
 * (clamped into the input: edge padding) and weights. *out_outside is set
 * for tf_crop_and_resize. */
static void taps(lower_ctx_t *c, const rs_t *r, const axis_t *a, const lathe_kexpr_t *x,
                 const lathe_kexpr_t **pos, const lathe_kexpr_t **w,
                 const lathe_kexpr_t **out_outside) {
  const lathe_kexpr_t *xo = coord(c, r, a, x), *fl = kun(c, LATHE_KOP_FLOOR, xo);
  const lathe_kexpr_t *is_int = fop(c, LATHE_KOP_EQ, xo, fl), *one = f64(c, 1.0);
  const lathe_kexpr_t *ratio = ksel(c, is_int, one, fop(c, LATHE_KOP_SUB, xo, fl));
  /* The left neighbour; an integer coordinate counts as ratio 1 from x - 1.
   * Coordinates are bounded by the clamp below before any index use. */
  const lathe_kexpr_t *left =
      lathe_kexpr_cast(c->p, LATHE_DTYPE_I64,
                       kclamp(c, ksel(c, is_int, fop(c, LATHE_KOP_SUB, fl, one), fl),
                              f64(c, -(double)(1 << 30)), f64(c, (double)(1 << 30))));
  if (r->coord == CROP)
    *out_outside = kbin(c, LATHE_KOP_OR, fop(c, LATHE_KOP_LT, xo, f64(c, 0.0)),
                        fop(c, LATHE_KOP_GT, xo, f64(c, (double)(a->in - 1))));
  uint32_t n = a->taps;
  int64_t pad = n / 2;
  /* The window: the n nearest positions of the input padded by n/2 per side. */
  const lathe_kexpr_t *first = kclamp(c, kbin(c, LATHE_KOP_ADD, left, kint(c, a->start)),
                                      kint(c, -pad), kint(c, a->in + pad - (int64_t)n));
  const lathe_kexpr_t *raw[MAX_TAPS], *sum = NULL;
  for (uint32_t j = 0; j < n; ++j) {
    const lathe_kexpr_t *p = kbin(c, LATHE_KOP_ADD, first, kint(c, j));
    raw[j] = p;
    pos[j] = kclamp(c, p, kint(c, 0), kint(c, a->in - 1));
    const lathe_kexpr_t *wj;
    if (r->mode == NEAREST) {
      const lathe_kexpr_t *pick;
      /* Whether the right tap is the one: always for an integer coordinate. */
      switch (r->nearest) {
      case 0: pick = kbin(c, LATHE_KOP_OR, fop(c, LATHE_KOP_GT, ratio, f64(c, 0.5)), is_int); break;
      case 1: pick = kbin(c, LATHE_KOP_OR, fop(c, LATHE_KOP_GE, ratio, f64(c, 0.5)), is_int); break;
      case 2: pick = is_int; break;
      default: pick = lathe_kexpr_int(c->p, LATHE_DTYPE_BOOL, 1); break;
      }
      wj = ksel(c, pick, f64(c, j == 1 ? 1.0 : 0.0), f64(c, j == 1 ? 0.0 : 1.0));
    } else if (r->antialias) {
      double sc = fmin(a->s, 1.0);
      const lathe_kexpr_t *arg =
          fop(c, LATHE_KOP_MUL, fop(c, LATHE_KOP_SUB, f64(c, a->start + (int32_t)j), ratio),
              f64(c, sc));
      if (r->mode == LINEAR) {
        const lathe_kexpr_t *v = fop(c, LATHE_KOP_SUB, one, kun(c, LATHE_KOP_ABS, arg));
        wj = kbin(c, LATHE_KOP_MIN, kbin(c, LATHE_KOP_MAX, v, f64(c, 0.0)), one);
      } else {
        wj = cubic_at(c, r->a, kun(c, LATHE_KOP_ABS, arg));
      }
    } else if (r->mode == LINEAR) {
      wj = j == 0 ? fop(c, LATHE_KOP_SUB, one, ratio) : ratio;
    } else {
      const lathe_kexpr_t *t = j < 2 ? ratio : fop(c, LATHE_KOP_SUB, one, ratio);
      wj = (j == 0 || j == 3) ? cubic_far(c, r->a, fop(c, LATHE_KOP_ADD, t, one))
                              : cubic_near(c, r->a, t);
    }
    w[j] = wj;
  }
  if (r->antialias) { /* the reference normalizes the antialias weights */
    for (uint32_t j = 0; j < n; ++j) sum = sum ? fop(c, LATHE_KOP_ADD, sum, w[j]) : w[j];
    for (uint32_t j = 0; j < n; ++j) w[j] = fop(c, LATHE_KOP_DIV, w[j], sum);
  }
  if (r->exclude) {
    sum = NULL;
    for (uint32_t j = 0; j < n; ++j) {
      const lathe_kexpr_t *in = kbin(c, LATHE_KOP_AND, kbin(c, LATHE_KOP_GE, raw[j], kint(c, 0)),
                                     kbin(c, LATHE_KOP_LT, raw[j], kint(c, a->in)));
      w[j] = ksel(c, in, w[j], f64(c, 0.0));
      sum = sum ? fop(c, LATHE_KOP_ADD, sum, w[j]) : w[j];
    }
    for (uint32_t j = 0; j < n; ++j) w[j] = fop(c, LATHE_KOP_DIV, w[j], sum);
  }
}

typedef struct {
  uint32_t rank, nres;
  uint32_t res[LATHE_MAX_RANK]; /* resized axes, in order */
  const lathe_kexpr_t *pos[LATHE_MAX_RANK][MAX_TAPS], *w[LATHE_MAX_RANK][MAX_TAPS];
  uint32_t n[LATHE_MAX_RANK];
} nest_t;

/* sum_j w[k][j] * (interpolation over the axes after k, at tap j of k). */
static const lathe_kexpr_t *combine(lower_ctx_t *c, const lval_t *x, const nest_t *t, uint32_t k,
                                    const lathe_kexpr_t **idx) {
  if (k == t->nres) return lathe_kexpr_cast(c->p, LATHE_DTYPE_F64, lv_at(c, x, idx));
  uint32_t d = t->res[k];
  const lathe_kexpr_t *sum = NULL;
  for (uint32_t j = 0; j < t->n[k]; ++j) {
    idx[d] = t->pos[k][j];
    const lathe_kexpr_t *term = kbin(c, LATHE_KOP_MUL, t->w[k][j], combine(c, x, t, k + 1, idx));
    sum = sum ? kbin(c, LATHE_KOP_ADD, sum, term) : term;
  }
  return sum;
}

lathe_status_t lower_resize(lower_ctx_t *c, const lathe_op_t *op) {
  const lval_t *x = lv_operand(c, op, 0);
  lathe_kdim_t dims[LATHE_MAX_RANK];
  LATHE_RETURN_IF_ERROR(result_dims(c, op, 0, x->dims, dims));
  rs_t r;
  LATHE_RETURN_IF_ERROR(parse(c, op, x, dims, &r));
  const lathe_kexpr_t *it[LATHE_MAX_RANK], *idx[LATHE_MAX_RANK], *outside = NULL;
  iters(c, x->rank, it);
  for (uint32_t d = 0; d < x->rank; ++d) idx[d] = it[d];
  nest_t t = {.rank = x->rank};
  uint32_t product = 1;
  for (uint32_t d = 0; d < x->rank; ++d) {
    const axis_t *a = &r.ax[d];
    if (!a->resized) continue;
    uint32_t k = t.nres++;
    const lathe_kexpr_t *out = NULL;
    t.res[k] = d;
    t.n[k] = a->taps;
    taps(c, &r, a, it[d], t.pos[k], t.w[k], &out);
    if (out) outside = outside ? kbin(c, LATHE_KOP_OR, outside, out) : out;
    product *= a->taps;
  }
  lathe_dtype_t dtype = op->results[0].type.dtype;
  if (r.mode == NEAREST) {
    /* The chosen tap: the one whose weight is 1. */
    for (uint32_t k = 0; k < t.nres; ++k)
      idx[t.res[k]] =
          ksel(c, kbin(c, LATHE_KOP_EQ, t.w[k][1], f64(c, 1.0)), t.pos[k][1], t.pos[k][0]);
    const lathe_kexpr_t *v = lv_at(c, x, idx);
    if (outside) v = ksel(c, outside, kf(c, compute_dtype(dtype), r.extrapolation), v);
    set_expr(c, op, 0, dims, v, NULL);
    return NULL;
  }
  if (product > MAX_PRODUCT) return unsupported(op, "too many taps over the resized axes");
  if (!lathe_dtype_is_float(dtype) && !lathe_dtype_is_integer(dtype))
    return unsupported(op, "interpolating needs a numeric dtype");
  const lathe_kexpr_t *y = combine(c, x, &t, 0, idx);
  if (outside) y = ksel(c, outside, f64(c, r.extrapolation), y);
  if (!lathe_dtype_is_float(dtype)) y = kun(c, LATHE_KOP_ROUND, y);
  set_expr(c, op, 0, dims, lathe_kexpr_cast(c->p, compute_dtype(dtype), y), NULL);
  return NULL;
}
