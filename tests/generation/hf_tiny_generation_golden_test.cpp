// generate() with the real models against HuggingFace transformers 5.17:
// tests/data/hf-tiny/<model>/golden.json, settings greedy, beam4 and
// beam4_lp2_nrng3_min8, on a batch of two inputs (one right-padded).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "generation/golden_helpers.hpp"
#include "srformer/generation/search.hpp"
#include "srformer/models/seq2seq_model.hpp"

namespace srformer {
namespace {

const std::string kHfTiny = std::string(SRFORMER_TEST_DATA_DIR) + "/hf-tiny/";

class HfTinyGeneration : public ::testing::TestWithParam<std::string> {};

TEST_P(HfTinyGeneration, SequencesAndScoresMatchHuggingFace) {
  const std::string dir = kHfTiny + GetParam();
  const auto model = load_model(dir);
  const auto ids = testing::read_golden_tensor(dir + "/golden.safetensors", "input_ids");
  const auto mask = testing::read_golden_tensor(dir + "/golden.safetensors", "attention_mask");
  const Index batch = ids.shape[0];
  const Index length = ids.shape[1];
  const auto encoded = model->encode(TokenBatch::from_ids(batch, length, std::vector<TokenId>(ids.i64.begin(), ids.i64.end()),
                                                          std::vector<std::uint8_t>(mask.i64.begin(), mask.i64.end())));
  const auto cases = testing::load_hf_tiny_generation_goldens(dir);
  ASSERT_EQ(cases.size(), 3u);
  for (const auto& c : cases) {
    std::vector<Index> memory_rows;
    for (Index r = 0; r < batch * c.options.num_beams; ++r) memory_rows.push_back(r / c.options.num_beams);
    const auto session = model->start_decoding(encoded, memory_rows, c.options.resolved_max_length());
    const GenerationResult result = generate(*session, batch, c.options);
    EXPECT_EQ(result.sequences, c.sequences) << c.name;
    ASSERT_EQ(result.sequences_scores.size(), c.sequences_scores.size()) << c.name;
    for (std::size_t i = 0; i < c.sequences_scores.size(); ++i)
      EXPECT_NEAR(result.sequences_scores[i], c.sequences_scores[i], 1e-5) << c.name << " row " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, HfTinyGeneration,
                         ::testing::Values("bart_tiny", "bart_tiny_scaled", "t5_tiny", "t5v11_tiny"));

}  // namespace
}  // namespace srformer
