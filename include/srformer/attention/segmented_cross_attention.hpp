#pragma once
// Segmented cross-attention: a decoder query sees only the encoder segment j
// its position maps to (attention/segments.hpp), softmax(q K_jᵀ + b) V_j per head.
// This is SRformer without the recurrent term, and the baseline it is measured
// against. Paper semantics: the authors' code (zero-padded last segment, T5
// masks padding inside the segment, BART ignores the mask). Causal semantics:
// segments are cut from the row's real tokens only.
#include <string>

#include "srformer/attention/cross_attention.hpp"
#include "srformer/attention/detail/segment_memory.hpp"
#include "srformer/attention/options.hpp"
#include "srformer/attention/segments.hpp"
#include "srformer/io/checkpoint.hpp"

namespace srformer::attention {

class SegmentedCrossAttention {
 public:
  struct Parameters {
    CrossAttentionOptions options;
  };
  using Memory = detail::SegmentMemory;
  /// The segmented term does not depend on earlier calls.
  struct State {};

  static constexpr const char* name() { return "segmented"; }

  /// Needs no tensors beyond the q/k/v/o projections; keeps the options.
  static Parameters load_parameters(const io::Checkpoint&, const std::string&, Index,
                                    const CrossAttentionOptions& options) {
    options.validate();
    return Parameters{options};
  }

  Memory prepare(const Parameters& params, const EncoderSide& side, FlopCounter* = nullptr) const {
    return detail::build_segment_memory(params.options, side, name());
  }

  State initial_state(const Parameters&, const Memory&) const { return {}; }

  void attend(const Parameters& params, const Memory& memory, State& state, Index memory_row,
              const Eigen::Ref<const RowMatrix>& queries, Index first_position, QueryMode mode,
              Eigen::Ref<RowMatrix> out, FlopCounter* flops = nullptr) const {
    attend_traced(params, memory, state, memory_row, queries, first_position, mode, out, flops, nullptr);
  }

  /// As attend(), and records the segment of every query in `trace` when given.
  void attend_traced(const Parameters&, const Memory& memory, State&, Index memory_row,
                     const Eigen::Ref<const RowMatrix>& queries, Index first_position, QueryMode mode,
                     Eigen::Ref<RowMatrix> out, FlopCounter* flops, AttendTrace* trace) const {
    detail::check_attend_call(memory, memory_row, queries, first_position, mode, out, name());
    if (trace) trace->clear();
    const Index n = queries.rows();
    const Index m = memory.num_segments(memory_row);
    if (m == 0) {  // causal, a row without real tokens: nothing to attend to
      out.setZero();
      if (trace) trace->segment_per_query.assign(static_cast<std::size_t>(n), -1);
      return;
    }
    // Consecutive queries that share a segment are scored as one block.
    Index begin = 0;
    detail::SegmentScoring run;
    for (Index i = 0; i <= n; ++i) {
      detail::SegmentScoring next;
      if (i < n) {
        next = detail::query_scoring(memory, m, mode, first_position, i, n);
        if (trace) trace->segment_per_query.push_back(next.segment);
      }
      const bool same = i > begin && i < n && next.segment == run.segment && next.mask_segment == run.mask_segment;
      if (same) continue;
      if (i > begin)
        detail::attend_segment(memory, memory_row, queries.middleRows(begin, i - begin), run,
                               out.middleRows(begin, i - begin), flops);
      begin = i;
      run = next;
    }
  }
};

}  // namespace srformer::attention
