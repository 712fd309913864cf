#pragma once
// Small dense products on the instruction set dispatch.hpp picked: A·B (the RAF's
// P·Wᵀ after transposing W, q·R) and AᵀB (SRformer's per-segment KᵀV), for row-major
// operands that may be blocks of wider matrices (one head's columns of [N, H·d]).
#include <string>

#include "srformer/core/error.hpp"
#include "srformer/core/tensor.hpp"
#include "srformer/kernels/detail/avx2.hpp"
#include "srformer/kernels/detail/portable.hpp"
#include "srformer/kernels/detail/shape_check.hpp"
#include "srformer/kernels/dispatch.hpp"

namespace srformer::kernels {
namespace detail {

/// Raw-pointer product, dispatched: C = (accumulate ? C : 0) + A·B with
/// A(i,k) = a[i*a_rs + k*a_cs], B(k,j) = b[k*b_rs + j], C(i,j) = c[i*c_rs + j].
inline void gemm(Index M, Index N, Index K, const float* a, Index a_rs, Index a_cs, const float* b, Index b_rs,
                 float* c, Index c_rs, bool accumulate) {
#if SRFORMER_KERNELS_X86
  if (use_avx2()) return avx2::gemm(M, N, K, a, a_rs, a_cs, b, b_rs, c, c_rs, accumulate);
#endif
  portable::gemm(M, N, K, a, a_rs, a_cs, b, b_rs, c, c_rs, accumulate);
}

}  // namespace detail

/// c = a·b, or c += a·b when `accumulate` (each element of a·b is summed first, then added).
inline void matmul(const Eigen::Ref<const RowMatrix>& a, const Eigen::Ref<const RowMatrix>& b, Eigen::Ref<RowMatrix> c,
                   bool accumulate = false) {
  detail::check_shapes("matmul", a.rows(), a.cols(), b.rows(), b.cols(), c.rows(), c.cols());
  detail::gemm(a.rows(), b.cols(), a.cols(), a.data(), a.outerStride(), 1, b.data(), b.outerStride(), c.data(),
               c.outerStride(), accumulate);
}

/// c = aᵀ·b, or c += aᵀ·b when `accumulate`: SRformer's K_jᵀV_j of one head, with a and b
/// the head's columns of a segment's keys and values ([s, d] each), c [d, d].
inline void transposed_matmul(const Eigen::Ref<const RowMatrix>& a, const Eigen::Ref<const RowMatrix>& b,
                              Eigen::Ref<RowMatrix> c, bool accumulate = false) {
  detail::check_shapes("transposed_matmul", a.cols(), a.rows(), b.rows(), b.cols(), c.rows(), c.cols());
  detail::gemm(a.cols(), b.cols(), a.rows(), a.data(), 1, a.outerStride(), b.data(), b.outerStride(), c.data(),
               c.outerStride(), accumulate);
}

}  // namespace srformer::kernels
