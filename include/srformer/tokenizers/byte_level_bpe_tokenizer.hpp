#pragma once
// BART / RoBERTa byte-level BPE tokenizer, from vocab.json + merges.txt or from a
// HuggingFace tokenizer.json (model BPE, pre_tokenizer ByteLevel). Pipeline, as
// HF tokenizers runs it:
//   added/special tokens found in the text -> ByteLevel pre-tokenisation (GPT-2
//   pattern, bytes spelled in GPT-2's alphabet) -> BPE merges by rank
//   -> <s> ... </s> (RobertaProcessing)
// Lossless: decode(encode(x), skip_special_tokens=true) == x for every valid
// UTF-8 x that contains no special-token string.
//
// From vocab.json + merges.txt, the special tokens are those of RoBERTa/BART
// present in the vocabulary (<s> </s> <pad> <unk> <mask>), matched exactly
// where they occur in the text, with no white-space stripping (what HF builds
// from these two files; BartTokenizerFast's <mask> lstrip is a tokenizer.json
// setting, honoured when loading a tokenizer.json).
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "srformer/core/printable.hpp"
#include "srformer/tokenizers/detail/added_vocabulary.hpp"
#include "srformer/tokenizers/detail/bpe_model.hpp"
#include "srformer/tokenizers/detail/byte_level.hpp"
#include "srformer/io/json.hpp"
#include "srformer/tokenizers/detail/hf_json.hpp"
#include "srformer/tokenizers/detail/utf8.hpp"
#include "srformer/tokenizers/tokenizer.hpp"

namespace srformer {

class ByteLevelBpeTokenizer : public Tokenizer {
 public:
  /// GPT-2 style files: vocab.json ({"token": id}) and merges.txt ("a b" per line).
  ByteLevelBpeTokenizer(const std::filesystem::path& vocab_json, const std::filesystem::path& merges_txt) {
    namespace d = tokenizers::detail;
    const std::string vocab_what = "'" + vocab_json.string() + "'";
    const d::Json vocab_root = d::read_json_file(vocab_json);
    const auto vocab = parse_vocab(vocab_root, vocab_what);
    const auto merges = parse_merges_txt(merges_txt);
    const auto find = [&](const char* token) {
      const auto it = vocab.find(token);
      return it == vocab.end() ? TokenId{-1} : it->second;
    };
    model_ = std::make_unique<d::BpeModel>(vocab, merges, find("<unk>"), false,
                                           vocab_what + " with '" + merges_txt.string() + "'");
    for (const char* special : {"<s>", "</s>", "<pad>", "<unk>", "<mask>"}) {
      if (find(special) < 0) continue;
      d::AddedToken token;
      token.content = special;
      token.id = find(special);
      token.special = true;
      added_.add(token);
    }
    if (find("<s>") >= 0) prefix_ = {find("<s>")};
    if (find("</s>") >= 0) suffix_ = {find("</s>")};
    finish(vocab_what);
  }

  /// The same from two path strings. Without it, (std::string, std::string) converts
  /// the first string to a JSON value and picks the (tokenizer.json, name) constructor,
  /// which then fails with a misleading "missing \"model\"".
  ByteLevelBpeTokenizer(const std::string& vocab_json, const std::string& merges_txt)
      : ByteLevelBpeTokenizer(std::filesystem::path(vocab_json), std::filesystem::path(merges_txt)) {}

  /// A HuggingFace tokenizer.json with a BPE model and a ByteLevel pre-tokenizer.
  explicit ByteLevelBpeTokenizer(const std::filesystem::path& tokenizer_json)
      : ByteLevelBpeTokenizer(tokenizers::detail::read_json_file(tokenizer_json), tokenizer_json.string()) {}

  /// From an already parsed tokenizer.json; `what` names it in error messages.
  ByteLevelBpeTokenizer(const tokenizers::detail::Json& root, const std::string& what) {
    namespace d = tokenizers::detail;
    const std::string where = "'" + what + "'";
    const d::Json model = d::json_get<d::Json>(root, "model", where);
    const std::string model_where = where + " model";
    const std::string type = d::json_type(model, model_where);
    if (type != "BPE") throw TokenizerError(where + ": model type is " + type + ", not BPE");
    if (d::json_get_or<double>(model, "dropout", 0.0, model_where) != 0.0)
      throw TokenizerError(model_where + ": BPE dropout is not supported (inference tokenizers have none)");
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
      if (!d::json_get_or<std::string>(model, key, "", model_where).empty())
        throw TokenizerError(model_where + ": " + key + " is not supported with byte-level BPE");
    for (const char* key : {"fuse_unk", "byte_fallback"})
      if (d::json_get_or<bool>(model, key, false, model_where))
        throw TokenizerError(model_where + ": " + key + "=true is not supported with byte-level BPE");
    const auto vocab = parse_vocab(d::json_get<d::Json>(model, "vocab", model_where), model_where);
    std::vector<std::pair<std::string, std::string>> merges;
    for (const d::Json& merge : d::json_get<d::Json>(model, "merges", model_where)) {
      if (merge.is_string()) merges.push_back(split_merge(merge.get<std::string>(), model_where, merges.size()));
      else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string())
        merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
      else throw FormatError(model_where + ": merge " + std::to_string(merges.size()) + " is malformed");
    }
    TokenId unk_id = -1;
    const std::string unk_token = d::json_get_or<std::string>(model, "unk_token", "", model_where);
    if (!unk_token.empty()) {
      const auto it = vocab.find(unk_token);
      if (it == vocab.end()) throw FormatError(model_where + ": unk_token '" + printable(unk_token) + "' is not in the vocabulary");
      unk_id = it->second;
    }
    const bool ignore_merges = d::json_get_or<bool>(model, "ignore_merges", false, model_where);
    model_ = std::make_unique<d::BpeModel>(vocab, merges, unk_id, ignore_merges, model_where);

    if (root.contains("normalizer") && !root.at("normalizer").is_null())
      throw TokenizerError(where + ": a normalizer with byte-level BPE is not supported");
    const d::Json pre = root.value("pre_tokenizer", d::Json());
    if (pre.is_null() || d::json_type(pre, where + " pre_tokenizer") != "ByteLevel")
      throw TokenizerError(where + ": byte-level BPE needs a ByteLevel pre_tokenizer");
    add_prefix_space_ = d::json_get_or<bool>(pre, "add_prefix_space", false, where + " pre_tokenizer");
    use_regex_ = d::json_get_or<bool>(pre, "use_regex", true, where + " pre_tokenizer");
    const d::Json decoder = root.value("decoder", d::Json());
    if (decoder.is_null() || d::json_type(decoder, where + " decoder") != "ByteLevel")
      throw TokenizerError(where + ": byte-level BPE needs a ByteLevel decoder");

    added_ = d::parse_added_tokens(root, where);
    const d::Framing framing = d::parse_post_processor(root, where);
    prefix_ = framing.prefix;
    suffix_ = framing.suffix;
    finish(where);
  }

  std::vector<TokenId> encode_text(std::string_view text) const override {
    std::vector<TokenId> ids;
    run(text, ids);
    return ids;
  }

  std::vector<std::string> tokenize(std::string_view text) const override {
    std::vector<TokenId> ids;
    run(text, ids);
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (const TokenId id : ids) tokens.push_back(id_to_token(id));
    return tokens;
  }

  std::string decode(const std::vector<TokenId>& ids, bool skip_special_tokens = true) const override {
    check_ids(ids);
    const auto& alphabet = tokenizers::detail::ByteAlphabet::instance();
    std::string bytes;
    for (const TokenId id : ids) {
      if (skip_special_tokens && is_special(id)) continue;
      bytes += alphabet.decode_token(id_to_token(id));
    }
    return tokenizers::detail::utf8_lossy(bytes);
  }

  Index vocab_size() const override { return vocab_size_; }

  std::string id_to_token(TokenId id) const override {
    check_ids({id});
    if (const auto* token = added_.find(id)) return token->content;
    if (static_cast<std::size_t>(id) < model_->size()) return model_->token(id);
    throw InputError("token id " + std::to_string(id) + " is neither a BPE token nor an added token");
  }

  bool is_special(TokenId id) const override { return added_.is_special(id); }

  const std::vector<TokenId>& prefix_ids() const override { return prefix_; }
  const std::vector<TokenId>& suffix_ids() const override { return suffix_; }
  TokenId pad_id() const override { return pad_id_; }
  TokenId eos_id() const override { return eos_id_; }
  TokenId bos_id() const override { return prefix_.empty() ? -1 : prefix_.front(); }
  TokenId unk_id() const override { return unk_id_; }

 private:
  static std::unordered_map<std::string, TokenId> parse_vocab(const tokenizers::detail::Json& json,
                                                              const std::string& what) {
    if (!json.is_object()) throw FormatError(what + ": the vocabulary is not a JSON object {token: id}");
    std::unordered_map<std::string, TokenId> vocab;
    vocab.reserve(json.size());
    for (auto it = json.begin(); it != json.end(); ++it) {
      const std::optional<TokenId> id =
          it.value().is_number_integer() ? io::json_number_as<TokenId>(it.value()) : std::nullopt;
      if (!it.value().is_number_integer())
        throw FormatError(what + ": the id of token '" + printable(it.key()) + "' is not an integer");
      if (!id || *id < 0)
        throw FormatError(what + ": the id of token '" + printable(it.key()) + "' is outside [0, 2^31): " + io::json_excerpt(it.value()));
      vocab.emplace(it.key(), *id);
    }
    return vocab;
  }

  static std::pair<std::string, std::string> split_merge(const std::string& line, const std::string& what,
                                                         std::size_t index) {
    const std::size_t space = line.find(' ');
    if (space == std::string::npos || space == 0 || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string::npos)
      throw FormatError(what + ": merge " + std::to_string(index) + " (" + quote(line) + ") is not two tokens separated by one space");
    return {line.substr(0, space), line.substr(space + 1)};
  }

  static std::vector<std::pair<std::string, std::string>> parse_merges_txt(const std::filesystem::path& file) {
    const std::string text = tokenizers::detail::read_text_file(file);
    const std::string what = "'" + file.string() + "'";
    std::vector<std::pair<std::string, std::string>> merges;
    std::size_t line_number = 0;
    for (std::size_t pos = 0; pos < text.size();) {
      std::size_t end = text.find('\n', pos);
      if (end == std::string::npos) end = text.size();
      std::string line = text.substr(pos, end - pos);
      pos = end + 1;
      ++line_number;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.rfind("#version", 0) == 0) continue;
      merges.push_back(split_merge(line, what + " line " + std::to_string(line_number), merges.size()));
    }
    return merges;
  }

  void finish(const std::string& where) {
    vocab_size_ = added_.vocabulary_size(static_cast<Index>(model_->size()), where);
    for (const auto* ids : {&prefix_, &suffix_})
      for (const TokenId id : *ids)
        if (id < 0 || id >= vocab_size_)
          throw FormatError(where + ": special id " + std::to_string(id) + " is outside the vocabulary");
    const auto find = [&](const char* content) {
      if (const auto* token = added_.find(content)) return token->id;
      return model_->find(content);
    };
    pad_id_ = find("<pad>");
    eos_id_ = find("</s>");
    unk_id_ = find("<unk>");
    if (eos_id_ < 0 && !suffix_.empty()) eos_id_ = suffix_.back();
  }

  void run(std::string_view text, std::vector<TokenId>& ids) const {
    namespace d = tokenizers::detail;
    d::require_valid_utf8(text);
    const auto& alphabet = d::ByteAlphabet::instance();
    const bool second_pass = added_.has_normalized_tokens();
    for (const d::TextSpan& span : added_.split(text, /*normalized_tokens=*/false)) {
      if (span.token_id >= 0) {
        ids.push_back(span.token_id);
        continue;
      }
      const std::string_view segment = text.substr(span.begin, span.end - span.begin);
      std::vector<d::TextSpan> parts;
      if (second_pass) parts = added_.split(segment, /*normalized_tokens=*/true);
      else parts.push_back({0, segment.size(), -1});
      for (const d::TextSpan& part : parts) {
        if (part.token_id >= 0) {
          ids.push_back(part.token_id);
          continue;
        }
        std::string piece(segment.substr(part.begin, part.end - part.begin));
        if (add_prefix_space_ && piece.rfind(' ', 0) != 0) piece.insert(0, " ");
        if (use_regex_) {
          for (const std::string_view word : d::gpt2_split(piece)) model_->encode(alphabet.encode(word), ids);
        } else {
          model_->encode(alphabet.encode(piece), ids);
        }
      }
    }
  }

  std::unique_ptr<tokenizers::detail::BpeModel> model_;
  tokenizers::detail::AddedVocabulary added_;
  bool add_prefix_space_ = false;
  bool use_regex_ = true;
  std::vector<TokenId> prefix_, suffix_;
  Index vocab_size_ = 0;
  TokenId pad_id_ = -1, eos_id_ = -1, unk_id_ = -1;
};

}  // namespace srformer
