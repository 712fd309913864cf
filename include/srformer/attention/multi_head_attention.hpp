#pragma once
// Scaled-dot-product attention over heads laid out side by side in the
// feature axis ([tokens, heads*head_dim]), with the optional extras T5 and
// BART need: an additive position bias, a key padding mask and causality.
// The per-head products are kernels::gemm (packed AVX2+FMA, output-parallel under
// OpenMP); the score rows are finished (scale, bias, mask, softmax) in one pass per row.
#include <cstdint>
#include <limits>
#include <thread>

#include "srformer/core/tensor.hpp"
#include "srformer/kernels/gemm.hpp"
#include "srformer/kernels/softmax.hpp"

namespace srformer::attention {

struct AttentionExtras {
  /// [heads * queries, keys] additive bias (T5 relative positions), or null.
  const RowMatrix* position_bias = nullptr;
  /// Row offset into position_bias for this call's first query (bias shared across calls).
  Index position_bias_row_offset = 0;
  /// Rows of position_bias per head.
  Index position_bias_rows_per_head = 0;
  /// 1 = real key, 0 = padding; null = all real.
  const std::uint8_t* key_mask = nullptr;
  float mask_bias = -1e9f;
  /// When >= 0, query i sits at position causal_first + i and sees keys <= that position.
  Index causal_first = -1;
  /// Multiplies q·k (BART: head_dim^-0.5; T5: 1).
  float scale = 1.0f;
};

namespace detail {

/// scale·q·k + extras, then softmax, for query i of head h: row = its m scores.
inline void finish_score_row(float* row, Index m, Index h, Index i, const AttentionExtras& extras) {
  if (extras.scale != 1.0f)
    for (Index j = 0; j < m; ++j) row[j] *= extras.scale;
  if (extras.position_bias) {
    const float* bias =
        extras.position_bias->row(h * extras.position_bias_rows_per_head + extras.position_bias_row_offset + i).data();
    for (Index j = 0; j < m; ++j) row[j] += bias[j];
  }
  if (extras.key_mask)  // branch-free, so that it vectorises; + 0 leaves a score as it is
    for (Index j = 0; j < m; ++j) row[j] += extras.key_mask[j] ? 0.0f : extras.mask_bias;
  if (extras.causal_first >= 0)
    for (Index j = extras.causal_first + i + 1; j < m; ++j) row[j] = -std::numeric_limits<float>::infinity();
  kernels::softmax(row, m);
}

}  // namespace detail

/// out[n, heads*dh] = softmax(scale·q kᵀ + extras) v, head by head. When
/// `probabilities` is given it receives the weights, [heads * n, m]. `scores` is the
/// calling thread's score block ([n, m] after the call).
///
/// Under OpenMP, long inputs run whole heads on different threads (one parallel region
/// per call rather than three per head; the other threads use their own grow-only score
/// block); each head's products and rows are the same computation whichever thread
/// runs it, so the bits do not depend on the thread count.
inline void multi_head_attention(const Eigen::Ref<const RowMatrix>& q, const Eigen::Ref<const RowMatrix>& k,
                                 const Eigen::Ref<const RowMatrix>& v, Index heads, Index head_dim,
                                 const AttentionExtras& extras, Eigen::Ref<RowMatrix> out, RowMatrix& scores,
                                 RowMatrix* probabilities = nullptr) {
  const Index n = q.rows();
  const Index m = k.rows();
  scores.resize(n, m);
  if (probabilities) probabilities->resize(heads * n, m);
  const auto run_head = [&](Index h, RowMatrix& block) {
    kernels::gemm_transposed(q.middleCols(h * head_dim, head_dim), k.middleCols(h * head_dim, head_dim), block);
    // Rows are independent: threads cannot change the bits.
    kernels::detail::parallel_for(n, 16.0 * static_cast<double>(n) * static_cast<double>(m),
                                  [&](Index i) { detail::finish_score_row(block.row(i).data(), m, h, i, extras); });
    if (probabilities) probabilities->middleRows(h * n, n) = block;
    kernels::gemm(block, v.middleCols(h * head_dim, head_dim), out.middleCols(h * head_dim, head_dim));
  };
  const double work = 2.0 * static_cast<double>(n) * static_cast<double>(m) * static_cast<double>(heads * head_dim);
  if (heads >= 2 && kernels::num_threads() > 1 && work >= 1e7) {
    const std::thread::id caller = std::this_thread::get_id();
    kernels::detail::parallel_for(heads, work, [&](Index h) {
      thread_local RowMatrix own;
      RowMatrix& block = std::this_thread::get_id() == caller ? scores : own;
      block.resize(n, m);
      run_head(h, block);
    });
  } else {
    for (Index h = 0; h < heads; ++h) run_head(h, scores);
  }
}

}  // namespace srformer::attention
