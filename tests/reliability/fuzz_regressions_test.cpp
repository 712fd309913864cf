// What the fuzzers found, as ordinary tests (the inputs themselves, where they
// are files, also live in tests/fuzz/regressions/<target>/ and are replayed by
// tests/fuzz/run_fuzzers.sh).
#include <limits>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "reliability_support.hpp"
#include "srformer/generation/options_loading.hpp"
#include "srformer/generation/search.hpp"
#include "srformer/io/json.hpp"
#include "srformer/models/config.hpp"
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

// generation_fuzzer, 10^6-execution run (input: tests/fuzz/regressions/generation_fuzzer/
// pad-token-outside-vocab): sampling with pad_token_id = 1524027852 filled the row that
// ended on eos with that id, so generate() returned ids outside the vocabulary. Like the
// other special tokens, pad_token_id is now checked against the model's vocabulary.
TEST(FuzzRegressions, PadTokenOutsideTheVocabularyIsAnOptionError) {
  const auto model = load_model(testing::data_dir() / "hf-tiny" / "t5_tiny");
  GenerationOptions options;
  options.max_length = 7;
  options.min_length = 1;
  options.num_return_sequences = 3;
  options.do_sample = true;
  options.seed = 7;
  options.no_repeat_ngram_size = 2;
  options.repetition_penalty = 1.713418;
  options.temperature = 1.324953;
  options.top_k = 262;
  options.decoder_start_token_id = 589;
  options.eos_token_ids = {329, 142, 295};
  options.pad_token_id = 1524027852;
  options.forced_bos_token_id = 344;
  options.forced_eos_token_ids = {214, 367};
  const auto encoded = model->encode(TokenBatch::from_sequences({{5, 6, 7}}, 0));
  for (const Index beams : {1, 2}) {
    options.num_beams = beams;
    options.num_return_sequences = beams == 1 ? 3 : 2;
    const auto session = model->start_decoding(encoded, std::vector<Index>(static_cast<std::size_t>(beams), 0),
                                               options.resolved_max_length());
    EXPECT_THAT([&] { (void)generate(*session, 1, options); },
                ::testing::ThrowsMessage<OptionError>(::testing::StrEq(
                    "generation option pad_token_id = 1524027852 is outside the model vocabulary (size 1000)")))
        << "num_beams " << beams;
  }
  options.num_beams = 1;
  options.num_return_sequences = 3;
  for (const TokenId pad : {-1, 1000}) {
    options.pad_token_id = pad;
    const auto session = model->start_decoding(encoded, {0}, options.resolved_max_length());
    EXPECT_THROW((void)generate(*session, 1, options), OptionError) << "pad " << pad;
  }
  // The largest id in the vocabulary is a valid pad token and is what fills the rows
  // that ended early. Half the vocabulary ends a row, so the three sampled rows end at
  // different steps (seed fixed).
  options.pad_token_id = 999;
  options.eos_token_ids.clear();
  for (TokenId id = 0; id < 500; ++id) options.eos_token_ids.push_back(id);
  options.forced_eos_token_ids = {};
  options.forced_bos_token_id.reset();
  const auto session = model->start_decoding(encoded, {0}, options.resolved_max_length());
  const GenerationResult result = generate(*session, 1, options);
  Index padded = 0;
  for (const auto& row : result.sequences) {
    bool ended = false;
    for (std::size_t i = 1; i < row.size(); ++i) {
      if (ended) {
        EXPECT_EQ(row[i], 999) << "position " << i;
        ++padded;
      }
      ended = ended || row[i] < 500;
    }
  }
  EXPECT_GT(padded, 0) << "no row was padded: pick another seed";
}

// generation_fuzzer, 10^6-execution run (input: tests/fuzz/regressions/generation_fuzzer/
// min-new-tokens-int64-max): min_new_tokens = INT64_MAX is valid ("eos never allowed"),
// but resolved_min_length() added 1 for the start token: signed overflow (UBSan). The
// same held for max_new_tokens. Both now saturate.
TEST(FuzzRegressions, LargestTokenCountsDoNotOverflow) {
  constexpr std::int64_t kLargest = std::numeric_limits<std::int64_t>::max();
  GenerationOptions options;
  options.min_new_tokens = kLargest;
  options.max_new_tokens = kLargest;
  options.decoder_start_token_id = 0;
  options.validate();
  EXPECT_EQ(options.resolved_min_length(), kLargest);
  EXPECT_EQ(options.resolved_max_length(), kLargest);
  options.min_new_tokens = kLargest - 1;
  options.max_new_tokens = kLargest - 1;
  EXPECT_EQ(options.resolved_min_length(), kLargest);
  EXPECT_EQ(options.resolved_max_length(), kLargest);

  // Generating with it: eos stays suppressed until the length limit.
  const auto model = load_model(testing::data_dir() / "hf-tiny" / "t5_tiny");
  options.min_new_tokens = kLargest;
  options.max_new_tokens = 4;
  for (TokenId id = 0; id < 900; ++id) options.eos_token_ids.push_back(id);  // would end at once otherwise
  for (const Index beams : {1, 2}) {
    options.num_beams = beams;
    const auto encoded = model->encode(TokenBatch::from_sequences({{5, 6, 7}}, 0));
    const auto session = model->start_decoding(encoded, std::vector<Index>(static_cast<std::size_t>(beams), 0),
                                               options.resolved_max_length());
    const GenerationResult result = generate(*session, 1, options);
    ASSERT_EQ(result.rows(), 1);
    const auto& row = result.sequences[0];
    EXPECT_EQ(row.size(), 5u) << "num_beams " << beams;
    for (std::size_t i = 1; i < row.size(); ++i) EXPECT_GE(row[i], 900) << "eos at " << i << ", num_beams " << beams;
  }
}

// config_fuzzer, 10^6-execution run: "d_ff": 379999999999999999999999999999 is a JSON
// float, and nlohmann's get<long>() casts it (undefined behaviour, UBSan report). Every
// integer setting now goes through io::json_number_as, which refuses what the type
// cannot hold exactly. (Input: tests/fuzz/regressions/config_fuzzer/.)
TEST(FuzzRegressions, IntegerSettingOutOfRangeIsAConfigError) {
  const auto config = nlohmann::json::parse(
      read_file(testing::data_dir() / ".." / "fuzz" / "regressions" / "config_fuzzer" /
                "d_ff-float-out-of-int64-range.json"));
  EXPECT_THAT([&] { (void)parse_model_config(config, "config.json"); },
              ::testing::ThrowsMessage<ConfigError>(::testing::HasSubstr(
                  "config.json: key 'd_ff' is not a value its type can hold (3.8e+29)")));
  nlohmann::json huge = config;
  huge["d_ff"] = 18446744073709551615ull;  // unsigned, above int64
  EXPECT_THROW((void)parse_model_config(huge, "config.json"), ConfigError);
  nlohmann::json fractional = config;
  fractional["d_ff"] = 64.5;
  EXPECT_THROW((void)parse_model_config(fractional, "config.json"), ConfigError);
  nlohmann::json integral_float = config;
  integral_float["d_ff"] = 64.0;  // what Python may write for an int: accepted
  EXPECT_EQ(parse_model_config(integral_float, "config.json").encoder_ffn_dim, 64);

  GenerationOptions options;
  EXPECT_THROW(apply_generation_settings(options, nlohmann::json{{"max_length", 1e300}}, "config.json"), ConfigError);
  EXPECT_THROW(apply_generation_settings(options, nlohmann::json{{"num_beams", 9223372036854775808ull}},
                                         "config.json"),
               ConfigError);
}

TEST(FuzzRegressions, JsonNumberConversionIsChecked) {
  using io::json_number_as;
  EXPECT_EQ(json_number_as<std::int32_t>(nlohmann::json(2147483647)), 2147483647);
  EXPECT_FALSE(json_number_as<std::int32_t>(nlohmann::json(2147483648ll)));
  EXPECT_FALSE(json_number_as<std::int32_t>(nlohmann::json(2147483648.0)));
  EXPECT_EQ(json_number_as<std::int32_t>(nlohmann::json(-2147483648.0)), -2147483647 - 1);
  EXPECT_FALSE(json_number_as<std::int64_t>(nlohmann::json(9223372036854775808.0)));
  EXPECT_EQ(json_number_as<std::int64_t>(nlohmann::json(-9223372036854775807ll - 1)), -9223372036854775807ll - 1);
  EXPECT_FALSE(json_number_as<std::uint32_t>(nlohmann::json(-1)));
  EXPECT_FALSE(json_number_as<std::int64_t>(nlohmann::json(std::nan(""))));
  EXPECT_FALSE(json_number_as<float>(nlohmann::json(1e300)));
  EXPECT_EQ(json_number_as<float>(nlohmann::json(0.5)), 0.5f);
  EXPECT_FALSE(json_number_as<int>(nlohmann::json("7")));
}

}  // namespace
}  // namespace srformer::reliability
