#pragma once
// Shared by the cross-attention benchmarks and the `flops` program: random
// encoder sides for several decoder layers, every policy driven exactly as the
// decoder drives it (prepare once per input, then one attend() per layer, per
// hypothesis row and per decoding step), and estimates of the bytes each part
// moves.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "srformer/attention/flops.hpp"
#include "srformer/attention/full_cross_attention.hpp"
#include "srformer/attention/options.hpp"
#include "srformer/attention/raf_neuron.hpp"
#include "srformer/attention/segmented_cross_attention.hpp"
#include "srformer/attention/segments.hpp"
#include "srformer/attention/srformer_cross_attention.hpp"

#include "random_t5.hpp"

namespace srformer::bench {

using attention::AttentionKind;
using attention::CrossAttentionOptions;
using attention::FlopCounter;
using attention::ModelFlavor;
using attention::Semantics;

/// Cross-attention geometry of a model (decoder layers, heads, head dimension).
struct AttentionShape {
  std::string name;
  ModelFlavor flavor;
  Index heads;
  Index head_dim;
  Index layers;
};

inline AttentionShape t5_small_shape() { return {"t5-small", ModelFlavor::T5, 8, 64, 6}; }
inline AttentionShape bart_base_shape() { return {"bart-base", ModelFlavor::Bart, 12, 64, 6}; }

/// A policy variant as the benchmarks name it.
struct Variant {
  AttentionKind kind;
  Semantics semantics;
  std::string name() const {
    if (kind == AttentionKind::Full) return "full";
    return std::string(attention::to_string(kind)) + "-" + attention::to_string(semantics);
  }
};

/// Projected cross keys/values of every decoder layer for `batch` encoder rows of
/// N real tokens (no padding), filled with uniform noise in [-1, 1).
struct EncoderSides {
  std::vector<RowMatrix> keys, values;
  std::vector<std::uint8_t> mask;
  std::vector<attention::EncoderSide> sides;

  EncoderSides(const AttentionShape& shape, Index batch, Index length, std::uint64_t seed)
      : mask(static_cast<std::size_t>(batch * length), 1) {
    const Index width = shape.heads * shape.head_dim;
    const auto layers = static_cast<std::size_t>(shape.layers);
    keys.resize(layers);
    values.resize(layers);
    sides.resize(layers);
    for (std::size_t l = 0; l < layers; ++l) {
      keys[l] = random_uniform_matrix(batch * length, width, 1.0f, seed + 2 * l);
      values[l] = random_uniform_matrix(batch * length, width, 1.0f, seed + 2 * l + 1);
      attention::EncoderSide& side = sides[l];
      side.keys = &keys[l];
      side.values = &values[l];
      side.mask = &mask;
      side.batch = batch;
      side.length = length;
      side.heads = shape.heads;
      side.head_dim = shape.head_dim;
      side.flavor = shape.flavor;
      side.mask_bias = shape.flavor == ModelFlavor::T5 ? -1e9f : std::numeric_limits<float>::lowest();
    }
  }
  EncoderSides(const EncoderSides&) = delete;  // sides point into this object
  EncoderSides& operator=(const EncoderSides&) = delete;
};

/// The options a benchmark runs a variant with: the authors' G = 128, segment size s.
inline CrossAttentionOptions variant_options(const AttentionShape& shape, const Variant& variant, Index segment) {
  CrossAttentionOptions options = attention::defaults_for(shape.flavor);
  options.kind = variant.kind;
  options.semantics = variant.semantics;
  options.segment_size = segment;
  options.allow_fresh_raf_parameters = true;
  return options;
}

/// Per-layer parameters as EncoderDecoder would hold them; SRformer gets fresh RAF
/// parameters as the authors initialise them (untrained: the cost is the same).
template <class Policy>
typename Policy::Parameters policy_parameters(const CrossAttentionOptions& options, Index head_dim, Index layer) {
  if constexpr (std::is_same_v<Policy, attention::FullCrossAttention>) {
    (void)options, (void)head_dim, (void)layer;
    return {};
  } else if constexpr (std::is_same_v<Policy, attention::SegmentedCrossAttention>) {
    (void)head_dim, (void)layer;
    return {options};
  } else {
    typename Policy::Parameters params;
    params.options = options;
    params.raf = attention::fresh_raf_parameters(options.flavor, head_dim,
                                                 options.fresh_raf_seed + static_cast<std::uint64_t>(layer),
                                                 options.fresh_raf_init_std);
    params.fresh = true;
    return params;
  }
}

/// One policy over all layers of an EncoderSides: prepare() per layer, then
/// decoding steps with one query per hypothesis row (row r reads encoder row r).
template <class Policy>
class PolicyDriver {
 public:
  PolicyDriver(const AttentionShape& shape, const CrossAttentionOptions& options, const EncoderSides& encoder,
               Index rows, std::uint64_t seed)
      : encoder_(encoder), rows_(rows) {
    const Index width = shape.heads * shape.head_dim;
    for (Index l = 0; l < shape.layers; ++l) {
      params_.push_back(policy_parameters<Policy>(options, shape.head_dim, l));
      // Queries of the size real decoder queries have; their values do not change the cost.
      queries_.push_back(random_uniform_matrix(rows, width, 1.0f, seed + 100 + static_cast<std::uint64_t>(l)));
    }
    out_.resize(rows, width);
  }

  /// Builds every layer's memory (the per-input work).
  void prepare(FlopCounter* flops = nullptr) {
    memory_.clear();
    states_.clear();
    for (std::size_t l = 0; l < params_.size(); ++l) {
      memory_.push_back(policy_.prepare(params_[l], encoder_.sides[l], flops));
      states_.emplace_back(static_cast<std::size_t>(rows_), policy_.initial_state(params_[l], memory_.back()));
    }
  }

  /// One decoding step at `position` for every row and layer. Position 0 restarts
  /// the sequence (the policies reset their state there).
  void step(Index position, FlopCounter* flops = nullptr) {
    for (std::size_t l = 0; l < params_.size(); ++l) {
      for (Index r = 0; r < rows_; ++r)
        policy_.attend(params_[l], memory_[l], states_[l][static_cast<std::size_t>(r)], r,
                       queries_[l].middleRows(r, 1), position, attention::QueryMode::Incremental,
                       out_.middleRows(r, 1), flops);
    }
  }

  const RowMatrix& last_output() const { return out_; }

 private:
  const EncoderSides& encoder_;
  Index rows_;
  Policy policy_;
  std::vector<typename Policy::Parameters> params_;
  std::vector<RowMatrix> queries_;
  std::vector<typename Policy::Memory> memory_;
  std::vector<std::vector<typename Policy::State>> states_;
  RowMatrix out_;
};

/// Estimated bytes one layer moves (reads plus writes of float32 data), for one
/// encoder row of N real tokens. Operands of a few hundred bytes (queries,
/// outputs, scores) are left out; the big ones are:
///   steps:   K_j/V_j rows scored (full: all N rows); SRformer also reads R and the
///            norms in the recurrent term, and per RAF step reads Xin_j and U and
///            writes U and R (4·H·d² floats).
///   prepare: SRformer reads K and V once, writes the m·H·d² floats of P_j, reads
///            them back and writes the currents Xin_j = P_j Wᵀ (paper semantics also
///            re-reads and rewrites P_j to subtract it from KV).
struct ByteEstimate {
  double steps = 0.0;    // all L decoding steps of one hypothesis row
  double prepare = 0.0;  // once per input row
};

inline ByteEstimate estimate_bytes(const Variant& variant, ModelFlavor flavor, Index N, Index L, Index s, Index d,
                                   Index H, Index G) {
  ByteEstimate bytes;
  const double f = sizeof(float), dd = static_cast<double>(d), hh = static_cast<double>(H);
  if (variant.kind == AttentionKind::Full) {
    bytes.steps = static_cast<double>(L) * 2.0 * N * hh * dd * f;
    return bytes;
  }
  const Index m = attention::segment_count(N, s);
  Index previous = -1, raf_steps = 0, recurrent_steps = 0;
  for (Index t = 0; t < L; ++t) {
    const Index j = attention::decoding_segment(t, m, G);
    bytes.steps += 2.0 * static_cast<double>(attention::segment_range(j, s, N).size()) * hh * dd * f;
    if (variant.semantics == Semantics::Paper) {
      if (flavor == ModelFlavor::T5 || j != previous) ++raf_steps;
      ++recurrent_steps;
    } else {
      raf_steps += j - std::max<Index>(previous, 0);
      if (j >= 1) ++recurrent_steps;
    }
    previous = j;
  }
  if (variant.kind != AttentionKind::Srformer) return bytes;
  bytes.steps += static_cast<double>(recurrent_steps) * (hh * dd * dd + hh * dd) * f;
  bytes.steps += static_cast<double>(raf_steps) * 4.0 * hh * dd * dd * f;
  const double products = static_cast<double>(m) * hh * dd * dd * f;
  bytes.prepare = 2.0 * N * hh * dd * f + 3.0 * products;
  if (variant.semantics == Semantics::Paper) bytes.prepare += 2.0 * products;
  return bytes;
}

}  // namespace srformer::bench
