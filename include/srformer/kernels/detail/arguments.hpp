#pragma once
// Raw-pointer arguments shared by the portable and the AVX2 kernels.
#include "srformer/core/tensor.hpp"

namespace srformer::kernels::detail {

/// n queries against `length` keys, heads side by side in the feature axis:
/// query i, head h is q[i*q_stride + h*head_dim ...]; key/value k, head h likewise.
/// The softmax runs over width() = length + zero_keys scores: the `zero_keys` extra
/// keys have value 0 and score bias[length + z] (or 0 without bias).
struct AttendArguments {
  const float* q = nullptr;
  Index q_stride = 0;
  Index n = 0;
  const float* k = nullptr;
  Index k_stride = 0;
  const float* v = nullptr;
  Index v_stride = 0;
  Index length = 0;
  Index heads = 0;
  Index head_dim = 0;
  const float* bias = nullptr;  // [width()] or null
  Index zero_keys = 0;

  Index width() const { return length + zero_keys; }
  /// Scores/probabilities of query i, head h: row h*n + i of a [heads*n, width()] block.
  Index score_row(Index h, Index i) const { return (h * n + i) * width(); }
};

}  // namespace srformer::kernels::detail
