#pragma once
// y = x Wᵀ (+ b), with W stored [out_features, in_features] as PyTorch does.
// The product is kernels::gemm_transposed: AVX2+FMA where the CPU has it, threads under
// OpenMP, the same bits for any thread count (see srformer/kernels/gemm.hpp).
#include <string>

#include "srformer/core/error.hpp"
#include "srformer/core/tensor.hpp"
#include "srformer/kernels/gemm.hpp"

namespace srformer::nn {

struct Linear {
  FloatTensor weight;  // [out, in]
  FloatTensor bias;    // [out] or empty

  Index in_features() const { return weight.dim(1); }
  Index out_features() const { return weight.dim(0); }

  /// Writes x Wᵀ + b into y (y is resized).
  template <class In>
  void forward(const Eigen::MatrixBase<In>& x, RowMatrix& y) const {
    const Eigen::Ref<const RowMatrix> input(x.derived());
    check_input(input.cols());
    y.resize(input.rows(), out_features());
    kernels::gemm_transposed(input, weight.matrix(), y);
    if (!bias.empty()) y.rowwise() += bias.vector();
  }

  /// y += x Wᵀ + b: the residual connection fused into the product.
  template <class In>
  void forward_add(const Eigen::MatrixBase<In>& x, RowMatrix& y) const {
    const Eigen::Ref<const RowMatrix> input(x.derived());
    check_input(input.cols());
    kernels::gemm_transposed(input, weight.matrix(), y, true);
    if (!bias.empty()) y.rowwise() += bias.vector();
  }

 private:
  void check_input(Index features) const {
    if (features != in_features())
      throw InputError("linear '" + weight.name() + "': input has " + std::to_string(features) +
                       " features, the weight expects " + std::to_string(in_features()));
  }
};

}  // namespace srformer::nn
