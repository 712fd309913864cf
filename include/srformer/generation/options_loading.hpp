#pragma once
// Reading generation defaults from a HuggingFace model folder, with the
// precedence transformers 5.x uses:
//   HF global defaults
//   < generation_config.json (or, only when that file is absent, the generation
//     fields of config.json: GenerationConfig.from_pretrained(config.json,
//     _from_model_config=True))
//   < config.json task_specific_params[task] (what the summarization pipeline
//     applies on top of the model's generation config; its "prefix" becomes
//     GenerationOptions::prefix, which otherwise comes from config.json "prefix")
//   < whatever the caller sets afterwards.
// Pipeline-only defaults (Text2TextGenerationPipeline's max_new_tokens 256 /
// num_beams 4) are not applied: these are the defaults of `model.generate()`.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <fstream>
#include <sstream>
#include <optional>
#include <string>

#include "srformer/core/error.hpp"
#include "srformer/generation/options.hpp"
#include "srformer/io/json.hpp"
#include "srformer/models/config.hpp"

namespace srformer {

namespace detail {

inline nlohmann::json read_json_file(const std::filesystem::path& path) { return io::read_json_file(path); }

[[noreturn]] inline void throw_bad_field(const std::string& source, const std::string& key,
                                         const nlohmann::json& value, const std::string& expected) {
  throw ConfigError(source + ": field '" + key + "' must be " + expected + ", got " + io::json_excerpt(value));
}

inline std::int64_t json_integer(const std::string& source, const std::string& key, const nlohmann::json& v) {
  const std::optional<std::int64_t> number = v.is_number_integer() ? io::json_number_as<std::int64_t>(v) : std::nullopt;
  if (!number) throw_bad_field(source, key, v, "an integer");
  return *number;
}

inline double json_number(const std::string& source, const std::string& key, const nlohmann::json& v) {
  const std::optional<double> number = io::json_number_as<double>(v);
  if (!number) throw_bad_field(source, key, v, "a finite number");
  return *number;
}

inline bool json_bool(const std::string& source, const std::string& key, const nlohmann::json& v) {
  if (!v.is_boolean()) throw_bad_field(source, key, v, "true or false");
  return v.get<bool>();
}

inline TokenId json_token(const std::string& source, const std::string& key, const nlohmann::json& v) {
  const std::int64_t id = json_integer(source, key, v);
  if (id < 0 || id > std::numeric_limits<TokenId>::max())
    throw_bad_field(source, key, v, "a token id (a non-negative 32-bit integer)");
  return static_cast<TokenId>(id);
}

/// HF allows eos_token_id / forced_eos_token_id to be an int or a list of ints.
inline std::vector<TokenId> json_token_list(const std::string& source, const std::string& key,
                                            const nlohmann::json& v) {
  if (v.is_array()) {
    std::vector<TokenId> ids;
    for (const auto& item : v) {
      if (!item.is_number_integer()) throw_bad_field(source, key, v, "a token id or a list of token ids");
      ids.push_back(json_token(source, key, item));
    }
    return ids;
  }
  if (!v.is_number_integer()) throw_bad_field(source, key, v, "a token id or a list of token ids");
  return {json_token(source, key, v)};
}

inline EarlyStopping json_early_stopping(const std::string& source, const std::string& key,
                                         const nlohmann::json& v) {
  if (v.is_boolean()) return v.get<bool>() ? EarlyStopping::kTrue : EarlyStopping::kFalse;
  if (v.is_string() && v.get<std::string>() == "never") return EarlyStopping::kNever;
  throw_bad_field(source, key, v, "true, false or \"never\"");
}

}  // namespace detail

/// Which file (and part of it) set each generation option, by HF's field name: what
/// a message blames when a loaded value is invalid.
using GenerationOptionSources = std::map<std::string, std::string>;

/// Copies every generation field that `settings` holds into `options`, using HF's
/// names (max_length, num_beams, eos_token_id, ...). Other keys are ignored, so a
/// whole config.json can be passed. A JSON null unsets an optional field. `source`
/// names the file in error messages (and is recorded in `sources` for every field set).
/// Throws ConfigError on a field of the wrong type.
inline void apply_generation_settings(GenerationOptions& options, const nlohmann::json& settings,
                                      const std::string& source, GenerationOptionSources* sources = nullptr) {
  using namespace detail;
  if (!settings.is_object()) throw ConfigError(source + ": expected a JSON object, got " + io::json_excerpt(settings));
  for (const auto& [key, v] : settings.items()) {
    if (sources) (*sources)[key] = source;  // keys that are not generation fields are never looked up
    const bool null = v.is_null();
    if (key == "max_new_tokens") {
      options.max_new_tokens = null ? std::nullopt : std::optional<std::int64_t>(json_integer(source, key, v));
    } else if (key == "max_length") {
      options.max_length = null ? std::nullopt : std::optional<std::int64_t>(json_integer(source, key, v));
    } else if (key == "min_new_tokens") {
      options.min_new_tokens = null ? std::nullopt : std::optional<std::int64_t>(json_integer(source, key, v));
    } else if (key == "decoder_start_token_id") {
      options.decoder_start_token_id = null ? std::nullopt : std::optional<TokenId>(json_token(source, key, v));
    } else if (key == "bos_token_id") {
      options.bos_token_id = null ? std::nullopt : std::optional<TokenId>(json_token(source, key, v));
    } else if (key == "pad_token_id") {
      options.pad_token_id = null ? std::nullopt : std::optional<TokenId>(json_token(source, key, v));
    } else if (key == "forced_bos_token_id") {
      options.forced_bos_token_id = null ? std::nullopt : std::optional<TokenId>(json_token(source, key, v));
    } else if (key == "eos_token_id") {
      options.eos_token_ids = null ? std::vector<TokenId>{} : json_token_list(source, key, v);
    } else if (key == "forced_eos_token_id") {
      options.forced_eos_token_ids = null ? std::vector<TokenId>{} : json_token_list(source, key, v);
    } else if (null) {
      continue;  // a null for a non-optional field keeps the current value, as HF's defaults do
    } else if (key == "min_length") {
      options.min_length = json_integer(source, key, v);
    } else if (key == "num_beams") {
      options.num_beams = json_integer(source, key, v);
    } else if (key == "num_return_sequences") {
      options.num_return_sequences = json_integer(source, key, v);
    } else if (key == "length_penalty") {
      options.length_penalty = json_number(source, key, v);
    } else if (key == "early_stopping") {
      options.early_stopping = json_early_stopping(source, key, v);
    } else if (key == "do_sample") {
      options.do_sample = json_bool(source, key, v);
    } else if (key == "no_repeat_ngram_size") {
      options.no_repeat_ngram_size = json_integer(source, key, v);
    } else if (key == "repetition_penalty") {
      options.repetition_penalty = json_number(source, key, v);
    } else if (key == "temperature") {
      options.temperature = json_number(source, key, v);
    } else if (key == "top_k") {
      options.top_k = json_integer(source, key, v);
    } else if (key == "top_p") {
      options.top_p = json_number(source, key, v);
    }
  }
}

/// ConfigError "<file that set the option>: <message>" for an invalid loaded option.
[[noreturn]] inline void throw_loaded_option_error(const GenerationOptionError& error,
                                                   const GenerationOptionSources& sources,
                                                   const std::string& fallback_source) {
  const auto found = sources.find(error.option());
  throw ConfigError((found != sources.end() ? found->second : fallback_source) + ": " + error.what());
}

/// Generation defaults of the model in `model_dir` (see the precedence at the top of
/// this file). `task` selects config.json's task_specific_params entry ("summarization"
/// by default; empty for none). Every value is checked on its own (GenerationOptions::
/// validate_values): an invalid one is a ConfigError naming the file that set it (as
/// HF's GenerationConfig refuses it on loading). A missing decoder start token is not an
/// error here: the caller may complete it from config.json. `sources`, when given,
/// receives the file of every option that was set.
inline GenerationOptions load_generation_options(const std::string& model_dir,
                                                 const std::string& task = "summarization",
                                                 GenerationOptionSources* sources = nullptr) {
  GenerationOptionSources local_sources;
  if (!sources) sources = &local_sources;
  namespace fs = std::filesystem;
  const fs::path dir(model_dir);
  const fs::path generation_path = dir / "generation_config.json";
  const fs::path config_path = dir / "config.json";
  const bool has_generation = io::name_exists(generation_path);
  const bool has_config = io::name_exists(config_path);
  if (!has_generation && !has_config)
    throw ConfigError("model folder '" + model_dir + "' has neither generation_config.json nor config.json");

  GenerationOptions options;
  nlohmann::json config;
  if (has_config) {
    config = detail::read_json_file(config_path);
    if (!config.is_object()) throw ConfigError(config_path.string() + ": expected a JSON object");
  }
  if (has_generation) {
    apply_generation_settings(options, detail::read_json_file(generation_path), generation_path.string(), sources);
  } else {
    apply_generation_settings(options, config, config_path.string(), sources);
  }

  if (has_config) {
    if (auto it = config.find("prefix"); it != config.end() && !it->is_null()) {
      if (!it->is_string()) detail::throw_bad_field(config_path.string(), "prefix", *it, "a string");
      options.prefix = it->get<std::string>();
    }
    auto params = config.find("task_specific_params");
    if (params != config.end() && !params->is_null() && !params->is_object())
      detail::throw_bad_field(config_path.string(), "task_specific_params", *params, "an object");
    if (!task.empty() && params != config.end() && params->is_object() && params->contains(task)) {
      const nlohmann::json& task_params = (*params)[task];
      const std::string source = config_path.string() + " task_specific_params." + task;
      if (!task_params.is_object()) throw ConfigError(source + ": expected a JSON object");
      apply_generation_settings(options, task_params, source, sources);
      if (auto prefix = task_params.find("prefix"); prefix != task_params.end()) {
        if (!prefix->is_string()) detail::throw_bad_field(source, "prefix", *prefix, "a string");
        options.prefix = prefix->get<std::string>();
      }
    }
  }
  try {
    options.validate_values();
  } catch (const GenerationOptionError& error) {
    throw_loaded_option_error(error, *sources, (has_generation ? generation_path : config_path).string());
  }
  return options;
}

/// Sets the special tokens generation needs that no generation file gave
/// (decoder_start_token_id, eos_token_id, pad_token_id) from config.json's model
/// settings, as HF's generate() falls back to the model config. `sources`, when
/// given, records config.json as the source of each value set.
inline void fill_missing_special_tokens(GenerationOptions& options, const ModelConfig& config,
                                        GenerationOptionSources* sources = nullptr) {
  const auto from_config = [&](const char* option) {
    if (sources) (*sources)[option] = config.source;
  };
  if (!options.decoder_start_token_id && config.decoder_start_token_id >= 0) {
    options.decoder_start_token_id = config.decoder_start_token_id;
    from_config("decoder_start_token_id");
  }
  if (options.eos_token_ids.empty() && !config.eos_token_ids.empty()) {
    options.eos_token_ids = config.eos_token_ids;
    from_config("eos_token_id");
  }
  if (!options.pad_token_id && config.pad_token_id >= 0) {
    options.pad_token_id = config.pad_token_id;
    from_config("pad_token_id");
  }
}

}  // namespace srformer
