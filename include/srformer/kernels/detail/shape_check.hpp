#pragma once
// The operand-shape check shared by the product kernels (gemm.hpp, matmul.hpp).
#include <string>

#include "srformer/core/error.hpp"
#include "srformer/core/tensor.hpp"

namespace srformer::kernels::detail {

/// InputError naming `what` unless [a_rows, a_cols]·[b_rows, b_cols] gives [c_rows, c_cols].
inline void check_shapes(const char* what, Index a_rows, Index a_cols, Index b_rows, Index b_cols, Index c_rows,
                         Index c_cols) {
  if (a_cols == b_rows && c_rows == a_rows && c_cols == b_cols) return;
  throw InputError(std::string("kernels::") + what + ": operands [" + std::to_string(a_rows) + ", " +
                   std::to_string(a_cols) + "] and [" + std::to_string(b_rows) + ", " + std::to_string(b_cols) +
                   "] do not give the output's [" + std::to_string(c_rows) + ", " + std::to_string(c_cols) + "]");
}

}  // namespace srformer::kernels::detail
