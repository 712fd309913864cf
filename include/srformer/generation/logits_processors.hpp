#pragma once
// Logits processors and sampling warpers with HuggingFace's semantics
// (transformers 5.x generation/logits_process.py). Each edits one row of scores
// in place; `sequence` is that row's decoder tokens so far, starting with the
// decoder start token (HF's `input_ids` for an encoder-decoder model).
// Banned tokens get -inf, as in HF (not the float minimum).
#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "srformer/core/error.hpp"
#include "srformer/core/tensor.hpp"
#include "srformer/generation/decoder_session.hpp"
#include "srformer/generation/detail/scores.hpp"
#include "srformer/generation/options.hpp"

namespace srformer {

using ScoreRow = Eigen::Ref<RowVector>;

namespace detail {

inline void check_token_in_vocab(const char* what, TokenId token, Index vocab_size) {
  if (token < 0 || token >= vocab_size)
    throw OptionError(std::string(what) + " " + std::to_string(token) + " is outside the vocabulary (size " +
                      std::to_string(vocab_size) + ")");
}

}  // namespace detail

/// CTRL repetition penalty (RepetitionPenaltyLogitsProcessor): every token already in
/// `sequence` has its score divided by `penalty` when positive, multiplied when negative.
/// Applied once per distinct token.
inline void apply_repetition_penalty(ScoreRow scores, const std::vector<TokenId>& sequence, double penalty) {
  const float factor = static_cast<float>(penalty);
  std::vector<TokenId> seen(sequence);
  std::sort(seen.begin(), seen.end());
  seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
  for (TokenId token : seen) {
    detail::check_token_in_vocab("repetition penalty: sequence token", token, scores.size());
    float& s = scores[token];
    s = s < 0.0f ? s * factor : s / factor;
  }
}

/// NoRepeatNGramLogitsProcessor: bans every token that would complete an n-gram of
/// size `ngram_size` already present in `sequence`.
inline void ban_repeated_ngrams(ScoreRow scores, const std::vector<TokenId>& sequence, std::int64_t ngram_size) {
  const auto length = static_cast<std::int64_t>(sequence.size());
  if (ngram_size <= 0 || length + 1 < ngram_size) return;
  const std::int64_t prefix_length = ngram_size - 1;
  const TokenId* prefix = sequence.data() + (length - prefix_length);
  for (std::int64_t start = 0; start + ngram_size <= length; ++start) {
    if (std::equal(prefix, prefix + prefix_length, sequence.data() + start)) {
      const TokenId banned = sequence[start + prefix_length];
      detail::check_token_in_vocab("no_repeat_ngram: sequence token", banned, scores.size());
      scores[banned] = detail::kNegativeInfinity;
    }
  }
}

/// Sets the given tokens to -inf (MinLength / MinNewTokens processors use it on eos).
inline void suppress_tokens(ScoreRow scores, const std::vector<TokenId>& tokens) {
  for (TokenId token : tokens) {
    detail::check_token_in_vocab("suppressed token", token, scores.size());
    scores[token] = detail::kNegativeInfinity;
  }
}

/// Forces the next token (ForcedBOS / ForcedEOS processors): every score -inf, the given ones 0.
inline void force_tokens(ScoreRow scores, const std::vector<TokenId>& tokens) {
  for (TokenId token : tokens) detail::check_token_in_vocab("forced token", token, scores.size());
  scores.setConstant(detail::kNegativeInfinity);
  for (TokenId token : tokens) scores[token] = 0.0f;
}

/// TemperatureLogitsWarper: scores / temperature.
inline void apply_temperature(ScoreRow scores, double temperature) {
  if (!(temperature > 0.0)) throw OptionError("temperature " + std::to_string(temperature) + " must be > 0");
  const float t = static_cast<float>(temperature);
  for (Index i = 0; i < scores.size(); ++i) scores[i] = scores[i] / t;
}

/// TopKLogitsWarper: keeps the scores >= the k-th largest (ties at the boundary survive),
/// with k raised to min_tokens_to_keep and capped at the vocabulary size.
inline void apply_top_k(ScoreRow scores, std::int64_t top_k, std::int64_t min_tokens_to_keep = 1) {
  if (top_k <= 0) throw OptionError("top_k " + std::to_string(top_k) + " must be > 0");
  const Index n = scores.size();
  const Index k = std::min<Index>(std::max(top_k, min_tokens_to_keep), n);
  if (k >= n) return;
  std::vector<float> values(scores.data(), scores.data() + n);
  std::nth_element(values.begin(), values.begin() + (k - 1), values.end(), std::greater<float>());
  const float threshold = values[static_cast<std::size_t>(k - 1)];
  for (Index i = 0; i < n; ++i)
    if (scores[i] < threshold) scores[i] = detail::kNegativeInfinity;
}

/// TopPLogitsWarper: sorts ascending, removes the tokens whose cumulative probability
/// is <= 1 - top_p, always keeping the min_tokens_to_keep most likely.
inline void apply_top_p(ScoreRow scores, double top_p, std::int64_t min_tokens_to_keep = 1) {
  if (!(top_p >= 0.0 && top_p <= 1.0)) throw OptionError("top_p " + std::to_string(top_p) + " must be in [0, 1]");
  const Index n = scores.size();
  if (n == 0) return;
  std::vector<Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), Index{0});
  std::stable_sort(order.begin(), order.end(), [&](Index a, Index b) { return scores[a] < scores[b]; });
  const float max_value = scores[order.back()];
  if (max_value == detail::kNegativeInfinity) return;
  double sum = 0.0;
  for (Index i = 0; i < n; ++i) sum += std::exp(static_cast<double>(scores[i] - max_value));
  const float threshold = static_cast<float>(1.0 - top_p);
  const Index always_kept = std::min<Index>(std::max<std::int64_t>(min_tokens_to_keep, 1), n);
  std::vector<Index> removed;
  float cumulative = 0.0f;
  for (Index j = 0; j < n; ++j) {
    const Index token = order[static_cast<std::size_t>(j)];
    cumulative += static_cast<float>(std::exp(static_cast<double>(scores[token] - max_value)) / sum);
    if (cumulative <= threshold && j < n - always_kept) removed.push_back(token);
  }
  for (Index token : removed) scores[token] = detail::kNegativeInfinity;
}

/// The processors `generate()` builds from GenerationOptions, in HF's order:
/// repetition penalty, no-repeat n-gram, min length / min new tokens (eos -> -inf),
/// forced BOS (first generated step), forced EOS (step that reaches max length);
/// then, only when sampling, the warpers temperature, top-k, top-p.
class LogitsProcessorList {
 public:
  /// `min_tokens_to_keep` is 1 for sampling and (number of eos + 1) for beam sampling, as HF.
  explicit LogitsProcessorList(const GenerationOptions& options, std::int64_t min_tokens_to_keep = 1)
      : repetition_penalty_(options.repetition_penalty),
        no_repeat_ngram_size_(options.no_repeat_ngram_size),
        min_length_(options.resolved_min_length()),
        max_length_(options.resolved_max_length()),
        eos_(options.eos_token_ids),
        forced_eos_(options.forced_eos_token_ids),
        do_sample_(options.do_sample),
        temperature_(options.temperature),
        top_k_(options.top_k),
        top_p_(options.top_p),
        min_tokens_to_keep_(min_tokens_to_keep) {
    if (options.forced_bos_token_id) forced_bos_.push_back(*options.forced_bos_token_id);
  }

  /// Logits processors (everything except the sampling warpers).
  void process(ScoreRow scores, const std::vector<TokenId>& sequence) const {
    const auto length = static_cast<std::int64_t>(sequence.size());
    if (repetition_penalty_ != 1.0) apply_repetition_penalty(scores, sequence, repetition_penalty_);
    if (no_repeat_ngram_size_ > 0) ban_repeated_ngrams(scores, sequence, no_repeat_ngram_size_);
    if (min_length_ > 0 && !eos_.empty() && length < min_length_) suppress_tokens(scores, eos_);
    if (!forced_bos_.empty() && length == 1) force_tokens(scores, forced_bos_);
    if (!forced_eos_.empty() && length == max_length_ - 1) force_tokens(scores, forced_eos_);
  }

  /// Sampling warpers; a no-op unless do_sample.
  void warp(ScoreRow scores) const {
    if (!do_sample_) return;
    if (temperature_ != 1.0) apply_temperature(scores, temperature_);
    if (top_k_ != 0) apply_top_k(scores, top_k_, min_tokens_to_keep_);
    if (top_p_ < 1.0) apply_top_p(scores, top_p_, min_tokens_to_keep_);
  }

 private:
  double repetition_penalty_;
  std::int64_t no_repeat_ngram_size_;
  std::int64_t min_length_;
  std::int64_t max_length_;
  std::vector<TokenId> eos_;
  std::vector<TokenId> forced_bos_;
  std::vector<TokenId> forced_eos_;
  bool do_sample_;
  double temperature_;
  std::int64_t top_k_;
  double top_p_;
  std::int64_t min_tokens_to_keep_;
};

}  // namespace srformer
