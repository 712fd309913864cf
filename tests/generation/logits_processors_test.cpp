#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "srformer/generation/logits_processors.hpp"

namespace srformer {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

RowVector row(std::vector<float> values) {
  RowVector r(static_cast<Index>(values.size()));
  for (std::size_t i = 0; i < values.size(); ++i) r[static_cast<Index>(i)] = values[i];
  return r;
}

std::vector<float> values(const RowVector& r) { return std::vector<float>(r.data(), r.data() + r.size()); }

TEST(RepetitionPenalty, DividesPositiveMultipliesNegativeOncePerToken) {
  RowVector s = row({2.0f, -2.0f, 1.0f, 3.0f});
  apply_repetition_penalty(s, {0, 1, 1}, 2.0);  // token 1 twice: still penalised once
  EXPECT_EQ(values(s), (std::vector<float>{1.0f, -4.0f, 1.0f, 3.0f}));
}

TEST(RepetitionPenalty, BelowOneRewardsRepeats) {
  RowVector s = row({2.0f, -2.0f});
  apply_repetition_penalty(s, {0, 1}, 0.5);
  EXPECT_EQ(values(s), (std::vector<float>{4.0f, -1.0f}));
}

TEST(NoRepeatNGram, BansTokensCompletingASeenBigram) {
  RowVector s = row({0, 0, 0, 0, 0, 0, 0, 0});
  ban_repeated_ngrams(s, {0, 5, 6, 5}, 2);  // last token 5 was followed by 6 before
  EXPECT_EQ(s[6], -kInf);
  for (Index t : {0, 1, 2, 3, 4, 5, 7}) EXPECT_EQ(s[t], 0.0f) << "token " << t;
}

TEST(NoRepeatNGram, TrigramUsesTheLastTwoTokensAndCountsTheStartToken) {
  RowVector s = row(std::vector<float>(8, 1.0f));
  ban_repeated_ngrams(s, {0, 5, 6, 7, 5, 6}, 3);  // (5, 6) was followed by 7
  EXPECT_EQ(s[7], -kInf);
  EXPECT_EQ(s[5], 1.0f);
  RowVector t = row(std::vector<float>(8, 1.0f));
  ban_repeated_ngrams(t, {0, 4, 0}, 3);  // (0, 4) -> ... the prefix (4, 0) never occurred
  EXPECT_EQ(values(t), std::vector<float>(8, 1.0f));
  RowVector u = row(std::vector<float>(8, 1.0f));
  ban_repeated_ngrams(u, {0, 0}, 2);  // bigram (0, 0) seen: the start token counts, as in HF
  EXPECT_EQ(u[0], -kInf);
}

TEST(NoRepeatNGram, ShortSequencesBanNothing) {
  RowVector s = row(std::vector<float>(4, 1.0f));
  ban_repeated_ngrams(s, {3}, 3);  // cur_len + 1 < n
  EXPECT_EQ(values(s), std::vector<float>(4, 1.0f));
  ban_repeated_ngrams(s, {3, 3}, 0);  // disabled
  EXPECT_EQ(values(s), std::vector<float>(4, 1.0f));
}

TEST(NoRepeatNGram, UnigramBansEveryTokenSeen) {
  RowVector s = row(std::vector<float>(5, 1.0f));
  ban_repeated_ngrams(s, {0, 3}, 1);
  EXPECT_EQ(values(s), (std::vector<float>{-kInf, 1, 1, -kInf, 1}));
}

TEST(ForceAndSuppress, UseMinusInfinityNotFloatMin) {
  RowVector s = row({1, 2, 3, 4});
  force_tokens(s, {2});
  EXPECT_EQ(values(s), (std::vector<float>{-kInf, -kInf, 0.0f, -kInf}));
  RowVector t = row({1, 2, 3, 4});
  suppress_tokens(t, {1, 3});
  EXPECT_EQ(values(t), (std::vector<float>{1, -kInf, 3, -kInf}));
  EXPECT_THROW(force_tokens(s, {4}), OptionError);
  EXPECT_THROW(suppress_tokens(s, {-1}), OptionError);
}

TEST(Temperature, DividesScores) {
  RowVector s = row({1.0f, -3.0f, 0.5f});
  apply_temperature(s, 0.5);
  EXPECT_EQ(values(s), (std::vector<float>{2.0f, -6.0f, 1.0f}));
  EXPECT_THROW(apply_temperature(s, 0.0), OptionError);
}

TEST(TopK, KeepsTheKLargestAndTiesAtTheBoundary) {
  RowVector s = row({1, 3, 2, 3, 0});
  apply_top_k(s, 2);
  EXPECT_EQ(values(s), (std::vector<float>{-kInf, 3, -kInf, 3, -kInf}));
  RowVector t = row({1, 3, 2, 3, 0});
  apply_top_k(t, 3);
  EXPECT_EQ(values(t), (std::vector<float>{-kInf, 3, 2, 3, -kInf}));
  RowVector u = row({1, 4, 2, 3, 0});
  apply_top_k(u, 1, /*min_tokens_to_keep=*/2);  // k raised to 2
  EXPECT_EQ(values(u), (std::vector<float>{-kInf, 4, -kInf, 3, -kInf}));
  RowVector v = row({1, 4});
  apply_top_k(v, 50);  // k larger than the vocabulary: nothing removed
  EXPECT_EQ(values(v), (std::vector<float>{1, 4}));
}

TEST(TopP, RemovesTheLeastLikelyTailBelowOneMinusP) {
  const std::vector<double> p = {0.5, 0.3, 0.15, 0.05};
  auto logits = [&] {
    RowVector r(4);
    for (int i = 0; i < 4; ++i) r[i] = static_cast<float>(std::log(p[static_cast<std::size_t>(i)]));
    return r;
  };
  RowVector a = logits();
  apply_top_p(a, 0.75);  // tail 0.05 + 0.15 = 0.2 <= 0.25: both removed; 0.3 would make 0.5 > 0.25
  EXPECT_GT(a[0], -kInf);
  EXPECT_GT(a[1], -kInf);
  EXPECT_EQ(a[2], -kInf);
  EXPECT_EQ(a[3], -kInf);
  RowVector b = logits();
  apply_top_p(b, 0.9);  // threshold 0.1: only the 0.05 token goes
  EXPECT_GT(b[2], -kInf);
  EXPECT_EQ(b[3], -kInf);
  RowVector c = logits();
  apply_top_p(c, 1.0);
  EXPECT_EQ(values(c), values(logits()));
  RowVector d = logits();
  apply_top_p(d, 0.75, /*min_tokens_to_keep=*/3);
  EXPECT_GT(d[2], -kInf);
  EXPECT_EQ(d[3], -kInf);
  RowVector e = logits();
  apply_top_p(e, 0.01);  // keeps at least the most likely token
  EXPECT_GT(e[0], -kInf);
  EXPECT_EQ(e[1], -kInf);
  EXPECT_EQ(a[0], static_cast<float>(std::log(0.5)));  // kept scores are untouched
}

GenerationOptions base_options() {
  GenerationOptions o;
  o.decoder_start_token_id = 0;
  o.eos_token_ids = {1};
  o.pad_token_id = 0;
  return o;
}

TEST(LogitsProcessorList, MinNewTokensSuppressesEosUntilEnoughTokens) {
  GenerationOptions o = base_options();
  o.min_new_tokens = 2;  // min_length becomes 3 (start token included)
  LogitsProcessorList list(o);
  for (std::size_t length = 1; length <= 4; ++length) {
    RowVector s = row({0.5f, 2.0f, 1.0f});
    list.process(s, std::vector<TokenId>(length, 2));
    if (length < 3)
      EXPECT_EQ(s[1], -kInf) << "length " << length;
    else
      EXPECT_EQ(s[1], 2.0f) << "length " << length;
  }
}

TEST(LogitsProcessorList, MinLengthCountsTheStartToken) {
  GenerationOptions o = base_options();
  o.min_length = 2;
  LogitsProcessorList list(o);
  RowVector s = row({0.5f, 2.0f, 1.0f});
  list.process(s, {0});
  EXPECT_EQ(s[1], -kInf);
  RowVector t = row({0.5f, 2.0f, 1.0f});
  list.process(t, {0, 2});
  EXPECT_EQ(t[1], 2.0f);
}

TEST(LogitsProcessorList, ForcedBosOnlyAtTheFirstGeneratedStep) {
  GenerationOptions o = base_options();
  o.forced_bos_token_id = 2;
  LogitsProcessorList list(o);
  RowVector s = row({0.5f, 2.0f, 1.0f});
  list.process(s, {0});
  EXPECT_EQ(values(s), (std::vector<float>{-kInf, -kInf, 0.0f}));
  RowVector t = row({0.5f, 2.0f, 1.0f});
  list.process(t, {0, 2});
  EXPECT_EQ(values(t), (std::vector<float>{0.5f, 2.0f, 1.0f}));
}

TEST(LogitsProcessorList, ForcedEosOnlyAtTheStepReachingMaxLength) {
  GenerationOptions o = base_options();
  o.forced_eos_token_ids = {1};
  o.max_new_tokens = 3;  // max_length 4: the token generated from a length-3 sequence is the last
  LogitsProcessorList list(o);
  RowVector s = row({0.5f, -2.0f, 1.0f});
  list.process(s, {0, 2});
  EXPECT_EQ(values(s), (std::vector<float>{0.5f, -2.0f, 1.0f}));
  list.process(s, {0, 2, 2});
  EXPECT_EQ(values(s), (std::vector<float>{-kInf, 0.0f, -kInf}));
}

TEST(LogitsProcessorList, AppliesProcessorsInHuggingFaceOrder) {
  // Repetition penalty runs before the forced-EOS processor, which overwrites everything:
  // the result is exactly the forced row whatever the earlier processors did.
  GenerationOptions o = base_options();
  o.repetition_penalty = 2.0;
  o.no_repeat_ngram_size = 2;
  o.forced_eos_token_ids = {1};
  o.max_new_tokens = 2;
  LogitsProcessorList list(o);
  RowVector s = row({0.5f, 2.0f, 1.0f});
  list.process(s, {0, 1});
  EXPECT_EQ(values(s), (std::vector<float>{-kInf, 0.0f, -kInf}));
  // Without forcing: penalty on tokens {0, 1}, then the bigram (0, 1)... prefix is 1: nothing banned.
  o.forced_eos_token_ids.clear();
  LogitsProcessorList plain(o);
  RowVector t = row({0.5f, 2.0f, -1.0f});
  plain.process(t, {0, 1});
  EXPECT_EQ(values(t), (std::vector<float>{0.25f, 1.0f, -1.0f}));
}

TEST(LogitsProcessorList, WarpersOnlyWhenSampling) {
  GenerationOptions o = base_options();
  o.temperature = 0.5;
  o.top_k = 1;
  LogitsProcessorList greedy(o);
  RowVector s = row({1.0f, 2.0f, 3.0f});
  greedy.warp(s);
  EXPECT_EQ(values(s), (std::vector<float>{1.0f, 2.0f, 3.0f}));
  o.do_sample = true;
  LogitsProcessorList sampling(o);
  sampling.warp(s);  // temperature first (x2), then top-1
  EXPECT_EQ(values(s), (std::vector<float>{-kInf, -kInf, 6.0f}));
}

}  // namespace
}  // namespace srformer
