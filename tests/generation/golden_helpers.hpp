#pragma once
// Helpers for the HuggingFace generation goldens:
//  * tests/data/hf-tiny/<model>/golden.json: settings "greedy", "beam4",
//    "beam4_lp2_nrng3_min8" for a batch of 2 inputs, with HF's sequences (start
//    token included, padded) and sequences_scores;
//  * tests/data/trained-t5-small-demo/golden.json: greedy and beam-4 results for 46
//    documents of the demo model, and golden.safetensors with teacher-forced logits
//    of the greedy output for two of them.
// The options reproduce what the golden scripts passed to `model.generate()`: the
// model's generation_config.json, then the golden's special tokens (hf-tiny records
// forced_bos_token_id at the top level), then the setting's keys.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "srformer/generation/decoder_session.hpp"
#include "srformer/generation/options.hpp"
#include "srformer/generation/options_loading.hpp"

namespace srformer::testing {

inline nlohmann::json read_json(const std::string& path) { return detail::read_json_file(path); }

inline std::vector<TokenId> token_list(const nlohmann::json& ids) {
  std::vector<TokenId> out;
  for (const auto& id : ids) out.push_back(id.get<TokenId>());
  return out;
}

/// One generation setting of an hf-tiny golden.json.
struct HfTinyGenerationGolden {
  std::string name;                             ///< "greedy", "beam4", "beam4_lp2_nrng3_min8"
  GenerationOptions options;                    ///< what HF generate() ran with
  std::vector<std::vector<TokenId>> sequences;  ///< HF sequences: start token first, padded, one per input
  std::vector<float> sequences_scores;          ///< beam settings only
};

/// Options of `setting` ("greedy", ...) of an hf-tiny golden.json, for the model in `model_dir`.
inline GenerationOptions hf_tiny_golden_options(const std::string& model_dir, const nlohmann::json& golden,
                                                const std::string& setting) {
  GenerationOptions options = load_generation_options(model_dir, /*task=*/"");
  nlohmann::json tokens = nlohmann::json::object();
  for (const char* key : {"decoder_start_token_id", "pad_token_id", "eos_token_id", "bos_token_id",
                          "forced_bos_token_id"})
    if (golden.contains(key)) tokens[key] = golden[key];
  apply_generation_settings(options, tokens, model_dir + "/golden.json");
  apply_generation_settings(options, golden.at("generation").at(setting).at("settings"),
                            model_dir + "/golden.json generation." + setting + ".settings");
  return options;
}

/// Every setting of `model_dir`/golden.json (model_dir = tests/data/hf-tiny/<model>).
inline std::vector<HfTinyGenerationGolden> load_hf_tiny_generation_goldens(const std::string& model_dir) {
  const nlohmann::json golden = read_json(model_dir + "/golden.json");
  std::vector<HfTinyGenerationGolden> cases;
  for (const auto& [name, entry] : golden.at("generation").items()) {
    HfTinyGenerationGolden c;
    c.name = name;
    c.options = hf_tiny_golden_options(model_dir, golden, name);
    for (const auto& row : entry.at("sequences")) c.sequences.push_back(token_list(row));
    if (entry.contains("sequences_scores") && !entry.at("sequences_scores").is_null())
      for (const auto& s : entry.at("sequences_scores")) c.sequences_scores.push_back(s.get<float>());
    cases.push_back(std::move(c));
  }
  return cases;
}

/// One document of the trained-t5-small-demo golden.
struct DemoGoldenItem {
  std::string id;
  std::vector<TokenId> input_ids;  ///< encoder input, </s> included
  std::vector<TokenId> greedy_ids;  ///< start token first, </s> last unless 64 tokens were generated
  std::string greedy_text;
  double greedy_sum_logprob = 0.0;
  Index greedy_generated_len = 0;
  std::vector<TokenId> beam_ids;
  std::string beam_text;
  double beam_sequences_score = 0.0;
  double beam_sum_logprob = 0.0;
  Index beam_generated_len = 0;
  std::string teacher_forced_prefix;  ///< key prefix in golden.safetensors, empty when absent
};

struct DemoGolden {
  GenerationOptions greedy;
  GenerationOptions beam4;
  std::vector<DemoGoldenItem> items;
};

/// Parses trained-t5-small-demo/golden.json; `model_dir` is examples/models/t5-demo.
inline DemoGolden load_demo_golden(const std::string& golden_path, const std::string& model_dir) {
  const nlohmann::json golden = read_json(golden_path);
  DemoGolden out;
  out.greedy = load_generation_options(model_dir, "");
  apply_generation_settings(out.greedy, golden.at("generation").at("greedy"), golden_path + " generation.greedy");
  out.beam4 = load_generation_options(model_dir, "");
  apply_generation_settings(out.beam4, golden.at("generation").at("beam4"), golden_path + " generation.beam4");
  for (const auto& item : golden.at("items")) {
    DemoGoldenItem d;
    d.id = item.at("id").get<std::string>();
    d.input_ids = token_list(item.at("input_ids"));
    const auto& greedy = item.at("greedy");
    d.greedy_ids = token_list(greedy.at("ids"));
    d.greedy_text = greedy.at("text").get<std::string>();
    d.greedy_sum_logprob = greedy.at("sum_logprob").get<double>();
    d.greedy_generated_len = greedy.at("generated_len").get<Index>();
    const auto& beam = item.at("beam4");
    d.beam_ids = token_list(beam.at("ids"));
    d.beam_text = beam.at("text").get<std::string>();
    d.beam_sequences_score = beam.at("sequences_score").get<double>();
    d.beam_sum_logprob = beam.at("sum_logprob").get<double>();
    d.beam_generated_len = beam.at("generated_len").get<Index>();
    if (item.contains("teacher_forced") && item.at("teacher_forced").is_object())
      d.teacher_forced_prefix = item.at("teacher_forced").value("safetensors_prefix", "");
    out.items.push_back(std::move(d));
  }
  return out;
}

/// A tensor of a golden .safetensors file (F32 or I64, little-endian host assumed).
struct GoldenTensor {
  std::vector<std::int64_t> shape;
  std::vector<float> f32;
  std::vector<std::int64_t> i64;
};

inline GoldenTensor read_golden_tensor(const std::string& path, const std::string& name) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::uint64_t header_size = 0;
  in.read(reinterpret_cast<char*>(&header_size), 8);
  std::string header(static_cast<std::size_t>(header_size), '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_size));
  const nlohmann::json meta = nlohmann::json::parse(header);
  if (!meta.contains(name)) throw std::runtime_error(path + " has no tensor " + name);
  const auto& entry = meta.at(name);
  GoldenTensor t;
  t.shape = entry.at("shape").get<std::vector<std::int64_t>>();
  const auto begin = entry.at("data_offsets")[0].get<std::uint64_t>();
  const auto end = entry.at("data_offsets")[1].get<std::uint64_t>();
  std::string bytes(static_cast<std::size_t>(end - begin), '\0');
  in.seekg(static_cast<std::streamoff>(8 + header_size + begin));
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  const std::string dtype = entry.at("dtype").get<std::string>();
  if (dtype == "F32") {
    t.f32.resize(bytes.size() / 4);
    std::memcpy(t.f32.data(), bytes.data(), bytes.size());
  } else if (dtype == "I64") {
    t.i64.resize(bytes.size() / 8);
    std::memcpy(t.i64.data(), bytes.data(), bytes.size());
  } else {
    throw std::runtime_error(path + ": tensor " + name + " has unsupported dtype " + dtype);
  }
  return t;
}

/// One-row DecoderSession that replays teacher-forced logits: step t must be fed
/// decoder_input_ids[t] and returns logits[t]. Reproduces greedy decoding of a real
/// model exactly when the logits were recorded along the greedy path.
class TeacherForcedReplaySession : public DecoderSession {
 public:
  TeacherForcedReplaySession(std::vector<TokenId> decoder_input_ids, std::vector<float> logits, Index vocab)
      : expected_(std::move(decoder_input_ids)), logits_(std::move(logits)), vocab_(vocab), row_(1, vocab) {
    if (static_cast<Index>(logits_.size()) != static_cast<Index>(expected_.size()) * vocab_)
      throw std::logic_error("replay: logits do not match decoder_input_ids");
  }

  Index rows() const override { return 1; }
  Index vocab_size() const override { return vocab_; }
  Index position() const override { return position_; }

  const RowMatrix& step(const std::vector<TokenId>& tokens) override {
    if (tokens.size() != 1) throw std::logic_error("replay: expected one row");
    if (position_ >= static_cast<Index>(expected_.size()))
      throw std::logic_error("replay: no recorded logits after position " + std::to_string(position_));
    if (tokens[0] != expected_[static_cast<std::size_t>(position_)])
      throw std::logic_error("replay diverged at position " + std::to_string(position_) + ": fed " +
                             std::to_string(tokens[0]) + ", recorded " +
                             std::to_string(expected_[static_cast<std::size_t>(position_)]));
    for (Index v = 0; v < vocab_; ++v) row_(0, v) = logits_[static_cast<std::size_t>(position_ * vocab_ + v)];
    ++position_;
    return row_;
  }

  void reorder(const std::vector<Index>& source) override {
    if (source != std::vector<Index>{0}) throw std::logic_error("replay: only the identity reorder is possible");
  }

 private:
  std::vector<TokenId> expected_;
  std::vector<float> logits_;
  Index vocab_;
  Index position_ = 0;
  RowMatrix row_;
};

}  // namespace srformer::testing
