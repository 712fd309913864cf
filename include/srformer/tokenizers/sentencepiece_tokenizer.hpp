#pragma once
// T5 tokenizer over a SentencePiece model file (spiece.model), using the
// system libsentencepiece. Conventions, as in the checkpoints' training code:
//  - encode: SentencePiece's own ids of the whole text (its normaliser: NFKC-like
//    charsmap, whitespace collapsed), then </s>. Special-token strings inside
//    the text ("</s>", "<extra_id_0>") are NOT recognised: they are tokenised
//    as plain text, exactly as sp.encode does (the goldens are sp.encode).
//  - decode(skip_special_tokens=true) drops control pieces (pad, eos, bos) and
//    <unk>, which HF's T5 tokenizer also treats as special; with false, control
//    pieces are written as their piece text and <unk> as SentencePiece's " ⁇ ".
//  - not lossless: decode(encode(x)) loses what the normaliser changed (NFKC
//    compatibility forms, runs of white space, leading/trailing spaces) and
//    every character that became <unk>.
#include <sentencepiece_processor.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "srformer/core/printable.hpp"
#include "srformer/io/file_checks.hpp"
#include "srformer/tokenizers/detail/utf8.hpp"
#include "srformer/tokenizers/tokenizer.hpp"

namespace srformer {

class SentencePieceTokenizer : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(const std::filesystem::path& model_file) : file_(model_file.string()) {
    if (const auto problem = io::file_problem(model_file))
      throw FormatError("SentencePiece model '" + file_ + "' " + *problem);
    const auto status = processor_.Load(file_);
    if (!status.ok())
      throw FormatError("SentencePiece model '" + file_ + "' cannot be loaded: " + printable(status.ToString()));
    vocab_size_ = processor_.GetPieceSize();
    if (vocab_size_ <= 0) throw FormatError("SentencePiece model '" + file_ + "' has no pieces");
    unk_id_ = processor_.unk_id();
    // T5 names its specials by piece; fall back to the model's own eos/pad ids.
    eos_id_ = piece_id_or("</s>", processor_.eos_id());
    pad_id_ = piece_id_or("<pad>", processor_.pad_id());
    if (eos_id_ < 0)
      throw FormatError("SentencePiece model '" + file_ + "' has no </s> piece, which T5 inputs end with");
    suffix_ = {eos_id_};
  }

  std::vector<TokenId> encode_text(std::string_view text) const override {
    tokenizers::detail::require_valid_utf8(text);
    std::vector<int> ids;
    const auto status = processor_.Encode(text, &ids);
    if (!status.ok()) throw TokenizerError("SentencePiece ('" + file_ + "') failed to encode: " + printable(status.ToString()));
    return std::vector<TokenId>(ids.begin(), ids.end());
  }

  std::vector<std::string> tokenize(std::string_view text) const override {
    tokenizers::detail::require_valid_utf8(text);
    std::vector<std::string> pieces;
    const auto status = processor_.Encode(text, &pieces);
    if (!status.ok()) throw TokenizerError("SentencePiece ('" + file_ + "') failed to encode: " + printable(status.ToString()));
    return pieces;
  }

  std::string decode(const std::vector<TokenId>& ids, bool skip_special_tokens = true) const override {
    check_ids(ids);
    std::string text;
    std::vector<int> run;  // consecutive ids that SentencePiece decodes itself
    const auto flush = [&] {
      if (run.empty()) return;
      std::string piece_text;
      const auto status = processor_.Decode(run, &piece_text);
      if (!status.ok()) throw TokenizerError("SentencePiece ('" + file_ + "') failed to decode: " + printable(status.ToString()));
      text += piece_text;
      run.clear();
    };
    for (const TokenId id : ids) {
      if (is_special(id)) {
        if (skip_special_tokens) continue;
        if (processor_.IsControl(id)) {
          flush();
          text += processor_.IdToPiece(id);
          continue;
        }
      }
      run.push_back(id);
    }
    flush();
    return text;
  }

  Index vocab_size() const override { return vocab_size_; }

  std::string id_to_token(TokenId id) const override {
    check_ids({id});
    return processor_.IdToPiece(id);
  }

  bool is_special(TokenId id) const override {
    return id >= 0 && id < vocab_size_ && (processor_.IsControl(id) || processor_.IsUnknown(id));
  }

  const std::vector<TokenId>& prefix_ids() const override { return prefix_; }
  const std::vector<TokenId>& suffix_ids() const override { return suffix_; }
  TokenId pad_id() const override { return pad_id_; }
  TokenId eos_id() const override { return eos_id_; }
  TokenId bos_id() const override { return -1; }
  TokenId unk_id() const override { return unk_id_; }

  /// The underlying processor, for callers that need SentencePiece directly.
  const sentencepiece::SentencePieceProcessor& processor() const { return processor_; }

 private:
  TokenId piece_id_or(const std::string& piece, int fallback) const {
    const int id = processor_.PieceToId(piece);
    // PieceToId answers unk_id for unknown pieces.
    if (id >= 0 && (id != unk_id_ || piece == processor_.IdToPiece(unk_id_))) return id;
    return fallback;
  }

  std::string file_;
  sentencepiece::SentencePieceProcessor processor_;
  Index vocab_size_ = 0;
  TokenId unk_id_ = -1, eos_id_ = -1, pad_id_ = -1;
  std::vector<TokenId> prefix_, suffix_;
};

}  // namespace srformer
