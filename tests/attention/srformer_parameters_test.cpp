// Loading the SRformer RAF parameters from checkpoints, and refusing (or freshly
// initialising) them when a checkpoint was not trained with SRformer.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "srformer/attention/full_cross_attention.hpp"
#include "srformer/attention/segmented_cross_attention.hpp"
#include "srformer/attention/srformer_cross_attention.hpp"
#include "support/scratch_dir.hpp"

namespace srformer::attention {
namespace {

const std::string kData = SRFORMER_TEST_DATA_DIR;
const std::string kT5Prefix = "decoder.block.0.layer.1.EncDecAttention.";
const std::string kBartPrefix = "model.decoder.layers.0.encoder_attn.";

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no ConfigError)";
}

/// Writes a float32 safetensors file holding `tensors` (name → shape, values 0.5).
std::filesystem::path write_safetensors(const std::string& file_name,
                                        const std::vector<std::pair<std::string, Shape>>& tensors) {
  const auto& folder = srformer::test::process_scratch_dir().path();
  nlohmann::json header = nlohmann::json::object();
  std::vector<float> data;
  for (const auto& [name, shape] : tensors) {
    const auto begin = data.size() * sizeof(float);
    data.resize(data.size() + static_cast<std::size_t>(shape_numel(shape)), 0.5f);
    header[name] = {{"dtype", "F32"}, {"shape", shape}, {"data_offsets", {begin, data.size() * sizeof(float)}}};
  }
  std::string text = header.dump();
  while (text.size() % 8 != 0) text += ' ';
  const auto path = folder / file_name;
  std::ofstream out(path, std::ios::binary);
  const std::uint64_t size = text.size();
  out.write(reinterpret_cast<const char*>(&size), sizeof size);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size() * sizeof(float)));
  return path;
}

CrossAttentionOptions srformer_options(ModelFlavor flavor) {
  CrossAttentionOptions options = defaults_for(flavor);
  options.kind = AttentionKind::Srformer;
  return options;
}

TEST(SrformerParameters, LoadsTheGoldenModelsRafTensors) {
  const auto t5 = io::Checkpoint::open(kData + "/srformer-official/t5/model.safetensors");
  const auto params = SrformerCrossAttention::load_parameters(t5, kT5Prefix, 16, srformer_options(ModelFlavor::T5));
  EXPECT_FALSE(params.fresh);
  ASSERT_EQ(params.raf.weight.rows(), 16);
  ASSERT_EQ(params.raf.weight.cols(), 16);
  EXPECT_EQ(params.raf.weight, RowMatrix(t5.tensor(kT5Prefix + "SNN_kv.weight").matrix()));
  EXPECT_FLOAT_EQ(params.raf.leak, 0.6f);  // README 5.1 table, layer 0
  EXPECT_FLOAT_EQ(params.raf.threshold, 1.0f);

  const auto bart = io::Checkpoint::open(kData + "/srformer-official/bart/model.safetensors");
  const auto layer1 = SrformerCrossAttention::load_parameters(bart, "model.decoder.layers.1.encoder_attn.", 16,
                                                              srformer_options(ModelFlavor::Bart));
  EXPECT_FLOAT_EQ(layer1.raf.leak, 0.42f);
  EXPECT_FLOAT_EQ(layer1.raf.threshold, 0.36f);
}

TEST(SrformerParameters, PlainCheckpointIsRefusedWithAClearMessage) {
  const auto t5 = io::Checkpoint::open(kData + "/hf-tiny/t5_tiny");
  const std::string message = error_of(
      [&] { SrformerCrossAttention::load_parameters(t5, kT5Prefix, 16, srformer_options(ModelFlavor::T5)); });
  EXPECT_NE(message.find(kT5Prefix + "SNN_kv.weight"), std::string::npos) << message;
  EXPECT_NE(message.find("allow_fresh_raf_parameters"), std::string::npos) << message;
  // Full and segmented need nothing beyond the projections.
  EXPECT_NO_THROW(FullCrossAttention::load_parameters(t5, kT5Prefix, 16, defaults_for(ModelFlavor::T5)));
  EXPECT_NO_THROW(SegmentedCrossAttention::load_parameters(t5, kT5Prefix, 16, defaults_for(ModelFlavor::T5)));
}

TEST(SrformerParameters, FreshInitialisationOnRequest) {
  const auto t5 = io::Checkpoint::open(kData + "/hf-tiny/t5_tiny");
  CrossAttentionOptions options = srformer_options(ModelFlavor::T5);
  options.allow_fresh_raf_parameters = true;
  options.fresh_raf_seed = 3;
  const auto layer0 = SrformerCrossAttention::load_parameters(t5, kT5Prefix, 16, options);
  const auto layer1 =
      SrformerCrossAttention::load_parameters(t5, "decoder.block.1.layer.1.EncDecAttention.", 16, options);
  EXPECT_TRUE(layer0.fresh);
  EXPECT_EQ(layer0.raf.leak, 0.1f);
  EXPECT_EQ(layer0.raf.threshold, 0.1f);
  EXPECT_LE(layer0.raf.weight.cwiseAbs().maxCoeff(), 0.25f);  // U(−1/√16, 1/√16)
  EXPECT_NE(layer0.raf.weight, layer1.raf.weight);           // each layer its own stream
  EXPECT_EQ(SrformerCrossAttention::load_parameters(t5, kT5Prefix, 16, options).raf.weight, layer0.raf.weight);

  const auto bart = io::Checkpoint::open(kData + "/hf-tiny/bart_tiny");
  CrossAttentionOptions bart_options = srformer_options(ModelFlavor::Bart);
  bart_options.allow_fresh_raf_parameters = true;
  const auto bart_params = SrformerCrossAttention::load_parameters(bart, kBartPrefix, 16, bart_options);
  EXPECT_EQ(bart_params.raf.leak, 0.5f);
  EXPECT_EQ(bart_params.raf.threshold, 0.1f);

  // Fresh T5 parameters used on a BART encoder side: the flavor was forgotten.
  RowMatrix keys = RowMatrix::Zero(4, 16), values = RowMatrix::Zero(4, 16);
  std::vector<std::uint8_t> mask(4, 1);
  EncoderSide side{&keys, &values, &mask, 1, 4, 1, 16, ModelFlavor::Bart, -1e9f};
  const std::string message = error_of([&] { SrformerCrossAttention().prepare(layer0, side); });
  EXPECT_NE(message.find("fresh RAF parameters were initialised for t5"), std::string::npos) << message;
}

TEST(SrformerParameters, IncompleteOrMisshapedTensorsAreNamed) {
  const auto partial = io::Checkpoint::open(write_safetensors(
      "partial.safetensors", {{kT5Prefix + "SNN_kv.weight", {16, 16}}, {kT5Prefix + "leak", {1}}}));
  CrossAttentionOptions options = srformer_options(ModelFlavor::T5);
  options.allow_fresh_raf_parameters = true;  // never papers over a half-present layer
  const std::string message =
      error_of([&] { SrformerCrossAttention::load_parameters(partial, kT5Prefix, 16, options); });
  EXPECT_NE(message.find(kT5Prefix + "threshold"), std::string::npos) << message;

  const auto wrong = io::Checkpoint::open(write_safetensors(
      "wrong.safetensors",
      {{kT5Prefix + "SNN_kv.weight", {16, 8}}, {kT5Prefix + "leak", {1}}, {kT5Prefix + "threshold", {1}}}));
  EXPECT_THROW(SrformerCrossAttention::load_parameters(wrong, kT5Prefix, 16, options), TensorError);

  const auto vector_leak = io::Checkpoint::open(write_safetensors(
      "vector_leak.safetensors",
      {{kT5Prefix + "SNN_kv.weight", {16, 16}}, {kT5Prefix + "leak", {2}}, {kT5Prefix + "threshold", {1}}}));
  EXPECT_THROW(SrformerCrossAttention::load_parameters(vector_leak, kT5Prefix, 16, options), TensorError);

  const auto fine = io::Checkpoint::open(write_safetensors(
      "fine.safetensors",
      {{kT5Prefix + "SNN_kv.weight", {16, 16}}, {kT5Prefix + "leak", {1}}, {kT5Prefix + "threshold", {1}}}));
  const auto params = SrformerCrossAttention::load_parameters(fine, kT5Prefix, 16, options);
  EXPECT_FALSE(params.fresh);
  EXPECT_EQ(params.raf.threshold, 0.5f);
  std::filesystem::remove_all(fine.folder());
}

TEST(SrformerParameters, InvalidOptionsAreRefused) {
  const auto t5 = io::Checkpoint::open(kData + "/srformer-official/t5/model.safetensors");
  CrossAttentionOptions options = srformer_options(ModelFlavor::T5);
  options.segment_size = 0;
  EXPECT_THROW(SrformerCrossAttention::load_parameters(t5, kT5Prefix, 16, options), OptionError);
  EXPECT_THROW(SegmentedCrossAttention::load_parameters(t5, kT5Prefix, 16, options), OptionError);
}

}  // namespace
}  // namespace srformer::attention
