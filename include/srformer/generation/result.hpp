#pragma once
// What generate() returns: HF's `sequences` (and `sequences_scores` for beam
// search), one row per (input, returned sequence).
#include <algorithm>
#include <string>
#include <vector>

#include "srformer/core/error.hpp"
#include "srformer/core/tensor.hpp"
#include "srformer/generation/decoder_session.hpp"

namespace srformer {

struct GenerationResult {
  Index batch_size = 0;
  Index num_return_sequences = 1;

  /// Row `input * num_return_sequences + k` is the k-th sequence of input `input`
  /// (beam search: best first). Every row starts with the decoder start token and
  /// all rows are padded to one length, exactly like HF's `sequences` tensor.
  std::vector<std::vector<TokenId>> sequences;

  /// Per row: number of generated tokens after the start token, eos included,
  /// padding excluded (the `generated_len` of HF's length normalisation).
  std::vector<Index> generated_lengths;

  /// Beam search only: HF's `sequences_scores` = sum of processed log-probs /
  /// generated_len ^ length_penalty. Empty for greedy and sampling.
  std::vector<float> sequences_scores;

  /// Greedy / sampling with options.output_logits: step_logits[row][t] holds the raw
  /// logits that produced the t-th generated token of `row` (HF's `logits` output,
  /// without the rows that had already finished).
  std::vector<std::vector<RowVector>> step_logits;

  Index rows() const { return static_cast<Index>(sequences.size()); }

  /// The k-th sequence of input `input` (padded).
  const std::vector<TokenId>& sequence(Index input, Index k = 0) const {
    if (input < 0 || input >= batch_size || k < 0 || k >= num_return_sequences)
      throw InputError("GenerationResult::sequence(" + std::to_string(input) + ", " + std::to_string(k) +
                       ") is out of range for batch_size " + std::to_string(batch_size) +
                       " and num_return_sequences " + std::to_string(num_return_sequences));
    return sequences[static_cast<std::size_t>(input * num_return_sequences + k)];
  }

  /// Row `row` without its padding: the start token and the generated tokens.
  std::vector<TokenId> unpadded(Index row) const {
    if (row < 0 || row >= rows())
      throw InputError("GenerationResult::unpadded(" + std::to_string(row) + ") is out of range for " +
                       std::to_string(rows()) + " rows");
    const auto& s = sequences[static_cast<std::size_t>(row)];
    const auto keep = static_cast<std::size_t>(1 + generated_lengths[static_cast<std::size_t>(row)]);
    return std::vector<TokenId>(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(keep));
  }
};

namespace detail {

/// Pads every row to the longest one, as HF's sequences tensor; fills generated_lengths.
inline void pad_to_common_length(GenerationResult& result, TokenId fill) {
  std::size_t longest = 0;
  for (const auto& s : result.sequences) longest = std::max(longest, s.size());
  result.generated_lengths.clear();
  for (auto& s : result.sequences) {
    result.generated_lengths.push_back(static_cast<Index>(s.size()) - 1);
    s.resize(longest, fill);
  }
}

}  // namespace detail

}  // namespace srformer
