// The pipeline runs the cross-attention a checkpoint was trained with, as its
// config.json names it (our "cross_attention" block or the SRformer authors'
// "srformer" block), unless the caller chooses another — and then says so.
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "srformer/io/json.hpp"
#include "srformer/models/load.hpp"
#include "srformer/pipeline/summarizer.hpp"
#include "support/golden.hpp"
#include "support/scratch_dir.hpp"

namespace srformer {
namespace {

namespace fs = std::filesystem;
using attention::AttentionKind;
using attention::Semantics;

/// A model folder whose config.json can be edited; the other files are links to the source's.
class EditableModelFolder {
 public:
  explicit EditableModelFolder(const fs::path& source) : dir_("checkpoint_attention") {
    for (const auto& entry : fs::directory_iterator(source)) {
      if (!entry.is_regular_file()) continue;
      const fs::path target = dir_.path() / entry.path().filename();
      if (entry.path().filename() == "config.json")
        fs::copy_file(entry.path(), target);
      else
        fs::create_symlink(fs::absolute(entry.path()), target);
    }
  }
  const fs::path& path() const { return dir_.path(); }
  void edit_config(const std::function<void(nlohmann::json&)>& edit) const {
    auto json = io::read_json_file(path() / "config.json");
    edit(json);
    std::ofstream(path() / "config.json") << json.dump(1);
  }

 private:
  test::ScratchDir dir_;
};

fs::path demo_folder() { return fs::path(SRFORMER_MODELS_DIR) / "t5-demo"; }
const std::string kDocument =
    "#Person1#: Shall we go to the theatre tonight?\n#Person2#: Sorry, I have to work late. Maybe next week.";

TEST(CheckpointAttention, PlainCheckpointRunsFullAttentionWithoutAFlag) {
  const Summarizer summarizer(demo_folder());
  EXPECT_FALSE(summarizer.checkpoint_attention().has_value());
  EXPECT_EQ(summarizer.model().attention_options().kind, AttentionKind::Full);
  EXPECT_FALSE(summarizer.attention_differs_from_checkpoint());
  EXPECT_FALSE(summarizer.summarize(kDocument).attention_differs_from_checkpoint);
}

TEST(CheckpointAttention, OurBlockIsRunUnlessTheCallerOverridesIt) {
  EditableModelFolder folder(demo_folder());
  folder.edit_config([](nlohmann::json& j) {
    j["cross_attention"] = {{"kind", "segmented"}, {"segment_size", 32}, {"gen_len", 64}, {"semantics", "causal"}};
  });
  const Summarizer trained(folder.path());
  const auto& running = trained.model().attention_options();
  EXPECT_EQ(running.kind, AttentionKind::Segmented);
  EXPECT_EQ(running.segment_size, 32);
  EXPECT_EQ(running.gen_len, 64);
  EXPECT_EQ(running.semantics, Semantics::Causal);
  ASSERT_TRUE(trained.checkpoint_attention().has_value());
  EXPECT_EQ(trained.checkpoint_attention()->segment_size, 32);
  EXPECT_FALSE(trained.attention_differs_from_checkpoint());
  const Summary as_trained = trained.summarize(kDocument);
  EXPECT_FALSE(as_trained.attention_differs_from_checkpoint);

  // The same folder run with full attention: allowed, and flagged.
  SummarizerOptions full;
  full.attention = attention::defaults_for(attention::ModelFlavor::T5);
  const Summarizer other(folder.path(), full);
  EXPECT_TRUE(other.attention_differs_from_checkpoint());
  EXPECT_TRUE(other.summarize(kDocument).attention_differs_from_checkpoint);

  // Changing one setting of the checkpoint's (another segment size) is flagged too.
  SummarizerOptions wider;
  wider.attention = cross_attention_options_from_config(folder.path());
  wider.attention->segment_size = 64;
  EXPECT_TRUE(Summarizer(folder.path(), wider).attention_differs_from_checkpoint());

  // A plain checkpoint run with segmented attention is flagged.
  SummarizerOptions segmented;
  segmented.attention = attention::defaults_for(attention::ModelFlavor::T5);
  segmented.attention->kind = AttentionKind::Segmented;
  EXPECT_TRUE(Summarizer(demo_folder(), segmented).attention_differs_from_checkpoint());
}

TEST(CheckpointAttention, AuthorsBlockMeansSegmentedWithoutRafParameters) {
  EditableModelFolder folder(demo_folder());
  folder.edit_config([](nlohmann::json& j) { j["srformer"] = {{"split_size", 16}}; });
  const auto trained = checkpoint_cross_attention(folder.path());
  ASSERT_TRUE(trained.has_value());
  EXPECT_EQ(trained->kind, AttentionKind::Segmented);  // the demo weights have no SNN_kv
  EXPECT_EQ(trained->segment_size, 16);
  EXPECT_EQ(trained->gen_len, 128);
  EXPECT_EQ(trained->semantics, Semantics::Paper);
  const Summarizer summarizer(folder.path());
  EXPECT_EQ(summarizer.model().attention_options().kind, AttentionKind::Segmented);
  EXPECT_EQ(summarizer.model().attention_options().segment_size, 16);
  EXPECT_FALSE(summarizer.attention_differs_from_checkpoint());
  EXPECT_FALSE(summarizer.summarize(kDocument).text.empty());
}

TEST(CheckpointAttention, AuthorsBlockWithRafParametersIsSrformer) {
  const fs::path official = testing::data_dir() / "srformer-official" / "t5";
  const auto trained = checkpoint_cross_attention(official);
  ASSERT_TRUE(trained.has_value());
  EXPECT_EQ(trained->kind, AttentionKind::Srformer);
  EXPECT_EQ(trained->segment_size, 64);
  EXPECT_EQ(load_model(official, *trained)->attention_options().kind, AttentionKind::Srformer);

  // Our block wins over the authors' when both are there.
  EditableModelFolder folder(official);
  folder.edit_config([](nlohmann::json& j) { j["cross_attention"] = {{"kind", "full"}}; });
  EXPECT_EQ(checkpoint_cross_attention(folder.path())->kind, AttentionKind::Full);
  folder.edit_config([](nlohmann::json& j) { j["srformer"]["gen_len"] = "long"; j.erase("cross_attention"); });
  EXPECT_THROW(checkpoint_cross_attention(folder.path()), ConfigError);
}

TEST(CheckpointAttention, WhatCountsAsADifference) {
  auto full = attention::defaults_for(attention::ModelFlavor::T5);
  auto segmented = full;
  segmented.kind = AttentionKind::Segmented;
  EXPECT_FALSE(attention_differs(full, std::nullopt));
  EXPECT_TRUE(attention_differs(segmented, std::nullopt));
  EXPECT_FALSE(attention_differs(segmented, segmented));
  auto other_full = full;
  other_full.segment_size = 7;  // settings of segments do not matter to full attention
  EXPECT_FALSE(attention_differs(other_full, full));
  for (auto change : std::vector<std::function<void(attention::CrossAttentionOptions&)>>{
           [](auto& o) { o.segment_size = 32; }, [](auto& o) { o.gen_len = 64; },
           [](auto& o) { o.semantics = Semantics::Causal; }, [](auto& o) { o.kind = AttentionKind::Srformer; }}) {
    auto changed = segmented;
    change(changed);
    EXPECT_TRUE(attention_differs(changed, segmented));
  }
  EXPECT_EQ(describe(full), "full");
  EXPECT_EQ(describe(segmented), "segmented (s = 64, G = 128, paper)");
}

}  // namespace
}  // namespace srformer
