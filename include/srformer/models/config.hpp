#pragma once
// Model hyper-parameters read from a HuggingFace config.json, for the two
// supported families. Anything we do not implement is rejected by name rather
// than guessed.
#include <cmath>
#include <cstdint>
#include <limits>
#include <filesystem>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "srformer/core/error.hpp"
#include "srformer/core/printable.hpp"
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
  /// The first of eos_token_ids (HF allows an int or a list).
  std::int32_t eos_token_id = 1;
  std::vector<std::int32_t> eos_token_ids = {1};
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
                      io::json_excerpt(value) + ")");
  } else {
    try {
      return value.get<T>();
    } catch (const nlohmann::json::exception&) {
      throw ConfigError(source + ": key '" + key + "' has the wrong type (" + io::json_excerpt(value) + ")");
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

/// Every size read from config.json is checked against a bound before it sizes or
/// indexes anything: the weights are checked against these sizes later, but products
/// of unchecked sizes could overflow first. The bounds are far above any released
/// T5/BART (t5-11b: d_ff 65536, 128 heads; vocabularies of 250k).
inline constexpr Index kMaxModelDimension = Index{1} << 20;
inline constexpr Index kMaxLayers = 1024;
inline constexpr Index kMaxRelativeBuckets = Index{1} << 16;
inline constexpr Index kMaxPositions = Index{1} << 24;

inline void require_in_range(Index value, Index low, Index high, const char* key, const std::string& source) {
  if (value < low || value > high)
    throw ConfigError(source + ": '" + key + "' must be in [" + std::to_string(low) + ", " + std::to_string(high) +
                      "], got " + std::to_string(value));
}

/// HF allows eos_token_id to be an int or a list of ints; null keeps `fallback`.
inline std::vector<std::int32_t> config_token_list(const nlohmann::json& json, const char* key,
                                                   std::int32_t fallback, const std::string& source) {
  if (!json.contains(key) || json.at(key).is_null()) return {fallback};
  const nlohmann::json& value = json.at(key);
  if (!value.is_array()) return {config_value<std::int32_t>(json, key, source)};
  std::vector<std::int32_t> ids;
  for (const auto& item : value) {
    const std::optional<std::int32_t> id = item.is_number() ? io::json_number_as<std::int32_t>(item) : std::nullopt;
    if (!id)
      throw ConfigError(source + ": key '" + key + "' must be a token id or a list of token ids, got " +
                        io::json_excerpt(value));
    ids.push_back(*id);
  }
  if (ids.empty()) throw ConfigError(source + ": key '" + key + "' is an empty list");
  return ids;
}

inline void require_token_id(std::int32_t id, Index vocab_size, const char* key, const std::string& source) {
  if (id < 0 || id >= vocab_size)
    throw ConfigError(source + ": '" + key + "' = " + std::to_string(id) + " is outside the vocabulary [0, " +
                      std::to_string(vocab_size) + ")");
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
  c.eos_token_ids = config_token_list(j, "eos_token_id", 1, source);
  c.eos_token_id = c.eos_token_ids.front();
  c.decoder_start_token_id = config_value_or<std::int32_t>(j, "decoder_start_token_id", c.pad_token_id, source);
  // The bucket function divides by max_exact = buckets/4 (encoder) and takes
  // log(max_distance / max_exact) with the decoder's max_exact = buckets/2: fewer than
  // 4 buckets or a max distance <= buckets/2 make that log zero, negative or infinite,
  // and HF's bucket index then points outside the bias table.
  require_in_range(c.relative_attention_num_buckets, 4, kMaxRelativeBuckets, "relative_attention_num_buckets", source);
  if (c.relative_attention_max_distance <= c.relative_attention_num_buckets / 2)
    throw ConfigError(source + ": 'relative_attention_max_distance' must be greater than half of "
                      "'relative_attention_num_buckets' (" + std::to_string(c.relative_attention_num_buckets / 2) +
                      "), got " + std::to_string(c.relative_attention_max_distance));
  if (!(std::isfinite(c.norm_eps) && c.norm_eps > 0.0f))
    throw ConfigError(source + ": 'layer_norm_epsilon' must be a positive finite number, got " +
                      io::json_excerpt(j.at("layer_norm_epsilon")));
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
  c.eos_token_ids = config_token_list(j, "eos_token_id", 2, source);
  c.eos_token_id = c.eos_token_ids.front();
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
    throw ConfigError(source + ": unsupported model_type " + quote(model_type) + " (supported: t5, bart)");
  if (json.contains("is_encoder_decoder") && json.at("is_encoder_decoder").is_boolean() &&
      !json.at("is_encoder_decoder").get<bool>())
    throw ConfigError(source + ": is_encoder_decoder is false; only encoder-decoder models are supported");
  using detail::kMaxLayers;
  using detail::kMaxModelDimension;
  using detail::require_in_range;
  const bool t5 = config.family == ModelFamily::T5;
  require_in_range(config.vocab_size, 1, std::numeric_limits<std::int32_t>::max(), "vocab_size", source);
  require_in_range(config.d_model, 1, kMaxModelDimension, "d_model", source);
  require_in_range(config.head_dim, 1, kMaxModelDimension, t5 ? "d_kv" : "d_model / attention heads", source);
  require_in_range(config.encoder_layers, 1, kMaxLayers, t5 ? "num_layers" : "encoder_layers", source);
  require_in_range(config.decoder_layers, 1, kMaxLayers, t5 ? "num_decoder_layers" : "decoder_layers", source);
  require_in_range(config.encoder_heads, 1, kMaxModelDimension, t5 ? "num_heads" : "encoder_attention_heads", source);
  require_in_range(config.encoder_ffn_dim, 1, kMaxModelDimension, t5 ? "d_ff" : "encoder_ffn_dim", source);
  require_in_range(config.decoder_ffn_dim, 1, kMaxModelDimension, t5 ? "d_ff" : "decoder_ffn_dim", source);
  if (!t5) require_in_range(config.max_position_embeddings, 1, detail::kMaxPositions, "max_position_embeddings", source);
  detail::require_token_id(config.pad_token_id, config.vocab_size, "pad_token_id", source);
  for (const std::int32_t id : config.eos_token_ids)
    detail::require_token_id(id, config.vocab_size, "eos_token_id", source);
  detail::require_token_id(config.decoder_start_token_id, config.vocab_size, "decoder_start_token_id", source);
  if (config.bos_token_id != -1) detail::require_token_id(config.bos_token_id, config.vocab_size, "bos_token_id", source);
  return config;
}

}  // namespace srformer
