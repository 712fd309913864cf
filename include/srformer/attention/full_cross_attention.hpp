#pragma once
// Standard cross-attention: every query sees every encoder position,
// softmax(q Kᵀ + mask bias) V per head.
#include <string>

#include "srformer/attention/cross_attention.hpp"
#include "srformer/attention/options.hpp"
#include "srformer/io/checkpoint.hpp"
#include "srformer/attention/multi_head_attention.hpp"

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
  void attend(const Parameters& params, const Memory& memory, State& state, Index memory_row,
              const Eigen::Ref<const RowMatrix>& queries, Index first_position, QueryMode mode,
              Eigen::Ref<RowMatrix> out, FlopCounter* flops = nullptr) const {
    attend_traced(params, memory, state, memory_row, queries, first_position, mode, out, flops, nullptr);
  }

  /// As attend(); when `probabilities` is given it receives the attention weights,
  /// [heads * n, length] (row h*n + i: head h, query i), as HF's cross_attentions.
  void attend_traced(const Parameters&, const Memory& memory, State&, Index memory_row,
                     const Eigen::Ref<const RowMatrix>& queries, Index /*first_position*/, QueryMode /*mode*/,
                     Eigen::Ref<RowMatrix> out, FlopCounter* flops, RowMatrix* probabilities) const {
    const EncoderSide& side = memory.side;
    const Index n = queries.rows();
    AttentionExtras extras;
    extras.key_mask = side.mask_of(memory_row);
    extras.mask_bias = side.mask_bias;
    // Reused per thread: no allocation per decoding step once warm.
    thread_local RowMatrix scores;
    multi_head_attention(queries, side.keys_of(memory_row), side.values_of(memory_row), side.heads, side.head_dim,
                         extras, out, scores, probabilities);
    if (flops) {
      const auto work = static_cast<std::uint64_t>(n * side.length * side.head_dim * side.heads);
      flops->scores += work;
      flops->weighted_sum += work;
    }
  }
};

}  // namespace srformer::attention
