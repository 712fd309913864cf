#pragma once
// The contract between the decoder layer and a cross-attention policy.
//
// The decoder layer projects queries, keys and values; the policy decides
// which encoder positions a query sees and how (full, segmented, SRformer).
// A policy type P provides:
//
//   struct P::Parameters;   per-layer learned tensors beyond the projections
//                           (SRformer: SNN_kv, leak, threshold); immutable.
//   struct P::Memory;       per-layer encoder memory, built once per input batch
//                           by P::prepare(...) (SRformer: per-segment KᵀV products).
//   struct P::State;        per-hypothesis, per-layer mutable state (SRformer: RAF
//                           membranes, last output, segment index). Copyable, so
//                           beams can be reordered.
//   void attend(...)        computes the attention output (heads concatenated,
//                           before the output projection) for a block of queries.
#include <cstdint>
#include <vector>

#include "srformer/attention/flop_counter.hpp"
#include "srformer/core/tensor.hpp"

namespace srformer::attention {

/// The model around the attention: T5 and BART differ in mask handling and in
/// details of the SRformer recurrence (see README, "Attention semantics").
enum class ModelFlavor { T5, Bart };

/// How the queries of one attend() call relate to decoding time.
enum class QueryMode {
  /// Queries are consecutive decoder positions first_position, first_position+1, ...
  /// processed in order, exactly as if decoded one step at a time (generation,
  /// and teacher forcing that must equal generation).
  Incremental,
  /// SRformer paper mode only: the authors' training forward, where query i of the
  /// call gets segment min(m-1, floor(i*m/q)) and the state starts fresh.
  PaperTraining,
  /// SRformer paper mode only: the authors' eval forward, where every query of the
  /// call shares the segment of time step first_position (their default t = 0).
  PaperEvalAtT,
};

/// One layer's encoder side, already projected: rows b*length .. b*length+length-1
/// of `keys`/`values` belong to batch row b. Masks hold 1 for real tokens, 0 for padding.
struct EncoderSide {
  const RowMatrix* keys = nullptr;    // [batch*length, heads*head_dim]
  const RowMatrix* values = nullptr;  // [batch*length, heads*head_dim]
  const std::vector<std::uint8_t>* mask = nullptr;  // [batch*length]
  Index batch = 0;
  Index length = 0;
  Index heads = 0;
  Index head_dim = 0;
  ModelFlavor flavor = ModelFlavor::T5;
  /// Additive score bias at padded positions, as HF uses it (T5: -1e9, BART: float lowest).
  float mask_bias = -1e9f;

  auto keys_of(Index b) const { return keys->middleRows(b * length, length); }
  auto values_of(Index b) const { return values->middleRows(b * length, length); }
  const std::uint8_t* mask_of(Index b) const { return mask->data() + b * length; }
};

}  // namespace srformer::attention
