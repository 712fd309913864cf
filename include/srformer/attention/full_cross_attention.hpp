#pragma once
// Standard cross-attention: every query sees every encoder position,
// softmax(q Kᵀ + mask bias) V per head.
#include <string>

#include "srformer/attention/cross_attention.hpp"
#include "srformer/attention/options.hpp"
#include "srformer/io/checkpoint.hpp"
#include "srformer/attention/softmax.hpp"

namespace srformer::attention {

class FullCrossAttention {
 public:
  struct Parameters {};
  struct Memory {
    EncoderSide side;
  };
  struct State {};

  static constexpr const char* name() { return "full"; }

  /// Full attention needs nothing beyond the q/k/v/o projections.
  static Parameters load_parameters(const io::Checkpoint&, const std::string&, Index, const CrossAttentionOptions&) {
    return {};
  }

  Memory prepare(const Parameters&, const EncoderSide& side, FlopCounter* = nullptr) const {
    return Memory{side};
  }

  State initial_state(const Parameters&, const Memory&) const { return {}; }

  /// queries: [n, heads*head_dim] for one hypothesis bound to encoder row `memory_row`.
  void attend(const Parameters&, const Memory& memory, State&, Index memory_row,
              const Eigen::Ref<const RowMatrix>& queries, Index /*first_position*/,
              QueryMode /*mode*/, Eigen::Ref<RowMatrix> out, FlopCounter* flops = nullptr) const {
    const EncoderSide& side = memory.side;
    const Index n = queries.rows();
    const Index dh = side.head_dim;
    const auto keys = side.keys_of(memory_row);
    const auto values = side.values_of(memory_row);
    const std::uint8_t* mask = side.mask_of(memory_row);
    RowMatrix scores(n, side.length);
    for (Index h = 0; h < side.heads; ++h) {
      scores.noalias() = queries.middleCols(h * dh, dh) * keys.middleCols(h * dh, dh).transpose();
      for (Index k = 0; k < side.length; ++k)
        if (!mask[k]) scores.col(k).array() += side.mask_bias;
      softmax_rows(scores);
      out.middleCols(h * dh, dh).noalias() = scores * values.middleCols(h * dh, dh);
    }
    if (flops) {
      const auto work = static_cast<std::uint64_t>(n * side.length * dh * side.heads);
      flops->scores += work;
      flops->weighted_sum += work;
    }
  }
};

}  // namespace srformer::attention
