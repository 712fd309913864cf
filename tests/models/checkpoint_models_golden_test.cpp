// Real trained weights (the bundled demo T5: sharded, untied lm_head, gated-gelu,
// unscaled head) and HF's caikit tiny T5 (5+5 layers, 8 buckets), teacher-forced,
// against transformers 5.17 in float32.
#include <gtest/gtest.h>

#include "srformer/attention/full_cross_attention.hpp"
#include "srformer/models/encoder_decoder.hpp"
#include "srformer/models/load.hpp"
#include "support/golden.hpp"

namespace srformer {
namespace {

using testing::expect_close;
using Model = EncoderDecoder<attention::FullCrossAttention>;

void check_item(const Model& model, const io::Checkpoint& golden, const std::string& prefix) {
  const auto ids = testing::to_tokens(golden.int64_tensor(prefix + "input_ids"));
  const auto encoded = model.encode(TokenBatch::from_sequences({ids}, model.config().pad_token_id));
  expect_close(encoded->hidden(), golden.tensor(prefix + "encoder_last_hidden_state"), 1e-4,
               prefix + "encoder_last_hidden_state");
  const auto dec_ids = testing::to_tokens(golden.int64_tensor(prefix + "decoder_input_ids"));
  const Index T = static_cast<Index>(dec_ids.size());
  auto state = model.start(*encoded, {0});
  RowMatrix logits;
  model.decode(*encoded, state, dec_ids, T, attention::QueryMode::Incremental, logits, true);
  expect_close(logits, golden.tensor(prefix + "logits"), 1e-4, prefix + "logits (teacher forced)");

  // Step by step through the KV cache.
  auto step_state = model.start(*encoded, {0});
  RowMatrix step_logits;
  double worst = 0;
  for (Index t = 0; t < T; ++t) {
    model.decode(*encoded, step_state, {dec_ids[static_cast<std::size_t>(t)]}, 1, attention::QueryMode::Incremental,
                 step_logits);
    worst = std::max(worst, static_cast<double>((step_logits.row(0) - logits.row(t)).cwiseAbs().maxCoeff()));
  }
  std::printf("  %-48s max|Δ| = %.3g (tolerance %.3g)\n", (prefix + "incremental vs teacher forced").c_str(), worst,
              testing::cache_tolerance(logits));
  EXPECT_LE(worst, testing::cache_tolerance(logits));
}

TEST(TrainedT5Demo, ShardedUntiedCheckpointMatchesHuggingFace) {
  const Model model(load_model_weights(testing::models_dir() / "t5-demo"), {});
  EXPECT_FALSE(model.config().tie_word_embeddings);
  EXPECT_FALSE(model.config().scale_decoder_outputs);
  EXPECT_EQ(model.weights().output_scale, 1.0f);
  const auto golden = io::Checkpoint::open(testing::data_dir() / "trained-t5-small-demo" / "golden.safetensors");
  check_item(model, golden, "debian-libfsapfs-utils.");
  check_item(model, golden, "xsum-sample-0.");
}

TEST(CaikitTinyT5, LoadsAndMatchesHuggingFace) {
  const Model model(load_model_weights(testing::data_dir() / "caikit-tiny-t5"), {});
  EXPECT_EQ(model.config().relative_attention_num_buckets, 8);
  const auto golden = io::Checkpoint::open(testing::data_dir() / "caikit-tiny-t5" / "golden.safetensors");
  check_item(model, golden, "");
}

}  // namespace
}  // namespace srformer
