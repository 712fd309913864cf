#pragma once
// Random encoder sides and a small driver for the cross-attention policy tests.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "srformer/attention/cross_attention.hpp"
#include "srformer/attention/raf_neuron.hpp"
#include "srformer/core/tensor.hpp"

namespace srformer::attention::testing {

inline RowMatrix random_matrix(Index rows, Index cols, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> normal(0.0f, scale);
  RowMatrix m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = normal(rng);
  return m;
}

/// Owns the keys/values/mask an EncoderSide points to.
struct EncoderData {
  RowMatrix keys, values;
  std::vector<std::uint8_t> mask;
  EncoderSide side;

  EncoderData(Index batch, Index length, Index heads, Index head_dim, ModelFlavor flavor, std::mt19937& rng)
      : keys(random_matrix(batch * length, heads * head_dim, rng)),
        values(random_matrix(batch * length, heads * head_dim, rng)),
        mask(static_cast<std::size_t>(batch * length), 1) {
    side.batch = batch;
    side.length = length;
    side.heads = heads;
    side.head_dim = head_dim;
    side.flavor = flavor;
    side.mask_bias = flavor == ModelFlavor::T5 ? -1e9f : std::numeric_limits<float>::lowest();
    rebind();
  }
  EncoderData(const EncoderData& other) : keys(other.keys), values(other.values), mask(other.mask), side(other.side) {
    rebind();
  }
  EncoderData& operator=(const EncoderData&) = delete;

  void rebind() {
    side.keys = &keys;
    side.values = &values;
    side.mask = &mask;
  }
  /// Marks positions [real, length) of `row` as padding.
  void pad_row(Index row, Index real) {
    for (Index k = real; k < side.length; ++k) mask[static_cast<std::size_t>(row * side.length + k)] = 0;
  }
};

inline RafParameters random_raf(Index head_dim, std::mt19937& rng, float scale, float leak, float threshold) {
  RafParameters p;
  p.weight = random_matrix(head_dim, head_dim, rng, scale);
  p.leak = leak;
  p.threshold = threshold;
  return p;
}

/// Runs positions first..first+count-1 of one hypothesis in Incremental mode, `block`
/// positions per attend() call, and returns the outputs [count, heads*head_dim].
template <class Policy>
RowMatrix decode(const Policy& policy, const typename Policy::Parameters& params,
                 const typename Policy::Memory& memory, typename Policy::State& state, Index row,
                 const RowMatrix& queries, Index first, Index block, FlopCounter* flops = nullptr) {
  RowMatrix out(queries.rows(), queries.cols());
  for (Index i = 0; i < queries.rows(); i += block) {
    const Index n = std::min(block, queries.rows() - i);
    policy.attend(params, memory, state, row, queries.middleRows(i, n), first + i, QueryMode::Incremental,
                  out.middleRows(i, n), flops);
  }
  return out;
}

}  // namespace srformer::attention::testing
