#pragma once
// Softmax of one row of scores, in place, on the instruction set dispatch.hpp picked.
#include "srformer/core/tensor.hpp"
#include "srformer/kernels/detail/avx2.hpp"
#include "srformer/kernels/detail/portable.hpp"
#include "srformer/kernels/dispatch.hpp"

namespace srformer::kernels {

/// x = exp(x − max) / Σ exp(x − max) over `count` floats. A row that is all −inf
/// (nothing to attend to) becomes zeros rather than NaN.
inline void softmax(float* x, Index count) {
#if SRFORMER_KERNELS_X86
  if (use_avx2()) return detail::avx2::softmax(x, count);
#endif
  detail::portable::softmax(x, count);
}

}  // namespace srformer::kernels
