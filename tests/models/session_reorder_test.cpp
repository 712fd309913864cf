// Beam search and row dropping reorder a session's rows; afterwards every row
// must continue exactly as a fresh session fed the same history would, for
// every cross-attention policy (the SRformer state — membranes, last output,
// segment index — travels with its hypothesis).
#include <gtest/gtest.h>

#include <random>

#include "srformer/models/seq2seq_model.hpp"
#include "support/golden.hpp"

namespace srformer {
namespace {

struct Variant {
  std::string model;
  attention::AttentionKind kind;
  attention::Semantics semantics;
};

std::string variant_name(const ::testing::TestParamInfo<Variant>& info) {
  return info.param.model + "_" + attention::to_string(info.param.kind) + "_" +
         attention::to_string(info.param.semantics);
}

class SessionReorder : public ::testing::TestWithParam<Variant> {};

TEST_P(SessionReorder, ReorderedRowsContinueLikeFreshSessions) {
  const Variant& v = GetParam();
  const auto flavor = v.model == "t5" ? attention::ModelFlavor::T5 : attention::ModelFlavor::Bart;
  auto options = attention::defaults_for(flavor);
  options.kind = v.kind;
  options.semantics = v.semantics;
  options.segment_size = 8;  // several segments over the short inputs below
  options.gen_len = 6;       // segments advance within the few steps decoded here
  const auto model = load_model(testing::data_dir() / "srformer-official" / v.model, options);

  std::mt19937 rng(7);
  std::uniform_int_distribution<TokenId> token(3, 999);
  std::vector<std::vector<TokenId>> inputs(2);
  for (std::size_t b = 0; b < inputs.size(); ++b) {
    inputs[b].resize(30 + 11 * b);
    for (auto& t : inputs[b]) t = token(rng);
  }
  const auto encoded = model->encode(TokenBatch::from_sequences(inputs, model->config().pad_token_id));

  // Three hypotheses: rows 0 and 1 read input 0, row 2 reads input 1.
  const std::vector<Index> memory_rows{0, 0, 1};
  const TokenId start = model->config().decoder_start_token_id;
  std::vector<std::vector<TokenId>> history(3, std::vector<TokenId>{start});
  auto session = model->start_decoding(encoded, memory_rows);
  session->step({start, start, start});
  for (int t = 0; t < 4; ++t) {
    std::vector<TokenId> next;
    for (auto& h : history) {
      h.push_back(token(rng));
      next.push_back(h.back());
    }
    session->step(next);
  }
  // Drop row 1, repeat row 2, swap the order.
  const std::vector<Index> source{2, 0, 2};
  session->reorder(source);
  ASSERT_EQ(session->rows(), 3);
  std::vector<TokenId> next{token(rng), token(rng), token(rng)};
  const RowMatrix logits = session->step(next);

  for (std::size_t r = 0; r < source.size(); ++r) {
    auto h = history[static_cast<std::size_t>(source[r])];
    h.push_back(next[r]);
    auto fresh = model->start_decoding(encoded, {memory_rows[static_cast<std::size_t>(source[r])]});
    RowMatrix expected;
    for (TokenId t : h) expected = fresh->step({t});
    const double diff = (logits.row(static_cast<Index>(r)) - expected.row(0)).cwiseAbs().maxCoeff();
    EXPECT_LE(diff, 1e-5) << "row " << r << " (from old row " << source[r] << ")";
  }
}

std::vector<Variant> variants() {
  using attention::AttentionKind;
  using attention::Semantics;
  std::vector<Variant> out;
  for (const char* model : {"t5", "bart"}) {
    out.push_back({model, AttentionKind::Full, Semantics::Paper});
    for (auto kind : {AttentionKind::Segmented, AttentionKind::Srformer})
      for (auto semantics : {Semantics::Paper, Semantics::Causal}) out.push_back({model, kind, semantics});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(AllPolicies, SessionReorder, ::testing::ValuesIn(variants()), variant_name);

}  // namespace
}  // namespace srformer
