#pragma once
// Portable kernels of the GEMM (driver: gemm_plan.hpp): plain C++ loops with fixed
// trip counts that the compiler vectorises for the build's target (SSE2 on x86-64,
// NEON on AArch64). Same contracts as the AVX2 twins in gemm_avx2.hpp.
#include "srformer/core/tensor.hpp"
#include "srformer/kernels/detail/gemm_plan.hpp"
#include "srformer/kernels/detail/portable.hpp"

namespace srformer::kernels::detail::portable_gemm {

constexpr Index kMR = 4;
constexpr Index kNR = 8;

/// 4×8 register block (eight 4-float vectors on SSE2/NEON), one multiply-add chain per
/// element. A packed (kc × 4) or, when `Direct`, read in place (rows a + r*a_rs,
/// contiguous in k; rows past `rows` repeat row 0, results dropped).
template <bool Direct>
void micro_4x8(Index kc, const float* a, Index a_rs, const float* b, float* c, Index c_rs, Index c_cs, Index rows,
               Index cols, bool add) {
  float acc[kMR][kNR] = {};
  const float* row[kMR];
  for (Index i = 0; i < kMR; ++i) row[i] = Direct ? a + (i < rows ? i * a_rs : 0) : a + i;
  constexpr Index step = Direct ? 1 : kMR;
  for (Index k = 0; k < kc; ++k, b += kNR)
    for (Index i = 0; i < kMR; ++i)
      for (Index j = 0; j < kNR; ++j) acc[i][j] += row[i][k * step] * b[j];
  for (Index i = 0; i < rows; ++i)
    for (Index j = 0; j < cols; ++j) {
      float& target = c[i * c_rs + j * c_cs];
      target = add ? target + acc[i][j] : acc[i][j];
    }
}

template <int R>
void dot_rows(const float* x, Index x_rs, const float* const* w, Index K, float* out) {
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < 4; ++q) out[4 * r + q] = portable::dot(x + r * x_rs, w[q], K);  // the fixed 8-lane order of every portable dot
}

inline void rows_times_b(const float* a, Index a_rs, Index a_cs, Index rows, const float* b, Index b_rs, Index K,
                         Index cols, float* out) {
  for (Index r = 0; r < rows; ++r) {
    float acc[16] = {};
    const float* ar = a + r * a_rs;
    if (cols == 16) {
      for (Index k = 0; k < K; ++k) {
        const float x = ar[k * a_cs];
        const float* row = b + k * b_rs;
        for (int j = 0; j < 16; ++j) acc[j] += x * row[j];
      }
    } else {
      for (Index k = 0; k < K; ++k) {
        const float x = ar[k * a_cs];
        const float* row = b + k * b_rs;
        for (Index j = 0; j < cols; ++j) acc[j] += x * row[j];
      }
    }
    for (int j = 0; j < 16; ++j) out[16 * r + j] = acc[j];
  }
}

struct Kernels {
  static constexpr Index MR = kMR;
  static constexpr Index NR = kNR;
  static void micro(Index kc, const float* a, const float* b, float* c, Index c_rs, Index c_cs, Index rows,
                    Index cols, bool add) {
    micro_4x8<false>(kc, a, 0, b, c, c_rs, c_cs, rows, cols, add);
  }
  static void micro_direct(Index kc, const float* a, Index a_rs, const float* b, float* c, Index c_rs, Index c_cs,
                           Index rows, Index cols, bool add) {
    micro_4x8<true>(kc, a, a_rs, b, c, c_rs, c_cs, rows, cols, add);
  }
  // `next` (the AVX2 kernel's prefetch hint) is ignored: no portable prefetch.
  static void dot_rows2(const float* x, Index x_rs, const float* const* w, Index K, float* out, const float*) {
    dot_rows<2>(x, x_rs, w, K, out);
  }
  static void dot_rows1(const float* x, const float* const* w, Index K, float* out, const float*) {
    dot_rows<1>(x, 0, w, K, out);
  }
  static void rows_times_b(const float* a, Index a_rs, Index a_cs, Index rows, const float* b, Index b_rs, Index K,
                           Index cols, float* out) {
    portable_gemm::rows_times_b(a, a_rs, a_cs, rows, b, b_rs, K, cols, out);
  }
};

}  // namespace srformer::kernels::detail::portable_gemm
