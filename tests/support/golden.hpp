#pragma once
// Helpers for comparing against reference tensors stored in safetensors files.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "srformer/core/tensor.hpp"
#include "srformer/io/checkpoint.hpp"

namespace srformer::testing {

inline std::filesystem::path data_dir() { return SRFORMER_TEST_DATA_DIR; }
inline std::filesystem::path models_dir() { return SRFORMER_MODELS_DIR; }

struct Difference {
  double max_abs = 0.0;
  double max_rel = 0.0;  // relative to max(|ref|, 1e-3)
  Index worst_index = -1;
};

template <class A, class B>
Difference compare(const A& actual, const B& reference) {
  Difference d;
  EXPECT_EQ(actual.size(), reference.size());
  if (actual.size() != reference.size()) return d;
  for (Index i = 0; i < actual.size(); ++i) {
    const double a = actual.data()[i], r = reference.data()[i];
    const double diff = std::abs(a - r);
    if (!(diff <= d.max_abs)) {
      d.max_abs = std::isnan(diff) ? INFINITY : diff;
      d.worst_index = i;
    }
    d.max_rel = std::max(d.max_rel, diff / std::max(std::abs(r), 1e-3));
  }
  return d;
}

/// Max-abs comparison with the measured maximum printed, as the tests promise.
template <class A>
void expect_close(const A& actual, const FloatTensor& reference, double tolerance, const std::string& what) {
  ASSERT_EQ(actual.size(), reference.numel()) << what;
  const Difference d = compare(actual, reference.vector());
  std::printf("  %-48s max|Δ| = %.3g  max rel = %.3g\n", what.c_str(), d.max_abs, d.max_rel);
  EXPECT_LE(d.max_abs, tolerance) << what << ": worst element " << d.worst_index;
}

/// Incremental vs teacher-forced decoding (ours): 1e-5 absolute, or 2e-6 of the
/// largest |logit| when that is larger (unscaled heads reach 18-57): a 1-row and
/// a T-row matrix product (GEMV vs blocked GEMM) sum in different orders, and the
/// rounding differences grow through the layers with the activations' scale.
inline double cache_tolerance(const RowMatrix& logits) {
  return std::max(1e-5, 2e-6 * static_cast<double>(logits.cwiseAbs().maxCoeff()));
}

inline std::vector<TokenId> to_tokens(const std::vector<std::int64_t>& v) {
  return std::vector<TokenId>(v.begin(), v.end());
}

inline std::vector<std::uint8_t> to_mask(const std::vector<std::int64_t>& v) {
  return std::vector<std::uint8_t>(v.begin(), v.end());
}

}  // namespace srformer::testing
