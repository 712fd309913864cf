#pragma once
// Scaled-dot-product attention over heads laid out side by side in the
// feature axis ([tokens, heads*head_dim]), with the optional extras T5 and
// BART need: an additive position bias, a key padding mask and causality.
#include <cstdint>
#include <limits>

#include "srformer/attention/softmax.hpp"
#include "srformer/core/tensor.hpp"
#include "srformer/nn/linear.hpp"

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

/// out[n, heads*dh] = softmax(scale·q kᵀ + extras) v, head by head. When
/// `probabilities` is given it receives the weights, [heads * n, m].
inline void multi_head_attention(const Eigen::Ref<const RowMatrix>& q, const Eigen::Ref<const RowMatrix>& k,
                                 const Eigen::Ref<const RowMatrix>& v, Index heads, Index head_dim,
                                 const AttentionExtras& extras, Eigen::Ref<RowMatrix> out, RowMatrix& scores,
                                 RowMatrix* probabilities = nullptr) {
  const Index n = q.rows();
  const Index m = k.rows();
  scores.resize(n, m);
  if (probabilities) probabilities->resize(heads * n, m);
  for (Index h = 0; h < heads; ++h) {
    scores.noalias() = q.middleCols(h * head_dim, head_dim) * k.middleCols(h * head_dim, head_dim).transpose();
    if (extras.scale != 1.0f) scores *= extras.scale;
    if (extras.position_bias)
      scores += extras.position_bias->block(h * extras.position_bias_rows_per_head + extras.position_bias_row_offset,
                                            0, n, m);
    if (extras.key_mask)
      for (Index j = 0; j < m; ++j)
        if (!extras.key_mask[j]) scores.col(j).array() += extras.mask_bias;
    if (extras.causal_first >= 0)
      for (Index i = 0; i < n; ++i) {
        const Index visible = extras.causal_first + i + 1;
        if (visible < m) scores.row(i).tail(m - visible).setConstant(-std::numeric_limits<float>::infinity());
      }
    softmax_rows(scores);
    if (probabilities) probabilities->middleRows(h * n, n) = scores;
    // Over the keys in fixed chunks: the same bits for any Eigen thread count (see nn/linear.hpp).
    nn::detail::product_in_depth_chunks(scores, v.middleCols(h * head_dim, head_dim),
                                        out.middleCols(h * head_dim, head_dim), false);
  }
}

}  // namespace srformer::attention
