#pragma once
// AVX2+FMA kernels of the GEMM (driver: gemm_plan.hpp). Only called after dispatch.hpp
// found AVX2 and FMA; the translation unit needs no -mavx2.
#include "srformer/kernels/dispatch.hpp"

#if SRFORMER_KERNELS_X86
#include <immintrin.h>

#include "srformer/core/tensor.hpp"
#include "srformer/kernels/detail/gemm_plan.hpp"

namespace srformer::kernels::detail::avx2_gemm {

/// Lanes [0, count) set, for masked loads of a row's last count < 8 floats.
SRFORMER_TARGET_AVX2 inline __m256i first_lanes(Index count) {
  static const int table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(table + 8 - count));
}

SRFORMER_TARGET_AVX2 inline __m128 horizontal_sum4(__m256 a, __m256 b, __m256 c, __m256 d) {
  const __m256 abcd = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

/// 6×16 register block: 12 accumulators, one multiply-add chain per element, then
/// C = acc or C += acc. B is a packed panel (kc × 16). A is either a packed panel
/// (kc × 6, `a_rs` unused) or, when `Direct`, read in place: rows a + r*a_rs, contiguous
/// in k (rows past `rows` repeat row 0; their results are dropped).
template <bool Direct>
SRFORMER_TARGET_AVX2 inline void micro_6x16(Index kc, const float* a, Index a_rs, const float* b, float* c,
                                            Index c_rs, Index c_cs, Index rows, Index cols, bool add) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  const float* a0 = a;
  const float* a1 = Direct ? a + (rows > 1 ? a_rs : 0) : a + 1;
  const float* a2 = Direct ? a + (rows > 2 ? 2 * a_rs : 0) : a + 2;
  const float* a3 = Direct ? a + (rows > 3 ? 3 * a_rs : 0) : a + 3;
  const float* a4 = Direct ? a + (rows > 4 ? 4 * a_rs : 0) : a + 4;
  const float* a5 = Direct ? a + (rows > 5 ? 5 * a_rs : 0) : a + 5;
  constexpr Index step = Direct ? 1 : 6;
  // The C rows are read (when adding) and written after the loop: ask for them now.
  for (Index i = 0; i < rows; ++i) _mm_prefetch(reinterpret_cast<const char*>(c + i * c_rs), _MM_HINT_T0);
  for (Index k = 0; k < kc; ++k, b += 16) {
    const Index ak = k * step;
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
    __m256 x = _mm256_broadcast_ss(a0 + ak);
    c00 = _mm256_fmadd_ps(x, b0, c00);
    c01 = _mm256_fmadd_ps(x, b1, c01);
    x = _mm256_broadcast_ss(a1 + ak);
    c10 = _mm256_fmadd_ps(x, b0, c10);
    c11 = _mm256_fmadd_ps(x, b1, c11);
    x = _mm256_broadcast_ss(a2 + ak);
    c20 = _mm256_fmadd_ps(x, b0, c20);
    c21 = _mm256_fmadd_ps(x, b1, c21);
    x = _mm256_broadcast_ss(a3 + ak);
    c30 = _mm256_fmadd_ps(x, b0, c30);
    c31 = _mm256_fmadd_ps(x, b1, c31);
    x = _mm256_broadcast_ss(a4 + ak);
    c40 = _mm256_fmadd_ps(x, b0, c40);
    c41 = _mm256_fmadd_ps(x, b1, c41);
    x = _mm256_broadcast_ss(a5 + ak);
    c50 = _mm256_fmadd_ps(x, b0, c50);
    c51 = _mm256_fmadd_ps(x, b1, c51);
  }
  const __m256 acc[6][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  if (rows == 6 && cols == 16 && c_cs == 1) {
    for (int i = 0; i < 6; ++i) {
      float* row = c + i * c_rs;
      if (add) {
        _mm256_storeu_ps(row, _mm256_add_ps(_mm256_loadu_ps(row), acc[i][0]));
        _mm256_storeu_ps(row + 8, _mm256_add_ps(_mm256_loadu_ps(row + 8), acc[i][1]));
      } else {
        _mm256_storeu_ps(row, acc[i][0]);
        _mm256_storeu_ps(row + 8, acc[i][1]);
      }
    }
    return;
  }
  alignas(32) float tile[6 * 16];
  for (int i = 0; i < 6; ++i) {
    _mm256_store_ps(tile + i * 16, acc[i][0]);
    _mm256_store_ps(tile + i * 16 + 8, acc[i][1]);
  }
  for (Index i = 0; i < rows; ++i)
    for (Index j = 0; j < cols; ++j) {
      float& target = c[i * c_rs + j * c_cs];
      target = add ? target + tile[i * 16 + j] : tile[i * 16 + j];
    }
}

/// out[r*4 + q] = x_r · w_q for R rows x_r = x + r*x_rs and four vectors w_q, length K:
/// one 8-lane multiply-add chain per output (the tail masked), then a fixed tree.
/// `next` (may be null): where the following group of four vectors starts; its 4·K
/// floats are prefetched at the rate this group is read. Rows of a decoder weight are
/// only 2 KiB, too short for the hardware prefetcher to ramp up on four new streams per
/// group (see bench/README, end to end: the decode's bandwidth figures).
template <int R>
SRFORMER_TARGET_AVX2 inline void dot_rows(const float* x, Index x_rs, const float* const* w, Index K, float* out,
                                          const float* next) {
  __m256 acc[R][4];
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < 4; ++q) acc[r][q] = _mm256_setzero_ps();
  const float *w0 = w[0], *w1 = w[1], *w2 = w[2], *w3 = w[3];
  Index k = 0;
  for (; k + 8 <= K; k += 8) {
    if (next) {
      _mm_prefetch(reinterpret_cast<const char*>(next + 4 * k), _MM_HINT_T1);
      _mm_prefetch(reinterpret_cast<const char*>(next + 4 * k + 16), _MM_HINT_T1);
    }
    const __m256 v0 = _mm256_loadu_ps(w0 + k), v1 = _mm256_loadu_ps(w1 + k), v2 = _mm256_loadu_ps(w2 + k),
                 v3 = _mm256_loadu_ps(w3 + k);
    for (int r = 0; r < R; ++r) {
      const __m256 xr = _mm256_loadu_ps(x + r * x_rs + k);
      acc[r][0] = _mm256_fmadd_ps(xr, v0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(xr, v1, acc[r][1]);
      acc[r][2] = _mm256_fmadd_ps(xr, v2, acc[r][2]);
      acc[r][3] = _mm256_fmadd_ps(xr, v3, acc[r][3]);
    }
  }
  if (k < K) {
    const __m256i mask = first_lanes(K - k);
    const __m256 v0 = _mm256_maskload_ps(w0 + k, mask), v1 = _mm256_maskload_ps(w1 + k, mask),
                 v2 = _mm256_maskload_ps(w2 + k, mask), v3 = _mm256_maskload_ps(w3 + k, mask);
    for (int r = 0; r < R; ++r) {
      const __m256 xr = _mm256_maskload_ps(x + r * x_rs + k, mask);
      acc[r][0] = _mm256_fmadd_ps(xr, v0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(xr, v1, acc[r][1]);
      acc[r][2] = _mm256_fmadd_ps(xr, v2, acc[r][2]);
      acc[r][3] = _mm256_fmadd_ps(xr, v3, acc[r][3]);
    }
  }
  for (int r = 0; r < R; ++r) _mm_storeu_ps(out + 4 * r, horizontal_sum4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]));
}

/// out[r*16 + j] = Σ_k A(r,k)·b[k*b_rs + j] for `rows` <= 4 rows of A and cols <= 16
/// contiguous columns of B: one multiply-add chain per element.
SRFORMER_TARGET_AVX2 inline void rows_times_b(const float* a, Index a_rs, Index a_cs, Index rows, const float* b,
                                              Index b_rs, Index K, Index cols, float* out) {
  const __m256i mask0 = first_lanes(std::min<Index>(cols, 8));
  const __m256i mask1 = first_lanes(cols > 8 ? cols - 8 : 0);
  __m256 acc[4][2];
  for (int r = 0; r < 4; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  const Index r1 = rows > 1 ? a_rs : 0, r2 = rows > 2 ? 2 * a_rs : 0, r3 = rows > 3 ? 3 * a_rs : 0;
  for (Index k = 0; k < K; ++k) {
    const float* row = b + k * b_rs;
    const __m256 v0 = _mm256_maskload_ps(row, mask0), v1 = _mm256_maskload_ps(row + 8, mask1);
    const float* ak = a + k * a_cs;
    __m256 x = _mm256_broadcast_ss(ak);
    acc[0][0] = _mm256_fmadd_ps(x, v0, acc[0][0]);
    acc[0][1] = _mm256_fmadd_ps(x, v1, acc[0][1]);
    x = _mm256_broadcast_ss(ak + r1);
    acc[1][0] = _mm256_fmadd_ps(x, v0, acc[1][0]);
    acc[1][1] = _mm256_fmadd_ps(x, v1, acc[1][1]);
    x = _mm256_broadcast_ss(ak + r2);
    acc[2][0] = _mm256_fmadd_ps(x, v0, acc[2][0]);
    acc[2][1] = _mm256_fmadd_ps(x, v1, acc[2][1]);
    x = _mm256_broadcast_ss(ak + r3);
    acc[3][0] = _mm256_fmadd_ps(x, v0, acc[3][0]);
    acc[3][1] = _mm256_fmadd_ps(x, v1, acc[3][1]);
  }
  for (int r = 0; r < 4; ++r) {
    _mm256_storeu_ps(out + 16 * r, acc[r][0]);
    _mm256_storeu_ps(out + 16 * r + 8, acc[r][1]);
  }
}

/// The AVX2 kernel set GemmPlan runs (plain forwarders: the plan itself is ISA-free).
struct Kernels {
  static constexpr Index MR = 6;
  static constexpr Index NR = 16;
  static void micro(Index kc, const float* a, const float* b, float* c, Index c_rs, Index c_cs, Index rows,
                    Index cols, bool add) {
    micro_6x16<false>(kc, a, 0, b, c, c_rs, c_cs, rows, cols, add);
  }
  static void micro_direct(Index kc, const float* a, Index a_rs, const float* b, float* c, Index c_rs, Index c_cs,
                           Index rows, Index cols, bool add) {
    micro_6x16<true>(kc, a, a_rs, b, c, c_rs, c_cs, rows, cols, add);
  }
  static void dot_rows2(const float* x, Index x_rs, const float* const* w, Index K, float* out, const float* next) {
    dot_rows<2>(x, x_rs, w, K, out, next);
  }
  static void dot_rows1(const float* x, const float* const* w, Index K, float* out, const float* next) {
    dot_rows<1>(x, 0, w, K, out, next);
  }
  static void rows_times_b(const float* a, Index a_rs, Index a_cs, Index rows, const float* b, Index b_rs, Index K,
                           Index cols, float* out) {
    avx2_gemm::rows_times_b(a, a_rs, a_cs, rows, b, b_rs, K, cols, out);
  }
};

}  // namespace srformer::kernels::detail::avx2_gemm

#endif  // SRFORMER_KERNELS_X86
