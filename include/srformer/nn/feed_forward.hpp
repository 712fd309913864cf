#pragma once
// Position-wise feed-forward: wo(act(wi x)) or, gated (T5 v1.1/flan),
// wo(act(wi_0 x) ⊙ wi_1 x).
#include "srformer/nn/activation.hpp"
#include "srformer/nn/linear.hpp"

namespace srformer::nn {

struct FeedForward {
  Linear wi;       // [d_ff, d]  (gated: wi_0, the activated branch)
  Linear wi_gate;  // [d_ff, d]  (gated: wi_1, the linear branch); empty otherwise
  Linear wo;       // [d, d_ff]
  Activation activation = Activation::Relu;

  bool gated() const { return !wi_gate.weight.empty(); }

  /// out += FFN(x): the residual add is fused.
  void forward_add(const RowMatrix& x, RowMatrix& out, RowMatrix& hidden, RowMatrix& gate) const {
    wi.forward(x, hidden);
    apply_activation(activation, hidden);
    if (gated()) {
      wi_gate.forward(x, gate);
      hidden.array() *= gate.array();
    }
    wo.forward_add(hidden, out);
  }
};

}  // namespace srformer::nn
