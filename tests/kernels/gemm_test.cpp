// kernels::gemm against a double-precision reference on random inputs of awkward sizes
// (not multiples of the 6×16 / 4×8 register blocks, deeper than the depth block,
// empty), with operands and results stored row-major, column-major or with both
// strides > 1 inside padded buffers, assigned and accumulated — on the portable path and
// on AVX2+FMA. Then: the same bits whatever thread runs which task, and bad shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "kernels/kernel_reference.hpp"
#include "srformer/kernels/dispatch.hpp"
#include "srformer/kernels/gemm.hpp"

namespace srformer::kernels {
namespace {

using testing::Expected;
using testing::max_relative_error;
using testing::random_matrix;
using testing::reference_matmul;

constexpr double kTolerance = 1e-5;

enum class Layout { RowMajor, ColumnMajor, Strided };

const char* name(Layout layout) {
  return layout == Layout::RowMajor ? "row-major" : layout == Layout::ColumnMajor ? "column-major" : "strided";
}

/// A [rows, cols] matrix inside a padded buffer: element (i, j) at data()[i*rs + j*cs].
/// The padding holds NaN, so a kernel that reads outside the operand poisons its result,
/// and `padding_intact()` tells whether it wrote outside.
struct Operand {
  std::vector<float> buffer;
  Index offset = 3, rs = 0, cs = 0, rows = 0, cols = 0;

  Operand(const RowMatrix& m, Layout layout) : rows(m.rows()), cols(m.cols()) {
    switch (layout) {
      case Layout::RowMajor: rs = cols + 5, cs = 1; break;
      case Layout::ColumnMajor: rs = 1, cs = rows + 3; break;
      case Layout::Strided: rs = 2 * cols + 3, cs = 2; break;
    }
    const Index extent = offset + (rows > 0 ? (rows - 1) * rs : 0) + (cols > 0 ? (cols - 1) * cs : 0) + 1 + 7;
    buffer.assign(static_cast<std::size_t>(extent), std::numeric_limits<float>::quiet_NaN());
    for (Index i = 0; i < rows; ++i)
      for (Index j = 0; j < cols; ++j) at(i, j) = m(i, j);
  }
  float* data() { return buffer.data() + offset; }
  float& at(Index i, Index j) { return data()[i * rs + j * cs]; }
  RowMatrix matrix() {
    RowMatrix m(rows, cols);
    for (Index i = 0; i < rows; ++i)
      for (Index j = 0; j < cols; ++j) m(i, j) = at(i, j);
    return m;
  }
  bool padding_intact() {
    std::vector<bool> inside(buffer.size(), false);
    for (Index i = 0; i < rows; ++i)
      for (Index j = 0; j < cols; ++j) inside[static_cast<std::size_t>(offset + i * rs + j * cs)] = true;
    for (std::size_t p = 0; p < buffer.size(); ++p)
      if (!inside[p] && !std::isnan(buffer[p])) return false;
    return true;
  }
};

struct Shape3 {
  Index M, N, K;
};

// Few-rows path (M <= 8), packed path, exact register blocks, K beyond one depth
// block (256) and N beyond one column block (512), several tasks.
const Shape3 kShapes[] = {{1, 1, 1},    {1, 37, 300},  {2, 5, 7},     {3, 70, 13},    {5, 131, 64},
                          {7, 1, 1000}, {8, 65, 257},  {9, 17, 5},    {6, 16, 256},   {12, 32, 512},
                          {13, 33, 600}, {100, 70, 257}, {150, 530, 520}, {31, 1, 9},   {64, 64, 64}};

using GemmTest = testing::IsaTest;

TEST_P(GemmTest, MatchesReferenceForEveryLayoutAndSize) {
  std::mt19937 rng(20261128);
  double worst = 0.0;
  int products = 0;
  for (const Shape3& s : kShapes)
    for (Layout a_layout : {Layout::RowMajor, Layout::ColumnMajor, Layout::Strided})
      for (Layout b_layout : {Layout::RowMajor, Layout::ColumnMajor, Layout::Strided})
        for (Layout c_layout : {Layout::RowMajor, Layout::ColumnMajor})
          for (bool accumulate : {false, true}) {
            const RowMatrix a = random_matrix(s.M, s.K, rng), b = random_matrix(s.K, s.N, rng);
            const RowMatrix before = random_matrix(s.M, s.N, rng);
            Operand A(a, a_layout), B(b, b_layout), C(before, c_layout);
            gemm(s.M, s.N, s.K, A.data(), A.rs, A.cs, B.data(), B.rs, B.cs, C.data(), C.rs, C.cs, accumulate);
            const Expected expected = reference_matmul(a, b, accumulate ? &before : nullptr);
            const double error = max_relative_error(expected, C.matrix());
            SCOPED_TRACE(::testing::Message() << "M " << s.M << " N " << s.N << " K " << s.K << ", A " << name(a_layout)
                                              << ", B " << name(b_layout) << ", C " << name(c_layout)
                                              << (accumulate ? ", accumulate" : ""));
            EXPECT_LE(error, kTolerance);
            EXPECT_TRUE(C.padding_intact()) << "wrote outside C";
            worst = std::max(worst, error);
            ++products;
          }
  std::printf("[ %s ] %d products\n", to_string(GetParam()), products);
  report("gemm, all layouts", worst);
}

TEST_P(GemmTest, EmptyProducts) {
  std::mt19937 rng(7);
  // K = 0: C = 0, or C unchanged when accumulating.
  const RowMatrix before = random_matrix(5, 9, rng);
  RowMatrix c = before;
  const RowMatrix a(5, 0), b(0, 9);
  gemm(a, b, c, true);
  EXPECT_EQ(c, before);
  gemm(a, b, c);
  EXPECT_EQ(c, RowMatrix::Zero(5, 9));
  // M = 0 or N = 0: nothing to write.
  RowMatrix none(0, 9);
  gemm(RowMatrix(0, 4), random_matrix(4, 9, rng), none);
  RowMatrix narrow(5, 0);
  gemm(random_matrix(5, 4, rng), RowMatrix(4, 0), narrow);
  EXPECT_EQ(narrow.size(), 0);
}

TEST_P(GemmTest, EigenOverloadsOnBlocksOfWiderMatrices) {
  // One head's columns of [tokens, heads*d]: scores = Q_h K_hᵀ, out_h = P V_h.
  std::mt19937 rng(11);
  const Index tokens = 301, keys = 277, heads = 3, d = 40;
  const RowMatrix q = random_matrix(tokens, heads * d, rng), k = random_matrix(keys, heads * d, rng);
  const RowMatrix v = random_matrix(keys, heads * d, rng);
  RowMatrix scores(tokens, keys), out = RowMatrix::Constant(tokens, heads * d, 7.0f);
  double worst = 0.0;
  for (Index h = 0; h < heads; ++h) {
    gemm_transposed(q.middleCols(h * d, d), k.middleCols(h * d, d), scores);
    const RowMatrix qh = q.middleCols(h * d, d), kh_t = k.middleCols(h * d, d).transpose();
    worst = std::max(worst, max_relative_error(reference_matmul(qh, kh_t, nullptr), scores));
    gemm(scores, v.middleCols(h * d, d), out.middleCols(h * d, d));
    const RowMatrix vh = v.middleCols(h * d, d), outh = out.middleCols(h * d, d);
    worst = std::max(worst, max_relative_error(reference_matmul(scores, vh, nullptr), outh));
  }
  EXPECT_LE(worst, kTolerance);
  report("per-head Q·Kᵀ and P·V", worst);
}

/// Runs every task of the plan on two std::threads, each taking every other task in
/// reverse order: a schedule unlike the serial one.
template <class Kernels>
void run_on_two_threads(const detail::GemmArgs& g) {
  const detail::GemmPlan<Kernels> plan(g);
  auto half = [&](Index parity) {
    for (Index t = plan.task_count() - 1; t >= 0; --t)
      if (t % 2 == parity) plan.run_task(t);
  };
  std::thread other(half, 1);
  half(0);
  other.join();
}

TEST_P(GemmTest, SameBitsWhateverThreadRunsWhichTask) {
  std::mt19937 rng(5);
  const Shape3 shapes[] = {{1, 700, 513}, {4, 300, 200}, {8, 131, 1000}, {300, 600, 700}, {1024, 64, 300}, {37, 1100, 64}};
  for (const Shape3& s : shapes) {
    SCOPED_TRACE(::testing::Message() << "M " << s.M << " N " << s.N << " K " << s.K);
    const RowMatrix a = random_matrix(s.M, s.K, rng), w = random_matrix(s.N, s.K, rng);
    const RowMatrix start = random_matrix(s.M, s.N, rng);
    for (bool accumulate : {false, true}) {
      RowMatrix serial = start, split = start;
      gemm_transposed(a, w, serial, accumulate);
      const detail::GemmArgs g{s.M, s.N, s.K, a.data(), s.K, 1, w.data(), 1, s.K, split.data(), s.N, 1, accumulate};
#if SRFORMER_KERNELS_X86
      if (GetParam() == Isa::Avx2)
        run_on_two_threads<detail::avx2_gemm::Kernels>(g);
      else
#endif
        run_on_two_threads<detail::portable_gemm::Kernels>(g);
      EXPECT_EQ(std::memcmp(serial.data(), split.data(), sizeof(float) * static_cast<std::size_t>(serial.size())), 0);
    }
#ifdef _OPENMP
    // And through the real thread team.
    const int saved = num_threads();
    RowMatrix one(s.M, s.N), two(s.M, s.N);
    set_num_threads(1);
    gemm_transposed(a, w, one);
    set_num_threads(2);
    gemm_transposed(a, w, two);
    set_num_threads(saved);
    EXPECT_EQ(std::memcmp(one.data(), two.data(), sizeof(float) * static_cast<std::size_t>(one.size())), 0);
#endif
  }
}

TEST_P(GemmTest, ConcurrentCallersGetTheirOwnResults) {
  std::mt19937 rng(3);
  const RowMatrix a = random_matrix(200, 300, rng), b = random_matrix(300, 150, rng);
  RowMatrix expected(200, 150);
  gemm(a, b, expected);
  std::vector<RowMatrix> results(4, RowMatrix(200, 150));
  std::vector<std::thread> threads;
  const Isa isa = GetParam();
  for (auto& result : results)
    threads.emplace_back([&, isa] {
      (void)isa;  // the ISA is process-wide; set by the fixture
      for (int repeat = 0; repeat < 3; ++repeat) gemm(a, b, result);
    });
  for (auto& thread : threads) thread.join();
  for (const RowMatrix& result : results) EXPECT_EQ(result, expected);
}

INSTANTIATE_TEST_SUITE_P(BothIsas, GemmTest, ::testing::ValuesIn(testing::all_isas()), testing::isa_test_name);

TEST(GemmErrors, BadShapesAndArguments) {
  RowMatrix a(3, 4), b(5, 6), c(3, 6), w(6, 5);
  EXPECT_THROW(gemm(a, b, c), InputError);            // 4 != 5
  EXPECT_THROW(gemm_transposed(a, w, c), InputError);  // w [6, 5]: depth 5 != 4
  RowMatrix wrong_out(3, 5);
  EXPECT_THROW(gemm(a, RowMatrix(4, 6), wrong_out), InputError);
  float x = 0;
  EXPECT_THROW(gemm(-1, 2, 2, &x, 1, 1, &x, 1, 1, &x, 1, 1), InputError);
  EXPECT_THROW(gemm(2, 2, 2, nullptr, 2, 1, &x, 1, 1, &x, 1, 1), InputError);
  try {
    gemm(a, b, c);
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("[3, 4]"), std::string::npos) << error.what();
  }
  EXPECT_THROW(set_num_threads(0), OptionError);
  EXPECT_GE(num_threads(), 1);
}

}  // namespace
}  // namespace srformer::kernels
