#pragma once
// T5's bucketed relative position bias. Only block 0 of each stack holds the
// table; every layer of the stack reuses the same bias.
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "srformer/core/tensor.hpp"

namespace srformer::nn {

/// HF's _relative_position_bucket, computed in float32 like the reference.
inline Index relative_position_bucket(Index relative_position, bool bidirectional, Index num_buckets,
                                      Index max_distance) {
  Index bucket = 0;
  Index n = num_buckets;
  Index rel = relative_position;
  if (bidirectional) {
    n /= 2;
    if (rel > 0) bucket += n;
    rel = std::abs(rel);
  } else {
    rel = -std::min<Index>(rel, 0);
  }
  const Index max_exact = n / 2;
  if (rel < max_exact) return bucket + rel;
  const float scaled = std::log(static_cast<float>(rel) / static_cast<float>(max_exact)) /
                       static_cast<float>(std::log(static_cast<double>(max_distance) / max_exact)) *
                       static_cast<float>(n - max_exact);
  const Index large = std::min<Index>(max_exact + static_cast<Index>(scaled), n - 1);
  return bucket + large;
}

struct RelativePositionBias {
  FloatTensor table;  // [num_buckets, heads]
  bool bidirectional = true;
  Index max_distance = 128;

  Index num_buckets() const { return table.dim(0); }
  Index heads() const { return table.dim(1); }

  /// Bias of head h for query position qpos and key position kpos.
  float operator()(Index h, Index qpos, Index kpos) const {
    const Index bucket = relative_position_bucket(kpos - qpos, bidirectional, num_buckets(), max_distance);
    return table.data()[bucket * heads() + h];
  }

  /// bias [heads * q_count, k_count]: rows h*q_count + i for query position first_q + i.
  void compute(Index first_q, Index q_count, Index k_count, RowMatrix& bias) const {
    bias.resize(heads() * q_count, k_count);
    const Index nb = num_buckets();
    // One bucket lookup per relative distance, shared by all heads.
    for (Index i = 0; i < q_count; ++i)
      for (Index k = 0; k < k_count; ++k) {
        const Index bucket = relative_position_bucket(k - (first_q + i), bidirectional, nb, max_distance);
        const float* row = table.data() + bucket * heads();
        for (Index h = 0; h < heads(); ++h) bias(h * q_count + i, k) = row[h];
      }
  }
};

}  // namespace srformer::nn
