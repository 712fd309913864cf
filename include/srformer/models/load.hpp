#pragma once
// Loading a HuggingFace model folder as downloaded: config.json plus
// model.safetensors or a sharded model.safetensors.index.json.
#include <filesystem>
#include <memory>

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

}  // namespace srformer
