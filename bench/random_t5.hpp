#pragma once
// A T5 model with random weights, built in memory (no checkpoint file), for
// timing: the cost of a forward pass depends on the shapes only. Defaults are
// t5-small's: d_model 512, 8 heads of 64, d_ff 2048 (ReLU, not gated), 6 + 6
// layers, vocabulary 32128, tied and scaled LM head, 32 relative-position buckets.
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "srformer/core/tensor.hpp"
#include "srformer/models/weights.hpp"

namespace srformer::bench {

struct RandomT5Shape {
  Index vocab_size = 32128;
  Index d_model = 512;
  Index heads = 8;
  Index head_dim = 64;
  Index d_ff = 2048;
  Index encoder_layers = 6;
  Index decoder_layers = 6;
  Index buckets = 32;
  Index max_distance = 128;
};

/// Uniform floats in [-bound, bound) from SplitMix64: fast and the same everywhere.
inline void fill_uniform(float* data, std::size_t count, float bound, std::uint64_t seed) {
  std::uint64_t state = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
  for (std::size_t i = 0; i < count; ++i) {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const float unit = static_cast<float>(z >> 40) * (1.0f / 16777216.0f);  // [0, 1)
    data[i] = (2.0f * unit - 1.0f) * bound;
  }
}

inline RowMatrix random_uniform_matrix(Index rows, Index cols, float bound, std::uint64_t seed) {
  RowMatrix m(rows, cols);
  fill_uniform(m.data(), static_cast<std::size_t>(m.size()), bound, seed);
  return m;
}

namespace detail {

class RandomTensors {
 public:
  explicit RandomTensors(std::uint64_t seed) : seed_(seed) {}

  /// Uniform with standard deviation `stddev`.
  FloatTensor uniform(const std::string& name, const Shape& shape, float stddev) {
    std::vector<float> values(static_cast<std::size_t>(shape_numel(shape)));
    fill_uniform(values.data(), values.size(), stddev * std::sqrt(3.0f), seed_++);
    return FloatTensor::owning(name, shape, std::move(values));
  }
  FloatTensor constant(const std::string& name, const Shape& shape, float value) {
    return FloatTensor::owning(name, shape, std::vector<float>(static_cast<std::size_t>(shape_numel(shape)), value));
  }
  /// A bias-free projection [out, in], scaled so outputs keep the inputs' variance.
  nn::Linear linear(const std::string& name, Index out, Index in) {
    nn::Linear l;
    l.weight = uniform(name + ".weight", {out, in}, 1.0f / std::sqrt(static_cast<float>(in)));
    return l;
  }
  Norm rms(const std::string& name, Index d) {
    Norm n;
    n.is_rms = true;
    n.rms.weight = constant(name + ".weight", {d}, 1.0f);
    n.rms.eps = 1e-6f;
    return n;
  }
  AttentionWeights attention(const std::string& prefix, Index d_model, Index inner) {
    return {linear(prefix + "q", inner, d_model), linear(prefix + "k", inner, d_model),
            linear(prefix + "v", inner, d_model), linear(prefix + "o", d_model, inner)};
  }
  nn::FeedForward feed_forward(const std::string& prefix, Index d_model, Index d_ff) {
    nn::FeedForward f;
    f.activation = Activation::Relu;
    f.wi = linear(prefix + "wi", d_ff, d_model);
    f.wo = linear(prefix + "wo", d_model, d_ff);
    return f;
  }

 private:
  std::uint64_t seed_;
};

}  // namespace detail

/// The configuration a t5-small config.json would produce, for `shape`.
inline ModelConfig random_t5_config(const RandomT5Shape& shape) {
  ModelConfig c;
  c.family = ModelFamily::T5;
  c.source = "random T5 (bench/random_t5.hpp)";
  c.vocab_size = shape.vocab_size;
  c.d_model = shape.d_model;
  c.encoder_layers = shape.encoder_layers;
  c.decoder_layers = shape.decoder_layers;
  c.encoder_heads = c.decoder_heads = shape.heads;
  c.head_dim = shape.head_dim;
  c.encoder_ffn_dim = c.decoder_ffn_dim = shape.d_ff;
  c.activation = Activation::Relu;
  c.gated_ffn = false;
  c.norm_eps = 1e-6f;
  c.relative_attention_num_buckets = shape.buckets;
  c.relative_attention_max_distance = shape.max_distance;
  c.scale_decoder_outputs = true;
  c.tie_word_embeddings = true;
  c.pad_token_id = 0;
  c.eos_token_id = 1;
  c.decoder_start_token_id = 0;
  return c;
}

/// Every tensor EncoderDecoder reads for a T5 model, random. `checkpoint` stays
/// null: construct EncoderDecoder with ready cross-attention parameters.
inline std::shared_ptr<const ModelWeights> make_random_t5(const RandomT5Shape& shape = {}, std::uint64_t seed = 1) {
  auto weights = std::make_shared<ModelWeights>();
  ModelWeights& w = *weights;
  w.config = random_t5_config(shape);
  const ModelConfig& c = w.config;
  const Index inner = c.encoder_heads * c.head_dim;
  detail::RandomTensors random(seed);
  w.shared.table = random.uniform("shared.weight", {c.vocab_size, c.d_model}, 1.0f);
  w.lm_head.weight = w.shared.table;
  w.output_scale = 1.0f / std::sqrt(static_cast<float>(c.d_model));
  const Shape bias_shape{c.relative_attention_num_buckets, c.encoder_heads};
  w.encoder.relative_bias.table = random.uniform("encoder.relative_attention_bias.weight", bias_shape, 0.5f);
  w.encoder.relative_bias.bidirectional = true;
  w.encoder.relative_bias.max_distance = c.relative_attention_max_distance;
  w.decoder.relative_bias.table = random.uniform("decoder.relative_attention_bias.weight", bias_shape, 0.5f);
  w.decoder.relative_bias.bidirectional = false;
  w.decoder.relative_bias.max_distance = c.relative_attention_max_distance;
  w.encoder.final_norm = random.rms("encoder.final_layer_norm", c.d_model);
  w.decoder.final_norm = random.rms("decoder.final_layer_norm", c.d_model);
  for (Index i = 0; i < c.encoder_layers; ++i) {
    const std::string p = "encoder.block." + std::to_string(i) + ".layer.";
    EncoderLayerWeights l;
    l.self_attention = random.attention(p + "0.SelfAttention.", c.d_model, inner);
    l.self_attention_norm = random.rms(p + "0.layer_norm", c.d_model);
    l.feed_forward = random.feed_forward(p + "1.DenseReluDense.", c.d_model, c.encoder_ffn_dim);
    l.feed_forward_norm = random.rms(p + "1.layer_norm", c.d_model);
    w.encoder_layers.push_back(std::move(l));
  }
  for (Index i = 0; i < c.decoder_layers; ++i) {
    const std::string p = "decoder.block." + std::to_string(i) + ".layer.";
    DecoderLayerWeights l;
    l.self_attention = random.attention(p + "0.SelfAttention.", c.d_model, inner);
    l.self_attention_norm = random.rms(p + "0.layer_norm", c.d_model);
    l.cross_attention_prefix = p + "1.EncDecAttention.";
    l.cross_attention = random.attention(l.cross_attention_prefix, c.d_model, inner);
    l.cross_attention_norm = random.rms(p + "1.layer_norm", c.d_model);
    l.feed_forward = random.feed_forward(p + "2.DenseReluDense.", c.d_model, c.decoder_ffn_dim);
    l.feed_forward_norm = random.rms(p + "2.layer_norm", c.d_model);
    w.decoder_layers.push_back(std::move(l));
  }
  return weights;
}

}  // namespace srformer::bench
