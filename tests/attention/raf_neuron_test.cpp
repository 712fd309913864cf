// The RAF neuron on hand-computed sequences (values chosen to be exact in float32).
#include <gtest/gtest.h>

#include <cmath>

#include "srformer/attention/raf_neuron.hpp"

namespace srformer::attention {
namespace {

RowMatrix matrix(Index rows, Index cols, std::initializer_list<float> values) {
  RowMatrix m(rows, cols);
  std::copy(values.begin(), values.end(), m.data());
  return m;
}

RafParameters params(RowMatrix weight, float leak, float threshold) {
  RafParameters p;
  p.weight = std::move(weight);
  p.leak = leak;
  p.threshold = threshold;
  return p;
}

TEST(RafNeuron, ScalarSequenceLeaksIntegratesAndSoftResets) {
  const RafParameters p = params(matrix(1, 1, {2.0f}), 0.5f, 1.0f);
  RowMatrix u = RowMatrix::Zero(1, 1), r(1, 1);
  // P = 1: Xin = 2, U = 0.5·0 + 2 = 2, Z = 2/1 − 1 = 1 > 0 → U = 2 − 1 = 1, R = 1.
  RafNeuron::step(p, matrix(1, 1, {1.0f}), u, r);
  EXPECT_EQ(u(0, 0), 1.0f);
  EXPECT_EQ(r(0, 0), 1.0f);
  // P = 1: U = 0.5 + 2 = 2.5, Z = 1.5 → U = 1.5, R = 1.5.
  RafNeuron::step(p, matrix(1, 1, {1.0f}), u, r);
  EXPECT_EQ(u(0, 0), 1.5f);
  EXPECT_EQ(r(0, 0), 1.5f);
  // P = 0: U = 0.75, Z = −0.25 → no reset, R = 0.
  RafNeuron::step(p, matrix(1, 1, {0.0f}), u, r);
  EXPECT_EQ(u(0, 0), 0.75f);
  EXPECT_EQ(r(0, 0), 0.0f);
  // P = −3: U = 0.375 − 6 = −5.625, Z = −6.625 → R = 0.
  RafNeuron::step(p, matrix(1, 1, {-3.0f}), u, r);
  EXPECT_EQ(u(0, 0), -5.625f);
  EXPECT_EQ(r(0, 0), 0.0f);
}

TEST(RafNeuron, WeightIsAppliedAsLinearOnTheLastAxis) {
  // Xin[a,c] = Σ_b P[a,b] W[c,b] = (P Wᵀ)[a,c]. With P = I, Xin = Wᵀ = [[1,0],[2,1]].
  const RafParameters p = params(matrix(2, 2, {1.0f, 2.0f, 0.0f, 1.0f}), 0.0f, 0.5f);
  RowMatrix u = RowMatrix::Zero(2, 2), r(2, 2);
  RafNeuron::step(p, RowMatrix::Identity(2, 2), u, r);
  // Z = Xin/0.5 − 1 = [[1,−1],[3,1]]; reset subtracts 0.5 where Z > 0.
  EXPECT_EQ(r, matrix(2, 2, {1.0f, 0.0f, 3.0f, 1.0f}));
  EXPECT_EQ(u, matrix(2, 2, {0.5f, 0.0f, 1.5f, 0.5f}));
}

TEST(RafNeuron, ZeroLeakForgetsThePreviousMembrane) {
  const RafParameters p = params(matrix(2, 2, {1.0f, 2.0f, 0.0f, 1.0f}), 0.0f, 0.5f);
  RowMatrix u = matrix(2, 2, {7.0f, -3.0f, 100.0f, 0.25f}), r(2, 2);
  RafNeuron::step(p, RowMatrix::Zero(2, 2), u, r);
  EXPECT_EQ(u, RowMatrix::Zero(2, 2));
  EXPECT_EQ(r, RowMatrix::Zero(2, 2));  // Z = −1 everywhere
}

TEST(RafNeuron, ResetNeedsZStrictlyAboveZero) {
  const RafParameters p = params(matrix(1, 1, {1.0f}), 0.0f, 0.5f);
  RowMatrix u = RowMatrix::Zero(1, 1), r(1, 1);
  RafNeuron::step(p, matrix(1, 1, {0.5f}), u, r);  // U = θ exactly: Z = 0, no reset
  EXPECT_EQ(u(0, 0), 0.5f);
  EXPECT_EQ(r(0, 0), 0.0f);
}

TEST(RafNeuron, TinyThresholdSubtractsOnlyOneThresholdPerStep) {
  const float theta = 1e-20f;
  const RafParameters p = params(matrix(1, 1, {1.0f}), 1.0f, theta);
  RowMatrix u = RowMatrix::Zero(1, 1), r(1, 1);
  RafNeuron::step(p, matrix(1, 1, {1e-19f}), u, r);
  // U = 1e-19, Z = 10 − 1 = 9 → U = 1e-19 − 1e-20 = 9e-20, R = 9.
  EXPECT_NEAR(r(0, 0), 9.0f, 1e-5f);
  EXPECT_NEAR(u(0, 0) / theta, 9.0f, 1e-5f);
  RafNeuron::step(p, matrix(1, 1, {0.0f}), u, r);  // U = 9e-20 → Z = 8 → U = 8e-20
  EXPECT_NEAR(r(0, 0), 8.0f, 1e-5f);
  EXPECT_NEAR(u(0, 0) / theta, 8.0f, 1e-5f);
  EXPECT_TRUE(std::isfinite(r(0, 0)));
}

TEST(RafNeuron, StackedHeadsEqualSeparateSteps) {
  const Index d = 3, heads = 2;
  RafParameters p = params(RowMatrix::Random(d, d), 0.7f, 0.3f);
  const RowMatrix input = RowMatrix::Random(heads * d, d);
  RowMatrix u = RowMatrix::Random(heads * d, d), r(heads * d, d);
  RowMatrix u_separate = u, r_separate(heads * d, d);
  RafNeuron::step(p, input, u, r);
  for (Index h = 0; h < heads; ++h)
    RafNeuron::step(p, input.middleRows(h * d, d), u_separate.middleRows(h * d, d), r_separate.middleRows(h * d, d));
  EXPECT_TRUE(u.isApprox(u_separate, 1e-6f));
  EXPECT_TRUE(r.isApprox(r_separate, 1e-6f));
}

TEST(RafNeuron, RejectsUnusableParametersAndShapes) {
  EXPECT_THROW(params(matrix(1, 1, {1.0f}), 0.5f, 0.0f).validate("layer"), ConfigError);
  EXPECT_THROW(params(RowMatrix::Zero(2, 3), 0.5f, 0.1f).validate("layer"), ConfigError);
  EXPECT_THROW(params(matrix(1, 1, {1.0f}), NAN, 0.1f).validate("layer"), ConfigError);
  EXPECT_NO_THROW(params(matrix(1, 1, {1.0f}), 0.5f, 0.1f).validate("layer"));
  const RafParameters p = params(RowMatrix::Identity(2, 2), 0.5f, 0.1f);
  RowMatrix u = RowMatrix::Zero(2, 2), r(2, 2);
  EXPECT_THROW(RafNeuron::step(p, RowMatrix::Zero(2, 3), u, r), InputError);
}

TEST(RafNeuron, FreshParametersFollowTheAuthorsInitialisation) {
  const Index d = 64;
  const RafParameters t5 = fresh_raf_parameters(ModelFlavor::T5, d, 7);
  EXPECT_EQ(t5.leak, 0.1f);
  EXPECT_EQ(t5.threshold, 0.1f);
  const float bound = 1.0f / std::sqrt(static_cast<float>(d));
  EXPECT_LE(t5.weight.cwiseAbs().maxCoeff(), bound);
  EXPECT_GT(t5.weight.cwiseAbs().maxCoeff(), 0.95f * bound);  // uniform fills the interval
  EXPECT_NEAR(t5.weight.mean(), 0.0f, 0.01f);

  const RafParameters bart = fresh_raf_parameters(ModelFlavor::Bart, d, 7, 0.02f);
  EXPECT_EQ(bart.leak, 0.5f);
  EXPECT_EQ(bart.threshold, 0.1f);
  const double mean = bart.weight.cast<double>().mean();
  const double std = std::sqrt((bart.weight.cast<double>().array() - mean).square().mean());
  EXPECT_NEAR(mean, 0.0, 0.002);
  EXPECT_NEAR(std, 0.02, 0.001);  // 4096 samples: standard error of the std ≈ 0.0002

  // Seeded: the same seed gives the same matrix, another seed another one.
  EXPECT_EQ(fresh_raf_parameters(ModelFlavor::T5, d, 7).weight, t5.weight);
  EXPECT_NE(fresh_raf_parameters(ModelFlavor::T5, d, 8).weight, t5.weight);
}

}  // namespace
}  // namespace srformer::attention
