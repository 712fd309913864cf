// Every class of bad input listed in the README's "Errors" section, triggered
// the way a user would meet it, with the exception type and the message the
// README quotes. If a message changes, change the README with it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <type_traits>

#include "reliability_support.hpp"
#include "srformer/generation/options_loading.hpp"
#include "srformer/generation/search.hpp"
#include "srformer/io/checkpoint.hpp"
#include "srformer/io/safetensors.hpp"
#include "srformer/models/seq2seq_model.hpp"
#include "srformer/pipeline/summarizer.hpp"
#include "srformer/tokenizers/load_tokenizer.hpp"

namespace srformer::reliability {
namespace {

using ::testing::AllOf;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(Errors, EveryExceptionDerivesFromSrformerError) {
  static_assert(std::is_base_of<std::runtime_error, Error>::value);
  static_assert(std::is_base_of<Error, FormatError>::value);
  static_assert(std::is_base_of<Error, ConfigError>::value);
  static_assert(std::is_base_of<Error, TensorError>::value);
  static_assert(std::is_base_of<Error, InputError>::value);
  static_assert(std::is_base_of<Error, TokenizerError>::value);
  static_assert(std::is_base_of<Error, OptionError>::value);
  // One catch clause is enough for a service that must not die on bad input.
  EXPECT_THROW(io::SafetensorsFile::open(testing::data_dir() / "no-such-file.safetensors"), Error);
}

// --- files -------------------------------------------------------------------------------

TEST(Errors, MissingFileOrFolder) {
  const fs::path missing = testing::data_dir() / "no-such-model";
  EXPECT_THAT(error_message<FormatError>([&] { load_model(missing); }),
              AllOf(HasSubstr("no-such-model/config.json"), EndsWith(" does not exist")));
  EXPECT_THAT(error_message<FormatError>([&] { io::SafetensorsFile::open(missing / "model.safetensors"); }),
              AllOf(StartsWith("file "), EndsWith("model.safetensors does not exist")));
  ScratchDir empty;
  write_file(empty / "config.json", read_file(t5_tiny() / "config.json"));
  EXPECT_THAT(error_message<FormatError>([&] { load_model(empty.path()); }),
              HasSubstr("folder has neither model.safetensors nor model.safetensors.index.json"));
}

TEST(Errors, TruncatedSafetensors) {
  ModelCopy copy(t5_tiny());
  const std::string bytes = read_file(copy / "model.safetensors");
  write_file(copy / "model.safetensors", bytes.substr(0, bytes.size() / 2));
  EXPECT_THAT(error_message<FormatError>([&] { load_model(copy.path()); }),
              AllOf(StartsWith("safetensors file " + (copy / "model.safetensors").string() + ": tensor '"),
                    HasSubstr("lie outside the data buffer of"), EndsWith("(file truncated or offsets wrong)")));
  write_file(copy / "model.safetensors", bytes.substr(0, 100));
  EXPECT_THAT(error_message<FormatError>([&] { load_model(copy.path()); }),
              AllOf(HasSubstr(": header length "), HasSubstr("runs past the end of the file (100 bytes; truncated?)")));
  write_file(copy / "model.safetensors", bytes.substr(0, 5));
  EXPECT_THAT(error_message<FormatError>([&] { load_model(copy.path()); }),
              HasSubstr("file is 5 bytes long, shorter than the 8-byte header length prefix"));
}

TEST(Errors, CorruptSafetensorsHeader) {
  ScratchDir dir;
  const std::string header = "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]";  // no closing brace
  std::string bytes(8, '\0');
  bytes[0] = static_cast<char>(header.size());
  write_file(dir / "bad.safetensors", bytes + header + "abcd");
  EXPECT_THAT(error_message<FormatError>([&] { io::SafetensorsFile::open(dir / "bad.safetensors"); }),
              AllOf(HasSubstr("bad.safetensors: header is not valid JSON: "), HasSubstr("parse error")));

  ModelCopy copy(t5_tiny());
  copy.edit_safetensors_header("model.safetensors", [](nlohmann::json& h) {
    h["shared.weight"]["data_offsets"][1] = h["shared.weight"]["data_offsets"][1].get<std::int64_t>() - 4;
  });
  EXPECT_THAT(error_message<FormatError>([&] { load_model(copy.path()); }),
              AllOf(HasSubstr("tensor 'shared.weight': shape [1000, 64] of F32 needs 256000 bytes but data_offsets"),
                    HasSubstr("span 255996")));
}

TEST(Errors, HeaderTooLarge) {
  ScratchDir dir;
  std::string bytes(8, '\0');
  const std::uint64_t length = 1ull << 40;
  std::memcpy(bytes.data(), &length, 8);
  write_file(dir / "huge.safetensors", bytes + "{}");
  EXPECT_THAT(error_message<FormatError>([&] { io::SafetensorsFile::open(dir / "huge.safetensors"); }),
              HasSubstr("huge.safetensors: header length 1099511627776 exceeds the limit of 100000000 bytes "
                        "(not a safetensors file?)"));
}

TEST(Errors, WrongDtype) {
  ModelCopy copy(t5_tiny());
  // I32 has F32's size, so the file stays well-formed and only the dtype is wrong.
  copy.edit_safetensors_header("model.safetensors",
                               [](nlohmann::json& h) { h["encoder.final_layer_norm.weight"]["dtype"] = "I32"; });
  EXPECT_THAT(error_message<TensorError>([&] { load_model(copy.path()); }),
              HasSubstr("tensor 'encoder.final_layer_norm.weight' has dtype I32, but a float tensor "
                        "(F32, F16 or BF16) is needed"));
}

TEST(Errors, MissingTensor) {
  ModelCopy copy(t5_tiny());
  copy.edit_safetensors_header("model.safetensors", [](nlohmann::json& h) {
    h["renamed.weight"] = h["encoder.final_layer_norm.weight"];
    h.erase("encoder.final_layer_norm.weight");
  });
  EXPECT_THAT(error_message<TensorError>([&] { load_model(copy.path()); }),
              AllOf(StartsWith("checkpoint " + copy.path().string()),
                    EndsWith("missing tensor 'encoder.final_layer_norm.weight'")));
}

TEST(Errors, ShapeDisagreesWithConfig) {
  ModelCopy copy(t5_tiny());
  copy.edit_json("config.json", [](nlohmann::json& j) { j["d_ff"] = 100; });
  EXPECT_THAT(error_message<TensorError>([&] { load_model(copy.path()); }),
              HasSubstr("tensor 'encoder.block.0.layer.1.DenseReluDense.wi.weight' has shape [128, 64] but shape "
                        "[100, 64] is expected"));
}

TEST(Errors, MissingShard) {
  ScratchDir dir;
  write_file(dir / "config.json", read_file(t5_tiny() / "config.json"));
  write_file(dir / "model.safetensors.index.json",
             R"({"weight_map": {"shared.weight": "model-00001-of-00002.safetensors"}})");
  EXPECT_THAT(error_message<FormatError>([&] { load_model(dir.path()); }),
              HasSubstr("shard 'model-00001-of-00002.safetensors' listed in model.safetensors.index.json (for tensor "
                        "'shared.weight') does not exist in"));
}

// --- config.json -------------------------------------------------------------------------

TEST(Errors, InvalidConfigJson) {
  ModelCopy copy(t5_tiny());
  write_file(copy / "config.json", "{\"model_type\": \"t5\",");
  EXPECT_THAT(error_message<FormatError>([&] { load_model(copy.path()); }),
              AllOf(HasSubstr("config.json: invalid JSON: [json.exception.parse_error.101]"),
                    HasSubstr("line 1, column 21")));
}

TEST(Errors, UnknownModelType) {
  ModelCopy copy(t5_tiny());
  copy.edit_json("config.json", [](nlohmann::json& j) { j["model_type"] = "gpt2"; });
  EXPECT_THAT(error_message<ConfigError>([&] { load_model(copy.path()); }),
              EndsWith("config.json: unsupported model_type 'gpt2' (supported: t5, bart)"));
}

TEST(Errors, UnsupportedOrMissingConfigSettings) {
  ModelCopy copy(bart_tiny());
  copy.edit_json("config.json", [](nlohmann::json& j) { j["normalize_before"] = true; });
  EXPECT_THAT(error_message<ConfigError>([&] { load_model(copy.path()); }),
              EndsWith("config.json: pre-LayerNorm BART variants (normalize_before / add_final_layer_norm, as in "
                       "mBART) are not supported"));
  copy.edit_json("config.json", [](nlohmann::json& j) {
    j.erase("normalize_before");
    j["activation_function"] = "mish";
  });
  EXPECT_THAT(error_message<ConfigError>([&] { load_model(copy.path()); }), HasSubstr("'mish'"));
  copy.edit_json("config.json", [](nlohmann::json& j) {
    j["activation_function"] = "gelu";
    j.erase("d_model");
  });
  EXPECT_THAT(error_message<ConfigError>([&] { load_model(copy.path()); }),
              EndsWith("config.json: missing required key 'd_model'"));
  copy.edit_json("config.json", [](nlohmann::json& j) { j["d_model"] = "sixty-four"; });
  EXPECT_THAT(error_message<ConfigError>([&] { load_model(copy.path()); }),
              EndsWith("config.json: key 'd_model' has the wrong type (\"sixty-four\")"));
  copy.edit_json("config.json", [](nlohmann::json& j) { j["d_model"] = -64; });
  EXPECT_THAT(error_message<ConfigError>([&] { load_model(copy.path()); }),
              EndsWith("config.json: 'd_model' must be in [1, 1048576], got -64"));
}

// --- model inputs ------------------------------------------------------------------------

class ModelInputErrors : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    t5_ = load_model(t5_tiny());
    bart_ = load_model(bart_tiny());
  }
  static inline std::shared_ptr<const Seq2SeqModel> t5_, bart_;
};

TEST_F(ModelInputErrors, TokenIdOutsideVocabulary) {
  EXPECT_THAT(error_message<InputError>([&] { t5_->encode(TokenBatch::from_sequences({{5, 6}, {7, 1000}}, 0)); }),
              EndsWith("token id 1000 (batch row 1, position 1) is outside the vocabulary [0, 1000)"));
}

TEST_F(ModelInputErrors, BartInputLongerThanMaxPositionEmbeddings) {
  const std::vector<TokenId> ids(static_cast<std::size_t>(bart_->config().max_position_embeddings) + 1, 5);
  EXPECT_THAT(error_message<InputError>([&] { bart_->encode(TokenBatch::from_sequences({ids}, 1)); }),
              AllOf(HasSubstr(std::to_string(ids.size()) + " tokens"),
                    HasSubstr("max_position_embeddings = " + std::to_string(bart_->config().max_position_embeddings))));
}

TEST_F(ModelInputErrors, EmptyBatchOrSequence) {
  EXPECT_EQ(error_message<InputError>([] { TokenBatch::from_sequences({}, 0); }),
            "empty batch: at least one input sequence is needed");
  EXPECT_EQ(error_message<InputError>([] { TokenBatch::from_sequences({{1, 2}, {}}, 0); }),
            "input sequence 1 of the batch is empty");
}

TEST_F(ModelInputErrors, SrformerWithoutRafParameters) {
  attention::CrossAttentionOptions options;
  options.kind = attention::AttentionKind::Srformer;
  EXPECT_THAT(error_message<ConfigError>([&] { load_model(t5_tiny(), options); }),
              AllOf(HasSubstr("SNN_kv.weight"), HasSubstr("allow_fresh_raf_parameters")));
}

TEST_F(ModelInputErrors, BadAttentionOptions) {
  attention::CrossAttentionOptions options;
  options.kind = attention::AttentionKind::Segmented;
  options.segment_size = 0;
  EXPECT_EQ(error_message<OptionError>([&] { t5_->with_attention(options); }),
            "cross-attention segment size must be at least 1, got 0");
  EXPECT_EQ(error_message<OptionError>([] { attention::parse_attention_kind("sparse"); }),
            "unknown cross-attention kind 'sparse' (expected full, segmented or srformer)");
}

// --- tokenizers --------------------------------------------------------------------------

TEST(Errors, InvalidUtf8) {
  const auto tokenizer = load_tokenizer(t5_demo());
  EXPECT_THAT(error_message<TokenizerError>([&] { tokenizer->encode(std::string("caf\xC3\x28 au lait")); }),
              HasSubstr("byte offset 3"));
  const auto bpe = load_tokenizer(testing::data_dir() / "tokenizers" / "bart");
  EXPECT_THAT(error_message<TokenizerError>([&] { bpe->encode(std::string("ok \xED\xA0\x80")); }),
              HasSubstr("byte offset 3"));
}

TEST(Errors, TokenIdOutsideTokenizerVocabulary) {
  const auto tokenizer = load_tokenizer(t5_demo());
  const std::string expected = "decode: token id " + std::to_string(tokenizer->vocab_size()) +
                               " at position 1 is outside the vocabulary [0, " +
                               std::to_string(tokenizer->vocab_size()) + ")";
  EXPECT_EQ(error_message<InputError>([&] { tokenizer->decode({5, static_cast<TokenId>(tokenizer->vocab_size())}); }),
            expected);
  EXPECT_THAT(error_message<InputError>([&] { tokenizer->decode({-1}); }), HasSubstr("token id -1 at position 0"));
}

TEST(Errors, NoOrBrokenTokenizerFiles) {
  ScratchDir dir;
  EXPECT_THAT(error_message<TokenizerError>([&] { load_tokenizer(dir.path()); }),
              HasSubstr("no supported tokenizer in '" + dir.path().string() + "': looked for spiece.model"));
  write_file(dir / "spiece.model", "not a sentencepiece model");
  EXPECT_THAT(error_message<FormatError>([&] { load_tokenizer(dir.path()); }),
              HasSubstr("spiece.model' cannot be loaded"));
  fs::remove(dir / "spiece.model");
  write_file(dir / "vocab.json", "{\"a\": 0, \"b\": \"one\"}");
  write_file(dir / "merges.txt", "#version: 0.2\na b\n");
  EXPECT_THAT(error_message<FormatError>([&] { load_tokenizer(dir.path()); }),
              HasSubstr("the id of token 'b' is not an integer"));
}

// --- generation and the summarizer -------------------------------------------------------

TEST_F(ModelInputErrors, BadGenerationOptions) {
  GenerationOptions options;
  options.num_beams = 0;
  EXPECT_EQ(error_message<OptionError>([&] { options.validate(); }),
            "generation option num_beams = 0 is invalid: must be >= 1");
  options.num_beams = 1;
  options.top_p = 1.5;
  EXPECT_EQ(error_message<OptionError>([&] { options.validate(); }),
            "generation option top_p = 1.5 is invalid: must be in (0, 1] (1 disables)");
  options.top_p = 1.0;
  options.decoder_start_token_id = 0;
  options.eos_token_ids = {5000};
  const auto encoded = t5_->encode(TokenBatch::from_sequences({{5, 6, 1}}, 0));
  const auto session = t5_->start_decoding(encoded, {0});
  EXPECT_EQ(error_message<OptionError>([&] { generate(*session, 1, options); }),
            "generation option eos_token_id = 5000 is outside the model vocabulary (size 1000)");
}

TEST(Errors, BadGenerationConfigFile) {
  ModelCopy copy(t5_tiny());
  write_file(copy / "generation_config.json", R"({"num_beams": "four"})");
  EXPECT_THAT(error_message<ConfigError>([&] { load_generation_options(copy.path().string()); }),
              EndsWith("generation_config.json: field 'num_beams' must be an integer, got \"four\""));
}

TEST(Errors, SummarizerEmptyDocumentAndInvalidUtf8) {
  const Summarizer summarizer(t5_demo());
  EXPECT_EQ(error_message<InputError>([&] { summarizer.summarize(std::vector<std::string>{"A text.", "  \n"}); }),
            "document 1 is empty");
  EXPECT_EQ(error_message<InputError>([&] { summarizer.summarize(std::vector<std::string>{}); }),
            "summarize: no documents given");
  EXPECT_THAT(error_message<TokenizerError>([&] { summarizer.summarize(std::string("ok \xFF")); }),
              AllOf(StartsWith("document 0: "), HasSubstr("byte offset 3")));
  GenerationOptions options = summarizer.default_options();
  options.max_new_tokens = 0;
  EXPECT_EQ(error_message<OptionError>([&] { summarizer.summarize(std::string("A text."), options); }),
            "generation option max_new_tokens = 0 is invalid: must be > 0");
}

}  // namespace
}  // namespace srformer::reliability
