// End to end generation against HuggingFace transformers 5.17 on the tiny seeded
// models of tests/data/hf-tiny (T5 v1.0, T5 v1.1, BART, BART with scaled
// embeddings): the golden batch (2 inputs, one right-padded) through load_model,
// encode, a decoder session with batch × num_beams rows and generate(), for every
// setting of each golden.json (greedy, beam4, beam4_lp2_nrng3_min8). Sequences
// must be identical (start token included, finished rows padded as HF pads them)
// and beam scores within 1e-4.
//
// These random models have flat distributions, so a near-tie can legitimately
// flip a token: a mismatch reports the first differing step with the log-probs
// of both tokens and the top-2 margin there, replayed through the model.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "generation/golden_helpers.hpp"
#include "srformer/generation/search.hpp"
#include "srformer/io/checkpoint.hpp"
#include "srformer/models/seq2seq_model.hpp"
#include "srformer/models/token_batch.hpp"
#include "support/golden.hpp"

namespace srformer {
namespace {

constexpr double kScoreTolerance = 1e-4;

/// Every folder of tests/data/hf-tiny with a golden.json, sorted.
std::vector<std::string> golden_models() {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(testing::data_dir() / "hf-tiny"))
    if (std::filesystem::is_regular_file(entry.path() / "golden.json")) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

struct Case {
  std::string model;
  std::string setting;
};

// gtest prints the parameter of a failing case with this instead of its bytes.
void PrintTo(const Case& c, std::ostream* out) { *out << c.model << " " << c.setting; }

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (const std::string& model : golden_models()) {
    const auto golden = testing::read_json((testing::data_dir() / "hf-tiny" / model / "golden.json").string());
    for (const auto& [setting, unused] : golden.at("generation").items()) {
      (void)unused;
      cases.push_back({model, setting});
    }
  }
  return cases;
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return info.param.model + "_" + info.param.setting;
}

struct StepDiagnosis {
  std::vector<std::pair<TokenId, double>> top;  // best first: (token, log-prob)
  double logprob_ours = 0.0, logprob_hf = 0.0;
};

/// Feeds `prefix` to a one-row session bound to encoder row `input` and returns the
/// raw log-probabilities of the next token (no logits processors).
StepDiagnosis diagnose(const Seq2SeqModel& model, const std::shared_ptr<const EncodedInput>& encoded, Index input,
                       const std::vector<TokenId>& prefix, TokenId ours, TokenId hf) {
  auto session = model.start_decoding(encoded, {input}, static_cast<Index>(prefix.size()));
  const RowMatrix* logits = nullptr;
  for (const TokenId token : prefix) logits = &session->step({token});
  const auto row = logits->row(0);
  const float max = row.maxCoeff();
  const double log_sum = max + std::log((row.array() - max).exp().sum());
  StepDiagnosis d;
  std::vector<Index> order(static_cast<std::size_t>(row.size()));
  for (Index v = 0; v < row.size(); ++v) order[static_cast<std::size_t>(v)] = v;
  std::partial_sort(order.begin(), order.begin() + 3, order.end(), [&](Index a, Index b) { return row(a) > row(b); });
  for (int k = 0; k < 3; ++k) d.top.emplace_back(static_cast<TokenId>(order[k]), row(order[k]) - log_sum);
  d.logprob_ours = ours >= 0 && ours < row.size() ? row(ours) - log_sum : NAN;
  d.logprob_hf = hf >= 0 && hf < row.size() ? row(hf) - log_sum : NAN;
  return d;
}

std::string format_sequence(const std::vector<TokenId>& s) {
  std::ostringstream out;
  out << '[';
  for (std::size_t i = 0; i < s.size(); ++i) out << (i ? " " : "") << s[i];
  out << ']';
  return out.str();
}

class HfGenerationGolden : public ::testing::TestWithParam<Case> {};

TEST_P(HfGenerationGolden, SequencesAndScoresMatchHuggingFace) {
  const Case& c = GetParam();
  const std::filesystem::path folder = testing::data_dir() / "hf-tiny" / c.model;
  const auto goldens = testing::load_hf_tiny_generation_goldens(folder.string());
  const auto golden_it = std::find_if(goldens.begin(), goldens.end(), [&](const auto& g) { return g.name == c.setting; });
  ASSERT_NE(golden_it, goldens.end());
  const testing::HfTinyGenerationGolden& golden = *golden_it;
  const GenerationOptions& options = golden.options;

  const auto model = load_model(folder);
  const auto tensors = io::Checkpoint::open(folder / "golden.safetensors");
  const Shape shape = tensors.info("input_ids").shape;
  ASSERT_EQ(shape.size(), 2u);
  const Index batch = shape[0], length = shape[1];
  const auto encoded = model->encode(TokenBatch::from_ids(batch, length,
                                                          testing::to_tokens(tensors.int64_tensor("input_ids")),
                                                          testing::to_mask(tensors.int64_tensor("attention_mask"))));
  std::vector<Index> memory_rows(static_cast<std::size_t>(batch * options.num_beams));
  for (std::size_t r = 0; r < memory_rows.size(); ++r) memory_rows[r] = static_cast<Index>(r) / options.num_beams;
  auto session = model->start_decoding(encoded, memory_rows, options.resolved_max_length());
  const GenerationResult result = generate(*session, batch, options);

  ASSERT_EQ(result.rows(), static_cast<Index>(golden.sequences.size()));
  for (Index b = 0; b < batch; ++b) {
    const auto& ours = result.sequences[static_cast<std::size_t>(b)];
    const auto& hf = golden.sequences[static_cast<std::size_t>(b)];
    if (ours == hf) continue;
    std::size_t t = 0;
    while (t < ours.size() && t < hf.size() && ours[t] == hf[t]) ++t;
    std::ostringstream why;
    why << c.model << " " << c.setting << " input " << b << ": sequences differ\n  ours " << format_sequence(ours)
        << "\n  HF   " << format_sequence(hf) << "\n";
    if (t < ours.size() && t < hf.size() && t > 0) {
      const std::vector<TokenId> prefix(hf.begin(), hf.begin() + static_cast<std::ptrdiff_t>(t));
      const StepDiagnosis d = diagnose(*model, encoded, b, prefix, ours[t], hf[t]);
      why << "  first difference at position " << t << " (after HF's prefix): ours " << ours[t] << " (log-prob "
          << d.logprob_ours << "), HF " << hf[t] << " (log-prob " << d.logprob_hf << "); raw top-3 there:";
      for (const auto& [token, logprob] : d.top) why << " " << token << " (" << logprob << ")";
      why << "; top-2 margin " << d.top[0].second - d.top[1].second
          << " (beam search also weighs the other beams and processors, so a small margin explains a flip)";
    } else {
      why << "  the sequences differ in length only (first " << t << " tokens equal)";
    }
    ADD_FAILURE() << why.str();
  }

  if (golden.sequences_scores.empty()) {
    EXPECT_TRUE(result.sequences_scores.empty());
    return;
  }
  ASSERT_EQ(result.sequences_scores.size(), golden.sequences_scores.size());
  double max_diff = 0.0;
  for (std::size_t i = 0; i < golden.sequences_scores.size(); ++i) {
    const double diff = std::abs(static_cast<double>(result.sequences_scores[i]) - golden.sequences_scores[i]);
    max_diff = std::max(max_diff, diff);
    EXPECT_LE(diff, kScoreTolerance) << c.model << " " << c.setting << " input " << i << ": ours "
                                     << result.sequences_scores[i] << ", HF " << golden.sequences_scores[i];
  }
  std::printf("  %s %s: max |sequences_score diff| = %.3g\n", c.model.c_str(), c.setting.c_str(), max_diff);
}

INSTANTIATE_TEST_SUITE_P(HfTiny, HfGenerationGolden, ::testing::ValuesIn(all_cases()), case_name);

TEST(HfGenerationGoldenData, EveryModelHasAllThreeSettings) {
  const auto models = golden_models();
  EXPECT_EQ(models, (std::vector<std::string>{"bart_tiny", "bart_tiny_scaled", "t5_tiny", "t5v11_tiny"}));
  for (const std::string& model : models) {
    const auto goldens = testing::load_hf_tiny_generation_goldens((testing::data_dir() / "hf-tiny" / model).string());
    std::vector<std::string> names;
    for (const auto& g : goldens) names.push_back(g.name);
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"beam4", "beam4_lp2_nrng3_min8", "greedy"})) << model;
  }
}

}  // namespace
}  // namespace srformer
