#pragma once
// One step of the SRformer RAF neuron (attention/raf_neuron.hpp) for a stack of d×d
// membranes: Xin = P Wᵀ, U = λU + Xin, Z = U/θ − 1, U −= θ where Z > 0, R = max(Z, 0);
// raf_integrate() is the same step from a precomputed Xin.
#include <string>

#include "srformer/core/error.hpp"
#include "srformer/core/tensor.hpp"
#include "srformer/kernels/detail/avx2.hpp"
#include "srformer/kernels/detail/portable.hpp"
#include "srformer/kernels/detail/scratch.hpp"
#include "srformer/kernels/dispatch.hpp"

namespace srformer::kernels {

/// input, membrane and output are [r, d] (r = heads·d when the heads' blocks are stacked),
/// weight W is [d, d]; input must not overlap membrane or output. Wᵀ (and, on the portable
/// path, the product) live in per-thread scratch: no allocation once warm.
inline void raf_step(const Eigen::Ref<const RowMatrix>& input, const Eigen::Ref<const RowMatrix>& weight, float leak,
                     float threshold, Eigen::Ref<RowMatrix> membrane, Eigen::Ref<RowMatrix> output) {
  const Index r = input.rows(), d = weight.rows();
  if (weight.cols() != d || input.cols() != d || membrane.rows() != r || membrane.cols() != d ||
      output.rows() != r || output.cols() != d)
    throw InputError("kernels::raf_step: input [" + std::to_string(r) + ", " + std::to_string(input.cols()) +
                     "], weight [" + std::to_string(d) + ", " + std::to_string(weight.cols()) + "], membrane [" +
                     std::to_string(membrane.rows()) + ", " + std::to_string(membrane.cols()) + "] and output [" +
                     std::to_string(output.rows()) + ", " + std::to_string(output.cols()) + "] do not match");
  // Wᵀ, so that the product reads contiguous rows: Xin[a, c] = Σ_b P[a, b] Wᵀ[b, c].
  float* transposed = detail::scratch(detail::kTransposedSlot, d * d);
  for (Index c = 0; c < d; ++c)
    for (Index b = 0; b < d; ++b) transposed[b * d + c] = weight(c, b);
#if SRFORMER_KERNELS_X86
  if (use_avx2())  // the update is applied as each tile of P·Wᵀ leaves the registers
    return detail::avx2::raf_step(r, d, input.data(), input.outerStride(), transposed, leak, threshold,
                                  membrane.data(), membrane.outerStride(), output.data(), output.outerStride());
#endif
  float* product = detail::scratch(detail::kProductSlot, r * d);
  detail::portable::gemm(r, d, d, input.data(), input.outerStride(), 1, transposed, d, product, d, false);
  detail::portable::raf_update(r, d, product, d, leak, threshold, membrane.data(), membrane.outerStride(),
                               output.data(), output.outerStride());
}

/// The element-wise part of the step, from the input current Xin = P Wᵀ: U = λU + Xin,
/// Z = U/θ − 1, U −= θ where Z > 0, R = max(Z, 0). current, membrane and output are
/// [r, d]; current must not overlap the others. Same operation order as raf_step.
inline void raf_integrate(const Eigen::Ref<const RowMatrix>& current, float leak, float threshold,
                          Eigen::Ref<RowMatrix> membrane, Eigen::Ref<RowMatrix> output) {
  const Index r = current.rows(), d = current.cols();
  if (membrane.rows() != r || membrane.cols() != d || output.rows() != r || output.cols() != d)
    throw InputError("kernels::raf_integrate: current [" + std::to_string(r) + ", " + std::to_string(d) +
                     "], membrane [" + std::to_string(membrane.rows()) + ", " + std::to_string(membrane.cols()) +
                     "] and output [" + std::to_string(output.rows()) + ", " + std::to_string(output.cols()) +
                     "] do not match");
#if SRFORMER_KERNELS_X86
  if (use_avx2())
    return detail::avx2::raf_integrate(r, d, current.data(), current.outerStride(), leak, threshold, membrane.data(),
                                       membrane.outerStride(), output.data(), output.outerStride());
#endif
  detail::portable::raf_update(r, d, current.data(), current.outerStride(), leak, threshold, membrane.data(),
                               membrane.outerStride(), output.data(), output.outerStride());
}

}  // namespace srformer::kernels
