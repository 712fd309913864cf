#pragma once
// Greedy search and multinomial sampling: HF's `_sample` (one hypothesis per
// row). A row that emits eos is padded with pad_token_id like HF, but it is also
// dropped from the decoder session (DecoderSession::reorder) so it stops costing
// compute; the result is the same because HF only pads such rows.
#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "srformer/core/error.hpp"
#include "srformer/core/tensor.hpp"
#include "srformer/generation/decoder_session.hpp"
#include "srformer/generation/detail/sampling.hpp"
#include "srformer/generation/detail/scores.hpp"
#include "srformer/generation/detail/session_checks.hpp"
#include "srformer/generation/logits_processors.hpp"
#include "srformer/generation/options.hpp"
#include "srformer/generation/result.hpp"
#include "srformer/generation/token_callback.hpp"

namespace srformer {

namespace detail {

inline GenerationResult decode_single_hypothesis(DecoderSession& session, Index batch_size,
                                                 const GenerationOptions& options, bool sample,
                                                 const TokenCallback& callback) {
  check_session_start(session, batch_size, 1);
  const Index vocab = session.vocab_size();
  check_options_against_vocab(options, vocab);

  // Sampling several sequences per input: repeat each input's row (HF's repeat_interleave).
  const Index per_input = sample ? options.num_return_sequences : 1;
  const Index rows = batch_size * per_input;
  if (per_input > 1) {
    std::vector<Index> source(static_cast<std::size_t>(rows));
    for (Index r = 0; r < rows; ++r) source[static_cast<std::size_t>(r)] = r / per_input;
    session.reorder(source);
  }

  const TokenId start = options.resolved_decoder_start_token_id();
  const std::int64_t max_length = options.resolved_max_length();
  const LogitsProcessorList processors(options, 1);
  std::mt19937_64 rng(options.seed);

  GenerationResult result;
  result.batch_size = batch_size;
  result.num_return_sequences = per_input;
  result.sequences.assign(static_cast<std::size_t>(rows), std::vector<TokenId>{start});
  if (options.output_logits) result.step_logits.assign(static_cast<std::size_t>(rows), {});

  std::vector<Index> active(static_cast<std::size_t>(rows));  // result row of each session row
  std::iota(active.begin(), active.end(), Index{0});
  std::vector<TokenId> tokens(static_cast<std::size_t>(rows), start);
  RowVector scores(vocab);

  bool stop_all = false;
  for (Index step = 0; !active.empty(); ++step) {
    const RowMatrix& logits = session.step(tokens);
    check_step_logits(logits, static_cast<Index>(active.size()), vocab, step);

    std::vector<Index> kept_rows;     // session rows that continue
    std::vector<Index> still_active;  // their result rows
    for (std::size_t i = 0; i < active.size() && !stop_all; ++i) {
      const Index row = active[i];
      auto& sequence = result.sequences[static_cast<std::size_t>(row)];
      check_logits_row(logits.row(static_cast<Index>(i)).data(), vocab, row, step);
      scores = logits.row(static_cast<Index>(i));
      if (options.output_logits) result.step_logits[static_cast<std::size_t>(row)].push_back(scores);

      processors.process(scores, sequence);
      TokenId next;
      if (sample) {
        processors.warp(scores);
        next = static_cast<TokenId>(sample_from_scores(scores.data(), vocab, rng));
      } else {
        next = static_cast<TokenId>(argmax(scores.data(), vocab));
      }
      sequence.push_back(next);

      bool finished =
          is_one_of(next, options.eos_token_ids) || static_cast<std::int64_t>(sequence.size()) >= max_length;
      if (callback) {
        const TokenAction action =
            callback(GeneratedToken{row / per_input, row % per_input, step, next, finished});
        if (action == TokenAction::StopAll) stop_all = true;
        if (action != TokenAction::Continue) finished = true;
      }
      if (!finished) {
        kept_rows.push_back(static_cast<Index>(i));
        still_active.push_back(row);
      }
    }
    if (still_active.empty() || stop_all) break;
    if (still_active.size() != active.size()) session.reorder(kept_rows);
    active = std::move(still_active);
    tokens.clear();
    for (Index row : active) tokens.push_back(result.sequences[static_cast<std::size_t>(row)].back());
  }

  // Rows end early on eos (or a callback's stop): the fill token is pad, else eos, else the start token.
  const std::optional<TokenId> pad = options.resolved_pad_token_id();
  pad_to_common_length(result, pad ? *pad : start);
  return result;
}

}  // namespace detail

/// Greedy decoding (argmax after the logits processors). The session holds
/// batch_size rows, one per input. do_sample and num_return_sequences are ignored.
/// `callback`, when set, sees every token as it is chosen (generation/token_callback.hpp).
inline GenerationResult greedy_search(DecoderSession& session, Index batch_size, const GenerationOptions& options,
                                      const TokenCallback& callback = {}) {
  GenerationOptions greedy = options;
  greedy.do_sample = false;
  greedy.num_return_sequences = 1;
  if (greedy.num_beams != 1)
    throw OptionError("greedy_search: generation option num_beams = " + std::to_string(greedy.num_beams) +
                      " must be 1 (use beam_search)");
  greedy.validate();
  return detail::decode_single_hypothesis(session, batch_size, greedy, false, callback);
}

/// Multinomial sampling after the processors and the warpers (temperature, top-k,
/// top-p). The session holds batch_size rows; for num_return_sequences > 1 each row is
/// repeated through DecoderSession::reorder. Seeded by options.seed (std::mt19937_64:
/// reproducible, but not the same draws as PyTorch).
inline GenerationResult sample_search(DecoderSession& session, Index batch_size, const GenerationOptions& options,
                                      const TokenCallback& callback = {}) {
  GenerationOptions sampling = options;
  sampling.do_sample = true;
  if (sampling.num_beams != 1)
    throw OptionError("sample_search: generation option num_beams = " + std::to_string(sampling.num_beams) +
                      " must be 1 (use beam_search for beam sampling)");
  sampling.validate();
  return detail::decode_single_hypothesis(session, batch_size, sampling, true, callback);
}

}  // namespace srformer
