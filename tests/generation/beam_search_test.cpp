// Beam search against hand-computed examples. Vocabulary: 0 = start (probability
// ~0), 1 = eos, 2 = "A", 3 = "B"; the model is given as next-token probabilities,
// so the log-probabilities below are natural logs of those numbers.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

#include "generation/mock_sessions.hpp"
#include "srformer/generation/search.hpp"

namespace srformer {
namespace {

using testing::ScriptedSession;
using testing::TableModel;
using Sequences = std::vector<std::vector<TokenId>>;

constexpr TokenId kStart = 0;
constexpr TokenId kEos = 1;
constexpr TokenId A = 2;
constexpr TokenId B = 3;

GenerationOptions beam_options(std::int64_t num_beams, double length_penalty, EarlyStopping early,
                               std::int64_t max_new_tokens = 10) {
  GenerationOptions o;
  o.decoder_start_token_id = kStart;
  o.eos_token_ids = {kEos};
  o.pad_token_id = kStart;
  o.num_beams = num_beams;
  o.num_return_sequences = num_beams;
  o.length_penalty = length_penalty;
  o.early_stopping = early;
  o.max_new_tokens = max_new_tokens;
  return o;
}

// Scenario 1. Step 1 candidates: A -0.693, B -1.204, eos -1.609 (rank 2 >= num_beams: NOT a
// hypothesis), ... Step 2: [A eos] -1.204 (rank 0: finished, length 2), [B A] -1.309, [A A] -1.897.
// Step 3: [B A eos] -1.666 and [A A eos] -2.590 finish (length 3); [B A A] -2.919 runs on.
TableModel scenario_one() {
  TableModel model({0.0, 0.5, 0.3, 0.2});
  model.set(0, {0}, {0.0, 0.2, 0.5, 0.3})
      .set(0, {0, A}, {0.0, 0.6, 0.3, 0.1})
      .set(0, {0, B}, {0.0, 0.05, 0.9, 0.05})
      .set(0, {0, B, A}, {0.0, 0.7, 0.2, 0.1})
      .set(0, {0, A, A}, {0.0, 0.5, 0.3, 0.2});
  return model;
}

double ln(double x) { return std::log(x); }

struct SearchRun {
  GenerationResult result;
  std::vector<Index> rows_per_step;
};

SearchRun run(const TableModel& model, const GenerationOptions& o, Index batch = 1) {
  ScriptedSession session(batch * o.num_beams, o.num_beams, 4, model.fn());
  SearchRun r{generate(session, batch, o), session.rows_per_step};
  return r;
}

TEST(BeamSearch, LengthPenaltyOneFavoursTheLongerHypothesis) {
  const SearchRun r = run(scenario_one(), beam_options(2, 1.0, EarlyStopping::kTrue));
  EXPECT_EQ(r.result.sequences, (Sequences{{0, B, A, kEos}, {0, A, kEos, kEos}}));  // pad 0 -> eos (HF)
  EXPECT_EQ(r.result.generated_lengths, (std::vector<Index>{3, 2}));
  ASSERT_EQ(r.result.sequences_scores.size(), 2u);
  EXPECT_NEAR(r.result.sequences_scores[0], (ln(0.3) + ln(0.9) + ln(0.7)) / 3, 1e-6);
  EXPECT_NEAR(r.result.sequences_scores[1], (ln(0.5) + ln(0.6)) / 2, 1e-6);
  // Done after step 3: both slots hold finished hypotheses (the step-1 eos was not admitted,
  // otherwise both slots would have been full after step 2).
  EXPECT_EQ(r.rows_per_step, (std::vector<Index>{2, 2, 2}));
}

TEST(BeamSearch, LengthPenaltyZeroFavoursTheShorterHypothesis) {
  const SearchRun r = run(scenario_one(), beam_options(2, 0.0, EarlyStopping::kTrue));
  EXPECT_EQ(r.result.sequences, (Sequences{{0, A, kEos, kEos}, {0, B, A, kEos}}));
  EXPECT_NEAR(r.result.sequences_scores[0], ln(0.5) + ln(0.6), 1e-6);
  EXPECT_NEAR(r.result.sequences_scores[1], ln(0.3) + ln(0.9) + ln(0.7), 1e-6);
}

TEST(BeamSearch, LengthPenaltyTwoDisplacesTheShortHypothesis) {
  const SearchRun r = run(scenario_one(), beam_options(2, 2.0, EarlyStopping::kTrue));
  EXPECT_EQ(r.result.sequences, (Sequences{{0, B, A, kEos}, {0, A, A, kEos}}));
  EXPECT_NEAR(r.result.sequences_scores[0], (ln(0.3) + ln(0.9) + ln(0.7)) / 9, 1e-6);
  EXPECT_NEAR(r.result.sequences_scores[1], (ln(0.5) + ln(0.3) + ln(0.5)) / 9, 1e-6);
}

TEST(BeamSearch, PadsWithPadTokenUnlessItIsZero) {
  GenerationOptions o = beam_options(2, 0.0, EarlyStopping::kTrue);
  o.pad_token_id = B;  // non-zero pad: used as is
  EXPECT_EQ(run(scenario_one(), o).result.sequences[0], (std::vector<TokenId>{0, A, kEos, B}));
}

TEST(BeamSearch, NumReturnSequencesKeepsTheBest) {
  GenerationOptions o = beam_options(2, 1.0, EarlyStopping::kTrue);
  o.num_return_sequences = 1;
  const SearchRun r = run(scenario_one(), o);
  EXPECT_EQ(r.result.sequences, (Sequences{{0, B, A, kEos}}));  // no padding: the only row is the longest
  EXPECT_EQ(r.result.sequences_scores.size(), 1u);
}

TEST(BeamSearch, EarlyStoppingNeverRunsUntilNoBeamCanWinAtMaxLength) {
  // early_stopping=false stops after step 3: the best running beam [B A A] (-2.919) cannot beat
  // the worst finished (-0.602) at its current length 3 (-0.973). "never" judges it at
  // max_length - 1 = 10 new tokens (-0.292 > -0.602) and keeps going; the running beams
  // then follow the default distribution and fall below -6.02 (= -0.602 * 10) after step 6.
  const SearchRun heuristic = run(scenario_one(), beam_options(2, 1.0, EarlyStopping::kFalse));
  EXPECT_EQ(heuristic.rows_per_step.size(), 3u);
  const SearchRun never = run(scenario_one(), beam_options(2, 1.0, EarlyStopping::kNever));
  EXPECT_EQ(never.rows_per_step.size(), 6u);
  EXPECT_EQ(never.result.sequences, heuristic.result.sequences);
  EXPECT_EQ(never.result.sequences_scores, heuristic.result.sequences_scores);
}

// Scenario 2: both slots fill at step 2 ([B eos] -0.857 and [eos] -1.050) while the running
// beam [A A] (-0.904, i.e. -0.452 per token) can still win: early_stopping=true stops there,
// false goes on and finds [A A eos] (-0.955 / 3 = -0.318).
TableModel scenario_two() {
  TableModel model({0.0, 0.5, 0.3, 0.2});
  model.set(0, {0}, {0.0, 0.35, 0.45, 0.2})
      .set(0, {0, A}, {0.0, 0.06, 0.9, 0.04})
      .set(0, {0, B}, {0.0, 0.9, 0.05, 0.05})
      .set(0, {0, A, A}, {0.0, 0.95, 0.03, 0.02});
  return model;
}

TEST(BeamSearch, EarlyStoppingTrueStopsWhenNumBeamsHypothesesAreFinished) {
  const SearchRun r = run(scenario_two(), beam_options(2, 1.0, EarlyStopping::kTrue));
  EXPECT_EQ(r.result.sequences, (Sequences{{0, B, kEos}, {0, kEos, kEos}}));
  EXPECT_NEAR(r.result.sequences_scores[0], (ln(0.2) + ln(0.9)) / 2, 1e-6);
  EXPECT_NEAR(r.result.sequences_scores[1], ln(0.35), 1e-6);
  EXPECT_EQ(r.rows_per_step.size(), 2u);
}

TEST(BeamSearch, EarlyStoppingFalseContinuesWhileARunningBeamCanWin) {
  const SearchRun r = run(scenario_two(), beam_options(2, 1.0, EarlyStopping::kFalse));
  EXPECT_EQ(r.result.sequences, (Sequences{{0, A, A, kEos}, {0, B, kEos, kEos}}));
  EXPECT_NEAR(r.result.sequences_scores[0], (ln(0.45) + ln(0.9) + ln(0.95)) / 3, 1e-6);
  EXPECT_NEAR(r.result.sequences_scores[1], (ln(0.2) + ln(0.9)) / 2, 1e-6);
  EXPECT_EQ(r.rows_per_step.size(), 3u);
}

TEST(BeamSearch, AtMaxLengthTheBestCandidatesAreFinalised) {
  // max_new_tokens 2: at step 2 every candidate reaches max_length; the two best,
  // [A eos] and [B A], become the hypotheses (length 2 each).
  const SearchRun r = run(scenario_one(), beam_options(2, 1.0, EarlyStopping::kTrue, 2));
  EXPECT_EQ(r.result.sequences, (Sequences{{0, A, kEos}, {0, B, A}}));
  EXPECT_NEAR(r.result.sequences_scores[0], (ln(0.5) + ln(0.6)) / 2, 1e-6);
  EXPECT_NEAR(r.result.sequences_scores[1], (ln(0.3) + ln(0.9)) / 2, 1e-6);
}

TEST(BeamSearch, MinNewTokensAndForcedTokensApplyToEveryBeam) {
  GenerationOptions o = beam_options(2, 1.0, EarlyStopping::kTrue, 4);
  o.min_new_tokens = 3;
  o.forced_bos_token_id = B;
  o.forced_eos_token_ids = {kEos};
  const SearchRun r = run(scenario_one(), o);
  for (Index row = 0; row < r.result.rows(); ++row) {
    const auto& s = r.result.sequences[static_cast<std::size_t>(row)];
    ASSERT_EQ(s.size(), 5u);
    EXPECT_EQ(s[1], B) << "forced BOS";
    EXPECT_NE(s[2], kEos) << "min_new_tokens";
    EXPECT_NE(s[3], kEos) << "min_new_tokens";
    EXPECT_EQ(s[4], kEos) << "forced EOS at max length";
  }
}

/// Sum of processed log-probs along `sequence`, recomputed from the model: what
/// sequences_scores must equal once divided by generated_len ^ length_penalty.
double rescore(const ScriptedSession::LogitsFn& model, Index input, const std::vector<TokenId>& sequence,
               Index generated, const GenerationOptions& o, std::int64_t min_keep) {
  const LogitsProcessorList processors(o, min_keep);
  double total = 0.0;
  for (Index t = 0; t < generated; ++t) {
    const std::vector<TokenId> history(sequence.begin(), sequence.begin() + t + 1);
    const std::vector<float> logits = model(input, history);
    RowVector scores(static_cast<Index>(logits.size()));
    for (std::size_t i = 0; i < logits.size(); ++i) scores[static_cast<Index>(i)] = logits[i];
    detail::log_softmax_in_place(scores.data(), scores.size());
    processors.process(scores, history);
    processors.warp(scores);
    total += scores[sequence[static_cast<std::size_t>(t + 1)]];
  }
  return total;
}

bool has_repeated_ngram(const std::vector<TokenId>& s, std::size_t n) {
  std::set<std::vector<TokenId>> seen;
  for (std::size_t i = 0; i + n <= s.size(); ++i)
    if (!seen.insert(std::vector<TokenId>(s.begin() + static_cast<std::ptrdiff_t>(i),
                                          s.begin() + static_cast<std::ptrdiff_t>(i + n)))
             .second)
      return true;
  return false;
}

struct RandomCase {
  std::int64_t num_beams;
  double length_penalty;
  EarlyStopping early;
  std::int64_t no_repeat_ngram;
  std::int64_t min_new_tokens;
  std::int64_t num_return_sequences;
  bool do_sample;
};

class BeamSearchOnHashedModel : public ::testing::TestWithParam<RandomCase> {};

TEST_P(BeamSearchOnHashedModel, BatchEqualsSingleInputsAndScoresMatchTheirSequences) {
  const RandomCase c = GetParam();
  constexpr Index kVocab = 24;
  constexpr Index kBatch = 5;
  GenerationOptions o = beam_options(c.num_beams, c.length_penalty, c.early, 18);
  o.no_repeat_ngram_size = c.no_repeat_ngram;
  o.min_new_tokens = c.min_new_tokens;
  o.num_return_sequences = c.num_return_sequences;
  o.do_sample = c.do_sample;
  o.seed = 77;
  o.repetition_penalty = 1.1;
  const auto model = testing::hashed_model(kVocab, 31, kEos);

  ScriptedSession batch_session(kBatch * c.num_beams, c.num_beams, kVocab, model);
  const GenerationResult batch = generate(batch_session, kBatch, o);
  ASSERT_EQ(batch.rows(), kBatch * c.num_return_sequences);
  for (std::size_t i = 1; i < batch_session.rows_per_step.size(); ++i)
    EXPECT_LE(batch_session.rows_per_step[i], batch_session.rows_per_step[i - 1]);

  const std::int64_t min_keep = std::max<std::int64_t>(2, 1 + 1);
  for (Index input = 0; input < kBatch; ++input) {
    // Inputs are independent: the same input alone gives the same hypotheses (sampling
    // draws depend on the batch, so only the deterministic search is compared).
    if (!c.do_sample) {
      ScriptedSession single_session(c.num_beams, c.num_beams, kVocab,
                                     [&](Index, const std::vector<TokenId>& h) { return model(input, h); });
      const GenerationResult single = generate(single_session, 1, o);
      for (Index k = 0; k < c.num_return_sequences; ++k) {
        const Index row = input * c.num_return_sequences + k;
        EXPECT_EQ(single.unpadded(k), batch.unpadded(row)) << "input " << input << " k " << k;
        EXPECT_EQ(single.sequences_scores[static_cast<std::size_t>(k)],
                  batch.sequences_scores[static_cast<std::size_t>(row)]);
      }
    }
    for (Index k = 0; k < c.num_return_sequences; ++k) {
      const Index row = input * c.num_return_sequences + k;
      const std::vector<TokenId> s = batch.unpadded(row);
      const Index generated = batch.generated_lengths[static_cast<std::size_t>(row)];
      if (k > 0) {
        EXPECT_GE(batch.sequences_scores[static_cast<std::size_t>(row - 1)],
                  batch.sequences_scores[static_cast<std::size_t>(row)]);
      }
      EXPECT_TRUE(s.back() == kEos || generated == 18) << "hypotheses end with eos or at max length";
      for (Index t = 1; t + 1 < static_cast<Index>(s.size()); ++t) EXPECT_NE(s[static_cast<std::size_t>(t)], kEos);
      EXPECT_GE(generated, c.min_new_tokens + 1);
      if (c.no_repeat_ngram > 0) {
        EXPECT_FALSE(has_repeated_ngram(s, static_cast<std::size_t>(c.no_repeat_ngram)));
      }
      const double expected = rescore(model, input, s, generated, o, min_keep) /
                              std::pow(static_cast<double>(generated), c.length_penalty);
      EXPECT_NEAR(batch.sequences_scores[static_cast<std::size_t>(row)], expected,
                  2e-5 * std::max(1.0, std::abs(expected)))
          << "input " << input << " k " << k;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Configurations, BeamSearchOnHashedModel,
    ::testing::Values(RandomCase{4, 1.0, EarlyStopping::kTrue, 0, 0, 4, false},
                      RandomCase{4, 2.0, EarlyStopping::kTrue, 3, 8, 2, false},
                      RandomCase{3, 1.0, EarlyStopping::kFalse, 2, 0, 3, false},
                      RandomCase{3, 0.5, EarlyStopping::kNever, 0, 2, 1, false},
                      RandomCase{2, -1.0, EarlyStopping::kNever, 0, 0, 2, false},
                      RandomCase{5, 1.0, EarlyStopping::kFalse, 3, 1, 5, false},
                      RandomCase{4, 1.0, EarlyStopping::kTrue, 0, 0, 2, true},
                      RandomCase{3, 1.5, EarlyStopping::kFalse, 2, 3, 3, true}));

TEST(BeamSearch, DoneInputsAreDroppedFromTheSession) {
  // Input 0 (scenario 1) is done after 3 steps; input 1 never wants eos and runs to max length.
  const TableModel first = scenario_one();
  const TableModel second({0.0, 0.01, 0.5, 0.49});
  auto model = [f = first.fn(), s = second.fn()](Index input, const std::vector<TokenId>& h) {
    return input == 0 ? f(0, h) : s(0, h);
  };
  const GenerationOptions o = beam_options(2, 1.0, EarlyStopping::kTrue, 6);
  ScriptedSession session(4, 2, 4, model);
  const GenerationResult result = generate(session, 2, o);
  EXPECT_EQ(session.rows_per_step, (std::vector<Index>{4, 4, 4, 2, 2, 2}));
  EXPECT_EQ(result.unpadded(0), (std::vector<TokenId>{0, B, A, kEos}));
  EXPECT_EQ(result.generated_lengths[2], 6);
  // Every step reorders the beams; after step 3 only input 1's rows (2 and 3) remain.
  ASSERT_EQ(session.reorders.size(), 5u);
  for (Index source : session.reorders[2]) EXPECT_GE(source, 2);
  EXPECT_EQ(session.reorders[3].size(), 2u);
}

TEST(BeamSearch, SamplingIsReproducibleForASeed) {
  GenerationOptions o = beam_options(3, 1.0, EarlyStopping::kFalse, 12);
  o.do_sample = true;
  auto sample = [&](std::uint64_t seed) {
    o.seed = seed;
    ScriptedSession session(6, 3, 20, testing::hashed_model(20, 8, kEos));
    return generate(session, 2, o).sequences;
  };
  EXPECT_EQ(sample(5), sample(5));
  std::set<Sequences> distinct;
  for (std::uint64_t seed = 0; seed < 6; ++seed) distinct.insert(sample(seed));
  EXPECT_GT(distinct.size(), 1u);
}

TEST(BeamSearch, RejectsWrongSessionSize) {
  ScriptedSession session(3, 3, 4, scenario_one().fn());
  EXPECT_THROW(generate(session, 2, beam_options(2, 1.0, EarlyStopping::kTrue)), InputError);
}

}  // namespace
}  // namespace srformer
