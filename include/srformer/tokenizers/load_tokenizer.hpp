#pragma once
// Picks the tokenizer of a model folder from the files it holds:
//   1. spiece.model                              -> SentencePieceTokenizer (T5)
//   2. tokenizer.json, model.type "Unigram"      -> UnigramTokenizer (T5)
//      tokenizer.json, model.type "BPE"          -> ByteLevelBpeTokenizer (BART)
//   3. vocab.json + merges.txt                   -> ByteLevelBpeTokenizer (BART)
// A tokenizer.json of another model type is skipped in favour of 3 when those
// files exist; otherwise a TokenizerError names the folder and what was sought.
#include <filesystem>
#include <memory>
#include <string>

#include "srformer/tokenizers/byte_level_bpe_tokenizer.hpp"
#include "srformer/tokenizers/detail/hf_json.hpp"
#include "srformer/tokenizers/sentencepiece_tokenizer.hpp"
#include "srformer/tokenizers/tokenizer.hpp"
#include "srformer/tokenizers/unigram_tokenizer.hpp"

namespace srformer {

inline std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& model_folder) {
  namespace fs = std::filesystem;
  namespace d = tokenizers::detail;
  std::error_code status_error;
  if (!fs::is_directory(model_folder, status_error))
    throw TokenizerError("tokenizer folder '" + model_folder.string() + "' does not exist or is not a directory");

  const fs::path spiece = model_folder / "spiece.model";
  if (io::name_exists(spiece)) return std::make_unique<SentencePieceTokenizer>(spiece);

  const fs::path vocab = model_folder / "vocab.json";
  const fs::path merges = model_folder / "merges.txt";
  const bool has_bpe_files = io::name_exists(vocab) && io::name_exists(merges);

  const fs::path tokenizer_json = model_folder / "tokenizer.json";
  std::string json_model_type;
  if (io::name_exists(tokenizer_json)) {
    const d::Json root = d::read_json_file(tokenizer_json);
    const std::string where = "'" + tokenizer_json.string() + "'";
    json_model_type = d::json_type(d::json_get<d::Json>(root, "model", where), where + " model");
    if (json_model_type == "Unigram") return std::make_unique<UnigramTokenizer>(root, tokenizer_json.string());
    if (json_model_type == "BPE") return std::make_unique<ByteLevelBpeTokenizer>(root, tokenizer_json.string());
  }
  if (has_bpe_files) return std::make_unique<ByteLevelBpeTokenizer>(vocab, merges);

  std::string message = "no supported tokenizer in '" + model_folder.string() +
                        "': looked for spiece.model (SentencePiece), tokenizer.json (model Unigram or BPE), "
                        "or vocab.json + merges.txt (byte-level BPE)";
  if (!json_model_type.empty()) message += "; its tokenizer.json has model type " + quote(json_model_type);
  throw TokenizerError(message);
}

}  // namespace srformer
