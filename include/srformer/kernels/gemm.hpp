#pragma once
// Dense float32 products for the model's heavy lifting: nn::Linear (x·Wᵀ with W
// [out, in] row-major) and the per-head attention products (Q·Kᵀ, P·V on one head's
// columns of [tokens, heads·d] matrices). Packed, cache-blocked AVX2+FMA GEMM with a
// portable twin, and a streaming path for products of a few rows (decoding: every
// weight is read once per call, at memory bandwidth). See detail/gemm_plan.hpp.
//
// Threads (threads.hpp): when compiled with OpenMP, a product big enough to pay for it
// is split over blocks of its OUTPUT (never over the depth), like Eigen. Results are
// bit-identical for every thread count and from run to run. Safe to call from several
// threads at once (per-thread packing buffers).
#include <algorithm>
#include <string>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "srformer/core/error.hpp"
#include "srformer/core/tensor.hpp"
#include "srformer/kernels/detail/gemm_avx2.hpp"
#include "srformer/kernels/detail/gemm_plan.hpp"
#include "srformer/kernels/detail/gemm_portable.hpp"
#include "srformer/kernels/detail/shape_check.hpp"
#include "srformer/kernels/dispatch.hpp"
#include "srformer/kernels/threads.hpp"

namespace srformer::kernels {
namespace detail {

template <class Kernels>
void run_plan(const GemmArgs& g, int threads) {
#ifdef _OPENMP
  const double work = static_cast<double>(g.M) * static_cast<double>(g.N) * static_cast<double>(g.K);
  const bool parallel = threads > 1 && work >= kParallelWork && !omp_in_parallel();
#else
  (void)threads;
  const bool parallel = false;
#endif
  const GemmPlan<Kernels> plan(g, parallel ? 2 * static_cast<Index>(threads) : 1);
  const Index tasks = plan.task_count();
#ifdef _OPENMP
  if (parallel && tasks > 1) {
    const int team = static_cast<int>(std::min<Index>(threads, tasks));
#pragma omp parallel for num_threads(team) schedule(dynamic, 1)
    for (Index t = 0; t < tasks; ++t) plan.run_task(t);
    return;
  }
#endif
  for (Index t = 0; t < tasks; ++t) plan.run_task(t);
}

inline void check_gemm_arguments(const GemmArgs& g) {
  if (g.M < 0 || g.N < 0 || g.K < 0)
    throw InputError("kernels::gemm: negative size (M = " + std::to_string(g.M) + ", N = " + std::to_string(g.N) +
                     ", K = " + std::to_string(g.K) + ")");
  if ((g.M > 0 && g.N > 0 && !g.c) || (g.M > 0 && g.K > 0 && !g.a) || (g.K > 0 && g.N > 0 && !g.b))
    throw InputError("kernels::gemm: null operand for a non-empty product");
}

}  // namespace detail

/// Raw strided product: C = A·B, or C += A·B when `accumulate`, with
/// A(i,k) = a[i*a_rs + k*a_cs] [M, K], B(k,j) = b[k*b_rs + j*b_cs] [K, N],
/// C(i,j) = c[i*c_rs + j*c_cs] [M, N]. C must not overlap A or B. K = 0 gives C = 0
/// (or leaves C as it is). InputError for negative sizes or null operands.
inline void gemm(Index M, Index N, Index K, const float* a, Index a_rs, Index a_cs, const float* b, Index b_rs,
                 Index b_cs, float* c, Index c_rs, Index c_cs, bool accumulate = false) {
  const detail::GemmArgs g{M, N, K, a, a_rs, a_cs, b, b_rs, b_cs, c, c_rs, c_cs, accumulate};
  detail::check_gemm_arguments(g);
  if (M == 0 || N == 0) return;
  if (K == 0) {
    if (!accumulate)
      for (Index i = 0; i < M; ++i)
        for (Index j = 0; j < N; ++j) g.C(i, j) = 0.0f;
    return;
  }
#if SRFORMER_KERNELS_X86
  if (use_avx2()) return detail::run_plan<detail::avx2_gemm::Kernels>(g, num_threads());
#endif
  detail::run_plan<detail::portable_gemm::Kernels>(g, num_threads());
}

/// c = a·b (or c += a·b); operands may be blocks of wider row-major matrices.
inline void gemm(const Eigen::Ref<const RowMatrix>& a, const Eigen::Ref<const RowMatrix>& b, Eigen::Ref<RowMatrix> c,
                 bool accumulate = false) {
  detail::check_shapes("gemm", a.rows(), a.cols(), b.rows(), b.cols(), c.rows(), c.cols());
  gemm(a.rows(), b.cols(), a.cols(), a.data(), a.outerStride(), 1, b.data(), b.outerStride(), 1, c.data(),
       c.outerStride(), 1, accumulate);
}

/// c = a·wᵀ (or c += a·wᵀ): w is [c.cols(), a.cols()] (nn::Linear's [out, in]; the keys
/// of Q·Kᵀ).
inline void gemm_transposed(const Eigen::Ref<const RowMatrix>& a, const Eigen::Ref<const RowMatrix>& w,
                            Eigen::Ref<RowMatrix> c, bool accumulate = false) {
  detail::check_shapes("gemm_transposed", a.rows(), a.cols(), w.cols(), w.rows(), c.rows(), c.cols());
  gemm(a.rows(), w.rows(), a.cols(), a.data(), a.outerStride(), 1, w.data(), 1, w.outerStride(), c.data(),
       c.outerStride(), 1, accumulate);
}

}  // namespace srformer::kernels
