// Fuzzes a tokenizer's encode and decode. Built three times (SRFORMER_FUZZ_TOKENIZER):
//   1 SentencePiece  (examples/models/t5-demo/spiece.model)
//   2 Unigram        (tests/data/caikit-tiny-t5/tokenizer.json)
//   3 byte-level BPE (tests/data/tokenizers/bart vocab.json + merges.txt)
// Input: byte 0 picks the operation, the rest is its argument.
//   even: encode the rest as text (any bytes, invalid UTF-8 included)
//   odd:  decode the rest read as token ids (in and out of the vocabulary)
// Properties checked besides "only srformer::Error escapes":
//   - invalid UTF-8 is refused with TokenizerError, valid UTF-8 is accepted;
//   - ids are inside the vocabulary, tokenize() gives one token per id,
//     encode() = prefix + encode_text() + suffix, truncation keeps the framing;
//   - decode() of in-vocabulary ids works and returns valid UTF-8; an id outside
//     the vocabulary throws InputError;
//   - byte-level BPE is lossless: decode(encode_text(x)) == x (x without special tokens).
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "srformer/tokenizers/byte_level_bpe_tokenizer.hpp"
#include "srformer/tokenizers/sentencepiece_tokenizer.hpp"
#include "srformer/tokenizers/unigram_tokenizer.hpp"

#ifndef SRFORMER_FUZZ_TOKENIZER
#error "SRFORMER_FUZZ_TOKENIZER must be 1 (SentencePiece), 2 (Unigram) or 3 (byte-level BPE)"
#endif

namespace {

using srformer::TokenId;
using srformer::fuzz::fuzz_require;

constexpr bool kLossless = SRFORMER_FUZZ_TOKENIZER == 3;

const srformer::Tokenizer& tokenizer() {
  static const std::unique_ptr<srformer::Tokenizer> instance = []() -> std::unique_ptr<srformer::Tokenizer> {
    const std::string data = SRFORMER_FUZZ_DATA_DIR;
#if SRFORMER_FUZZ_TOKENIZER == 1
    return std::make_unique<srformer::SentencePieceTokenizer>(std::string(SRFORMER_FUZZ_MODELS_DIR) +
                                                              "/t5-demo/spiece.model");
#elif SRFORMER_FUZZ_TOKENIZER == 2
    return std::make_unique<srformer::UnigramTokenizer>(data + "/caikit-tiny-t5/tokenizer.json");
#else
    // Paths, not strings: a string would pick the (tokenizer.json, name) constructor.
    return std::make_unique<srformer::ByteLevelBpeTokenizer>(std::filesystem::path(data + "/tokenizers/bart/vocab.json"),
                                                             std::filesystem::path(data + "/tokenizers/bart/merges.txt"));
#endif
  }();
  return *instance;
}

bool contains_special_text(const std::string& text) {
  for (const char* special : {"<s>", "</s>", "<pad>", "<unk>", "<mask>"})
    if (text.find(special) != std::string::npos) return true;
  return false;
}

void check_ids_in_vocab(const std::vector<TokenId>& ids, const char* what) {
  for (const TokenId id : ids)
    fuzz_require(id >= 0 && id < tokenizer().vocab_size(), std::string(what) + " returned id " + std::to_string(id) +
                                                               " outside the vocabulary");
}

void fuzz_encode(const std::string& text, std::uint8_t control) {
  const srformer::Tokenizer& tok = tokenizer();
  const bool valid = srformer::fuzz::is_valid_utf8(text);
  std::vector<TokenId> ids;
  try {
    ids = tok.encode_text(text);
  } catch (const srformer::TokenizerError&) {
    fuzz_require(!valid, "valid UTF-8 text was refused by encode_text");
    // Every entry point refuses it alike.
    bool refused = false;
    try {
      (void)tok.tokenize(text);
    } catch (const srformer::TokenizerError&) {
      refused = true;
    }
    fuzz_require(refused, "tokenize accepted what encode_text refused");
    return;
  }
  fuzz_require(valid, "invalid UTF-8 text was accepted by encode_text");
  check_ids_in_vocab(ids, "encode_text");

  const std::vector<std::string> tokens = tok.tokenize(text);
  fuzz_require(tokens.size() == ids.size(), "tokenize() and encode_text() agree on the number of tokens");

  std::vector<TokenId> framed = tok.prefix_ids();
  framed.insert(framed.end(), ids.begin(), ids.end());
  framed.insert(framed.end(), tok.suffix_ids().begin(), tok.suffix_ids().end());
  fuzz_require(tok.encode(text) == framed, "encode() == prefix + encode_text() + suffix");

  const auto framing = static_cast<srformer::Index>(tok.prefix_ids().size() + tok.suffix_ids().size());
  const srformer::Index max_length = control % 16;
  if (max_length < framing) {
    bool refused = false;
    try {
      (void)tok.encode(text, max_length);
    } catch (const srformer::InputError&) {
      refused = true;
    }
    fuzz_require(refused, "encode(text, max_length < framing) throws InputError");
  } else {
    const std::vector<TokenId> cut = tok.encode(text, max_length);
    fuzz_require(static_cast<srformer::Index>(cut.size()) <= max_length, "truncation respects max_length");
    fuzz_require(std::equal(tok.prefix_ids().begin(), tok.prefix_ids().end(), cut.begin()), "truncation keeps the prefix");
    fuzz_require(std::equal(tok.suffix_ids().rbegin(), tok.suffix_ids().rend(), cut.rbegin()),
                 "truncation keeps the suffix");
  }

  const std::string decoded = tok.decode(ids, /*skip_special_tokens=*/true);
  fuzz_require(srformer::fuzz::is_valid_utf8(decoded), "decode(encode_text(text)) is valid UTF-8");
  (void)tok.decode(framed, /*skip_special_tokens=*/false);
  if (kLossless && !contains_special_text(text))
    fuzz_require(decoded == text, "byte-level BPE round trip decode(encode_text(x)) == x");
}

// Ids from the bytes: one control byte each; high bit set: a raw 32-bit id
// (anything, negative included), else a 16-bit value folded onto
// [-2, vocab_size + 2) so that most ids are real and the edges are hit.
std::vector<TokenId> read_ids(const std::uint8_t* data, std::size_t size) {
  const auto vocab = tokenizer().vocab_size();
  std::vector<TokenId> ids;
  std::size_t i = 0;
  while (i < size) {
    const std::uint8_t control = data[i++];
    if (control & 0x80) {
      if (i + 4 > size) break;
      std::uint32_t raw = 0;
      for (int k = 0; k < 4; ++k) raw |= static_cast<std::uint32_t>(data[i + k]) << (8 * k);
      ids.push_back(static_cast<TokenId>(raw));
      i += 4;
    } else {
      if (i + 2 > size) break;
      const std::uint32_t raw = data[i] | (static_cast<std::uint32_t>(data[i + 1]) << 8);
      ids.push_back(static_cast<TokenId>(static_cast<srformer::Index>(raw % (vocab + 4)) - 2));
      i += 2;
    }
  }
  return ids;
}

void fuzz_decode(const std::vector<TokenId>& ids, bool skip_special) {
  const srformer::Tokenizer& tok = tokenizer();
  bool in_vocab = true;
  for (const TokenId id : ids) in_vocab = in_vocab && id >= 0 && id < tok.vocab_size();
  std::string text;
  try {
    text = tok.decode(ids, skip_special);
  } catch (const srformer::InputError&) {
    fuzz_require(!in_vocab, "decode refused ids that are all inside the vocabulary");
    return;
  }
  fuzz_require(in_vocab, "decode accepted an id outside the vocabulary");
  fuzz_require(srformer::fuzz::is_valid_utf8(text), "decode() returns valid UTF-8");
  for (const TokenId id : ids) {
    (void)tok.id_to_token(id);
    (void)tok.is_special(id);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)tokenizer();  // load outside the timed runs; a load failure is a broken setup, not a finding
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  srformer::fuzz::expect_only_srformer_errors([&] {
    if ((mode & 1) == 0) {
      fuzz_encode(std::string(reinterpret_cast<const char*>(data + 1), size - 1), mode >> 1);
    } else {
      fuzz_decode(read_ids(data + 1, size - 1), (mode & 2) != 0);
    }
  });
  return 0;
}
