#pragma once
// The GEMM driver shared by both instruction sets: C = A·B (or C += A·B) for strided
// operands, cut into independent tasks that each write their own block of C.
//
//  * Large products (more than kSmallRows rows): BLIS-style. A task owns an [mc, nc]
//    block of C; for every depth block of exactly kDepthBlock (kc) it packs its B block
//    into NR-wide panels and its A block into MR-tall panels (zero padded), then runs
//    the MR×NR register micro-kernel over them. The packed B panel (kc×NR) stays in L1,
//    the packed A block in L2.
//  * Few rows (decoding): no packing; B is streamed once. If B's columns are contiguous
//    (B = Wᵀ with W [N, K] row-major, nn::Linear), every output is a dot product of an A
//    row with a W row, four W rows at a time; if B's rows are contiguous (P·V), a block
//    of 16 columns is accumulated row by row of B.
//
// Determinism: each element of C is summed in one fixed order — depth block by depth
// block (kc fixed), within a block one multiply-add chain (or, on the few-rows path,
// one fixed dot-product tree) — whatever task computes it. Packed tasks may be cut
// finer for threads (that changes only which elements a task owns, not how any element
// is summed); few-rows tasks depend on the shape only. Threads only choose which task
// runs where, so the bits never depend on the thread count or scheduling. Edge tiles run the same kernels on zero-padded panels or
// duplicated rows whose results are dropped.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "srformer/core/tensor.hpp"

namespace srformer::kernels::detail {

/// C(i,j) = c[i*c_rs + j*c_cs] = (accumulate ? C(i,j) : 0) + Σ_k A(i,k)·B(k,j), with
/// A(i,k) = a[i*a_rs + k*a_cs] and B(k,j) = b[k*b_rs + j*b_cs].
struct GemmArgs {
  Index M = 0, N = 0, K = 0;
  const float* a = nullptr;
  Index a_rs = 0, a_cs = 0;
  const float* b = nullptr;
  Index b_rs = 0, b_cs = 0;
  float* c = nullptr;
  Index c_rs = 0, c_cs = 0;
  bool accumulate = false;

  float A(Index i, Index k) const { return a[i * a_rs + k * a_cs]; }
  float B(Index k, Index j) const { return b[k * b_rs + j * b_cs]; }
  float& C(Index i, Index j) const { return c[i * c_rs + j * c_cs]; }
};

/// Depth block: fixed, never derived from the thread count (see above).
constexpr Index kDepthBlock = 256;
/// Rows of A used against one packed B panel before moving on (packed A: kept in L2).
constexpr Index kMaxRowBlock = 144;
/// Largest row range and column block of one task (packed path).
constexpr Index kMaxRowsPerTask = 1024;
constexpr Index kMaxColumnBlock = 512;
/// Products with at most this many rows take the few-rows (streaming) path.
constexpr Index kSmallRows = 8;
/// Outputs per task on the few-rows path (a multiple of the 4 outputs per pass and of
/// the 16 columns per pass, so that the passes line up the same in every task).
constexpr Index kSmallColumnsPerTask = 64;
/// Deepest few-rows dot product whose next weight vectors are prefetched in software.
constexpr Index kPrefetchDepth = 1024;

inline Index ceil_div(Index a, Index b) { return (a + b - 1) / b; }
inline Index round_up(Index a, Index b) { return ceil_div(a, b) * b; }

/// This thread's packing buffers, 64-byte aligned; grow-only, so after warm-up a
/// product allocates nothing. Each thread packs its own blocks: nothing is shared.
inline float* gemm_buffer(int slot, Index floats) {
  thread_local std::vector<float> buffers[2];
  std::vector<float>& buffer = buffers[slot];
  const auto needed = static_cast<std::size_t>(floats + 16);
  if (buffer.size() < needed) buffer.resize(needed);
  const auto address = reinterpret_cast<std::uintptr_t>(buffer.data());
  return buffer.data() + ((64 - address % 64) % 64) / sizeof(float);
}

/// Packs A(i0.., k0..) [rows, kc] into MR-tall panels: panel p holds rows p*MR.. with
/// element (ii, k) at p*MR*kc + k*MR + ii; rows past `rows` are zeros.
template <Index MR>
void pack_a(const GemmArgs& g, Index i0, Index rows, Index k0, Index kc, float* dst) {
  for (Index p = 0; p < rows; p += MR, dst += MR * kc) {
    const Index mr = std::min(MR, rows - p);
    const float* src = g.a + (i0 + p) * g.a_rs + k0 * g.a_cs;
    if (g.a_cs == 1) {
      for (Index ii = 0; ii < mr; ++ii)
        for (Index k = 0; k < kc; ++k) dst[k * MR + ii] = src[ii * g.a_rs + k];
    } else {
      for (Index k = 0; k < kc; ++k)
        for (Index ii = 0; ii < mr; ++ii) dst[k * MR + ii] = src[ii * g.a_rs + k * g.a_cs];
    }
    for (Index ii = mr; ii < MR; ++ii)
      for (Index k = 0; k < kc; ++k) dst[k * MR + ii] = 0.0f;
  }
}

/// Packs B(k0.., j0..) [kc, cols] into NR-wide panels: element (k, jj) of panel p at
/// p*NR*kc + k*NR + jj; columns past `cols` are zeros.
template <Index NR>
void pack_b(const GemmArgs& g, Index k0, Index kc, Index j0, Index cols, float* dst) {
  for (Index p = 0; p < cols; p += NR, dst += NR * kc) {
    const Index nr = std::min(NR, cols - p);
    const float* src = g.b + k0 * g.b_rs + (j0 + p) * g.b_cs;
    if (g.b_cs == 1) {
      for (Index k = 0; k < kc; ++k) {
        for (Index jj = 0; jj < nr; ++jj) dst[k * NR + jj] = src[k * g.b_rs + jj];
        for (Index jj = nr; jj < NR; ++jj) dst[k * NR + jj] = 0.0f;
      }
    } else {
      for (Index jj = 0; jj < nr; ++jj)
        for (Index k = 0; k < kc; ++k) dst[k * NR + jj] = src[k * g.b_rs + jj * g.b_cs];
      for (Index jj = nr; jj < NR; ++jj)
        for (Index k = 0; k < kc; ++k) dst[k * NR + jj] = 0.0f;
    }
  }
}

/// Writes a [rows, cols] tile (row stride `tile_rs`) into C at (i0, j0): assigned, or
/// added to what is there when `add`.
inline void store_tile(const GemmArgs& g, Index i0, Index j0, Index rows, Index cols, const float* tile,
                       Index tile_rs, bool add) {
  for (Index i = 0; i < rows; ++i)
    for (Index j = 0; j < cols; ++j) {
      float& target = g.C(i0 + i, j0 + j);
      target = add ? target + tile[i * tile_rs + j] : tile[i * tile_rs + j];
    }
}

/// How the product is cut into tasks; `Kernels` is detail::avx2_gemm::Kernels or
/// detail::portable_gemm::Kernels (MR, NR, micro-kernel and few-rows kernels).
template <class Kernels>
class GemmPlan {
 public:
  static constexpr Index MR = Kernels::MR;
  static constexpr Index NR = Kernels::NR;
  enum class Path { Packed, SmallDot, SmallRows };

  /// `min_tasks`: how many tasks the packed path should offer at least (for threads; 1
  /// when the product runs serially: fewer, larger tasks pack less).
  explicit GemmPlan(const GemmArgs& g, Index min_tasks = 4) : g_(g) {
    if (g.M <= 0 || g.N <= 0 || g.K <= 0) return;
    if (g.M <= kSmallRows && g.b_rs == 1) {
      path_ = Path::SmallDot;
      tasks_ = ceil_div(g.N, kSmallColumnsPerTask);
    } else if (g.M <= kSmallRows && g.b_cs == 1) {
      path_ = Path::SmallRows;
      tasks_ = ceil_div(g.N, kSmallColumnsPerTask);
    } else {
      path_ = Path::Packed;
      // A task owns an [mr_task, nc] block of C. Its B block is packed once per depth
      // block and reused by all its rows, so tasks keep many rows and are split by
      // columns first; then by rows, until there are a few tasks to share (the bits do
      // not depend on the blocking, only on kc).
      row_blocks_ = ceil_div(g.M, kMaxRowsPerTask);
      column_blocks_ = ceil_div(g.N, kMaxColumnBlock);
      while (row_blocks_ * column_blocks_ < min_tasks && ceil_div(g.N, column_blocks_ * 2) >= 4 * NR)
        column_blocks_ *= 2;
      while (row_blocks_ * column_blocks_ < min_tasks && ceil_div(g.M, row_blocks_ * 2) >= 8 * MR) row_blocks_ *= 2;
      mc_ = round_up(ceil_div(g.M, row_blocks_), MR);
      nc_ = round_up(ceil_div(g.N, column_blocks_), NR);
      row_blocks_ = ceil_div(g.M, mc_);
      column_blocks_ = ceil_div(g.N, nc_);
      tasks_ = row_blocks_ * column_blocks_;
    }
  }

  Path path() const { return path_; }
  Index task_count() const { return tasks_; }

  /// Runs task t (0 <= t < task_count()): any thread, any order, any subset at a time.
  void run_task(Index t) const {
    switch (path_) {
      case Path::Packed: return run_packed(t % row_blocks_, t / row_blocks_);
      case Path::SmallDot: return run_small_dot(t);
      case Path::SmallRows: return run_small_rows(t);
    }
  }

 private:
  void run_packed(Index row_block, Index column_block) const {
    const Index i_begin = row_block * mc_, i_end = std::min(g_.M, i_begin + mc_);
    const Index j0 = column_block * nc_, cols = std::min(nc_, g_.N - j0);
    const Index column_panels = ceil_div(cols, NR);
    // A's rows contiguous and deep enough: broadcast from them in place, no packing. Shallow
    // products (one head's Q·Kᵀ, depth 64) pack: their few lines per row, a power-of-two
    // stride apart, would fall into the same L1 sets.
    const bool direct_a = g_.a_cs == 1 && g_.K >= 128;
    float* packed_a = direct_a ? nullptr : gemm_buffer(0, round_up(kMaxRowBlock, MR) * kDepthBlock);
    float* packed_b = gemm_buffer(1, kDepthBlock * round_up(kMaxColumnBlock, NR));
    for (Index k0 = 0; k0 < g_.K; k0 += kDepthBlock) {
      const Index kc = std::min(kDepthBlock, g_.K - k0);
      const bool add = g_.accumulate || k0 > 0;
      pack_b<NR>(g_, k0, kc, j0, cols, packed_b);
      for (Index i0 = i_begin; i0 < i_end; i0 += kMaxRowBlock) {
        const Index rows = std::min(kMaxRowBlock, i_end - i0);
        if (!direct_a) pack_a<MR>(g_, i0, rows, k0, kc, packed_a);
        for (Index jp = 0; jp < column_panels; ++jp) {
          const Index j = jp * NR, nr = std::min(NR, cols - j);
          const float* b = packed_b + jp * NR * kc;
          for (Index i = 0; i < rows; i += MR) {
            const Index mr = std::min(MR, rows - i);
            float* c = g_.c + (i0 + i) * g_.c_rs + (j0 + j) * g_.c_cs;
            if (direct_a)
              Kernels::micro_direct(kc, g_.a + (i0 + i) * g_.a_rs + k0, g_.a_rs, b, c, g_.c_rs, g_.c_cs, mr, nr, add);
            else
              Kernels::micro(kc, packed_a + (i / MR) * MR * kc, b, c, g_.c_rs, g_.c_cs, mr, nr, add);
          }
        }
      }
    }
  }

  /// A's rows as contiguous vectors: A itself when its rows are, else a packed copy.
  const float* contiguous_a(Index& rs) const {
    if (g_.a_cs == 1) {
      rs = g_.a_rs;
      return g_.a;
    }
    float* copy = gemm_buffer(0, g_.M * g_.K);
    for (Index i = 0; i < g_.M; ++i)
      for (Index k = 0; k < g_.K; ++k) copy[i * g_.K + k] = g_.A(i, k);
    rs = g_.K;
    return copy;
  }

  /// Outputs j0.. of every row: dots of A rows with B columns (contiguous, stride b_cs),
  /// four columns and up to two rows per pass. A short last group of columns repeats the
  /// last column (its result dropped), so every output uses the same kernel.
  void run_small_dot(Index t) const {
    Index a_rs = 0;
    const float* a = contiguous_a(a_rs);
    const Index j_end = std::min(g_.N, (t + 1) * kSmallColumnsPerTask);
    float out[2 * 4];
    for (Index j = t * kSmallColumnsPerTask; j < j_end; j += 4) {
      const float* w[4];
      for (Index q = 0; q < 4; ++q) w[q] = g_.b + std::min(j + q, g_.N - 1) * g_.b_cs;
      const Index cols = std::min<Index>(4, g_.N - j);
      // Prefetch the next four columns while reading these, on the first pass only (later
      // passes find them in L1), where columns are contiguous vectors short enough for the
      // hardware prefetcher to lag (long ones it streams better alone: measured at K = 2048).
      const float* next =
          g_.b_rs == 1 && g_.K <= kPrefetchDepth && j + 4 < g_.N ? g_.b + (j + 4) * g_.b_cs : nullptr;
      Index i = 0;
      for (; i + 2 <= g_.M; i += 2) {
        Kernels::dot_rows2(a + i * a_rs, a_rs, w, g_.K, out, i == 0 ? next : nullptr);
        store_tile(g_, i, j, 2, cols, out, 4, g_.accumulate);
      }
      if (i < g_.M) {
        Kernels::dot_rows1(a + i * a_rs, w, g_.K, out, i == 0 ? next : nullptr);
        store_tile(g_, i, j, 1, cols, out, 4, g_.accumulate);
      }
    }
  }

  /// Columns j0.. of every row, 16 at a time and up to four rows per pass, walking B's
  /// rows (contiguous) once per pass.
  void run_small_rows(Index t) const {
    const Index j_end = std::min(g_.N, (t + 1) * kSmallColumnsPerTask);
    float out[4 * 16];
    for (Index j = t * kSmallColumnsPerTask; j < j_end; j += 16) {
      const Index cols = std::min<Index>(16, g_.N - j);
      for (Index i = 0; i < g_.M; i += 4) {
        const Index rows = std::min<Index>(4, g_.M - i);
        Kernels::rows_times_b(g_.a + i * g_.a_rs, g_.a_rs, g_.a_cs, rows, g_.b + j, g_.b_rs, g_.K, cols, out);
        store_tile(g_, i, j, rows, cols, out, 16, g_.accumulate);
      }
    }
  }

  GemmArgs g_;
  Path path_ = Path::Packed;
  Index tasks_ = 0;
  Index row_blocks_ = 1, column_blocks_ = 1;
  Index mc_ = 0, nc_ = 0;  // rows and columns of C per task
};

}  // namespace srformer::kernels::detail
