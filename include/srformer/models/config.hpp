#pragma once
// Model hyper-parameters read from a HuggingFace config.json, for the two
// supported families. Anything we do not implement is rejected by name rather
// than guessed.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "srformer/core/error.hpp"
#include "srformer/core/tensor.hpp"
#include "srformer/io/json.hpp"
#include "srformer/nn/activation.hpp"

namespace srformer {

enum class ModelFamily { T5, Bart };

inline const char* to_string(ModelFamily family) { return family == ModelFamily::T5 ? "t5" : "bart"; }

struct ModelConfig {
  ModelFamily family = ModelFamily::T5;
  std::string source;  // where the config came from, for messages

  Index vocab_size = 0;
  Index d_model = 0;
  Index encoder_layers = 0;
  Index decoder_layers = 0;
  Index encoder_heads = 0;
  Index decoder_heads = 0;
  Index head_dim = 0;  // T5 d_kv; BART d_model / heads
  Index encoder_ffn_dim = 0;
  Index decoder_ffn_dim = 0;
  Activation activation = Activation::Relu;
  bool gated_ffn = false;
  float norm_eps = 1e-6f;

  // T5
  Index relative_attention_num_buckets = 32;
  Index relative_attention_max_distance = 128;
  /// Multiply decoder outputs by d_model^-0.5 before the LM head (T5 v1.0 tied head).
  bool scale_decoder_outputs = false;
  bool tie_word_embeddings = true;

  // BART
  Index max_position_embeddings = 0;
  bool scale_embedding = false;

  std::int32_t pad_token_id = 0;
  std::int32_t eos_token_id = 1;
  std::int32_t bos_token_id = -1;
  std::int32_t decoder_start_token_id = 0;

  Index inner_dim(bool decoder) const { return (decoder ? decoder_heads : encoder_heads) * head_dim; }
};

namespace detail {

template <class T>
T config_value(const nlohmann::json& json, const char* key, const std::string& source) {
  if (!json.contains(key) || json.at(key).is_null())
    throw ConfigError(source + ": missing required key '" + key + "'");
  const nlohmann::json& value = json.at(key);
  if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
    if (const std::optional<T> number = io::json_number_as<T>(value)) return *number;
    throw ConfigError(source + ": key '" + key + "' " +
                      (value.is_number() ? "is not a value its type can hold" : "has the wrong type") + " (" +
                      value.dump() + ")");
  } else {
    try {
      return value.get<T>();
    } catch (const nlohmann::json::exception&) {
      throw ConfigError(source + ": key '" + key + "' has the wrong type (" + value.dump() + ")");
    }
  }
}

template <class T>
T config_value_or(const nlohmann::json& json, const char* key, T fallback, const std::string& source) {
  if (!json.contains(key) || json.at(key).is_null()) return fallback;
  return config_value<T>(json, key, source);
}

inline void require_positive(Index value, const char* key, const std::string& source) {
  if (value <= 0)
    throw ConfigError(source + ": '" + key + "' must be positive, got " + std::to_string(value));
}

inline ModelConfig t5_config(const nlohmann::json& j, const std::string& source) {
  ModelConfig c;
  c.family = ModelFamily::T5;
  c.source = source;
  c.vocab_size = config_value<Index>(j, "vocab_size", source);
  c.d_model = config_value<Index>(j, "d_model", source);
  c.head_dim = config_value<Index>(j, "d_kv", source);
  c.encoder_ffn_dim = c.decoder_ffn_dim = config_value<Index>(j, "d_ff", source);
  c.encoder_layers = config_value<Index>(j, "num_layers", source);
  c.decoder_layers = config_value_or<Index>(j, "num_decoder_layers", c.encoder_layers, source);
  c.encoder_heads = c.decoder_heads = config_value<Index>(j, "num_heads", source);
  c.norm_eps = config_value_or<float>(j, "layer_norm_epsilon", 1e-6f, source);
  c.relative_attention_num_buckets = config_value_or<Index>(j, "relative_attention_num_buckets", 32, source);
  c.relative_attention_max_distance = config_value_or<Index>(j, "relative_attention_max_distance", 128, source);

  // "relu", "gated-gelu", "gated-silu"...: an optional "gated-" prefix and an activation name.
  std::string proj = config_value_or<std::string>(j, "feed_forward_proj", "relu", source);
  const std::string gated_prefix = "gated-";
  if (proj.rfind(gated_prefix, 0) == 0) {
    c.gated_ffn = true;
    proj = proj.substr(gated_prefix.size());
  }
  // HF maps "gated-gelu" to gelu_new (the tanh form) for backwards compatibility.
  if (c.gated_ffn && proj == "gelu") proj = "gelu_new";
  // As in HF's T5Config, feed_forward_proj decides; a stored dense_act_fn is derived from it.
  c.activation = parse_activation(proj, source);

  c.tie_word_embeddings = config_value_or<bool>(j, "tie_word_embeddings", true, source);
  // transformers 5.x writes scale_decoder_outputs; older configs scale exactly when tied.
  c.scale_decoder_outputs = config_value_or<bool>(j, "scale_decoder_outputs", c.tie_word_embeddings, source);
  c.pad_token_id = config_value_or<std::int32_t>(j, "pad_token_id", 0, source);
  c.eos_token_id = config_value_or<std::int32_t>(j, "eos_token_id", 1, source);
  c.decoder_start_token_id = config_value_or<std::int32_t>(j, "decoder_start_token_id", c.pad_token_id, source);
  require_positive(c.relative_attention_num_buckets, "relative_attention_num_buckets", source);
  return c;
}

inline ModelConfig bart_config(const nlohmann::json& j, const std::string& source) {
  ModelConfig c;
  c.family = ModelFamily::Bart;
  c.source = source;
  c.vocab_size = config_value<Index>(j, "vocab_size", source);
  c.d_model = config_value<Index>(j, "d_model", source);
  c.encoder_layers = config_value<Index>(j, "encoder_layers", source);
  c.decoder_layers = config_value<Index>(j, "decoder_layers", source);
  c.encoder_heads = config_value<Index>(j, "encoder_attention_heads", source);
  c.decoder_heads = config_value<Index>(j, "decoder_attention_heads", source);
  c.encoder_ffn_dim = config_value<Index>(j, "encoder_ffn_dim", source);
  c.decoder_ffn_dim = config_value<Index>(j, "decoder_ffn_dim", source);
  require_positive(c.encoder_heads, "encoder_attention_heads", source);
  require_positive(c.decoder_heads, "decoder_attention_heads", source);
  if (c.d_model % c.encoder_heads != 0 || c.d_model % c.decoder_heads != 0)
    throw ConfigError(source + ": d_model " + std::to_string(c.d_model) +
                      " is not divisible by the number of attention heads");
  if (c.encoder_heads != c.decoder_heads)
    throw ConfigError(source + ": encoder_attention_heads != decoder_attention_heads is not supported");
  c.head_dim = c.d_model / c.encoder_heads;
  c.activation = parse_activation(config_value_or<std::string>(j, "activation_function", "gelu", source), source);
  c.norm_eps = 1e-5f;
  c.max_position_embeddings = config_value<Index>(j, "max_position_embeddings", source);
  c.scale_embedding = config_value_or<bool>(j, "scale_embedding", false, source);
  c.tie_word_embeddings = config_value_or<bool>(j, "tie_word_embeddings", true, source);
  c.pad_token_id = config_value_or<std::int32_t>(j, "pad_token_id", 1, source);
  c.eos_token_id = config_value_or<std::int32_t>(j, "eos_token_id", 2, source);
  c.bos_token_id = config_value_or<std::int32_t>(j, "bos_token_id", 0, source);
  c.decoder_start_token_id = config_value_or<std::int32_t>(j, "decoder_start_token_id", c.eos_token_id, source);
  // Variants whose layer layout differs from BART's post-norm stack.
  if (config_value_or<bool>(j, "normalize_before", false, source) ||
      config_value_or<bool>(j, "add_final_layer_norm", false, source))
    throw ConfigError(source + ": pre-LayerNorm BART variants (normalize_before / add_final_layer_norm, "
                               "as in mBART) are not supported");
  if (config_value_or<bool>(j, "add_bias_logits", false, source))
    throw ConfigError(source + ": add_bias_logits is not supported");
  return c;
}

}  // namespace detail

/// Parses a HuggingFace config.json object. `source` names the file in messages.
inline ModelConfig parse_model_config(const nlohmann::json& json, const std::string& source = "config.json") {
  if (!json.is_object()) throw ConfigError(source + ": expected a JSON object");
  const auto model_type = detail::config_value<std::string>(json, "model_type", source);
  ModelConfig config;
  if (model_type == "t5")
    config = detail::t5_config(json, source);
  else if (model_type == "bart")
    config = detail::bart_config(json, source);
  else
    throw ConfigError(source + ": unsupported model_type '" + model_type + "' (supported: t5, bart)");
  if (json.contains("is_encoder_decoder") && json.at("is_encoder_decoder").is_boolean() &&
      !json.at("is_encoder_decoder").get<bool>())
    throw ConfigError(source + ": is_encoder_decoder is false; only encoder-decoder models are supported");
  detail::require_positive(config.vocab_size, "vocab_size", source);
  detail::require_positive(config.d_model, "d_model", source);
  detail::require_positive(config.head_dim, "d_kv", source);
  detail::require_positive(config.encoder_layers, "num_layers/encoder_layers", source);
  detail::require_positive(config.decoder_layers, "num_decoder_layers/decoder_layers", source);
  detail::require_positive(config.encoder_heads, "num_heads", source);
  detail::require_positive(config.encoder_ffn_dim, "d_ff/encoder_ffn_dim", source);
  detail::require_positive(config.decoder_ffn_dim, "d_ff/decoder_ffn_dim", source);
  return config;
}

}  // namespace srformer
