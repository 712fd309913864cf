// Fuzzes what srformer reads from a model folder's config.json: the input is the
// file's text. It goes through parse_json + parse_model_config and
// apply_generation_settings (the generation fields of config.json), and, when the
// JSON has the keys they read, as a config.json on disk through
// cross_attention_options_from_config and load_generation_options (task_specific_params). A config that parses must describe a
// model srformer can size: positive dimensions, heads that divide d_model, ...
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "srformer/generation/options_loading.hpp"
#include "srformer/io/json.hpp"
#include "srformer/models/config.hpp"
#include "srformer/models/load.hpp"
#include "srformer/nn/relative_position_bias.hpp"

namespace {

using srformer::fuzz::fuzz_require;

void check_config(const srformer::ModelConfig& c) {
  fuzz_require(c.vocab_size > 0 && c.d_model > 0 && c.head_dim > 0, "positive sizes");
  fuzz_require(c.encoder_layers > 0 && c.decoder_layers > 0, "positive layer counts");
  fuzz_require(c.encoder_heads > 0 && c.decoder_heads > 0, "positive head counts");
  fuzz_require(c.encoder_ffn_dim > 0 && c.decoder_ffn_dim > 0, "positive feed-forward sizes");
  if (c.family == srformer::ModelFamily::Bart)
    fuzz_require(c.head_dim * c.encoder_heads == c.d_model, "BART heads divide d_model");
  if (c.family == srformer::ModelFamily::T5) {
    fuzz_require(c.relative_attention_num_buckets >= 4, "T5 has at least 4 relative attention buckets");
    fuzz_require(c.relative_attention_max_distance > c.relative_attention_num_buckets / 2,
                 "the bucket formula's log(max_distance / max_exact) is positive");
    fuzz_require(std::isfinite(c.norm_eps) && c.norm_eps > 0.0f, "layer_norm_epsilon is positive and finite");
    // The bucket function stays inside the table for every relative position.
    for (const srformer::Index rel : {srformer::Index{0}, srformer::Index{-1}, srformer::Index{1}, srformer::Index{-7},
                                      srformer::Index{1000}, srformer::Index{-100000}, srformer::Index{1} << 40})
      for (const bool bidirectional : {true, false}) {
        const srformer::Index bucket = srformer::nn::relative_position_bucket(
            rel, bidirectional, c.relative_attention_num_buckets, c.relative_attention_max_distance);
        fuzz_require(bucket >= 0 && bucket < c.relative_attention_num_buckets, "bucket index inside the table");
      }
  }
  for (const std::int32_t id : c.eos_token_ids)
    fuzz_require(id >= 0 && id < c.vocab_size, "eos ids lie in the vocabulary");
  fuzz_require(c.pad_token_id >= 0 && c.pad_token_id < c.vocab_size, "pad id lies in the vocabulary");
  fuzz_require(c.decoder_start_token_id >= 0 && c.decoder_start_token_id < c.vocab_size,
               "decoder start id lies in the vocabulary");
}

// Loaded generation settings are validated on loading (a bad value is a ConfigError
// naming the file); validating the start token must only ever throw OptionError.
void check_generation_options(const srformer::GenerationOptions& options) {
  try {
    options.validate();
  } catch (const srformer::OptionError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  nlohmann::json json;
  if (!srformer::fuzz::expect_only_srformer_errors([&] { json = srformer::io::parse_json(text, "fuzz config.json"); }))
    return 0;  // invalid JSON: parse_json's FormatError is all there is to see
  srformer::fuzz::expect_only_srformer_errors(
      [&] { check_config(srformer::parse_model_config(json, "fuzz config.json")); });
  srformer::fuzz::expect_only_srformer_errors([&] {
    srformer::GenerationOptions options;
    srformer::apply_generation_settings(options, json, "fuzz config.json");
    check_generation_options(options);
  });

  // The readers that only take a folder, when the JSON has something for them
  // (each parses the file again, which would otherwise dominate the run time).
  const bool has_attention = json.is_object() && (json.contains("cross_attention") || json.contains("srformer"));
  const bool has_task = json.is_object() && (json.contains("task_specific_params") || json.contains("prefix"));
  if (!has_attention && !has_task) return 0;
  static const std::filesystem::path folder = srformer::fuzz::scratch_dir() / "model";
  static const bool created = std::filesystem::create_directories(folder) || true;
  (void)created;
  srformer::fuzz::write_file(folder / "config.json", data, size);
  if (has_attention)
    srformer::fuzz::expect_only_srformer_errors([&] {
      const auto options = srformer::cross_attention_options_from_config(folder);
      fuzz_require(options.segment_size > 0 && options.gen_len > 0, "validated attention options are positive");
    });
  if (has_task)
    srformer::fuzz::expect_only_srformer_errors(
        [&] { check_generation_options(srformer::load_generation_options(folder.string(), "summarization")); });
  return 0;
}
