#pragma once
// Numerically stable softmax over the rows of a score block.
#include <algorithm>
#include <cmath>
#include <limits>

#include "srformer/core/tensor.hpp"

namespace srformer::attention {

/// In-place softmax of every row of `scores`. Subtracting the row maximum keeps
/// exp() finite; when a row is all -inf (nothing to attend to) it becomes zero
/// rather than NaN.
template <class Derived>
inline void softmax_rows(Eigen::MatrixBase<Derived>& scores) {
  for (Index r = 0; r < scores.rows(); ++r) {
    auto row = scores.row(r);
    const float max_value = row.maxCoeff();
    if (!std::isfinite(max_value)) {
      if (max_value == -std::numeric_limits<float>::infinity()) {
        row.setZero();
        continue;
      }
    }
    row = (row.array() - max_value).exp();
    const float sum = row.sum();
    row /= sum;
  }
}

template <class Derived>
inline void softmax_rows(Eigen::MatrixBase<Derived>&& scores) {
  softmax_rows(scores);
}

}  // namespace srformer::attention
