// Regression tests of the hostile-inputs review (out-of-bounds config values, deep
// JSON, lost output, quadratic tokenizer input, dense vocabulary ids, numbers that
// size memory, terminal escapes, wrong blame). The command-line side of the same
// cases is in examples/summarize/run_hostile_input_test.cmake.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "reliability_support.hpp"
#include "srformer/core/printable.hpp"
#include "srformer/generation/options_loading.hpp"
#include "srformer/io/atomic_file.hpp"
#include "srformer/io/checkpoint.hpp"
#include "srformer/io/json.hpp"
#include "srformer/io/jsonl.hpp"
#include "srformer/models/seq2seq_model.hpp"
#include "srformer/nn/relative_position_bias.hpp"
#include "srformer/pipeline/summarizer.hpp"
#include "srformer/tokenizers/byte_level_bpe_tokenizer.hpp"
#include "srformer/tokenizers/load_tokenizer.hpp"

namespace srformer::reliability {
namespace {

using ::testing::AllOf;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SRFORMER_TEST_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SRFORMER_TEST_SANITIZED 1
#endif

bool has_control_bytes(const std::string& text) {
  for (const char c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) return true;
  return false;
}

// --- 1. Config values that index or size anything -----------------------------------

TEST(HostileConfig, RelativeAttentionMaxDistanceAtOrBelowHalfTheBucketsIsRefused) {
  ModelCopy copy(t5_tiny());
  for (const int distance : {7, 16, 1, 0, -3}) {
    copy.edit_json("config.json", [&](nlohmann::json& j) { j["relative_attention_max_distance"] = distance; });
    EXPECT_THAT(error_message<ConfigError>([&] { load_model(copy.path()); }),
                EndsWith("config.json: 'relative_attention_max_distance' must be greater than half of "
                         "'relative_attention_num_buckets' (16), got " + std::to_string(distance)));
  }
  // Not finite: JSON has no infinity; 1e400 is a parse error.
  copy.edit_json("config.json", [&](nlohmann::json& j) { j["relative_attention_max_distance"] = 12345; });
  std::string text = read_file(copy / "config.json");
  text.replace(text.find("12345"), 5, "1e400");
  write_file(copy / "config.json", text);
  EXPECT_THAT(error_message<FormatError>([&] { load_model(copy.path()); }),
              AllOf(HasSubstr("config.json: invalid JSON"), HasSubstr("number overflow parsing '1e400'")));
  write_file(copy / "config.json", read_file(t5_tiny() / "config.json"));
  copy.edit_json("config.json", [&](nlohmann::json& j) {
    j["relative_attention_max_distance"] = 17;  // the smallest valid value: loads and runs
  });
  const auto model = load_model(copy.path());
  const auto encoded = model->encode(TokenBatch::from_sequences({{5, 6, 7, 1}}, 0));
  EXPECT_EQ(encoded->hidden().rows(), 4);
}

TEST(HostileConfig, TooFewBucketsAndBadEpsilonAreRefused) {
  ModelCopy copy(t5_tiny());
  copy.edit_json("config.json", [](nlohmann::json& j) { j["relative_attention_num_buckets"] = 2; });
  EXPECT_THAT(error_message<ConfigError>([&] { load_model(copy.path()); }),
              EndsWith("'relative_attention_num_buckets' must be in [4, 65536], got 2"));
  copy.edit_json("config.json", [](nlohmann::json& j) {
    j["relative_attention_num_buckets"] = 32;
    j["layer_norm_epsilon"] = -1;
  });
  EXPECT_THAT(error_message<ConfigError>([&] { load_model(copy.path()); }),
              EndsWith("'layer_norm_epsilon' must be a positive finite number, got -1"));
  copy.edit_json("config.json", [](nlohmann::json& j) { j["layer_norm_epsilon"] = 0; });
  EXPECT_THAT(error_message<ConfigError>([&] { load_model(copy.path()); }), HasSubstr("'layer_norm_epsilon'"));
}

TEST(HostileConfig, SizesAndSpecialIdsAreBoundedByName) {
  ModelCopy copy(t5_tiny());
  const std::vector<std::pair<std::string, nlohmann::json>> cases = {
      {"vocab_size", 4294967296LL}, {"d_model", 1LL << 40},      {"d_kv", 1LL << 40}, {"num_heads", 1LL << 40},
      {"num_layers", 100000},       {"d_ff", 1LL << 40},         {"pad_token_id", 1000},
      {"eos_token_id", 5000},       {"decoder_start_token_id", -1}};
  for (const auto& edit : cases) {
    const std::string& key = edit.first;
    copy.edit_json("config.json", [&](nlohmann::json& j) {
      j = nlohmann::json::parse(read_file(t5_tiny() / "config.json"));
      j[edit.first] = edit.second;
    });
    EXPECT_THAT(error_message<ConfigError>([&] { load_model(copy.path()); }), HasSubstr("'" + key + "'")) << key;
  }
}

TEST(HostileConfig, AnEosTokenIdListIsAccepted) {
  // transformers writes a list for models with several end tokens.
  ModelCopy copy(t5_tiny());
  copy.edit_json("config.json", [](nlohmann::json& j) { j["eos_token_id"] = {1, 7}; });
  const ModelConfig config = load_model_config(copy.path());
  EXPECT_EQ(config.eos_token_id, 1);
  EXPECT_EQ(config.eos_token_ids, (std::vector<std::int32_t>{1, 7}));
  copy.edit_json("config.json", [](nlohmann::json& j) { j["eos_token_id"] = {1, "two"}; });
  EXPECT_THAT(error_message<ConfigError>([&] { load_model_config(copy.path()); }),
              HasSubstr("'eos_token_id' must be a token id or a list of token ids, got [1,\"two\"]"));
}

TEST(HostileConfig, TheBucketFunctionIsTotal) {
  // Whatever the arguments (including the settings the config now refuses), the
  // bucket is an index into the table.
  for (const Index buckets : {Index{0}, Index{1}, Index{2}, Index{3}, Index{4}, Index{32}, Index{33}})
    for (const Index distance : {std::numeric_limits<Index>::min(), Index{-5}, Index{0}, Index{1}, Index{7},
                                 Index{16}, Index{17}, Index{128}, std::numeric_limits<Index>::max()})
      for (const Index rel : {std::numeric_limits<Index>::min(), Index{-1000000}, Index{-17}, Index{-1}, Index{0},
                              Index{1}, Index{100}, std::numeric_limits<Index>::max()})
        for (const bool bidirectional : {true, false}) {
          const Index bucket = nn::relative_position_bucket(rel, bidirectional, buckets, distance);
          EXPECT_GE(bucket, 0) << buckets << " " << distance << " " << rel;
          EXPECT_LT(bucket, std::max<Index>(buckets, 1)) << buckets << " " << distance << " " << rel;
        }
  // Valid settings give HF's buckets (spot values of HF's _relative_position_bucket, 32 buckets, 128).
  EXPECT_EQ(nn::relative_position_bucket(-1, false, 32, 128), 1);
  EXPECT_EQ(nn::relative_position_bucket(-20, false, 32, 128), 17);
  EXPECT_EQ(nn::relative_position_bucket(-500, false, 32, 128), 31);
  EXPECT_EQ(nn::relative_position_bucket(3, true, 32, 128), 19);
  EXPECT_EQ(nn::relative_position_bucket(-3, true, 32, 128), 3);
}

// --- 2. JSON nested deeper than the serializer survives -------------------------------

TEST(HostileJson, DeepNestingIsAnErrorNamingTheSource) {
  const std::string deep = "{\"document\": \"x\", \"n\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_THAT(error_message<FormatError>([&] { io::parse_json(deep, "file deep.json"); }),
              StartsWith("file deep.json: invalid JSON: arrays/objects nest deeper than 128 levels (line 1)"));
  io::JsonlFormat format;
  format.name = "docs.jsonl";
  EXPECT_THAT(error_message<InputError>([&] { io::read_jsonl_records("{\"document\": \"a\"}\n\n" + deep, format); }),
              StartsWith("docs.jsonl line 3: invalid JSON: arrays/objects nest deeper than 128 levels"));
  // Brackets inside strings do not count; 128 levels are fine.
  EXPECT_NO_THROW(io::parse_json("[\"" + std::string(1000, '[') + "\"]", "strings"));
  EXPECT_NO_THROW(io::parse_json(std::string(128, '[') + std::string(128, ']'), "128 levels"));
  ModelCopy copy(t5_tiny());
  write_file(copy / "config.json", "{\"d_model\": " + std::string(5000, '[') + std::string(5000, ']') + "}");
  EXPECT_THAT(error_message<FormatError>([&] { load_model(copy.path()); }), HasSubstr("nest deeper than 128"));
}

TEST(HostileJson, JsonlRoundTripKeepsFieldsAndReplacesInvalidUtf8) {
  io::JsonlFormat format;
  const auto records = io::read_jsonl_records("{\"id\": 3, \"document\": \"caf\\u00e9\", \"z\": [1]}\n", format);
  ASSERT_EQ(records.size(), 1U);
  EXPECT_EQ(io::jsonl_document(records[0], format), "caf\xC3\xA9");
  EXPECT_EQ(io::jsonl_with_summary(records[0], format, "ok \xFF"),
            "{\"id\":3,\"document\":\"caf\xC3\xA9\",\"z\":[1],\"summary_text\":\"ok \xEF\xBF\xBD\"}");
}

// --- 3. Output files are replaced atomically ----------------------------------------

TEST(HostileOutput, AFailedWriteLeavesTheFileAsItWas) {
  ScratchDir dir;
  write_file(dir / "out.jsonl", "previous\n");
  {
    io::AtomicFileWriter writer(dir / "out.jsonl");
    writer.stream() << "half of the new results";
    // No commit: as when a later batch throws.
  }
  EXPECT_EQ(read_file(dir / "out.jsonl"), "previous\n");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1) << "temporary file left";
  {
    io::AtomicFileWriter writer(dir / "out.jsonl");
    writer.stream() << "new\n";
    writer.commit();
  }
  EXPECT_EQ(read_file(dir / "out.jsonl"), "new\n");
}

TEST(HostileOutput, LinksAreFollowedAndModesKept) {
  ScratchDir dir;
  write_file(dir / "target.txt", "old");
  ::chmod((dir / "target.txt").c_str(), 0640);
  fs::create_symlink(dir / "target.txt", dir / "link.txt");
  io::write_file_atomically(dir / "link.txt", "new");
  EXPECT_TRUE(fs::is_symlink(dir / "link.txt"));
  EXPECT_EQ(read_file(dir / "target.txt"), "new");
  struct stat info {};
  ASSERT_EQ(::stat((dir / "target.txt").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0640U);
  EXPECT_THAT(error_message<InputError>([&] { io::AtomicFileWriter writer(dir.path()); }),
              HasSubstr("is a directory"));
  EXPECT_THAT(error_message<InputError>([&] { io::AtomicFileWriter writer(dir / "no" / "such" / "folder.txt"); }),
              HasSubstr("cannot create a temporary file"));
  io::write_file_atomically("/dev/null", "discarded");  // devices are written directly
}

// --- 4. Work per document bounded before tokenizing ---------------------------------

TEST(HostileText, OnlyTheDocumentsFirstBytesAreTokenized) {
  const Summarizer summarizer(t5_demo());
  EXPECT_EQ(summarizer.max_document_bytes(), 512 * kDocumentBytesPerToken);
  std::string marks = "a";
  for (int i = 0; i < 1000000; ++i) marks += "\xCC\x81";  // U+0301: quadratic in SentencePiece 0.1.97
  GenerationOptions options = summarizer.default_options();
  options.max_new_tokens = 3;
  const Summary summary = summarizer.summarize(marks, options);
  EXPECT_TRUE(summary.input_truncated);
  // The cut falls on a character boundary: 32768 is odd after the 'a', so one byte less.
  EXPECT_EQ(summary.document_bytes_dropped, static_cast<Index>(marks.size()) - 32767);
  // A document that fits is untouched and reports nothing dropped.
  const Summary small = summarizer.summarize(std::string("#Person1#: Hi.\n#Person2#: Hello."), options);
  EXPECT_EQ(small.document_bytes_dropped, 0);
  EXPECT_FALSE(small.input_truncated);
  // Invalid UTF-8 past the cut is never looked at; before it, it is still an error.
  const std::string tail_invalid = std::string(40000, 'x') + "\xFF";
  EXPECT_NO_THROW(summarizer.summarize(tail_invalid, options));
  EXPECT_THROW(summarizer.summarize(std::string("\xFF") + std::string(40000, 'x'), options), TokenizerError);
}

// --- 5. Vocabulary ids define the vocabulary -----------------------------------------

TEST(HostileTokenizer, VocabularyIdsOutsideTheFileAreFormatErrors) {
  ScratchDir dir;
  write_file(dir / "merges.txt", "#version: 0.2\n");
  for (const std::string id : {"2147483647", "100000000", "3"}) {
    write_file(dir / "vocab.json", "{\"a\": 0, \"b\": 1, \"c\": " + id + "}");
    EXPECT_THAT(error_message<FormatError>([&] { ByteLevelBpeTokenizer(dir / "vocab.json", dir / "merges.txt"); }),
                AllOf(HasSubstr("vocab.json"), HasSubstr("token 'c' has id " + id),
                      HasSubstr("outside the vocabulary the file defines [0, 3)")));
  }
  // tokenizer.json: an added token far past the vocabulary.
  nlohmann::json root = nlohmann::json::parse(R"({
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []},
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
    "decoder": {"type": "ByteLevel"},
    "added_tokens": [{"id": 2147483647, "content": "<big>", "special": true}]})");
  EXPECT_THAT(error_message<FormatError>([&] { ByteLevelBpeTokenizer(root, "tokenizer.json"); }),
              HasSubstr("added token '<big>' has id 2147483647, outside the vocabulary the file defines [0, 3)"));
}

// --- 6. Memory is asked for by the input, not by a number ----------------------------

TEST(HostileNumbers, TheSelfAttentionCacheGrowsWithDecoding) {
  const auto weights = load_model_weights(t5_tiny());
  const EncoderDecoder<attention::FullCrossAttention> model(weights, attention::defaults_for(attention::ModelFlavor::T5));
  const auto encoded = model.encode(TokenBatch::from_sequences({{5, 6, 1}}, 0));
  auto state = model.start(*encoded, {0}, /*expected_length=*/1000000000);
  EXPECT_EQ(state.self_cache.front().capacity(), 256);
  RowMatrix logits;
  std::vector<TokenId> token{0};
  for (int step = 0; step < 300; ++step) model.decode(*encoded, state, token, 1, attention::QueryMode::Incremental, logits);
  EXPECT_EQ(state.self_cache.front().length(), 300);
  EXPECT_EQ(state.self_cache.front().capacity(), 512);
}

TEST(HostileNumbers, OptionsThatWouldSizeMemoryAreBounded) {
  attention::CrossAttentionOptions attention = attention::defaults_for(attention::ModelFlavor::T5);
  attention.segment_size = 1000000000;
  EXPECT_THAT(error_message<OptionError>([&] { attention.validate(); }),
              StartsWith("cross-attention segment size 1000000000 is larger than 65536"));
  GenerationOptions options;
  options.decoder_start_token_id = 0;
  options.num_beams = 100000;
  EXPECT_EQ(error_message<OptionError>([&] { options.validate(); }),
            "generation option num_beams = 100000 is invalid: must be <= 65536");
}

TEST(HostileNumbers, ABatchOrBeamCountAboveTheMemoryLimitIsRefusedByName) {
  SummarizerOptions limits;
  limits.memory_limit_bytes = std::uint64_t{64} << 20;
  const Summarizer summarizer(t5_demo(), limits);
  const std::string long_document = [] {
    std::string text;
    for (int i = 0; i < 400; ++i) text += "#Person1#: Shall we meet on day " + std::to_string(i) + "? ";
    return text;
  }();
  GenerationOptions options = summarizer.default_options();
  options.max_new_tokens = 2;
  EXPECT_THAT(error_message<ResourceError>(
                  [&] { summarizer.summarize(std::vector<std::string>(64, long_document), options); }),
              AllOf(StartsWith("encoding a batch of 64 documents padded to 512 tokens needs about"),
                    HasSubstr("more than the memory limit of 64.0 MiB"),
                    EndsWith("summarize fewer documents at a time")));
  options.num_beams = 20000;
  EXPECT_THAT(error_message<ResourceError>([&] { summarizer.summarize(std::string("Hello."), options); }),
              AllOf(HasSubstr("with num_beams = 20000 (20000 hypotheses) needs about"),
                    EndsWith("lower num_beams or summarize fewer documents at a time")));
  // The Summarizer stays usable.
  options.num_beams = 2;
  EXPECT_FALSE(summarizer.summarize(std::string("Hello."), options).ids.empty());
}

TEST(HostileNumbers, RunningOutOfMemoryIsAResourceErrorSayingWhatWasDone) {
#ifdef SRFORMER_TEST_SANITIZED
  GTEST_SKIP() << "sanitizer runtimes reserve terabytes of address space: an address-space limit breaks them";
#else
  // In a child process with a 1.5 GiB address-space limit and the estimate switched
  // off, a batch that needs more must end in a ResourceError, not a bare bad_alloc.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int code = 3;
    try {
      SummarizerOptions limits;
      limits.memory_limit_bytes = 0;  // not checked: only the allocation can fail
      const Summarizer summarizer(t5_demo(), limits);
      struct rlimit limit {};
      limit.rlim_cur = limit.rlim_max = rlim_t{3} << 29;
      ::setrlimit(RLIMIT_AS, &limit);
      std::string text;
      for (int i = 0; i < 400; ++i) text += "#Person1#: Shall we meet on day " + std::to_string(i) + "? ";
      GenerationOptions options = summarizer.default_options();
      options.max_new_tokens = 2;
      summarizer.summarize(std::vector<std::string>(512, text), options);
      code = 1;
    } catch (const ResourceError& error) {
      if (const char* print = std::getenv("SRFORMER_PRINT_ERRORS"); print && *print == '1')
        std::fprintf(stderr, "[child] ResourceError: %s\n", error.what());
      code = std::string(error.what()).rfind("out of memory while encoding a batch of 512 documents", 0) == 0 ? 0 : 2;
    } catch (...) {
      code = 4;
    }
    std::_Exit(code);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: no error, 2: wrong message, 3: setup failed, 4: another exception";
#endif
}

// --- 7. File content in messages cannot drive the terminal ---------------------------

TEST(HostileMessages, ControlBytesFromFilesAreEscaped) {
  ModelCopy copy(t5_tiny());
  copy.edit_json("config.json", [](nlohmann::json& j) { j["model_type"] = "t5\x1b[2J\x1b]0;owned\x07"; });
  const std::string model_type = error_message<ConfigError>([&] { load_model(copy.path()); });
  EXPECT_THAT(model_type, HasSubstr("unsupported model_type 't5\\x1b[2J\\x1b]0;owned\\x07'"));
  EXPECT_FALSE(has_control_bytes(model_type));

  ScratchDir dir;
  write_file(dir / "vocab.json", R"({"a": 0, "b": 1, "ab": 2})");
  write_file(dir / "merges.txt", "#version: 0.2\na \x1b[31mb\n");
  const std::string merges =
      error_message<FormatError>([&] { ByteLevelBpeTokenizer(dir / "vocab.json", dir / "merges.txt"); });
  EXPECT_THAT(merges, HasSubstr("\\x1b[31mb"));
  EXPECT_FALSE(has_control_bytes(merges));

  // A tensor name with a C1 control (U+009B, CSI) and invalid UTF-8.
  copy.edit_safetensors_header("model.safetensors", [](nlohmann::json& header) {
    header["bad\xC2\x9B" "name"] = header["shared.weight"];
  });
  const std::string tensor =
      error_message<FormatError>([&] { io::SafetensorsFile::open(copy / "model.safetensors"); });
  EXPECT_THAT(tensor, HasSubstr("bad\\xc2\\x9bname"));
  EXPECT_EQ(printable("ok \xE2\x82\xAC \xFF\\"), "ok \xE2\x82\xAC \\xff\\\\");
  EXPECT_EQ(quote(std::string(300, 'x')).size(), 2 + 200 + std::string("... (100 more bytes)").size());
}

// --- 8. Blame: the file that holds a bad value is named ------------------------------

struct BadGenerationValue {
  const char* json;
  const char* option;
};

TEST(HostileBlame, BadGenerationConfigValuesNameTheFile) {
  const BadGenerationValue cases[] = {
      {R"({"eos_token_id": 8000})", "eos_token_id"},
      {R"({"eos_token_id": [1, 9000]})", "eos_token_id"},
      {R"({"decoder_start_token_id": 8000})", "decoder_start_token_id"},
      {R"({"pad_token_id": 8001})", "pad_token_id"},
      {R"({"forced_bos_token_id": 8000})", "forced_bos_token_id"},
      {R"({"forced_eos_token_id": 12345})", "forced_eos_token_id"},
      {R"({"repetition_penalty": 0})", "repetition_penalty"},
      {R"({"repetition_penalty": -1.5})", "repetition_penalty"},
      {R"({"top_p": 0})", "top_p"},
      {R"({"top_k": -1})", "top_k"},
      {R"({"do_sample": true, "temperature": 0})", "temperature"},
      {R"({"temperature": -1})", "temperature"},
      {R"({"max_length": -5})", "max_length"},
      {R"({"max_new_tokens": 0})", "max_new_tokens"},
      {R"({"min_new_tokens": -1})", "min_new_tokens"},
      {R"({"min_length": -2})", "min_length"},
      {R"({"no_repeat_ngram_size": -1})", "no_repeat_ngram_size"},
      {R"({"num_beams": 2, "num_return_sequences": 3})", "num_return_sequences"},
      {R"({"num_beams": 0})", "num_beams"},
  };
  ModelCopy copy(t5_demo());
  for (const BadGenerationValue& bad : cases) {
    write_file(copy / "generation_config.json", bad.json);
    EXPECT_THAT(error_message<ConfigError>([&] { Summarizer summarizer(copy.path()); }),
                StartsWith((copy / "generation_config.json").string() + ": generation option " + bad.option))
        << bad.json;
  }
  // A value from config.json's task_specific_params names that part of config.json.
  fs::remove(copy / "generation_config.json");
  copy.edit_json("config.json", [](nlohmann::json& j) {
    j["task_specific_params"] = {{"summarization", {{"num_beams", -4}}}};
  });
  EXPECT_THAT(error_message<ConfigError>([&] { Summarizer summarizer(copy.path()); }),
              StartsWith((copy / "config.json").string() + " task_specific_params.summarization: generation option "
                                                           "num_beams = -4 is invalid"));
}

TEST(HostileBlame, FilesThatAreNotFilesAreNamedForWhatTheyAre) {
  ModelCopy copy(t5_demo());
  // A shard that is a folder, a FIFO, a link loop.
  const fs::path shard = copy / "model-00002-of-00004.safetensors";
  fs::remove(shard);
  fs::create_directory(shard);
  EXPECT_THAT(error_message<FormatError>([&] { load_model(copy.path()); }),
              HasSubstr("shard 'model-00002-of-00004.safetensors' listed in model.safetensors.index.json (for tensor"));
  EXPECT_THAT(error_message<FormatError>([&] { load_model(copy.path()); }), EndsWith("is a directory, not a file"));
  fs::remove(shard);
  ASSERT_EQ(::mkfifo(shard.c_str(), 0600), 0);
  EXPECT_THAT(error_message<FormatError>([&] { load_model(copy.path()); }),
              EndsWith("is a FIFO (named pipe), not a regular file"));
  fs::remove(shard);
  fs::create_symlink(copy / "loop-b", copy / "loop-a");
  fs::create_symlink(copy / "loop-a", copy / "loop-b");
  fs::create_symlink(copy / "loop-a", shard);
  EXPECT_THAT(error_message<FormatError>([&] { load_model(copy.path()); }),
              EndsWith("is a symbolic link loop (too many levels of symbolic links)"));
  // The same for config.json and generation_config.json.
  fs::remove(copy / "generation_config.json");
  fs::create_symlink(copy / "loop-a", copy / "generation_config.json");
  EXPECT_THAT(error_message<FormatError>([&] { load_generation_options(copy.path().string()); }),
              EndsWith("generation_config.json is a symbolic link loop (too many levels of symbolic links)"));
}

}  // namespace
}  // namespace srformer::reliability
