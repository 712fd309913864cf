#pragma once
// y = x Wᵀ (+ b), with W stored [out_features, in_features] as PyTorch does.
#include <algorithm>

#include "srformer/core/tensor.hpp"

namespace srformer::nn {

namespace detail {

/// Deepest product handed to Eigen in one call. When Eigen parallelises a product
/// (OpenMP builds), it picks its depth blocking from the thread count (at most 320
/// with several threads, ~500 with one), so deeper products summed in a different
/// order and gave results that changed with Eigen::setNbThreads. Products no deeper
/// than this are one block for any thread count: bit-identical results.
constexpr Index kMaxProductDepth = 256;

/// out = a·b (or out += a·b), the depth cut into fixed chunks of kMaxProductDepth.
template <class A, class B, class Out>
void product_in_depth_chunks(const A& a, const B& b, Out&& out, bool accumulate) {
  const Index depth = a.cols();
  if (depth == 0 && !accumulate) out.setZero();
  for (Index start = 0; start < depth; start += kMaxProductDepth) {
    const Index size = std::min(kMaxProductDepth, depth - start);
    if (start == 0 && !accumulate)
      out.noalias() = a.middleCols(start, size) * b.middleRows(start, size);
    else
      out.noalias() += a.middleCols(start, size) * b.middleRows(start, size);
  }
}

}  // namespace detail

struct Linear {
  FloatTensor weight;  // [out, in]
  FloatTensor bias;    // [out] or empty

  Index in_features() const { return weight.dim(1); }
  Index out_features() const { return weight.dim(0); }

  /// Writes x Wᵀ + b into y (y is resized).
  template <class In>
  void forward(const Eigen::MatrixBase<In>& x, RowMatrix& y) const {
    y.resize(x.rows(), out_features());
    detail::product_in_depth_chunks(x, weight.matrix().transpose(), y, false);
    if (!bias.empty()) y.rowwise() += bias.vector();
  }

  /// y += x Wᵀ + b: the residual connection fused into the product.
  template <class In>
  void forward_add(const Eigen::MatrixBase<In>& x, RowMatrix& y) const {
    detail::product_in_depth_chunks(x, weight.matrix().transpose(), y, true);
    if (!bias.empty()) y.rowwise() += bias.vector();
  }
};

}  // namespace srformer::nn
