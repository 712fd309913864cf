// Bad checkpoints, configs and inputs get exceptions whose messages name the
// file, tensor or value at fault, and leave the model usable.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "srformer/io/json.hpp"
#include "srformer/models/seq2seq_model.hpp"
#include "support/golden.hpp"
#include "support/scratch_dir.hpp"

namespace srformer {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

/// A scratch copy of a model folder whose config.json can be edited.
class ModelFolderCopy {
 public:
  explicit ModelFolderCopy(const fs::path& source) : dir_("model") {
    path_ = dir_.path();
    // Only what a model folder needs; goldens and sub-folders stay behind.
    for (const auto& entry : fs::directory_iterator(source))
      if (entry.is_regular_file() && entry.path().filename() != "golden.safetensors" &&
          entry.path().filename().string().rfind("module_calls", 0) != 0)
        fs::copy_file(entry.path(), path_ / entry.path().filename());
  }
  const fs::path& path() const { return path_; }

  void edit_config(const std::function<void(nlohmann::json&)>& edit) const {
    auto json = io::read_json_file(path_ / "config.json");
    edit(json);
    std::ofstream(path_ / "config.json") << json.dump(1);
  }

 private:
  test::ScratchDir dir_;
  fs::path path_;
};

template <class Exception, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const Exception& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
    return {};
  }
  ADD_FAILURE() << "no exception thrown";
  return {};
}

fs::path tiny(const char* name) { return testing::data_dir() / "hf-tiny" / name; }

TEST(ModelErrors, ShapeThatDisagreesWithConfigNamesTensorAndShapes) {
  ModelFolderCopy folder(tiny("t5_tiny"));
  folder.edit_config([](nlohmann::json& j) { j["d_ff"] = 100; });
  const auto message = message_of<TensorError>([&] { load_model(folder.path()); });
  EXPECT_THAT(message, HasSubstr("encoder.block.0.layer.1.DenseReluDense.wi.weight"));
  EXPECT_THAT(message, HasSubstr("[128, 64]"));
  EXPECT_THAT(message, HasSubstr("[100, 64]"));
}

TEST(ModelErrors, MissingTensorIsNamed) {
  ModelFolderCopy folder(tiny("t5_tiny"));
  folder.edit_config([](nlohmann::json& j) { j["num_layers"] = 3; });
  const auto message = message_of<TensorError>([&] { load_model(folder.path()); });
  EXPECT_THAT(message, HasSubstr("encoder.block.2."));
}

TEST(ModelErrors, UntiedHeadWithoutLmHeadTensorIsNamed) {
  ModelFolderCopy folder(tiny("t5_tiny"));
  folder.edit_config([](nlohmann::json& j) { j["tie_word_embeddings"] = false; });
  EXPECT_THAT(message_of<TensorError>([&] { load_model(folder.path()); }), HasSubstr("lm_head.weight"));
}

TEST(ModelErrors, UnknownModelTypeAndOptionsAreRejected) {
  ModelFolderCopy folder(tiny("bart_tiny"));
  folder.edit_config([](nlohmann::json& j) { j["model_type"] = "mbart"; });
  EXPECT_THAT(message_of<ConfigError>([&] { load_model(folder.path()); }), HasSubstr("unsupported model_type 'mbart'"));
  folder.edit_config([](nlohmann::json& j) {
    j["model_type"] = "bart";
    j["activation_function"] = "mish";
  });
  EXPECT_THAT(message_of<ConfigError>([&] { load_model(folder.path()); }), HasSubstr("'mish'"));
  folder.edit_config([](nlohmann::json& j) {
    j["activation_function"] = "gelu";
    j["normalize_before"] = true;
  });
  EXPECT_THAT(message_of<ConfigError>([&] { load_model(folder.path()); }), HasSubstr("normalize_before"));
  folder.edit_config([](nlohmann::json& j) {
    j["normalize_before"] = false;
    j.erase("d_model");
  });
  const auto message = message_of<ConfigError>([&] { load_model(folder.path()); });
  EXPECT_THAT(message, HasSubstr("'d_model'"));
  EXPECT_THAT(message, HasSubstr("config.json"));
}

TEST(ModelErrors, CorruptConfigJsonNamesTheFile) {
  ModelFolderCopy folder(tiny("t5_tiny"));
  std::ofstream(folder.path() / "config.json") << "{ \"model_type\": \"t5\", ";
  EXPECT_THAT(message_of<FormatError>([&] { load_model(folder.path()); }), HasSubstr("config.json"));
}

TEST(ModelErrors, T5ScalingFollowsScaleDecoderOutputsOrTying) {
  const auto base = io::read_json_file(tiny("t5_tiny") / "config.json");
  auto j = base;
  EXPECT_TRUE(parse_model_config(j).scale_decoder_outputs);
  j["scale_decoder_outputs"] = false;
  EXPECT_FALSE(parse_model_config(j).scale_decoder_outputs);
  j.erase("scale_decoder_outputs");
  j["tie_word_embeddings"] = false;  // a 4.x v1.1 config: untied, so unscaled
  EXPECT_FALSE(parse_model_config(j).scale_decoder_outputs);
  j.erase("tie_word_embeddings");  // default: tied, so scaled
  EXPECT_TRUE(parse_model_config(j).scale_decoder_outputs);
  j["feed_forward_proj"] = "gated-gelu";
  EXPECT_EQ(parse_model_config(j).activation, Activation::GeluTanh);
  EXPECT_TRUE(parse_model_config(j).gated_ffn);
}

class InputErrors : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    t5_ = load_model(tiny("t5_tiny"));
    bart_ = load_model(tiny("bart_tiny"));
  }
  static inline std::shared_ptr<const Seq2SeqModel> t5_, bart_;
};

TEST_F(InputErrors, TokenIdOutsideVocabularyNamesIdAndPosition) {
  const auto batch = TokenBatch::from_sequences({{5, 6, 7}, {8, 1000, 1}}, 0);
  const auto message = message_of<InputError>([&] { t5_->encode(batch); });
  EXPECT_THAT(message, HasSubstr("token id 1000"));
  EXPECT_THAT(message, HasSubstr("batch row 1, position 1"));
  EXPECT_THAT(message_of<InputError>([&] { t5_->encode(TokenBatch::from_sequences({{-3}}, 0)); }),
              HasSubstr("token id -3"));
  // The model still works afterwards.
  EXPECT_NO_THROW(t5_->encode(TokenBatch::from_sequences({{5, 6, 1}}, 0)));
}

TEST_F(InputErrors, DecoderTokenOutsideVocabulary) {
  auto session = t5_->start_decoding(t5_->encode(TokenBatch::from_sequences({{5, 6, 1}}, 0)), {0});
  EXPECT_THAT(message_of<InputError>([&] { session->step({4000}); }), HasSubstr("token id 4000"));
  EXPECT_THAT(message_of<InputError>([&] { session->step({1, 2}); }), HasSubstr("2 tokens for 1 rows"));
}

TEST_F(InputErrors, BartInputLongerThanMaxPositionEmbeddings) {
  std::vector<TokenId> ids(1025, 5);
  const auto message = message_of<InputError>([&] { bart_->encode(TokenBatch::from_sequences({ids}, 1)); });
  EXPECT_THAT(message, HasSubstr("1025 tokens"));
  EXPECT_THAT(message, HasSubstr("max_position_embeddings = 1024"));
  ids.resize(1024);
  EXPECT_NO_THROW(bart_->encode(TokenBatch::from_sequences({ids}, 1)));
}

TEST_F(InputErrors, EmptyBatchAndEmptySequence) {
  EXPECT_THAT(message_of<InputError>([] { TokenBatch::from_sequences({}, 0); }), HasSubstr("empty batch"));
  EXPECT_THAT(message_of<InputError>([] { TokenBatch::from_sequences({{1, 2}, {}}, 0); }),
              HasSubstr("input sequence 1 of the batch is empty"));
  EXPECT_THAT(message_of<InputError>([&] { t5_->encode(TokenBatch{}); }), HasSubstr("empty batch"));
}

TEST_F(InputErrors, SessionBoundToMissingEncoderRow) {
  const auto encoded = t5_->encode(TokenBatch::from_sequences({{5, 6, 1}}, 0));
  EXPECT_THAT(message_of<InputError>([&] { t5_->start_decoding(encoded, {0, 1}); }), HasSubstr("encoder row 1"));
}

}  // namespace
}  // namespace srformer

namespace srformer {
namespace {

TEST(CrossAttentionFromConfig, FolderPicksPolicyWithoutRecompiling) {
  // The authors' checkpoint: their split_size, and SRformer (the weights hold RAF parameters).
  const auto official = cross_attention_options_from_config(testing::data_dir() / "srformer-official" / "bart");
  EXPECT_EQ(official.segment_size, 16);
  EXPECT_EQ(official.kind, attention::AttentionKind::Srformer);
  EXPECT_EQ(official.flavor, attention::ModelFlavor::Bart);

  ModelFolderCopy folder(testing::data_dir() / "srformer-official" / "t5");
  folder.edit_config([](nlohmann::json& j) {
    j["cross_attention"] = {{"kind", "srformer"}, {"segment_size", 32}, {"gen_len", 16}, {"semantics", "causal"}};
  });
  const auto options = cross_attention_options_from_config(folder.path());
  EXPECT_EQ(options.kind, attention::AttentionKind::Srformer);
  EXPECT_EQ(options.segment_size, 32);
  EXPECT_EQ(options.gen_len, 16);
  EXPECT_EQ(options.semantics, attention::Semantics::Causal);
  const auto model = load_model(folder.path(), options);
  EXPECT_EQ(model->attention_options().kind, attention::AttentionKind::Srformer);

  folder.edit_config([](nlohmann::json& j) { j["cross_attention"] = {{"kind", "sparse"}}; });
  EXPECT_THAT(message_of<OptionError>([&] { cross_attention_options_from_config(folder.path()); }),
              HasSubstr("'sparse'"));
  folder.edit_config([](nlohmann::json& j) { j["cross_attention"] = {{"segment_size", 0}}; });
  EXPECT_THAT(message_of<OptionError>([&] { cross_attention_options_from_config(folder.path()); }),
              HasSubstr("segment size"));
}

TEST(CrossAttentionFromConfig, SrformerWithoutRafParametersIsRefusedByName) {
  auto options = attention::defaults_for(attention::ModelFlavor::T5);
  options.kind = attention::AttentionKind::Srformer;
  const auto message = message_of<ConfigError>([&] { load_model(testing::data_dir() / "hf-tiny" / "t5_tiny", options); });
  EXPECT_THAT(message, HasSubstr("SNN_kv.weight"));
  EXPECT_THAT(message, HasSubstr("allow_fresh_raf_parameters"));
  options.allow_fresh_raf_parameters = true;
  EXPECT_NO_THROW(load_model(testing::data_dir() / "hf-tiny" / "t5_tiny", options));
  options.kind = attention::AttentionKind::Segmented;
  options.allow_fresh_raf_parameters = false;
  EXPECT_NO_THROW(load_model(testing::data_dir() / "hf-tiny" / "t5_tiny", options));
}

}  // namespace
}  // namespace srformer
