// The per-token hook of generate() (generation/token_callback.hpp) and the
// Summarizer's streaming form: the callback sees exactly the ids that are
// returned, a stop at the k-th token returns the first k tokens, StopAll ends the
// call, an exception thrown by the callback reaches the caller and leaves the
// model usable; joined text pieces are the summary.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "srformer/generation/search.hpp"
#include "srformer/models/seq2seq_model.hpp"
#include "srformer/models/token_batch.hpp"
#include "srformer/pipeline/summarizer.hpp"
#include "support/golden.hpp"

namespace srformer {
namespace {

const Seq2SeqModel& tiny_t5() {
  static const std::shared_ptr<const Seq2SeqModel> model = load_model(testing::data_dir() / "hf-tiny" / "t5_tiny");
  return *model;
}

/// Two inputs of different lengths (one padded).
std::shared_ptr<const EncodedInput> encode_pair() {
  return tiny_t5().encode(TokenBatch::from_sequences({{37, 12, 7, 99, 4, 1}, {5, 300, 1}}, 0));
}

GenerationOptions base_options() {
  GenerationOptions options;
  options.decoder_start_token_id = 0;
  options.eos_token_ids = {1};
  options.pad_token_id = 0;
  options.max_new_tokens = 12;
  return options;
}

/// Runs generate() on the pair with `callback`; num_beams (and num_return_sequences
/// for sampling) rows per input.
GenerationResult run(const GenerationOptions& options, const TokenCallback& callback) {
  const auto encoded = encode_pair();
  const Index per_input = options.num_beams;
  std::vector<Index> rows;
  for (Index b = 0; b < 2; ++b)
    for (Index k = 0; k < per_input; ++k) rows.push_back(b);
  const auto session = tiny_t5().start_decoding(encoded, rows, options.resolved_max_length());
  return generate(*session, 2, options, callback);
}

using Seen = std::map<std::pair<Index, Index>, std::vector<TokenId>>;  // (input, sequence) -> tokens

/// A callback that records every token and checks the step numbers and is_last.
TokenCallback recorder(Seen& seen, std::map<std::pair<Index, Index>, bool>& ended) {
  return [&seen, &ended](const GeneratedToken& token) {
    auto& tokens = seen[{token.batch_row, token.sequence}];
    EXPECT_EQ(token.step, static_cast<Index>(tokens.size()));
    EXPECT_FALSE((ended[{token.batch_row, token.sequence}])) << "a token after is_last";
    tokens.push_back(token.token_id);
    if (token.is_last) ended[{token.batch_row, token.sequence}] = true;
    return TokenAction::Continue;
  };
}

void expect_seen_equals_result(const Seen& seen, const GenerationResult& result) {
  for (Index row = 0; row < result.rows(); ++row) {
    const Index input = row / result.num_return_sequences, sequence = row % result.num_return_sequences;
    std::vector<TokenId> expected = result.unpadded(row);
    expected.erase(expected.begin());  // the start token is not generated
    const auto found = seen.find({input, sequence});
    if (result.num_return_sequences > 1 && sequence > 0 && !result.sequences_scores.empty()) continue;  // beam: best only
    ASSERT_NE(found, seen.end()) << "row " << row;
    EXPECT_EQ(found->second, expected) << "row " << row;
  }
}

TEST(TokenCallback, GreedySeesExactlyTheReturnedIds) {
  const GenerationResult plain = run(base_options(), {});
  Seen seen;
  std::map<std::pair<Index, Index>, bool> ended;
  const GenerationResult result = run(base_options(), recorder(seen, ended));
  EXPECT_EQ(result.sequences, plain.sequences);
  expect_seen_equals_result(seen, result);
  EXPECT_TRUE((ended[{0, 0}]));
  EXPECT_TRUE((ended[{1, 0}]));
}

TEST(TokenCallback, SamplingWithSeveralSequencesSeesEachOne) {
  GenerationOptions options = base_options();
  options.do_sample = true;
  options.num_return_sequences = 2;
  options.seed = 7;
  Seen seen;
  std::map<std::pair<Index, Index>, bool> ended;
  const auto encoded = encode_pair();
  const auto session = tiny_t5().start_decoding(encoded, {0, 1}, options.resolved_max_length());
  const GenerationResult result = generate(*session, 2, options, recorder(seen, ended));
  ASSERT_EQ(result.rows(), 4);
  EXPECT_EQ(seen.size(), 4U);
  expect_seen_equals_result(seen, result);
}

TEST(TokenCallback, BeamSearchReportsTheFinalBestHypothesis) {
  GenerationOptions options = base_options();
  options.num_beams = 3;
  options.num_return_sequences = 2;
  const GenerationResult plain = run(options, {});
  Seen seen;
  std::map<std::pair<Index, Index>, bool> ended;
  const GenerationResult result = run(options, recorder(seen, ended));
  EXPECT_EQ(result.sequences, plain.sequences);
  EXPECT_EQ(result.sequences_scores, plain.sequences_scores);
  EXPECT_EQ(seen.size(), 2U) << "only the best hypothesis of each input";
  expect_seen_equals_result(seen, result);
}

TEST(TokenCallback, StoppingAtTheKthTokenKeepsTheFirstKTokens) {
  for (const Index beams : {Index{1}, Index{3}}) {
    GenerationOptions options = base_options();
    options.num_beams = beams;
    options.min_new_tokens = 6;  // so that every row reaches the stop
    const GenerationResult full = run(options, {});
    for (const Index k : {Index{1}, Index{3}}) {
      const GenerationResult stopped = run(options, [k](const GeneratedToken& token) {
        return token.batch_row == 0 && token.step == k - 1 ? TokenAction::StopSequence : TokenAction::Continue;
      });
      std::vector<TokenId> expected = full.unpadded(0);
      expected.resize(static_cast<std::size_t>(1 + k));
      EXPECT_EQ(stopped.unpadded(0), expected) << "beams " << beams << ", k " << k;
      EXPECT_EQ(stopped.generated_lengths[0], k);
      // The other input is untouched.
      EXPECT_EQ(stopped.unpadded(1), full.unpadded(1)) << "beams " << beams;
    }
  }
}

TEST(TokenCallback, StopAllEndsEverySequenceAndCallsNoMore) {
  GenerationOptions options = base_options();
  options.min_new_tokens = 6;
  int calls_after_stop = 0;
  bool stopped = false;
  const GenerationResult result = run(options, [&](const GeneratedToken& token) {
    if (stopped) ++calls_after_stop;
    if (token.batch_row == 0 && token.step == 1) {
      stopped = true;
      return TokenAction::StopAll;
    }
    return TokenAction::Continue;
  });
  EXPECT_EQ(calls_after_stop, 0);
  EXPECT_EQ(result.generated_lengths[0], 2);
  EXPECT_EQ(result.generated_lengths[1], 1) << "row 1 ends with the tokens reported before the stop";

  // Beam search: inputs still searching keep their best (running) beam.
  options.num_beams = 2;
  const GenerationResult beam = run(options, [](const GeneratedToken&) { return TokenAction::StopAll; });
  EXPECT_EQ(beam.rows(), 2);
  for (Index row = 0; row < 2; ++row) EXPECT_GE(beam.generated_lengths[static_cast<std::size_t>(row)], 1);
}

TEST(TokenCallback, AnExceptionReachesTheCallerAndTheModelStaysUsable) {
  const GenerationResult before = run(base_options(), {});
  EXPECT_THROW(run(base_options(),
                   [](const GeneratedToken& token) -> TokenAction {
                     if (token.step == 2) throw std::runtime_error("stop from the callback");
                     return TokenAction::Continue;
                   }),
               std::runtime_error);
  EXPECT_EQ(run(base_options(), {}).sequences, before.sequences);
}

TEST(SummarizerStreaming, PiecesJoinToTheSummaryAndStopsCut) {
  const Summarizer summarizer(testing::models_dir() / "t5-demo");
  const std::vector<std::string> documents = {
      "#Person1#: Shall we go out tonight?\n#Person2#: Sorry, I can't. I have to work late.",
      "#Person1#: Where is the station?\n#Person2#: Go straight and turn left at the bank."};
  for (const std::int64_t beams : {std::int64_t{1}, std::int64_t{4}}) {
    GenerationOptions options = summarizer.default_options();
    options.num_beams = beams;
    const SummaryBatch plain = summarizer.summarize(documents, options);
    std::vector<std::string> joined(2);
    std::vector<int> last(2, 0);
    const SummaryBatch streamed = summarizer.summarize(documents, options, [&](const SummaryToken& token) {
      joined[static_cast<std::size_t>(token.document)] += token.text;
      last[static_cast<std::size_t>(token.document)] += token.is_last ? 1 : 0;
      return TokenAction::Continue;
    });
    for (std::size_t d = 0; d < 2; ++d) {
      EXPECT_EQ(streamed.summaries[d].text, plain.summaries[d].text);
      EXPECT_EQ(joined[d], plain.summaries[d].text) << "beams " << beams;
      EXPECT_EQ(last[d], 1);
    }
    // Stop document 1 after its third token: its summary is the text of those tokens.
    const SummaryBatch cut = summarizer.summarize(documents, options, [](const SummaryToken& token) {
      return token.document == 1 && token.step == 2 ? TokenAction::StopSequence : TokenAction::Continue;
    });
    EXPECT_EQ(cut.summaries[1].output_tokens, 3);
    EXPECT_EQ(cut.summaries[0].text, plain.summaries[0].text);
    EXPECT_EQ(plain.summaries[1].text.rfind(cut.summaries[1].text, 0), 0U)
        << "'" << cut.summaries[1].text << "' is not a prefix of '" << plain.summaries[1].text << "'";
  }
}

}  // namespace
}  // namespace srformer
