#pragma once
// Loading a HuggingFace model folder as downloaded: config.json plus
// model.safetensors or a sharded model.safetensors.index.json.
#include <filesystem>
#include <memory>

#include "srformer/attention/options.hpp"
#include "srformer/io/checkpoint.hpp"
#include "srformer/io/json.hpp"
#include "srformer/models/config.hpp"
#include "srformer/models/weights.hpp"

namespace srformer {

inline ModelConfig load_model_config(const std::filesystem::path& folder) {
  const auto path = folder / "config.json";
  return parse_model_config(io::read_json_object_file(path), path.string());
}

/// Reads config.json and every weight it calls for (shapes checked).
inline std::shared_ptr<const ModelWeights> load_model_weights(const std::filesystem::path& folder) {
  ModelConfig config = load_model_config(folder);
  return std::make_shared<const ModelWeights>(load_weights(io::Checkpoint::open(folder), config));
}

/// Cross-attention settings a model folder asks for, so that a program can pick
/// the policy from files alone. Starts from the authors' defaults for the
/// family, then applies, when present in config.json:
///  - the SRformer authors' "srformer" block: split_size → segment_size;
///  - our "cross_attention" block: {"kind": "full|segmented|srformer",
///    "segment_size": s, "gen_len": G, "semantics": "paper|causal"}.
inline attention::CrossAttentionOptions cross_attention_options_from_config(const std::filesystem::path& folder) {
  const auto path = folder / "config.json";
  const auto json = io::read_json_object_file(path);
  const ModelConfig config = parse_model_config(json, path.string());
  auto options = attention::defaults_for(config.family == ModelFamily::T5 ? attention::ModelFlavor::T5
                                                                           : attention::ModelFlavor::Bart);
  const std::string source = path.string();
  if (json.contains("srformer") && json.at("srformer").is_object()) {
    const auto& block = json.at("srformer");
    options.segment_size = detail::config_value_or<Index>(block, "split_size", options.segment_size, source);
  }
  if (json.contains("cross_attention")) {
    const auto& block = json.at("cross_attention");
    if (!block.is_object()) throw ConfigError(source + ": 'cross_attention' must be an object");
    if (block.contains("kind"))
      options.kind = attention::parse_attention_kind(detail::config_value<std::string>(block, "kind", source));
    if (block.contains("semantics"))
      options.semantics = attention::parse_semantics(detail::config_value<std::string>(block, "semantics", source));
    options.segment_size = detail::config_value_or<Index>(block, "segment_size", options.segment_size, source);
    options.gen_len = detail::config_value_or<Index>(block, "gen_len", options.gen_len, source);
  }
  options.validate();
  return options;
}

}  // namespace srformer
