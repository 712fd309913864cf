#pragma once
// T5 tokenizer from a HuggingFace tokenizer.json whose model is Unigram (the
// layout of folders without spiece.model). It runs the pipeline the file
// declares, as HF tokenizers does:
//   added tokens (raw text) -> normalizer (Precompiled charsmap, Replace)
//   -> added tokens with normalized=true -> pre_tokenizer (WhitespaceSplit,
//   Metaspace) -> Unigram Viterbi -> post_processor (TemplateProcessing: </s>)
// and decodes with the declared decoder (Metaspace). Added tokens written in the
// text ("</s>", "<extra_id_0>") become their ids. Not lossless, like
// SentencePiece: normalisation, collapsed white space and <unk> lose text.
// Limitation: Metaspace's "first" prepend scheme treats a word as first when it
// starts at byte 0 of the input, even if normalisation deleted characters there.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "srformer/tokenizers/detail/added_vocabulary.hpp"
#include "srformer/tokenizers/detail/hf_json.hpp"
#include "srformer/tokenizers/detail/unigram_model.hpp"
#include "srformer/tokenizers/detail/utf8.hpp"
#include "srformer/tokenizers/tokenizer.hpp"

namespace srformer {

class UnigramTokenizer : public Tokenizer {
 public:
  explicit UnigramTokenizer(const std::filesystem::path& tokenizer_json)
      : UnigramTokenizer(tokenizers::detail::read_json_file(tokenizer_json), tokenizer_json.string()) {}

  /// From an already parsed tokenizer.json; `what` names it in error messages.
  UnigramTokenizer(const tokenizers::detail::Json& root, const std::string& what)
      : model_(load_model(root, "'" + what + "'")) {
    namespace d = tokenizers::detail;
    const std::string where = "'" + what + "'";
    added_ = d::parse_added_tokens(root, where);
    normalizer_ = d::Normalizer(root.value("normalizer", d::Json()), where);
    pre_tokenizer_ = d::PreTokenizer(root.value("pre_tokenizer", d::Json()), where);
    const d::Framing framing = d::parse_post_processor(root, where);
    prefix_ = framing.prefix;
    suffix_ = framing.suffix;
    const d::Json decoder = root.value("decoder", d::Json());
    if (!decoder.is_null()) {
      const std::string type = d::json_type(decoder, where + " decoder");
      if (type != "Metaspace") throw TokenizerError(where + " decoder " + type + ": decoder type not supported");
      decoder_ = d::MetaspaceOptions(decoder, where + " decoder Metaspace");
      has_decoder_ = true;
    }
    vocab_size_ = added_.vocabulary_size(static_cast<Index>(model_.size()), where);
    for (const TokenId id : prefix_) check_framing_id(id, where);
    for (const TokenId id : suffix_) check_framing_id(id, where);
    pad_id_ = find_token("<pad>");
    eos_id_ = find_token("</s>");
    if (eos_id_ < 0 && !suffix_.empty()) eos_id_ = suffix_.back();
  }

  std::vector<TokenId> encode_text(std::string_view text) const override {
    std::vector<TokenId> ids;
    run(text, ids, nullptr);
    return ids;
  }

  std::vector<std::string> tokenize(std::string_view text) const override {
    std::vector<TokenId> ids;
    std::vector<std::string> tokens;
    run(text, ids, &tokens);
    return tokens;
  }

  std::string decode(const std::vector<TokenId>& ids, bool skip_special_tokens = true) const override {
    check_ids(ids);
    std::vector<std::string> tokens;
    for (const TokenId id : ids) {
      if (skip_special_tokens && is_special(id)) continue;
      tokens.push_back(id_to_token(id));
    }
    if (has_decoder_) return tokenizers::detail::metaspace_decode(decoder_, tokens);
    std::string text;  // HF without a decoder: tokens joined by spaces
    for (std::size_t i = 0; i < tokens.size(); ++i) text += (i ? " " : "") + tokens[i];
    return text;
  }

  Index vocab_size() const override { return vocab_size_; }

  std::string id_to_token(TokenId id) const override {
    check_ids({id});
    if (const auto* token = added_.find(id)) return token->content;
    if (static_cast<std::size_t>(id) < model_.size()) return model_.piece(id);
    throw InputError("token id " + std::to_string(id) + " is neither a Unigram piece nor an added token");
  }

  bool is_special(TokenId id) const override { return added_.is_special(id); }

  const std::vector<TokenId>& prefix_ids() const override { return prefix_; }
  const std::vector<TokenId>& suffix_ids() const override { return suffix_; }
  TokenId pad_id() const override { return pad_id_; }
  TokenId eos_id() const override { return eos_id_; }
  TokenId bos_id() const override { return prefix_.empty() ? -1 : prefix_.front(); }
  TokenId unk_id() const override { return model_.unk_id(); }

 private:
  static tokenizers::detail::UnigramModel load_model(const tokenizers::detail::Json& root, const std::string& where) {
    namespace d = tokenizers::detail;
    const d::Json model = d::json_get<d::Json>(root, "model", where);
    const std::string type = d::json_type(model, where + " model");
    if (type != "Unigram") throw TokenizerError(where + ": model type is " + type + ", not Unigram");
    std::vector<std::string> pieces;
    std::vector<double> scores;
    for (const d::Json& entry : d::json_get<d::Json>(model, "vocab", where + " model")) {
      if (!entry.is_array() || entry.size() != 2 || !entry[0].is_string() || !entry[1].is_number())
        throw FormatError(where + ": Unigram vocab entry " + std::to_string(pieces.size()) + " is not [piece, score]");
      pieces.push_back(entry[0].get<std::string>());
      scores.push_back(entry[1].get<double>());
    }
    const auto unk_id = d::json_get_or<TokenId>(model, "unk_id", -1, where + " model");
    const bool byte_fallback = d::json_get_or<bool>(model, "byte_fallback", false, where + " model");
    return d::UnigramModel(std::move(pieces), std::move(scores), unk_id, byte_fallback, where);
  }

  void check_framing_id(TokenId id, const std::string& where) const {
    if (id < 0 || id >= vocab_size_)
      throw FormatError(where + ": post_processor id " + std::to_string(id) + " is outside the vocabulary");
  }

  TokenId find_token(std::string_view content) const {
    if (const auto* token = added_.find(content)) return token->id;
    return model_.find(content);
  }

  void run(std::string_view text, std::vector<TokenId>& ids, std::vector<std::string>* tokens) const {
    namespace d = tokenizers::detail;
    d::require_valid_utf8(text);
    const auto emit_added = [&](TokenId id) {
      ids.push_back(id);
      if (tokens) tokens->push_back(added_.find(id)->content);
    };
    for (const d::TextSpan& span : added_.split(text, /*normalized_tokens=*/false)) {
      if (span.token_id >= 0) {
        emit_added(span.token_id);
        continue;
      }
      const std::string normalized = normalizer_.apply(text.substr(span.begin, span.end - span.begin));
      std::vector<d::TextSpan> parts;
      if (added_.has_normalized_tokens()) parts = added_.split(normalized, /*normalized_tokens=*/true);
      else parts.push_back({0, normalized.size(), -1});
      for (const d::TextSpan& part : parts) {
        if (part.token_id >= 0) {
          emit_added(part.token_id);
          continue;
        }
        const bool at_origin = span.begin == 0 && part.begin == 0;
        const std::string_view piece = std::string_view(normalized).substr(part.begin, part.end - part.begin);
        for (const d::Word& word : pre_tokenizer_.apply(piece, at_origin)) model_.encode(word.text, ids, tokens);
      }
    }
  }

  tokenizers::detail::UnigramModel model_;
  tokenizers::detail::AddedVocabulary added_;
  tokenizers::detail::Normalizer normalizer_;
  tokenizers::detail::PreTokenizer pre_tokenizer_;
  tokenizers::detail::MetaspaceOptions decoder_;
  bool has_decoder_ = false;
  std::vector<TokenId> prefix_, suffix_;
  Index vocab_size_ = 0;
  TokenId pad_id_ = -1, eos_id_ = -1;
};

}  // namespace srformer
