// Text in, summary out with the bundled demo model (examples/models/t5-demo)
// against HuggingFace transformers 5.17 (tests/data/trained-t5-small-demo/golden.json,
// float32): for all 46 documents, the tokenized input, the greedy and beam-4
// ids and text, and the beam scores.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <thread>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "srformer/pipeline/summarizer.hpp"
#include "support/golden.hpp"

namespace srformer {
namespace {

constexpr double kScoreTolerance = 1e-4;
constexpr std::size_t kDocuments = 46;
// Documents are summarized in batches of this many (each batch padded to its
// longest input): it exercises padding and keeps the test's runtime down.
constexpr std::size_t kBatchSize = 4;

const nlohmann::json& golden() {
  static const nlohmann::json json = [] {
    std::ifstream in(testing::data_dir() / "trained-t5-small-demo" / "golden.json");
    return nlohmann::json::parse(in);
  }();
  return json;
}

const Summarizer& demo_summarizer() {
  static const Summarizer summarizer(testing::models_dir() / "t5-demo");
  return summarizer;
}

std::vector<TokenId> ids_of(const nlohmann::json& array) { return array.get<std::vector<TokenId>>(); }

/// The golden's settings for `name` ("greedy" or "beam4") on top of the folder's defaults.
GenerationOptions options_for(const std::string& name) {
  GenerationOptions options = demo_summarizer().default_options();
  apply_generation_settings(options, golden().at("generation").at(name), "golden.json generation." + name);
  return options;
}

TEST(T5DemoSummaries, GoldenFileHoldsAllDocuments) {
  ASSERT_EQ(golden().at("items").size(), kDocuments);
  EXPECT_EQ(demo_summarizer().max_input_tokens(), 512);
  EXPECT_EQ(demo_summarizer().default_options().prefix, "");  // the demo model takes no task prefix
}

TEST(T5DemoSummaries, InputIdsMatchGolden) {
  const GenerationOptions options = demo_summarizer().default_options();
  std::size_t truncated = 0;
  for (const auto& item : golden().at("items")) {
    const std::string id = item.at("id");
    EXPECT_EQ(demo_summarizer().input_ids(item.at("document"), options), ids_of(item.at("input_ids"))) << id;
    truncated += item.at("input_truncated").get<bool>();
  }
  EXPECT_EQ(truncated, 22u);  // the cut at 511 + </s> is exercised
}

class T5DemoGeneration : public ::testing::TestWithParam<std::string> {};

TEST_P(T5DemoGeneration, IdsTextAndScoresMatchHuggingFace) {
  const std::string setting = GetParam();
  const GenerationOptions options = options_for(setting);
  const auto& items = golden().at("items");

  std::size_t ids_equal = 0, text_equal = 0;
  double max_score_diff = 0.0;
  SummaryStats total;
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t first = 0; first < items.size(); first += kBatchSize) {
    std::vector<std::string> documents;
    for (std::size_t i = first; i < std::min(items.size(), first + kBatchSize); ++i)
      documents.push_back(items[i].at("document"));
    const SummaryBatch batch = demo_summarizer().summarize(documents, options);
    ASSERT_EQ(batch.summaries.size(), documents.size());
    total += batch.stats;
    for (std::size_t k = 0; k < documents.size(); ++k) {
      const auto& item = items[first + k];
      const auto& expected = item.at(setting);
      const Summary& summary = batch.summaries[k];
      const std::string id = item.at("id");
      const auto expected_ids = ids_of(expected.at("ids"));

      EXPECT_EQ(summary.ids, expected_ids) << id;
      EXPECT_EQ(summary.text, expected.at("text").get<std::string>()) << id;
      EXPECT_EQ(summary.output_tokens, expected.at("generated_len").get<Index>()) << id;
      EXPECT_EQ(summary.input_tokens, static_cast<Index>(item.at("input_ids").size())) << id;
      EXPECT_EQ(summary.input_truncated, item.at("input_truncated").get<bool>()) << id;
      ids_equal += summary.ids == expected_ids;
      text_equal += summary.text == expected.at("text").get<std::string>();

      if (expected.contains("sequences_score")) {
        ASSERT_TRUE(summary.score.has_value()) << id;
        const double diff = std::abs(*summary.score - expected.at("sequences_score").get<double>());
        max_score_diff = std::max(max_score_diff, diff);
        EXPECT_LE(diff, kScoreTolerance) << id;
      } else {
        EXPECT_FALSE(summary.score.has_value()) << id << ": greedy search has no sequences_score";
      }
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("  %s: ids identical %zu/%zu, text identical %zu/%zu, max |score diff| %.3g, %.2f s "
              "(encode %.2f s, decode %.2f s, %lld tokens out)\n",
              setting.c_str(), ids_equal, items.size(), text_equal, items.size(), max_score_diff, seconds,
              total.encode_seconds, total.decode_seconds, static_cast<long long>(total.output_tokens));
  EXPECT_EQ(total.documents, static_cast<Index>(kDocuments));
  EXPECT_GT(total.cross_attention_flops.scores, 0u);
  EXPECT_GT(total.cross_attention_flops.weighted_sum, 0u);
}

INSTANTIATE_TEST_SUITE_P(Settings, T5DemoGeneration, ::testing::Values("greedy", "beam4"));

TEST(T5DemoSummaries, BatchedAndSingleDocumentsAgree) {
  // Padding a document next to a longer one must not change its summary.
  const auto& items = golden().at("items");
  const std::string short_document = items[0].at("document");  // 51 tokens
  const std::string long_document = items[17].at("document");  // truncated to 512
  const GenerationOptions options = options_for("beam4");
  const Summary alone = demo_summarizer().summarize(short_document, options);
  const SummaryBatch together = demo_summarizer().summarize({long_document, short_document}, options);
  EXPECT_EQ(together.summaries[1].ids, alone.ids);
  EXPECT_EQ(together.summaries[1].text, alone.text);
  EXPECT_NEAR(*together.summaries[1].score, *alone.score, 1e-5);
}

TEST(T5DemoSummaries, RejectsEmptyAndInvalidDocuments) {
  const Summarizer& summarizer = demo_summarizer();
  try {
    summarizer.summarize(std::vector<std::string>{"A real document.", ""});
    FAIL() << "an empty document was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("document 1 is empty"), std::string::npos) << e.what();
  }
  EXPECT_THROW(summarizer.summarize(std::string(" \n\t ")), InputError);
  EXPECT_THROW(summarizer.summarize(std::vector<std::string>{}), InputError);
  try {
    summarizer.summarize(std::string("caf\xC3 au lait"));
    FAIL() << "invalid UTF-8 was accepted";
  } catch (const TokenizerError& e) {
    EXPECT_NE(std::string(e.what()).find("document 0"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("byte offset 3"), std::string::npos) << e.what();
  }
  GenerationOptions two_sequences = summarizer.default_options();
  two_sequences.num_beams = 2;
  two_sequences.num_return_sequences = 2;
  EXPECT_THROW(summarizer.summarize(std::string("Hello there."), two_sequences), OptionError);
  GenerationOptions bad = summarizer.default_options();
  bad.num_beams = 0;
  EXPECT_THROW(summarizer.summarize(std::string("Hello there."), bad), OptionError);
}

TEST(T5DemoSummaries, PrefixAndMaxInputTokensAreApplied) {
  SummarizerOptions load;
  load.max_input_tokens = 16;
  const Summarizer short_inputs(testing::models_dir() / "t5-demo", load);
  const auto& item = golden().at("items")[1];  // 268 tokens
  GenerationOptions options = short_inputs.default_options();
  const auto ids = short_inputs.input_ids(item.at("document"), options);
  auto expected = ids_of(item.at("input_ids"));
  expected.resize(15);
  expected.push_back(1);  // </s> survives the cut
  EXPECT_EQ(ids, expected);

  options.prefix = "summarize: ";
  const auto with_prefix = short_inputs.input_ids("Hello.", options);
  const auto plain = short_inputs.input_ids("summarize: Hello.", short_inputs.default_options());
  EXPECT_EQ(with_prefix, plain);
  EXPECT_GT(with_prefix.size(), short_inputs.input_ids("Hello.", short_inputs.default_options()).size());
}

TEST(T5DemoSummaries, ConcurrentCallsGiveTheSameSummaries) {
  const auto& items = golden().at("items");
  const GenerationOptions options = options_for("greedy");
  std::vector<Summary> results(4);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < results.size(); ++t)
    threads.emplace_back([&, t] { results[t] = demo_summarizer().summarize(items[2 + t].at("document").get<std::string>(), options); });
  for (auto& thread : threads) thread.join();
  for (std::size_t t = 0; t < results.size(); ++t)
    EXPECT_EQ(results[t].ids, ids_of(items[2 + t].at("greedy").at("ids"))) << items[2 + t].at("id");
}

}  // namespace
}  // namespace srformer
