// What the fuzzers found, as ordinary tests (the inputs themselves, where they
// are files, also live in tests/fuzz/regressions/<target>/ and are replayed by
// tests/fuzz/run_fuzzers.sh).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "reliability_support.hpp"
#include "srformer/generation/search.hpp"
#include "srformer/models/seq2seq_model.hpp"
#include "srformer/tokenizers/byte_level_bpe_tokenizer.hpp"

namespace srformer::reliability {
namespace {

// tokenizer_bpe_fuzzer, first run: constructing the tokenizer from two std::string
// paths silently picked the (tokenizer.json JSON value, name) constructor (a string
// converts to a JSON value) and failed with "'…/merges.txt': missing "model"".
TEST(FuzzRegressions, BpeTokenizerFromStringPaths) {
  const std::string folder = (testing::data_dir() / "tokenizers" / "bart").string();
  const std::string vocab = folder + "/vocab.json", merges = folder + "/merges.txt";
  const ByteLevelBpeTokenizer from_strings(vocab, merges);
  const ByteLevelBpeTokenizer from_paths{fs::path(vocab), fs::path(merges)};
  EXPECT_EQ(from_strings.vocab_size(), from_paths.vocab_size());
  EXPECT_EQ(from_strings.encode("Hello world!"), (std::vector<TokenId>{0, 31414, 232, 328, 2}));
}

// generation_fuzzer: with every candidate at -inf after the processors (eos forced
// as the first token by forced_bos_token_id, and suppressed by min_length), beam
// search cannot fill all returned slots. It must neither crash nor return ids
// outside the vocabulary; an unfilled slot holds the start token alone and the
// "never finished" score.
TEST(FuzzRegressions, BeamSearchWithEveryCandidateBanned) {
  const auto model = load_model(testing::data_dir() / "hf-tiny" / "t5_tiny");
  GenerationOptions options;
  options.max_length = 7;
  options.min_length = 5;
  options.num_beams = 2;
  options.num_return_sequences = 2;
  options.length_penalty = 1.847059;
  options.early_stopping = EarlyStopping::kTrue;
  options.no_repeat_ngram_size = 1;
  options.repetition_penalty = 2.231373;
  options.bos_token_id = 341;
  options.eos_token_ids = {404, 404, 404};
  options.pad_token_id = 404;
  options.forced_bos_token_id = 404;
  options.forced_eos_token_ids = {404, 404, 73};
  const auto encoded = model->encode(TokenBatch::from_sequences({{5, 6, 7}, {8, 1}}, 0));
  const auto session = model->start_decoding(encoded, {0, 0, 1, 1}, options.resolved_max_length());
  const GenerationResult result = generate(*session, 2, options);
  ASSERT_EQ(result.rows(), 4);
  for (Index r = 0; r < result.rows(); ++r) {
    const auto& row = result.sequences[static_cast<std::size_t>(r)];
    EXPECT_EQ(row.front(), 341);
    for (const TokenId id : row) EXPECT_THAT(id, ::testing::AllOf(::testing::Ge(0), ::testing::Lt(1000)));
    const Index generated = result.generated_lengths[static_cast<std::size_t>(r)];
    if (generated == 0) EXPECT_LE(result.sequences_scores[static_cast<std::size_t>(r)], -1e8f);
    else EXPECT_EQ(row[1], 404) << "the forced first token";
  }
}

}  // namespace
}  // namespace srformer::reliability
