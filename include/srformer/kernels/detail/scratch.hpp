#pragma once
// Grow-only per-thread float buffers for the kernels' intermediates (scores, a
// transposed weight, a product). Kernels may run on several threads at once, and
// after the first calls of a request nothing is allocated any more.
#include <array>
#include <cstddef>
#include <vector>

#include "srformer/core/tensor.hpp"

namespace srformer::kernels::detail {

enum ScratchSlot : std::size_t { kScoresSlot = 0, kTransposedSlot = 1, kProductSlot = 2, kSlotCount };

/// At least `count` floats of this thread's buffer `slot` (contents unspecified).
/// The pointer stays valid until the same slot is asked for more on this thread.
inline float* scratch(ScratchSlot slot, Index count) {
  thread_local std::array<std::vector<float>, kSlotCount> buffers;
  std::vector<float>& buffer = buffers[slot];
  const auto needed = static_cast<std::size_t>(count > 0 ? count : 1);
  if (buffer.size() < needed) buffer.resize(needed);
  return buffer.data();
}

}  // namespace srformer::kernels::detail
