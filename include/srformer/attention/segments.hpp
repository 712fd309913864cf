#pragma once
// Segment arithmetic shared by the segmented and SRformer cross-attention.
//
// The encoder sequence of length N is cut into m = ceil(N/s) segments of s
// positions; segment j covers [j·s, min((j+1)·s, N)). A decoder position t is
// mapped to segment
//
//     j(t) = min(m − 1, (t·m) div G)
//
// so that the m segments are spread evenly over the first G decoder positions
// (the authors' `gen_len`, 128) and every later position uses the last segment.
// Paper semantics: N is the padded batch length (the authors segment the padded
// tensor). Causal semantics: N is the row's number of real tokens, so padding
// never changes which tokens a position sees.
#include <algorithm>
#include <string>
#include <vector>

#include "srformer/core/error.hpp"
#include "srformer/core/tensor.hpp"

namespace srformer::attention {

/// Half-open range of encoder positions.
struct SegmentRange {
  Index begin = 0;
  Index end = 0;
  Index size() const { return end - begin; }
};

/// m = ceil(length / segment_size); 0 for an empty sequence.
inline Index segment_count(Index length, Index segment_size) {
  if (segment_size < 1) throw OptionError("segment size must be at least 1, got " + std::to_string(segment_size));
  if (length < 0) throw InputError("negative sequence length " + std::to_string(length));
  return (length + segment_size - 1) / segment_size;
}

/// Positions of segment j that exist in a sequence of `length` (the tail segment may be short).
inline SegmentRange segment_range(Index segment, Index segment_size, Index length) {
  const Index begin = std::min(segment * segment_size, length);
  const Index end = std::min((segment + 1) * segment_size, length);
  return {begin, end};
}

/// j(t) = min(m − 1, (t·m) div G) for decoder position t ≥ 0 (generation, and
/// the authors' eval forward at step t). The authors compute int(t·m/G) in floating
/// point, which equals the integer quotient for t ≥ 0.
inline Index decoding_segment(Index position, Index num_segments, Index gen_len) {
  if (num_segments < 1) throw InputError("decoding_segment: no segments (empty encoder sequence)");
  if (gen_len < 1) throw OptionError("gen_len (G) must be at least 1, got " + std::to_string(gen_len));
  if (position < 0) throw InputError("decoder position " + std::to_string(position) + " is negative");
  // For t ≥ G the answer is m − 1 anyway; clamping first keeps t·m from overflowing.
  const Index t = std::min(position, gen_len);
  return std::min(num_segments - 1, (t * num_segments) / gen_len);
}

/// The authors' training forward: query i of q gets min(m − 1, floor(i·m/q)),
/// spreading the segments evenly over the call's queries.
inline Index paper_training_segment(Index query, Index num_queries, Index num_segments) {
  if (num_segments < 1) throw InputError("paper_training_segment: no segments (empty encoder sequence)");
  if (num_queries < 1 || query < 0 || query >= num_queries)
    throw InputError("paper_training_segment: query " + std::to_string(query) + " of " + std::to_string(num_queries));
  return std::min(num_segments - 1, (query * num_segments) / num_queries);
}

/// T5 training-mode quirk of the authors' code: the encoder-mask slice used for
/// segment j is jb = min(j, floor(max(N, s)/s) − 1), so when N is not a multiple
/// of s the last segment is scored with the mask of the segment before it.
inline Index t5_training_mask_segment(Index segment, Index padded_length, Index segment_size) {
  return std::min(segment, std::max(padded_length, segment_size) / segment_size - 1);
}

/// What one segmented/SRformer attend() call did: filled by attend_traced(), for
/// tests and diagnostics (the ordinary attend() records nothing).
struct AttendTrace {
  std::vector<Index> segment_per_query;
  /// Segment of every RAF step the call made, in order.
  std::vector<Index> raf_step_segments;
  /// Input current Xin = P Wᵀ of every RAF step, heads stacked: [heads*head_dim, head_dim].
  std::vector<RowMatrix> raf_currents;

  void clear() {
    segment_per_query.clear();
    raf_step_segments.clear();
    raf_currents.clear();
  }
};

}  // namespace srformer::attention
