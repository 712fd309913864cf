// The RAF state of the authors' whole-model runs (tests/data/srformer-official/
// {t5,bart}/srformer/golden.*, README 5.3–5.4) depends only on the encoder output,
// the layer's k/v/SNN weights and the segment schedule, never on the queries.
// So the paper-semantics SRformer policy alone must reproduce it for every mode:
// tf_eval (PaperEvalAtT at t = 0), tf_train (PaperTraining) and tf_stepwise
// (Incremental, positions 0..19), with their segment schedules.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "srformer/attention/srformer_cross_attention.hpp"
#include "srformer/io/checkpoint.hpp"

namespace srformer::attention {
namespace {

const std::string kDataDir = std::string(SRFORMER_TEST_DATA_DIR) + "/srformer-official/";

double max_abs(const Eigen::Ref<const RowMatrix>& a) { return static_cast<double>(a.cwiseAbs().maxCoeff()); }

/// Same rule as the module-call replay: 1e-5 relative to the field's scale, at least 1e-5.
void expect_close(const RowMatrix& ours, const ConstMatrixMap& reference, const std::string& what, double* worst) {
  const double diff = max_abs(ours - reference);
  *worst = std::max(*worst, diff);
  EXPECT_LE(diff, 1e-5 * std::max(1.0, max_abs(reference))) << what;
}

void check_model(const std::string& model) {
  const bool t5 = model == "t5";
  const ModelFlavor flavor = t5 ? ModelFlavor::T5 : ModelFlavor::Bart;
  const auto weights = io::Checkpoint::open(kDataDir + model + "/model.safetensors");
  const auto golden = io::Checkpoint::open(kDataDir + model + "/srformer/golden.safetensors");
  std::ifstream in(kDataDir + model + "/srformer/golden.json");
  const nlohmann::json index = nlohmann::json::parse(in);
  const Index heads = 4, d = 16, layers = 2, dec_len = index.at("dec_len").get<Index>();
  CrossAttentionOptions options = defaults_for(flavor);
  options.kind = AttentionKind::Srformer;
  options.semantics = Semantics::Paper;
  options.segment_size = index.at("split_size").get<Index>();
  options.gen_len = index.at("gen_len").get<Index>();
  double worst_eval = 0, worst_train = 0, worst_stepwise = 0;
  int compared = 0;

  for (const std::string set : {"batch", "single"}) {
    const nlohmann::json& info = index.at("inputs").at(set);
    const FloatTensor encoder = golden.tensor(set + ".encoder_last_hidden_state");
    const Index B = encoder.dim(0), S = encoder.dim(1), D = encoder.dim(2);
    const std::vector<std::int64_t> mask64 = golden.int64_tensor(set + ".attention_mask");
    const std::vector<std::uint8_t> mask(mask64.begin(), mask64.end());
    const ConstMatrixMap e(encoder.data(), B * S, D);
    for (Index layer = 0; layer < layers; ++layer) {
      SCOPED_TRACE(model + " " + set + " layer " + std::to_string(layer));
      const std::string prefix = t5 ? "decoder.block." + std::to_string(layer) + ".layer.1.EncDecAttention."
                                    : "model.decoder.layers." + std::to_string(layer) + ".encoder_attn.";
      const std::string kn = t5 ? "k" : "k_proj", vn = t5 ? "v" : "v_proj";
      RowMatrix keys = e * weights.tensor(prefix + kn + ".weight").matrix().transpose();
      RowMatrix values = e * weights.tensor(prefix + vn + ".weight").matrix().transpose();
      if (!t5) {
        keys.rowwise() += weights.tensor(prefix + kn + ".bias").vector();
        values.rowwise() += weights.tensor(prefix + vn + ".bias").vector();
      }
      EncoderSide side{&keys, &values, &mask, B, S, heads, d, flavor, t5 ? -1e9f : -3.4028235e38f};
      SrformerCrossAttention policy;
      const auto params = SrformerCrossAttention::load_parameters(weights, prefix, d, options);
      const auto memory = policy.prepare(params, side);
      // The queries do not influence the state; any values will do.
      const RowMatrix queries = RowMatrix::Ones(dec_len, heads * d);
      RowMatrix out(dec_len, heads * d);
      const std::string tf = set + ".";
      const auto layer_name = [&](const std::string& mode, const std::string& field) {
        return tf + mode + ".layer" + std::to_string(layer) + "." + field;
      };
      const auto block = [&](const std::string& name, Index b) {
        const FloatTensor tensor = golden.tensor(name);
        return ConstMatrixMap(tensor.data() + b * heads * d * d, heads * d, d);
      };
      for (Index b = 0; b < B; ++b) {
        const std::string row = " row " + std::to_string(b);
        // tf_eval: t = 0, every query at segment 0, one RAF step on a fresh membrane.
        auto state = policy.initial_state(params, memory);
        AttendTrace trace;
        policy.attend_traced(params, memory, state, b, queries, 0, QueryMode::PaperEvalAtT, out, nullptr, &trace);
        EXPECT_EQ(trace.segment_per_query, info.at("segment_per_query_tf_eval").get<std::vector<Index>>());
        EXPECT_EQ(trace.raf_step_segments, std::vector<Index>{0});
        expect_close(state.membrane, block(layer_name("tf_eval", "snn_mem"), b), "tf_eval snn_mem" + row, &worst_eval);
        expect_close(state.output, block(layer_name("tf_eval", "raf_out"), b), "tf_eval raf_out" + row, &worst_eval);
        expect_close(memory.kv_total[static_cast<std::size_t>(b)], block(layer_name("tf_eval", "kv_mem"), b),
                     "tf_eval kv_mem" + row, &worst_eval);

        // tf_train: per-query segments, one step per distinct segment.
        policy.attend_traced(params, memory, state, b, queries, 0, QueryMode::PaperTraining, out, nullptr, &trace);
        EXPECT_EQ(trace.segment_per_query, info.at("segment_per_query_tf_train").get<std::vector<Index>>());
        expect_close(state.membrane, block(layer_name("tf_train", "snn_mem"), b), "tf_train snn_mem" + row,
                     &worst_train);

        // tf_stepwise: positions 0..19 one call each, t = position.
        std::vector<Index> segments;
        Index steps = 0;
        for (Index t = 0; t < dec_len; ++t) {
          policy.attend_traced(params, memory, state, b, queries.middleRows(t, 1), t, QueryMode::Incremental,
                               out.middleRows(t, 1), nullptr, &trace);
          segments.push_back(trace.segment_per_query.at(0));
          steps += static_cast<Index>(trace.raf_step_segments.size());
        }
        EXPECT_EQ(segments, info.at("segment_per_position_tf_stepwise").get<std::vector<Index>>());
        Index logged_steps = 0;  // the run logs [layer, t] for every step of every layer
        for (const auto& call : info.at("raf_calls_tf_stepwise"))
          if (call.at(0).get<Index>() == layer) ++logged_steps;
        EXPECT_EQ(steps, logged_steps);
        expect_close(state.membrane, block(layer_name("tf_stepwise", "snn_mem_final"), b),
                     "tf_stepwise snn_mem_final" + row, &worst_stepwise);
        compared += 5;
      }
    }
  }
  std::printf("[%s] %d state tensors compared; max|Δ| tf_eval %.3g, tf_train %.3g, tf_stepwise %.3g\n",
              model.c_str(), compared, worst_eval, worst_train, worst_stepwise);
}

TEST(SrformerGoldenState, T5RunsOfTheAuthorsModel) { check_model("t5"); }
TEST(SrformerGoldenState, BartRunsOfTheAuthorsModel) { check_model("bart"); }

}  // namespace
}  // namespace srformer::attention
