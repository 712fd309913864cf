#pragma once
// Plain scalar references (double precision) for the kernels in srformer/kernels/,
// random inputs and the relative error the kernel tests compare with.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "srformer/core/tensor.hpp"
#include "srformer/kernels/dispatch.hpp"

namespace srformer::kernels::testing {

/// Expected values in double, and per value the scale its float32 rounding error is
/// measured against: the sum of the absolute values of the terms it adds up (|value|
/// where it is not a sum). A sum of K float32 terms is only accurate relative to that
/// scale; relative to the value itself it can be arbitrarily bad under cancellation.
struct Expected {
  std::vector<double> value, magnitude;
  void resize(std::size_t size) {
    value.assign(size, 0.0);
    magnitude.assign(size, 0.0);
  }
};

/// max_i |a_i − b_i| / max(m_i, 1e-3 · max_j |b_j|) for expected values b with term
/// magnitudes m: relative to the scale of the terms, with a floor on the scale of the
/// largest value. 0 when equal; infinite when they differ where everything expected is 0.
inline double max_relative_error(const Expected& expected, const float* actual) {
  double largest = 0.0;
  for (double b : expected.value) largest = std::max(largest, std::abs(b));
  double worst = 0.0;
  for (std::size_t i = 0; i < expected.value.size(); ++i) {
    const double difference = std::abs(static_cast<double>(actual[i]) - expected.value[i]);
    if (difference == 0.0) continue;
    const double denominator = std::max(std::max(expected.magnitude[i], std::abs(expected.value[i])), 1e-3 * largest);
    if (!(difference < std::numeric_limits<double>::infinity()) || denominator == 0.0)
      return std::numeric_limits<double>::infinity();
    worst = std::max(worst, difference / denominator);
  }
  return worst;
}

inline double max_relative_error(const Expected& expected, const RowMatrix& actual) {
  std::vector<float> flat(static_cast<std::size_t>(actual.size()));
  for (Index r = 0; r < actual.rows(); ++r)
    for (Index c = 0; c < actual.cols(); ++c) flat[static_cast<std::size_t>(r * actual.cols() + c)] = actual(r, c);
  return max_relative_error(expected, flat.data());
}

/// Values that are not sums (probabilities): the scale is the value itself.
inline Expected plain(std::vector<double> values) {
  Expected e;
  e.magnitude = values;
  for (double& m : e.magnitude) m = std::abs(m);
  e.value = std::move(values);
  return e;
}

inline RowMatrix random_matrix(Index rows, Index cols, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> normal(0.0f, scale);
  RowMatrix m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = normal(rng);
  return m;
}

/// softmax(q Kᵀ + bias) V per head as the policies define it: the score is the dot
/// product rounded to float plus the bias in float (so −1e9 swallows the dot product
/// exactly as in float arithmetic), everything else in double. Extra zero keys score
/// their bias (or 0) and have value 0. Returns out [n, heads·d] row-major flattened;
/// `probabilities` (if given) receives [heads·n, keys + zero_keys].
inline Expected reference_attend(const RowMatrix& q, const RowMatrix& k, const RowMatrix& v, Index heads, Index d,
                                 const std::vector<float>* bias, Index zero_keys,
                                 std::vector<double>* probabilities = nullptr) {
  const Index n = q.rows(), length = k.rows(), width = length + zero_keys;
  Expected out;
  out.resize(static_cast<std::size_t>(n * heads * d));
  if (probabilities) probabilities->assign(static_cast<std::size_t>(heads * n * width), 0.0);
  std::vector<double> scores(static_cast<std::size_t>(width));
  for (Index h = 0; h < heads; ++h)
    for (Index i = 0; i < n; ++i) {
      for (Index key = 0; key < width; ++key) {
        float score = 0.0f;
        if (key < length) {
          double dot = 0.0;
          for (Index c = 0; c < d; ++c) dot += static_cast<double>(q(i, h * d + c)) * k(key, h * d + c);
          score = static_cast<float>(dot);
        }
        if (bias) score += (*bias)[static_cast<std::size_t>(key)];
        scores[static_cast<std::size_t>(key)] = score;
      }
      double max_score = -std::numeric_limits<double>::infinity();
      for (double s : scores) max_score = std::max(max_score, s);
      if (width == 0 || max_score == -std::numeric_limits<double>::infinity()) continue;  // all zero
      double sum = 0.0;
      for (double& s : scores) sum += (s = std::exp(s - max_score));
      for (Index key = 0; key < width; ++key) {
        const double p = scores[static_cast<std::size_t>(key)] / sum;
        if (probabilities) (*probabilities)[static_cast<std::size_t>((h * n + i) * width + key)] = p;
        if (key >= length) continue;
        for (Index c = 0; c < d; ++c) {
          const auto at = static_cast<std::size_t>(i * heads * d + h * d + c);
          out.value[at] += p * v(key, h * d + c);
          out.magnitude[at] += p * std::abs(v(key, h * d + c));
        }
      }
    }
  return out;
}

/// (accumulate ? C : 0) + A·B in double, flattened row-major.
inline Expected reference_matmul(const RowMatrix& a, const RowMatrix& b, const RowMatrix* c_before) {
  Expected out;
  out.resize(static_cast<std::size_t>(a.rows() * b.cols()));
  for (Index i = 0; i < a.rows(); ++i)
    for (Index j = 0; j < b.cols(); ++j) {
      double sum = 0.0, magnitude = 0.0;
      for (Index k = 0; k < a.cols(); ++k) {
        sum += static_cast<double>(a(i, k)) * b(k, j);
        magnitude += std::abs(static_cast<double>(a(i, k)) * b(k, j));
      }
      if (c_before) {
        sum += (*c_before)(i, j);
        magnitude += std::abs((*c_before)(i, j));
      }
      out.value[static_cast<std::size_t>(i * b.cols() + j)] = sum;
      out.magnitude[static_cast<std::size_t>(i * b.cols() + j)] = magnitude;
    }
  return out;
}

/// The Isa values a parameterised test runs with, and a readable name for them.
inline std::vector<Isa> all_isas() { return {Isa::Scalar, Isa::Avx2}; }
inline std::string isa_test_name(const ::testing::TestParamInfo<Isa>& info) {
  return info.param == Isa::Avx2 ? "Avx2" : "Scalar";
}

/// A test run once per instruction set (skipped where the CPU lacks it), with that set
/// forced for its duration; report() prints a measured error.
class IsaTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!isa_supported(GetParam())) GTEST_SKIP() << "this CPU lacks " << to_string(GetParam());
    isa_.emplace(GetParam());
  }
  void TearDown() override { isa_.reset(); }
  void report(const char* what, double worst) {
    std::printf("[ %s ] %s: max relative error %.3g\n", to_string(GetParam()), what, worst);
  }

 private:
  std::optional<ScopedIsa> isa_;
};

}  // namespace srformer::kernels::testing
