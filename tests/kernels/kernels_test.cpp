// Every kernel of srformer/kernels/ against a plain double-precision reference, on
// random inputs of awkward sizes, once on the portable path and once on AVX2+FMA
// (skipped where the CPU lacks it). Operands are blocks of wider matrices, so the
// strided walks the policies use are exercised too.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "kernels/kernel_reference.hpp"
#include "srformer/kernels/attention.hpp"
#include "srformer/kernels/dispatch.hpp"
#include "srformer/kernels/matmul.hpp"
#include "srformer/kernels/raf_step.hpp"
#include "srformer/kernels/softmax.hpp"

namespace srformer::kernels {
namespace {

using testing::Expected;
using testing::max_relative_error;
using testing::plain;
using testing::random_matrix;
using testing::reference_attend;
using testing::reference_matmul;

constexpr double kTolerance = 1e-5;

/// A [rows, cols] operand stored inside a wider matrix (outer stride cols + 5, offset 1, 3).
struct Strided {
  RowMatrix storage;
  explicit Strided(const RowMatrix& m) : storage(RowMatrix::Constant(m.rows() + 2, m.cols() + 5, 1e30f)) {
    storage.block(1, 3, m.rows(), m.cols()) = m;
  }
  auto view() const { return storage.block(1, 3, storage.rows() - 2, storage.cols() - 5); }
  auto view() { return storage.block(1, 3, storage.rows() - 2, storage.cols() - 5); }
};

using KernelsTest = testing::IsaTest;

enum class Mask { None, Padding, Bart };

std::vector<float> make_bias(Mask mask, Index width, std::mt19937& rng) {
  std::vector<float> bias(static_cast<std::size_t>(width), 0.0f);
  if (mask == Mask::None) return bias;
  std::bernoulli_distribution padded(0.3);
  const float value = mask == Mask::Padding ? -1e9f : std::numeric_limits<float>::lowest();
  for (Index k = 1; k < width; ++k)  // key 0 stays real
    if (padded(rng)) bias[static_cast<std::size_t>(k)] = value;
  return bias;
}

/// Runs kernels::attend on strided copies and returns the output and probabilities.
RowMatrix run_attend(const RowMatrix& q, const RowMatrix& k, const RowMatrix& v, Index heads, Index d,
                     const std::vector<float>* bias, Index zero_keys, std::vector<float>* probabilities = nullptr) {
  const Strided qs(q), ks(k), vs(v);
  Strided out(RowMatrix::Constant(q.rows(), q.cols(), -7.0f));
  AttendExtras extras;
  extras.key_bias = bias ? bias->data() : nullptr;
  extras.zero_keys = zero_keys;
  if (probabilities) probabilities->assign(static_cast<std::size_t>(heads * q.rows() * (k.rows() + zero_keys)), -1.0f);
  attend(qs.view(), ks.view(), vs.view(), heads, d, extras, out.view(), probabilities ? probabilities->data() : nullptr);
  // The padding around the output block must be untouched.
  EXPECT_EQ(out.storage.row(0).maxCoeff(), 1e30f);
  EXPECT_EQ(out.storage.row(out.storage.rows() - 1).minCoeff(), 1e30f);
  return out.view();
}

TEST_P(KernelsTest, AttendMatchesReferenceOnAwkwardSizes) {
  std::mt19937 rng(1);
  double worst = 0.0;
  for (Index heads : {1, 3, 8})
    for (Index d : {16, 20, 24, 64, 72})
      for (Index length : {1, 3, 4, 5, 9, 63, 64, 67, 130})
        for (Index n : {1, 3})
          for (Mask mask : {Mask::None, Mask::Padding, Mask::Bart})
            for (Index zero_keys : {0, 5}) {
              const RowMatrix q = random_matrix(n, heads * d, rng, 0.3f);
              const RowMatrix k = random_matrix(length, heads * d, rng);
              const RowMatrix v = random_matrix(length, heads * d, rng);
              const std::vector<float> bias = make_bias(mask, length + zero_keys, rng);
              const std::vector<float>* b = mask == Mask::None ? nullptr : &bias;
              const Expected expected = reference_attend(q, k, v, heads, d, b, zero_keys);
              const double error = max_relative_error(expected, run_attend(q, k, v, heads, d, b, zero_keys));
              ASSERT_LE(error, kTolerance) << "heads " << heads << ", d " << d << ", length " << length << ", n "
                                           << n << ", mask " << static_cast<int>(mask) << ", zero keys "
                                           << zero_keys;
              worst = std::max(worst, error);
            }
  report("attend, awkward sizes", worst);
}

TEST_P(KernelsTest, AttendOverLongSequencesAtT5SmallShape) {
  // One decoding step of full attention: the weighted sum accumulates thousands of rows.
  std::mt19937 rng(2);
  double worst = 0.0;
  for (Index length : {1031, 8195}) {
    const RowMatrix q = random_matrix(1, 8 * 64, rng, 0.3f);
    const RowMatrix k = random_matrix(length, 8 * 64, rng);
    const RowMatrix v = random_matrix(length, 8 * 64, rng);
    const Expected expected = reference_attend(q, k, v, 8, 64, nullptr, 0);
    const double error = max_relative_error(expected, run_attend(q, k, v, 8, 64, nullptr, 0));
    EXPECT_LE(error, kTolerance) << "length " << length;
    worst = std::max(worst, error);
  }
  report("attend, N = 1031 and 8195", worst);
}

TEST_P(KernelsTest, AttendWritesTheProbabilities) {
  std::mt19937 rng(3);
  double worst = 0.0;
  for (Index zero_keys : {0, 3}) {
    const Index heads = 3, d = 24, length = 37, n = 2;
    const RowMatrix q = random_matrix(n, heads * d, rng, 0.3f);
    const RowMatrix k = random_matrix(length, heads * d, rng);
    const RowMatrix v = random_matrix(length, heads * d, rng);
    const std::vector<float> bias = make_bias(Mask::Padding, length + zero_keys, rng);
    std::vector<double> expected_probabilities;
    reference_attend(q, k, v, heads, d, &bias, zero_keys, &expected_probabilities);
    std::vector<float> probabilities;
    run_attend(q, k, v, heads, d, &bias, zero_keys, &probabilities);
    const double error = max_relative_error(plain(expected_probabilities), probabilities.data());
    EXPECT_LE(error, kTolerance);
    worst = std::max(worst, error);
  }
  report("attend, probabilities", worst);
}

TEST_P(KernelsTest, SingleKeyAndSingleTokenSegmentsReturnTheValueExactly) {
  std::mt19937 rng(4);
  for (Index d : {16, 24, 64, 72}) {
    const RowMatrix q = random_matrix(2, 4 * d, rng);
    const RowMatrix k = random_matrix(1, 4 * d, rng);
    const RowMatrix v = random_matrix(1, 4 * d, rng);
    const RowMatrix out = run_attend(q, k, v, 4, d, nullptr, 0);
    EXPECT_EQ(out.row(0), v.row(0));
    EXPECT_EQ(out.row(1), v.row(0));
  }
}

TEST_P(KernelsTest, SegmentOfPaddingOnly) {
  std::mt19937 rng(5);
  const Index heads = 2, d = 24, length = 11;
  const RowMatrix q = random_matrix(1, heads * d, rng);
  const RowMatrix k = random_matrix(length, heads * d, rng);
  const RowMatrix v = random_matrix(length, heads * d, rng);
  // T5 masks every key with −1e9: in float the scores all become −1e9, so the segment is averaged.
  std::vector<float> bias(static_cast<std::size_t>(length), -1e9f);
  const Expected average = reference_attend(q, k, v, heads, d, &bias, 0);
  const double error = max_relative_error(average, run_attend(q, k, v, heads, d, &bias, 0));
  EXPECT_LE(error, kTolerance);
  report("attend, segment of padding only", error);
  RowMatrix mean = v.colwise().mean();
  for (Index c = 0; c < heads * d; ++c) EXPECT_NEAR(average.value[static_cast<std::size_t>(c)], mean(0, c), 1e-6);
  // Paper semantics with zero rows appended: the zero rows (score 0) take all the mass.
  bias.resize(static_cast<std::size_t>(length + 5), 0.0f);
  EXPECT_EQ(run_attend(q, k, v, heads, d, &bias, 5), RowMatrix::Zero(1, heads * d));
}

TEST_P(KernelsTest, AllMinusInfinityMasksGiveZeros) {
  std::mt19937 rng(6);
  for (Index length : {1, 4, 13}) {
    const RowMatrix q = random_matrix(3, 2 * 16, rng);
    const RowMatrix k = random_matrix(length, 2 * 16, rng);
    const RowMatrix v = random_matrix(length, 2 * 16, rng);
    const std::vector<float> bias(static_cast<std::size_t>(length), -std::numeric_limits<float>::infinity());
    std::vector<float> probabilities;
    EXPECT_EQ(run_attend(q, k, v, 2, 16, &bias, 0, &probabilities), RowMatrix::Zero(3, 2 * 16));
    for (float p : probabilities) EXPECT_EQ(p, 0.0f);
  }
}

TEST_P(KernelsTest, SoftmaxMatchesReference) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 10.0f);
  std::uniform_real_distribution<float> wide(-100.0f, 0.0f);
  std::bernoulli_distribution minus_infinity(0.1);
  double worst = 0.0;
  for (Index count : {1, 2, 7, 8, 9, 17, 100, 1000, 8195})
    for (int kind = 0; kind < 3; ++kind) {
      std::vector<float> x(static_cast<std::size_t>(count));
      for (float& value : x) value = kind == 1 ? wide(rng) : normal(rng);
      if (kind == 2)
        for (std::size_t i = 1; i < x.size(); ++i)
          if (minus_infinity(rng)) x[i] = -std::numeric_limits<float>::infinity();
      double max_value = -std::numeric_limits<double>::infinity(), sum = 0.0;
      for (float value : x) max_value = std::max(max_value, static_cast<double>(value));
      std::vector<double> expected(x.size());
      for (std::size_t i = 0; i < x.size(); ++i) sum += (expected[i] = std::exp(x[i] - max_value));
      for (double& e : expected) e /= sum;
      softmax(x.data(), count);
      const double error = max_relative_error(plain(expected), x.data());
      EXPECT_LE(error, kTolerance) << "count " << count << ", kind " << kind;
      worst = std::max(worst, error);
    }
  report("softmax", worst);
  std::vector<float> none(9, -std::numeric_limits<float>::infinity());
  softmax(none.data(), 9);
  for (float p : none) EXPECT_EQ(p, 0.0f);
}

TEST_P(KernelsTest, MatmulAndTransposedMatmulMatchReference) {
  std::mt19937 rng(8);
  double worst = 0.0;
  for (Index M : {1, 2, 3, 4, 5, 7, 64, 130})
    for (Index N : {1, 7, 8, 16, 24, 64, 72})
      for (Index K : {1, 5, 64, 67})
        for (bool accumulate : {false, true}) {
          const RowMatrix a = random_matrix(M, K, rng);
          const RowMatrix b = random_matrix(K, N, rng);
          const RowMatrix before = random_matrix(M, N, rng);
          const Strided as(a), bs(b);
          Strided c(before);
          matmul(as.view(), bs.view(), c.view(), accumulate);
          double error = max_relative_error(reference_matmul(a, b, accumulate ? &before : nullptr), c.view());
          EXPECT_LE(error, kTolerance) << "matmul " << M << "x" << K << "x" << N << " accumulate " << accumulate;
          worst = std::max(worst, error);
          // aᵀ·b with a stored as [K, M] (a segment's keys: positions × head columns).
          const RowMatrix at = a.transpose();
          const Strided ats(at);
          Strided ct(before);
          transposed_matmul(ats.view(), bs.view(), ct.view(), accumulate);
          error = max_relative_error(reference_matmul(a, b, accumulate ? &before : nullptr), ct.view());
          EXPECT_LE(error, kTolerance) << "transposed " << M << "x" << K << "x" << N;
          worst = std::max(worst, error);
          EXPECT_EQ(c.storage.row(0).maxCoeff(), 1e30f);
        }
  report("matmul / transposed_matmul", worst);
  RowMatrix wrong(2, 2);
  EXPECT_THROW(matmul(RowMatrix(2, 3), RowMatrix(4, 2), wrong), InputError);
}

TEST_P(KernelsTest, RecurrentTermMatchesReference) {
  std::mt19937 rng(9);
  std::bernoulli_distribution zero_norm(0.15);
  double worst = 0.0;
  for (Index n : {1, 2, 5})
    for (Index heads : {1, 8})
      for (Index d : {12, 16, 24, 64, 72}) {
        const RowMatrix q = random_matrix(n, heads * d, rng);
        const RowMatrix r = random_matrix(heads * d, d, rng);
        RowMatrix norms = random_matrix(heads, d, rng).cwiseAbs().array() + 0.5f;
        for (Index i = 0; i < norms.size(); ++i)
          if (zero_norm(rng)) norms.data()[i] = 0.0f;
        const RowMatrix before = random_matrix(n, heads * d, rng);
        Expected expected;
        expected.resize(static_cast<std::size_t>(n * heads * d));
        for (Index i = 0; i < n; ++i)
          for (Index h = 0; h < heads; ++h)
            for (Index c = 0; c < d; ++c) {
              double sum = 0.0, magnitude = 0.0;
              for (Index b = 0; b < d; ++b) {
                sum += static_cast<double>(q(i, h * d + b)) * r(h * d + b, c);
                magnitude += std::abs(static_cast<double>(q(i, h * d + b)) * r(h * d + b, c));
              }
              const double norm = norms(h, c);
              const auto at = static_cast<std::size_t>(i * heads * d + h * d + c);
              expected.value[at] = before(i, h * d + c) + (norm > 0.0 ? sum / norm : 0.0);
              expected.magnitude[at] = std::abs(before(i, h * d + c)) + (norm > 0.0 ? magnitude / norm : 0.0);
            }
        const Strided qs(q), rs(r), ns(norms);
        Strided out(before);
        add_normalised_recurrent(qs.view(), rs.view(), ns.view(), heads, d, out.view());
        const double error = max_relative_error(expected, out.view());
        EXPECT_LE(error, kTolerance) << "n " << n << ", heads " << heads << ", d " << d;
        worst = std::max(worst, error);
      }
  report("recurrent term", worst);
}

TEST_P(KernelsTest, RafStepMatchesReference) {
  // Elements whose reference Z lies within 1e-4 of the threshold may fire on one side
  // and not the other (rounding); they are not compared, and must stay rare.
  std::mt19937 rng(10);
  double worst = 0.0;
  std::size_t compared = 0, ties = 0;
  for (Index heads : {1, 8})
    for (Index d : {12, 16, 24, 64, 72})
      for (float leak : {0.1f, 0.5f}) {
        const Index rows = heads * d;
        const RowMatrix w = random_matrix(d, d, rng, 1.0f / std::sqrt(static_cast<float>(d)));
        const float threshold = 0.1f;
        RowMatrix u = random_matrix(rows, d, rng, 0.2f), r(rows, d);
        for (int step = 0; step < 3; ++step) {
          const RowMatrix p = random_matrix(rows, d, rng, 0.3f);
          Expected expected_u, expected_r;
          expected_u.resize(static_cast<std::size_t>(rows * d));
          expected_r.resize(static_cast<std::size_t>(rows * d));
          std::vector<bool> tie(expected_u.value.size(), false);
          RowMatrix current(rows, d);  // Xin = P Wᵀ, for raf_integrate
          for (Index a = 0; a < rows; ++a)
            for (Index c = 0; c < d; ++c) {
              double x = 0.0, magnitude = std::abs(static_cast<double>(leak) * u(a, c));
              for (Index b = 0; b < d; ++b) {
                x += static_cast<double>(p(a, b)) * w(c, b);
                magnitude += std::abs(static_cast<double>(p(a, b)) * w(c, b));
              }
              current(a, c) = static_cast<float>(x);
              const double membrane = static_cast<double>(leak) * u(a, c) + x;
              const double z = membrane / threshold - 1.0;
              const auto at = static_cast<std::size_t>(a * d + c);
              tie[at] = std::abs(z) < 1e-4;
              expected_u.value[at] = z > 0.0 ? membrane - threshold : membrane;
              expected_u.magnitude[at] = magnitude + (z > 0.0 ? threshold : 0.0);
              expected_r.value[at] = z > 0.0 ? z : 0.0;
              expected_r.magnitude[at] = z > 0.0 ? magnitude / threshold + 1.0 : 0.0;
            }
          const Strided ps(p), ws(w), xs(current);
          Strided us(u), rs(RowMatrix::Zero(rows, d));
          Strided integrated_u(u), integrated_r(RowMatrix::Zero(rows, d));
          raf_step(ps.view(), ws.view(), leak, threshold, us.view(), rs.view());
          raf_integrate(xs.view(), leak, threshold, integrated_u.view(), integrated_r.view());
          const auto check = [&](RowMatrix got_u, RowMatrix got_r, const char* kernel) {
            for (std::size_t i = 0; i < tie.size(); ++i) {
              if (!tie[i]) continue;  // near-threshold elements take the reference's branch
              got_u.data()[i] = static_cast<float>(expected_u.value[i]);
              got_r.data()[i] = static_cast<float>(expected_r.value[i]);
            }
            const double error =
                std::max(max_relative_error(expected_u, got_u), max_relative_error(expected_r, got_r));
            EXPECT_LE(error, kTolerance) << kernel << ": heads " << heads << ", d " << d << ", leak " << leak
                                         << ", step " << step;
            worst = std::max(worst, error);
          };
          for (std::size_t i = 0; i < tie.size(); ++i) {
            ++compared;
            if (tie[i]) ++ties;
          }
          check(us.view(), rs.view(), "raf_step");
          check(integrated_u.view(), integrated_r.view(), "raf_integrate");
          u = us.view();  // continue from the kernel's membrane
        }
      }
  EXPECT_LT(ties * 1000, compared) << ties << " near-threshold elements of " << compared;
  report("RAF step", worst);
}

INSTANTIATE_TEST_SUITE_P(Isas, KernelsTest, ::testing::ValuesIn(testing::all_isas()), testing::isa_test_name);

TEST(KernelsDispatch, ScalarIsAlwaysAvailableAndScopedIsaRestores) {
  EXPECT_TRUE(isa_supported(Isa::Scalar));
  EXPECT_EQ(isa_supported(Isa::Avx2), detected_isa() == Isa::Avx2);
  const Isa before = active_isa();
  {
    ScopedIsa scalar(Isa::Scalar);
    EXPECT_EQ(active_isa(), Isa::Scalar);
    EXPECT_FALSE(use_avx2());
  }
  EXPECT_EQ(active_isa(), before);
  if (!isa_supported(Isa::Avx2)) {
    EXPECT_THROW(set_isa(Isa::Avx2), OptionError);
  } else {
    ScopedIsa avx2(Isa::Avx2);
    EXPECT_TRUE(use_avx2());
  }
  std::printf("detected: %s, active at start: %s\n", to_string(detected_isa()), to_string(before));
}

TEST(KernelsDispatch, SwitchingWhileOtherThreadsComputeIsSafe) {
  std::mt19937 rng(11);
  const RowMatrix q = random_matrix(2, 4 * 24, rng, 0.3f);
  const RowMatrix k = random_matrix(77, 4 * 24, rng);
  const RowMatrix v = random_matrix(77, 4 * 24, rng);
  const Expected expected = reference_attend(q, k, v, 4, 24, nullptr, 0);
  const Isa before = active_isa();
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, runs{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 2; ++t)
    workers.emplace_back([&] {
      RowMatrix out(2, 4 * 24);
      while (!stop.load() || runs.load() < 200) {
        attend(q, k, v, 4, 24, AttendExtras{}, out);
        if (max_relative_error(expected, out) > kTolerance) failures.fetch_add(1);
        runs.fetch_add(1);
      }
    });
  for (int i = 0; i < 2000; ++i) set_isa(i % 2 == 0 || !isa_supported(Isa::Avx2) ? Isa::Scalar : Isa::Avx2);
  stop.store(true);
  for (auto& worker : workers) worker.join();
  set_isa(before);
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace srformer::kernels
