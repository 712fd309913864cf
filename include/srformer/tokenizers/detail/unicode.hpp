#pragma once
// Character properties (letter, number, white space) and extended grapheme
// clusters (UAX #29), from the generated table in unicode_tables.hpp.
//
// Why a generated table rather than ICU: the library stays free of a new link
// dependency, and ~2,300 runs (35 KB of source) hold everything needed. The
// table is Unicode 15.0 (ICU 72); HuggingFace tokenizers uses Oniguruma and the
// unicode-segmentation crate, whose Unicode versions may be a little newer:
// results can differ only for characters assigned after 15.0. Grapheme rule
// GB9c (Unicode 15.1, Indic conjuncts) is absent; it cannot change a
// Precompiled normalisation, since such clusters are always >= 6 bytes and are
// normalised per character either way.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "srformer/tokenizers/detail/unicode_tables.hpp"
#include "srformer/tokenizers/detail/utf8.hpp"

namespace srformer::tokenizers::detail {

enum class GraphemeBreak : std::uint8_t {
  kOther, kCR, kLF, kControl, kExtend, kZWJ, kRegionalIndicator, kPrepend, kSpacingMark,
  kL, kV, kT, kLV, kLVT
};

inline std::uint8_t unicode_class(char32_t c) {
  const auto* end = kRunStarts + kRunCount;
  const auto* run = std::upper_bound(kRunStarts, end, static_cast<std::uint32_t>(c));
  return kRunClasses[run - kRunStarts - 1];  // kRunStarts[0] == 0, so run > kRunStarts
}

/// General_Category L* (what Oniguruma's \p{L} matches).
inline bool is_letter(char32_t c) { return (unicode_class(c) & 0x20) != 0; }
/// General_Category N* (\p{N}).
inline bool is_number(char32_t c) { return (unicode_class(c) & 0x40) != 0; }
/// White_Space (Oniguruma's \s and Rust's char::is_whitespace).
inline bool is_white_space(char32_t c) { return (unicode_class(c) & 0x80) != 0; }
inline bool is_extended_pictographic(char32_t c) { return (unicode_class(c) & 0x10) != 0; }

inline GraphemeBreak grapheme_break(char32_t c) {
  const unsigned value = unicode_class(c) & 0x0F;
  if (value == 12) {  // Hangul syllable: LV when it has no final consonant
    return (c - 0xAC00) % 28 == 0 ? GraphemeBreak::kLV : GraphemeBreak::kLVT;
  }
  return static_cast<GraphemeBreak>(value);
}

/// Byte offsets where the extended grapheme clusters of well-formed UTF-8 `text`
/// start, plus text.size() at the end (so cluster i is [result[i], result[i+1])).
inline std::vector<std::size_t> grapheme_boundaries(std::string_view text) {
  std::vector<char32_t> chars;
  std::vector<GraphemeBreak> breaks;
  std::vector<std::size_t> offsets;
  for_each_code_point(text, [&](char32_t c, std::size_t offset, std::size_t) {
    chars.push_back(c);
    breaks.push_back(grapheme_break(c));
    offsets.push_back(offset);
  });
  std::vector<std::size_t> boundaries;
  using B = GraphemeBreak;
  const auto is_control = [](B b) { return b == B::kControl || b == B::kCR || b == B::kLF; };
  for (std::size_t i = 0; i < chars.size(); ++i) {
    bool split = true;
    if (i > 0) {
      const B prev = breaks[i - 1], cur = breaks[i];
      if (prev == B::kCR && cur == B::kLF) {
        split = false;  // GB3
      } else if (is_control(prev) || is_control(cur)) {
        split = true;  // GB4, GB5
      } else if (prev == B::kL && (cur == B::kL || cur == B::kV || cur == B::kLV || cur == B::kLVT)) {
        split = false;  // GB6
      } else if ((prev == B::kLV || prev == B::kV) && (cur == B::kV || cur == B::kT)) {
        split = false;  // GB7
      } else if ((prev == B::kLVT || prev == B::kT) && cur == B::kT) {
        split = false;  // GB8
      } else if (cur == B::kExtend || cur == B::kZWJ || cur == B::kSpacingMark || prev == B::kPrepend) {
        split = false;  // GB9, GB9a, GB9b
      } else if (prev == B::kZWJ && is_extended_pictographic(chars[i])) {
        // GB11: ExtPict Extend* ZWJ x ExtPict
        std::size_t j = i - 1;
        while (j > 0 && breaks[j - 1] == B::kExtend) --j;
        split = !(j > 0 && is_extended_pictographic(chars[j - 1]));
      } else if (prev == B::kRegionalIndicator && cur == B::kRegionalIndicator) {
        // GB12, GB13: regional indicators pair up from the start of the run.
        std::size_t run = 0;
        for (std::size_t j = i; j > 0 && breaks[j - 1] == B::kRegionalIndicator; --j) ++run;
        split = run % 2 == 0;
      }
    }
    if (split) boundaries.push_back(offsets[i]);
  }
  boundaries.push_back(text.size());
  return boundaries;
}

}  // namespace srformer::tokenizers::detail
