#pragma once
// Analytic multiply-add counts of the cross-attention policies, term by term,
// equal to what the policies count into a FlopCounter when they run.
//
// Setting: one input row of N real encoder tokens (no padding), the encoder
// memory prepared once per layer, then L decoder positions 0..L−1 fed in order
// (QueryMode::Incremental, in any blocking). Per head and layer, with
// m = ceil(N/s), j(t) = min(m−1, t·m div G) and |j| the number of tokens of segment j:
//
//   full:       scores = weighted_sum = L·N·d
//   segmented:  scores = weighted_sum = Σ_t |j(t)|·d   (= L·s·d when s divides N)
//   srformer:   the segmented terms, plus
//     paper   kv_products = N·d²                  (K_jᵀV_j of every segment; KV is their sum)
//             normalisation = N·d                 (column norms of K)
//             raf_linear = m·d³                   (Xin_j = P_j Wᵀ of every segment, in prepare)
//             recurrent = L·d²                    (q·R)
//     causal  kv_products = (m−1)·s·d²            (the last segment's product is never needed)
//             normalisation = N·d
//             raf_linear = (m−1)·d³               (Xin_j for j ≥ 1, in prepare; P_0 = 0)
//             recurrent = #{t : j(t) ≥ 1}·d²      (R = 0 in segment 0, the term is skipped)
// The RAF's P·Wᵀ depends on the input only, so it is done once per input and segment in
// prepare(), not at every step of every hypothesis (the authors' code multiplies at
// every step: L·d³ for T5, one per segment change for BART). The steps themselves, like
// additions, the softmax, clipping, square roots and divisions, are not counted.
#include <cstdint>
#include <string>

#include "srformer/attention/cross_attention.hpp"
#include "srformer/attention/flop_counter.hpp"
#include "srformer/attention/options.hpp"
#include "srformer/attention/segments.hpp"

namespace srformer::attention {

/// `flavor` no longer changes any count (it did when the RAF product ran per step); kept
/// so that callers need not change.
inline FlopCounter analytic_cross_attention_flops(AttentionKind kind, Semantics semantics,
                                                  [[maybe_unused]] ModelFlavor flavor,
                                                  Index N, Index L, Index s, Index d, Index heads, Index layers,
                                                  Index G) {
  if (N < 0 || L < 0 || s < 1 || d < 1 || heads < 1 || layers < 0 || G < 1)
    throw InputError("analytic_cross_attention_flops: need N, L, layers >= 0 and s, d, heads, G >= 1 (got N=" +
                     std::to_string(N) + ", L=" + std::to_string(L) + ", s=" + std::to_string(s) +
                     ", d=" + std::to_string(d) + ", heads=" + std::to_string(heads) +
                     ", layers=" + std::to_string(layers) + ", G=" + std::to_string(G) + ")");
  using U64 = std::uint64_t;
  const auto u = [](Index v) { return static_cast<U64>(v); };
  FlopCounter per_head;
  const Index m = segment_count(N, s);
  if (kind == AttentionKind::Full) {
    per_head.scores = per_head.weighted_sum = u(L) * u(N) * u(d);
  } else if (m > 0) {
    Index past_first = 0;
    for (Index t = 0; t < L; ++t) {
      const Index j = decoding_segment(t, m, G);
      per_head.scores += u(segment_range(j, s, N).size()) * u(d);
      if (j >= 1) ++past_first;
    }
    per_head.weighted_sum = per_head.scores;
    if (kind == AttentionKind::Srformer) {
      per_head.normalisation = u(N) * u(d);
      if (semantics == Semantics::Paper) {
        per_head.kv_products = u(N) * u(d) * u(d);
        per_head.raf_linear = u(m) * u(d) * u(d) * u(d);
        per_head.recurrent = u(L) * u(d) * u(d);
      } else {
        per_head.kv_products = u(m - 1) * u(s) * u(d) * u(d);
        per_head.raf_linear = u(m - 1) * u(d) * u(d) * u(d);
        per_head.recurrent = u(past_first) * u(d) * u(d);
      }
    }
  }
  const U64 copies = u(heads) * u(layers);
  FlopCounter total;
  total.scores = per_head.scores * copies;
  total.weighted_sum = per_head.weighted_sum * copies;
  total.kv_products = per_head.kv_products * copies;
  total.raf_linear = per_head.raf_linear * copies;
  total.recurrent = per_head.recurrent * copies;
  total.normalisation = per_head.normalisation * copies;
  return total;
}

}  // namespace srformer::attention
