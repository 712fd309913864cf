#pragma once
// Small numeric helpers on one row of scores (float32, like PyTorch's float
// logits; reductions accumulate in double).
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "srformer/core/error.hpp"
#include "srformer/core/tensor.hpp"

namespace srformer::detail {

constexpr float kNegativeInfinity = -std::numeric_limits<float>::infinity();

/// In-place log-softmax: x - max - log(sum(exp(x - max))), as torch.log_softmax.
inline void log_softmax_in_place(float* x, Index n) {
  float max_value = kNegativeInfinity;
  for (Index i = 0; i < n; ++i) max_value = std::max(max_value, x[i]);
  if (max_value == kNegativeInfinity) return;  // every entry -inf: leave them so (HF yields nan/-inf here)
  double sum = 0.0;
  for (Index i = 0; i < n; ++i) sum += std::exp(static_cast<double>(x[i] - max_value));
  const float log_sum = static_cast<float>(std::log(sum));
  for (Index i = 0; i < n; ++i) x[i] = (x[i] - max_value) - log_sum;
}

/// Index of the largest value; the first one on ties (torch.argmax).
inline Index argmax(const float* x, Index n) {
  Index best = 0;
  for (Index i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;
  return best;
}

/// A candidate (value, flat index); better = larger value, then smaller index.
struct ScoredIndex {
  float value;
  Index index;
};

inline bool ranks_before(const ScoredIndex& a, const ScoredIndex& b) {
  return a.value > b.value || (a.value == b.value && a.index < b.index);
}

/// Adds the `k` best entries of x (offset by `index_base`) to `best`, which stays
/// sorted best-first and at most k long. One pass, no allocation beyond `best`.
inline void collect_top_k(const float* x, Index n, Index index_base, Index k, std::vector<ScoredIndex>& best) {
  if (k <= 0) return;
  for (Index i = 0; i < n; ++i) {
    const ScoredIndex candidate{x[i], index_base + i};
    if (static_cast<Index>(best.size()) == k && !ranks_before(candidate, best.back())) continue;
    auto position = std::upper_bound(best.begin(), best.end(), candidate,
                                     [](const ScoredIndex& a, const ScoredIndex& b) { return ranks_before(a, b); });
    best.insert(position, candidate);
    if (static_cast<Index>(best.size()) > k) best.pop_back();
  }
}

/// Throws when a decoder session returned NaN or +inf logits (a model bug that
/// would otherwise silently corrupt the search).
inline void check_logits_row(const float* x, Index n, Index row, Index step) {
  for (Index i = 0; i < n; ++i) {
    if (std::isnan(x[i]) || x[i] == std::numeric_limits<float>::infinity())
      throw Error("decoder session returned a non-finite logit (" + std::to_string(x[i]) + ") for token " +
                  std::to_string(i) + " of row " + std::to_string(row) + " at generation step " +
                  std::to_string(step));
  }
}

}  // namespace srformer::detail
