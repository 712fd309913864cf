// The generated Unicode table, grapheme clusters (UAX #29) and UTF-8 handling
// used by the tokenizers.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "srformer/tokenizers/detail/unicode.hpp"
#include "srformer/tokenizers/detail/utf8.hpp"

namespace {

namespace d = srformer::tokenizers::detail;

std::vector<std::string> clusters(const std::string& text) {
  const auto bounds = d::grapheme_boundaries(text);
  std::vector<std::string> out;
  for (std::size_t i = 0; i + 1 < bounds.size(); ++i) out.push_back(text.substr(bounds[i], bounds[i + 1] - bounds[i]));
  return out;
}

TEST(Unicode, CharacterClasses) {
  EXPECT_TRUE(d::is_letter(U'a'));
  EXPECT_TRUE(d::is_letter(U'\u00E9'));    // é
  EXPECT_TRUE(d::is_letter(U'\u65E5'));    // 日 (Lo)
  EXPECT_TRUE(d::is_letter(U'\u02B0'));    // modifier letter (Lm)
  EXPECT_FALSE(d::is_letter(U'\u0301'));   // combining mark (Mn)
  EXPECT_FALSE(d::is_letter(U'_'));
  EXPECT_TRUE(d::is_number(U'7'));
  EXPECT_TRUE(d::is_number(U'\u00B2'));    // superscript two (No)
  EXPECT_TRUE(d::is_number(U'\u2160'));    // Roman numeral one (Nl)
  EXPECT_TRUE(d::is_number(U'\u0663'));    // Arabic-Indic three (Nd)
  EXPECT_FALSE(d::is_number(U'x'));
  for (const char32_t c : {U'\t', U'\n', U'\v', U'\f', U'\r', U' ', U'\u0085', U'\u00A0', U'\u1680', U'\u2000',
                           U'\u200A', U'\u2028', U'\u2029', U'\u202F', U'\u205F', U'\u3000'})
    EXPECT_TRUE(d::is_white_space(c)) << static_cast<unsigned>(c);
  for (const char32_t c : {U'\u200B', U'\u001C', U'\u180E', U'a', U'\uFEFF'})
    EXPECT_FALSE(d::is_white_space(c)) << static_cast<unsigned>(c);
  EXPECT_FALSE(d::is_letter(U'\U0010FFFF'));
  EXPECT_STREQ(d::kUnicodeVersion, "15.0.0");
}

TEST(Unicode, GraphemeClusters) {
  EXPECT_EQ(clusters("ab"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(clusters("e\xCC\x81x"), (std::vector<std::string>{"e\xCC\x81", "x"}));  // e + combining acute
  EXPECT_EQ(clusters("\r\n\n"), (std::vector<std::string>{"\r\n", "\n"}));
  // thumbs up + skin tone; man ZWJ woman; two flags (regional indicator pairs)
  EXPECT_EQ(clusters("\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD"), std::vector<std::string>{"\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD"});
  EXPECT_EQ(clusters("\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9"),
            std::vector<std::string>{"\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9"});
  EXPECT_EQ(clusters("\xF0\x9F\x87\xAF\xF0\x9F\x87\xB5\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7"),
            (std::vector<std::string>{"\xF0\x9F\x87\xAF\xF0\x9F\x87\xB5", "\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7"}));
  // Hangul jamo L V T compose one syllable cluster; a precomposed LV + T too.
  EXPECT_EQ(clusters("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8"), std::vector<std::string>{"\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8"});
  EXPECT_EQ(clusters("\xEA\xB0\x80\xE1\x86\xA8" "a"), (std::vector<std::string>{"\xEA\xB0\x80\xE1\x86\xA8", "a"}));
  // Devanagari consonant + spacing vowel sign (SpacingMark)
  EXPECT_EQ(clusters("\xE0\xA4\x95\xE0\xA4\xBE"), std::vector<std::string>{"\xE0\xA4\x95\xE0\xA4\xBE"});
  // A ZWJ without a pictograph before it does not join the next pictograph.
  EXPECT_EQ(clusters("a\xE2\x80\x8D\xF0\x9F\x91\xA9"), (std::vector<std::string>{"a\xE2\x80\x8D", "\xF0\x9F\x91\xA9"}));
  EXPECT_EQ(clusters(""), std::vector<std::string>{});
}

TEST(Utf8, ValidationNamesTheOffset) {
  EXPECT_NO_THROW(d::require_valid_utf8("plain \xC3\xA9 \xF0\x9F\x98\x80"));
  const std::vector<std::pair<std::string, std::size_t>> bad = {
      {"\x80", 0}, {"ab\xC3", 2}, {"a\xC0\x80", 1}, {"\xE0\x80\x80", 0}, {"x\xED\xA0\x80", 1},
      {"\xF4\x90\x80\x80", 0}, {"\xF8\x88\x80\x80\x80", 0}, {"ok\xE2\x82z", 2}};
  for (const auto& [text, offset] : bad) {
    try {
      d::require_valid_utf8(text);
      ADD_FAILURE() << "accepted ill-formed input at " << offset;
    } catch (const srformer::TokenizerError& e) {
      EXPECT_NE(std::string(e.what()).find("byte offset " + std::to_string(offset) + " "), std::string::npos) << e.what();
    }
  }
}

TEST(Utf8, LossyDecodingReplacesMaximalSubparts) {
  EXPECT_EQ(d::utf8_lossy("ok"), "ok");
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(d::utf8_lossy("a\xF0\x9F\x98"), "a" + fffd);             // truncated 4-byte sequence: one U+FFFD
  EXPECT_EQ(d::utf8_lossy("\x80\x80"), fffd + fffd);                 // each stray continuation byte
  EXPECT_EQ(d::utf8_lossy("\xE0\x80\x80"), fffd + fffd + fffd);      // overlong: lead cannot continue
  EXPECT_EQ(d::utf8_lossy("\xED\xA0\x80"), fffd + fffd + fffd);      // surrogate
  EXPECT_EQ(d::utf8_lossy("\xE2\x82z\xC3\xA9"), fffd + "z\xC3\xA9");
}

}  // namespace
