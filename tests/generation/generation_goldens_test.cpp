// The HF generation goldens, as far as they can be checked without the models:
// their settings parse into GenerationOptions, their recorded results follow the
// conventions the search implements (forced tokens, no-repeat n-grams, min length,
// length normalisation), and greedy search replays the demo model's recorded
// teacher-forced logits into exactly the golden greedy output.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "generation/golden_helpers.hpp"
#include "srformer/generation/detail/scores.hpp"
#include "srformer/generation/search.hpp"

namespace srformer {
namespace {

const std::string kData = SRFORMER_TEST_DATA_DIR;
const std::string kModels = SRFORMER_MODELS_DIR;

const testing::HfTinyGenerationGolden& find_case(const std::vector<testing::HfTinyGenerationGolden>& cases,
                                                 const std::string& name) {
  for (const auto& c : cases)
    if (c.name == name) return c;
  throw std::runtime_error("no golden setting " + name);
}

bool repeats_ngram(const std::vector<TokenId>& s, std::size_t n) {
  std::set<std::vector<TokenId>> seen;
  for (std::size_t i = 0; i + n <= s.size(); ++i)
    if (!seen.insert({s.begin() + static_cast<std::ptrdiff_t>(i), s.begin() + static_cast<std::ptrdiff_t>(i + n)})
             .second)
      return true;
  return false;
}

TEST(HfTinyGoldens, BartSettingsBecomeGenerationOptions) {
  const auto cases = testing::load_hf_tiny_generation_goldens(kData + "/hf-tiny/bart_tiny");
  ASSERT_EQ(cases.size(), 3u);
  const auto& greedy = find_case(cases, "greedy");
  EXPECT_EQ(greedy.options.num_beams, 1);
  EXPECT_EQ(greedy.options.resolved_max_length(), 25);
  EXPECT_EQ(greedy.options.decoder_start_token_id, 2);
  EXPECT_EQ(greedy.options.pad_token_id, 1);
  EXPECT_EQ(greedy.options.forced_bos_token_id, 0);  // recorded at the golden's top level
  EXPECT_EQ(greedy.options.forced_eos_token_ids, std::vector<TokenId>{2});  // from generation_config.json
  EXPECT_TRUE(greedy.sequences_scores.empty());

  const auto& beam = find_case(cases, "beam4");
  EXPECT_EQ(beam.options.num_beams, 4);
  EXPECT_EQ(beam.options.early_stopping, EarlyStopping::kTrue);
  EXPECT_EQ(beam.options.length_penalty, 1.0);
  EXPECT_EQ(beam.options.num_return_sequences, 1);
  EXPECT_EQ(beam.sequences_scores.size(), 2u);

  const auto& constrained = find_case(cases, "beam4_lp2_nrng3_min8");
  EXPECT_EQ(constrained.options.length_penalty, 2.0);
  EXPECT_EQ(constrained.options.no_repeat_ngram_size, 3);
  EXPECT_EQ(constrained.options.min_new_tokens, 8);
  EXPECT_EQ(constrained.options.resolved_min_length(), 9);
  for (const auto& c : cases) {
    c.options.validate();
    ASSERT_EQ(c.sequences.size(), 2u) << c.name;
    for (const auto& s : c.sequences) {
      ASSERT_EQ(s.size(), 25u) << c.name;
      EXPECT_EQ(s[0], 2) << c.name << ": sequences start with decoder_start_token_id";
      EXPECT_EQ(s[1], 0) << c.name << ": forced BOS";
      EXPECT_EQ(s[24], 2) << c.name << ": forced EOS at the step that reaches max_length";
    }
  }
  for (const auto& s : constrained.sequences) {
    EXPECT_FALSE(repeats_ngram(s, 3)) << "no_repeat_ngram_size 3 counts the start token";
    for (std::size_t t = 1; t <= 8; ++t) EXPECT_NE(s[t], 2) << "min_new_tokens 8";
  }
}

TEST(HfTinyGoldens, T5SettingsBecomeGenerationOptions) {
  for (const std::string model : {"t5_tiny", "t5v11_tiny"}) {
    const auto cases = testing::load_hf_tiny_generation_goldens(kData + "/hf-tiny/" + model);
    ASSERT_EQ(cases.size(), 3u) << model;
    for (const auto& c : cases) {
      c.options.validate();
      EXPECT_EQ(c.options.decoder_start_token_id, 0) << model;
      EXPECT_EQ(c.options.eos_token_ids, std::vector<TokenId>{1}) << model;
      EXPECT_FALSE(c.options.forced_bos_token_id.has_value()) << model;
      EXPECT_TRUE(c.options.forced_eos_token_ids.empty()) << model;
      EXPECT_EQ(c.options.resolved_max_length(), 25) << model;
      for (const auto& s : c.sequences) {
        EXPECT_EQ(s[0], 0) << model << " " << c.name;
        EXPECT_LE(s.size(), 25u) << model << " " << c.name;
      }
    }
    const auto& beam = find_case(cases, "beam4");
    EXPECT_EQ(beam.sequences_scores.size(), 2u);
  }
}

TEST(HfTinyGoldens, BeamScoresAreLengthNormalisedLogProbabilities) {
  // Every golden beam score is a mean log-probability (length_penalty 1) or a sum
  // divided by generated_len^2: negative and finite.
  for (const std::string model : {"bart_tiny", "bart_tiny_scaled", "t5_tiny", "t5v11_tiny"}) {
    for (const auto& c : testing::load_hf_tiny_generation_goldens(kData + "/hf-tiny/" + model)) {
      for (float score : c.sequences_scores) {
        EXPECT_TRUE(std::isfinite(score)) << model << " " << c.name;
        EXPECT_LT(score, 0.0f) << model << " " << c.name;
      }
    }
  }
}

testing::DemoGolden demo() {
  return testing::load_demo_golden(kData + "/trained-t5-small-demo/golden.json", kModels + "/t5-demo");
}

TEST(DemoGolden, SettingsAndItemsParse) {
  const testing::DemoGolden g = demo();
  EXPECT_EQ(g.items.size(), 46u);
  g.greedy.validate();
  g.beam4.validate();
  EXPECT_EQ(g.greedy.num_beams, 1);
  EXPECT_EQ(g.greedy.resolved_max_length(), 65);
  EXPECT_EQ(g.beam4.num_beams, 4);
  EXPECT_EQ(g.beam4.no_repeat_ngram_size, 3);
  EXPECT_EQ(g.beam4.early_stopping, EarlyStopping::kTrue);
  EXPECT_EQ(g.beam4.length_penalty, 1.0);
  EXPECT_EQ(g.beam4.decoder_start_token_id, 0);
  EXPECT_EQ(g.beam4.eos_token_ids, std::vector<TokenId>{1});
}

TEST(DemoGolden, SequencesScoreIsSumLogprobOverGeneratedLength) {
  // The convention beam_search implements: generated_len counts the tokens after the
  // start token, eos included (transformers 5.x), i.e. ids.size() - 1.
  double max_relative_error = 0.0;
  for (const auto& item : demo().items) {
    ASSERT_EQ(item.beam_generated_len, static_cast<Index>(item.beam_ids.size()) - 1) << item.id;
    ASSERT_EQ(item.greedy_generated_len, static_cast<Index>(item.greedy_ids.size()) - 1) << item.id;
    const double normalised = item.beam_sum_logprob / static_cast<double>(item.beam_generated_len);
    max_relative_error =
        std::max(max_relative_error, std::abs(normalised - item.beam_sequences_score) / std::abs(normalised));
    EXPECT_EQ(item.beam_ids.front(), 0) << item.id;
    EXPECT_TRUE(item.beam_ids.back() == 1 || item.beam_generated_len == 64) << item.id;
    EXPECT_FALSE(repeats_ngram(item.beam_ids, 3)) << item.id;
    EXPECT_TRUE(item.greedy_ids.back() == 1 || item.greedy_generated_len == 64) << item.id;
  }
  EXPECT_LT(max_relative_error, 2e-6);
}

TEST(DemoGolden, GreedyReplaysTeacherForcedLogitsIntoTheGoldenOutput) {
  const testing::DemoGolden g = demo();
  const std::string tensors = kData + "/trained-t5-small-demo/golden.safetensors";
  int replayed = 0;
  for (const auto& item : g.items) {
    if (item.teacher_forced_prefix.empty()) continue;
    const auto ids = testing::read_golden_tensor(tensors, item.teacher_forced_prefix + ".decoder_input_ids");
    const auto logits = testing::read_golden_tensor(tensors, item.teacher_forced_prefix + ".logits");
    ASSERT_EQ(logits.shape.size(), 3u);
    const Index steps = logits.shape[1];
    const Index vocab = logits.shape[2];
    std::vector<TokenId> decoder_ids(ids.i64.begin(), ids.i64.end());

    testing::TeacherForcedReplaySession session(decoder_ids, logits.f32, vocab);
    GenerationOptions options = g.greedy;
    options.output_logits = true;
    const GenerationResult result = generate(session, 1, options);
    EXPECT_EQ(result.unpadded(0), item.greedy_ids) << item.id;
    ASSERT_EQ(static_cast<Index>(result.step_logits[0].size()), steps) << item.id;

    // The golden's sum_logprob is the teacher-forced log-softmax of the chosen ids.
    double sum_logprob = 0.0;
    for (Index t = 0; t < steps; ++t) {
      RowVector row = result.step_logits[0][static_cast<std::size_t>(t)];
      EXPECT_EQ(row[0], logits.f32[static_cast<std::size_t>(t * vocab)]);
      detail::log_softmax_in_place(row.data(), vocab);
      sum_logprob += row[item.greedy_ids[static_cast<std::size_t>(t + 1)]];
    }
    EXPECT_NEAR(sum_logprob, item.greedy_sum_logprob, 1e-4) << item.id;
    ++replayed;
  }
  EXPECT_EQ(replayed, 2);
}

}  // namespace
}  // namespace srformer
