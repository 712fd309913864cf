#pragma once
// SentencePiece's precompiled normalisation charsmap, as stored (base64) in a
// tokenizer.json "Precompiled" normaliser, applied the way HuggingFace
// tokenizers applies it (which is not quite how SentencePiece does):
//
// Layout: u32 little-endian trie size in bytes, the trie (darts-clone double
// array of u32 units, keys = UTF-8 source strings, values = offsets into the
// blob), then a blob of NUL-terminated replacement strings.
//
// Normalisation walks extended grapheme clusters. A cluster under 6 bytes
// whose bytes start with a key is replaced WHOLE by the SHORTEST matching key's
// replacement; otherwise each character is replaced by its own entry, if any.
// (SentencePiece instead takes the longest match anywhere; HF's quirk is kept
// because HF produced the ids the models were trained and tested with.)
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "srformer/core/error.hpp"
#include "srformer/tokenizers/detail/unicode.hpp"

namespace srformer::tokenizers::detail {

/// Standard base64 (RFC 4648, '=' padding optional). Throws FormatError naming `what`.
inline std::string base64_decode(std::string_view encoded, const std::string& what) {
  const auto value_of = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(encoded.size() * 3 / 4);
  std::uint32_t buffer = 0;
  int bits = 0;
  std::size_t i = 0;
  for (; i < encoded.size() && encoded[i] != '='; ++i) {
    const int value = value_of(encoded[i]);
    if (value < 0) throw FormatError(what + ": invalid base64 character at offset " + std::to_string(i));
    buffer = (buffer << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  for (; i < encoded.size(); ++i)
    if (encoded[i] != '=') throw FormatError(what + ": base64 data continues after '=' padding");
  return out;
}

class PrecompiledCharsmap {
 public:
  PrecompiledCharsmap() = default;

  /// `data`: the decoded charsmap; `what` names it in error messages. Empty data
  /// is the identity map.
  PrecompiledCharsmap(std::string_view data, std::string what) : what_(std::move(what)) {
    if (data.empty()) return;
    if (data.size() < 4) throw FormatError(what_ + ": precompiled charsmap shorter than its 4-byte header");
    const std::uint32_t trie_bytes = read_u32(data, 0);
    if (trie_bytes % 4 != 0 || trie_bytes == 0 || trie_bytes > data.size() - 4)
      throw FormatError(what_ + ": precompiled charsmap declares a trie of " + std::to_string(trie_bytes) +
                        " bytes but holds " + std::to_string(data.size() - 4));
    units_.resize(trie_bytes / 4);
    for (std::size_t i = 0; i < units_.size(); ++i) units_[i] = read_u32(data, 4 + 4 * i);
    replacements_ = std::string(data.substr(4 + trie_bytes));
  }

  bool empty() const { return units_.empty(); }

  /// Normalises well-formed UTF-8 `text`.
  std::string normalize(std::string_view text) const {
    if (empty()) return std::string(text);
    std::string out;
    out.reserve(text.size());
    const std::vector<std::size_t> boundaries = grapheme_boundaries(text);
    for (std::size_t g = 0; g + 1 < boundaries.size(); ++g) {
      const std::string_view cluster = text.substr(boundaries[g], boundaries[g + 1] - boundaries[g]);
      if (cluster.size() < 6) {
        std::string_view replacement;
        if (shortest_match(cluster, replacement)) {
          out += replacement;
          continue;
        }
      }
      for (std::size_t pos = 0; pos < cluster.size();) {
        std::size_t length = utf8_sequence_length(cluster, pos);
        if (length == 0) length = 1;
        const std::string_view character = cluster.substr(pos, length);
        std::string_view replacement;
        if (shortest_match(character, replacement)) out += replacement;
        else out += character;
        pos += length;
      }
    }
    return out;
  }

 private:
  static std::uint32_t read_u32(std::string_view data, std::size_t offset) {
    const auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(data[offset + i])); };
    return byte(0) | (byte(1) << 8) | (byte(2) << 16) | (byte(3) << 24);
  }

  // darts-clone unit fields
  static bool has_leaf(std::uint32_t unit) { return ((unit >> 8) & 1) != 0; }
  static std::uint32_t value(std::uint32_t unit) { return unit & ((1U << 31) - 1); }
  static std::uint32_t label(std::uint32_t unit) { return unit & ((1U << 31) | 0xFF); }
  static std::uint32_t offset(std::uint32_t unit) { return (unit >> 10) << ((unit & (1U << 9)) >> 6); }

  std::uint32_t unit_at(std::size_t pos) const {
    if (pos >= units_.size()) throw FormatError(what_ + ": precompiled charsmap trie is corrupt (index out of range)");
    return units_[pos];
  }

  /// The replacement of the shortest key that is a prefix of `key`.
  bool shortest_match(std::string_view key, std::string_view& replacement) const {
    std::size_t node = offset(unit_at(0));
    for (const char c : key) {
      const auto byte = static_cast<unsigned char>(c);
      node ^= byte;
      const std::uint32_t unit = unit_at(node);
      if (label(unit) != byte) return false;
      node ^= offset(unit);
      if (has_leaf(unit)) {
        const std::size_t start = value(unit_at(node));
        if (start >= replacements_.size())
          throw FormatError(what_ + ": precompiled charsmap points past its replacement strings");
        const std::size_t stop = replacements_.find('\0', start);
        replacement = std::string_view(replacements_).substr(start, stop == std::string::npos ? std::string::npos : stop - start);
        return true;
      }
    }
    return false;
  }

  std::string what_;
  std::vector<std::uint32_t> units_;
  std::string replacements_;
};

}  // namespace srformer::tokenizers::detail
