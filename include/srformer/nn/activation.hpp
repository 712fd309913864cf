#pragma once
// Feed-forward activations, applied to whole matrices (the choice is made once
// per layer, outside the element loop).
#include <cmath>
#include <string>

#include "srformer/core/error.hpp"
#include "srformer/core/printable.hpp"
#include "srformer/core/tensor.hpp"

namespace srformer {

enum class Activation { Relu, Gelu, GeluTanh, Silu };

inline Activation parse_activation(const std::string& name, const std::string& source) {
  if (name == "relu") return Activation::Relu;
  if (name == "gelu") return Activation::Gelu;  // exact, erf form
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast")
    return Activation::GeluTanh;
  if (name == "silu" || name == "swish") return Activation::Silu;
  throw ConfigError(source + ": unsupported activation function '" + printable(name) +
                    "' (supported: relu, gelu, gelu_new, gelu_pytorch_tanh, silu)");
}

namespace nn {

/// Applies `activation` element-wise in place.
template <class Derived>
inline void apply_activation(Activation activation, Eigen::MatrixBase<Derived>& x) {
  auto a = x.array();
  switch (activation) {
    case Activation::Relu:
      a = a.max(0.0f);
      break;
    case Activation::Gelu:
      // 0.5·x·(1 + erf(x/√2)), as torch.nn.functional.gelu.
      a = 0.5f * a * (1.0f + (a * 0.70710678118654752440f).unaryExpr([](float v) { return std::erf(v); }));
      break;
    case Activation::GeluTanh: {
      // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), HF's NewGELUActivation.
      const float c = 0.79788456080286535588f;
      a = 0.5f * a * (1.0f + (c * (a + 0.044715f * a.cube())).tanh());
      break;
    }
    case Activation::Silu:
      a = a / (1.0f + (-a).exp());
      break;
  }
}

}  // namespace nn
}  // namespace srformer
