#pragma once
// Multiply-add accounting of cross-attention, by term, so that measured work
// can be compared with the analytic counts of the paper.
#include <cstdint>

namespace srformer::attention {

struct FlopCounter {
  std::uint64_t scores = 0;        // q·k products
  std::uint64_t weighted_sum = 0;  // softmax weights × V
  std::uint64_t kv_products = 0;   // KᵀV segment products (SRformer memory)
  std::uint64_t raf_linear = 0;    // P·Wᵀ inside the RAF neuron
  std::uint64_t recurrent = 0;     // q·R
  std::uint64_t normalisation = 0; // ‖K‖ column norms

  std::uint64_t total() const {
    return scores + weighted_sum + kv_products + raf_linear + recurrent + normalisation;
  }
  FlopCounter& operator+=(const FlopCounter& o) {
    scores += o.scores;
    weighted_sum += o.weighted_sum;
    kv_products += o.kv_products;
    raf_linear += o.raf_linear;
    recurrent += o.recurrent;
    normalisation += o.normalisation;
    return *this;
  }
};

}  // namespace srformer::attention
