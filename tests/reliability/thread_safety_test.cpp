// One loaded model, its tokenizers and a Summarizer shared by several threads at
// once give bit for bit what sequential use gives. Each thread runs the whole
// pipeline (tokenize, encode, greedy and beam search, other cross-attention
// policies over the same weights, batched inputs, decode) on every document, in
// its own order, so different inputs are in flight at the same time.
// Built with -DSRFORMER_SANITIZE=thread this is the ThreadSanitizer check.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "reliability_support.hpp"
#include "srformer/generation/search.hpp"
#include "srformer/models/seq2seq_model.hpp"
#include "srformer/pipeline/summarizer.hpp"
#include "srformer/tokenizers/load_tokenizer.hpp"

namespace srformer::reliability {
namespace {

constexpr int kThreads = 4;

std::vector<std::uint32_t> bits_of(const float* values, std::size_t count) {
  std::vector<std::uint32_t> bits(count);
  if (count != 0) std::memcpy(bits.data(), values, count * sizeof(float));
  return bits;
}

/// Everything one document produces; compared with == (floats by their bits).
struct Outcome {
  std::vector<TokenId> input_ids;
  std::vector<std::uint32_t> first_step_logits;
  std::vector<std::vector<TokenId>> greedy, beam, segmented, srformer, batched;
  std::vector<std::uint32_t> beam_scores;
  std::string greedy_text, beam_text;
  std::vector<TokenId> spm_ids, bpe_ids;
  std::string spm_text, bpe_text;
  std::string summary;
  std::vector<TokenId> summary_ids;

  bool operator==(const Outcome& o) const {
    return input_ids == o.input_ids && first_step_logits == o.first_step_logits && greedy == o.greedy &&
           beam == o.beam && segmented == o.segmented && srformer == o.srformer && batched == o.batched &&
           beam_scores == o.beam_scores && greedy_text == o.greedy_text && beam_text == o.beam_text &&
           spm_ids == o.spm_ids && bpe_ids == o.bpe_ids && spm_text == o.spm_text && bpe_text == o.bpe_text &&
           summary == o.summary && summary_ids == o.summary_ids;
  }
};

class SharedModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const fs::path caikit = testing::data_dir() / "caikit-tiny-t5";
    model_ = load_model(caikit);
    attention::CrossAttentionOptions segmented = attention::defaults_for(attention::ModelFlavor::T5);
    segmented.kind = attention::AttentionKind::Segmented;
    segmented.segment_size = 4;
    segmented.gen_len = 8;
    segmented.semantics = attention::Semantics::Causal;
    segmented_ = model_->with_attention(segmented);
    attention::CrossAttentionOptions recurrent = segmented;
    recurrent.kind = attention::AttentionKind::Srformer;
    recurrent.allow_fresh_raf_parameters = true;  // untrained RAF: the numbers only need to be reproducible
    srformer_ = model_->with_attention(recurrent);
    tokenizer_ = load_tokenizer(caikit);
    spm_ = load_tokenizer(testing::models_dir() / "t5-demo");
    bpe_ = load_tokenizer(testing::data_dir() / "tokenizers" / "bart");
    summarizer_ = std::make_unique<Summarizer>(caikit);

    const auto golden = nlohmann::json::parse(read_file(caikit / "golden.json"));
    for (const auto& text : golden.at("texts")) {
      const std::string document = text.get<std::string>();
      // The golden texts include an empty and a blank one, which the Summarizer refuses.
      if (document.find_first_not_of(" \t\n") != std::string::npos) documents_.push_back(document);
    }
    documents_.push_back(read_file(testing::models_dir() / ".." / "data" / "sample_dialogue.txt"));
  }
  static void TearDownTestSuite() {
    summarizer_.reset();
    model_.reset();
    segmented_.reset();
    srformer_.reset();
    tokenizer_.reset();
    spm_.reset();
    bpe_.reset();
  }

  static GenerationOptions greedy_options() {
    GenerationOptions options;
    options.max_new_tokens = 10;
    options.decoder_start_token_id = 0;
    options.eos_token_ids = {1};
    options.pad_token_id = 0;
    return options;
  }

  static std::vector<std::vector<TokenId>> run(const Seq2SeqModel& model, const TokenBatch& batch,
                                               const GenerationOptions& options, std::vector<float>* scores = nullptr) {
    const auto encoded = model.encode(batch);
    std::vector<Index> rows;
    for (Index b = 0; b < batch.batch; ++b)
      for (Index k = 0; k < options.num_beams; ++k) rows.push_back(b);
    const auto session = model.start_decoding(encoded, rows, options.resolved_max_length());
    GenerationResult result = generate(*session, batch.batch, options);
    if (scores) *scores = result.sequences_scores;
    return result.sequences;
  }

  static Outcome process(std::size_t index) {
    const std::string& document = documents_[index];
    const std::string& next = documents_[(index + 1) % documents_.size()];
    Outcome out;
    out.input_ids = tokenizer_->encode(document, 48);
    const TokenBatch batch = TokenBatch::from_sequences({out.input_ids}, 0);

    {
      const auto session = model_->start_decoding(model_->encode(batch), {0});
      const RowMatrix& logits = session->step({0});
      out.first_step_logits = bits_of(logits.data(), static_cast<std::size_t>(logits.size()));
    }
    const GenerationOptions greedy = greedy_options();
    out.greedy = run(*model_, batch, greedy);
    GenerationOptions beam = greedy;
    beam.num_beams = 3;
    beam.num_return_sequences = 2;
    beam.no_repeat_ngram_size = 2;
    std::vector<float> scores;
    out.beam = run(*model_, batch, beam, &scores);
    out.beam_scores = bits_of(scores.data(), scores.size());
    out.segmented = run(*segmented_, batch, greedy);
    out.srformer = run(*srformer_, batch, beam);
    out.batched = run(*model_, TokenBatch::from_sequences({out.input_ids, tokenizer_->encode(next, 48)}, 0), beam);
    out.greedy_text = tokenizer_->decode(out.greedy.front());
    out.beam_text = tokenizer_->decode(out.beam.front());

    out.spm_ids = spm_->encode(document);
    out.spm_text = spm_->decode(out.spm_ids);
    out.bpe_ids = bpe_->encode(document);
    out.bpe_text = bpe_->decode(out.bpe_ids);

    GenerationOptions summary_options = summarizer_->default_options();
    summary_options.max_new_tokens = 8;
    const Summary summary = summarizer_->summarize(document, summary_options);
    out.summary = summary.text;
    out.summary_ids = summary.ids;
    return out;
  }

  static inline std::shared_ptr<const Seq2SeqModel> model_, segmented_, srformer_;
  static inline std::unique_ptr<Tokenizer> tokenizer_, spm_, bpe_;
  static inline std::unique_ptr<Summarizer> summarizer_;
  static inline std::vector<std::string> documents_;
};

TEST_F(SharedModel, ConcurrentUseEqualsSequentialUse) {
  ASSERT_GE(documents_.size(), 8u);
  std::vector<Outcome> sequential;
  for (std::size_t i = 0; i < documents_.size(); ++i) sequential.push_back(process(i));
  // Guard against a vacuous comparison: the models really produced something.
  ASSERT_GT(sequential.front().greedy.front().size(), 1u);
  ASSERT_EQ(sequential.front().beam.size(), 2u);
  ASSERT_FALSE(sequential.front().first_step_logits.empty());

  // results[t][i]: thread t's outcome for document i. Each thread starts at a
  // different document, so different inputs run concurrently.
  std::vector<std::vector<Outcome>> results(kThreads, std::vector<Outcome>(documents_.size()));
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        for (std::size_t k = 0; k < documents_.size(); ++k) {
          const std::size_t i = (k + static_cast<std::size_t>(t) * 3) % documents_.size();
          results[static_cast<std::size_t>(t)][i] = process(i);
        }
      } catch (const std::exception& error) {
        failures[static_cast<std::size_t>(t)] = error.what();
      }
    });
  }
  for (auto& thread : threads) thread.join();

  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(failures[static_cast<std::size_t>(t)], "") << "thread " << t;
    for (std::size_t i = 0; i < documents_.size(); ++i)
      EXPECT_TRUE(results[static_cast<std::size_t>(t)][i] == sequential[i])
          << "thread " << t << " differs from sequential use on document " << i;
  }
}

TEST_F(SharedModel, ConcurrentBatchesOfTheSummarizer) {
  GenerationOptions options = summarizer_->default_options();
  options.max_new_tokens = 6;
  options.num_beams = 2;
  const SummaryBatch reference = summarizer_->summarize(documents_, options);
  std::vector<SummaryBatch> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] { results[static_cast<std::size_t>(t)] = summarizer_->summarize(documents_, options); });
  for (auto& thread : threads) thread.join();
  for (const SummaryBatch& batch : results) {
    ASSERT_EQ(batch.summaries.size(), reference.summaries.size());
    for (std::size_t i = 0; i < batch.summaries.size(); ++i) {
      EXPECT_EQ(batch.summaries[i].ids, reference.summaries[i].ids) << "document " << i;
      EXPECT_EQ(batch.summaries[i].text, reference.summaries[i].text) << "document " << i;
      ASSERT_TRUE(batch.summaries[i].score.has_value());
      EXPECT_EQ(bits_of(&*batch.summaries[i].score, 1), bits_of(&*reference.summaries[i].score, 1));
    }
  }
}

}  // namespace
}  // namespace srformer::reliability
