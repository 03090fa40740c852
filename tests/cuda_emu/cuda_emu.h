/* The CUDA subset of docs/codegen-cuda.md for the host C++ compiler, so the
 * CUDA C that codegen/cuda generates compiles into a shared object the
 * emulator (emu.c) runs on the CPU:
 *
 *   c++ -std=c++17 -fPIC -shared -include cuda_emu.h -I<this dir>/include k.cu
 *
 * How each piece maps, and why that is faithful:
 *   - Every CUDA thread of a block is a fiber; the emulator runs one block at
 *     a time, each fiber up to its next barrier, in an order it chooses
 *     (forward, reverse or seeded random), so code that reads what another
 *     thread wrote without a barrier in between sees stale or poisoned data.
 *   - `__shared__` is `static` storage in one linker section: one block in
 *     flight means static storage *is* per block. The emulator fills the
 *     section with a poison byte before every block (fresh, uninitialised
 *     shared memory, as on a GPU: stale data from the last block never
 *     passes for correct results).
 *   - threadIdx/blockIdx/blockDim/gridDim are fields of lathe_emu_device
 *     (emu_abi.h) that the emulator sets before resuming each fiber.
 *   - __syncthreads and the shuffles call the emulator, which parks the
 *     fiber until the whole block (or the whole warp) has arrived; arriving
 *     in divergent code is reported as an error, never a hang.
 *   - WMMA fragments hold their whole 16x16 tile in every lane. The API only
 *     lets code touch fragments through the *_sync calls, so where the
 *     hardware keeps each element cannot be observed; element access (x[],
 *     num_elements) is deliberately absent, so code that uses it does not
 *     compile. A load reads the tile as the lane reaches it, then waits for
 *     the warp; a store waits for the warp, then each lane writes its own
 *     32nd of the tile: code that reads other lanes' stores without a
 *     barrier sees poison.
 *   - __half and __nv_bfloat16 are 16-bit structs with no arithmetic and no
 *     implicit conversions (the generator promises to use only the
 *     conversion functions); conversions are support/half.h's, through the
 *     device struct, so rounding is bit-for-bit the interpreter's.
 *
 * Anything outside the documented subset (plus a few spellings the subset
 * names as likely: __shfl_xor_sync, __shfl_sync, __expf, rsqrtf, atomicAdd)
 * is left undefined on purpose: generated code that strays fails to
 * compile here. The image defines the one `lathe_emu_device`: include this
 * header in exactly one translation unit per image.
 */
#ifndef LATHE_TESTS_CUDA_EMU_H
#define LATHE_TESTS_CUDA_EMU_H

#ifndef __cplusplus
#error "cuda_emu.h is C++: compile generated CUDA C with the host C++ compiler"
#endif

#include <math.h>
#include <string.h>

#include "emu_abi.h"

/* ---- the image's device struct and shared-memory section ---------------- */

extern "C" unsigned char __start_lathe_shared[] __attribute__((weak, visibility("hidden")));
extern "C" unsigned char __stop_lathe_shared[] __attribute__((weak, visibility("hidden")));

extern "C" {
lathe_emu_device_t lathe_emu_device = {
    LATHE_EMU_ABI_VERSION, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0},
    __start_lathe_shared,  __stop_lathe_shared,
    nullptr,               nullptr,   nullptr,   nullptr,   nullptr,
    nullptr,               nullptr,   nullptr};
}

/* ---- qualifiers ----------------------------------------------------------- */

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ static __attribute__((section("lathe_shared")))
/* __restrict__ is a GNU C++ keyword already. */

/* ---- builtin variables ---------------------------------------------------- */

typedef lathe_emu_uint3_t uint3;
#define threadIdx (lathe_emu_device.thread_idx)
#define blockIdx (lathe_emu_device.block_idx)
#define blockDim (lathe_emu_device.block_dim)
#define gridDim (lathe_emu_device.grid_dim)
#define warpSize 32

inline unsigned int lathe_emu_lane() {
  const lathe_emu_device_t &d = lathe_emu_device;
  unsigned int linear =
      d.thread_idx.x + d.block_dim.x * (d.thread_idx.y + d.block_dim.y * d.thread_idx.z);
  return linear % 32u;
}

/* ---- synchronisation ------------------------------------------------------ */

inline void __syncthreads() { lathe_emu_device.syncthreads(lathe_emu_device.emu); }

template <class T> inline T lathe_emu_shuffle(unsigned int mask, T v, int kind, int arg, int width) {
  static_assert(sizeof(T) <= 8, "shuffles move at most 64 bits");
  if (width != 32) lathe_emu_device.fail(lathe_emu_device.emu, "shuffle width other than 32");
  uint64_t bits = 0;
  memcpy(&bits, &v, sizeof v);
  bits = lathe_emu_device.shfl(lathe_emu_device.emu, bits, kind, arg, mask);
  T out;
  memcpy(&out, &bits, sizeof out);
  return out;
}
template <class T> inline T __shfl_down_sync(unsigned int mask, T v, unsigned int delta, int width = 32) {
  return lathe_emu_shuffle(mask, v, LATHE_EMU_SHFL_DOWN, (int)delta, width);
}
template <class T> inline T __shfl_up_sync(unsigned int mask, T v, unsigned int delta, int width = 32) {
  return lathe_emu_shuffle(mask, v, LATHE_EMU_SHFL_UP, (int)delta, width);
}
template <class T> inline T __shfl_xor_sync(unsigned int mask, T v, int lane_mask, int width = 32) {
  return lathe_emu_shuffle(mask, v, LATHE_EMU_SHFL_XOR, lane_mask, width);
}
template <class T> inline T __shfl_sync(unsigned int mask, T v, int src_lane, int width = 32) {
  return lathe_emu_shuffle(mask, v, LATHE_EMU_SHFL_IDX, src_lane, width);
}

/* Fibers never preempt each other, so a read-modify-write is atomic. */
inline unsigned int atomicCAS(unsigned int *p, unsigned int compare, unsigned int val) {
  unsigned int old = *p;
  if (old == compare) *p = val;
  return old;
}
inline int atomicCAS(int *p, int compare, int val) {
  int old = *p;
  if (old == compare) *p = val;
  return old;
}
template <class T> inline T atomicAdd(T *p, T v) {
  T old = *p;
  *p = (T)(old + v);
  return old;
}

/* ---- bit casts and math ---------------------------------------------------- */

inline float __int_as_float(int v) {
  float f;
  memcpy(&f, &v, sizeof f);
  return f;
}
inline int __float_as_int(float f) {
  int v;
  memcpy(&v, &f, sizeof v);
  return v;
}
inline double __longlong_as_double(long long v) {
  double d;
  memcpy(&d, &v, sizeof d);
  return d;
}
inline long long __double_as_longlong(double d) {
  long long v;
  memcpy(&v, &d, sizeof v);
  return v;
}
/* The math functions of the subset are <math.h>'s (float and double forms);
 * these are the fast-math spellings the subset may grow into. */
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }

/* ---- f16 and bf16 ---------------------------------------------------------- */

struct __half {
  unsigned short lathe_bits;
};
struct __nv_bfloat16 {
  unsigned short lathe_bits;
};
inline float __half2float(__half h) { return lathe_emu_device.f16_to_f32(h.lathe_bits); }
inline __half __float2half_rn(float f) { return __half{lathe_emu_device.f32_to_f16(f)}; }
inline __half __float2half(float f) { return __float2half_rn(f); }
inline float __bfloat162float(__nv_bfloat16 h) { return lathe_emu_device.bf16_to_f32(h.lathe_bits); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) {
  return __nv_bfloat16{lathe_emu_device.f32_to_bf16(f)};
}
inline __nv_bfloat16 __float2bfloat16(float f) { return __float2bfloat16_rn(f); }

inline float lathe_emu_widen(__half h) { return __half2float(h); }
inline float lathe_emu_widen(__nv_bfloat16 h) { return __bfloat162float(h); }
inline float lathe_emu_widen(float f) { return f; }

/* ---- WMMA ----------------------------------------------------------------- */

namespace nvcuda {
namespace wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <class T> struct lathe_is_16bit { static const bool value = false; };
template <> struct lathe_is_16bit<__half> { static const bool value = true; };
template <> struct lathe_is_16bit<__nv_bfloat16> { static const bool value = true; };
template <class L> struct lathe_is_col { static const bool value = false; };
template <> struct lathe_is_col<col_major> { static const bool value = true; };

/* The whole tile in every lane: rows x columns of the operand (a: M x K,
 * b: K x N, accumulator: M x N), row-major, as float. */
template <class Use, int M, int N, int K, class T, class Layout = void> struct fragment {
  static_assert(M == 16 && N == 16 && K == 16, "only 16x16x16 fragments are emulated");
  float lathe_tile[16 * 16];
};

/* Every lane of the warp must reach each collective; the emulator checks. */
inline void lathe_warp_rendezvous() {
  lathe_emu_device.shfl(lathe_emu_device.emu, 0, LATHE_EMU_SHFL_IDX, 0, 0xffffffffu);
}

template <class T> inline void fill_fragment(fragment<accumulator, 16, 16, 16, T> &f, float v) {
  for (int i = 0; i < 256; ++i) f.lathe_tile[i] = v;
}

template <class Use, class T, class L>
inline void load_matrix_sync(fragment<Use, 16, 16, 16, T, L> &f, const T *p, unsigned int ldm) {
  static_assert(lathe_is_16bit<T>::value, "matrix_a/matrix_b fragments of __half or __nv_bfloat16");
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c)
      f.lathe_tile[r * 16 + c] = lathe_emu_widen(
          lathe_is_col<L>::value ? p[(long long)c * ldm + r] : p[(long long)r * ldm + c]);
  lathe_warp_rendezvous();
}

inline void load_matrix_sync(fragment<accumulator, 16, 16, 16, float> &f, const float *p,
                             unsigned int ldm, layout_t layout) {
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c)
      f.lathe_tile[r * 16 + c] =
          layout == mem_col_major ? p[(long long)c * ldm + r] : p[(long long)r * ldm + c];
  lathe_warp_rendezvous();
}

/* d = a x b + c in f32 (products of 16-bit operands are exact in f32). */
template <class T, class LA, class LB>
inline void mma_sync(fragment<accumulator, 16, 16, 16, float> &d,
                     const fragment<matrix_a, 16, 16, 16, T, LA> &a,
                     const fragment<matrix_b, 16, 16, 16, T, LB> &b,
                     const fragment<accumulator, 16, 16, 16, float> &c) {
  float out[256];
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 16; ++n) {
      float acc = c.lathe_tile[m * 16 + n];
      for (int k = 0; k < 16; ++k) acc += a.lathe_tile[m * 16 + k] * b.lathe_tile[k * 16 + n];
      out[m * 16 + n] = acc;
    }
  for (int i = 0; i < 256; ++i) d.lathe_tile[i] = out[i];
  lathe_warp_rendezvous();
}

inline void store_matrix_sync(float *p, const fragment<accumulator, 16, 16, 16, float> &f,
                              unsigned int ldm, layout_t layout) {
  lathe_warp_rendezvous();
  unsigned int first = lathe_emu_lane() * 8u;
  for (unsigned int i = first; i < first + 8u; ++i) {
    unsigned int r = i / 16u, c = i % 16u;
    p[layout == mem_col_major ? (long long)c * ldm + r : (long long)r * ldm + c] = f.lathe_tile[i];
  }
}

} // namespace wmma
} // namespace nvcuda

#endif
