#pragma once
// T5's bucketed relative position bias. Only block 0 of each stack holds the
// table; every layer of the stack reuses the same bias.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "srformer/core/tensor.hpp"

namespace srformer::nn {

/// HF's _relative_position_bucket, computed in float32 like the reference. Total: for
/// any arguments the result lies in [0, num_buckets) (parse_model_config refuses the
/// settings for which HF's formula leaves the table; this function clamps anyway, so a
/// model built some other way cannot read outside its bias table).
inline Index relative_position_bucket(Index relative_position, bool bidirectional, Index num_buckets,
                                      Index max_distance) {
  if (num_buckets < 2) return 0;
  Index bucket = 0;
  Index n = num_buckets;
  // |relative_position| without overflow: positions are bounded by sequence lengths,
  // but INT64_MIN has no positive counterpart.
  const Index rel_limit = std::numeric_limits<Index>::max();
  Index rel = relative_position;
  if (bidirectional) {
    n /= 2;
    if (rel > 0) bucket += n;
    rel = rel == std::numeric_limits<Index>::min() ? rel_limit : std::abs(rel);
  } else {
    rel = rel >= 0 ? 0 : (rel == std::numeric_limits<Index>::min() ? rel_limit : -rel);
  }
  const Index max_exact = n / 2;
  if (rel < max_exact) return bucket + rel;
  if (max_exact < 1 || max_distance <= max_exact) return bucket + n - 1;
  const float scaled = std::log(static_cast<float>(rel) / static_cast<float>(max_exact)) /
                       static_cast<float>(std::log(static_cast<double>(max_distance) / max_exact)) *
                       static_cast<float>(n - max_exact);
  // The cast is defined only for values an Index can hold; anything past n - 1 is clamped anyway.
  const Index offset = (scaled >= 0.0f && scaled < static_cast<float>(n)) ? static_cast<Index>(scaled) : (n - 1);
  const Index large = std::min<Index>(max_exact + offset, n - 1);
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
