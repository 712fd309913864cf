#pragma once
// AVX2+FMA kernels (8 floats per register). Every function carries
// SRFORMER_TARGET_AVX2, so the translation unit itself needs no -mavx2; they are only
// called after dispatch.hpp found AVX2 and FMA on the CPU. Same contracts as the
// portable twins in portable.hpp. No alignment peeling: results never depend on
// where a buffer starts (a padded row and the same row alone stay bit-identical).
#include "srformer/kernels/dispatch.hpp"

#if SRFORMER_KERNELS_X86
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "srformer/core/tensor.hpp"
#include "srformer/kernels/detail/arguments.hpp"
#include "srformer/kernels/detail/scratch.hpp"

namespace srformer::kernels::detail::avx2 {

SRFORMER_TARGET_AVX2 inline float horizontal_sum(__m256 v) {
  __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  x = _mm_add_ps(x, _mm_movehl_ps(x, x));
  x = _mm_add_ss(x, _mm_movehdup_ps(x));
  return _mm_cvtss_f32(x);
}

/// [Σ a, Σ b, Σ c, Σ d] of four registers.
SRFORMER_TARGET_AVX2 inline __m128 horizontal_sum4(__m256 a, __m256 b, __m256 c, __m256 d) {
  const __m256 ab = _mm256_hadd_ps(a, b);
  const __m256 cd = _mm256_hadd_ps(c, d);
  const __m256 abcd = _mm256_hadd_ps(ab, cd);
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

/// exp(x) for x <= 0 (Cephes' expf: range reduction by ln 2, degree-6 polynomial,
/// about 1 ulp); x below −87.3 (and −inf) gives 0 or the smallest normal.
SRFORMER_TARGET_AVX2 inline __m256 exp_nonpositive(__m256 x) {
  x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.3762626647949f)), _mm256_set1_ps(-88.3762626647949f));
  const __m256 n = _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
  x = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  x = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), x);
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
  // 2^n through the exponent field; n = −127 gives the bit pattern of 0.
  const __m256i exponent = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(exponent));
}

SRFORMER_TARGET_AVX2 inline void softmax(float* x, Index count) {
  if (count <= 0) return;
  Index k = 0;
  __m256 max8 = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  for (; k + 8 <= count; k += 8) max8 = _mm256_max_ps(max8, _mm256_loadu_ps(x + k));
  __m128 max4 = _mm_max_ps(_mm256_castps256_ps128(max8), _mm256_extractf128_ps(max8, 1));
  max4 = _mm_max_ps(max4, _mm_movehl_ps(max4, max4));
  max4 = _mm_max_ss(max4, _mm_movehdup_ps(max4));
  float max_value = _mm_cvtss_f32(max4);
  for (; k < count; ++k) max_value = x[k] > max_value ? x[k] : max_value;
  if (max_value == -std::numeric_limits<float>::infinity()) {
    for (k = 0; k < count; ++k) x[k] = 0.0f;
    return;
  }
  const __m256 max_vector = _mm256_set1_ps(max_value);
  __m256 sum8 = _mm256_setzero_ps();
  for (k = 0; k + 8 <= count; k += 8) {
    const __m256 e = exp_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(x + k), max_vector));
    _mm256_storeu_ps(x + k, e);
    sum8 = _mm256_add_ps(sum8, e);
  }
  float sum = horizontal_sum(sum8);
  for (; k < count; ++k) {
    x[k] = std::exp(x[k] - max_value);
    sum += x[k];
  }
  const float inverse = 1.0f / sum;
  const __m256 inverse8 = _mm256_set1_ps(inverse);
  for (k = 0; k + 8 <= count; k += 8) _mm256_storeu_ps(x + k, _mm256_mul_ps(_mm256_loadu_ps(x + k), inverse8));
  for (; k < count; ++k) x[k] *= inverse;
}

/// q · k_r for the four key rows k0 + r*stride, r = 0..3.
SRFORMER_TARGET_AVX2 inline __m128 dot4(const float* q, const float* k0, Index stride, Index d) {
  const float* k1 = k0 + stride;
  const float* k2 = k1 + stride;
  const float* k3 = k2 + stride;
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps(), b2 = _mm256_setzero_ps(), b3 = _mm256_setzero_ps();
  Index c = 0;
  for (; c + 16 <= d; c += 16) {  // two accumulators per key: eight independent FMA chains
    const __m256 x = _mm256_loadu_ps(q + c), y = _mm256_loadu_ps(q + c + 8);
    a0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(k0 + c), a0);
    b0 = _mm256_fmadd_ps(y, _mm256_loadu_ps(k0 + c + 8), b0);
    a1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(k1 + c), a1);
    b1 = _mm256_fmadd_ps(y, _mm256_loadu_ps(k1 + c + 8), b1);
    a2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(k2 + c), a2);
    b2 = _mm256_fmadd_ps(y, _mm256_loadu_ps(k2 + c + 8), b2);
    a3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(k3 + c), a3);
    b3 = _mm256_fmadd_ps(y, _mm256_loadu_ps(k3 + c + 8), b3);
  }
  if (c + 8 <= d) {
    const __m256 x = _mm256_loadu_ps(q + c);
    a0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(k0 + c), a0);
    a1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(k1 + c), a1);
    a2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(k2 + c), a2);
    a3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(k3 + c), a3);
    c += 8;
  }
  __m128 sums = horizontal_sum4(_mm256_add_ps(a0, b0), _mm256_add_ps(a1, b1), _mm256_add_ps(a2, b2),
                                _mm256_add_ps(a3, b3));
  if (c < d) {
    float tail[4] = {0, 0, 0, 0};
    for (; c < d; ++c) {
      tail[0] += q[c] * k0[c];
      tail[1] += q[c] * k1[c];
      tail[2] += q[c] * k2[c];
      tail[3] += q[c] * k3[c];
    }
    sums = _mm_add_ps(sums, _mm_loadu_ps(tail));
  }
  return sums;
}

SRFORMER_TARGET_AVX2 inline float dot(const float* q, const float* k, Index d) {
  __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps();
  Index c = 0;
  for (; c + 16 <= d; c += 16) {
    a = _mm256_fmadd_ps(_mm256_loadu_ps(q + c), _mm256_loadu_ps(k + c), a);
    b = _mm256_fmadd_ps(_mm256_loadu_ps(q + c + 8), _mm256_loadu_ps(k + c + 8), b);
  }
  if (c + 8 <= d) {
    a = _mm256_fmadd_ps(_mm256_loadu_ps(q + c), _mm256_loadu_ps(k + c), a);
    c += 8;
  }
  float sum = horizontal_sum(_mm256_add_ps(a, b));
  for (; c < d; ++c) sum += q[c] * k[c];
  return sum;
}

/// Asks for rows [first, first + 4) of a [rows, width] block (stride `stride`) to be
/// brought into the caches while the current rows are being used: the heads of a row
/// are visited out of order, which the hardware prefetchers follow less well.
SRFORMER_TARGET_AVX2 inline void prefetch_rows(const float* data, Index first, Index rows, Index stride, Index width) {
  if (first + 4 > rows) return;
  for (Index r = first; r < first + 4; ++r)
    for (Index c = 0; c < width; c += 16) _mm_prefetch(reinterpret_cast<const char*>(data + r * stride + c), _MM_HINT_T0);
}

constexpr Index kPrefetchRows = 8;  // two blocks ahead

/// Software prefetching pays off only for blocks that come from memory (full attention
/// over long inputs: +15-25 % bandwidth measured); for a segment already in L2/L3 the
/// extra instructions cost more than they save.
inline bool worth_prefetching(Index rows, Index stride) {
  return rows * stride * static_cast<Index>(sizeof(float)) >= (Index{1} << 20);
}

/// Walks the keys in blocks of four rows and scores every head and query of a block
/// while its rows are in L1: K is read once, front to back, whatever the head count.
SRFORMER_TARGET_AVX2 inline void attention_scores(const AttendArguments& a, float* scores) {
  const Index d = a.head_dim;
  const bool prefetch = worth_prefetching(a.length, a.k_stride);
  Index k = 0;
  for (; k + 4 <= a.length; k += 4) {
    const float* rows = a.k + k * a.k_stride;
    if (prefetch) prefetch_rows(a.k, k + kPrefetchRows, a.length, a.k_stride, a.heads * d);
    for (Index h = 0; h < a.heads; ++h)
      for (Index i = 0; i < a.n; ++i) {
        __m128 s = dot4(a.q + i * a.q_stride + h * d, rows + h * d, a.k_stride, d);
        if (a.bias) s = _mm_add_ps(s, _mm_loadu_ps(a.bias + k));
        _mm_storeu_ps(scores + a.score_row(h, i) + k, s);
      }
  }
  for (; k < a.length; ++k)
    for (Index h = 0; h < a.heads; ++h)
      for (Index i = 0; i < a.n; ++i) {
        float s = dot(a.q + i * a.q_stride + h * d, a.k + k * a.k_stride + h * d, d);
        if (a.bias) s += a.bias[k];
        scores[a.score_row(h, i) + k] = s;
      }
  for (Index h = 0; h < a.heads; ++h)
    for (Index i = 0; i < a.n; ++i) {
      float* row = scores + a.score_row(h, i);
      for (k = a.length; k < a.width(); ++k) row[k] = a.bias ? a.bias[k] : 0.0f;
    }
}

/// Like the scores, V is walked once in blocks of four rows; each block is added to
/// every head and query of the output.
SRFORMER_TARGET_AVX2 inline void attention_weighted_sum(const AttendArguments& a, const float* probabilities,
                                                        float* out, Index out_stride) {
  const Index d = a.head_dim, width = a.heads * d;
  for (Index i = 0; i < a.n; ++i) std::fill_n(out + i * out_stride, width, 0.0f);
  const Index vs = a.v_stride;
  const bool prefetch = worth_prefetching(a.length, vs);
  Index k = 0;
  for (; k + 4 <= a.length; k += 4) {
    const float* rows = a.v + k * vs;
    if (prefetch) prefetch_rows(a.v, k + kPrefetchRows, a.length, vs, a.heads * d);
    for (Index h = 0; h < a.heads; ++h)
      for (Index i = 0; i < a.n; ++i) {
        const float* p = probabilities + a.score_row(h, i) + k;
        const __m256 p0 = _mm256_broadcast_ss(p), p1 = _mm256_broadcast_ss(p + 1);
        const __m256 p2 = _mm256_broadcast_ss(p + 2), p3 = _mm256_broadcast_ss(p + 3);
        float* o = out + i * out_stride + h * d;
        const float* v = rows + h * d;
        Index c = 0;
        for (; c + 8 <= d; c += 8) {
          __m256 acc = _mm256_loadu_ps(o + c);
          acc = _mm256_fmadd_ps(p0, _mm256_loadu_ps(v + c), acc);
          acc = _mm256_fmadd_ps(p1, _mm256_loadu_ps(v + vs + c), acc);
          acc = _mm256_fmadd_ps(p2, _mm256_loadu_ps(v + 2 * vs + c), acc);
          acc = _mm256_fmadd_ps(p3, _mm256_loadu_ps(v + 3 * vs + c), acc);
          _mm256_storeu_ps(o + c, acc);
        }
        for (; c < d; ++c) o[c] += p[0] * v[c] + p[1] * v[vs + c] + p[2] * v[2 * vs + c] + p[3] * v[3 * vs + c];
      }
  }
  for (; k < a.length; ++k) {
    const float* row = a.v + k * vs;
    for (Index h = 0; h < a.heads; ++h)
      for (Index i = 0; i < a.n; ++i) {
        const float p = probabilities[a.score_row(h, i) + k];
        const __m256 p8 = _mm256_set1_ps(p);
        float* o = out + i * out_stride + h * d;
        const float* v = row + h * d;
        Index c = 0;
        for (; c + 8 <= d; c += 8)
          _mm256_storeu_ps(o + c, _mm256_fmadd_ps(p8, _mm256_loadu_ps(v + c), _mm256_loadu_ps(o + c)));
        for (; c < d; ++c) o[c] += p * v[c];
      }
  }
}

/// Where a product tile goes: C = sum, or C += sum.
struct ProductOutput {
  float* c;
  Index c_rs;
  bool accumulate;
  SRFORMER_TARGET_AVX2 void put(Index row, Index col, __m256 sum) const {
    float* p = c + row * c_rs + col;
    _mm256_storeu_ps(p, accumulate ? _mm256_add_ps(_mm256_loadu_ps(p), sum) : sum);
  }
  void put_scalar(Index row, Index col, float sum) const {
    float& target = c[row * c_rs + col];
    target = accumulate ? target + sum : sum;
  }
};

/// The RAF update applied to a tile of Xin = P Wᵀ as it leaves the registers, so that
/// Xin is never written to memory: U = λU + Xin, Z = U/θ − 1, U −= θ where Z > 0, R = Z there, else 0.
struct RafOutput {
  float* u;
  Index u_rs;
  float* r;
  Index r_rs;
  float leak, threshold;
  // Not inlined: inlined, its constants get hoisted into the tile's k loop and push
  // accumulators out of the registers.
  __attribute__((noinline)) SRFORMER_TARGET_AVX2 void put(Index row, Index col, __m256 sum) const {
    float* up = u + row * u_rs + col;
    const __m256 theta = _mm256_set1_ps(threshold);
    const __m256 membrane = _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(leak), _mm256_loadu_ps(up)), sum);
    const __m256 z = _mm256_sub_ps(_mm256_div_ps(membrane, theta), _mm256_set1_ps(1.0f));
    const __m256 fires = _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_GT_OQ);
    _mm256_storeu_ps(up, _mm256_sub_ps(membrane, _mm256_and_ps(theta, fires)));
    _mm256_storeu_ps(r + row * r_rs + col, _mm256_and_ps(z, fires));
  }
  void put_scalar(Index row, Index col, float sum) const {
    float& membrane = u[row * u_rs + col];
    const float updated = leak * membrane + sum;
    const float z = updated / threshold - 1.0f;
    const bool fires = z > 0.0f;
    membrane = fires ? updated - threshold : updated;
    r[row * r_rs + col] = fires ? z : 0.0f;
  }
};

// The tiles keep their accumulators in named variables, not arrays: GCC 12 spills an
// array of __m256 to the stack on every iteration, which halves the FMA rate.

/// A 4 × 8·NV tile (NV <= 3: up to 12 accumulators, 3 loads of B and 4 broadcasts of A
/// per 12 FMAs) at (row, col) of the output; the k loop runs with the tile in registers.
template <int NV, class Output>
SRFORMER_TARGET_AVX2 inline void gemm_tile4(Index K, const float* a, Index a_rs, Index a_cs, const float* b,
                                            Index b_rs, const Output& out, Index row, Index col) {
  static_assert(NV >= 1 && NV <= 3, "4-row tiles hold 1 to 3 vectors per row");
  const __m256 zero = _mm256_setzero_ps();
  __m256 c00 = zero, c10 = zero, c20 = zero, c30 = zero;
  [[maybe_unused]] __m256 c01 = zero, c11 = zero, c21 = zero, c31 = zero;
  [[maybe_unused]] __m256 c02 = zero, c12 = zero, c22 = zero, c32 = zero;
  for (Index k = 0; k < K; ++k) {
    const float* bk = b + k * b_rs;
    const float* ak = a + k * a_cs;
    const __m256 b0 = _mm256_loadu_ps(bk);
    [[maybe_unused]] __m256 b1 = zero, b2 = zero;
    if constexpr (NV > 1) b1 = _mm256_loadu_ps(bk + 8);
    if constexpr (NV > 2) b2 = _mm256_loadu_ps(bk + 16);
    __m256 x = _mm256_broadcast_ss(ak);
    c00 = _mm256_fmadd_ps(x, b0, c00);
    if constexpr (NV > 1) c01 = _mm256_fmadd_ps(x, b1, c01);
    if constexpr (NV > 2) c02 = _mm256_fmadd_ps(x, b2, c02);
    x = _mm256_broadcast_ss(ak + a_rs);
    c10 = _mm256_fmadd_ps(x, b0, c10);
    if constexpr (NV > 1) c11 = _mm256_fmadd_ps(x, b1, c11);
    if constexpr (NV > 2) c12 = _mm256_fmadd_ps(x, b2, c12);
    x = _mm256_broadcast_ss(ak + 2 * a_rs);
    c20 = _mm256_fmadd_ps(x, b0, c20);
    if constexpr (NV > 1) c21 = _mm256_fmadd_ps(x, b1, c21);
    if constexpr (NV > 2) c22 = _mm256_fmadd_ps(x, b2, c22);
    x = _mm256_broadcast_ss(ak + 3 * a_rs);
    c30 = _mm256_fmadd_ps(x, b0, c30);
    if constexpr (NV > 1) c31 = _mm256_fmadd_ps(x, b1, c31);
    if constexpr (NV > 2) c32 = _mm256_fmadd_ps(x, b2, c32);
  }
  out.put(row, col, c00);
  out.put(row + 1, col, c10);
  out.put(row + 2, col, c20);
  out.put(row + 3, col, c30);
  if constexpr (NV > 1) {
    out.put(row, col + 8, c01);
    out.put(row + 1, col + 8, c11);
    out.put(row + 2, col + 8, c21);
    out.put(row + 3, col + 8, c31);
  }
  if constexpr (NV > 2) {
    out.put(row, col + 16, c02);
    out.put(row + 1, col + 16, c12);
    out.put(row + 2, col + 16, c22);
    out.put(row + 3, col + 16, c32);
  }
}

/// One row, 8·NV columns (NV <= 8): up to eight independent FMA chains, enough to hide
/// the FMA latency when a single query row is multiplied (q·R).
template <int NV, class Output>
SRFORMER_TARGET_AVX2 inline void gemm_tile1(Index K, const float* a, Index a_cs, const float* b, Index b_rs,
                                            const Output& out, Index row, Index col) {
  static_assert(NV >= 1 && NV <= 8, "1-row tiles hold 1 to 8 vectors");
  const __m256 zero = _mm256_setzero_ps();
  __m256 c0 = zero;
  [[maybe_unused]] __m256 c1 = zero, c2 = zero, c3 = zero, c4 = zero, c5 = zero, c6 = zero, c7 = zero;
  for (Index k = 0; k < K; ++k) {
    const float* bk = b + k * b_rs;
    const __m256 x = _mm256_broadcast_ss(a + k * a_cs);
    c0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(bk), c0);
    if constexpr (NV > 1) c1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(bk + 8), c1);
    if constexpr (NV > 2) c2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(bk + 16), c2);
    if constexpr (NV > 3) c3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(bk + 24), c3);
    if constexpr (NV > 4) c4 = _mm256_fmadd_ps(x, _mm256_loadu_ps(bk + 32), c4);
    if constexpr (NV > 5) c5 = _mm256_fmadd_ps(x, _mm256_loadu_ps(bk + 40), c5);
    if constexpr (NV > 6) c6 = _mm256_fmadd_ps(x, _mm256_loadu_ps(bk + 48), c6);
    if constexpr (NV > 7) c7 = _mm256_fmadd_ps(x, _mm256_loadu_ps(bk + 56), c7);
  }
  out.put(row, col, c0);
  if constexpr (NV > 1) out.put(row, col + 8, c1);
  if constexpr (NV > 2) out.put(row, col + 16, c2);
  if constexpr (NV > 3) out.put(row, col + 24, c3);
  if constexpr (NV > 4) out.put(row, col + 32, c4);
  if constexpr (NV > 5) out.put(row, col + 40, c5);
  if constexpr (NV > 6) out.put(row, col + 48, c6);
  if constexpr (NV > 7) out.put(row, col + 56, c7);
}

/// gemm_tile1<nv> for a run-time nv in 1..NV.
template <int NV, class Output>
SRFORMER_TARGET_AVX2 inline void gemm_tile1_upto(Index nv, Index K, const float* a, Index a_cs, const float* b,
                                                 Index b_rs, const Output& out, Index row, Index col) {
  if constexpr (NV > 0) {
    if (nv == NV)
      gemm_tile1<NV>(K, a, a_cs, b, b_rs, out, row, col);
    else
      gemm_tile1_upto<NV - 1>(nv, K, a, a_cs, b, b_rs, out, row, col);
  }
}

/// The M×N product A·B (A(i,k) = a[i*a_rs + k*a_cs], B(k,j) = b[k*b_rs + j]) handed to
/// `out` tile by tile, each element summed over k in order. Blocks of four rows in 4 × 24
/// tiles; leftover rows one at a time, 64 columns per tile; columns past the last whole
/// vector in scalar code.
template <class Output>
SRFORMER_TARGET_AVX2 inline void gemm_to(Index M, Index N, Index K, const float* a, Index a_rs, Index a_cs,
                                         const float* b, Index b_rs, const Output& out) {
  const Index vectors = N / 8;
  Index i = 0;
  for (; i + 4 <= M; i += 4) {
    const float* ai = a + i * a_rs;
    Index v = 0;
    for (; v + 3 <= vectors; v += 3) gemm_tile4<3>(K, ai, a_rs, a_cs, b + 8 * v, b_rs, out, i, 8 * v);
    if (vectors - v == 2) gemm_tile4<2>(K, ai, a_rs, a_cs, b + 8 * v, b_rs, out, i, 8 * v);
    if (vectors - v == 1) gemm_tile4<1>(K, ai, a_rs, a_cs, b + 8 * v, b_rs, out, i, 8 * v);
  }
  for (; i < M; ++i) {
    const float* ai = a + i * a_rs;
    Index v = 0;
    for (; v + 8 <= vectors; v += 8) gemm_tile1<8>(K, ai, a_cs, b + 8 * v, b_rs, out, i, 8 * v);
    if (v < vectors) gemm_tile1_upto<7>(vectors - v, K, ai, a_cs, b + 8 * v, b_rs, out, i, 8 * v);
  }
  for (Index j = vectors * 8; j < N; ++j)
    for (i = 0; i < M; ++i) {
      float sum = 0.0f;
      for (Index k = 0; k < K; ++k) sum += a[i * a_rs + k * a_cs] * b[k * b_rs + j];
      out.put_scalar(i, j, sum);
    }
}

/// Same contract as portable::gemm.
SRFORMER_TARGET_AVX2 inline void gemm(Index M, Index N, Index K, const float* a, Index a_rs, Index a_cs,
                                      const float* b, Index b_rs, float* c, Index c_rs, bool accumulate) {
  gemm_to(M, N, K, a, a_rs, a_cs, b, b_rs, ProductOutput{c, c_rs, accumulate});
}

/// The element-wise RAF update from a precomputed current X = P Wᵀ ([rows, d], x_rs), in
/// RafOutput's operation order: 8 lanes at a time without branches (whether a neuron
/// fires is data-dependent, so a branch per element mispredicts about half the time).
SRFORMER_TARGET_AVX2 inline void raf_integrate(Index rows, Index d, const float* x, Index x_rs, float leak,
                                               float threshold, float* u, Index u_rs, float* r, Index r_rs) {
  const __m256 lambda = _mm256_set1_ps(leak), theta = _mm256_set1_ps(threshold), one = _mm256_set1_ps(1.0f);
  const __m256 zero = _mm256_setzero_ps();
  const RafOutput tail{u, u_rs, r, r_rs, leak, threshold};
  for (Index a = 0; a < rows; ++a) {
    const float* xa = x + a * x_rs;
    float* ua = u + a * u_rs;
    float* ra = r + a * r_rs;
    Index c = 0;
    for (; c + 8 <= d; c += 8) {
      const __m256 membrane = _mm256_add_ps(_mm256_mul_ps(lambda, _mm256_loadu_ps(ua + c)), _mm256_loadu_ps(xa + c));
      const __m256 z = _mm256_sub_ps(_mm256_div_ps(membrane, theta), one);
      const __m256 fires = _mm256_cmp_ps(z, zero, _CMP_GT_OQ);
      _mm256_storeu_ps(ua + c, _mm256_sub_ps(membrane, _mm256_and_ps(theta, fires)));
      _mm256_storeu_ps(ra + c, _mm256_and_ps(z, fires));
    }
    for (; c < d; ++c) tail.put_scalar(a, c, xa[c]);
  }
}

/// RAF step on [rows, d] stacks: P (p_rs), Wᵀ (d×d, contiguous), U and R updated in place.
SRFORMER_TARGET_AVX2 inline void raf_step(Index rows, Index d, const float* p, Index p_rs, const float* w_transposed,
                                          float leak, float threshold, float* u, Index u_rs, float* r, Index r_rs) {
  gemm_to(rows, d, d, p, p_rs, 1, w_transposed, d, RafOutput{u, u_rs, r, r_rs, leak, threshold});
}

SRFORMER_TARGET_AVX2 inline void add_normalised_recurrent(const float* q, Index q_stride, Index n,
                                                          const float* recurrent, Index r_stride, const float* norms,
                                                          Index n_stride, Index heads, Index d, float* out,
                                                          Index out_stride) {
  float* product = scratch(kProductSlot, n * d);
  const __m256 zero = _mm256_setzero_ps();
  for (Index h = 0; h < heads; ++h) {
    gemm(n, d, d, q + h * d, q_stride, 1, recurrent + h * d * r_stride, r_stride, product, d, false);
    const float* norm = norms + h * n_stride;
    for (Index i = 0; i < n; ++i) {
      float* o = out + i * out_stride + h * d;
      const float* p = product + i * d;
      Index c = 0;
      for (; c + 8 <= d; c += 8) {
        const __m256 nv = _mm256_loadu_ps(norm + c);
        const __m256 positive = _mm256_cmp_ps(nv, zero, _CMP_GT_OQ);
        const __m256 term = _mm256_and_ps(_mm256_div_ps(_mm256_loadu_ps(p + c), nv), positive);
        _mm256_storeu_ps(o + c, _mm256_add_ps(_mm256_loadu_ps(o + c), term));
      }
      for (; c < d; ++c)
        if (norm[c] > 0.0f) o[c] += p[c] / norm[c];
    }
  }
}

}  // namespace srformer::kernels::detail::avx2

#endif  // SRFORMER_KERNELS_X86
