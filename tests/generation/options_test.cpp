#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>

#include "srformer/generation/options.hpp"
#include "srformer/generation/options_loading.hpp"
#include "support/scratch_dir.hpp"

namespace srformer {
namespace {

namespace fs = std::filesystem;

GenerationOptions valid_options() {
  GenerationOptions o;
  o.decoder_start_token_id = 0;
  o.eos_token_ids = {1};
  o.pad_token_id = 0;
  return o;
}

/// Expects validate() to throw an OptionError whose message names `option` and shows `value`.
void expect_invalid(const std::function<void(GenerationOptions&)>& edit, const std::string& option,
                    const std::string& value) {
  GenerationOptions o = valid_options();
  edit(o);
  try {
    o.validate();
    ADD_FAILURE() << "validate() accepted a bad " << option;
  } catch (const OptionError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(option), std::string::npos) << message;
    EXPECT_NE(message.find(value), std::string::npos) << message;
  }
}

TEST(GenerationOptions, DefaultsAreHuggingFaceGlobalDefaults) {
  const GenerationOptions o;
  EXPECT_EQ(o.resolved_max_length(), 21);  // 20 new tokens after the start token
  EXPECT_EQ(o.resolved_min_length(), 0);
  EXPECT_EQ(o.num_beams, 1);
  EXPECT_EQ(o.num_return_sequences, 1);
  EXPECT_EQ(o.length_penalty, 1.0);
  EXPECT_EQ(o.early_stopping, EarlyStopping::kFalse);
  EXPECT_FALSE(o.do_sample);
  EXPECT_EQ(o.top_k, 50);
  EXPECT_EQ(o.top_p, 1.0);
  EXPECT_EQ(o.temperature, 1.0);
  EXPECT_EQ(o.repetition_penalty, 1.0);
  EXPECT_EQ(o.no_repeat_ngram_size, 0);
  valid_options().validate();
}

TEST(GenerationOptions, NewTokenLimitsWinOverTotalLengths) {
  GenerationOptions o = valid_options();
  o.max_length = 50;
  EXPECT_EQ(o.resolved_max_length(), 50);
  o.max_new_tokens = 10;
  EXPECT_EQ(o.resolved_max_length(), 11);
  o.min_length = 30;
  EXPECT_EQ(o.resolved_min_length(), 30);
  o.min_new_tokens = 4;
  EXPECT_EQ(o.resolved_min_length(), 5);
}

TEST(GenerationOptions, SpecialTokenFallbacks) {
  GenerationOptions o;
  o.bos_token_id = 7;
  EXPECT_EQ(o.resolved_decoder_start_token_id(), 7);
  o.decoder_start_token_id = 3;
  EXPECT_EQ(o.resolved_decoder_start_token_id(), 3);
  EXPECT_FALSE(o.resolved_pad_token_id().has_value());
  o.eos_token_ids = {2, 5};
  EXPECT_EQ(o.resolved_pad_token_id(), 2);  // HF pads with the first eos when pad is unset
  o.pad_token_id = 1;
  EXPECT_EQ(o.resolved_pad_token_id(), 1);
  GenerationOptions none;
  EXPECT_THROW(none.resolved_decoder_start_token_id(), OptionError);
}

TEST(GenerationOptions, ValidateNamesTheBadOptionAndValue) {
  expect_invalid([](auto& o) { o.num_beams = 0; }, "num_beams", "0");
  expect_invalid([](auto& o) { o.num_return_sequences = 0; }, "num_return_sequences", "0");
  expect_invalid([](auto& o) { o.num_beams = 4, o.num_return_sequences = 5; }, "num_return_sequences", "5");
  expect_invalid([](auto& o) { o.num_return_sequences = 2; }, "num_return_sequences", "2");  // greedy
  expect_invalid([](auto& o) { o.max_new_tokens = 0; }, "max_new_tokens", "0");
  expect_invalid([](auto& o) { o.max_length = 1; }, "max_length", "1");
  expect_invalid([](auto& o) { o.min_new_tokens = -1; }, "min_new_tokens", "-1");
  expect_invalid([](auto& o) { o.min_length = -3; }, "min_length", "-3");
  expect_invalid([](auto& o) { o.no_repeat_ngram_size = -2; }, "no_repeat_ngram_size", "-2");
  expect_invalid([](auto& o) { o.repetition_penalty = 0.0; }, "repetition_penalty", "0");
  expect_invalid([](auto& o) { o.length_penalty = std::nan(""); }, "length_penalty", "nan");
  expect_invalid([](auto& o) { o.temperature = -1.0; }, "temperature", "-1");
  expect_invalid([](auto& o) { o.do_sample = true, o.temperature = 0.0; }, "temperature", "0");
  expect_invalid([](auto& o) { o.top_k = -1; }, "top_k", "-1");
  expect_invalid([](auto& o) { o.top_p = 0.0; }, "top_p", "0");
  expect_invalid([](auto& o) { o.top_p = 1.5; }, "top_p", "1.5");
  expect_invalid([](auto& o) { o.pad_token_id = -1; }, "pad_token_id", "-1");
  expect_invalid([](auto& o) { o.eos_token_ids = {1, -4}; }, "eos_token_id", "-4");
  expect_invalid([](auto& o) { o.forced_bos_token_id = -2; }, "forced_bos_token_id", "-2");
  expect_invalid([](auto& o) { o.decoder_start_token_id.reset(); }, "decoder_start_token_id", "not set");
}

TEST(GenerationOptions, ValidateAcceptsSensibleSettings) {
  GenerationOptions o = valid_options();
  o.num_beams = 4;
  o.num_return_sequences = 4;
  o.early_stopping = EarlyStopping::kNever;
  o.length_penalty = -0.5;
  o.temperature = 0.0;  // ignored when not sampling (HF treats it as greedy)
  o.validate();
  o.do_sample = true;
  o.temperature = 0.7;
  o.top_p = 1.0;
  o.top_k = 0;
  o.validate();
  GenerationOptions sampled = valid_options();
  sampled.do_sample = true;
  sampled.num_return_sequences = 3;  // sampling may return several sequences per input
  sampled.validate();
}

// ---- loading from model folders --------------------------------------------------------

const std::string kData = SRFORMER_TEST_DATA_DIR;
const std::string kModels = SRFORMER_MODELS_DIR;

TEST(LoadGenerationOptions, BartTinyGenerationConfig) {
  const GenerationOptions o = load_generation_options(kData + "/hf-tiny/bart_tiny");
  EXPECT_EQ(o.decoder_start_token_id, 2);
  EXPECT_EQ(o.bos_token_id, 0);
  EXPECT_EQ(o.eos_token_ids, std::vector<TokenId>{2});
  EXPECT_EQ(o.pad_token_id, 1);
  EXPECT_EQ(o.forced_eos_token_ids, std::vector<TokenId>{2});
  EXPECT_FALSE(o.forced_bos_token_id.has_value());
  EXPECT_FALSE(o.max_length.has_value());
  EXPECT_EQ(o.resolved_max_length(), 21);
  EXPECT_EQ(o.num_beams, 1);
  EXPECT_EQ(o.prefix, "");
  o.validate();
}

TEST(LoadGenerationOptions, T5TinyGenerationConfig) {
  const GenerationOptions o = load_generation_options(kData + "/hf-tiny/t5_tiny");
  EXPECT_EQ(o.decoder_start_token_id, 0);
  EXPECT_EQ(o.eos_token_ids, std::vector<TokenId>{1});
  EXPECT_EQ(o.pad_token_id, 0);
  EXPECT_FALSE(o.bos_token_id.has_value());
  EXPECT_TRUE(o.forced_eos_token_ids.empty());
}

TEST(LoadGenerationOptions, TrainedT5DemoFromModelsDir) {
  const GenerationOptions o = load_generation_options(kModels + "/t5-demo");
  EXPECT_EQ(o.decoder_start_token_id, 0);
  EXPECT_EQ(o.eos_token_ids, std::vector<TokenId>{1});
  EXPECT_EQ(o.pad_token_id, 0);
  EXPECT_EQ(o.max_length, 65);
  EXPECT_EQ(o.resolved_max_length(), 65);  // 64 new tokens, as the goldens' max_new_tokens 64
  EXPECT_EQ(o.num_beams, 1);
  o.validate();
}

class TempModelDir : public ::testing::Test {
 protected:
  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }
  std::string dir() const { return dir_.path().string(); }

 private:
  srformer::test::ScratchDir dir_{"generation_options"};
};

const char* kT5SmallStyleConfig = R"({
  "model_type": "t5", "vocab_size": 32128, "decoder_start_token_id": 0, "eos_token_id": 1,
  "pad_token_id": 0, "num_beams": 7,
  "task_specific_params": {
    "summarization": {"early_stopping": true, "length_penalty": 2.0, "max_length": 200,
                      "min_length": 30, "no_repeat_ngram_size": 3, "num_beams": 4,
                      "prefix": "summarize: "},
    "translation_en_to_de": {"early_stopping": true, "max_length": 300, "num_beams": 4,
                             "prefix": "translate English to German: "}
  }
})";

TEST_F(TempModelDir, TaskSpecificParamsWinOverGenerationConfig) {
  write("config.json", kT5SmallStyleConfig);
  write("generation_config.json",
        R"({"decoder_start_token_id": 0, "eos_token_id": 1, "pad_token_id": 0, "num_beams": 2,
            "max_length": 50, "early_stopping": "never"})");
  const GenerationOptions o = load_generation_options(dir());
  EXPECT_EQ(o.num_beams, 4);
  EXPECT_EQ(o.length_penalty, 2.0);
  EXPECT_EQ(o.max_length, 200);
  EXPECT_EQ(o.min_length, 30);
  EXPECT_EQ(o.no_repeat_ngram_size, 3);
  EXPECT_EQ(o.early_stopping, EarlyStopping::kTrue);
  EXPECT_EQ(o.prefix, "summarize: ");
  EXPECT_EQ(o.eos_token_ids, std::vector<TokenId>{1});
  o.validate();

  const GenerationOptions translation = load_generation_options(dir(), "translation_en_to_de");
  EXPECT_EQ(translation.max_length, 300);
  EXPECT_EQ(translation.prefix, "translate English to German: ");

  // Without a task: generation_config.json alone; config.json's legacy num_beams 7 is ignored
  // because generation_config.json exists (HF loads one or the other).
  const GenerationOptions plain = load_generation_options(dir(), "");
  EXPECT_EQ(plain.num_beams, 2);
  EXPECT_EQ(plain.max_length, 50);
  EXPECT_EQ(plain.early_stopping, EarlyStopping::kNever);
  EXPECT_EQ(plain.length_penalty, 1.0);
  EXPECT_EQ(plain.prefix, "");
}

TEST_F(TempModelDir, LegacyConfigJsonWhenGenerationConfigIsAbsent) {
  write("config.json", kT5SmallStyleConfig);
  const GenerationOptions plain = load_generation_options(dir(), "");
  EXPECT_EQ(plain.num_beams, 7);
  EXPECT_EQ(plain.decoder_start_token_id, 0);
  EXPECT_EQ(plain.eos_token_ids, std::vector<TokenId>{1});
  const GenerationOptions summarization = load_generation_options(dir());
  EXPECT_EQ(summarization.num_beams, 4);
  EXPECT_EQ(summarization.prefix, "summarize: ");
}

TEST_F(TempModelDir, CallerOverridesEverything) {
  write("config.json", kT5SmallStyleConfig);
  GenerationOptions o = load_generation_options(dir());
  o.num_beams = 1;
  o.max_new_tokens = 5;
  EXPECT_EQ(o.num_beams, 1);
  EXPECT_EQ(o.resolved_max_length(), 6);
}

TEST_F(TempModelDir, ListsNullsAndTopLevelPrefix) {
  write("config.json", R"({"prefix": "tl;dr: ", "forced_bos_token_id": 5})");
  write("generation_config.json",
        R"({"decoder_start_token_id": 2, "eos_token_id": [2, 3], "forced_eos_token_id": [2],
            "forced_bos_token_id": null, "bos_token_id": 0, "max_new_tokens": 12, "do_sample": true,
            "top_k": 0, "top_p": 0.9, "temperature": 0.7, "repetition_penalty": 1.2,
            "num_return_sequences": 2, "min_new_tokens": 3, "length_penalty": 1})");
  const GenerationOptions o = load_generation_options(dir());
  EXPECT_EQ(o.eos_token_ids, (std::vector<TokenId>{2, 3}));
  EXPECT_EQ(o.forced_eos_token_ids, std::vector<TokenId>{2});
  EXPECT_FALSE(o.forced_bos_token_id.has_value());
  EXPECT_EQ(o.max_new_tokens, 12);
  EXPECT_TRUE(o.do_sample);
  EXPECT_EQ(o.top_k, 0);
  EXPECT_DOUBLE_EQ(o.top_p, 0.9);
  EXPECT_DOUBLE_EQ(o.temperature, 0.7);
  EXPECT_DOUBLE_EQ(o.repetition_penalty, 1.2);
  EXPECT_EQ(o.num_return_sequences, 2);
  EXPECT_EQ(o.min_new_tokens, 3);
  EXPECT_EQ(o.length_penalty, 1.0);
  EXPECT_EQ(o.prefix, "tl;dr: ");
  o.validate();
}

TEST_F(TempModelDir, ErrorsNameTheFileAndField) {
  EXPECT_THROW(load_generation_options(dir()), ConfigError);  // empty folder

  write("generation_config.json", R"({"num_beams": "four"})");
  try {
    load_generation_options(dir());
    ADD_FAILURE() << "accepted num_beams \"four\"";
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("generation_config.json"), std::string::npos) << message;
    EXPECT_NE(message.find("num_beams"), std::string::npos) << message;
    EXPECT_NE(message.find("four"), std::string::npos) << message;
  }

  write("generation_config.json", R"({"early_stopping": "sometimes"})");
  EXPECT_THROW(load_generation_options(dir()), ConfigError);
  write("generation_config.json", R"({"eos_token_id": [1, "x"]})");
  EXPECT_THROW(load_generation_options(dir()), ConfigError);
  write("generation_config.json", R"({"pad_token_id": -3})");
  EXPECT_THROW(load_generation_options(dir()), ConfigError);
  write("generation_config.json", R"({"max_length": 20,)");
  EXPECT_THROW(load_generation_options(dir()), FormatError);
  write("generation_config.json", R"([1, 2])");
  EXPECT_THROW(load_generation_options(dir()), ConfigError);

  write("generation_config.json", R"({"decoder_start_token_id": 0})");
  write("config.json", R"({"task_specific_params": {"summarization": {"prefix": 3}}})");
  EXPECT_THROW(load_generation_options(dir()), ConfigError);
  write("config.json", R"({"task_specific_params": {"summarization": {"num_beams": 4.5}}})");
  EXPECT_THROW(load_generation_options(dir()), ConfigError);
  write("config.json", R"({"task_specific_params": [1]})");
  EXPECT_THROW(load_generation_options(dir()), ConfigError);
}

TEST(EarlyStopping, PrintsLikeHuggingFace) {
  EXPECT_EQ(to_string(EarlyStopping::kTrue), "true");
  EXPECT_EQ(to_string(EarlyStopping::kFalse), "false");
  EXPECT_EQ(to_string(EarlyStopping::kNever), "never");
}

}  // namespace
}  // namespace srformer
