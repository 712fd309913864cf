#pragma once
// The immutable weights of a T5 or BART checkpoint, named and shaped by
// config.json. Float32 tensors point into the memory-mapped files.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "srformer/io/checkpoint.hpp"
#include "srformer/models/config.hpp"
#include "srformer/nn/embedding.hpp"
#include "srformer/nn/feed_forward.hpp"
#include "srformer/nn/linear.hpp"
#include "srformer/nn/norm.hpp"
#include "srformer/nn/relative_position_bias.hpp"

namespace srformer {

/// T5 uses RMS norm, BART LayerNorm: one runtime switch per call, not per element.
struct Norm {
  nn::RmsNorm rms;
  nn::LayerNorm layer;
  bool is_rms = true;

  void forward(const RowMatrix& x, RowMatrix& y) const { is_rms ? rms.forward(x, y) : layer.forward(x, y); }
};

struct AttentionWeights {
  nn::Linear q, k, v, o;
};

struct EncoderLayerWeights {
  AttentionWeights self_attention;
  Norm self_attention_norm;
  nn::FeedForward feed_forward;
  Norm feed_forward_norm;
};

struct DecoderLayerWeights {
  AttentionWeights self_attention;
  Norm self_attention_norm;
  AttentionWeights cross_attention;
  Norm cross_attention_norm;
  nn::FeedForward feed_forward;
  Norm feed_forward_norm;
  /// Checkpoint prefix of the cross-attention module (policies load extra tensors from it).
  std::string cross_attention_prefix;
};

struct StackWeights {
  nn::RelativePositionBias relative_bias;  // T5 (block 0's table)
  Norm final_norm;                          // T5
  FloatTensor positions;                    // BART learned positions [max + 2, d]
  Norm embedding_norm;                      // BART layernorm_embedding
};

struct ModelWeights {
  ModelConfig config;
  std::shared_ptr<const io::Checkpoint> checkpoint;  // kept for policies' extra tensors
  nn::Embedding shared;
  nn::Linear lm_head;
  FloatTensor final_logits_bias;  // BART [1, vocab]; empty for T5
  float output_scale = 1.0f;      // T5 tied head: d_model^-0.5
  float embedding_scale = 1.0f;   // BART scale_embedding: sqrt(d_model)
  StackWeights encoder, decoder;
  std::vector<EncoderLayerWeights> encoder_layers;
  std::vector<DecoderLayerWeights> decoder_layers;
};

namespace detail {

class WeightReader {
 public:
  WeightReader(const io::Checkpoint& checkpoint, const ModelConfig& config)
      : checkpoint_(checkpoint), config_(config) {}

  FloatTensor tensor(const std::string& name, const Shape& shape) const { return checkpoint_.tensor(name, shape); }
  FloatTensor optional(const std::string& name, const Shape& shape) const {
    return checkpoint_.contains(name) ? checkpoint_.tensor(name, shape) : FloatTensor{};
  }
  nn::Linear linear(const std::string& name, Index out, Index in, bool bias) const {
    nn::Linear l;
    l.weight = tensor(name + ".weight", {out, in});
    if (bias) l.bias = tensor(name + ".bias", {out});
    return l;
  }
  Norm rms(const std::string& name) const {
    Norm n;
    n.is_rms = true;
    n.rms.weight = tensor(name + ".weight", {config_.d_model});
    n.rms.eps = config_.norm_eps;
    return n;
  }
  Norm layer_norm(const std::string& name) const {
    Norm n;
    n.is_rms = false;
    n.layer.weight = tensor(name + ".weight", {config_.d_model});
    n.layer.bias = tensor(name + ".bias", {config_.d_model});
    n.layer.eps = config_.norm_eps;
    return n;
  }
  const io::Checkpoint& checkpoint() const { return checkpoint_; }

 private:
  const io::Checkpoint& checkpoint_;
  const ModelConfig& config_;
};

inline AttentionWeights t5_attention(const WeightReader& r, const std::string& p, const ModelConfig& c, Index heads) {
  const Index inner = heads * c.head_dim;
  return {r.linear(p + "q", inner, c.d_model, false), r.linear(p + "k", inner, c.d_model, false),
          r.linear(p + "v", inner, c.d_model, false), r.linear(p + "o", c.d_model, inner, false)};
}

inline AttentionWeights bart_attention(const WeightReader& r, const std::string& p, const ModelConfig& c) {
  const Index d = c.d_model;
  return {r.linear(p + "q_proj", d, d, true), r.linear(p + "k_proj", d, d, true), r.linear(p + "v_proj", d, d, true),
          r.linear(p + "out_proj", d, d, true)};
}

inline nn::FeedForward t5_feed_forward(const WeightReader& r, const std::string& p, const ModelConfig& c) {
  nn::FeedForward f;
  f.activation = c.activation;
  if (c.gated_ffn) {
    f.wi = r.linear(p + "wi_0", c.encoder_ffn_dim, c.d_model, false);
    f.wi_gate = r.linear(p + "wi_1", c.encoder_ffn_dim, c.d_model, false);
  } else {
    f.wi = r.linear(p + "wi", c.encoder_ffn_dim, c.d_model, false);
  }
  f.wo = r.linear(p + "wo", c.d_model, c.encoder_ffn_dim, false);
  return f;
}

inline nn::FeedForward bart_feed_forward(const WeightReader& r, const std::string& p, const ModelConfig& c,
                                         Index ffn_dim) {
  nn::FeedForward f;
  f.activation = c.activation;
  f.wi = r.linear(p + "fc1", ffn_dim, c.d_model, true);
  f.wo = r.linear(p + "fc2", c.d_model, ffn_dim, true);
  return f;
}

inline FloatTensor embedding_table(const WeightReader& r, const std::vector<std::string>& names, const ModelConfig& c) {
  return r.checkpoint().tensor_or_alias(names, {c.vocab_size, c.d_model});
}

inline void load_t5(const WeightReader& r, ModelWeights& w) {
  const ModelConfig& c = w.config;
  w.shared.table = embedding_table(r, {"shared.weight", "encoder.embed_tokens.weight", "decoder.embed_tokens.weight"}, c);
  if (c.tie_word_embeddings) {
    w.lm_head.weight = w.shared.table;
  } else {
    w.lm_head.weight = r.tensor("lm_head.weight", {c.vocab_size, c.d_model});
  }
  w.output_scale = c.scale_decoder_outputs ? 1.0f / std::sqrt(static_cast<float>(c.d_model)) : 1.0f;
  const Shape bias_shape{c.relative_attention_num_buckets, c.encoder_heads};
  w.encoder.relative_bias.table = r.tensor("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", bias_shape);
  w.encoder.relative_bias.bidirectional = true;
  w.encoder.relative_bias.max_distance = c.relative_attention_max_distance;
  w.decoder.relative_bias.table = r.tensor("decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                                           {c.relative_attention_num_buckets, c.decoder_heads});
  w.decoder.relative_bias.bidirectional = false;
  w.decoder.relative_bias.max_distance = c.relative_attention_max_distance;
  w.encoder.final_norm = r.rms("encoder.final_layer_norm");
  w.decoder.final_norm = r.rms("decoder.final_layer_norm");
  for (Index i = 0; i < c.encoder_layers; ++i) {
    const std::string p = "encoder.block." + std::to_string(i) + ".layer.";
    EncoderLayerWeights l;
    l.self_attention = t5_attention(r, p + "0.SelfAttention.", c, c.encoder_heads);
    l.self_attention_norm = r.rms(p + "0.layer_norm");
    l.feed_forward = t5_feed_forward(r, p + "1.DenseReluDense.", c);
    l.feed_forward_norm = r.rms(p + "1.layer_norm");
    w.encoder_layers.push_back(std::move(l));
  }
  for (Index i = 0; i < c.decoder_layers; ++i) {
    const std::string p = "decoder.block." + std::to_string(i) + ".layer.";
    DecoderLayerWeights l;
    l.self_attention = t5_attention(r, p + "0.SelfAttention.", c, c.decoder_heads);
    l.self_attention_norm = r.rms(p + "0.layer_norm");
    l.cross_attention_prefix = p + "1.EncDecAttention.";
    l.cross_attention = t5_attention(r, l.cross_attention_prefix, c, c.decoder_heads);
    l.cross_attention_norm = r.rms(p + "1.layer_norm");
    l.feed_forward = t5_feed_forward(r, p + "2.DenseReluDense.", c);
    l.feed_forward_norm = r.rms(p + "2.layer_norm");
    w.decoder_layers.push_back(std::move(l));
  }
}

inline void load_bart(const WeightReader& r, ModelWeights& w) {
  const ModelConfig& c = w.config;
  // BartForConditionalGeneration prefixes everything with "model."; BartModel does not.
  const std::string m = r.checkpoint().contains("model.shared.weight") ||
                                r.checkpoint().contains("model.encoder.embed_tokens.weight")
                            ? "model."
                            : "";
  w.shared.table = embedding_table(
      r, {m + "shared.weight", m + "encoder.embed_tokens.weight", m + "decoder.embed_tokens.weight"}, c);
  w.lm_head.weight = c.tie_word_embeddings ? w.shared.table : r.tensor("lm_head.weight", {c.vocab_size, c.d_model});
  w.final_logits_bias = r.optional("final_logits_bias", {1, c.vocab_size});
  w.embedding_scale = c.scale_embedding ? std::sqrt(static_cast<float>(c.d_model)) : 1.0f;
  const Shape positions{c.max_position_embeddings + 2, c.d_model};
  w.encoder.positions = r.tensor(m + "encoder.embed_positions.weight", positions);
  w.decoder.positions = r.tensor(m + "decoder.embed_positions.weight", positions);
  w.encoder.embedding_norm = r.layer_norm(m + "encoder.layernorm_embedding");
  w.decoder.embedding_norm = r.layer_norm(m + "decoder.layernorm_embedding");
  for (Index i = 0; i < c.encoder_layers; ++i) {
    const std::string p = m + "encoder.layers." + std::to_string(i) + ".";
    EncoderLayerWeights l;
    l.self_attention = bart_attention(r, p + "self_attn.", c);
    l.self_attention_norm = r.layer_norm(p + "self_attn_layer_norm");
    l.feed_forward = bart_feed_forward(r, p, c, c.encoder_ffn_dim);
    l.feed_forward_norm = r.layer_norm(p + "final_layer_norm");
    w.encoder_layers.push_back(std::move(l));
  }
  for (Index i = 0; i < c.decoder_layers; ++i) {
    const std::string p = m + "decoder.layers." + std::to_string(i) + ".";
    DecoderLayerWeights l;
    l.self_attention = bart_attention(r, p + "self_attn.", c);
    l.self_attention_norm = r.layer_norm(p + "self_attn_layer_norm");
    l.cross_attention_prefix = p + "encoder_attn.";
    l.cross_attention = bart_attention(r, l.cross_attention_prefix, c);
    l.cross_attention_norm = r.layer_norm(p + "encoder_attn_layer_norm");
    l.feed_forward = bart_feed_forward(r, p, c, c.decoder_ffn_dim);
    l.feed_forward_norm = r.layer_norm(p + "final_layer_norm");
    w.decoder_layers.push_back(std::move(l));
  }
}

}  // namespace detail

/// Loads every tensor the configuration needs, checking each shape against config.json.
inline ModelWeights load_weights(io::Checkpoint checkpoint, const ModelConfig& config) {
  ModelWeights weights;
  weights.config = config;
  weights.checkpoint = std::make_shared<const io::Checkpoint>(std::move(checkpoint));
  const detail::WeightReader reader(*weights.checkpoint, weights.config);
  if (config.family == ModelFamily::T5)
    detail::load_t5(reader, weights);
  else
    detail::load_bart(reader, weights);
  return weights;
}

}  // namespace srformer
