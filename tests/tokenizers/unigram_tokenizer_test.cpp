// T5 tokenizer.json (Unigram) against HF tokenizers 0.23 goldens
// (tests/data/caikit-tiny-t5/golden.json), plus the Precompiled charsmap against
// SentencePiece's own normaliser.
#include <gtest/gtest.h>

#include <sentencepiece_processor.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "srformer/tokenizers/detail/hf_json.hpp"
#include "srformer/tokenizers/detail/precompiled_charsmap.hpp"
#include "srformer/tokenizers/unigram_tokenizer.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using srformer::TokenId;
using srformer::UnigramTokenizer;
namespace d = srformer::tokenizers::detail;

const fs::path kCaikitDir = fs::path(SRFORMER_TEST_DATA_DIR) / "caikit-tiny-t5";

json read_json(const fs::path& file) {
  std::ifstream in(file);
  return json::parse(in);
}

const UnigramTokenizer& caikit() {
  static const UnigramTokenizer tokenizer(kCaikitDir / "tokenizer.json");
  return tokenizer;
}

TEST(UnigramTokenizer, MatchesHuggingFaceGoldens) {
  const json golden = read_json(kCaikitDir / "golden.json");
  const auto& texts = golden.at("texts");
  const auto& cases = golden.at("tokenizer_cases");
  ASSERT_EQ(texts.size(), 14u);
  ASSERT_EQ(cases.size(), texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const std::string text = texts[i].get<std::string>();
    SCOPED_TRACE("text " + std::to_string(i) + ": " + text);
    const auto ids = cases[i].at("ids").get<std::vector<TokenId>>();
    auto tokens = cases[i].at("tokens").get<std::vector<std::string>>();
    EXPECT_EQ(caikit().encode(text), ids);
    ASSERT_FALSE(tokens.empty());
    EXPECT_EQ(tokens.back(), "</s>");
    tokens.pop_back();  // added by the post-processor, not part of tokenize()
    EXPECT_EQ(caikit().tokenize(text), tokens);
    EXPECT_EQ(caikit().decode(ids), cases[i].at("decoded").get<std::string>());
  }
}

TEST(UnigramTokenizer, SpecialIdsAndAddedTokens) {
  const UnigramTokenizer& tokenizer = caikit();
  EXPECT_EQ(tokenizer.vocab_size(), 1302);
  EXPECT_EQ(tokenizer.pad_id(), 0);
  EXPECT_EQ(tokenizer.eos_id(), 1);
  EXPECT_EQ(tokenizer.unk_id(), 2);
  EXPECT_EQ(tokenizer.bos_id(), -1);
  EXPECT_TRUE(tokenizer.prefix_ids().empty());
  EXPECT_EQ(tokenizer.suffix_ids(), std::vector<TokenId>{1});
  EXPECT_EQ(tokenizer.id_to_token(102), "<extra_id_0>");
  EXPECT_EQ(tokenizer.id_to_token(3), "<extra_id_99>");
  EXPECT_TRUE(tokenizer.is_special(102));
  EXPECT_TRUE(tokenizer.is_special(2));
  EXPECT_FALSE(tokenizer.is_special(103));
  // Sentinels in text become their ids; the words around them get their own "▁".
  EXPECT_EQ(tokenizer.tokenize("a<extra_id_1>a"), (std::vector<std::string>{"\xE2\x96\x81", "a", "<extra_id_1>",
                                                                             "\xE2\x96\x81", "a"}));
  EXPECT_EQ(tokenizer.decode(tokenizer.encode("a <extra_id_1> a"), false), "a<extra_id_1> a</s>");
  EXPECT_EQ(tokenizer.encode("Hello world!", 4), (std::vector<TokenId>{175, 285, 108, 1}));
}

TEST(UnigramTokenizer, RoundTripIsLossyOnlyWhereNormalisationIs) {
  const std::string plain = "The quick brown fox jumps over the lazy dog.";
  EXPECT_EQ(caikit().decode(caikit().encode(plain)), plain);
  // White space runs collapse; full-width letters fold to ASCII (NFKC).
  EXPECT_EQ(caikit().decode(caikit().encode(" the\t\tquick\n")), "the quick");
  EXPECT_EQ(caikit().decode(caikit().encode("\xEF\xBD\x94he")), "the");
  EXPECT_THROW(caikit().encode(std::string("\x80")), srformer::TokenizerError);
  EXPECT_THROW(caikit().decode({1302}), srformer::InputError);
}

// The charsmap of this tokenizer.json is SentencePiece's nmt_nfkc table, the
// same as in the t5-test-spm model: for every single code point (one grapheme,
// so HF's and SentencePiece's match rules agree) our reading of the darts trie
// must give what libsentencepiece's normaliser gives.
TEST(PrecompiledCharsmap, AgreesWithSentencePieceOnEveryCodePoint) {
  const json root = read_json(kCaikitDir / "tokenizer.json");
  const d::PrecompiledCharsmap charsmap(
      d::base64_decode(root["normalizer"]["precompiled_charsmap"].get<std::string>(), "charsmap"), "charsmap");
  sentencepiece::SentencePieceProcessor sp;
  ASSERT_TRUE(sp.Load((fs::path(SRFORMER_TEST_DATA_DIR) / "tokenizers" / "t5-test-spm" / "spiece.model").string()).ok());
  // SentencePiece also trims and collapses spaces and writes them as "▁".
  const auto as_spm_output = [](const std::string& text) {
    std::string out;
    bool pending_space = false;
    for (const char c : text) {
      if (c == ' ') {
        pending_space = !out.empty();
        continue;
      }
      if (pending_space) out += "\xE2\x96\x81";
      pending_space = false;
      out += c;
    }
    return out.empty() ? out : "\xE2\x96\x81" + out;
  };
  int changed = 0, mismatches = 0;
  for (char32_t c = 1; c < 0x30000; ++c) {
    if (c >= 0xD800 && c < 0xE000) continue;
    std::string text;
    d::append_utf8(text, c);
    const std::string ours = charsmap.normalize(text);
    if (ours != text) ++changed;
    std::string theirs;
    const auto encoded = sp.EncodeAsImmutableProto(text);  // pieces() points into it
    for (const auto& piece : encoded.pieces()) theirs += piece.piece();
    if (theirs != as_spm_output(ours) && ++mismatches <= 5)
      ADD_FAILURE() << "U+" << std::hex << static_cast<unsigned>(c) << ": ours '" << ours << "', SentencePiece '"
                    << theirs << "'";
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(changed, 4837);  // the table is really exercised
}

TEST(PrecompiledCharsmap, UsesGraphemeClustersLikeHuggingFace) {
  const json root = read_json(kCaikitDir / "tokenizer.json");
  const d::PrecompiledCharsmap charsmap(
      d::base64_decode(root["normalizer"]["precompiled_charsmap"].get<std::string>(), "charsmap"), "charsmap");
  // e + combining acute (one 3-byte cluster) composes to é, as the table's
  // two-character key says.
  EXPECT_EQ(charsmap.normalize("e\xCC\x81"), "\xC3\xA9");
  // Halfwidth KA + halfwidth voiced mark: one cluster of exactly 6 bytes, so HF
  // normalises per character (KA + combining voiced mark), not to GA.
  EXPECT_EQ(charsmap.normalize("\xEF\xBD\xB6\xEF\xBE\x9E"), "\xE3\x82\xAB\xE3\x82\x99");
  EXPECT_EQ(charsmap.normalize("\xEF\xAC\x81"), "fi");  // ligature
  EXPECT_EQ(charsmap.normalize("plain ascii"), "plain ascii");
  EXPECT_THROW(d::PrecompiledCharsmap(std::string("\x08\x00\x00\x00\x01", 5), "short"), srformer::FormatError);
  EXPECT_THROW(d::base64_decode("AB$C", "bad"), srformer::FormatError);
}

TEST(UnigramTokenizer, ViterbiPrefersTheBestScoreAndFusesUnknowns) {
  const json root = {
      {"model", {{"type", "Unigram"}, {"unk_id", 0},
                 {"vocab", json::array({json::array({"<unk>", 0.0}), json::array({"\xE2\x96\x81", -1.0}),
                                        json::array({"a", -2.0}), json::array({"b", -2.0}),
                                        json::array({"ab", -3.5}), json::array({"\xE2\x96\x81" "ab", -6.0}),
                                        json::array({"<0x78>", -9.0})})}}},
      {"pre_tokenizer", {{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", "first"},
                         {"split", true}}},
      {"decoder", {{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", "first"}}},
      {"added_tokens", {{{"id", 0}, {"content", "<unk>"}, {"special", true}}}},
  };
  const UnigramTokenizer tokenizer(root, "in-memory");
  // "▁ab": ▁(-1) + ab(-3.5) = -4.5 beats ▁ab(-6) and ▁ + a + b (-5).
  EXPECT_EQ(tokenizer.encode_text("ab"), (std::vector<TokenId>{1, 4}));
  // Unknown characters fuse into one <unk> whose token is the original text.
  EXPECT_EQ(tokenizer.tokenize("ab xyz"), (std::vector<std::string>{"\xE2\x96\x81", "ab", "\xE2\x96\x81", "xyz"}));
  EXPECT_EQ(tokenizer.encode_text("ab xyz"), (std::vector<TokenId>{1, 4, 1, 0}));
  // prepend_scheme "first": only the very start of the input gets a "▁".
  EXPECT_EQ(tokenizer.tokenize("<unk>ab"), (std::vector<std::string>{"<unk>", "ab"}));
  EXPECT_EQ(tokenizer.decode({1, 4, 1, 3}), "ab b");
}

TEST(UnigramTokenizer, UnsupportedPipelinesAreRejectedByName) {
  json root = read_json(kCaikitDir / "tokenizer.json");
  root["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  try {
    UnigramTokenizer tokenizer(root, "edited tokenizer.json");
    FAIL() << "expected TokenizerError";
  } catch (const srformer::TokenizerError& e) {
    EXPECT_NE(std::string(e.what()).find("BertPreTokenizer"), std::string::npos) << e.what();
  }
  root = read_json(kCaikitDir / "tokenizer.json");
  root["normalizer"] = {{"type", "NFKD"}};
  EXPECT_THROW(UnigramTokenizer(root, "edited"), srformer::TokenizerError);
  root = read_json(kCaikitDir / "tokenizer.json");
  root["model"]["vocab"][5] = "not a pair";
  EXPECT_THROW(UnigramTokenizer(root, "edited"), srformer::FormatError);
}

}  // namespace
