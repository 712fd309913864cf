#pragma once
// Quoting text that came from a file or a user in an error message. Such text may
// hold terminal control sequences (ESC [ 2 J clears the screen, OSC retitles the
// window), invalid UTF-8 or megabytes of data; a message must show it safely and
// briefly. printable() keeps printable UTF-8 as it is and writes every other byte
// as \xNN; quote() also cuts long text and puts it in single quotes.
#include <cstddef>
#include <string>
#include <string_view>

namespace srformer {

namespace detail {

/// Length of the well-formed UTF-8 sequence at text[i] that encodes a printable
/// character (not C0/C1 control, not DEL, not a surrogate), or 0.
inline std::size_t printable_utf8_length(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead >= 0x20 && lead < 0x7F) return 1;
  std::size_t length = 0;
  char32_t code = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    code = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    code = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    code = lead & 0x07;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    code = (code << 6) | (byte(i + k) & 0x3F);
  }
  const char32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code < smallest[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
  if (code >= 0x80 && code <= 0x9F) return 0;  // C1 controls: U+009B is a CSI on some terminals
  return length;
}

/// `position` moved back to the start of the UTF-8 character it falls in (at most 3
/// continuation bytes), so that cutting `text` there splits no character.
inline std::size_t character_start_at_or_before(std::string_view text, std::size_t position) {
  for (int back = 0; back < 3 && position > 0 && position < text.size() &&
                     (static_cast<unsigned char>(text[position]) & 0xC0) == 0x80;
       ++back)
    --position;
  return position;
}

}  // namespace detail

/// `text` with every byte that is not part of a printable UTF-8 character written as
/// \xNN (and, unless told otherwise, a backslash as \\, so that the escapes are
/// unambiguous), so that it can be printed to a terminal or a log.
inline std::string printable(std::string_view text, bool escape_backslash = true) {
  static const char* const kHex = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    if (escape_backslash && text[i] == '\\') {
      out += "\\\\";
      ++i;
      continue;
    }
    if (const std::size_t length = detail::printable_utf8_length(text, i)) {
      out.append(text.substr(i, length));
      i += length;
      continue;
    }
    const auto byte = static_cast<unsigned char>(text[i++]);
    out += "\\x";
    out += kHex[byte >> 4];
    out += kHex[byte & 0x0F];
  }
  return out;
}

/// printable(text) in single quotes, cut to about `max_bytes` bytes of the original
/// (at a character boundary) with the number of bytes left out.
inline std::string quote(std::string_view text, std::size_t max_bytes = 200) {
  if (text.size() <= max_bytes) return "'" + printable(text) + "'";
  const std::size_t cut = detail::character_start_at_or_before(text, max_bytes);
  return "'" + printable(text.substr(0, cut)) + "'... (" + std::to_string(text.size() - cut) + " more bytes)";
}

}  // namespace srformer
