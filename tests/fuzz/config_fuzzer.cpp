// Fuzzes what srformer reads from a model folder's config.json: the input is the
// file's text. It goes through parse_json + parse_model_config and
// apply_generation_settings (the generation fields of config.json), and, when the
// JSON has the keys they read, as a config.json on disk through
// cross_attention_options_from_config and load_generation_options (task_specific_params). A config that parses must describe a
// model srformer can size: positive dimensions, heads that divide d_model, ...
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "srformer/generation/options_loading.hpp"
#include "srformer/io/json.hpp"
#include "srformer/models/config.hpp"
#include "srformer/models/load.hpp"

namespace {

using srformer::fuzz::fuzz_require;

void check_config(const srformer::ModelConfig& c) {
  fuzz_require(c.vocab_size > 0 && c.d_model > 0 && c.head_dim > 0, "positive sizes");
  fuzz_require(c.encoder_layers > 0 && c.decoder_layers > 0, "positive layer counts");
  fuzz_require(c.encoder_heads > 0 && c.decoder_heads > 0, "positive head counts");
  fuzz_require(c.encoder_ffn_dim > 0 && c.decoder_ffn_dim > 0, "positive feed-forward sizes");
  if (c.family == srformer::ModelFamily::Bart)
    fuzz_require(c.head_dim * c.encoder_heads == c.d_model, "BART heads divide d_model");
  if (c.family == srformer::ModelFamily::T5)
    fuzz_require(c.relative_attention_num_buckets > 0, "T5 has relative attention buckets");
}

// Loaded generation settings are not validated (callers may still change them),
// but validating them must only ever throw OptionError.
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
