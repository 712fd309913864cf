// Invariants of the causal semantics of the segmented and SRformer policies, on
// random data, at the policy level (no model). The paper semantics is used as a
// contrast where it breaks an invariant on purpose.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "attention/attention_test_util.hpp"
#include "srformer/attention/full_cross_attention.hpp"
#include "srformer/attention/segmented_cross_attention.hpp"
#include "srformer/attention/srformer_cross_attention.hpp"

namespace srformer::attention {
namespace {

using testing::decode;
using testing::EncoderData;
using testing::random_matrix;
using testing::random_raf;

constexpr Index kHeads = 3;
constexpr Index kHeadDim = 8;

struct PolicySetup {
  CrossAttentionOptions options;
  SrformerCrossAttention::Parameters srformer;
  SegmentedCrossAttention::Parameters segmented;
};

/// RAF parameters that make R clearly non-zero on unit-scale random keys/values.
PolicySetup make_setup(ModelFlavor flavor, Semantics semantics, Index s, Index G, std::mt19937& rng) {
  PolicySetup setup;
  setup.options = defaults_for(flavor);
  setup.options.semantics = semantics;
  setup.options.segment_size = s;
  setup.options.gen_len = G;
  setup.srformer.options = setup.options;
  setup.srformer.raf = random_raf(kHeadDim, rng, 0.3f, 0.6f, 0.5f);
  setup.segmented.options = setup.options;
  return setup;
}

double max_abs(const RowMatrix& a) { return static_cast<double>(a.cwiseAbs().maxCoeff()); }

class CausalBothFlavors : public ::testing::TestWithParam<ModelFlavor> {};

TEST_P(CausalBothFlavors, OneSegmentCoveringTheInputIsExactlyFullAttention) {
  std::mt19937 rng(11);
  const Index N = 29, L = 12;
  EncoderData enc(1, N, kHeads, kHeadDim, GetParam(), rng);
  const RowMatrix queries = random_matrix(L, kHeads * kHeadDim, rng);
  FullCrossAttention full;
  const auto full_memory = full.prepare({}, enc.side);
  FullCrossAttention::State full_state;
  const RowMatrix expected = decode(full, {}, full_memory, full_state, 0, queries, 0, L);
  for (const Index s : std::vector<Index>{N, N + 5, 1000}) {
    const PolicySetup setup = make_setup(GetParam(), Semantics::Causal, s, 4, rng);
    SrformerCrossAttention srf;
    const auto memory = srf.prepare(setup.srformer, enc.side);
    auto state = srf.initial_state(setup.srformer, memory);
    EXPECT_EQ(decode(srf, setup.srformer, memory, state, 0, queries, 0, L), expected) << "s = " << s;
    SegmentedCrossAttention seg;
    const auto seg_memory = seg.prepare(setup.segmented, enc.side);
    SegmentedCrossAttention::State seg_state;
    EXPECT_EQ(decode(seg, setup.segmented, seg_memory, seg_state, 0, queries, 0, L), expected) << "s = " << s;
  }
}

TEST_P(CausalBothFlavors, SilentNeuronGivesExactlySegmentedAttention) {
  std::mt19937 rng(12);
  const Index N = 50, L = 20;
  EncoderData enc(1, N, kHeads, kHeadDim, GetParam(), rng);
  const RowMatrix queries = random_matrix(L, kHeads * kHeadDim, rng);
  for (const Semantics semantics : {Semantics::Causal, Semantics::Paper}) {
    PolicySetup setup = make_setup(GetParam(), semantics, 8, 12, rng);
    SegmentedCrossAttention seg;
    const auto seg_memory = seg.prepare(setup.segmented, enc.side);
    SegmentedCrossAttention::State seg_state;
    const RowMatrix expected = decode(seg, setup.segmented, seg_memory, seg_state, 0, queries, 0, 1);

    SrformerCrossAttention srf;
    // The recurrent term is really there with the random neuron...
    {
      const auto memory = srf.prepare(setup.srformer, enc.side);
      auto state = srf.initial_state(setup.srformer, memory);
      EXPECT_GT(max_abs(decode(srf, setup.srformer, memory, state, 0, queries, 0, 1) - expected), 1e-2);
    }
    // ...and vanishes exactly with W = 0 or a huge threshold.
    setup.srformer.raf.weight.setZero();
    const auto memory = srf.prepare(setup.srformer, enc.side);
    auto state = srf.initial_state(setup.srformer, memory);
    EXPECT_EQ(decode(srf, setup.srformer, memory, state, 0, queries, 0, 1), expected) << to_string(semantics);
    setup.srformer.raf = random_raf(kHeadDim, rng, 0.3f, 0.6f, 1e30f);
    state = srf.initial_state(setup.srformer, memory);
    EXPECT_EQ(decode(srf, setup.srformer, memory, state, 0, queries, 0, 1), expected) << to_string(semantics);
  }
}

TEST_P(CausalBothFlavors, LaterSegmentsNeverReachEarlierPositions) {
  std::mt19937 rng(13);
  const Index N = 45, L = 16, s = 8, G = 12;  // m = 6 segments over the first 12 positions
  EncoderData enc(1, N, kHeads, kHeadDim, GetParam(), rng);
  const RowMatrix queries = random_matrix(L, kHeads * kHeadDim, rng);
  const Index m = segment_count(N, s);
  for (const Semantics semantics : {Semantics::Causal, Semantics::Paper}) {
    const PolicySetup setup = make_setup(GetParam(), semantics, s, G, rng);
    SrformerCrossAttention srf;
    const auto memory = srf.prepare(setup.srformer, enc.side);
    auto state = srf.initial_state(setup.srformer, memory);
    const RowMatrix reference = decode(srf, setup.srformer, memory, state, 0, queries, 0, 1);
    for (Index cut = 0; cut + 1 < m; ++cut) {
      // Change every key and value after segment `cut`.
      EncoderData changed(enc);
      const Index from = (cut + 1) * s;
      changed.keys.bottomRows(N - from) = random_matrix(N - from, kHeads * kHeadDim, rng);
      changed.values.bottomRows(N - from) = random_matrix(N - from, kHeads * kHeadDim, rng);
      const auto changed_memory = srf.prepare(setup.srformer, changed.side);
      auto changed_state = srf.initial_state(setup.srformer, changed_memory);
      const RowMatrix out = decode(srf, setup.srformer, changed_memory, changed_state, 0, queries, 0, 1);
      double before = 0, after = 0;
      for (Index t = 0; t < L; ++t) {
        const double diff = max_abs(out.row(t) - reference.row(t));
        double& worst = decoding_segment(t, m, G) <= cut ? before : after;
        worst = std::max(worst, diff);
      }
      if (semantics == Semantics::Causal)
        EXPECT_EQ(before, 0.0) << "cut after segment " << cut;
      else
        EXPECT_GT(before, 1e-3) << "paper semantics feeds future segments into P_j";
      EXPECT_GT(after, 1e-3) << "positions after the cut must see the change";
    }
  }
}

TEST_P(CausalBothFlavors, PaddedRowEqualsTheSequenceAlone) {
  std::mt19937 rng(14);
  const Index S = 40, real = 27, L = 14;
  for (const Index s : std::vector<Index>{5, 8, 64}) {
    const PolicySetup setup = make_setup(GetParam(), Semantics::Causal, s, 10, rng);
    EncoderData batch(3, S, kHeads, kHeadDim, GetParam(), rng);
    batch.pad_row(0, real);  // right padding: read in place
    // Row 2: the same real tokens as row 0, with padding in between (compacted copy).
    std::vector<Index> positions;
    for (Index k = 0; k < S; ++k) batch.mask[static_cast<std::size_t>(2 * S + k)] = 0;
    for (Index k = 0, next = 0; k < S && next < real; ++k) {
      if (k % 3 == 1) continue;
      batch.keys.row(2 * S + k) = batch.keys.row(next);
      batch.values.row(2 * S + k) = batch.values.row(next);
      batch.mask[static_cast<std::size_t>(2 * S + k)] = 1;
      ++next;
    }
    EncoderData alone(1, real, kHeads, kHeadDim, GetParam(), rng);
    alone.keys = batch.keys.topRows(real);
    alone.values = batch.values.topRows(real);
    const RowMatrix queries = random_matrix(L, kHeads * kHeadDim, rng);

    SrformerCrossAttention srf;
    const auto batch_memory = srf.prepare(setup.srformer, batch.side);
    const auto alone_memory = srf.prepare(setup.srformer, alone.side);
    auto alone_state = srf.initial_state(setup.srformer, alone_memory);
    const RowMatrix expected = decode(srf, setup.srformer, alone_memory, alone_state, 0, queries, 0, 1);
    for (const Index row : {0, 2}) {
      auto state = srf.initial_state(setup.srformer, batch_memory);
      EXPECT_EQ(decode(srf, setup.srformer, batch_memory, state, row, queries, 0, 1), expected)
          << "row " << row << ", s = " << s;
    }
    SegmentedCrossAttention seg;
    const auto seg_batch = seg.prepare(setup.segmented, batch.side);
    const auto seg_alone = seg.prepare(setup.segmented, alone.side);
    SegmentedCrossAttention::State seg_state;
    EXPECT_EQ(decode(seg, setup.segmented, seg_batch, seg_state, 0, queries, 0, 1),
              decode(seg, setup.segmented, seg_alone, seg_state, 0, queries, 0, 1));
  }
}

TEST_P(CausalBothFlavors, StateCopiesAndReorderingContinueIdentically) {
  std::mt19937 rng(15);
  const Index N = 60, L = 24;
  EncoderData enc(2, N, kHeads, kHeadDim, GetParam(), rng);
  enc.pad_row(1, 41);
  const PolicySetup setup = make_setup(GetParam(), Semantics::Causal, 6, 16, rng);
  SrformerCrossAttention srf;
  const auto memory = srf.prepare(setup.srformer, enc.side);
  const RowMatrix prefix_a = random_matrix(10, kHeads * kHeadDim, rng);
  const RowMatrix prefix_b = random_matrix(10, kHeads * kHeadDim, rng);
  const RowMatrix rest = random_matrix(L - 10, kHeads * kHeadDim, rng);
  // Two hypotheses on different encoder rows, then "beam reordering": both continue from A's state.
  auto a = srf.initial_state(setup.srformer, memory);
  auto b = srf.initial_state(setup.srformer, memory);
  decode(srf, setup.srformer, memory, a, 0, prefix_a, 0, 1);
  decode(srf, setup.srformer, memory, b, 1, prefix_b, 0, 1);
  std::vector<SrformerCrossAttention::State> beams{a, b};
  beams = {beams[0], beams[0]};
  const RowMatrix original = decode(srf, setup.srformer, memory, a, 0, rest, 10, 1);
  EXPECT_EQ(decode(srf, setup.srformer, memory, beams[0], 0, rest, 10, 1), original);
  EXPECT_EQ(decode(srf, setup.srformer, memory, beams[1], 0, rest, 10, 1), original);
  EXPECT_EQ(beams[0].membrane, a.membrane);
  EXPECT_EQ(beams[0].output, a.output);
  EXPECT_EQ(beams[0].segment, a.segment);
  // A restart at position 0 forgets everything.
  auto fresh = srf.initial_state(setup.srformer, memory);
  EXPECT_EQ(decode(srf, setup.srformer, memory, beams[0], 0, prefix_a, 0, 1),
            decode(srf, setup.srformer, memory, fresh, 0, prefix_a, 0, 1));
}

TEST_P(CausalBothFlavors, BlocksOfPositionsEqualOneAtATime) {
  std::mt19937 rng(16);
  const Index N = 70, L = 30;
  EncoderData enc(1, N, kHeads, kHeadDim, GetParam(), rng);
  const RowMatrix queries = random_matrix(L, kHeads * kHeadDim, rng);
  for (const Semantics semantics : {Semantics::Causal, Semantics::Paper}) {
    const PolicySetup setup = make_setup(GetParam(), semantics, 9, 20, rng);
    SrformerCrossAttention srf;
    const auto memory = srf.prepare(setup.srformer, enc.side);
    auto single = srf.initial_state(setup.srformer, memory);
    const RowMatrix expected = decode(srf, setup.srformer, memory, single, 0, queries, 0, 1);
    for (const Index block : std::vector<Index>{2, 7, L}) {
      auto state = srf.initial_state(setup.srformer, memory);
      const RowMatrix out = decode(srf, setup.srformer, memory, state, 0, queries, 0, block);
      // Same arithmetic, but block products may round differently from row products.
      EXPECT_LE(max_abs(out - expected), 1e-5 * std::max(1.0, max_abs(expected)))
          << to_string(semantics) << ", block " << block;
      EXPECT_TRUE(state.membrane.isApprox(single.membrane, 1e-5f));
      EXPECT_EQ(state.segment, single.segment);
    }
  }
}

TEST_P(CausalBothFlavors, JumpingSeveralSegmentsStepsOncePerCrossedBoundary) {
  std::mt19937 rng(17);
  const Index N = 64, s = 8, G = 3;  // m = 8: positions 0, 1, 2, 3 map to segments 0, 2, 5, 7
  EncoderData enc(1, N, kHeads, kHeadDim, GetParam(), rng);
  const PolicySetup setup = make_setup(GetParam(), Semantics::Causal, s, G, rng);
  SrformerCrossAttention srf;
  const auto memory = srf.prepare(setup.srformer, enc.side);
  auto state = srf.initial_state(setup.srformer, memory);
  const RowMatrix queries = random_matrix(5, kHeads * kHeadDim, rng);
  RowMatrix out(5, kHeads * kHeadDim);
  std::vector<Index> segments, steps;
  RowMatrix u = RowMatrix::Zero(kHeads * kHeadDim, kHeadDim), r = u;
  for (Index t = 0; t < 5; ++t) {
    AttendTrace trace;
    srf.attend_traced(setup.srformer, memory, state, 0, queries.middleRows(t, 1), t, QueryMode::Incremental,
                      out.middleRows(t, 1), nullptr, &trace);
    segments.push_back(trace.segment_per_query[0]);
    steps.insert(steps.end(), trace.raf_step_segments.begin(), trace.raf_step_segments.end());
  }
  EXPECT_EQ(segments, (std::vector<Index>{0, 2, 5, 7, 7}));
  EXPECT_EQ(steps, (std::vector<Index>{1, 2, 3, 4, 5, 6, 7}));
  // Stepping by hand with the prefix sums P_j = Σ_{k<j} K_kᵀV_k gives the same membrane.
  for (Index j = 1; j < 8; ++j) {
    RowMatrix p(kHeads * kHeadDim, kHeadDim);
    for (Index h = 0; h < kHeads; ++h) {
      const auto K = enc.keys.topRows(j * s).middleCols(h * kHeadDim, kHeadDim);
      const auto V = enc.values.topRows(j * s).middleCols(h * kHeadDim, kHeadDim);
      p.middleRows(h * kHeadDim, kHeadDim) = K.transpose() * V;
      if (GetParam() == ModelFlavor::Bart) p = p.cwiseMax(-2.0f).cwiseMin(2.0f);
    }
    RafNeuron::step(setup.srformer.raf, p, u, r);
  }
  EXPECT_TRUE(state.membrane.isApprox(u, 1e-5f));
  EXPECT_TRUE(state.output.isApprox(r, 1e-5f));
  EXPECT_GT(r.cwiseAbs().maxCoeff(), 0.0f);
}

TEST_P(CausalBothFlavors, DegenerateInputsGiveNoNaN) {
  std::mt19937 rng(18);
  const Index N = 20;
  EncoderData enc(2, N, kHeads, kHeadDim, GetParam(), rng);
  enc.pad_row(1, 0);                     // row 1: nothing but padding
  enc.keys.col(3).setZero();             // a key column with norm 0 in head 0
  const RowMatrix queries = random_matrix(12, kHeads * kHeadDim, rng);
  for (const Semantics semantics : {Semantics::Causal, Semantics::Paper}) {
    const PolicySetup setup = make_setup(GetParam(), semantics, 4, 8, rng);
    SrformerCrossAttention srf;
    const auto memory = srf.prepare(setup.srformer, enc.side);
    for (Index row = 0; row < 2; ++row) {
      auto state = srf.initial_state(setup.srformer, memory);
      const RowMatrix out = decode(srf, setup.srformer, memory, state, row, queries, 0, 1);
      EXPECT_TRUE(out.allFinite()) << to_string(semantics) << ", row " << row;
      if (semantics == Semantics::Causal && row == 1) {
        EXPECT_EQ(out, RowMatrix::Zero(12, kHeads * kHeadDim));
      }
    }
  }
}

TEST_P(CausalBothFlavors, CausalRefusesPaperModesAndGoingBack) {
  std::mt19937 rng(19);
  EncoderData enc(1, 32, kHeads, kHeadDim, GetParam(), rng);
  const PolicySetup setup = make_setup(GetParam(), Semantics::Causal, 4, 8, rng);
  SrformerCrossAttention srf;
  const auto memory = srf.prepare(setup.srformer, enc.side);
  auto state = srf.initial_state(setup.srformer, memory);
  const RowMatrix queries = random_matrix(1, kHeads * kHeadDim, rng);
  RowMatrix out(1, kHeads * kHeadDim);
  EXPECT_THROW(srf.attend(setup.srformer, memory, state, 0, queries, 0, QueryMode::PaperTraining, out), OptionError);
  EXPECT_THROW(srf.attend(setup.srformer, memory, state, 0, queries, 0, QueryMode::PaperEvalAtT, out), OptionError);
  srf.attend(setup.srformer, memory, state, 0, queries, 6, QueryMode::Incremental, out);  // segment 6
  EXPECT_THROW(srf.attend(setup.srformer, memory, state, 0, queries, 2, QueryMode::Incremental, out), InputError);
  EXPECT_THROW(srf.attend(setup.srformer, memory, state, 1, queries, 7, QueryMode::Incremental, out), InputError);
  RowMatrix wrong(1, 5);
  EXPECT_THROW(srf.attend(setup.srformer, memory, state, 0, queries, 7, QueryMode::Incremental, wrong), InputError);
}

INSTANTIATE_TEST_SUITE_P(Flavors, CausalBothFlavors, ::testing::Values(ModelFlavor::T5, ModelFlavor::Bart),
                         [](const auto& info) { return info.param == ModelFlavor::T5 ? "T5" : "Bart"; });

}  // namespace
}  // namespace srformer::attention
