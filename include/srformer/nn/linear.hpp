#pragma once
// y = x Wᵀ (+ b), with W stored [out_features, in_features] as PyTorch does.
#include "srformer/core/tensor.hpp"

namespace srformer::nn {

struct Linear {
  FloatTensor weight;  // [out, in]
  FloatTensor bias;    // [out] or empty

  Index in_features() const { return weight.dim(1); }
  Index out_features() const { return weight.dim(0); }

  /// Writes x Wᵀ + b into y (y is resized).
  template <class In>
  void forward(const Eigen::MatrixBase<In>& x, RowMatrix& y) const {
    y.resize(x.rows(), out_features());
    y.noalias() = x * weight.matrix().transpose();
    if (!bias.empty()) y.rowwise() += bias.vector();
  }

  /// y += x Wᵀ + b: the residual connection fused into the product.
  template <class In>
  void forward_add(const Eigen::MatrixBase<In>& x, RowMatrix& y) const {
    y.noalias() += x * weight.matrix().transpose();
    if (!bias.empty()) y.rowwise() += bias.vector();
  }
};

}  // namespace srformer::nn
