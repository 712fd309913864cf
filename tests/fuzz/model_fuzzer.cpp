// Fuzzes a whole model folder as the Summarizer loads it: config.json,
// generation_config.json and the tokenizer's vocab.json come from the input, the
// weights from one of the hf-tiny checkpoints (tests/data/hf-tiny). A config whose
// sizes disagree with the weights must end in a TensorError/ConfigError; one that
// fits (every setting that does not change a tensor's shape: relative-position
// buckets and max distance, epsilons, special ids, activations, scaling flags,
// generation settings) must load, encode and decode a few tokens under ASan+UBSan.
// This is the target that reaches a config value indexing a table (the relative
// attention bucket bug: max_distance 7 read outside the bias table).
//
// Two oracles catch an index computed from a config value: the T5 bucket of every
// relative distance the run can meet must lie in the table, and the weights are
// loaded as BF16 copies, so every tensor lives in a heap buffer that AddressSanitizer
// guards (F32 tensors are used in place in the file mapping, where a read past a
// table lands silently in the next tensor).
//
// Input: byte 0 picks the weights (hf-tiny t5_tiny, t5v11_tiny, bart_tiny,
// bart_tiny_scaled), the cross-attention (full, segmented, SRformer with fresh
// RAF parameters; paper or causal) and the mode. Text mode (bit 7 clear): the rest is
// split at NUL bytes into config.json, generation_config.json (optional) and
// vocab.json (optional; default: a 263-token byte-level vocabulary). Structured mode
// (bit 7 set): the rest drives edits of the checkpoint's own config.json and
// generation_config.json (keys srformer reads, set to boundary values or anything). Generation is cut to a few tokens and beams so that one
// input stays fast; validation sees the values as they are.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstring>
#include <iterator>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz_support.hpp"
#include "srformer/io/json.hpp"
#include "srformer/nn/relative_position_bias.hpp"
#include "srformer/pipeline/summarizer.hpp"
#include "srformer/tokenizers/detail/byte_level.hpp"

namespace {

namespace fs = std::filesystem;
using srformer::fuzz::fuzz_require;

const char* const kWeights[] = {"t5_tiny", "t5v11_tiny", "bart_tiny", "bart_tiny_scaled"};

/// <s> <pad> </s> <unk>, the 256 byte symbols, and three merges: what the default
/// vocab.json holds (and what the seeds start from).
std::string default_vocab() {
  nlohmann::json vocab = nlohmann::json::object();
  int id = 0;
  for (const char* special : {"<s>", "<pad>", "</s>", "<unk>"}) vocab[special] = id++;
  const auto& alphabet = srformer::tokenizers::detail::ByteAlphabet::instance();
  for (int byte = 0; byte < 256; ++byte) vocab[alphabet.encode(std::string(1, static_cast<char>(byte)))] = id++;
  for (const char* merged : {"\xC4\xA0t", "\xC4\xA0" "a", "he"}) vocab[merged] = id++;
  return vocab.dump();
}

const char* const kMerges = "#version: 0.2\n\xC4\xA0 t\n\xC4\xA0 a\nh e\n";

std::vector<std::string_view> split_at_nul(std::string_view text, std::size_t parts) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < parts) {
    const std::size_t nul = text.find('\0');
    if (nul == std::string_view::npos) break;
    out.push_back(text.substr(0, nul));
    text.remove_prefix(nul + 1);
  }
  out.push_back(text);
  return out;
}

void write_text(const fs::path& path, std::string_view text) {
  srformer::fuzz::write_file(path, reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
}

/// A BF16 copy of an F32 safetensors file. The library uses F32 tensors in place in
/// the memory mapping, where AddressSanitizer cannot see a read past a tensor (it
/// lands in the neighbouring weights); BF16 tensors are converted into heap buffers
/// with redzones around them, so such a read is reported.
fs::path bf16_copy(const fs::path& source, const fs::path& destination) {
  const std::string bytes = [&] {
    std::ifstream in(source, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }();
  std::uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), 8);
  nlohmann::json header = nlohmann::json::parse(bytes.substr(8, header_size));
  const std::string data = bytes.substr(8 + header_size);
  std::string converted;
  for (auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;
    fuzz_require(entry["dtype"] == "F32", "hf-tiny weights are F32");
    const std::size_t begin = entry["data_offsets"][0], end = entry["data_offsets"][1];
    const std::size_t first = converted.size();
    for (std::size_t at = begin; at < end; at += 4) converted.append(data, at + 2, 2);  // the high half: BF16
    entry["dtype"] = "BF16";
    entry["data_offsets"] = {first, converted.size()};
  }
  const std::string text = header.dump();
  std::string out(8, '\0');
  const std::uint64_t size = text.size();
  std::memcpy(out.data(), &size, 8);
  write_text(destination, out + text + converted);
  return destination;
}

/// The four hf-tiny checkpoints as BF16 copies, made once per process.
const fs::path& weights(unsigned index) {
  static const std::vector<fs::path> copies = [] {
    std::vector<fs::path> paths;
    for (const char* name : kWeights)
      paths.push_back(bf16_copy(fs::path(SRFORMER_FUZZ_DATA_DIR) / "hf-tiny" / name / "model.safetensors",
                                srformer::fuzz::scratch_dir() / (std::string(name) + ".bf16.safetensors")));
    return paths;
  }();
  return copies[index % copies.size()];
}

/// What config.json settings index: the T5 relative-position bucket of every distance a
/// 48-token input and a few generated tokens can produce must lie inside the bias table.
void check_relative_buckets(const srformer::ModelConfig& config) {
  if (config.family != srformer::ModelFamily::T5) return;
  for (srformer::Index rel = -64; rel <= 64; ++rel)
    for (const bool bidirectional : {true, false}) {
      const srformer::Index bucket = srformer::nn::relative_position_bucket(
          rel, bidirectional, config.relative_attention_num_buckets, config.relative_attention_max_distance);
      fuzz_require(bucket >= 0 && bucket < config.relative_attention_num_buckets,
                   "relative position bucket " + std::to_string(bucket) + " outside the table of " +
                       std::to_string(config.relative_attention_num_buckets));
    }
}

}  // namespace

/// Every key srformer reads from config.json, and the generation fields.
const char* const kConfigKeys[] = {
    "vocab_size", "d_model", "d_kv", "d_ff", "num_layers", "num_decoder_layers", "num_heads",
    "relative_attention_num_buckets", "relative_attention_max_distance", "layer_norm_epsilon", "feed_forward_proj",
    "tie_word_embeddings", "scale_decoder_outputs", "pad_token_id", "eos_token_id", "decoder_start_token_id",
    "bos_token_id", "encoder_layers", "decoder_layers", "encoder_attention_heads", "decoder_attention_heads",
    "encoder_ffn_dim", "decoder_ffn_dim", "activation_function", "max_position_embeddings", "scale_embedding",
    "normalize_before", "add_final_layer_norm", "add_bias_logits", "is_encoder_decoder", "model_type", "prefix",
    "task_specific_params", "cross_attention", "srformer"};
const char* const kGenerationKeys[] = {
    "max_new_tokens", "max_length", "min_new_tokens", "min_length", "num_beams", "num_return_sequences",
    "length_penalty", "early_stopping", "do_sample", "no_repeat_ngram_size", "repetition_penalty", "temperature",
    "top_k", "top_p", "decoder_start_token_id", "bos_token_id", "eos_token_id", "pad_token_id",
    "forced_bos_token_id", "forced_eos_token_id"};

/// A JSON value of the kinds configs hold, mostly near the boundaries that matter
/// (small counts, powers of two, type limits), sometimes anything of its type.
nlohmann::json draw_value(FuzzedDataProvider& in, int depth = 0) {
  static const std::int64_t kIntegers[] = {-1, 0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33, 64, 127, 128, 999, 1000,
                                           1024, 8000, 65536, 2147483647, 2147483648LL, INT64_MAX, INT64_MIN};
  static const char* const kStrings[] = {"relu", "gated-gelu", "gated-silu", "gelu_new", "mish", "t5", "bart",
                                         "full", "segmented", "srformer", "paper", "causal", "never", "",
                                         "\x1b[2J", "summarize: "};
  switch (in.ConsumeIntegralInRange<int>(0, depth < 2 ? 9 : 7)) {
    case 0: return nullptr;
    case 1: return in.ConsumeBool();
    case 2: return in.ConsumeIntegral<std::int64_t>();
    case 3: return in.ConsumeFloatingPoint<double>();
    case 4: {
      static const double kDoubles[] = {0.0, -0.0, 1e-300, 1e-6, 0.5, 1.0, 1.5, 2.0, -1.0, 1e300};
      return kDoubles[in.ConsumeIntegralInRange<std::size_t>(0, std::size(kDoubles) - 1)];
    }
    case 5: return kStrings[in.ConsumeIntegralInRange<std::size_t>(0, std::size(kStrings) - 1)];
    case 8: {
      nlohmann::json list = nlohmann::json::array();
      for (int i = in.ConsumeIntegralInRange<int>(0, 3); i > 0; --i) list.push_back(draw_value(in, depth + 1));
      return list;
    }
    case 9: {
      nlohmann::json object = nlohmann::json::object();
      for (int i = in.ConsumeIntegralInRange<int>(0, 3); i > 0; --i) {
        const char* key = in.ConsumeBool() ? kGenerationKeys[in.ConsumeIntegralInRange<std::size_t>(0, std::size(kGenerationKeys) - 1)]
                                           : "summarization";
        object[key] = draw_value(in, depth + 1);
      }
      return object;
    }
    default: return kIntegers[in.ConsumeIntegralInRange<std::size_t>(0, std::size(kIntegers) - 1)];
  }
}

/// Structured mode: the checkpoint's own config.json and generation_config.json with a
/// few keys set to drawn values (libFuzzer's byte mutations rarely turn "128" into
/// "7" and keep the rest of a 3 KB input consistent; this explores the values directly).
void structured_files(FuzzedDataProvider& in, unsigned weights, std::string& config, std::string& generation) {
  static const char* const kFolders[] = {"t5_tiny", "t5v11_tiny", "bart_tiny", "bart_tiny_scaled"};
  const fs::path folder = fs::path(SRFORMER_FUZZ_DATA_DIR) / "hf-tiny" / kFolders[weights % 4];
  nlohmann::json config_json = srformer::io::read_json_object_file(folder / "config.json");
  nlohmann::json generation_json = srformer::io::read_json_object_file(folder / "generation_config.json");
  for (int edits = in.ConsumeIntegralInRange<int>(1, 4); edits > 0 && in.remaining_bytes() > 0; --edits) {
    if (in.ConsumeIntegralInRange<int>(0, 3) == 0) {
      const char* key = kGenerationKeys[in.ConsumeIntegralInRange<std::size_t>(0, std::size(kGenerationKeys) - 1)];
      generation_json[key] = draw_value(in);
    } else {
      const char* key = kConfigKeys[in.ConsumeIntegralInRange<std::size_t>(0, std::size(kConfigKeys) - 1)];
      if (in.ConsumeIntegralInRange<int>(0, 7) == 0)
        config_json.erase(key);
      else
        config_json[key] = draw_value(in);
    }
  }
  config = config_json.dump();
  generation = generation_json.dump();
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const unsigned selector = data[0];
  std::vector<std::string_view> parts;
  std::string structured_config, structured_generation;
  if (selector & 0x80) {
    FuzzedDataProvider in(data + 1, size - 1);
    structured_files(in, selector, structured_config, structured_generation);
    parts = {structured_config, structured_generation};
  } else {
    parts = split_at_nul(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), 3);
  }

  static const fs::path folder = srformer::fuzz::scratch_dir() / "model";
  static const std::string vocab = default_vocab();
  fs::create_directories(folder);
  for (const char* name : {"config.json", "generation_config.json", "vocab.json", "merges.txt", "model.safetensors"})
    fs::remove(folder / name);
  write_text(folder / "config.json", parts[0]);
  if (parts.size() > 1) write_text(folder / "generation_config.json", parts[1]);
  write_text(folder / "vocab.json", parts.size() > 2 ? parts[2] : std::string_view(vocab));
  write_text(folder / "merges.txt", kMerges);
  fs::create_symlink(weights(selector), folder / "model.safetensors");

  srformer::SummarizerOptions options;
  options.memory_limit_bytes = std::uint64_t{1} << 30;  // the estimate refuses what libFuzzer's RSS limit would kill
  options.max_input_tokens = 48;
  const unsigned kind = (selector / 4) % 3;
  if (kind != 0) {
    srformer::attention::CrossAttentionOptions attention;
    attention.kind = kind == 1 ? srformer::attention::AttentionKind::Segmented : srformer::attention::AttentionKind::Srformer;
    attention.semantics = (selector / 12) % 2 ? srformer::attention::Semantics::Causal : srformer::attention::Semantics::Paper;
    attention.flavor = selector % 4 < 2 ? srformer::attention::ModelFlavor::T5 : srformer::attention::ModelFlavor::Bart;
    attention.segment_size = 1 + static_cast<srformer::Index>((selector / 24) % 8);
    attention.allow_fresh_raf_parameters = true;
    options.attention = attention;
  }

  std::unique_ptr<srformer::Summarizer> summarizer;
  if (!srformer::fuzz::expect_only_srformer_errors(
          [&] { summarizer = std::make_unique<srformer::Summarizer>(folder, options); }))
    return 0;

  check_relative_buckets(summarizer->model().config());

  // The loaded defaults were validated on loading; run them with bounded work.
  srformer::GenerationOptions generation = summarizer->default_options();
  generation.max_new_tokens = std::min<std::int64_t>(generation.resolved_max_length() - 1, 5);
  generation.max_length.reset();
  if (generation.min_new_tokens) generation.min_new_tokens = std::min<std::int64_t>(*generation.min_new_tokens, 5);
  generation.min_length = std::min<std::int64_t>(generation.min_length, 6);
  generation.num_beams = std::min<std::int64_t>(generation.num_beams, 3);
  generation.num_return_sequences = 1;
  generation.no_repeat_ngram_size = std::min<std::int64_t>(generation.no_repeat_ngram_size, 4);
  srformer::fuzz::expect_only_srformer_errors([&] {
    const srformer::SummaryBatch batch =
        summarizer->summarize({"the cat sat on the mat", "a\xCC\x81 he ate"}, generation);
    const srformer::Index vocab_size = summarizer->model().config().vocab_size;
    for (const srformer::Summary& summary : batch.summaries) {
      fuzz_require(!summary.ids.empty(), "a summary starts with the decoder start token");
      for (const srformer::TokenId id : summary.ids)
        fuzz_require(id >= 0 && id < vocab_size, "generated ids lie in the model vocabulary");
      fuzz_require(summary.input_tokens <= 48, "inputs are cut to max_input_tokens");
    }
  });
  return 0;
}
