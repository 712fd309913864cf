// Whole-model goldens from the SRformer authors' code (paper semantics): T5 and
// BART, full / segmented / srformer, padded batch and single sequence:
// teacher-forced eval (t = 0), training-style mapping, stepwise (cached), greedy
// decoding with its per-step scores, and the RAF state tensors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "srformer/attention/full_cross_attention.hpp"
#include "srformer/attention/segmented_cross_attention.hpp"
#include "srformer/attention/srformer_cross_attention.hpp"
#include "srformer/io/json.hpp"
#include "srformer/models/encoder_decoder.hpp"
#include "srformer/models/load.hpp"
#include "support/golden.hpp"

namespace srformer {
namespace {

using attention::QueryMode;
using testing::expect_close;

// State tensors (KᵀV, membranes) reach magnitudes of 100-760, where one float32
// ulp is up to 6e-5, and our encoder differs from torch's by ~1e-6 (summation
// order): compare them at 1e-5 of their largest magnitude. Bit-level state checks
// (from the authors' own inputs) are in the module-level replay test. BART's
// KᵀV is clamped to [-2, 2], but the sums it clamps reach the hundreds, hence
// the floor of 4 on the scale.
void expect_state_close(const RowMatrix& actual, const FloatTensor& reference, const std::string& what) {
  const double scale = std::max(4.0, static_cast<double>(reference.vector().cwiseAbs().maxCoeff()));
  expect_close(actual, reference, 1e-5 * scale, what + " (scale " + std::to_string(static_cast<int>(scale)) + ")");
}

struct Case {
  std::string model;    // t5 | bart
  std::string variant;  // full | segmented | srformer
  std::string set;      // batch | single
};

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return info.param.model + "_" + info.param.variant + "_" + info.param.set;
}

std::filesystem::path folder(const std::string& model) { return testing::data_dir() / "srformer-official" / model; }

attention::CrossAttentionOptions options_for(const Case& c) {
  auto options = attention::defaults_for(c.model == "t5" ? attention::ModelFlavor::T5 : attention::ModelFlavor::Bart);
  options.kind = attention::parse_attention_kind(c.variant);
  options.gen_len = 16;  // what the goldens were made with
  options.semantics = attention::Semantics::Paper;
  return options;
}

template <class Policy>
void run_case(const Case& c) {
  const EncoderDecoder<Policy> model(load_model_weights(folder(c.model)), options_for(c));
  const auto golden = io::Checkpoint::open(folder(c.model) / c.variant / "golden.safetensors");
  const std::string p = c.set + ".";
  const auto& ids_info = golden.info(p + "input_ids");
  const Index B = ids_info.shape[0], S = ids_info.shape[1];
  const auto batch = TokenBatch::from_ids(B, S, testing::to_tokens(golden.int64_tensor(p + "input_ids")),
                                          testing::to_mask(golden.int64_tensor(p + "attention_mask")));
  const auto encoded = model.encode(batch);
  expect_close(encoded->hidden(), golden.tensor(p + "encoder_last_hidden_state"), 1e-4, p + "encoder_last_hidden_state");

  const auto dec_ids = testing::to_tokens(golden.int64_tensor(p + "decoder_input_ids"));
  const Index T = golden.info(p + "decoder_input_ids").shape[1];
  std::vector<Index> rows(static_cast<std::size_t>(B));
  for (Index b = 0; b < B; ++b) rows[static_cast<std::size_t>(b)] = b;
  constexpr bool recurrent = std::is_same_v<Policy, attention::SrformerCrossAttention>;

  // Their plain eval forward: t = 0, so every position uses segment 0.
  {
    auto state = model.start(*encoded, rows, T);
    RowMatrix logits;
    model.decode(*encoded, state, dec_ids, T, QueryMode::PaperEvalAtT, logits, true);
    expect_close(logits, golden.tensor(p + "logits_tf_eval"), 1e-4, p + "logits_tf_eval");
    if constexpr (recurrent) {
      for (Index l = 0; l < model.config().decoder_layers; ++l) {
        const std::string layer = "tf_eval.layer" + std::to_string(l) + ".";
        RowMatrix kv(B * 4 * 16, 16), raf_out(B * 4 * 16, 16), membrane(B * 4 * 16, 16);
        for (Index b = 0; b < B; ++b) {
          kv.middleRows(b * 64, 64) = encoded->cross_memory(l).kv_total[static_cast<std::size_t>(b)];
          raf_out.middleRows(b * 64, 64) = state.cross_state[static_cast<std::size_t>(l)][static_cast<std::size_t>(b)].output;
          membrane.middleRows(b * 64, 64) = state.cross_state[static_cast<std::size_t>(l)][static_cast<std::size_t>(b)].membrane;
        }
        expect_state_close(kv, golden.tensor(p + layer + "kv_mem"), p + layer + "kv_mem");
        expect_state_close(raf_out, golden.tensor(p + layer + "raf_out"), p + layer + "raf_out");
        expect_state_close(membrane, golden.tensor(p + layer + "snn_mem"), p + layer + "snn_mem");
      }
    }
  }
  if (c.variant == "full") {
    // Their full variant has no segment logic: stepwise and train equal tf_eval (stored once).
  } else {
    // Training-style forward: per-query segments.
    auto state = model.start(*encoded, rows, T);
    RowMatrix logits;
    model.decode(*encoded, state, dec_ids, T, QueryMode::PaperTraining, logits, true);
    expect_close(logits, golden.tensor(p + "logits_tf_train"), 1e-4, p + "logits_tf_train");
    if constexpr (recurrent) {
      for (Index l = 0; l < model.config().decoder_layers; ++l) {
        RowMatrix membrane(B * 64, 16);
        for (Index b = 0; b < B; ++b)
          membrane.middleRows(b * 64, 64) = state.cross_state[static_cast<std::size_t>(l)][static_cast<std::size_t>(b)].membrane;
        const std::string name = p + "tf_train.layer" + std::to_string(l) + ".snn_mem";
        expect_state_close(membrane, golden.tensor(name), name);
      }
    }
    // Stepwise with the cache: position k at t = k, one token per call.
    auto step_state = model.start(*encoded, rows, T);
    RowMatrix step_logits, all(B * T, model.config().vocab_size);
    for (Index t = 0; t < T; ++t) {
      std::vector<TokenId> tokens;
      for (Index b = 0; b < B; ++b) tokens.push_back(dec_ids[static_cast<std::size_t>(b * T + t)]);
      model.decode(*encoded, step_state, tokens, 1, QueryMode::Incremental, step_logits);
      for (Index b = 0; b < B; ++b) all.row(b * T + t) = step_logits.row(b);
    }
    expect_close(all, golden.tensor(p + "logits_tf_stepwise"), 1e-4, p + "logits_tf_stepwise");
    if constexpr (recurrent) {
      for (Index l = 0; l < model.config().decoder_layers; ++l) {
        RowMatrix membrane(B * 64, 16);
        for (Index b = 0; b < B; ++b)
          membrane.middleRows(b * 64, 64) =
              step_state.cross_state[static_cast<std::size_t>(l)][static_cast<std::size_t>(b)].membrane;
        const std::string name = p + "tf_stepwise.layer" + std::to_string(l) + ".snn_mem_final";
        expect_state_close(membrane, golden.tensor(name), name);
      }
      // Feeding all 20 positions in one Incremental call equals stepping.
      auto block_state = model.start(*encoded, rows, T);
      RowMatrix block_logits;
      model.decode(*encoded, block_state, dec_ids, T, QueryMode::Incremental, block_logits, true);
      const auto d = testing::compare(block_logits, all);
      std::printf("  %-48s max|Δ| = %.3g\n", "one call vs stepwise", d.max_abs);
      EXPECT_LE(d.max_abs, testing::cache_tolerance(all));
    }
  }

  // Greedy decoding as their greedy_search: t = cur_len - 1, HF pads finished rows.
  const auto expected_sequences = golden.int64_tensor(p + "greedy_sequences");
  const auto scores = golden.tensor(p + "greedy_scores");  // [19, B, vocab]
  const Index steps = scores.dim(0), V = scores.dim(2);
  auto state = model.start(*encoded, rows, steps + 1);
  std::vector<TokenId> current(static_cast<std::size_t>(B), model.config().decoder_start_token_id);
  std::vector<char> finished(static_cast<std::size_t>(B), 0);
  std::vector<std::vector<TokenId>> sequences(static_cast<std::size_t>(B), {model.config().decoder_start_token_id});
  RowMatrix logits, all_scores(steps * B, V);
  for (Index t = 0; t < steps; ++t) {
    model.decode(*encoded, state, current, 1, QueryMode::Incremental, logits);
    all_scores.middleRows(t * B, B) = logits;
    for (Index b = 0; b < B; ++b) {
      Index best = 0;
      logits.row(b).maxCoeff(&best);
      auto& f = finished[static_cast<std::size_t>(b)];
      const TokenId next = f ? model.config().pad_token_id : static_cast<TokenId>(best);
      if (next == model.config().eos_token_id) f = 1;
      current[static_cast<std::size_t>(b)] = next;
      sequences[static_cast<std::size_t>(b)].push_back(next);
    }
  }
  for (Index b = 0; b < B; ++b)
    for (Index t = 0; t <= steps; ++t)
      ASSERT_EQ(sequences[static_cast<std::size_t>(b)][static_cast<std::size_t>(t)],
                expected_sequences[static_cast<std::size_t>(b * (steps + 1) + t)])
          << "row " << b << " position " << t;
  expect_close(all_scores, scores, 1e-4, p + "greedy_scores");
}

class SrformerOfficialGolden : public ::testing::TestWithParam<Case> {};

TEST_P(SrformerOfficialGolden, MatchesTheAuthorsCode) {
  const Case& c = GetParam();
  if (c.variant == "full")
    run_case<attention::FullCrossAttention>(c);
  else if (c.variant == "segmented")
    run_case<attention::SegmentedCrossAttention>(c);
  else
    run_case<attention::SrformerCrossAttention>(c);
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (const char* model : {"t5", "bart"})
    for (const char* variant : {"full", "segmented", "srformer"})
      for (const char* set : {"batch", "single"}) cases.push_back({model, variant, set});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(AllVariants, SrformerOfficialGolden, ::testing::ValuesIn(all_cases()), case_name);

}  // namespace
}  // namespace srformer
