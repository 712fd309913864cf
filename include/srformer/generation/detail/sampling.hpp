#pragma once
// Multinomial draws from softmax(scores) with a seeded std::mt19937_64.
// Reproducible for a given seed on every platform (the uniform variate is built
// from the raw 64-bit output, not std::uniform_real_distribution, whose algorithm
// differs between standard libraries). The draws do not match PyTorch's RNG.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "srformer/core/error.hpp"
#include "srformer/core/tensor.hpp"

namespace srformer::detail {

/// Uniform double in [0, 1) from the top 53 bits of one draw.
inline double uniform_unit(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0);
}

/// Unnormalised softmax weights exp(x - max); -inf gets weight 0.
inline std::vector<double> softmax_weights(const float* scores, Index n, double& total) {
  float max_value = -std::numeric_limits<float>::infinity();
  for (Index i = 0; i < n; ++i) max_value = std::max(max_value, scores[i]);
  std::vector<double> weights(static_cast<std::size_t>(n), 0.0);
  total = 0.0;
  if (max_value == -std::numeric_limits<float>::infinity()) return weights;
  for (Index i = 0; i < n; ++i) {
    weights[static_cast<std::size_t>(i)] = std::exp(static_cast<double>(scores[i] - max_value));
    total += weights[static_cast<std::size_t>(i)];
  }
  return weights;
}

/// Picks index i with probability weights[i] / total.
inline Index draw_weighted(const std::vector<double>& weights, double total, std::mt19937_64& rng) {
  const double target = uniform_unit(rng) * total;
  double cumulative = 0.0;
  Index last_positive = -1;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (weights[i] <= 0.0) continue;
    cumulative += weights[i];
    last_positive = static_cast<Index>(i);
    if (target < cumulative) return last_positive;
  }
  return last_positive;  // rounding left target == total: the last token with probability > 0
}

/// One draw from softmax(scores) (torch.multinomial(softmax(scores), 1)).
inline Index sample_from_scores(const float* scores, Index n, std::mt19937_64& rng) {
  double total = 0.0;
  const std::vector<double> weights = softmax_weights(scores, n, total);
  if (!(total > 0.0))
    throw OptionError("sampling: every token has probability 0 after the logits processors (all scores are -inf)");
  return draw_weighted(weights, total, rng);
}

/// `count` draws without replacement from softmax(scores), in draw order
/// (torch.multinomial(softmax(scores), count, replacement=False)).
inline std::vector<Index> sample_without_replacement(const float* scores, Index n, Index count,
                                                     std::mt19937_64& rng) {
  double total = 0.0;
  std::vector<double> weights = softmax_weights(scores, n, total);
  Index available = 0;
  for (double w : weights) available += w > 0.0 ? 1 : 0;
  if (available < count)
    throw OptionError("beam sampling needs " + std::to_string(count) +
                      " candidates with probability > 0 but only " + std::to_string(available) +
                      " remain after the logits processors (raise top_k / top_p)");
  std::vector<Index> drawn;
  drawn.reserve(static_cast<std::size_t>(count));
  for (Index d = 0; d < count; ++d) {
    const Index pick = draw_weighted(weights, total, rng);
    drawn.push_back(pick);
    weights[static_cast<std::size_t>(pick)] = 0.0;
    total = 0.0;  // summed afresh rather than decremented, so rounding cannot drift
    for (double w : weights) total += w;
  }
  return drawn;
}

}  // namespace srformer::detail
