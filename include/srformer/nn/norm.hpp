#pragma once
// T5's RMS norm (no mean subtraction, no bias) and the standard LayerNorm,
// both accumulated in float32 per row as HF does.
#include <cmath>

#include "srformer/core/tensor.hpp"

namespace srformer::nn {

struct RmsNorm {
  FloatTensor weight;  // [d]
  float eps = 1e-6f;

  void forward(const RowMatrix& x, RowMatrix& y) const {
    y.resize(x.rows(), x.cols());
    const auto w = weight.vector();
    for (Index r = 0; r < x.rows(); ++r) {
      const float variance = x.row(r).squaredNorm() / static_cast<float>(x.cols());
      y.row(r) = (x.row(r) * (1.0f / std::sqrt(variance + eps))).cwiseProduct(w);
    }
  }
};

struct LayerNorm {
  FloatTensor weight;  // [d]
  FloatTensor bias;    // [d]
  float eps = 1e-5f;

  void forward(const RowMatrix& x, RowMatrix& y) const {
    y.resize(x.rows(), x.cols());
    const auto w = weight.vector();
    const auto b = bias.vector();
    const float inv_d = 1.0f / static_cast<float>(x.cols());
    for (Index r = 0; r < x.rows(); ++r) {
      const float mean = x.row(r).sum() * inv_d;
      const auto centred = (x.row(r).array() - mean);
      const float variance = centred.square().sum() * inv_d;
      y.row(r) = (centred * (1.0f / std::sqrt(variance + eps))).matrix().cwiseProduct(w) + b;
    }
  }

  /// In place, for post-norm residual blocks.
  void forward_inplace(RowMatrix& x) const {
    RowMatrix tmp;
    forward(x, tmp);
    x.swap(tmp);
  }
};

}  // namespace srformer::nn
