// Fuzzes generation options: every GenerationOptions field is drawn from the
// input (mostly near the interesting range, sometimes any value of its type,
// NaN and infinities for the doubles). validate() must accept or throw
// OptionError; options it accepts must then generate without anything but a
// srformer::Error escaping, over either
//   - the hf-tiny t5_tiny model (vocab 1000) on a fuzzed input batch, or
//   - a mock DecoderSession whose logits come from the input (any floats,
//     -inf rows, NaN), which is what a broken or adversarial model could return.
// Lengths and beam counts are bounded so that one input stays fast; options
// past the bounds are only validated.
#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "srformer/generation/options.hpp"
#include "srformer/generation/search.hpp"
#include "srformer/models/seq2seq_model.hpp"
#include "srformer/models/token_batch.hpp"

namespace {

using srformer::Index;
using srformer::TokenId;
using srformer::fuzz::fuzz_require;

constexpr Index kMaxBeams = 4;
constexpr std::int64_t kMaxLength = 8;  // decoder tokens, start token included
constexpr Index kMockVocab = 7;

const srformer::Seq2SeqModel& tiny_model() {
  static const std::shared_ptr<const srformer::Seq2SeqModel> model =
      srformer::load_model(std::string(SRFORMER_FUZZ_DATA_DIR) + "/hf-tiny/t5_tiny");
  return *model;
}

std::int64_t draw_int(FuzzedDataProvider& in, std::int64_t low, std::int64_t high) {
  if (in.ConsumeIntegralInRange<int>(0, 15) == 0) return in.ConsumeIntegral<std::int64_t>();
  return in.ConsumeIntegralInRange<std::int64_t>(low, high);
}

double draw_double(FuzzedDataProvider& in, double low, double high) {
  switch (in.ConsumeIntegralInRange<int>(0, 9)) {
    case 0: return std::numeric_limits<double>::quiet_NaN();
    case 1: return in.ConsumeBool() ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
    case 2: return in.ConsumeFloatingPoint<double>();
    case 3: return in.ConsumeBool() ? 0.0 : 1.0;
    case 4: return in.ConsumeBool() ? std::numeric_limits<double>::denorm_min() : 1e-300;
    default: return in.ConsumeFloatingPointInRange<double>(low, high);
  }
}

TokenId draw_token(FuzzedDataProvider& in, Index vocab) {
  if (in.ConsumeIntegralInRange<int>(0, 15) == 0) return in.ConsumeIntegral<TokenId>();
  return static_cast<TokenId>(in.ConsumeIntegralInRange<Index>(-1, vocab));
}

std::optional<std::int64_t> maybe_int(FuzzedDataProvider& in, std::int64_t low, std::int64_t high) {
  if (!in.ConsumeBool()) return std::nullopt;
  return draw_int(in, low, high);
}

std::optional<TokenId> maybe_token(FuzzedDataProvider& in, Index vocab) {
  if (!in.ConsumeBool()) return std::nullopt;
  return draw_token(in, vocab);
}

std::vector<TokenId> token_list(FuzzedDataProvider& in, Index vocab) {
  std::vector<TokenId> ids(in.ConsumeIntegralInRange<std::size_t>(0, 3));
  for (TokenId& id : ids) id = draw_token(in, vocab);
  return ids;
}

srformer::GenerationOptions draw_options(FuzzedDataProvider& in, Index vocab) {
  srformer::GenerationOptions o;
  o.max_new_tokens = maybe_int(in, -1, kMaxLength);
  o.max_length = maybe_int(in, 0, kMaxLength + 1);
  o.min_new_tokens = maybe_int(in, -1, kMaxLength);
  o.min_length = draw_int(in, -1, kMaxLength);
  o.num_beams = draw_int(in, 0, kMaxBeams + 1);
  o.num_return_sequences = draw_int(in, 0, kMaxBeams + 1);
  o.length_penalty = draw_double(in, -3.0, 3.0);
  o.early_stopping = static_cast<srformer::EarlyStopping>(in.ConsumeIntegralInRange<int>(0, 2));
  o.do_sample = in.ConsumeBool();
  o.seed = in.ConsumeIntegral<std::uint64_t>();
  o.no_repeat_ngram_size = draw_int(in, -1, 4);
  o.repetition_penalty = draw_double(in, -1.0, 3.0);
  o.temperature = draw_double(in, -0.5, 3.0);
  o.top_k = draw_int(in, -1, vocab + 1);
  o.top_p = draw_double(in, -0.1, 1.1);
  o.decoder_start_token_id = maybe_token(in, vocab);
  o.bos_token_id = maybe_token(in, vocab);
  o.eos_token_ids = token_list(in, vocab);
  o.pad_token_id = maybe_token(in, vocab);
  o.forced_bos_token_id = maybe_token(in, vocab);
  o.forced_eos_token_ids = token_list(in, vocab);
  o.output_logits = in.ConsumeBool();
  return o;
}

std::string describe(const srformer::GenerationOptions& o) {
  const auto opt = [](const auto& v) { return v ? std::to_string(*v) : std::string("unset"); };
  const auto list = [](const std::vector<TokenId>& ids) {
    std::string text = "[";
    for (const TokenId id : ids) text += (text.size() > 1 ? "," : "") + std::to_string(id);
    return text + "]";
  };
  return "max_new_tokens=" + opt(o.max_new_tokens) + " max_length=" + opt(o.max_length) +
         " min_new_tokens=" + opt(o.min_new_tokens) + " min_length=" + std::to_string(o.min_length) +
         " num_beams=" + std::to_string(o.num_beams) + " num_return_sequences=" + std::to_string(o.num_return_sequences) +
         " length_penalty=" + std::to_string(o.length_penalty) + " early_stopping=" + srformer::to_string(o.early_stopping) +
         " do_sample=" + std::to_string(o.do_sample) + " no_repeat_ngram_size=" + std::to_string(o.no_repeat_ngram_size) +
         " repetition_penalty=" + std::to_string(o.repetition_penalty) + " temperature=" + std::to_string(o.temperature) +
         " top_k=" + std::to_string(o.top_k) + " top_p=" + std::to_string(o.top_p) +
         " decoder_start_token_id=" + opt(o.decoder_start_token_id) + " bos_token_id=" + opt(o.bos_token_id) +
         " eos_token_id=" + list(o.eos_token_ids) + " pad_token_id=" + opt(o.pad_token_id) +
         " forced_bos_token_id=" + opt(o.forced_bos_token_id) + " forced_eos_token_id=" + list(o.forced_eos_token_ids);
}

bool small_enough(const srformer::GenerationOptions& o) {
  if (o.num_beams > kMaxBeams || o.num_return_sequences > kMaxBeams) return false;
  if (o.max_new_tokens) return *o.max_new_tokens < kMaxLength;
  if (o.max_length) return *o.max_length <= kMaxLength;
  return false;  // the default of 20 new tokens is long for a fuzz run
}

/// Logits straight from the input: any float, including NaN and infinities.
class FuzzedLogitsSession final : public srformer::DecoderSession {
 public:
  FuzzedLogitsSession(Index rows, FuzzedDataProvider& in) : rows_(rows), in_(in) {}
  Index rows() const override { return rows_; }
  Index vocab_size() const override { return kMockVocab; }
  Index position() const override { return position_; }
  const srformer::RowMatrix& step(const std::vector<TokenId>& tokens) override {
    fuzz_require(static_cast<Index>(tokens.size()) == rows_, "step gets one token per row");
    for (const TokenId t : tokens) fuzz_require(t >= 0 && t < kMockVocab, "search feeds in-vocabulary tokens");
    logits_.resize(rows_, kMockVocab);
    for (Index r = 0; r < rows_; ++r)
      for (Index v = 0; v < kMockVocab; ++v) {
        const int pick = in_.ConsumeIntegralInRange<int>(0, 15);
        logits_(r, v) = pick == 0   ? std::numeric_limits<float>::quiet_NaN()
                        : pick == 1 ? -std::numeric_limits<float>::infinity()
                        : pick == 2 ? std::numeric_limits<float>::infinity()
                        : pick == 3 ? in_.ConsumeFloatingPoint<float>()
                                    : in_.ConsumeFloatingPointInRange<float>(-10.0f, 10.0f);
      }
    ++position_;
    return logits_;
  }
  void reorder(const std::vector<Index>& source) override {
    for (const Index s : source) fuzz_require(s >= 0 && s < rows_, "reorder sources are existing rows");
    rows_ = static_cast<Index>(source.size());
  }

 private:
  Index rows_;
  Index position_ = 0;
  FuzzedDataProvider& in_;
  srformer::RowMatrix logits_;
};

void check_result(const srformer::GenerationResult& result, const srformer::GenerationOptions& o, Index batch,
                  Index vocab) {
  if (std::getenv("SRFORMER_FUZZ_VERBOSE")) {
    std::fprintf(stderr, "options: %s\n", describe(o).c_str());
    for (const auto& s : result.sequences) {
      std::fprintf(stderr, "  row:");
      for (const TokenId id : s) std::fprintf(stderr, " %d", id);
      std::fprintf(stderr, "\n");
    }
  }
  const Index per_input = (o.num_beams > 1 || o.do_sample) ? o.num_return_sequences : 1;
  fuzz_require(result.rows() == batch * per_input, "one result row per input and returned sequence");
  fuzz_require(result.generated_lengths.size() == result.sequences.size(), "a generated length per row");
  const TokenId start = o.resolved_decoder_start_token_id();
  for (std::size_t r = 0; r < result.sequences.size(); ++r) {
    const auto& s = result.sequences[r];
    fuzz_require(!s.empty() && s.front() == start, "every row starts with the decoder start token");
    fuzz_require(static_cast<std::int64_t>(s.size()) <= o.resolved_max_length(), "rows respect the length limit");
    // Beam search may leave a returned slot unfilled when every candidate scored -inf
    // (documented in beam_search.hpp): start token only, the "never finished" score.
    const bool unfilled_beam_slot = result.generated_lengths[r] == 0 && !result.sequences_scores.empty() &&
                                    result.sequences_scores[r] <= -1e8f;
    fuzz_require((result.generated_lengths[r] >= 1 || unfilled_beam_slot) &&
                     result.generated_lengths[r] < static_cast<Index>(s.size()),
                 "generated length " + std::to_string(result.generated_lengths[r]) + " of row " + std::to_string(r) +
                     " within the row of " + std::to_string(s.size()) + " tokens (num_beams " +
                     describe(o) + ")");
    for (const TokenId id : s) fuzz_require(id >= 0 && id < vocab, "generated ids are in the vocabulary");
  }
  if (!result.sequences_scores.empty())
    fuzz_require(result.sequences_scores.size() == result.sequences.size(), "a beam score per row");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)tiny_model();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const bool use_model = in.ConsumeBool();
  const Index vocab = use_model ? tiny_model().config().vocab_size : kMockVocab;
  const srformer::GenerationOptions options = draw_options(in, vocab);

  bool valid = false;
  try {
    options.validate();
    valid = true;
  } catch (const srformer::OptionError&) {
  } catch (const std::exception& error) {
    srformer::fuzz::finding(std::string("validate() threw something other than OptionError: ") + error.what());
  }
  if (!valid || !small_enough(options)) return 0;

  const Index batch = in.ConsumeIntegralInRange<Index>(1, 2);
  const Index rows = batch * options.num_beams;
  srformer::fuzz::expect_only_srformer_errors([&] {
    if (use_model) {
      std::vector<std::vector<TokenId>> inputs(static_cast<std::size_t>(batch));
      for (auto& input : inputs) {
        input.resize(in.ConsumeIntegralInRange<std::size_t>(1, 6));
        // Mostly real ids; sometimes one past the vocabulary, which encode() must refuse.
        for (TokenId& id : input) id = static_cast<TokenId>(in.ConsumeIntegralInRange<Index>(0, vocab));
      }
      const auto& model = tiny_model();
      const auto encoded = model.encode(srformer::TokenBatch::from_sequences(inputs, 0));
      std::vector<Index> memory_rows(static_cast<std::size_t>(rows));
      for (Index r = 0; r < rows; ++r) memory_rows[static_cast<std::size_t>(r)] = r / options.num_beams;
      const auto session = model.start_decoding(encoded, memory_rows, options.resolved_max_length());
      check_result(srformer::generate(*session, batch, options), options, batch, vocab);
    } else {
      FuzzedLogitsSession session(rows, in);
      check_result(srformer::generate(session, batch, options), options, batch, vocab);
    }
  });
  return 0;
}
