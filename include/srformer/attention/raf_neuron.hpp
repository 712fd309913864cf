#pragma once
// The SRformer "RAF" neuron (leaky integrate with soft reset, ReLU readout) that
// carries the recurrent term of the cross-attention. One layer has one weight
// matrix W (`SNN_kv.weight`, shared by all heads and rows), a leak λ and a
// threshold θ; every (hypothesis, head) has its own d×d membrane U.
//
// One step on input P (d×d), in the authors' order (integrate() starts from Xin):
//   Xin = P Wᵀ            (Xin[a,c] = Σ_b P[a,b] W[c,b])
//   U   = λ U + Xin       (leak, then integrate)
//   Z   = U/θ − 1
//   U   = U − θ·[Z > 0]   (soft reset, strict inequality, after Z is taken)
//   R   = max(Z, 0)       (the output is the ReLU of the scaled membrane, not a spike)
#include <cmath>
#include <cstdint>
#include <string>

#include "srformer/attention/cross_attention.hpp"
#include "srformer/core/error.hpp"
#include "srformer/core/tensor.hpp"
#include "srformer/kernels/raf_step.hpp"

namespace srformer::attention {

struct RafParameters {
  RowMatrix weight;  // W = SNN_kv.weight, [d, d]
  float leak = 0.1f;
  float threshold = 0.1f;

  Index dim() const { return weight.rows(); }

  /// ConfigError naming `where` when W is not square or λ/θ cannot be used
  /// (θ = 0 divides by zero; non-finite values poison every membrane).
  void validate(const std::string& where) const {
    if (weight.rows() != weight.cols() || weight.rows() == 0)
      throw ConfigError(where + ": RAF weight SNN_kv must be a non-empty square matrix, got [" +
                        std::to_string(weight.rows()) + ", " + std::to_string(weight.cols()) + "]");
    if (!std::isfinite(leak)) throw ConfigError(where + ": RAF leak is not finite");
    if (!std::isfinite(threshold) || threshold == 0.0f)
      throw ConfigError(where + ": RAF threshold must be finite and non-zero, got " + std::to_string(threshold));
    if (!weight.allFinite()) throw ConfigError(where + ": RAF weight SNN_kv holds non-finite values");
  }
};

class RafNeuron {
 public:
  /// Multiply-adds of one step for one d×d membrane (the P·Wᵀ product).
  static std::uint64_t step_multiply_adds(Index dim) {
    const auto d = static_cast<std::uint64_t>(dim);
    return d * d * d;
  }

  /// One step. `input`, `membrane` and `output` have the same shape [r, d]; r may
  /// stack several heads' d×d blocks (W is shared, so one product serves them all).
  /// kernels::raf_step does the work (AVX2+FMA where the CPU has it); no allocation once warm.
  static void step(const RafParameters& params, const Eigen::Ref<const RowMatrix>& input,
                   Eigen::Ref<RowMatrix> membrane, Eigen::Ref<RowMatrix> output) {
    const Index d = params.dim();
    if (input.cols() != d || membrane.rows() != input.rows() || membrane.cols() != d ||
        output.rows() != input.rows() || output.cols() != d)
      throw InputError("RAF step: input [" + std::to_string(input.rows()) + ", " + std::to_string(input.cols()) +
                       "], membrane [" + std::to_string(membrane.rows()) + ", " + std::to_string(membrane.cols()) +
                       "] and output [" + std::to_string(output.rows()) + ", " + std::to_string(output.cols()) +
                       "] do not match the neuron's dimension " + std::to_string(d));
    kernels::raf_step(input, params.weight, params.leak, params.threshold, membrane, output);
  }

  /// The same step from its input current Xin = P Wᵀ (computed beforehand, e.g. once per
  /// encoder segment): only the element-wise part, no product. Shapes as in step().
  static void integrate(const RafParameters& params, const Eigen::Ref<const RowMatrix>& current,
                        Eigen::Ref<RowMatrix> membrane, Eigen::Ref<RowMatrix> output) {
    kernels::raf_integrate(current, params.leak, params.threshold, membrane, output);
  }
};

namespace detail {

/// SplitMix64: a tiny, fully specified generator, so fresh parameters are the
/// same on every platform and standard library.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  /// Standard normal (Box–Muller; 1 − u keeps the logarithm finite).
  double normal() {
    const double u1 = 1.0 - uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  std::uint64_t state_;
};

/// FNV-1a, to give every layer (tensor prefix) its own stream from one seed.
inline std::uint64_t fnv1a(const std::string& text) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ull;
  }
  return hash;
}

}  // namespace detail

/// RAF parameters as the authors' code initialises them, for a checkpoint that has
/// none (untrained: for experiments and timing only).
///   T5:   W ~ U(−1/√d, 1/√d) (PyTorch's default Linear init; T5's _init_weights skips it),
///         leak 0.1, threshold 0.1.
///   BART: W ~ N(0, init_std), leak 0.5, threshold 0.1.
inline RafParameters fresh_raf_parameters(ModelFlavor flavor, Index dim, std::uint64_t seed, float init_std = 0.02f) {
  if (dim < 1) throw ConfigError("fresh RAF parameters: head dimension must be positive, got " + std::to_string(dim));
  detail::SplitMix64 random(seed);
  RafParameters params;
  params.weight.resize(dim, dim);
  if (flavor == ModelFlavor::T5) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(dim));
    for (Index i = 0; i < params.weight.size(); ++i)
      params.weight.data()[i] = static_cast<float>((2.0 * random.uniform() - 1.0) * bound);
    params.leak = 0.1f;
    params.threshold = 0.1f;
  } else {
    for (Index i = 0; i < params.weight.size(); ++i)
      params.weight.data()[i] = static_cast<float>(random.normal() * init_std);
    params.leak = 0.5f;
    params.threshold = 0.1f;
  }
  return params;
}

}  // namespace srformer::attention
