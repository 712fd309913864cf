#pragma once
// The common tokenizer interface: text -> ids as the model input expects them
// (T5: pieces then </s>; BART: <s> ... </s>) and ids -> text.
//
// Text must be valid UTF-8: every encode()/tokenize() throws TokenizerError
// naming the byte offset of the first ill-formed sequence (no silent
// replacement). decode() never fails on the bytes a model produces: byte-level
// BPE output that is not valid UTF-8 is repaired with U+FFFD, as HuggingFace does.
// Ids outside [0, vocab_size()) passed to decode() throw InputError.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "srformer/core/error.hpp"
#include "srformer/core/tensor.hpp"
#include "srformer/generation/decoder_session.hpp"

namespace srformer {

class Tokenizer {
 public:
  /// max_length value meaning "no truncation".
  static constexpr Index kNoTruncation = -1;

  virtual ~Tokenizer() = default;

  /// Ids of `text` framed as the model input expects them: prefix_ids(), the
  /// text's ids, suffix_ids().
  std::vector<TokenId> encode(std::string_view text) const { return encode(text, kNoTruncation); }

  /// Like encode(text), but at most `max_length` ids: the text's ids are cut
  /// (keeping the first ones) so that the prefix and suffix (e.g. T5's final
  /// </s>) always survive, as HF truncation does. T5 demo inputs:
  /// encode(document, 512) == sp.encode(document)[:511] + [</s>].
  std::vector<TokenId> encode(std::string_view text, Index max_length) const {
    const std::vector<TokenId>& prefix = prefix_ids();
    const std::vector<TokenId>& suffix = suffix_ids();
    const Index framing = static_cast<Index>(prefix.size() + suffix.size());
    if (max_length != kNoTruncation && max_length < framing)
      throw InputError("encode: max_length " + std::to_string(max_length) + " leaves no room for the " +
                       std::to_string(framing) + " special tokens this tokenizer adds");
    std::vector<TokenId> body = encode_text(text);
    if (max_length != kNoTruncation && static_cast<Index>(body.size()) > max_length - framing)
      body.resize(static_cast<std::size_t>(max_length - framing));
    std::vector<TokenId> ids;
    ids.reserve(body.size() + static_cast<std::size_t>(framing));
    ids.insert(ids.end(), prefix.begin(), prefix.end());
    ids.insert(ids.end(), body.begin(), body.end());
    ids.insert(ids.end(), suffix.begin(), suffix.end());
    return ids;
  }

  /// Ids of `text` alone, without the prefix/suffix special tokens. Special-token
  /// strings written in the text (e.g. "<mask>") are still recognised where the
  /// tokenizer format defines them (tokenizer.json / BPE), as HuggingFace does.
  virtual std::vector<TokenId> encode_text(std::string_view text) const = 0;

  /// The token strings of encode_text(text), one per id (HF's `tokens` without
  /// the added prefix/suffix; SentencePiece's pieces).
  virtual std::vector<std::string> tokenize(std::string_view text) const = 0;

  /// Text of `ids`. With skip_special_tokens, special ids (pad, eos, bos, unk,
  /// mask, sentinels: the ids HF marks special) are dropped before decoding.
  virtual std::string decode(const std::vector<TokenId>& ids, bool skip_special_tokens = true) const = 0;

  /// Number of ids (the largest id + 1).
  virtual Index vocab_size() const = 0;

  /// The vocabulary string of one id (throws InputError when out of range).
  virtual std::string id_to_token(TokenId id) const = 0;

  /// Whether decode(..., skip_special_tokens=true) drops `id`.
  virtual bool is_special(TokenId id) const = 0;

  /// Ids encode() puts before / after the text.
  virtual const std::vector<TokenId>& prefix_ids() const = 0;
  virtual const std::vector<TokenId>& suffix_ids() const = 0;

  /// Special ids; -1 when the vocabulary has none. bos_id() is the id encode()
  /// starts with (-1 for T5, which adds none).
  virtual TokenId pad_id() const = 0;
  virtual TokenId eos_id() const = 0;
  virtual TokenId bos_id() const = 0;
  virtual TokenId unk_id() const = 0;

 protected:
  /// Throws InputError unless every id is in [0, vocab_size()).
  void check_ids(const std::vector<TokenId>& ids) const {
    for (std::size_t i = 0; i < ids.size(); ++i)
      if (ids[i] < 0 || ids[i] >= vocab_size())
        throw InputError("decode: token id " + std::to_string(ids[i]) + " at position " + std::to_string(i) +
                         " is outside the vocabulary [0, " + std::to_string(vocab_size()) + ")");
  }
};

}  // namespace srformer
