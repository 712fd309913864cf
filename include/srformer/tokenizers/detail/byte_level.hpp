#pragma once
// GPT-2's byte-level pre-tokenisation (used by RoBERTa and BART):
//  - the text is cut by the pattern
//      's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//    matched here by hand (leftmost match, alternatives in order, greedy) with
//    Unicode letter/number/white-space classes;
//  - each piece's UTF-8 bytes are written with GPT-2's printable byte alphabet
//    (printable Latin-1 bytes stand for themselves, the other 68 bytes for
//    U+0100..U+0143), so that BPE works on strings without spaces or controls.
#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "srformer/tokenizers/detail/unicode.hpp"
#include "srformer/tokenizers/detail/utf8.hpp"

namespace srformer::tokenizers::detail {

class ByteAlphabet {
 public:
  ByteAlphabet() {
    char32_t next_extra = 0x100;
    for (unsigned byte = 0; byte < 256; ++byte) {
      const bool printable = (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) || byte >= 0xAE;
      const char32_t c = printable ? byte : next_extra++;
      std::string encoded;
      append_utf8(encoded, c);
      to_char_[byte] = encoded;
      to_byte_.emplace(c, static_cast<unsigned char>(byte));
    }
  }

  /// The alphabet spelling of raw bytes.
  std::string encode(std::string_view bytes) const {
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const char b : bytes) out += to_char_[static_cast<unsigned char>(b)];
    return out;
  }

  /// HF ByteLevel decoder for one token: its bytes when every character is in
  /// the alphabet, else the token's own UTF-8 (e.g. an added token).
  std::string decode_token(std::string_view token) const {
    std::string bytes;
    bool all_mapped = true;
    for_each_code_point(token, [&](char32_t c, std::size_t, std::size_t) {
      const auto it = to_byte_.find(c);
      if (it == to_byte_.end()) all_mapped = false;
      else bytes += static_cast<char>(it->second);
    });
    return all_mapped ? bytes : std::string(token);
  }

  static const ByteAlphabet& instance() {
    static const ByteAlphabet alphabet;
    return alphabet;
  }

 private:
  std::array<std::string, 256> to_char_;
  std::unordered_map<char32_t, unsigned char> to_byte_;
};

/// Splits well-formed UTF-8 `text` into the pieces of the GPT-2 pattern.
inline std::vector<std::string_view> gpt2_split(std::string_view text) {
  std::vector<char32_t> chars;
  std::vector<std::size_t> offsets;
  for_each_code_point(text, [&](char32_t c, std::size_t offset, std::size_t) {
    chars.push_back(c);
    offsets.push_back(offset);
  });
  offsets.push_back(text.size());
  const std::size_t n = chars.size();
  // End of the run of characters satisfying `in_class` that starts at i.
  const auto run_end = [&](std::size_t i, auto&& in_class) {
    while (i < n && in_class(chars[i])) ++i;
    return i;
  };

  std::vector<std::string_view> pieces;
  for (std::size_t i = 0; i < n;) {
    const char32_t c = chars[i];
    std::size_t end = i;
    // 's 't 're 've 'm 'll 'd
    if (c == U'\'' && i + 1 < n) {
      const char32_t a = chars[i + 1];
      if (a == U's' || a == U't' || a == U'm' || a == U'd') {
        end = i + 2;
      } else if (i + 2 < n) {
        const char32_t b = chars[i + 2];
        if ((a == U'r' && b == U'e') || (a == U'v' && b == U'e') || (a == U'l' && b == U'l')) end = i + 3;
      }
    }
    // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+' in that order
    if (end == i) {
      bool (*const classes[])(char32_t) = {
          [](char32_t x) { return is_letter(x); },
          [](char32_t x) { return is_number(x); },
          [](char32_t x) { return !is_white_space(x) && !is_letter(x) && !is_number(x); }};
      for (const auto in_class : classes) {
        const std::size_t first = (c == U' ' && i + 1 < n && in_class(chars[i + 1])) ? i + 1 : i;
        if (in_class(chars[first])) {
          end = run_end(first, in_class);
          break;
        }
      }
    }
    // \s+(?!\S) then \s+
    if (end == i && is_white_space(c)) {
      const std::size_t run = run_end(i, [](char32_t x) { return is_white_space(x); });
      if (run == n || run - 1 == i) end = run;  // to the end, or a lone space before text
      else end = run - 1;                       // leave the last one to prefix the next word
    }
    if (end == i) end = i + 1;  // unreachable: every character is in one class
    pieces.push_back(text.substr(offsets[i], offsets[end] - offsets[i]));
    i = end;
  }
  return pieces;
}

}  // namespace srformer::tokenizers::detail
