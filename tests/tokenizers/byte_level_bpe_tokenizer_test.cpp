// BART/RoBERTa byte-level BPE against HF tokenizers 0.23 goldens
// (tests/data/tokenizers/bart/golden.json: ids, tokens, decoded text).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "srformer/tokenizers/byte_level_bpe_tokenizer.hpp"
#include "srformer/tokenizers/detail/byte_level.hpp"
#include "support/scratch_dir.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using srformer::ByteLevelBpeTokenizer;
using srformer::TokenId;

const fs::path kBartDir = fs::path(SRFORMER_TEST_DATA_DIR) / "tokenizers" / "bart";

json read_json(const fs::path& file) {
  std::ifstream in(file);
  return json::parse(in);
}

const ByteLevelBpeTokenizer& bart() {
  static const ByteLevelBpeTokenizer tokenizer(kBartDir / "vocab.json", kBartDir / "merges.txt");
  return tokenizer;
}

// Strips the <s> ... </s> that RobertaProcessing adds around the golden tokens.
std::vector<std::string> inner_tokens(const json& golden_case) {
  auto tokens = golden_case.at("tokens").get<std::vector<std::string>>();
  EXPECT_GE(tokens.size(), 2u);
  EXPECT_EQ(tokens.front(), "<s>");
  EXPECT_EQ(tokens.back(), "</s>");
  return std::vector<std::string>(tokens.begin() + 1, tokens.end() - 1);
}

void expect_matches_golden(const srformer::Tokenizer& tokenizer, const json& golden) {
  const auto& texts = golden.at("texts");
  const auto& cases = golden.at("cases");
  ASSERT_EQ(texts.size(), 14u);
  ASSERT_EQ(cases.size(), texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    SCOPED_TRACE("text " + std::to_string(i) + ": " + texts[i].get<std::string>());
    const std::string text = texts[i].get<std::string>();
    const auto expected_ids = cases[i].at("ids").get<std::vector<TokenId>>();
    EXPECT_EQ(tokenizer.encode(text), expected_ids);
    EXPECT_EQ(tokenizer.tokenize(text), inner_tokens(cases[i]));
    EXPECT_EQ(tokenizer.decode(expected_ids), cases[i].at("decoded").get<std::string>());
  }
}

TEST(ByteLevelBpeTokenizer, MatchesHuggingFaceGoldens) {
  expect_matches_golden(bart(), read_json(kBartDir / "golden.json"));
}

TEST(ByteLevelBpeTokenizer, SpecialIdsAndFraming) {
  const auto& tokenizer = bart();
  EXPECT_EQ(tokenizer.vocab_size(), 50265);
  EXPECT_EQ(tokenizer.bos_id(), 0);
  EXPECT_EQ(tokenizer.pad_id(), 1);
  EXPECT_EQ(tokenizer.eos_id(), 2);
  EXPECT_EQ(tokenizer.unk_id(), 3);
  EXPECT_EQ(tokenizer.prefix_ids(), std::vector<TokenId>{0});
  EXPECT_EQ(tokenizer.suffix_ids(), std::vector<TokenId>{2});
  EXPECT_TRUE(tokenizer.is_special(50264));  // <mask>
  EXPECT_FALSE(tokenizer.is_special(31414));  // "Hello"
  EXPECT_EQ(tokenizer.id_to_token(232), "\xC4\xA0world");  // "Ġworld"
  // Special tokens are kept when not skipped.
  EXPECT_EQ(tokenizer.decode({0, 31414, 232, 2}, false), "<s>Hello world</s>");
}

TEST(ByteLevelBpeTokenizer, RoundTripIsLossless) {
  const std::vector<std::string> texts = {
      "Hello world!",
      "  two  leading, trailing  \t\n\r\n",
      "Caf\xC3\xA9 na\xC3\xAFve \xE2\x80\x94 \xE2\x80\x9Cquotes\xE2\x80\x9D",
      "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\x86\xE3\x82\xAD\xE3\x82\xB9\xE3\x83\x88",
      "emoji \xF0\x9F\x98\x80\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD zwj \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9",
      "control \x01\x02\x7F and nul-free \xC2\xA0nbsp\xE3\x80\x80ideographic space",
      "they'll've it's I'M 'quoted' '' '''",
      "12345678901234567890 x\xC2\xB2 \xE2\x85\xA0\xE2\x85\xA1 \xD9\xA3\xD9\xA4",
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
  };
  for (const auto& text : texts) {
    SCOPED_TRACE(text);
    EXPECT_EQ(bart().decode(bart().encode(text)), text);
  }
}

TEST(ByteLevelBpeTokenizer, TruncationKeepsFraming) {
  const std::string text = "The quick brown fox jumps over the lazy dog.";
  const auto full = bart().encode(text);
  ASSERT_EQ(full.size(), 12u);
  const auto cut = bart().encode(text, 5);
  EXPECT_EQ(cut, (std::vector<TokenId>{0, full[1], full[2], full[3], 2}));
  EXPECT_EQ(bart().encode(text, 2), (std::vector<TokenId>{0, 2}));
  EXPECT_EQ(bart().encode(text, 100), full);
  EXPECT_THROW(bart().encode(text, 1), srformer::InputError);
}

TEST(ByteLevelBpeTokenizer, InvalidUtf8InputNamesTheByteOffset) {
  try {
    bart().encode(std::string("ok \xC3\x28 bad"));
    FAIL() << "expected TokenizerError";
  } catch (const srformer::TokenizerError& e) {
    EXPECT_NE(std::string(e.what()).find("byte offset 3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(bart().encode(std::string("\xED\xA0\x80")), srformer::TokenizerError);  // surrogate
  EXPECT_THROW(bart().encode(std::string("\xC0\xAF")), srformer::TokenizerError);      // overlong
  EXPECT_THROW(bart().tokenize(std::string("tail \xE2\x82")), srformer::TokenizerError);
}

TEST(ByteLevelBpeTokenizer, DecodeRepairsInvalidUtf8AndRejectsBadIds) {
  // "ðŁĺ" + "Ģ" is U+1F600; the first half alone is an incomplete sequence.
  const auto ids = bart().encode_text("\xF0\x9F\x98\x80");
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(bart().decode({ids[0]}), "\xEF\xBF\xBD");
  EXPECT_EQ(bart().decode({ids[1], 31414}), "\xEF\xBF\xBDHello");
  EXPECT_THROW(bart().decode({-1}), srformer::InputError);
  EXPECT_THROW(bart().decode({50265}), srformer::InputError);
}

TEST(ByteLevelBpeTokenizer, Gpt2PatternSplitsLikeTheRegex) {
  using srformer::tokenizers::detail::gpt2_split;
  const auto split = [](const std::string& text) {
    std::vector<std::string> out;
    for (const auto piece : gpt2_split(text)) out.emplace_back(piece);
    return out;
  };
  // A contraction needs the apostrophe at the match start; " '" is punctuation.
  EXPECT_EQ(split("I'm here's 're"), (std::vector<std::string>{"I", "'m", " here", "'s", " '", "re"}));
  EXPECT_EQ(split("a  b   "), (std::vector<std::string>{"a", " ", " b", "   "}));
  EXPECT_EQ(split("x\t\ty"), (std::vector<std::string>{"x", "\t", "\t", "y"}));  // only " " prefixes a word
  EXPECT_EQ(split("abc123 456!!? ?"), (std::vector<std::string>{"abc", "123", " 456", "!!?", " ?"}));
  // Letters and digits beyond ASCII: Cyrillic letters, Arabic-Indic digits, superscript two (No).
  EXPECT_EQ(split("\xD0\xBC\xD0\xB8\xD1\x80 \xD9\xA3\xD9\xA4x\xC2\xB2"),
            (std::vector<std::string>{"\xD0\xBC\xD0\xB8\xD1\x80", " \xD9\xA3\xD9\xA4", "x", "\xC2\xB2"}));
  // A no-break space is white space but not " ", so it does not prefix the word.
  EXPECT_EQ(split("a\xC2\xA0" "b"), (std::vector<std::string>{"a", "\xC2\xA0", "b"}));
  EXPECT_EQ(split(""), std::vector<std::string>{});
}

// The tokenizer.json route: the same model written as HF serialises a
// BartTokenizerFast (here with <mask> lstrip=true, as in facebook/bart-large).
TEST(ByteLevelBpeTokenizer, LoadsTokenizerJsonWithAddedTokenOptions) {
  const json vocab = read_json(kBartDir / "vocab.json");
  json merges = json::array();
  {
    std::ifstream in(kBartDir / "merges.txt");
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("#version", 0) != 0) merges.push_back(line);
  }
  const auto added = [](int id, const char* content, bool lstrip) {
    return json{{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", lstrip},
                {"rstrip", false}, {"normalized", false}, {"special", true}};
  };
  const json root = {
      {"version", "1.0"},
      {"added_tokens", {added(0, "<s>", false), added(1, "<pad>", false), added(2, "</s>", false),
                        added(3, "<unk>", false), added(50264, "<mask>", true)}},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}},
      {"post_processor", {{"type", "RobertaProcessing"}, {"sep", {"</s>", 2}}, {"cls", {"<s>", 0}},
                          {"trim_offsets", true}, {"add_prefix_space", false}}},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", ""},
                 {"end_of_word_suffix", ""}, {"fuse_unk", false}, {"byte_fallback", false}, {"vocab", vocab},
                 {"merges", merges}}},
  };
  const ByteLevelBpeTokenizer from_json(root, "in-memory tokenizer.json");
  const json golden = read_json(kBartDir / "golden.json");
  // Every golden text without "<mask>" tokenises identically through this route.
  for (std::size_t i = 0; i < golden.at("texts").size(); ++i) {
    const std::string text = golden["texts"][i].get<std::string>();
    if (text.find("<mask>") != std::string::npos) continue;
    EXPECT_EQ(from_json.encode(text), golden["cases"][i]["ids"].get<std::vector<TokenId>>()) << text;
  }
  // lstrip: the space before <mask> is absorbed into it instead of becoming "Ġ".
  EXPECT_EQ(from_json.encode("Hello <mask>!"), (std::vector<TokenId>{0, 31414, 50264, 328, 2}));
  EXPECT_EQ(bart().encode("Hello <mask>!"), (std::vector<TokenId>{0, 31414, 1437, 50264, 328, 2}));
}

TEST(ByteLevelBpeTokenizer, BadFilesAreFormatErrors) {
  const srformer::test::ScratchDir scratch("bpe_bad_files");
  const fs::path& dir = scratch.path();
  {
    std::ofstream(dir / "vocab.json") << R"({"a": 0, "b": 1, "ab": 2})";
    std::ofstream(dir / "merges.txt") << "#version: 0.2\na b\na c\n";
  }
  try {
    ByteLevelBpeTokenizer(dir / "vocab.json", dir / "merges.txt");
    FAIL() << "expected FormatError";
  } catch (const srformer::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("merges.txt"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'a' 'c'"), std::string::npos) << e.what();
  }
  std::ofstream(dir / "merges.txt") << "#version: 0.2\na b c\n";
  EXPECT_THROW(ByteLevelBpeTokenizer(dir / "vocab.json", dir / "merges.txt"), srformer::FormatError);
  std::ofstream(dir / "vocab.json") << R"({"a": 0, "b": )";
  EXPECT_THROW(ByteLevelBpeTokenizer(dir / "vocab.json", dir / "merges.txt"), srformer::FormatError);
  EXPECT_THROW(ByteLevelBpeTokenizer(dir / "missing.json", dir / "merges.txt"), srformer::FormatError);
}

TEST(ByteLevelBpeTokenizer, MergesByRankOnASmallVocabulary) {
  const srformer::test::ScratchDir scratch("bpe_small");
  const fs::path& dir = scratch.path();
  // Ranks: "b c" before "a b", so "abc" -> a + bc (not ab + c).
  std::ofstream(dir / "vocab.json") << R"({"a": 0, "b": 1, "c": 2, "ab": 3, "bc": 4, "abc": 5, "aa": 6, "aaaa": 7})";
  std::ofstream(dir / "merges.txt") << "#version: 0.2\nb c\na b\naa aa\na a\n";
  const ByteLevelBpeTokenizer small(dir / "vocab.json", dir / "merges.txt");
  EXPECT_EQ(small.encode_text("abc"), (std::vector<TokenId>{0, 4}));
  EXPECT_EQ(small.encode_text("ab"), (std::vector<TokenId>{3}));
  // "a a" merges pairwise from the left, then "aa aa".
  EXPECT_EQ(small.encode_text("aaaaa"), (std::vector<TokenId>{7, 0}));
  EXPECT_EQ(small.vocab_size(), 8);
  EXPECT_EQ(small.bos_id(), -1);
  EXPECT_EQ(small.encode("ab"), std::vector<TokenId>{3});  // no <s>/</s> in this vocabulary
  // A byte with no token and no <unk>: a clear error.
  EXPECT_THROW(small.encode_text("d"), srformer::TokenizerError);
}

}  // namespace
