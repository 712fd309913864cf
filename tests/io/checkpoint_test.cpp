#include "srformer/io/checkpoint.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "io/safetensors_test_support.hpp"
#include "srformer/io/json.hpp"

namespace srformer {
namespace {

using ::testing::HasSubstr;
using io::Checkpoint;
using io::DType;
using test::make_safetensors;
using test::TempDir;
using test::write_bytes;

const std::filesystem::path kDataDir = SRFORMER_TEST_DATA_DIR;
const std::filesystem::path kT5Demo = std::filesystem::path(SRFORMER_MODELS_DIR "/t5-demo");
const std::filesystem::path kT5Tiny = kDataDir / "hf-tiny/t5_tiny";

std::string floats(const std::vector<float>& values) { return test::bytes_of(values); }

// --------------------------------------------------------------- real folders

TEST(Checkpoint, OpensShardedDemoModel) {
  const auto checkpoint = Checkpoint::open(kT5Demo);
  EXPECT_EQ(checkpoint.folder(), kT5Demo);
  EXPECT_EQ(checkpoint.size(), 98u);
  EXPECT_EQ(checkpoint.names().size(), 98u);
  ASSERT_EQ(checkpoint.files().size(), 4u);
  EXPECT_EQ(checkpoint.files()[0], kT5Demo / "model-00001-of-00004.safetensors");
  EXPECT_EQ(checkpoint.files()[3], kT5Demo / "model-00004-of-00004.safetensors");

  // Every tensor of the index is reachable, from the shard the index names.
  const auto index = io::read_json_file(kT5Demo / "model.safetensors.index.json");
  for (const auto& item : index.at("weight_map").items()) {
    ASSERT_TRUE(checkpoint.contains(item.key())) << item.key();
    EXPECT_EQ(checkpoint.file_of(item.key()).path(), kT5Demo / item.value().get<std::string>());
  }

  const auto& lm_head_info = checkpoint.info("lm_head.weight");
  EXPECT_EQ(lm_head_info.dtype, DType::F32);
  EXPECT_EQ(lm_head_info.shape, (Shape{8000, 256}));

  // Untied v1.1 layout: both present, different values (reference values from Python's struct).
  const FloatTensor lm_head = checkpoint.tensor("lm_head.weight", {8000, 256});
  const FloatTensor shared = checkpoint.tensor("shared.weight", {8000, 256});
  EXPECT_FLOAT_EQ(lm_head.data()[0], 0.12968210875988007f);
  EXPECT_FLOAT_EQ(lm_head.data()[1], -0.13652653992176056f);
  EXPECT_FLOAT_EQ(lm_head.data()[lm_head.numel() - 1], -0.07486613094806671f);
  EXPECT_NEAR(std::accumulate(lm_head.data(), lm_head.data() + lm_head.numel(), 0.0), 3373.233990885915, 1e-7);
  EXPECT_FLOAT_EQ(shared.data()[0], 1.0720984935760498f);
  EXPECT_FLOAT_EQ(shared.data()[shared.numel() - 1], 1.177319884300232f);
  EXPECT_NEAR(std::accumulate(shared.data(), shared.data() + shared.numel(), 0.0), 533.642294372376, 1e-7);

  // Zero copy from the shard's mapping.
  const auto& shard = checkpoint.file_of("lm_head.weight");
  EXPECT_EQ(reinterpret_cast<const unsigned char*>(lm_head.data()), shard.tensor_bytes("lm_head.weight"));
}

TEST(Checkpoint, OpensSingleFileFolderAndPaths) {
  const auto from_folder = Checkpoint::open(kT5Tiny);
  EXPECT_EQ(from_folder.folder(), kT5Tiny);
  EXPECT_EQ(from_folder.size(), 47u);
  ASSERT_EQ(from_folder.files().size(), 1u);
  EXPECT_EQ(from_folder.files()[0], kT5Tiny / "model.safetensors");

  const auto from_file = Checkpoint::open(kT5Tiny / "model.safetensors");
  EXPECT_EQ(from_file.folder(), kT5Tiny);
  EXPECT_EQ(from_file.names(), from_folder.names());

  const auto from_index = Checkpoint::open(kT5Demo / "model.safetensors.index.json");
  EXPECT_EQ(from_index.folder(), kT5Demo);
  EXPECT_EQ(from_index.size(), 98u);
}

TEST(Checkpoint, TiedEmbeddingsResolveThroughAliases) {
  const auto checkpoint = Checkpoint::open(kT5Tiny);
  EXPECT_FALSE(checkpoint.contains("lm_head.weight"));
  EXPECT_FALSE(checkpoint.contains("encoder.embed_tokens.weight"));
  const FloatTensor head =
      checkpoint.tensor_or_alias({"lm_head.weight", "shared.weight", "model.shared.weight"}, {1000, 64});
  EXPECT_EQ(head.name(), "shared.weight");
  EXPECT_FLOAT_EQ(head.data()[0], -0.11931035667657852f);

  // The first present candidate wins even when a later one exists too.
  const auto demo = Checkpoint::open(kT5Demo);
  EXPECT_EQ(demo.tensor_or_alias({"lm_head.weight", "shared.weight"}, {8000, 256}).name(), "lm_head.weight");
  EXPECT_EQ(demo.tensor_or_alias({"model.shared.weight", "shared.weight"}, {8000, 256}).name(), "shared.weight");
}

TEST(Checkpoint, ReadsGoldenIds) {
  const auto golden = Checkpoint::open(kT5Tiny / "golden.safetensors");
  EXPECT_EQ(golden.info("input_ids").dtype, DType::I64);
  EXPECT_EQ(golden.info("input_ids").shape, (Shape{2, 300}));
  const auto ids = golden.int64_tensor("input_ids");
  ASSERT_EQ(ids.size(), 600u);
  EXPECT_EQ(ids[0], 271);
  EXPECT_EQ(ids[300 + 172], 1);  // </s> of the 173-token second row
  EXPECT_EQ(ids[300 + 173], 0);  // then padding
  EXPECT_EQ(std::accumulate(ids.begin(), ids.end(), std::int64_t{0}), 231413);
}

TEST(Checkpoint, ConcurrentReadsFromShards) {
  const auto checkpoint = Checkpoint::open(kT5Demo);
  const auto names = checkpoint.names();
  std::vector<double> sums(6, 0.0);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < sums.size(); ++t)
    threads.emplace_back([&, t] {
      double total = 0.0;
      for (const auto& name : names) {
        const auto tensor = checkpoint.tensor(name);
        total += std::accumulate(tensor.data(), tensor.data() + tensor.numel(), 0.0);
      }
      sums[t] = total;
    });
  for (auto& thread : threads) thread.join();
  for (double sum : sums) EXPECT_EQ(sum, sums[0]);
  EXPECT_NE(sums[0], 0.0);
}

// ---------------------------------------------------------------- lookups

TEST(CheckpointErrors, MissingTensorNamesFolderAndTensor) {
  const auto checkpoint = Checkpoint::open(kT5Tiny);
  try {
    checkpoint.tensor("lm_head.weight");
    FAIL() << "expected TensorError";
  } catch (const TensorError& e) {
    EXPECT_EQ(std::string(e.what()), "checkpoint " + kT5Tiny.string() + ": missing tensor 'lm_head.weight'");
  }
  EXPECT_THROW(checkpoint.info("nope"), TensorError);
  EXPECT_THROW(checkpoint.int64_tensor("nope"), TensorError);
}

TEST(CheckpointErrors, WrongShapeNamesTensorAndBothShapes) {
  const auto checkpoint = Checkpoint::open(kT5Demo);
  try {
    checkpoint.tensor("shared.weight", {8000, 512});
    FAIL() << "expected TensorError";
  } catch (const TensorError& e) {
    EXPECT_THAT(e.what(), HasSubstr(kT5Demo.string()));
    EXPECT_THAT(e.what(), HasSubstr("tensor 'shared.weight' has shape [8000, 256] but shape [8000, 512] is expected"));
  }
  // The shape check also applies through an alias.
  EXPECT_THROW(checkpoint.tensor_or_alias({"lm_head.weight"}, {256, 8000}), TensorError);
}

TEST(CheckpointErrors, NoAliasPresentListsEveryCandidate) {
  const auto checkpoint = Checkpoint::open(kT5Tiny);
  try {
    checkpoint.tensor_or_alias({"lm_head.weight", "model.shared.weight", "decoder.embed_tokens.weight"}, {1000, 64});
    FAIL() << "expected TensorError";
  } catch (const TensorError& e) {
    EXPECT_THAT(e.what(), HasSubstr(kT5Tiny.string()));
    EXPECT_THAT(e.what(),
                HasSubstr("none of 'lm_head.weight', 'model.shared.weight', 'decoder.embed_tokens.weight' is present"));
  }
  EXPECT_THROW(checkpoint.tensor_or_alias({}, {1000, 64}), TensorError);
}

TEST(CheckpointErrors, WrongDtypeNamesTensor) {
  const auto golden = Checkpoint::open(kT5Tiny / "golden.safetensors");
  try {
    golden.tensor("input_ids");
    FAIL() << "expected TensorError";
  } catch (const TensorError& e) {
    EXPECT_THAT(e.what(), HasSubstr("'input_ids' has dtype I64"));
  }
  EXPECT_THROW(golden.int64_tensor("logits"), TensorError);
}

// ----------------------------------------------------------- bad folders

// A small sharded checkpoint: a, b in shard 1; c (BF16) in shard 2.
void write_sharded(const TempDir& dir, const std::string& index_text) {
  write_bytes(dir / "model-00001-of-00002.safetensors",
              make_safetensors({{"a", "F32", {2}, floats({1.0f, 2.0f})}, {"b", "F32", {1}, floats({3.0f})}}));
  write_bytes(dir / "model-00002-of-00002.safetensors",
              make_safetensors({{"c", "BF16", {2}, test::bytes_of(std::vector<std::uint16_t>{0x3f80, 0xc000})}}));
  write_bytes(dir / "model.safetensors.index.json", index_text);
}

const std::string kGoodIndex = R"({"metadata": {"total_size": 16}, "weight_map": {
  "a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors",
  "c": "model-00002-of-00002.safetensors"}})";

// Opens `path`, expects a FormatError and returns its message.
std::string open_error(const std::filesystem::path& path) {
  try {
    Checkpoint::open(path);
  } catch (const FormatError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
    return {};
  }
  ADD_FAILURE() << "no FormatError for " << path;
  return {};
}

TEST(Checkpoint, GeneratedShardedCheckpointConvertsBf16) {
  TempDir dir;
  write_sharded(dir, kGoodIndex);
  const auto checkpoint = Checkpoint::open(dir.path());
  EXPECT_EQ(checkpoint.names(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(checkpoint.tensor("a", {2}).data()[1], 2.0f);
  EXPECT_EQ(checkpoint.info("c").dtype, DType::BF16);
  const auto c = checkpoint.tensor("c", {2});
  EXPECT_EQ(c.data()[0], 1.0f);
  EXPECT_EQ(c.data()[1], -2.0f);
}

TEST(Checkpoint, SingleFilePreferredOverIndexAndUnlistedShardTensorsIgnored) {
  TempDir dir;
  write_sharded(dir, R"({"weight_map": {"a": "model-00001-of-00002.safetensors"}})");
  // Only "a" is listed: "b" in the same shard and the unlisted shard are not part of the checkpoint.
  const auto sharded = Checkpoint::open(dir.path());
  EXPECT_EQ(sharded.names(), (std::vector<std::string>{"a"}));
  EXPECT_EQ(sharded.files().size(), 1u);

  write_bytes(dir / "model.safetensors", make_safetensors({{"single", "F32", {1}, floats({9.0f})}}));
  const auto single = Checkpoint::open(dir.path());
  EXPECT_EQ(single.names(), (std::vector<std::string>{"single"}));
}

TEST(CheckpointErrors, MissingShardOfRealModel) {
  TempDir dir;
  // The demo model with its third shard gone (links instead of 54 MB of copies).
  std::filesystem::copy_file(kT5Demo / "model.safetensors.index.json", dir / "model.safetensors.index.json");
  for (const char* shard : {"model-00001-of-00004.safetensors", "model-00002-of-00004.safetensors",
                            "model-00004-of-00004.safetensors"})
    std::filesystem::create_symlink(std::filesystem::absolute(kT5Demo / shard), dir / shard);
  const std::string message = open_error(dir.path());
  EXPECT_THAT(message, HasSubstr("checkpoint " + dir.path().string()));
  EXPECT_THAT(message, HasSubstr("shard 'model-00003-of-00004.safetensors' listed in model.safetensors.index.json"));
  EXPECT_THAT(message, HasSubstr("and 40 more) does not exist"));
}

TEST(CheckpointErrors, TensorMissingFromItsShard) {
  TempDir dir;
  write_sharded(dir, R"({"weight_map": {"a": "model-00001-of-00002.safetensors",
                                        "c": "model-00001-of-00002.safetensors"}})");
  EXPECT_THAT(open_error(dir.path()),
              HasSubstr("shard 'model-00001-of-00002.safetensors' does not contain tensor 'c' that "
                        "model.safetensors.index.json maps to it"));
}

TEST(CheckpointErrors, BadIndexFiles) {
  TempDir dir;
  const auto index = (dir / "model.safetensors.index.json").string();
  write_sharded(dir, R"({"weight_map": {"a": "model-00001-of-00002.safetensors",)");
  EXPECT_THAT(open_error(dir.path()), HasSubstr("file " + index + ": invalid JSON"));

  write_sharded(dir, R"(["model-00001-of-00002.safetensors"])");
  EXPECT_THAT(open_error(dir.path()), HasSubstr("file " + index + ": top level is a JSON array, not an object"));

  write_sharded(dir, R"({"metadata": {}})");
  EXPECT_THAT(open_error(dir.path()), HasSubstr("file " + index + ": no \"weight_map\" object"));

  write_sharded(dir, R"({"weight_map": {}})");
  EXPECT_THAT(open_error(dir.path()), HasSubstr("\"weight_map\" lists no tensors"));

  write_sharded(dir, R"({"weight_map": {"a": 1}})");
  EXPECT_THAT(open_error(dir.path()),
              HasSubstr("\"weight_map\" entry for tensor 'a' is a JSON number, not a shard file name"));

  write_sharded(dir, R"({"weight_map": {"a": "../model-00001-of-00002.safetensors"}})");
  EXPECT_THAT(open_error(dir.path()),
              HasSubstr("shard name '../model-00001-of-00002.safetensors' for tensor 'a' is not a file name inside"));

  write_sharded(dir, R"({"weight_map": {"a": "/etc/passwd"}})");
  EXPECT_THAT(open_error(dir.path()), HasSubstr("shard name '/etc/passwd'"));
}

TEST(CheckpointErrors, CorruptShardNamesTheShard) {
  TempDir dir;
  write_sharded(dir, kGoodIndex);
  const auto shard = dir / "model-00002-of-00002.safetensors";
  const std::string bytes = test::read_bytes(shard);
  write_bytes(shard, bytes.substr(0, bytes.size() - 2));  // truncated download
  const std::string message = open_error(dir.path());
  EXPECT_THAT(message, HasSubstr(shard.string()));
  EXPECT_THAT(message, HasSubstr("tensor 'c'"));
  EXPECT_THAT(message, HasSubstr("file truncated"));
}

TEST(CheckpointErrors, FolderWithoutWeights) {
  TempDir dir;
  EXPECT_THAT(open_error(dir.path()), HasSubstr("checkpoint " + dir.path().string() +
                                                ": folder has neither model.safetensors nor "
                                                "model.safetensors.index.json"));
  write_bytes(dir / "pytorch_model.bin", "pickle");
  EXPECT_THAT(open_error(dir.path()), HasSubstr("only pytorch_model.bin, which is not supported"));
  EXPECT_THAT(open_error(dir / "absent"), HasSubstr("checkpoint " + (dir / "absent").string() + " does not exist"));
}

}  // namespace
}  // namespace srformer
