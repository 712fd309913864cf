// Segment arithmetic against the tables of tests/data/srformer-official/README.md
// (section 5.2), and the cross-attention options.
#include <gtest/gtest.h>

#include <vector>

#include "srformer/attention/options.hpp"
#include "srformer/attention/segments.hpp"

namespace srformer::attention {
namespace {

std::vector<Index> greedy_segments(Index m, Index gen_len, Index steps) {
  std::vector<Index> out;
  for (Index t = 0; t < steps; ++t) out.push_back(decoding_segment(t, m, gen_len));
  return out;
}

std::vector<Index> training_segments(Index m, Index q) {
  std::vector<Index> out;
  for (Index i = 0; i < q; ++i) out.push_back(paper_training_segment(i, q, m));
  return out;
}

TEST(Segments, CountAndRanges) {
  EXPECT_EQ(segment_count(300, 64), 5);
  EXPECT_EQ(segment_count(173, 64), 3);
  EXPECT_EQ(segment_count(300, 16), 19);
  EXPECT_EQ(segment_count(173, 16), 11);
  EXPECT_EQ(segment_count(256, 64), 4);
  EXPECT_EQ(segment_count(0, 64), 0);
  EXPECT_EQ(segment_count(1, 64), 1);
  EXPECT_THROW(segment_count(10, 0), OptionError);
  const SegmentRange last = segment_range(4, 64, 300);
  EXPECT_EQ(last.begin, 256);
  EXPECT_EQ(last.end, 300);
  EXPECT_EQ(last.size(), 44);
  EXPECT_EQ(segment_range(1, 64, 300).size(), 64);
  EXPECT_EQ(segment_range(5, 64, 300).size(), 0);
}

TEST(Segments, GreedyStepsMatchTheAuthorsRuns) {
  // README 5.2, "Segment index per greedy step" (G = 16, steps t = 0..18).
  EXPECT_EQ(greedy_segments(5, 16, 19), (std::vector<Index>{0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 4, 4, 4}));
  EXPECT_EQ(greedy_segments(3, 16, 19), (std::vector<Index>{0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2}));
  EXPECT_EQ(greedy_segments(19, 16, 19),
            (std::vector<Index>{0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 18, 18}));
  EXPECT_EQ(greedy_segments(11, 16, 19),
            (std::vector<Index>{0, 0, 1, 2, 2, 3, 4, 4, 5, 6, 6, 7, 8, 8, 9, 10, 10, 10, 10}));
}

TEST(Segments, DecodingSegmentSaturatesWithoutOverflow) {
  EXPECT_EQ(decoding_segment(127, 16, 128), 15);
  EXPECT_EQ(decoding_segment(8, 16, 128), 1);
  EXPECT_EQ(decoding_segment(7, 16, 128), 0);
  EXPECT_EQ(decoding_segment(Index{1} << 60, 1000, 128), 999);
  EXPECT_THROW(decoding_segment(0, 0, 128), InputError);
  EXPECT_THROW(decoding_segment(-1, 4, 128), InputError);
}

TEST(Segments, TrainingMappingMatchesTheAuthorsRuns) {
  // README 5.2, "Training-mode mapping (q = 20)".
  std::vector<Index> t5_batch;
  for (Index i = 0; i < 20; ++i) t5_batch.push_back(i / 4);
  EXPECT_EQ(training_segments(5, 20), t5_batch);
  EXPECT_EQ(training_segments(3, 20), (std::vector<Index>{0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2}));
  std::vector<Index> bart_batch{0, 0};
  for (Index j = 1; j <= 18; ++j) bart_batch.push_back(j);
  EXPECT_EQ(training_segments(19, 20), bart_batch);
  std::vector<Index> bart_single;
  for (Index i = 0; i < 20; ++i) bart_single.push_back(11 * i / 20);
  EXPECT_EQ(training_segments(11, 20), bart_single);
}

TEST(Segments, T5TrainingMaskQuirk) {
  // S = 300, s = 64: the last segment (4) is scored with segment 3's mask slice.
  EXPECT_EQ(t5_training_mask_segment(4, 300, 64), 3);
  EXPECT_EQ(t5_training_mask_segment(3, 300, 64), 3);
  EXPECT_EQ(t5_training_mask_segment(2, 173, 64), 1);
  // A multiple of s has no quirk; a sequence shorter than s keeps segment 0.
  EXPECT_EQ(t5_training_mask_segment(4, 320, 64), 4);
  EXPECT_EQ(t5_training_mask_segment(0, 10, 64), 0);
}

TEST(CrossAttentionOptions, ParseAndDefaults) {
  EXPECT_EQ(parse_attention_kind("full"), AttentionKind::Full);
  EXPECT_EQ(parse_attention_kind("segmented"), AttentionKind::Segmented);
  EXPECT_EQ(parse_attention_kind("srformer"), AttentionKind::Srformer);
  EXPECT_THROW(parse_attention_kind("SRformer"), OptionError);
  EXPECT_THROW(parse_attention_kind(""), OptionError);
  EXPECT_EQ(parse_semantics("paper"), Semantics::Paper);
  EXPECT_EQ(parse_semantics("causal"), Semantics::Causal);
  EXPECT_THROW(parse_semantics("future"), OptionError);
  EXPECT_STREQ(to_string(AttentionKind::Srformer), "srformer");
  EXPECT_STREQ(to_string(Semantics::Causal), "causal");

  const CrossAttentionOptions t5 = defaults_for(ModelFlavor::T5);
  EXPECT_EQ(t5.segment_size, 64);
  EXPECT_EQ(t5.gen_len, 128);
  EXPECT_EQ(t5.flavor, ModelFlavor::T5);
  EXPECT_FALSE(t5.allow_fresh_raf_parameters);
  const CrossAttentionOptions bart = defaults_for(ModelFlavor::Bart);
  EXPECT_EQ(bart.segment_size, 16);
  EXPECT_EQ(bart.gen_len, 128);
  EXPECT_EQ(bart.flavor, ModelFlavor::Bart);
}

TEST(CrossAttentionOptions, ValidateNamesTheBadValue) {
  CrossAttentionOptions options;
  EXPECT_NO_THROW(options.validate());
  options.segment_size = 0;
  try {
    options.validate();
    FAIL() << "segment size 0 accepted";
  } catch (const OptionError& e) {
    EXPECT_NE(std::string(e.what()).find("segment size"), std::string::npos) << e.what();
  }
  options.segment_size = 1;
  options.gen_len = 0;
  EXPECT_THROW(options.validate(), OptionError);
  options.gen_len = 1;
  EXPECT_NO_THROW(options.validate());
}

}  // namespace
}  // namespace srformer::attention
