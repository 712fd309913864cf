#pragma once
// UTF-8 validation, decoding and encoding for the tokenizers. Input text must be
// well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, nothing above
// U+10FFFF); decoded bytes that are not (byte-level BPE can produce any bytes)
// are repaired the way Rust's String::from_utf8_lossy does it, which is what
// HuggingFace tokenizers returns.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "srformer/core/error.hpp"

namespace srformer::tokenizers::detail {

/// Length of the well-formed UTF-8 sequence that starts at `pos`, or 0 when the
/// bytes there are not one.
inline std::size_t utf8_sequence_length(std::string_view text, std::size_t pos) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(pos);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char second_min = 0x80, second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) second_min = 0xA0;  // overlong
    if (lead == 0xED) second_max = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) second_min = 0x90;  // overlong
    if (lead == 0xF4) second_max = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (pos + length > text.size()) return 0;
  if (byte(pos + 1) < second_min || byte(pos + 1) > second_max) return 0;
  for (std::size_t i = 2; i < length; ++i)
    if ((byte(pos + i) & 0xC0) != 0x80) return 0;
  return length;
}

/// The code point of the well-formed sequence of `length` bytes at `pos`.
inline char32_t decode_utf8(std::string_view text, std::size_t pos, std::size_t length) {
  const auto byte = [&](std::size_t i) { return static_cast<char32_t>(static_cast<unsigned char>(text[pos + i])); };
  switch (length) {
    case 1: return byte(0);
    case 2: return ((byte(0) & 0x1F) << 6) | (byte(1) & 0x3F);
    case 3: return ((byte(0) & 0x0F) << 12) | ((byte(1) & 0x3F) << 6) | (byte(2) & 0x3F);
    default:
      return ((byte(0) & 0x07) << 18) | ((byte(1) & 0x3F) << 12) | ((byte(2) & 0x3F) << 6) | (byte(3) & 0x3F);
  }
}

inline void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

inline bool is_valid_utf8(std::string_view text) {
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t length = utf8_sequence_length(text, pos);
    if (length == 0) return false;
    pos += length;
  }
  return true;
}

/// Throws TokenizerError naming the byte offset of the first ill-formed sequence.
inline void require_valid_utf8(std::string_view text) {
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t length = utf8_sequence_length(text, pos);
    if (length == 0) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned>(static_cast<unsigned char>(text[pos])));
      throw TokenizerError("input text is not valid UTF-8: ill-formed sequence at byte offset " +
                           std::to_string(pos) + " (byte " + hex + ")");
    }
    pos += length;
  }
}

/// Decodes bytes as UTF-8, replacing each maximal ill-formed subpart with U+FFFD
/// (the Unicode-recommended practice that from_utf8_lossy follows).
inline std::string utf8_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (std::size_t pos = 0; pos < bytes.size();) {
    const std::size_t length = utf8_sequence_length(bytes, pos);
    if (length > 0) {
      out.append(bytes.substr(pos, length));
      pos += length;
      continue;
    }
    // Skip the lead byte and every continuation byte that could still have
    // completed a well-formed sequence.
    const unsigned char lead = static_cast<unsigned char>(bytes[pos]);
    std::size_t expected = 0;
    unsigned char second_min = 0x80, second_max = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) expected = 2;
    else if (lead >= 0xE0 && lead <= 0xEF) expected = 3, second_min = lead == 0xE0 ? 0xA0 : 0x80,
                                           second_max = lead == 0xED ? 0x9F : 0xBF;
    else if (lead >= 0xF0 && lead <= 0xF4) expected = 4, second_min = lead == 0xF0 ? 0x90 : 0x80,
                                           second_max = lead == 0xF4 ? 0x8F : 0xBF;
    std::size_t consumed = 1;
    for (std::size_t i = 1; i < expected && pos + i < bytes.size(); ++i) {
      const unsigned char b = static_cast<unsigned char>(bytes[pos + i]);
      const bool ok = i == 1 ? (b >= second_min && b <= second_max) : (b & 0xC0) == 0x80;
      if (!ok) break;
      consumed = i + 1;
    }
    out += "\xEF\xBF\xBD";
    pos += consumed;
  }
  return out;
}

/// Calls `visit(code_point, byte_offset, byte_length)` for each character of
/// well-formed UTF-8 `text`.
template <typename Visitor>
void for_each_code_point(std::string_view text, Visitor&& visit) {
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t length = utf8_sequence_length(text, pos);
    if (length == 0) length = 1;  // callers validate first; never loop forever
    visit(decode_utf8(text, pos, length), pos, length);
    pos += length;
  }
}

}  // namespace srformer::tokenizers::detail
