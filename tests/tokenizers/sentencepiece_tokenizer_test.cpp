// T5 SentencePiece tokenizer against SentencePiece 0.2.2 goldens
// (tests/data/tokenizers/t5-test-spm) and the bundled demo model's 46 documents
// (tests/data/trained-t5-small-demo/golden.json, made with transformers 5.17).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "srformer/tokenizers/sentencepiece_tokenizer.hpp"
#include "support/scratch_dir.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using srformer::SentencePieceTokenizer;
using srformer::TokenId;

const fs::path kTestSpmDir = fs::path(SRFORMER_TEST_DATA_DIR) / "tokenizers" / "t5-test-spm";
const fs::path kDemoModel = fs::path(SRFORMER_MODELS_DIR) / "t5-demo" / "spiece.model";
const fs::path kDemoGolden = fs::path(SRFORMER_TEST_DATA_DIR) / "trained-t5-small-demo" / "golden.json";

json read_json(const fs::path& file) {
  std::ifstream in(file);
  return json::parse(in);
}

const SentencePieceTokenizer& test_spm() {
  static const SentencePieceTokenizer tokenizer(kTestSpmDir / "spiece.model");
  return tokenizer;
}

const SentencePieceTokenizer& demo() {
  static const SentencePieceTokenizer tokenizer(kDemoModel);
  return tokenizer;
}

TEST(SentencePieceTokenizer, MatchesSentencePieceGoldens) {
  const json golden = read_json(kTestSpmDir / "golden.json");
  const auto& texts = golden.at("texts");
  ASSERT_EQ(texts.size(), 14u);
  const SentencePieceTokenizer& tokenizer = test_spm();
  // This test model's </s> is id 2 (its <unk> is 0, <s> is 1); T5 appends </s>.
  ASSERT_EQ(tokenizer.eos_id(), 2);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const std::string text = texts[i].get<std::string>();
    SCOPED_TRACE("text " + std::to_string(i) + ": " + text);
    const json& expected = golden["cases"][i];
    auto ids = expected.at("spm_ids").get<std::vector<TokenId>>();
    EXPECT_EQ(tokenizer.encode_text(text), ids);
    EXPECT_EQ(tokenizer.tokenize(text), expected.at("spm_pieces").get<std::vector<std::string>>());
    // Without skipping, <unk> decodes to SentencePiece's " ⁇ ", as sp.decode does.
    EXPECT_EQ(tokenizer.decode(ids, /*skip_special_tokens=*/false), expected.at("spm_decoded").get<std::string>());
    ids.push_back(tokenizer.eos_id());
    EXPECT_EQ(tokenizer.encode(text), ids);
  }
}

TEST(SentencePieceTokenizer, SpecialIdsOfTheTestModel) {
  const SentencePieceTokenizer& tokenizer = test_spm();
  EXPECT_EQ(tokenizer.vocab_size(), 1000);
  EXPECT_EQ(tokenizer.unk_id(), 0);
  EXPECT_EQ(tokenizer.pad_id(), -1);  // this model has no <pad> piece
  EXPECT_EQ(tokenizer.bos_id(), -1);  // T5 adds no start token
  EXPECT_TRUE(tokenizer.prefix_ids().empty());
  EXPECT_EQ(tokenizer.suffix_ids(), std::vector<TokenId>{2});
  EXPECT_TRUE(tokenizer.is_special(0));
  EXPECT_TRUE(tokenizer.is_special(1));
  EXPECT_TRUE(tokenizer.is_special(2));
  EXPECT_FALSE(tokenizer.is_special(5));
  EXPECT_EQ(tokenizer.id_to_token(5), "\xE2\x96\x81the");
  // Skipping specials drops <unk> too (ids 156 86 20 = "Hello").
  EXPECT_EQ(tokenizer.decode({156, 86, 20, 0, 2}), "Hello");
  EXPECT_EQ(tokenizer.decode({156, 86, 20, 0, 2}, false), "Hello \xE2\x81\x87 </s>");
}

TEST(SentencePieceTokenizer, DemoModelDocumentsMatchTheirInputIds) {
  const json golden = read_json(kDemoGolden);
  const auto& items = golden.at("items");
  ASSERT_EQ(items.size(), 46u);
  const SentencePieceTokenizer& tokenizer = demo();
  ASSERT_EQ(tokenizer.pad_id(), 0);
  ASSERT_EQ(tokenizer.eos_id(), 1);
  ASSERT_EQ(tokenizer.unk_id(), 2);
  ASSERT_EQ(tokenizer.vocab_size(), 8000);
  int truncated = 0;
  for (const json& item : items) {
    SCOPED_TRACE(item.at("id").get<std::string>());
    const std::string document = item.at("document").get<std::string>();
    const auto expected = item.at("input_ids").get<std::vector<TokenId>>();
    // input_ids = sp.encode(document)[:511] + [</s>]
    EXPECT_EQ(tokenizer.encode(document, 512), expected);
    const auto full = tokenizer.encode(document);
    EXPECT_EQ(full.size() > 512, item.at("input_truncated").get<bool>());
    if (full.size() > 512) ++truncated;
    else EXPECT_EQ(full, expected);
    // Decoded generations equal their golden texts (pad, eos and unk dropped).
    for (const char* search : {"greedy", "beam4"}) {
      const json& output = item.at(search);
      EXPECT_EQ(tokenizer.decode(output.at("ids").get<std::vector<TokenId>>()), output.at("text").get<std::string>())
          << search;
    }
  }
  EXPECT_EQ(truncated, 22);  // the golden's truncated documents are exercised
}

TEST(SentencePieceTokenizer, RoundTripLosesOnlyWhatTheNormaliserChanges) {
  const SentencePieceTokenizer& tokenizer = demo();
  const std::string plain = "The library reads Apple File System volumes.";
  EXPECT_EQ(tokenizer.decode(tokenizer.encode(plain)), plain);
  // Not lossless: white space runs collapse, leading/trailing spaces vanish,
  // NFKC folds compatibility characters (full-width letters, the "ﬁ" ligature).
  EXPECT_EQ(tokenizer.decode(tokenizer.encode("  two   spaces  ")), "two spaces");
  EXPECT_EQ(tokenizer.decode(tokenizer.encode("\xEF\xBC\xA1\xEF\xBC\xA2 \xEF\xAC\x81le")), "AB file");
}

TEST(SentencePieceTokenizer, Errors) {
  EXPECT_THROW(test_spm().encode(std::string("bad \xFF byte")), srformer::TokenizerError);
  EXPECT_THROW(test_spm().decode({1000}), srformer::InputError);
  EXPECT_THROW(test_spm().decode({-3}), srformer::InputError);
  EXPECT_THROW(test_spm().encode("text", 0), srformer::InputError);
  EXPECT_EQ(test_spm().encode("Hello world!", 1), std::vector<TokenId>{2});
  EXPECT_EQ(test_spm().encode("Hello world!", 3), (std::vector<TokenId>{156, 86, 2}));

  const srformer::test::ScratchDir scratch("spm_bad");
  const fs::path& dir = scratch.path();
  std::ofstream(dir / "spiece.model") << "this is not a protobuf";
  try {
    SentencePieceTokenizer tokenizer(dir / "spiece.model");
    FAIL() << "expected FormatError";
  } catch (const srformer::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("spiece.model"), std::string::npos) << e.what();
  }
  EXPECT_THROW(SentencePieceTokenizer(dir / "missing.model"), srformer::FormatError);
}

}  // namespace
