#pragma once
// Loading a HuggingFace model folder as downloaded: config.json plus
// model.safetensors or a sharded model.safetensors.index.json.
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

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

namespace detail {

/// Whether the folder's checkpoint holds trained RAF parameters (SNN_kv), i.e. was
/// saved from an SRformer model.
inline bool checkpoint_has_raf_parameters(const std::filesystem::path& folder) {
  const io::Checkpoint checkpoint = io::Checkpoint::open(folder);
  for (const std::string& name : checkpoint.names())
    if (name.find("SNN_kv") != std::string::npos) return true;
  return false;
}

}  // namespace detail

/// The cross-attention a model folder says its checkpoint was trained with, or
/// nullopt when config.json names none (a plain checkpoint: full attention). Two forms:
///  - our "cross_attention" block: {"kind": "full|segmented|srformer",
///    "segment_size": s, "gen_len": G, "semantics": "paper|causal"}, each field over
///    the family's defaults (attention::defaults_for; kind full);
///  - the SRformer authors' "srformer" block: "split_size" → s, "gen_len" → G, paper
///    semantics; kind srformer when the checkpoint holds RAF parameters (SNN_kv),
///    else segmented (their split cross-attention without the recurrent term).
/// The "cross_attention" block wins when both are present.
inline std::optional<attention::CrossAttentionOptions> checkpoint_cross_attention(const std::filesystem::path& folder) {
  const auto path = folder / "config.json";
  const auto json = io::read_json_object_file(path);
  const ModelConfig config = parse_model_config(json, path.string());
  auto options = attention::defaults_for(config.family == ModelFamily::T5 ? attention::ModelFlavor::T5
                                                                           : attention::ModelFlavor::Bart);
  const std::string source = path.string();
  if (json.contains("cross_attention")) {
    const auto& block = json.at("cross_attention");
    if (!block.is_object()) throw ConfigError(source + ": 'cross_attention' must be an object");
    if (block.contains("kind"))
      options.kind = attention::parse_attention_kind(detail::config_value<std::string>(block, "kind", source));
    if (block.contains("semantics"))
      options.semantics = attention::parse_semantics(detail::config_value<std::string>(block, "semantics", source));
    options.segment_size = detail::config_value_or<Index>(block, "segment_size", options.segment_size, source);
    options.gen_len = detail::config_value_or<Index>(block, "gen_len", options.gen_len, source);
  } else if (json.contains("srformer") && json.at("srformer").is_object()) {
    const auto& block = json.at("srformer");
    options.segment_size = detail::config_value_or<Index>(block, "split_size", options.segment_size, source);
    options.gen_len = detail::config_value_or<Index>(block, "gen_len", options.gen_len, source);
    options.kind = detail::checkpoint_has_raf_parameters(folder) ? attention::AttentionKind::Srformer
                                                                 : attention::AttentionKind::Segmented;
  } else {
    return std::nullopt;
  }
  options.validate();
  return options;
}

/// Cross-attention settings to run a model folder with when the caller names none:
/// the checkpoint's (checkpoint_cross_attention), else full attention with the
/// authors' defaults for the family.
inline attention::CrossAttentionOptions cross_attention_options_from_config(const std::filesystem::path& folder) {
  if (auto options = checkpoint_cross_attention(folder)) return *options;
  const ModelConfig config = load_model_config(folder);
  return attention::defaults_for(config.family == ModelFamily::T5 ? attention::ModelFlavor::T5
                                                                   : attention::ModelFlavor::Bart);
}

/// Whether running with `running` departs from how the checkpoint was trained
/// (`trained`; nullopt = full attention): another kind, or for segmented / SRformer
/// another segment size, G or semantics.
inline bool attention_differs(const attention::CrossAttentionOptions& running,
                              const std::optional<attention::CrossAttentionOptions>& trained) {
  const attention::AttentionKind trained_kind = trained ? trained->kind : attention::AttentionKind::Full;
  if (running.kind != trained_kind) return true;
  if (running.kind == attention::AttentionKind::Full) return false;
  return running.segment_size != trained->segment_size || running.gen_len != trained->gen_len ||
         running.semantics != trained->semantics;
}

/// "segmented (s = 64, G = 128, causal)" / "full".
inline std::string describe(const attention::CrossAttentionOptions& options) {
  if (options.kind == attention::AttentionKind::Full) return "full";
  return std::string(attention::to_string(options.kind)) + " (s = " + std::to_string(options.segment_size) +
         ", G = " + std::to_string(options.gen_len) + ", " + attention::to_string(options.semantics) + ")";
}

}  // namespace srformer
