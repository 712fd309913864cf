#pragma once
// Test doubles for DecoderSession: a deterministic "language model" whose logits
// are a function of (input, token history), which records how many rows every
// step costs and every reorder() it receives.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "srformer/generation/decoder_session.hpp"

namespace srformer::testing {

class ScriptedSession : public DecoderSession {
 public:
  /// Logits of the next token for a row of `input` whose decoder tokens so far are `history`.
  using LogitsFn = std::function<std::vector<float>(Index input, const std::vector<TokenId>& history)>;

  ScriptedSession(Index rows, Index rows_per_input, Index vocab, LogitsFn logits_fn)
      : vocab_(vocab), logits_fn_(std::move(logits_fn)), histories_(static_cast<std::size_t>(rows)) {
    for (Index r = 0; r < rows; ++r) inputs_.push_back(r / rows_per_input);
  }

  Index rows() const override { return static_cast<Index>(histories_.size()); }
  Index vocab_size() const override { return vocab_; }
  Index position() const override { return position_; }

  const RowMatrix& step(const std::vector<TokenId>& tokens) override {
    if (tokens.size() != histories_.size())
      throw std::logic_error("step: " + std::to_string(tokens.size()) + " tokens for " +
                             std::to_string(histories_.size()) + " rows");
    logits_.resize(rows(), vocab_);
    for (std::size_t r = 0; r < histories_.size(); ++r) {
      histories_[r].push_back(tokens[r]);
      const std::vector<float> row = logits_fn_(inputs_[r], histories_[r]);
      if (static_cast<Index>(row.size()) != vocab_) throw std::logic_error("logits_fn returned a wrong size");
      for (Index t = 0; t < vocab_; ++t) logits_(static_cast<Index>(r), t) = row[static_cast<std::size_t>(t)];
    }
    rows_per_step.push_back(rows());
    ++position_;
    return logits_;
  }

  void reorder(const std::vector<Index>& source) override {
    std::vector<std::vector<TokenId>> histories;
    std::vector<Index> inputs;
    for (Index s : source) {
      if (s < 0 || s >= rows()) throw std::logic_error("reorder: source row " + std::to_string(s) + " out of range");
      histories.push_back(histories_[static_cast<std::size_t>(s)]);
      inputs.push_back(inputs_[static_cast<std::size_t>(s)]);
    }
    histories_ = std::move(histories);
    inputs_ = std::move(inputs);
    reorders.push_back(source);
  }

  /// Rows computed by each step() call (the compute cost of the search).
  std::vector<Index> rows_per_step;
  /// Every reorder() received.
  std::vector<std::vector<Index>> reorders;

  Index total_rows_computed() const {
    Index total = 0;
    for (Index r : rows_per_step) total += r;
    return total;
  }

 private:
  Index vocab_;
  LogitsFn logits_fn_;
  std::vector<std::vector<TokenId>> histories_;
  std::vector<Index> inputs_;
  Index position_ = 0;
  RowMatrix logits_;
};

/// Logits = log(probabilities); a zero probability becomes log(1e-12).
inline std::vector<float> log_probabilities(const std::vector<double>& p) {
  std::vector<float> logits;
  for (double v : p) logits.push_back(static_cast<float>(std::log(v > 0.0 ? v : 1e-12)));
  return logits;
}

/// A language model given as a table: next-token probabilities for chosen
/// (input, history) pairs, and a default distribution for every other history.
class TableModel {
 public:
  explicit TableModel(std::vector<double> default_probabilities) : default_(std::move(default_probabilities)) {}

  TableModel& set(Index input, std::vector<TokenId> history, std::vector<double> probabilities) {
    table_[{input, std::move(history)}] = std::move(probabilities);
    return *this;
  }

  ScriptedSession::LogitsFn fn() const {
    return [table = table_, fallback = default_](Index input, const std::vector<TokenId>& history) {
      auto it = table.find({input, history});
      return log_probabilities(it != table.end() ? it->second : fallback);
    };
  }

 private:
  std::vector<double> default_;
  std::map<std::pair<Index, std::vector<TokenId>>, std::vector<double>> table_;
};

/// Pseudo-random but deterministic logits from a hash of (seed, input, history),
/// uniform in [-4, 4], with the eos logit raised by 0.35 per token generated so
/// that sequences end at varied lengths.
inline ScriptedSession::LogitsFn hashed_model(Index vocab, std::uint64_t seed, TokenId eos) {
  return [vocab, seed, eos](Index input, const std::vector<TokenId>& history) {
    std::uint64_t h = seed * 0x9E3779B97F4A7C15ULL + static_cast<std::uint64_t>(input) * 0xBF58476D1CE4E5B9ULL;
    for (TokenId t : history) h = (h ^ static_cast<std::uint64_t>(t + 1)) * 0x94D049BB133111EBULL + 0x2545F4914F6CDD1DULL;
    std::vector<float> logits(static_cast<std::size_t>(vocab));
    for (Index i = 0; i < vocab; ++i) {
      h += 0x9E3779B97F4A7C15ULL;  // splitmix64
      std::uint64_t z = h;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
      z ^= z >> 31;
      logits[static_cast<std::size_t>(i)] = static_cast<float>(static_cast<double>(z >> 11) / 9007199254740992.0 * 8.0 - 4.0);
    }
    if (eos >= 0 && eos < vocab) logits[static_cast<std::size_t>(eos)] += 0.35f * static_cast<float>(history.size());
    return logits;
  };
}

}  // namespace srformer::testing
