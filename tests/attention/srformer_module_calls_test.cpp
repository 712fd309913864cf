// Replays every recorded call of the authors' cross-attention module
// (tests/data/srformer-official/{t5,bart}/module_calls.*, README section 7)
// through our policies alone, with paper semantics, and compares outputs, RAF
// state, RAF inputs and segment choices.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "srformer/attention/full_cross_attention.hpp"
#include "srformer/attention/segmented_cross_attention.hpp"
#include "srformer/attention/srformer_cross_attention.hpp"
#include "srformer/io/checkpoint.hpp"

namespace srformer::attention {
namespace {

const std::string kDataDir = std::string(SRFORMER_TEST_DATA_DIR) + "/srformer-official/";

struct Maxima {
  double pre_proj = 0, output = 0, membrane = 0, raf_output = 0, raf_input = 0, kv = 0;
  // Largest |reference| of each compared field, to judge the differences in float32 ulps.
  double output_scale = 0, membrane_scale = 0, raf_output_scale = 0, raf_input_scale = 0, kv_scale = 0;
  int calls = 0;
  void merge(const Maxima& o) {
    pre_proj = std::max(pre_proj, o.pre_proj);
    output = std::max(output, o.output);
    membrane = std::max(membrane, o.membrane);
    raf_output = std::max(raf_output, o.raf_output);
    raf_input = std::max(raf_input, o.raf_input);
    kv = std::max(kv, o.kv);
    output_scale = std::max(output_scale, o.output_scale);
    membrane_scale = std::max(membrane_scale, o.membrane_scale);
    raf_output_scale = std::max(raf_output_scale, o.raf_output_scale);
    raf_input_scale = std::max(raf_input_scale, o.raf_input_scale);
    kv_scale = std::max(kv_scale, o.kv_scale);
    calls += o.calls;
  }
};

double max_abs_diff(const Eigen::Ref<const RowMatrix>& a, const Eigen::Ref<const RowMatrix>& b) {
  EXPECT_EQ(a.rows(), b.rows());
  EXPECT_EQ(a.cols(), b.cols());
  if (a.rows() != b.rows() || a.cols() != b.cols()) return std::numeric_limits<double>::infinity();
  return static_cast<double>((a - b).cwiseAbs().maxCoeff());
}

double max_abs(const Eigen::Ref<const RowMatrix>& a) { return static_cast<double>(a.cwiseAbs().maxCoeff()); }

/// x Wᵀ + b for x [rows, in], W [out, in].
RowMatrix linear(const Eigen::Ref<const RowMatrix>& x, const FloatTensor& weight, const FloatTensor* bias) {
  RowMatrix y = x * weight.matrix().transpose();
  if (bias) y.rowwise() += bias->vector();
  return y;
}

class ModuleCallReplay {
 public:
  explicit ModuleCallReplay(const std::string& model)
      : model_(model),
        flavor_(model == "t5" ? ModelFlavor::T5 : ModelFlavor::Bart),
        weights_(io::Checkpoint::open(kDataDir + model + "/model.safetensors")),
        tensors_(io::Checkpoint::open(kDataDir + model + "/module_calls.safetensors")) {
    std::ifstream in(kDataDir + model + "/module_calls.json");
    index_ = nlohmann::json::parse(in);
    heads_ = index_.at("n_heads").get<Index>();
    head_dim_ = index_.at("head_dim").get<Index>();
  }

  const nlohmann::json& calls() const { return index_.at("calls"); }

  /// Replays one call; records the largest differences per variant.
  void replay(const nlohmann::json& call) {
    const std::string id = call.at("id").get<std::string>();
    SCOPED_TRACE(model_ + " call " + id);
    const std::string variant = call.at("variant").get<std::string>();
    const std::string prefix = call.at("weights_prefix").get<std::string>();
    const nlohmann::json& names = call.at("tensors");
    const bool t5 = flavor_ == ModelFlavor::T5;

    const FloatTensor hidden = tensor(names, "hidden_states");
    const FloatTensor encoder = tensor(names, "key_value_states");
    const Index B = hidden.dim(0), q = hidden.dim(1), S = encoder.dim(1), D = hidden.dim(2);
    ASSERT_EQ(B, call.at("batch").get<Index>());
    ASSERT_EQ(q, call.at("q").get<Index>());
    ASSERT_EQ(S, call.at("key_length").get<Index>());

    // Projections, as the module does them (BART: bias, then the d^-1/2 scale on q).
    const std::string qn = t5 ? "q" : "q_proj", kn = t5 ? "k" : "k_proj", vn = t5 ? "v" : "v_proj",
                      on = t5 ? "o" : "out_proj";
    const FloatTensor wq = weights_.tensor(prefix + qn + ".weight"), wk = weights_.tensor(prefix + kn + ".weight"),
                      wv = weights_.tensor(prefix + vn + ".weight"), wo = weights_.tensor(prefix + on + ".weight");
    FloatTensor bq, bk, bv, bo;
    if (!t5) {
      bq = weights_.tensor(prefix + qn + ".bias");
      bk = weights_.tensor(prefix + kn + ".bias");
      bv = weights_.tensor(prefix + vn + ".bias");
      bo = weights_.tensor(prefix + on + ".bias");
    }
    const ConstMatrixMap x(hidden.data(), B * q, D);
    const ConstMatrixMap e(encoder.data(), B * S, D);
    RowMatrix queries = linear(x, wq, t5 ? nullptr : &bq);
    if (!t5) queries *= 1.0f / std::sqrt(static_cast<float>(head_dim_));
    const RowMatrix keys = linear(e, wk, t5 ? nullptr : &bk);
    const RowMatrix values = linear(e, wv, t5 ? nullptr : &bv);

    // 0/1 key mask from the additive mask as received ([B,1,1,S] or [B,1,q,S]).
    const FloatTensor additive = tensor(names, t5 ? "mask" : "attention_mask");
    const Index mask_rows = additive.numel() / (B * S);
    std::vector<std::uint8_t> mask(static_cast<std::size_t>(B * S));
    for (Index b = 0; b < B; ++b)
      for (Index k = 0; k < S; ++k)
        mask[static_cast<std::size_t>(b * S + k)] = additive.data()[(b * mask_rows) * S + k] == 0.0f ? 1 : 0;

    EncoderSide side;
    side.keys = &keys;
    side.values = &values;
    side.mask = &mask;
    side.batch = B;
    side.length = S;
    side.heads = heads_;
    side.head_dim = head_dim_;
    side.flavor = flavor_;
    side.mask_bias = t5 ? -1e9f : std::numeric_limits<float>::lowest();

    const std::string mode_name = call.at("mode").get<std::string>();
    const Index t = call.at("t").get<Index>();
    QueryMode mode = QueryMode::Incremental;
    if (mode_name == "tf_train")
      mode = QueryMode::PaperTraining;
    else if (mode_name == "tf_eval")
      mode = QueryMode::PaperEvalAtT;
    else
      ASSERT_TRUE(mode_name == "tf_stepwise" || mode_name == "greedy") << mode_name;
    ASSERT_EQ(call.at("training").get<bool>(), mode == QueryMode::PaperTraining);

    CrossAttentionOptions options = defaults_for(flavor_);
    options.semantics = Semantics::Paper;
    options.gen_len = call.at("gen_len_before").get<Index>();
    if (!call.at("split_size").is_null()) {
      options.segment_size = call.at("split_size").get<Index>();
      ASSERT_EQ(options.segment_size, index_.at("split_size").get<Index>());
    }

    RowMatrix out(B * q, heads_ * head_dim_);
    Maxima& maxima = maxima_[variant];
    ++maxima.calls;
    if (variant == "full") {
      options.kind = AttentionKind::Full;
      FullCrossAttention policy;
      const auto params = FullCrossAttention::load_parameters(weights_, prefix, head_dim_, options);
      const auto memory = policy.prepare(params, side);
      for (Index b = 0; b < B; ++b) {
        auto state = policy.initial_state(params, memory);
        policy.attend(params, memory, state, b, queries.middleRows(b * q, q), t, mode, out.middleRows(b * q, q));
      }
    } else if (variant == "segmented") {
      options.kind = AttentionKind::Segmented;
      SegmentedCrossAttention policy;
      const auto params = SegmentedCrossAttention::load_parameters(weights_, prefix, head_dim_, options);
      const auto memory = policy.prepare(params, side);
      for (Index b = 0; b < B; ++b) {
        auto state = policy.initial_state(params, memory);
        AttendTrace trace;
        policy.attend_traced(params, memory, state, b, queries.middleRows(b * q, q), t, mode,
                             out.middleRows(b * q, q), nullptr, &trace);
        EXPECT_EQ(trace.segment_per_query, call.at("segment_per_query").get<std::vector<Index>>());
        EXPECT_EQ(memory.num_segments(b), call.at("num_segments").get<Index>());
      }
    } else {
      ASSERT_EQ(variant, "srformer");
      options.kind = AttentionKind::Srformer;
      SrformerCrossAttention policy;
      const auto params = SrformerCrossAttention::load_parameters(weights_, prefix, head_dim_, options);
      const auto memory = policy.prepare(params, side);
      const Index block = heads_ * head_dim_ * head_dim_;
      const FloatTensor membrane_before = tensor(names, "snn_mem_before");
      const FloatTensor membrane_after = tensor(names, "snn_mem_after");
      const FloatTensor output_before = tensor(names, "raf_out_before");
      const FloatTensor output_after = tensor(names, "raf_out_after");
      const FloatTensor kv_after = tensor(names, "kv_mem_after");
      const Index steps = call.at("raf_steps").get<Index>();
      FloatTensor raf_in;
      if (steps > 0) raf_in = tensor(names, "raf_in");
      const auto map = [&](const FloatTensor& tensor, Index offset) {
        return ConstMatrixMap(tensor.data() + offset, heads_ * head_dim_, head_dim_);
      };
      for (Index b = 0; b < B; ++b) {
        SCOPED_TRACE("batch row " + std::to_string(b));
        auto state = policy.initial_state(params, memory);
        state.membrane = map(membrane_before, b * block);
        state.output = map(output_before, b * block);
        state.segment = call.at("old_idx_before").get<Index>();
        AttendTrace trace;
        policy.attend_traced(params, memory, state, b, queries.middleRows(b * q, q), t, mode,
                             out.middleRows(b * q, q), nullptr, &trace);
        EXPECT_EQ(trace.segment_per_query, call.at("segment_per_query").get<std::vector<Index>>());
        EXPECT_EQ(trace.raf_step_segments, call.at("raf_step_segments").get<std::vector<Index>>());
        EXPECT_EQ(state.segment, call.at("old_idx_after").get<Index>());
        maxima.membrane = std::max(maxima.membrane, max_abs_diff(state.membrane, map(membrane_after, b * block)));
        maxima.membrane_scale = std::max(maxima.membrane_scale, max_abs(map(membrane_after, b * block)));
        maxima.raf_output_scale = std::max(maxima.raf_output_scale, max_abs(map(output_after, b * block)));
        maxima.kv_scale = std::max(maxima.kv_scale, max_abs(map(kv_after, b * block)));
        maxima.raf_output = std::max(maxima.raf_output, max_abs_diff(state.output, map(output_after, b * block)));
        maxima.kv = std::max(maxima.kv, max_abs_diff(memory.kv_total[static_cast<std::size_t>(b)], map(kv_after, b * block)));
        // The policy steps from the input current Xin = P Wᵀ (precomputed per segment); the
        // reference is the authors' recorded P times W, in double.
        ASSERT_EQ(static_cast<Index>(trace.raf_currents.size()), steps);
        const Eigen::MatrixXd w_transposed = params.raf.weight.cast<double>().transpose();
        for (Index k = 0; k < steps; ++k) {
          const RowMatrix expected = (map(raf_in, (k * B + b) * block).cast<double>() * w_transposed).cast<float>();
          maxima.raf_input = std::max(maxima.raf_input,
                                      max_abs_diff(trace.raf_currents[static_cast<std::size_t>(k)], expected));
          maxima.raf_input_scale = std::max(maxima.raf_input_scale, max_abs(expected));
        }
      }
    }
    const FloatTensor pre_proj = tensor(names, "attn_output_pre_proj");
    const FloatTensor final_output = tensor(names, "attn_output");
    maxima.pre_proj = std::max(maxima.pre_proj, max_abs_diff(out, ConstMatrixMap(pre_proj.data(), B * q, heads_ * head_dim_)));
    // The output projection is the test's own; done in double so that its rounding does not add to the policy's.
    Eigen::MatrixXd projected_wide = out.cast<double>() * wo.matrix().cast<double>().transpose();
    if (!t5) projected_wide.rowwise() += bo.vector().cast<double>();
    const RowMatrix projected = projected_wide.cast<float>();
    maxima.output_scale = std::max(maxima.output_scale, max_abs(ConstMatrixMap(final_output.data(), B * q, D)));
    maxima.output = std::max(maxima.output, max_abs_diff(projected, ConstMatrixMap(final_output.data(), B * q, D)));
  }

  const std::map<std::string, Maxima>& maxima() const { return maxima_; }

 private:
  FloatTensor tensor(const nlohmann::json& names, const char* field) const {
    const auto& name = names.at(field);
    if (name.is_null()) throw InputError(std::string("call has no tensor ") + field);
    return tensors_.tensor(name.get<std::string>());
  }

  std::string model_;
  ModelFlavor flavor_;
  io::Checkpoint weights_;
  io::Checkpoint tensors_;
  nlohmann::json index_;
  Index heads_ = 0, head_dim_ = 0;
  std::map<std::string, Maxima> maxima_;
};

// Tolerances. README 5.6/7.5 suggests 1e-5 absolute at module level; ours is an
// independent float32 implementation (Eigen, not torch's BLAS), so it cannot be
// bit-identical, and its differences scale with the magnitudes involved:
//  * attn_output_pre_proj: 1e-5 absolute.
//  * attn_output: 2e-5 absolute. The goldens' o weights are scaled ×5 (README 5.1),
//    which amplifies the pre-projection difference; measured 1.1e-5 on the T5
//    training calls (the authors' NumPy re-statement, sharing torch's BLAS: 6.7e-6).
//  * state (U, R), RAF input currents Xin = P Wᵀ and KV: 1e-5 × max(1, max|reference|). T5's KᵀV
//    reaches 769 and its membranes 135, where one float32 ulp is 6e-5 / 1.5e-5,
//    so a fixed absolute 1e-6 would demand bit-identical summation order.
constexpr double kPreProjectionTolerance = 1e-5;
constexpr double kOutputTolerance = 2e-5;
constexpr double kStateRelativeTolerance = 1e-5;

double state_tolerance(double scale) { return kStateRelativeTolerance * std::max(1.0, scale); }

void replay_model(const std::string& model, int expected_calls) {
  ModuleCallReplay replay(model);
  ASSERT_EQ(static_cast<int>(replay.calls().size()), expected_calls);
  for (const auto& call : replay.calls()) replay.replay(call);
  Maxima all;
  for (const auto& [variant, m] : replay.maxima()) {
    std::printf("[%s %-9s] %3d calls  max|Δ| pre_proj %.3g  attn_output %.3g", model.c_str(), variant.c_str(),
                m.calls, m.pre_proj, m.output);
    if (variant == "srformer")
      std::printf("  snn_mem %.3g  raf_out %.3g  Xin %.3g  kv_mem %.3g", m.membrane, m.raf_output, m.raf_input,
                  m.kv);
    std::printf("\n      max|reference|: attn_output %.3g", m.output_scale);
    if (variant == "srformer")
      std::printf("  snn_mem %.3g  raf_out %.3g  Xin %.3g  kv_mem %.3g", m.membrane_scale, m.raf_output_scale,
                  m.raf_input_scale, m.kv_scale);
    std::printf("\n");
    all.merge(m);
  }
  EXPECT_EQ(all.calls, expected_calls);
  EXPECT_LE(all.pre_proj, kPreProjectionTolerance);
  EXPECT_LE(all.output, kOutputTolerance);
  EXPECT_LE(all.membrane, state_tolerance(all.membrane_scale));
  EXPECT_LE(all.raf_output, state_tolerance(all.raf_output_scale));
  EXPECT_LE(all.raf_input, state_tolerance(all.raf_input_scale));
  EXPECT_LE(all.kv, state_tolerance(all.kv_scale));
}

TEST(SrformerModuleCalls, T5EveryCallMatchesTheAuthorsModule) { replay_model("t5", 114); }

TEST(SrformerModuleCalls, BartEveryCallMatchesTheAuthorsModule) { replay_model("bart", 120); }

}  // namespace
}  // namespace srformer::attention
