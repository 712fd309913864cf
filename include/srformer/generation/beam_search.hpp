#pragma once
// Beam search (and beam sampling) with the semantics of transformers 5.x
// `_beam_search` (the vectorised rewrite: _get_top_k_continuations,
// _get_running_beams_for_next_iteration, _update_finished_beams,
// _check_early_stop_heuristic), per input:
//  * scores: log_softmax(logits), then the logits processors, then + beam score;
//  * the top K = max(2, 1 + #eos) * num_beams candidates over num_beams x vocab
//    (sampled without replacement when do_sample);
//  * a candidate "hits" a stop when its token is eos or it reaches max_length;
//    only hits ranked < num_beams become finished hypotheses, scored
//    sum_logprobs / generated_len ^ length_penalty (generated_len counts the new
//    token and excludes the start token) and merged into the num_beams best;
//  * the best num_beams non-hitting candidates continue (hits get -1e9);
//  * early_stopping true: done once num_beams hypotheses are finished; false /
//    "never": done once the best running beam, normalised at the current length
//    (false, or length_penalty <= 0) or at max_length ("never" with
//    length_penalty > 0), cannot beat the worst finished one.
// HF keeps computing a done input's beams until the whole batch is done (their
// results can no longer change); here they are dropped from the session at once.
#include <algorithm>
#include <cmath>
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

/// HF's "very large negative" marker for impossible beams and empty slots (float32 -1e9).
constexpr float kBeamPenalty = -1.0e9f;

/// State of one input: running beams and the num_beams best finished hypotheses.
struct BeamInput {
  std::vector<std::vector<TokenId>> running;  ///< num_beams sequences, start token first
  std::vector<float> running_scores;          ///< sum of processed log-probs
  std::vector<std::vector<TokenId>> finished;  ///< num_beams slots, best first
  std::vector<float> finished_scores;          ///< length-normalised; kBeamPenalty when empty
  std::vector<char> finished_flags;            ///< slot holds a real finished hypothesis
  bool improvement_possible = true;            ///< HF's is_early_stop_heuristic_unsatisfied
};

struct BeamCandidate {
  float score;     ///< accumulated log-prob
  Index beam;      ///< source running beam
  TokenId token;   ///< appended token
  bool hits_stop;  ///< eos or max_length reached
};

/// The search parameters that stay fixed during one beam_search() call.
struct BeamSettings {
  Index num_beams;
  Index vocab;
  Index candidates_per_input;  ///< HF's beams_to_keep
  std::int64_t max_length;
  double length_penalty;
  EarlyStopping early_stopping;
  std::vector<TokenId> eos;
};

inline float length_normalised(float sum_logprobs, std::int64_t generated_length, double length_penalty) {
  const double denominator = std::pow(static_cast<double>(generated_length), length_penalty);
  return sum_logprobs / static_cast<float>(denominator);
}

inline bool all_set(const std::vector<char>& flags) {
  return std::all_of(flags.begin(), flags.end(), [](char f) { return f != 0; });
}

/// HF's _get_top_k_continuations: the K best (or K sampled) (beam, token) pairs of
/// `accumulated` [num_beams x vocab]; best first, sampled ones in draw order.
inline std::vector<BeamCandidate> top_continuations(const std::vector<float>& accumulated, const BeamSettings& s,
                                                    std::int64_t current_length, bool sample,
                                                    std::mt19937_64& rng) {
  std::vector<Index> flat_indices;
  if (sample) {
    flat_indices = sample_without_replacement(accumulated.data(), s.num_beams * s.vocab, s.candidates_per_input, rng);
  } else {
    std::vector<ScoredIndex> top;
    collect_top_k(accumulated.data(), s.num_beams * s.vocab, 0, s.candidates_per_input, top);
    for (const ScoredIndex& t : top) flat_indices.push_back(t.index);
  }
  std::vector<BeamCandidate> candidates;
  for (Index flat : flat_indices) {
    const auto token = static_cast<TokenId>(flat % s.vocab);
    const bool hits = is_one_of(token, s.eos) || current_length + 1 >= s.max_length;
    candidates.push_back({accumulated[static_cast<std::size_t>(flat)], flat / s.vocab, token, hits});
  }
  return candidates;
}

/// HF's _update_finished_beams: candidates ranked < num_beams that hit a stop are
/// scored sum / generated_len^length_penalty and merged into the num_beams best.
inline void update_finished(BeamInput& input, const std::vector<BeamCandidate>& candidates, const BeamSettings& s,
                            std::int64_t current_length) {
  const bool full = all_set(input.finished_flags) && s.early_stopping == EarlyStopping::kTrue;
  std::vector<ScoredIndex> merged;  // index < num_beams: existing slot; else num_beams + candidate index
  for (Index slot = 0; slot < s.num_beams; ++slot)
    merged.push_back({input.finished_scores[static_cast<std::size_t>(slot)], slot});
  std::vector<char> just_finished(candidates.size(), 0);
  for (std::size_t k = 0; k < candidates.size(); ++k) {
    // The penalties are added like HF's (float32 sums), so ties and orders match.
    float score = length_normalised(candidates[k].score, current_length, s.length_penalty);
    if (full) score += kBeamPenalty;
    if (!input.improvement_possible) score += kBeamPenalty;
    just_finished[k] = candidates[k].hits_stop && static_cast<Index>(k) < s.num_beams;
    if (!just_finished[k]) score += kBeamPenalty;
    merged.push_back({score, s.num_beams + static_cast<Index>(k)});
  }
  std::stable_sort(merged.begin(), merged.end(), ranks_before);

  std::vector<std::vector<TokenId>> finished;
  std::vector<float> scores;
  std::vector<char> flags;
  for (Index slot = 0; slot < s.num_beams; ++slot) {
    const ScoredIndex& m = merged[static_cast<std::size_t>(slot)];
    scores.push_back(m.value);
    if (m.index < s.num_beams) {
      finished.push_back(std::move(input.finished[static_cast<std::size_t>(m.index)]));
      flags.push_back(input.finished_flags[static_cast<std::size_t>(m.index)]);
    } else {
      const auto k = static_cast<std::size_t>(m.index - s.num_beams);
      std::vector<TokenId> sequence = input.running[static_cast<std::size_t>(candidates[k].beam)];
      sequence.push_back(candidates[k].token);
      finished.push_back(std::move(sequence));
      flags.push_back(just_finished[k]);
    }
  }
  input.finished = std::move(finished);
  input.finished_scores = std::move(scores);
  input.finished_flags = std::move(flags);
}

/// HF's _get_running_beams_for_next_iteration: the num_beams best candidates that
/// did not hit a stop (hits get -1e9) become the running beams. Returns, per new
/// beam, the old beam it continues.
inline std::vector<Index> advance_running(BeamInput& input, const std::vector<BeamCandidate>& candidates,
                                          Index num_beams) {
  std::vector<ScoredIndex> rank;
  for (std::size_t k = 0; k < candidates.size(); ++k) {
    float score = candidates[k].score;
    if (candidates[k].hits_stop) score += kBeamPenalty;
    rank.push_back({score, static_cast<Index>(k)});
  }
  std::stable_sort(rank.begin(), rank.end(), ranks_before);
  rank.resize(static_cast<std::size_t>(num_beams));

  std::vector<std::vector<TokenId>> running;
  std::vector<float> scores;
  std::vector<Index> sources;
  for (const ScoredIndex& r : rank) {
    const BeamCandidate& c = candidates[static_cast<std::size_t>(r.index)];
    std::vector<TokenId> sequence = input.running[static_cast<std::size_t>(c.beam)];
    sequence.push_back(c.token);
    running.push_back(std::move(sequence));
    scores.push_back(r.value);
    sources.push_back(c.beam);
  }
  input.running = std::move(running);
  input.running_scores = std::move(scores);
  return sources;
}

/// HF's _check_early_stop_heuristic plus the stopping rules, for one input after a
/// step that brought its beams to `generated` new tokens. True when it is done.
inline bool update_done(BeamInput& input, const std::vector<BeamCandidate>& candidates, const BeamSettings& s,
                        std::int64_t generated) {
  const std::int64_t best_length =
      (s.early_stopping == EarlyStopping::kNever && s.length_penalty > 0.0) ? s.max_length - 1 : generated;
  const float best_possible = length_normalised(input.running_scores[0], best_length, s.length_penalty);
  const float worst_finished = *std::min_element(input.finished_scores.begin(), input.finished_scores.end());
  bool beatable = false;
  for (Index slot = 0; slot < s.num_beams; ++slot) {
    const float worst = input.finished_flags[static_cast<std::size_t>(slot)] ? worst_finished : kBeamPenalty;
    if (best_possible > worst) beatable = true;
  }
  input.improvement_possible = input.improvement_possible && beatable;
  const bool all_hit =
      std::all_of(candidates.begin(), candidates.end(), [](const BeamCandidate& c) { return c.hits_stop; });
  return !input.improvement_possible || (s.early_stopping == EarlyStopping::kTrue && all_set(input.finished_flags)) ||
         all_hit;
}

/// Reports input `b`'s best hypothesis to `callback`, token by token (see
/// generation/token_callback.hpp); a stop cuts the hypothesis after the token it
/// was returned for. Returns true when the callback asked to stop everything.
inline bool report_best_hypothesis(BeamInput& input, Index b, const TokenCallback& callback) {
  std::vector<TokenId>& best = input.finished[0];
  for (std::size_t i = 1; i < best.size(); ++i) {
    const TokenAction action =
        callback(GeneratedToken{b, 0, static_cast<Index>(i - 1), best[i], i + 1 == best.size()});
    if (action == TokenAction::Continue) continue;
    best.resize(i + 1);
    return action == TokenAction::StopAll;
  }
  return false;
}

/// An input still searching when everything was stopped keeps its finished
/// hypotheses; without any, its running beams take their place.
inline void finish_early(BeamInput& input, const BeamSettings& s, std::int64_t generated) {
  if (input.finished_flags[0]) return;
  for (Index k = 0; k < s.num_beams; ++k) {
    const auto slot = static_cast<std::size_t>(k);
    input.finished[slot] = input.running[slot];
    input.finished_scores[slot] = length_normalised(input.running_scores[slot], generated, s.length_penalty);
  }
}

}  // namespace detail

/// Beam search over a session holding batch_size * num_beams rows (row r belongs to
/// input r / num_beams). Returns num_return_sequences sequences per input, best
/// first, with HF's sequences_scores. do_sample selects beam sampling. `callback`,
/// when set, sees each input's best hypothesis once its search is done
/// (generation/token_callback.hpp).
inline GenerationResult beam_search(DecoderSession& session, Index batch_size, const GenerationOptions& options,
                                    const TokenCallback& callback = {}) {
  using namespace detail;
  options.validate();
  const Index num_beams = options.num_beams;
  check_session_start(session, batch_size, num_beams);
  const Index vocab = session.vocab_size();
  check_options_against_vocab(options, vocab);

  const auto eos_count = static_cast<Index>(options.eos_token_ids.size());
  const BeamSettings settings{num_beams,
                              vocab,
                              std::max<Index>(2, 1 + eos_count) * num_beams,
                              options.resolved_max_length(),
                              options.length_penalty,
                              options.early_stopping,
                              options.eos_token_ids};
  // Beam sampling keeps at least one non-eos token per row, as HF.
  const std::int64_t min_tokens_to_keep = num_beams > 1 ? std::max<Index>(2, eos_count + 1) : 1;
  const LogitsProcessorList processors(options, min_tokens_to_keep);
  const TokenId start = options.resolved_decoder_start_token_id();
  std::mt19937_64 rng(options.seed);

  std::vector<BeamInput> inputs(static_cast<std::size_t>(batch_size));
  for (auto& input : inputs) {
    input.running.assign(static_cast<std::size_t>(num_beams), std::vector<TokenId>{start});
    // Only the first beam is live at the start, so the identical beams do not all pick the same tokens.
    input.running_scores.assign(static_cast<std::size_t>(num_beams), kBeamPenalty);
    input.running_scores[0] = 0.0f;
    input.finished.assign(static_cast<std::size_t>(num_beams), {});
    input.finished_scores.assign(static_cast<std::size_t>(num_beams), kBeamPenalty);
    input.finished_flags.assign(static_cast<std::size_t>(num_beams), 0);
  }

  std::vector<Index> active(static_cast<std::size_t>(batch_size));  // inputs in session order
  for (Index b = 0; b < batch_size; ++b) active[static_cast<std::size_t>(b)] = b;
  std::vector<TokenId> tokens(static_cast<std::size_t>(batch_size * num_beams), start);
  std::vector<float> accumulated(static_cast<std::size_t>(num_beams * vocab));
  std::int64_t current_length = 1;  // decoder tokens per running beam (HF's cur_len)
  bool stop_all = false;

  for (Index step = 0; !active.empty(); ++step, ++current_length) {
    const RowMatrix& logits = session.step(tokens);
    check_step_logits(logits, static_cast<Index>(active.size()) * num_beams, vocab, step);

    std::vector<Index> source;  // session rows feeding the next step
    std::vector<Index> still_active;
    tokens.clear();
    for (std::size_t position = 0; position < active.size(); ++position) {
      BeamInput& input = inputs[static_cast<std::size_t>(active[position])];
      const Index first_row = static_cast<Index>(position) * num_beams;

      // log_softmax, then the processors (and warpers when sampling), then + beam score
      for (Index beam = 0; beam < num_beams; ++beam) {
        float* row = accumulated.data() + beam * vocab;
        const float* raw = logits.row(first_row + beam).data();
        check_logits_row(raw, vocab, first_row + beam, step);
        std::copy(raw, raw + vocab, row);
        log_softmax_in_place(row, vocab);
        Eigen::Map<RowVector> scores(row, vocab);
        processors.process(scores, input.running[static_cast<std::size_t>(beam)]);
        processors.warp(scores);
        const float beam_score = input.running_scores[static_cast<std::size_t>(beam)];
        for (Index t = 0; t < vocab; ++t) row[t] += beam_score;
      }

      const std::vector<BeamCandidate> candidates =
          top_continuations(accumulated, settings, current_length, options.do_sample, rng);
      update_finished(input, candidates, settings, current_length);
      const std::vector<Index> continued = advance_running(input, candidates, num_beams);
      if (!update_done(input, candidates, settings, current_length)) {
        still_active.push_back(active[position]);
        for (Index beam : continued) source.push_back(first_row + beam);
        for (const auto& sequence : input.running) tokens.push_back(sequence.back());
      } else if (callback && !stop_all) {
        stop_all = report_best_hypothesis(input, active[position], callback);
      }
    }
    if (stop_all) {
      for (Index b : still_active) finish_early(inputs[static_cast<std::size_t>(b)], settings, current_length);
      break;
    }
    if (still_active.empty()) break;
    session.reorder(source);
    active = std::move(still_active);
  }

  // Output: the best num_return_sequences finished hypotheses of each input, padded
  // like HF: with pad_token_id, except that HF's `pad_token_id or eos_token_id[0]`
  // falls back to eos when pad_token_id is 0 (e.g. T5); kept for identical output.
  GenerationResult result;
  result.batch_size = batch_size;
  result.num_return_sequences = options.num_return_sequences;
  for (auto& input : inputs) {
    for (Index k = 0; k < options.num_return_sequences; ++k) {
      std::vector<TokenId> sequence = std::move(input.finished[static_cast<std::size_t>(k)]);
      if (sequence.empty()) sequence.push_back(start);  // slot never filled (degenerate: all -inf scores)
      result.sequences.push_back(std::move(sequence));
      result.sequences_scores.push_back(input.finished_scores[static_cast<std::size_t>(k)]);
    }
  }
  TokenId fill = start;
  if (!options.eos_token_ids.empty())
    fill = (options.pad_token_id && *options.pad_token_id != 0) ? *options.pad_token_id : options.eos_token_ids[0];
  else if (options.pad_token_id)
    fill = *options.pad_token_id;
  pad_to_common_length(result, fill);
  return result;
}

}  // namespace srformer
