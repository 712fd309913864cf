#pragma once
// The portable kernels: plain C++ with several independent partial sums, so that
// the compiler can vectorise the loops for whatever the build targets (SSE2 on
// x86-64, NEON on AArch64), and Eigen's product for the d×d products. They run where AVX2+FMA is missing and are the twin
// every AVX2 kernel is tested against.
#include <cmath>
#include <limits>

#include "srformer/core/tensor.hpp"
#include "srformer/kernels/detail/arguments.hpp"
#include "srformer/kernels/detail/scratch.hpp"

namespace srformer::kernels::detail::portable {

inline float dot(const float* a, const float* b, Index count) {
  float partial[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  Index i = 0;
  for (; i + 8 <= count; i += 8)
    for (int lane = 0; lane < 8; ++lane) partial[lane] += a[i + lane] * b[i + lane];
  float sum = ((partial[0] + partial[1]) + (partial[2] + partial[3])) +
              ((partial[4] + partial[5]) + (partial[6] + partial[7]));
  for (; i < count; ++i) sum += a[i] * b[i];
  return sum;
}

/// C = (accumulate ? C : 0) + A·B with A(i,k) = a[i*a_rs + k*a_cs], B(k,j) = b[k*b_rs + j],
/// C(i,j) = c[i*c_rs + j]. Eigen's blocked product (SSE2 on x86-64, NEON on AArch64) is
/// about twice as fast as plain loops here; for these sizes its packing buffers live on
/// the stack (the allocation test checks that nothing reaches the heap).
inline void gemm(Index M, Index N, Index K, const float* a, Index a_rs, Index a_cs, const float* b, Index b_rs,
                 float* c, Index c_rs, bool accumulate) {
  using ColumnMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
  const Eigen::Map<const RowMatrix, 0, Eigen::OuterStride<>> B(b, K, N, Eigen::OuterStride<>(b_rs));
  Eigen::Map<RowMatrix, 0, Eigen::OuterStride<>> C(c, M, N, Eigen::OuterStride<>(c_rs));
  auto run = [&](const auto& A) {
    if (accumulate)
      C.noalias() += A * B;
    else
      C.noalias() = A * B;
  };
  if (a_cs == 1)
    run(Eigen::Map<const RowMatrix, 0, Eigen::OuterStride<>>(a, M, K, Eigen::OuterStride<>(a_rs)));
  else if (a_rs == 1)  // A is a transposed block (KᵀV): column-major with outer stride a_cs
    run(Eigen::Map<const ColumnMajor, 0, Eigen::OuterStride<>>(a, M, K, Eigen::OuterStride<>(a_cs)));
  else
    run(Eigen::Map<const RowMatrix, 0, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>>(
        a, M, K, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>(a_rs, a_cs)));
}

/// In place: x = exp(x − max) / Σ exp(x − max); all −inf (nothing to attend to) gives zeros.
inline void softmax(float* x, Index count) {
  if (count <= 0) return;
  float max_value = x[0];
  for (Index k = 1; k < count; ++k) max_value = x[k] > max_value ? x[k] : max_value;
  if (max_value == -std::numeric_limits<float>::infinity()) {
    for (Index k = 0; k < count; ++k) x[k] = 0.0f;
    return;
  }
  float partial[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  Index k = 0;
  for (; k + 8 <= count; k += 8)
    for (int lane = 0; lane < 8; ++lane) {
      x[k + lane] = std::exp(x[k + lane] - max_value);
      partial[lane] += x[k + lane];
    }
  float sum = ((partial[0] + partial[1]) + (partial[2] + partial[3])) +
              ((partial[4] + partial[5]) + (partial[6] + partial[7]));
  for (; k < count; ++k) {
    x[k] = std::exp(x[k] - max_value);
    sum += x[k];
  }
  const float inverse = 1.0f / sum;
  for (k = 0; k < count; ++k) x[k] *= inverse;
}

/// scores[score_row(h, i) + k] = q_ih · K_kh (+ bias[k]); the zero keys get bias or 0.
inline void attention_scores(const AttendArguments& a, float* scores) {
  const Index d = a.head_dim;
  for (Index h = 0; h < a.heads; ++h)
    for (Index i = 0; i < a.n; ++i) {
      const float* q = a.q + i * a.q_stride + h * d;
      float* row = scores + a.score_row(h, i);
      for (Index k = 0; k < a.length; ++k) {
        float s = dot(q, a.k + k * a.k_stride + h * d, d);
        if (a.bias) s += a.bias[k];
        row[k] = s;
      }
      for (Index k = a.length; k < a.width(); ++k) row[k] = a.bias ? a.bias[k] : 0.0f;
    }
}

/// out_ih = Σ_k p[score_row(h, i) + k] V_kh over the real keys (zero keys add nothing).
inline void attention_weighted_sum(const AttendArguments& a, const float* probabilities, float* out,
                                   Index out_stride) {
  const Index d = a.head_dim;
  for (Index i = 0; i < a.n; ++i)
    for (Index c = 0; c < a.heads * d; ++c) out[i * out_stride + c] = 0.0f;
  for (Index k = 0; k < a.length; ++k) {
    const float* v = a.v + k * a.v_stride;
    for (Index h = 0; h < a.heads; ++h)
      for (Index i = 0; i < a.n; ++i) {
        const float p = probabilities[a.score_row(h, i) + k];
        float* o = out + i * out_stride + h * d;
        const float* vh = v + h * d;
        for (Index c = 0; c < d; ++c) o[c] += p * vh[c];
      }
  }
}

/// out_ih[c] += (q_ih R_h)[c] / norms_h[c] where norms_h[c] > 0 (a zero key column has nothing to normalise).
/// R_h = recurrent[h*d*r_stride ...] ([d, d] rows of stride r_stride); norms_h = norms[h*n_stride ...].
inline void add_normalised_recurrent(const float* q, Index q_stride, Index n, const float* recurrent, Index r_stride,
                                     const float* norms, Index n_stride, Index heads, Index d, float* out,
                                     Index out_stride) {
  float* product = scratch(kProductSlot, n * d);
  for (Index h = 0; h < heads; ++h) {
    gemm(n, d, d, q + h * d, q_stride, 1, recurrent + h * d * r_stride, r_stride, product, d, false);
    const float* norm = norms + h * n_stride;
    for (Index i = 0; i < n; ++i) {
      float* o = out + i * out_stride + h * d;
      const float* p = product + i * d;
      for (Index c = 0; c < d; ++c)
        if (norm[c] > 0.0f) o[c] += p[c] / norm[c];
    }
  }
}

/// The RAF neuron after Xin = P Wᵀ (attention/raf_neuron.hpp): U = λU + Xin, Z = U/θ − 1,
/// U −= θ where Z > 0, R = max(Z, 0).
inline void raf_update(Index rows, Index d, const float* x, Index x_stride, float leak, float threshold, float* u,
                       Index u_stride, float* r, Index r_stride) {
  for (Index a = 0; a < rows; ++a) {
    const float* xa = x + a * x_stride;
    float* ua = u + a * u_stride;
    float* ra = r + a * r_stride;
    // Selects, not branches (firing is data-dependent), so that the loop vectorises.
    for (Index c = 0; c < d; ++c) {
      const float membrane = leak * ua[c] + xa[c];
      const float z = membrane / threshold - 1.0f;
      const bool fires = z > 0.0f;
      ua[c] = membrane - (fires ? threshold : 0.0f);
      ra[c] = fires ? z : 0.0f;
    }
  }
}

}  // namespace srformer::kernels::detail::portable
