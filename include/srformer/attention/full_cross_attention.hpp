#pragma once
// Standard cross-attention: every query sees every encoder position,
// softmax(q Kᵀ + mask bias) V per head. The work is done by kernels::attend
// (AVX2+FMA where the CPU has it), which reads K and V once per call.
#include <cstdint>
#include <string>
#include <vector>

#include "srformer/attention/cross_attention.hpp"
#include "srformer/attention/detail/segment_memory.hpp"
#include "srformer/attention/options.hpp"
#include "srformer/io/checkpoint.hpp"
#include "srformer/kernels/attention.hpp"

namespace srformer::attention {

class FullCrossAttention {
 public:
  struct Parameters {};
  struct Memory {
    EncoderSide side;
    /// Per encoder position ([batch*length]): 0 for a real token, side.mask_bias for padding.
    std::vector<float> key_bias;
    /// Per batch row: 1 when it has padding (rows without skip the bias).
    std::vector<std::uint8_t> padded;
  };
  struct State {};

  static constexpr const char* name() { return "full"; }

  /// Full attention needs nothing beyond the q/k/v/o projections.
  static Parameters load_parameters(const io::Checkpoint&, const std::string&, Index, const CrossAttentionOptions&) {
    return {};
  }

  Memory prepare(const Parameters&, const EncoderSide& side, FlopCounter* = nullptr) const {
    detail::check_encoder_side(side, name());
    Memory memory;
    memory.side = side;
    memory.key_bias.assign(side.mask->size(), 0.0f);
    memory.padded.assign(static_cast<std::size_t>(side.batch), 0);
    for (std::size_t k = 0; k < side.mask->size(); ++k)
      if (!(*side.mask)[k]) {
        memory.key_bias[k] = side.mask_bias;
        memory.padded[k / static_cast<std::size_t>(side.length)] = 1;
      }
    return memory;
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
    if (memory_row < 0 || memory_row >= side.batch)
      throw InputError(std::string(name()) + " cross-attention: encoder row " + std::to_string(memory_row) +
                       " is outside the batch of " + std::to_string(side.batch));
    const Index n = queries.rows();
    kernels::AttendExtras extras;
    if (memory.padded[static_cast<std::size_t>(memory_row)])
      extras.key_bias = memory.key_bias.data() + memory_row * side.length;
    if (probabilities) probabilities->resize(side.heads * n, side.length);
    kernels::attend(queries, side.keys_of(memory_row), side.values_of(memory_row), side.heads, side.head_dim, extras,
                    out, probabilities ? probabilities->data() : nullptr);
    if (flops) {
      const auto work = static_cast<std::uint64_t>(n * side.length * side.head_dim * side.heads);
      flops->scores += work;
      flops->weighted_sum += work;
    }
  }
};

}  // namespace srformer::attention
