#pragma once
// The cross-attention hot path on the instruction set dispatch.hpp picked:
//
//   attend():                   out_ih = softmax_k(q_ih · K_kh + bias_k) V_kh for every head h
//                               (full attention over all N keys, or one segment K_j, V_j);
//   add_normalised_recurrent(): SRformer's out_ih += (q_ih R_h) ⊘ n_h.
//
// Layout. Queries, keys and values keep the decoder's [rows, heads·d] row-major layout
// (EncoderSide::keys_of); no per-head copies are made. The kernels walk K and V once,
// front to back, in blocks of four rows, and use every head of a block while it is in
// L1, so each cache line fetched is used in full and the hardware prefetcher sees one
// sequential stream. Per-head [H][N][d] copies would double the cross K/V memory
// (T5-small, N = 1024: +4 MiB per layer and input row) to save nothing on bandwidth;
// a transposed Kᵀ per head would only remove the horizontal sums (about a tenth of the
// score work at d = 64). Scores live in a per-thread grow-only buffer.
#include <algorithm>
#include <cstring>
#include <string>

#include "srformer/core/error.hpp"
#include "srformer/core/tensor.hpp"
#include "srformer/kernels/detail/arguments.hpp"
#include "srformer/kernels/detail/avx2.hpp"
#include "srformer/kernels/detail/portable.hpp"
#include "srformer/kernels/detail/scratch.hpp"
#include "srformer/kernels/dispatch.hpp"
#include "srformer/kernels/softmax.hpp"
#include "srformer/kernels/threads.hpp"

namespace srformer::kernels {
namespace detail {

inline void attention_scores(const AttendArguments& a, float* scores) {
#if SRFORMER_KERNELS_X86
  if (use_avx2()) return avx2::attention_scores(a, scores);
#endif
  portable::attention_scores(a, scores);
}

inline void attention_weighted_sum(const AttendArguments& a, const float* probabilities, float* out, Index stride) {
#if SRFORMER_KERNELS_X86
  if (use_avx2()) return avx2::attention_weighted_sum(a, probabilities, out, stride);
#endif
  portable::attention_weighted_sum(a, probabilities, out, stride);
}

}  // namespace detail

struct AttendExtras {
  /// Additive score bias per key, [keys.rows() + zero_keys] (e.g. mask_bias on padding); null = none.
  const float* key_bias = nullptr;
  /// Extra keys whose value is zero and whose score is their bias (0 without one): the
  /// zero rows the authors append to a short last segment. They take softmax mass only.
  Index zero_keys = 0;
};

/// out[n, heads·d] = softmax(q Kᵀ + bias) V, head by head; queries must already carry any
/// scaling. `probabilities`, when given, receives the weights as [heads·n, keys + zero_keys]
/// (row h·n + i: head h, query i).
inline void attend(const Eigen::Ref<const RowMatrix>& queries, const Eigen::Ref<const RowMatrix>& keys,
                   const Eigen::Ref<const RowMatrix>& values, Index heads, Index head_dim, const AttendExtras& extras,
                   Eigen::Ref<RowMatrix> out, float* probabilities = nullptr) {
  const Index width = heads * head_dim;
  if (heads < 1 || head_dim < 1 || queries.cols() != width || keys.cols() != width || values.cols() != width ||
      values.rows() != keys.rows() || out.rows() != queries.rows() || out.cols() != width || extras.zero_keys < 0)
    throw InputError("kernels::attend: queries [" + std::to_string(queries.rows()) + ", " +
                     std::to_string(queries.cols()) + "], keys [" + std::to_string(keys.rows()) + ", " +
                     std::to_string(keys.cols()) + "], values [" + std::to_string(values.rows()) + ", " +
                     std::to_string(values.cols()) + "] and output [" + std::to_string(out.rows()) + ", " +
                     std::to_string(out.cols()) + "] do not fit " + std::to_string(heads) + " heads of " +
                     std::to_string(head_dim));
  detail::AttendArguments a;
  a.q = queries.data();
  a.q_stride = queries.outerStride();
  a.n = queries.rows();
  a.k = keys.data();
  a.k_stride = keys.outerStride();
  a.v = values.data();
  a.v_stride = values.outerStride();
  a.length = keys.rows();
  a.heads = heads;
  a.head_dim = head_dim;
  a.bias = extras.key_bias;
  a.zero_keys = extras.zero_keys;
  if (a.n == 0) return;
  const Index rows = heads * a.n, cols = a.width();
  float* scores = detail::scratch(detail::kScoresSlot, rows * cols);
  // Heads are independent: with several threads each takes a contiguous range of them
  // (its slice of every K and V row, its block of score rows, its output columns), and
  // every number is computed exactly as on one thread. This is what spreads a decoding
  // step's full cross-attention (25 MB of K/V per token at t5-small, N = 1024) over the
  // cores' bandwidth.
  const Index parts = std::min<Index>(heads, num_threads());
  const double work = 2.0 * static_cast<double>(a.n) * static_cast<double>(a.length) * static_cast<double>(width);
  detail::parallel_for(parts, work, [&](Index part) {
    const Index h0 = heads * part / parts, h1 = heads * (part + 1) / parts;
    detail::AttendArguments sub = a;
    sub.q += h0 * head_dim;
    sub.k += h0 * head_dim;
    sub.v += h0 * head_dim;
    sub.heads = h1 - h0;
    float* sub_scores = scores + h0 * a.n * cols;
    detail::attention_scores(sub, sub_scores);
    for (Index r = 0; r < sub.heads * a.n; ++r) softmax(sub_scores + r * cols, cols);
    detail::attention_weighted_sum(sub, sub_scores, out.data() + h0 * head_dim, out.outerStride());
  });
  if (probabilities && rows * cols > 0)
    std::memcpy(probabilities, scores, static_cast<std::size_t>(rows * cols) * sizeof(float));
}

/// SRformer's recurrent term, per head h: out_h += (q_h R_h) ⊘ n_h, where R_h is rows
/// h·d .. h·d+d−1 of `recurrent` ([heads·d, d]) and n_h row h of `norms` ([heads, d]);
/// a column whose norm is 0 (a key column zero everywhere) adds nothing.
inline void add_normalised_recurrent(const Eigen::Ref<const RowMatrix>& queries,
                                     const Eigen::Ref<const RowMatrix>& recurrent,
                                     const Eigen::Ref<const RowMatrix>& norms, Index heads, Index head_dim,
                                     Eigen::Ref<RowMatrix> out) {
  const Index width = heads * head_dim;
  if (heads < 1 || head_dim < 1 || queries.cols() != width || out.cols() != width || out.rows() != queries.rows() ||
      recurrent.rows() != width || recurrent.cols() != head_dim || norms.rows() != heads ||
      norms.cols() != head_dim)
    throw InputError("kernels::add_normalised_recurrent: queries [" + std::to_string(queries.rows()) + ", " +
                     std::to_string(queries.cols()) + "], R [" + std::to_string(recurrent.rows()) + ", " +
                     std::to_string(recurrent.cols()) + "], norms [" + std::to_string(norms.rows()) + ", " +
                     std::to_string(norms.cols()) + "] and output [" + std::to_string(out.rows()) + ", " +
                     std::to_string(out.cols()) + "] do not fit " + std::to_string(heads) + " heads of " +
                     std::to_string(head_dim));
  if (queries.rows() == 0) return;
#if SRFORMER_KERNELS_X86
  if (use_avx2())
    return detail::avx2::add_normalised_recurrent(queries.data(), queries.outerStride(), queries.rows(),
                                                  recurrent.data(), recurrent.outerStride(), norms.data(),
                                                  norms.outerStride(), heads, head_dim, out.data(),
                                                  out.outerStride());
#endif
  detail::portable::add_normalised_recurrent(queries.data(), queries.outerStride(), queries.rows(), recurrent.data(),
                                             recurrent.outerStride(), norms.data(), norms.outerStride(), heads,
                                             head_dim, out.data(), out.outerStride());
}

}  // namespace srformer::kernels
