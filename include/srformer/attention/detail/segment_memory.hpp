#pragma once
// Internals shared by the segmented and SRformer policies: the per-layer view of
// the encoder side cut into segments, a grow-only scratch arena, and
// softmax(q K_jᵀ + b) V_j for a block of queries (computed by kernels::attend).
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "srformer/attention/cross_attention.hpp"
#include "srformer/attention/flop_counter.hpp"
#include "srformer/attention/options.hpp"
#include "srformer/attention/segments.hpp"
#include "srformer/attention/softmax.hpp"
#include "srformer/core/error.hpp"
#include "srformer/core/tensor.hpp"
#include "srformer/kernels/attention.hpp"

namespace srformer::attention::detail {

/// Grow-only float buffers, one arena per thread: attend() is const and may run
/// on several threads, and re-sizing an Eigen matrix would allocate every call.
class ScratchArena {
 public:
  MatrixMap matrix(std::size_t slot, Index rows, Index cols) {
    std::vector<float>& buffer = buffers_.at(slot);
    const auto needed = static_cast<std::size_t>(rows * cols);
    if (buffer.size() < needed) buffer.resize(needed);
    return MatrixMap(buffer.data(), rows, cols);
  }

 private:
  std::array<std::vector<float>, 4> buffers_;
};

inline ScratchArena& thread_scratch() {
  thread_local ScratchArena arena;
  return arena;
}

enum ScratchSlot : std::size_t { kBiasSlot = 0, kPrepareSlot = 1 };

using ConstRowsBlock = Eigen::Block<const RowMatrix, Eigen::Dynamic, Eigen::Dynamic, true>;

/// One layer's encoder side as the segmented policies see it.
struct SegmentMemory {
  EncoderSide side;
  Semantics semantics = Semantics::Paper;
  Index segment_size = 1;
  Index gen_len = 1;
  /// Paper: m = ceil(S/s) of the padded length S, the same for every row.
  Index padded_segments = 0;
  /// Causal: real tokens per row.
  std::vector<Index> real_length;
  /// Causal: -1 when a row's real tokens are a prefix (the usual right padding) and
  /// are read in place; otherwise the slot of a compacted copy in gathered_*.
  std::vector<Index> gathered_slot;
  std::vector<RowMatrix> gathered_keys, gathered_values;

  ModelFlavor flavor() const { return side.flavor; }
  Index heads() const { return side.heads; }
  Index head_dim() const { return side.head_dim; }

  /// The length the segments are cut from: padded S (paper) or the row's real length (causal).
  Index length(Index row) const {
    return semantics == Semantics::Paper ? side.length : real_length[static_cast<std::size_t>(row)];
  }
  Index num_segments(Index row) const {
    return semantics == Semantics::Paper ? padded_segments : segment_count(length(row), segment_size);
  }
  /// Keys/values of the positions the segments index ([length(row), heads*head_dim]).
  ConstRowsBlock keys(Index row) const { return rows_of(row, side.keys, gathered_keys); }
  ConstRowsBlock values(Index row) const { return rows_of(row, side.values, gathered_values); }

 private:
  ConstRowsBlock rows_of(Index row, const RowMatrix* all, const std::vector<RowMatrix>& gathered) const {
    if (semantics == Semantics::Causal) {
      const Index slot = gathered_slot[static_cast<std::size_t>(row)];
      if (slot >= 0) return ConstRowsBlock(gathered[static_cast<std::size_t>(slot)], 0, 0, length(row), all->cols());
    }
    return ConstRowsBlock(*all, row * side.length, 0, length(row), all->cols());
  }
};

/// InputError unless the side's pointers and shapes agree.
inline void check_encoder_side(const EncoderSide& side, const char* policy) {
  const std::string who = std::string(policy) + " cross-attention: ";
  if (!side.keys || !side.values || !side.mask) throw InputError(who + "encoder side has no keys, values or mask");
  if (side.batch < 1 || side.length < 1 || side.heads < 1 || side.head_dim < 1)
    throw InputError(who + "encoder side must have positive batch, length, heads and head_dim (got " +
                     std::to_string(side.batch) + ", " + std::to_string(side.length) + ", " +
                     std::to_string(side.heads) + ", " + std::to_string(side.head_dim) + ")");
  const Index rows = side.batch * side.length, cols = side.heads * side.head_dim;
  for (const RowMatrix* m : {side.keys, side.values})
    if (m->rows() != rows || m->cols() != cols)
      throw InputError(who + "encoder keys/values are [" + std::to_string(m->rows()) + ", " +
                       std::to_string(m->cols()) + "] but batch*length × heads*head_dim is [" + std::to_string(rows) +
                       ", " + std::to_string(cols) + "]");
  if (static_cast<Index>(side.mask->size()) != rows)
    throw InputError(who + "encoder mask has " + std::to_string(side.mask->size()) + " entries, expected " +
                     std::to_string(rows));
}

inline SegmentMemory build_segment_memory(const CrossAttentionOptions& options, const EncoderSide& side,
                                          const char* policy) {
  options.validate();
  check_encoder_side(side, policy);
  SegmentMemory memory;
  memory.side = side;
  memory.semantics = options.semantics;
  memory.segment_size = options.segment_size;
  memory.gen_len = options.gen_len;
  memory.padded_segments = segment_count(side.length, options.segment_size);
  if (options.semantics == Semantics::Causal) {
    const auto batch = static_cast<std::size_t>(side.batch);
    memory.real_length.assign(batch, 0);
    memory.gathered_slot.assign(batch, -1);
    for (Index b = 0; b < side.batch; ++b) {
      const std::uint8_t* mask = side.mask_of(b);
      Index real = 0;
      bool prefix = true;
      for (Index k = 0; k < side.length; ++k) {
        if (mask[k]) {
          if (real != k) prefix = false;
          ++real;
        }
      }
      memory.real_length[static_cast<std::size_t>(b)] = real;
      if (prefix) continue;
      // Padding in the middle or on the left: keep the real tokens, in order.
      RowMatrix keys(real, side.keys->cols()), values(real, side.values->cols());
      const auto all_keys = side.keys_of(b);
      const auto all_values = side.values_of(b);
      Index next = 0;
      for (Index k = 0; k < side.length; ++k) {
        if (!mask[k]) continue;
        keys.row(next) = all_keys.row(k);
        values.row(next) = all_values.row(k);
        ++next;
      }
      memory.gathered_slot[static_cast<std::size_t>(b)] = static_cast<Index>(memory.gathered_keys.size());
      memory.gathered_keys.push_back(std::move(keys));
      memory.gathered_values.push_back(std::move(values));
    }
  }
  return memory;
}

/// How the queries of one run are scored against segment j.
struct SegmentScoring {
  Index segment = 0;
  /// Paper T5 only: which segment's mask slice is added (differs from `segment` in
  /// the authors' training-mode quirk); -1 = no mask.
  Index mask_segment = -1;
};

/// The paper semantics (the authors' code) for query block `queries` bound to `row`:
/// scores against the s rows of the zero-padded segment j (rows beyond S score
/// exactly 0 and still take softmax mass), plus T5's mask slice; BART adds no mask.
/// Causal semantics: the segment's real tokens only, nothing added.
/// Writes every head of `out`; counts scores and weighted sums (zero rows are not computed).
inline void attend_segment(const SegmentMemory& memory, Index row, const Eigen::Ref<const RowMatrix>& queries,
                           const SegmentScoring& scoring, Eigen::Ref<RowMatrix> out, FlopCounter* flops) {
  const Index n = queries.rows();
  const Index dh = memory.head_dim();
  const Index s = memory.segment_size;
  const Index length = memory.length(row);
  const SegmentRange range = segment_range(scoring.segment, s, length);
  const Index real_rows = range.size();
  const bool paper = memory.semantics == Semantics::Paper;
  const Index zero_rows = paper ? s - real_rows : 0;
  const Index width = real_rows + zero_rows;
  if (width == 0 || n == 0) {
    out.setZero();
    return;
  }
  // The additive bias is the same for every head and query, so build it once.
  const bool masked = paper && scoring.mask_segment >= 0;
  MatrixMap bias = thread_scratch().matrix(kBiasSlot, 1, masked ? width : 0);
  if (masked) {
    const std::uint8_t* mask = memory.side.mask_of(row);
    const Index first = scoring.mask_segment * s;
    for (Index k = 0; k < width; ++k) {
      const Index position = first + k;
      // Positions past S are the appended zero rows: the authors pad the mask slice with 0 there.
      bias(0, k) = (position < length && !mask[position]) ? memory.side.mask_bias : 0.0f;
    }
  }
  kernels::AttendExtras extras;
  extras.key_bias = masked ? bias.data() : nullptr;
  extras.zero_keys = zero_rows;  // score 0 (plus their mask slice), value 0
  kernels::attend(queries, memory.keys(row).middleRows(range.begin, real_rows),
                  memory.values(row).middleRows(range.begin, real_rows), memory.heads(), dh, extras, out);
  if (flops) {
    const auto work = static_cast<std::uint64_t>(n * real_rows * dh * memory.heads());
    flops->scores += work;
    flops->weighted_sum += work;
  }
}

/// InputError/OptionError unless one attend() call is well formed.
inline void check_attend_call(const SegmentMemory& memory, Index row, const Eigen::Ref<const RowMatrix>& queries,
                              Index first_position, QueryMode mode, const Eigen::Ref<RowMatrix>& out,
                              const char* policy) {
  // Messages are built only on error: this runs on every decoding step.
  const auto who = [policy] { return std::string(policy) + " cross-attention: "; };
  if (row < 0 || row >= memory.side.batch)
    throw InputError(who() + "encoder row " + std::to_string(row) + " is outside the batch of " +
                     std::to_string(memory.side.batch));
  const Index width = memory.heads() * memory.head_dim();
  if (queries.cols() != width || out.cols() != width || out.rows() != queries.rows())
    throw InputError(who() + "queries [" + std::to_string(queries.rows()) + ", " + std::to_string(queries.cols()) +
                     "] and output [" + std::to_string(out.rows()) + ", " + std::to_string(out.cols()) +
                     "] must both be [n, heads*head_dim = " + std::to_string(width) + "]");
  if (first_position < 0) throw InputError(who() + "negative decoder position " + std::to_string(first_position));
  if (memory.semantics == Semantics::Causal && mode != QueryMode::Incremental)
    throw OptionError(who() + "the paper query modes (training / eval-at-t forward) exist only with paper "
                      "semantics; causal semantics needs QueryMode::Incremental");
}

/// Segment (and T5 mask slice) of query i of an n-query call, paper or causal,
/// for the stateless part of the schedule. `num_segments` >= 1.
inline SegmentScoring query_scoring(const SegmentMemory& memory, Index num_segments, QueryMode mode,
                                    Index first_position, Index query, Index num_queries) {
  SegmentScoring scoring;
  const bool paper_t5 = memory.semantics == Semantics::Paper && memory.flavor() == ModelFlavor::T5;
  switch (mode) {
    case QueryMode::Incremental:
      scoring.segment = decoding_segment(first_position + query, num_segments, memory.gen_len);
      break;
    case QueryMode::PaperEvalAtT:
      scoring.segment = decoding_segment(first_position, num_segments, memory.gen_len);
      break;
    case QueryMode::PaperTraining:
      scoring.segment = paper_training_segment(query, num_queries, num_segments);
      scoring.mask_segment =
          paper_t5 ? t5_training_mask_segment(scoring.segment, memory.side.length, memory.segment_size) : -1;
      return scoring;
  }
  scoring.mask_segment = paper_t5 ? scoring.segment : -1;
  return scoring;
}

}  // namespace srformer::attention::detail
