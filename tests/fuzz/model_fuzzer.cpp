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
// Input: byte 0 picks the weights (hf-tiny t5_tiny, t5v11_tiny, bart_tiny,
// bart_tiny_scaled) and the cross-attention (full, segmented, SRformer with fresh
// RAF parameters; paper or causal); the rest is split at NUL bytes into config.json,
// generation_config.json (optional) and vocab.json (optional; default: a 263-token
// byte-level vocabulary). Generation is cut to a few tokens and beams so that one
// input stays fast; validation sees the values as they are.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz_support.hpp"
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const unsigned selector = data[0];
  const std::vector<std::string_view> parts =
      split_at_nul(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), 3);

  static const fs::path folder = srformer::fuzz::scratch_dir() / "model";
  static const std::string vocab = default_vocab();
  fs::create_directories(folder);
  for (const char* name : {"config.json", "generation_config.json", "vocab.json", "merges.txt", "model.safetensors"})
    fs::remove(folder / name);
  write_text(folder / "config.json", parts[0]);
  if (parts.size() > 1) write_text(folder / "generation_config.json", parts[1]);
  write_text(folder / "vocab.json", parts.size() > 2 ? parts[2] : std::string_view(vocab));
  write_text(folder / "merges.txt", kMerges);
  fs::create_symlink(fs::path(SRFORMER_FUZZ_DATA_DIR) / "hf-tiny" / kWeights[selector % 4] / "model.safetensors",
                     folder / "model.safetensors");

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
