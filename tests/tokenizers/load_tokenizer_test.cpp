// load_tokenizer picks the tokenizer a model folder's files call for.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "srformer/tokenizers/load_tokenizer.hpp"
#include "support/scratch_dir.hpp"

namespace {

namespace fs = std::filesystem;
using srformer::TokenId;

const fs::path kData = fs::path(SRFORMER_TEST_DATA_DIR);

TEST(LoadTokenizer, SpiecemodelGivesSentencePiece) {
  const auto tokenizer = srformer::load_tokenizer(fs::path(SRFORMER_MODELS_DIR) / "t5-demo");
  ASSERT_NE(dynamic_cast<const srformer::SentencePieceTokenizer*>(tokenizer.get()), nullptr);
  EXPECT_EQ(tokenizer->vocab_size(), 8000);
  EXPECT_EQ(tokenizer->encode("").back(), 1);
}

TEST(LoadTokenizer, UnigramTokenizerJsonGivesUnigram) {
  const auto tokenizer = srformer::load_tokenizer(kData / "caikit-tiny-t5");
  ASSERT_NE(dynamic_cast<const srformer::UnigramTokenizer*>(tokenizer.get()), nullptr);
  EXPECT_EQ(tokenizer->encode("Hello world!"), (std::vector<TokenId>{175, 285, 108, 103, 125, 133, 121, 109, 390, 1}));
}

TEST(LoadTokenizer, VocabAndMergesGiveByteLevelBpe) {
  const auto tokenizer = srformer::load_tokenizer(kData / "tokenizers" / "bart");
  ASSERT_NE(dynamic_cast<const srformer::ByteLevelBpeTokenizer*>(tokenizer.get()), nullptr);
  EXPECT_EQ(tokenizer->encode("Hello world!"), (std::vector<TokenId>{0, 31414, 232, 328, 2}));
}

TEST(LoadTokenizer, UnknownLayoutsNameTheFolderAndWhatWasSought) {
  const srformer::test::ScratchDir scratch("load_tokenizer_empty");
  const fs::path& dir = scratch.path();
  try {
    srformer::load_tokenizer(dir);
    FAIL() << "expected TokenizerError";
  } catch (const srformer::TokenizerError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(dir.string()), std::string::npos) << message;
    for (const char* file : {"spiece.model", "tokenizer.json", "vocab.json", "merges.txt"})
      EXPECT_NE(message.find(file), std::string::npos) << message;
  }
  std::ofstream(dir / "tokenizer.json") << R"({"model": {"type": "WordPiece", "vocab": {}}})";
  try {
    srformer::load_tokenizer(dir);
    FAIL() << "expected TokenizerError";
  } catch (const srformer::TokenizerError& e) {
    EXPECT_NE(std::string(e.what()).find("WordPiece"), std::string::npos) << e.what();
  }
  std::ofstream(dir / "tokenizer.json") << "{ not json";
  EXPECT_THROW(srformer::load_tokenizer(dir), srformer::FormatError);
  EXPECT_THROW(srformer::load_tokenizer(dir / "missing"), srformer::TokenizerError);
}

}  // namespace
