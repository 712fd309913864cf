// The encoder and decoder of T5 v1.0, T5 v1.1 and BART (plain and scaled
// embeddings) against HuggingFace transformers 5.17 on tiny seeded models:
// every hidden state, encoder output and teacher-forced logits, padded batch
// and single sequence, and incremental decoding through the KV cache.
#include <gtest/gtest.h>

#include "srformer/attention/full_cross_attention.hpp"
#include "srformer/models/encoder_decoder.hpp"
#include "srformer/models/load.hpp"
#include "support/golden.hpp"

namespace srformer {
namespace {

using testing::expect_close;
using Model = EncoderDecoder<attention::FullCrossAttention>;

/// Full cross-attention that also hands its weights to the test, as HF's
/// output_attentions does (one entry per call: per layer, per batch row).
struct RecordingFullCrossAttention : attention::FullCrossAttention {
  static inline std::vector<RowMatrix>* sink = nullptr;
  void attend(const Parameters& params, const Memory& memory, State& state, Index memory_row,
              const Eigen::Ref<const RowMatrix>& queries, Index first_position, attention::QueryMode mode,
              Eigen::Ref<RowMatrix> out, attention::FlopCounter* flops = nullptr) const {
    RowMatrix probabilities;
    attend_traced(params, memory, state, memory_row, queries, first_position, mode, out, flops, &probabilities);
    if (sink) sink->push_back(std::move(probabilities));
  }
};

constexpr double kTolerance = 1e-4;        // against HF
using testing::cache_tolerance;

class HfTinyGolden : public ::testing::TestWithParam<std::string> {
 protected:
  std::filesystem::path folder() const { return testing::data_dir() / "hf-tiny" / GetParam(); }
};

TEST_P(HfTinyGolden, EncoderHiddenStatesAndLogitsMatchHuggingFace) {
  const Model model(load_model_weights(folder()), {});
  const auto golden = io::Checkpoint::open(folder() / "golden.safetensors");
  const auto ids = golden.int64_tensor("input_ids");
  const auto mask = golden.int64_tensor("attention_mask");
  const Index B = golden.info("input_ids").shape[0], S = golden.info("input_ids").shape[1];
  const auto batch = TokenBatch::from_ids(B, S, testing::to_tokens(ids), testing::to_mask(mask));

  std::vector<RowMatrix> encoder_states;
  const auto encoded = model.encode(batch, &encoder_states);
  expect_close(encoded->hidden(), golden.tensor("encoder_last_hidden_state"), kTolerance, "encoder_last_hidden_state");
  for (std::size_t i = 0; i < encoder_states.size(); ++i)
    expect_close(encoder_states[i], golden.tensor("encoder_hidden_states." + std::to_string(i)), kTolerance,
                 "encoder_hidden_states." + std::to_string(i));
  ASSERT_TRUE(golden.contains("encoder_hidden_states." + std::to_string(encoder_states.size() - 1)));
  ASSERT_FALSE(golden.contains("encoder_hidden_states." + std::to_string(encoder_states.size())));

  const auto dec_ids = testing::to_tokens(golden.int64_tensor("decoder_input_ids"));
  const Index T = golden.info("decoder_input_ids").shape[1];
  auto state = model.start(*encoded, {0, 1});
  RowMatrix logits;
  std::vector<RowMatrix> decoder_states;
  model.decode(*encoded, state, dec_ids, T, attention::QueryMode::Incremental, logits, true, &decoder_states);
  expect_close(logits, golden.tensor("logits"), kTolerance, "logits (teacher forced, batch)");
  for (std::size_t i = 0; i < decoder_states.size(); ++i)
    expect_close(decoder_states[i], golden.tensor("decoder_hidden_states." + std::to_string(i)), kTolerance,
                 "decoder_hidden_states." + std::to_string(i));

  // Incremental decoding through the KV cache gives the teacher-forced logits.
  auto step_state = model.start(*encoded, {0, 1}, 4);  // small capacity: exercises cache growth
  RowMatrix step_logits, all_steps(B * T, logits.cols());
  for (Index t = 0; t < T; ++t) {
    model.decode(*encoded, step_state, {dec_ids[t], dec_ids[T + t]}, 1, attention::QueryMode::Incremental,
                 step_logits);
    for (Index b = 0; b < B; ++b) all_steps.row(b * T + t) = step_logits.row(b);
  }
  const auto d = testing::compare(all_steps, logits);
  std::printf("  incremental vs teacher-forced: max|Δ| = %.3g (tolerance %.3g)\n", d.max_abs, cache_tolerance(logits));
  EXPECT_LE(d.max_abs, cache_tolerance(logits));
}

TEST_P(HfTinyGolden, SingleUnpaddedSequenceMatchesHuggingFace) {
  const Model model(load_model_weights(folder()), {});
  const auto golden = io::Checkpoint::open(folder() / "golden.safetensors");
  const auto ids = testing::to_tokens(golden.int64_tensor("single.input_ids"));
  const auto encoded = model.encode(TokenBatch::from_sequences({ids}, model.config().pad_token_id));
  const auto dec_ids = testing::to_tokens(golden.int64_tensor("single.decoder_input_ids"));
  auto state = model.start(*encoded, {0});
  RowMatrix logits;
  model.decode(*encoded, state, dec_ids, static_cast<Index>(dec_ids.size()), attention::QueryMode::Incremental,
               logits, true);
  expect_close(logits, golden.tensor("single.logits"), kTolerance, "single.logits");
}

// Only the BART goldens record cross_attentions.
class HfTinyBartGolden : public HfTinyGolden {};

TEST_P(HfTinyBartGolden, CrossAttentionProbabilitiesMatchHuggingFace) {
  const auto golden = io::Checkpoint::open(folder() / "golden.safetensors");
  const EncoderDecoder<RecordingFullCrossAttention> model(load_model_weights(folder()), {});
  const Index B = golden.info("input_ids").shape[0], S = golden.info("input_ids").shape[1];
  const auto batch = TokenBatch::from_ids(B, S, testing::to_tokens(golden.int64_tensor("input_ids")),
                                          testing::to_mask(golden.int64_tensor("attention_mask")));
  const auto encoded = model.encode(batch);
  const auto dec_ids = testing::to_tokens(golden.int64_tensor("decoder_input_ids"));
  const Index T = golden.info("decoder_input_ids").shape[1];
  std::vector<RowMatrix> calls;
  RecordingFullCrossAttention::sink = &calls;
  auto state = model.start(*encoded, {0, 1});
  RowMatrix logits;
  model.decode(*encoded, state, dec_ids, T, attention::QueryMode::Incremental, logits, true);
  RecordingFullCrossAttention::sink = nullptr;
  const Index layers = model.config().decoder_layers, heads = model.config().decoder_heads;
  ASSERT_EQ(static_cast<Index>(calls.size()), layers * B);
  for (Index l = 0; l < layers; ++l) {
    // HF layout [B, heads, T, S]; ours per (layer, row): [heads * T, S].
    RowMatrix ours(B * heads * T, S);
    for (Index b = 0; b < B; ++b) ours.middleRows(b * heads * T, heads * T) = calls[static_cast<std::size_t>(l * B + b)];
    expect_close(ours, golden.tensor("cross_attentions." + std::to_string(l)), kTolerance,
                 "cross_attentions." + std::to_string(l));
  }
}

INSTANTIATE_TEST_SUITE_P(Models, HfTinyGolden,
                         ::testing::Values("t5_tiny", "t5v11_tiny", "bart_tiny", "bart_tiny_scaled"));
INSTANTIATE_TEST_SUITE_P(Models, HfTinyBartGolden, ::testing::Values("bart_tiny", "bart_tiny_scaled"));

}  // namespace
}  // namespace srformer
