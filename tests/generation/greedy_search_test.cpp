#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <vector>

#include "generation/mock_sessions.hpp"
#include "srformer/generation/search.hpp"

namespace srformer {
namespace {

using testing::ScriptedSession;
using testing::TableModel;
using Sequences = std::vector<std::vector<TokenId>>;

// Token ids of the small hand-made vocabularies: 0 = start and pad, 1 = eos.
constexpr TokenId kStart = 0;
constexpr TokenId kEos = 1;

GenerationOptions options_with(std::int64_t max_new_tokens) {
  GenerationOptions o;
  o.decoder_start_token_id = kStart;
  o.eos_token_ids = {kEos};
  o.pad_token_id = kStart;
  o.max_new_tokens = max_new_tokens;
  return o;
}

/// Two inputs: input 0 says "3 </s>", input 1 says "4 5 2 </s>".
TableModel two_sentence_model() {
  TableModel model({0.05, 0.05, 0.6, 0.1, 0.1, 0.1});
  model.set(0, {0}, {0.05, 0.05, 0.1, 0.6, 0.1, 0.1})
      .set(0, {0, 3}, {0.05, 0.6, 0.1, 0.05, 0.1, 0.1})
      .set(1, {0}, {0.05, 0.05, 0.1, 0.1, 0.6, 0.1})
      .set(1, {0, 4}, {0.05, 0.05, 0.1, 0.1, 0.1, 0.6})
      .set(1, {0, 4, 5}, {0.05, 0.05, 0.6, 0.1, 0.1, 0.1})
      .set(1, {0, 4, 5, 2}, {0.05, 0.6, 0.1, 0.1, 0.1, 0.05});
  return model;
}

TEST(GreedySearch, PicksArgmaxAndPadsFinishedRowsLikeHF) {
  ScriptedSession session(2, 1, 6, two_sentence_model().fn());
  const GenerationResult result = generate(session, 2, options_with(10));
  EXPECT_EQ(result.sequences, (Sequences{{0, 3, 1, 0, 0}, {0, 4, 5, 2, 1}}));
  EXPECT_EQ(result.generated_lengths, (std::vector<Index>{2, 4}));
  EXPECT_EQ(result.unpadded(0), (std::vector<TokenId>{0, 3, 1}));
  EXPECT_EQ(result.sequence(1), (std::vector<TokenId>{0, 4, 5, 2, 1}));
  EXPECT_TRUE(result.sequences_scores.empty());
  EXPECT_TRUE(result.step_logits.empty());
}

TEST(GreedySearch, FinishedRowsStopCostingCompute) {
  ScriptedSession session(2, 1, 6, two_sentence_model().fn());
  generate(session, 2, options_with(10));
  EXPECT_EQ(session.rows_per_step, (std::vector<Index>{2, 2, 1, 1}));  // row 0 dropped after its eos
  EXPECT_EQ(session.reorders, (std::vector<std::vector<Index>>{{1}}));
}

TEST(GreedySearch, StopsAtMaxLengthWithoutEos) {
  ScriptedSession session(2, 1, 6, two_sentence_model().fn());
  const GenerationResult result = generate(session, 2, options_with(2));
  EXPECT_EQ(result.sequences, (Sequences{{0, 3, 1}, {0, 4, 5}}));
  EXPECT_EQ(session.rows_per_step, (std::vector<Index>{2, 2}));
  EXPECT_TRUE(session.reorders.empty());

  GenerationOptions by_total = options_with(2);
  by_total.max_new_tokens.reset();
  by_total.max_length = 3;  // the same limit expressed as a total length
  ScriptedSession again(2, 1, 6, two_sentence_model().fn());
  EXPECT_EQ(generate(again, 2, by_total).sequences, result.sequences);
}

TEST(GreedySearch, DefaultLengthIsTwentyNewTokens) {
  GenerationOptions o = options_with(1);
  o.max_new_tokens.reset();
  ScriptedSession session(1, 1, 6, TableModel({0.0, 0.0, 1.0, 0.0, 0.0, 0.0}).fn());
  EXPECT_EQ(generate(session, 1, o).sequences[0].size(), 21u);
}

TEST(GreedySearch, PadsWithEosWhenPadIsUnset) {
  GenerationOptions o = options_with(10);
  o.pad_token_id.reset();
  ScriptedSession session(2, 1, 6, two_sentence_model().fn());
  EXPECT_EQ(generate(session, 2, o).sequences[0], (std::vector<TokenId>{0, 3, 1, 1, 1}));
}

TEST(GreedySearch, ForcedBosAndForcedEos) {
  GenerationOptions o = options_with(3);
  o.forced_bos_token_id = 5;
  o.forced_eos_token_ids = {kEos};
  ScriptedSession session(1, 1, 6, TableModel({0.05, 0.05, 0.6, 0.1, 0.1, 0.1}).fn());
  EXPECT_EQ(generate(session, 1, o).sequences[0], (std::vector<TokenId>{0, 5, 2, 1}));
}

TEST(GreedySearch, MinNewTokensSuppressesEos) {
  const TableModel eager_to_stop({0.05, 0.6, 0.25, 0.1});
  ScriptedSession plain(1, 1, 4, eager_to_stop.fn());
  EXPECT_EQ(generate(plain, 1, options_with(10)).sequences[0], (std::vector<TokenId>{0, 1}));

  GenerationOptions o = options_with(10);
  o.min_new_tokens = 3;
  ScriptedSession session(1, 1, 4, eager_to_stop.fn());
  EXPECT_EQ(generate(session, 1, o).sequences[0], (std::vector<TokenId>{0, 2, 2, 2, 1}));

  GenerationOptions total = options_with(10);
  total.min_length = 3;  // total length, start token included: 2 new tokens
  ScriptedSession again(1, 1, 4, eager_to_stop.fn());
  EXPECT_EQ(generate(again, 1, total).sequences[0], (std::vector<TokenId>{0, 2, 2, 1}));
}

TEST(GreedySearch, NoRepeatNGramBlocksRepeats) {
  // The model always prefers 5 > 4 > 3 > 2 (> eos).
  const TableModel stubborn({0.01, 0.04, 0.05, 0.2, 0.3, 0.4});
  GenerationOptions o = options_with(6);
  o.no_repeat_ngram_size = 2;
  ScriptedSession session(1, 1, 6, stubborn.fn());
  // 5, 5 (bigram (5,5) now seen), 4 (5 banned after 5), 5, 3 (5 and 4 banned after 5), 5.
  EXPECT_EQ(generate(session, 1, o).sequences[0], (std::vector<TokenId>{0, 5, 5, 4, 5, 3, 5}));
  ScriptedSession plain(1, 1, 6, stubborn.fn());
  EXPECT_EQ(generate(plain, 1, options_with(6)).sequences[0], (std::vector<TokenId>{0, 5, 5, 5, 5, 5, 5}));
}

TEST(GreedySearch, RepetitionPenaltyDividesPositiveLogits) {
  auto fixed_logits = [](Index, const std::vector<TokenId>&) {
    return std::vector<float>{-5.0f, -1.0f, 2.0f, 1.5f, 0.9f};
  };
  GenerationOptions o = options_with(4);
  o.repetition_penalty = 2.0;
  ScriptedSession session(1, 1, 5, fixed_logits);
  // step 2: token 2 -> 1.0 < 1.5 picks 3; step 3: 3 -> 0.75, 2 stays 1.0 > 0.9 picks 2.
  EXPECT_EQ(generate(session, 1, o).sequences[0], (std::vector<TokenId>{0, 2, 3, 2, 2}));
  ScriptedSession plain(1, 1, 5, fixed_logits);
  EXPECT_EQ(generate(plain, 1, options_with(4)).sequences[0], (std::vector<TokenId>{0, 2, 2, 2, 2}));
}

/// Greedy decoding that keeps every row in the session until all are done (what HF
/// computes), for checking that dropping finished rows changes nothing.
Sequences greedy_without_dropping(DecoderSession& session, Index batch, const GenerationOptions& o) {
  const LogitsProcessorList processors(o);
  Sequences sequences(static_cast<std::size_t>(batch), std::vector<TokenId>{kStart});
  std::vector<bool> done(static_cast<std::size_t>(batch), false);
  std::vector<TokenId> tokens(static_cast<std::size_t>(batch), kStart);
  while (true) {
    const RowMatrix& logits = session.step(tokens);
    bool all_done = true;
    for (Index r = 0; r < batch; ++r) {
      auto& s = sequences[static_cast<std::size_t>(r)];
      RowVector scores = logits.row(r);
      processors.process(scores, s);
      Index best = 0;
      for (Index t = 1; t < scores.size(); ++t)
        if (scores[t] > scores[best]) best = t;
      const TokenId next = done[static_cast<std::size_t>(r)] ? *o.pad_token_id : static_cast<TokenId>(best);
      s.push_back(next);
      tokens[static_cast<std::size_t>(r)] = next;
      if (next == kEos || static_cast<std::int64_t>(s.size()) >= o.resolved_max_length())
        done[static_cast<std::size_t>(r)] = true;
      all_done = all_done && done[static_cast<std::size_t>(r)];
    }
    if (all_done) return sequences;
  }
}

TEST(GreedySearch, DroppingFinishedRowsGivesTheSameSequences) {
  GenerationOptions o = options_with(30);
  o.repetition_penalty = 1.3;
  o.no_repeat_ngram_size = 3;
  o.min_new_tokens = 2;
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    ScriptedSession reference_session(7, 1, 40, testing::hashed_model(40, seed, kEos));
    const Sequences expected = greedy_without_dropping(reference_session, 7, o);
    ScriptedSession session(7, 1, 40, testing::hashed_model(40, seed, kEos));
    const GenerationResult result = generate(session, 7, o);
    EXPECT_EQ(result.sequences, expected) << "seed " << seed;
    EXPECT_LT(session.total_rows_computed(), reference_session.total_rows_computed()) << "seed " << seed;
    for (std::size_t i = 1; i < session.rows_per_step.size(); ++i)
      EXPECT_LE(session.rows_per_step[i], session.rows_per_step[i - 1]);
  }
}

TEST(GreedySearch, RecordsRawLogitsPerRowAndStep) {
  GenerationOptions o = options_with(12);
  o.output_logits = true;
  o.repetition_penalty = 1.5;  // recorded logits are the raw ones, before processors
  const auto model = testing::hashed_model(30, 9, kEos);
  ScriptedSession session(3, 1, 30, model);
  const GenerationResult result = generate(session, 3, o);
  ASSERT_EQ(result.step_logits.size(), 3u);
  for (Index r = 0; r < 3; ++r) {
    const auto& steps = result.step_logits[static_cast<std::size_t>(r)];
    ASSERT_EQ(static_cast<Index>(steps.size()), result.generated_lengths[static_cast<std::size_t>(r)]);
    const std::vector<TokenId> sequence = result.unpadded(r);
    for (std::size_t t = 0; t < steps.size(); ++t) {
      const std::vector<TokenId> history(sequence.begin(), sequence.begin() + static_cast<std::ptrdiff_t>(t + 1));
      const std::vector<float> expected = model(r, history);
      ASSERT_EQ(steps[t].size(), 30);
      for (Index v = 0; v < 30; ++v) EXPECT_EQ(steps[t][v], expected[static_cast<std::size_t>(v)]);
    }
  }
}

TEST(GreedySearch, RejectsBadSessionsAndTokens) {
  const auto model = testing::hashed_model(10, 1, kEos);
  ScriptedSession three_rows(3, 1, 10, model);
  EXPECT_THROW(generate(three_rows, 2, options_with(5)), InputError);
  EXPECT_THROW(generate(three_rows, 0, options_with(5)), InputError);

  ScriptedSession used(1, 1, 10, model);
  used.step({kStart});
  EXPECT_THROW(generate(used, 1, options_with(5)), InputError);

  GenerationOptions big_eos = options_with(5);
  big_eos.eos_token_ids = {10};
  ScriptedSession fresh(1, 1, 10, model);
  try {
    generate(fresh, 1, big_eos);
    ADD_FAILURE() << "accepted eos outside the vocabulary";
  } catch (const OptionError& e) {
    EXPECT_NE(std::string(e.what()).find("eos_token_id"), std::string::npos) << e.what();
  }

  GenerationOptions bad = options_with(5);
  bad.top_p = 2.0;
  ScriptedSession fresh2(1, 1, 10, model);
  EXPECT_THROW(generate(fresh2, 1, bad), OptionError);

  ScriptedSession nan_model(1, 1, 3, [](Index, const std::vector<TokenId>&) {
    return std::vector<float>{0.0f, std::nanf(""), 1.0f};
  });
  EXPECT_THROW(generate(nan_model, 1, options_with(5)), Error);
}

// ---- sampling ---------------------------------------------------------------------------

GenerationOptions sampling_options(std::int64_t max_new_tokens, std::uint64_t seed) {
  GenerationOptions o = options_with(max_new_tokens);
  o.do_sample = true;
  o.seed = seed;
  return o;
}

TEST(Sampling, ReproducibleForASeed) {
  auto run = [](std::uint64_t seed) {
    ScriptedSession session(8, 1, 30, testing::hashed_model(30, 4, kEos));
    return generate(session, 8, sampling_options(15, seed)).sequences;
  };
  EXPECT_EQ(run(11), run(11));
  EXPECT_NE(run(11), run(12));
}

TEST(Sampling, TopKOneIsGreedy) {
  GenerationOptions o = sampling_options(15, 5);
  o.top_k = 1;
  ScriptedSession sampled(6, 1, 30, testing::hashed_model(30, 4, kEos));
  ScriptedSession greedy(6, 1, 30, testing::hashed_model(30, 4, kEos));
  EXPECT_EQ(generate(sampled, 6, o).sequences, generate(greedy, 6, options_with(15)).sequences);
}

/// Frequencies of the first generated token over many rows.
std::vector<double> first_token_frequencies(const GenerationOptions& o, const std::vector<double>& p, Index rows) {
  ScriptedSession session(rows, 1, static_cast<Index>(p.size()), TableModel(p).fn());
  const GenerationResult result = generate(session, rows, o);
  std::vector<double> counts(p.size(), 0.0);
  for (const auto& s : result.sequences) counts[static_cast<std::size_t>(s[1])] += 1.0 / static_cast<double>(rows);
  return counts;
}

TEST(Sampling, DrawsFromTheSoftmax) {
  const std::vector<double> p = {0.0, 0.2, 0.5, 0.3};
  const std::vector<double> f = first_token_frequencies(sampling_options(1, 3), p, 6000);
  for (std::size_t t = 0; t < p.size(); ++t) EXPECT_NEAR(f[t], p[t], 0.025) << "token " << t;
}

TEST(Sampling, TopPNeverDrawsRemovedTokens) {
  GenerationOptions o = sampling_options(1, 4);
  o.top_k = 0;
  o.top_p = 0.75;
  const std::vector<double> f = first_token_frequencies(o, {0.05, 0.15, 0.3, 0.5}, 6000);
  EXPECT_EQ(f[0], 0.0);
  EXPECT_EQ(f[1], 0.0);
  EXPECT_NEAR(f[2], 0.3 / 0.8, 0.025);
  EXPECT_NEAR(f[3], 0.5 / 0.8, 0.025);
}

TEST(Sampling, TemperatureFlattensTheDistribution) {
  GenerationOptions o = sampling_options(1, 5);
  o.temperature = 2.0;
  const std::vector<double> p = {0.0, 0.1, 0.2, 0.7};
  const std::vector<double> f = first_token_frequencies(o, p, 6000);
  double norm = 0.0;
  for (double v : p) norm += std::sqrt(v);
  for (std::size_t t = 1; t < p.size(); ++t) EXPECT_NEAR(f[t], std::sqrt(p[t]) / norm, 0.025) << "token " << t;
}

TEST(Sampling, DefaultTopKOf50Applies) {
  // 60 tokens with distinct probabilities: HF's default top_k = 50 removes the 10 least likely.
  std::vector<double> p(60);
  double total = 0.0;
  for (std::size_t i = 0; i < p.size(); ++i) total += (p[i] = 1.0 + 0.01 * static_cast<double>(i));
  for (double& v : p) v /= total;
  const std::vector<double> f = first_token_frequencies(sampling_options(1, 6), p, 4000);
  for (std::size_t t = 0; t < 10; ++t) EXPECT_EQ(f[t], 0.0) << "token " << t;
  double kept = 0.0;
  for (std::size_t t = 10; t < 60; ++t) kept += f[t];
  EXPECT_NEAR(kept, 1.0, 1e-9);
}

TEST(Sampling, NumReturnSequencesRepeatsEachInput) {
  TableModel model({0.0, 0.0, 0.0, 0.0});
  model.set(0, {0}, {0.0, 0.0, 1.0, 0.0}).set(0, {0, 2}, {0.0, 1.0, 0.0, 0.0});
  model.set(1, {0}, {0.0, 0.0, 0.0, 1.0}).set(1, {0, 3}, {0.0, 1.0, 0.0, 0.0});
  GenerationOptions o = sampling_options(5, 1);
  o.num_return_sequences = 3;
  ScriptedSession session(2, 1, 4, model.fn());
  const GenerationResult result = generate(session, 2, o);
  ASSERT_FALSE(session.reorders.empty());
  EXPECT_EQ(session.reorders.front(), (std::vector<Index>{0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(result.num_return_sequences, 3);
  EXPECT_EQ(result.sequences, (Sequences{{0, 2, 1}, {0, 2, 1}, {0, 2, 1}, {0, 3, 1}, {0, 3, 1}, {0, 3, 1}}));
  EXPECT_EQ(result.sequence(1, 2), (std::vector<TokenId>{0, 3, 1}));
}

TEST(Sampling, AllTokensFilteredIsAnError) {
  GenerationOptions o = sampling_options(3, 1);
  o.forced_bos_token_id = 2;
  ScriptedSession session(1, 1, 3, [](Index, const std::vector<TokenId>& h) {
    const float minus_inf = -std::numeric_limits<float>::infinity();
    return h.size() == 1 ? std::vector<float>{0.0f, 0.0f, minus_inf} : std::vector<float>{0.0f, 0.0f, 0.0f};
  });
  // Forcing token 2 at step 1 leaves it at score 0 (HF overwrites the model's -inf): allowed.
  EXPECT_EQ(generate(session, 1, o).sequences[0][1], 2);
  GenerationOptions never = sampling_options(3, 1);
  never.min_new_tokens = 2;
  never.eos_token_ids = {0, 1};
  ScriptedSession blocked(1, 1, 2, [](Index, const std::vector<TokenId>&) { return std::vector<float>{0.0f, 0.0f}; });
  EXPECT_THROW(generate(blocked, 1, never), OptionError);
}

}  // namespace
}  // namespace srformer
