#pragma once
// Added tokens ("<s>", "</s>", "<mask>", "<extra_id_0>", ...) as HuggingFace
// tokenizers handles them: found in the text before the model runs, by a
// leftmost-longest scan (aho-corasick LeftmostLongest), optionally swallowing
// white space on their left (lstrip) or right (rstrip). Tokens with
// normalized=false are matched in the raw text, the others in the normalised
// text of the pieces in between.
#include <algorithm>
#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "srformer/core/error.hpp"
#include "srformer/core/printable.hpp"
#include "srformer/core/tensor.hpp"
#include "srformer/generation/decoder_session.hpp"
#include "srformer/tokenizers/detail/unicode.hpp"

namespace srformer::tokenizers::detail {

struct AddedToken {
  std::string content;
  TokenId id = -1;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
};

/// A span of text: either an added token (token_id >= 0) or plain text (-1).
struct TextSpan {
  std::size_t begin = 0;
  std::size_t end = 0;
  TokenId token_id = -1;
};

class AddedVocabulary {
 public:
  void add(AddedToken token) {
    if (token.content.empty()) return;  // HF ignores empty added tokens
    by_id_[token.id] = tokens_.size();
    by_content_[token.content] = tokens_.size();
    by_first_byte_[static_cast<unsigned char>(token.content[0])].push_back(tokens_.size());
    tokens_.push_back(std::move(token));
  }

  bool empty() const { return tokens_.empty(); }

  /// Size of the whole vocabulary: the model's `model_size` ids and the added tokens.
  /// Ids are dense, so an added token's id must be below model_size + the number of
  /// added tokens; FormatError naming `what` and the token otherwise (an id of 2^31 - 1
  /// would otherwise size tables by a number no file backs).
  Index vocabulary_size(Index model_size, const std::string& what) const {
    const Index limit = model_size + static_cast<Index>(tokens_.size());
    Index size = model_size;
    for (const AddedToken& token : tokens_) {
      if (token.id < 0 || token.id >= limit)
        throw FormatError(what + ": added token '" + printable(token.content) + "' has id " +
                          std::to_string(token.id) + ", outside the vocabulary the file defines [0, " +
                          std::to_string(limit) + ")");
      size = std::max<Index>(size, static_cast<Index>(token.id) + 1);
    }
    return size;
  }
  const std::vector<AddedToken>& tokens() const { return tokens_; }

  const AddedToken* find(TokenId id) const {
    const auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : &tokens_[it->second];
  }
  const AddedToken* find(std::string_view content) const {
    const auto it = by_content_.find(std::string(content));
    return it == by_content_.end() ? nullptr : &tokens_[it->second];
  }
  bool is_special(TokenId id) const {
    const AddedToken* token = find(id);
    return token != nullptr && token->special;
  }
  bool has_normalized_tokens() const {
    return std::any_of(tokens_.begin(), tokens_.end(), [](const AddedToken& t) { return t.normalized; });
  }

  /// Splits `text` (well-formed UTF-8) into plain spans and the added tokens of
  /// one kind (normalized or not) that occur in it.
  std::vector<TextSpan> split(std::string_view text, bool normalized_tokens) const {
    std::vector<TextSpan> spans;
    std::size_t plain_begin = 0;  // start of the pending plain span
    std::size_t pos = 0;
    while (pos < text.size()) {
      const AddedToken* best = nullptr;
      for (const std::size_t index : by_first_byte_[static_cast<unsigned char>(text[pos])]) {
        const AddedToken& token = tokens_[index];
        if (token.normalized != normalized_tokens) continue;
        if (text.compare(pos, token.content.size(), token.content) != 0) continue;
        if (best == nullptr || token.content.size() > best->content.size()) best = &token;
      }
      if (best == nullptr) {
        ++pos;
        continue;
      }
      std::size_t begin = pos, end = pos + best->content.size();
      if (best->lstrip) begin = skip_white_space_back(text, begin, plain_begin);
      if (best->rstrip) end = skip_white_space_forward(text, end);
      if (begin > plain_begin) spans.push_back({plain_begin, begin, -1});
      spans.push_back({begin, end, best->id});
      plain_begin = pos = end;
    }
    if (plain_begin < text.size()) spans.push_back({plain_begin, text.size(), -1});
    return spans;
  }

 private:
  static std::size_t skip_white_space_back(std::string_view text, std::size_t pos, std::size_t limit) {
    while (pos > limit) {
      std::size_t start = pos - 1;
      while (start > limit && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
      const std::size_t length = utf8_sequence_length(text, start);
      if (length == 0 || start + length != pos || !is_white_space(decode_utf8(text, start, length))) break;
      pos = start;
    }
    return pos;
  }
  static std::size_t skip_white_space_forward(std::string_view text, std::size_t pos) {
    while (pos < text.size()) {
      const std::size_t length = utf8_sequence_length(text, pos);
      if (length == 0 || !is_white_space(decode_utf8(text, pos, length))) break;
      pos += length;
    }
    return pos;
  }

  std::vector<AddedToken> tokens_;
  std::unordered_map<TokenId, std::size_t> by_id_;
  std::unordered_map<std::string, std::size_t> by_content_;
  std::array<std::vector<std::size_t>, 256> by_first_byte_;  // candidates per first byte
};

}  // namespace srformer::tokenizers::detail
