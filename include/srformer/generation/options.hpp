#pragma once
// Generation options: the subset of HuggingFace's GenerationConfig that
// summarization uses, with the same names, defaults and meaning (transformers
// 5.x `generate()` for encoder–decoder models, where the decoder prompt is the
// single decoder start token).
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "srformer/core/error.hpp"
#include "srformer/generation/decoder_session.hpp"

namespace srformer {

/// An invalid value of one named generation option. option() is HF's name of the field
/// (num_beams, eos_token_id, ...), so that a loader can say which file set it.
class GenerationOptionError : public OptionError {
 public:
  GenerationOptionError(std::string option, const std::string& message)
      : OptionError(message), option_(std::move(option)) {}
  const std::string& option() const { return option_; }

 private:
  std::string option_;
};

/// Largest num_beams GenerationOptions::validate() accepts.
inline constexpr std::int64_t kMaxNumBeams = std::int64_t{1} << 16;

/// HF's `early_stopping`: true, false or "never".
enum class EarlyStopping {
  kFalse,  ///< stop when no running beam can plausibly beat the finished ones (heuristic on the current length)
  kTrue,   ///< stop as soon as num_beams hypotheses are finished
  kNever,  ///< canonical beam search: stop only when no running beam can beat the finished ones at max length
};

inline std::string to_string(EarlyStopping value) {
  switch (value) {
    case EarlyStopping::kTrue: return "true";
    case EarlyStopping::kNever: return "never";
    case EarlyStopping::kFalse: break;
  }
  return "false";
}

/// Generation settings. Defaults are HF's global defaults (GenerationConfig in
/// transformers 5.x); `load_generation_options()` fills them from a model folder.
/// Floating-point settings are double because HF keeps them as Python floats.
struct GenerationOptions {
  // --- length ---------------------------------------------------------------------------
  /// Tokens to generate after the decoder start token; wins over max_length (HF precedence).
  std::optional<std::int64_t> max_new_tokens;
  /// Total decoder length limit, start token included. Unset = HF's model-agnostic default
  /// of 20 new tokens (max_length 20 + prompt length 1).
  std::optional<std::int64_t> max_length;
  /// Minimum number of generated tokens before eos may appear; wins over min_length.
  std::optional<std::int64_t> min_new_tokens;
  /// Minimum total decoder length (start token included) before eos may appear.
  std::int64_t min_length = 0;

  // --- strategy -------------------------------------------------------------------------
  std::int64_t num_beams = 1;
  std::int64_t num_return_sequences = 1;
  double length_penalty = 1.0;
  EarlyStopping early_stopping = EarlyStopping::kFalse;
  bool do_sample = false;
  /// Seed of the std::mt19937_64 used by sampling: one generator per generate() call,
  /// drawn in session row order. Reproducible, but the draws do not match PyTorch's RNG.
  std::uint64_t seed = 0;

  // --- logits processors ----------------------------------------------------------------
  std::int64_t no_repeat_ngram_size = 0;
  double repetition_penalty = 1.0;
  double temperature = 1.0;  ///< sampling only
  std::int64_t top_k = 50;   ///< sampling only; 0 disables
  double top_p = 1.0;        ///< sampling only; 1 disables

  // --- special tokens -------------------------------------------------------------------
  std::optional<TokenId> decoder_start_token_id;
  std::optional<TokenId> bos_token_id;
  std::vector<TokenId> eos_token_ids;  ///< HF's eos_token_id (an int or a list)
  std::optional<TokenId> pad_token_id;
  std::optional<TokenId> forced_bos_token_id;
  std::vector<TokenId> forced_eos_token_ids;  ///< HF's forced_eos_token_id (an int or a list)

  // --- outputs and text -----------------------------------------------------------------
  /// Greedy / sampling: keep every step's raw logits in GenerationResult::step_logits.
  bool output_logits = false;
  /// Text to put before each input (T5's "summarize: "); not used by the search itself.
  std::string prefix;

  /// Decoder length limit (start token included) as HF's `_prepare_generated_length` computes it.
  std::int64_t resolved_max_length() const {
    if (max_new_tokens) return saturating_increment(*max_new_tokens);
    if (max_length) return *max_length;
    return 20 + 1;
  }

  /// Minimum decoder length (start token included) below which eos is suppressed.
  std::int64_t resolved_min_length() const {
    return min_new_tokens ? saturating_increment(*min_new_tokens) : min_length;
  }

  /// The first decoder token: decoder_start_token_id, else bos_token_id (HF's fallback).
  TokenId resolved_decoder_start_token_id() const {
    if (decoder_start_token_id) return *decoder_start_token_id;
    if (bos_token_id) return *bos_token_id;
    throw GenerationOptionError(
        "decoder_start_token_id",
        "generation option decoder_start_token_id is not set (and bos_token_id, its fallback, is not set "
        "either): encoder-decoder generation needs the first decoder token");
  }

  /// Token appended to finished greedy / sampled rows: pad_token_id, else the first eos (as HF).
  std::optional<TokenId> resolved_pad_token_id() const {
    if (pad_token_id) return pad_token_id;
    if (!eos_token_ids.empty()) return eos_token_ids.front();
    return std::nullopt;
  }

  /// Throws GenerationOptionError (an OptionError) naming the first invalid option and its value.
  void validate() const;

  /// validate() without requiring a decoder start token: for defaults read from a
  /// file that config.json may still complete.
  void validate_values() const;

 private:
  // "+ 1 for the start token" on a count the user may set to the type's maximum
  // (meaning "no limit"); found by the generation fuzzer as a signed overflow.
  static std::int64_t saturating_increment(std::int64_t count) {
    return count == std::numeric_limits<std::int64_t>::max() ? count : count + 1;
  }
};

namespace detail {

template <typename T>
std::string option_value_string(const T& value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

template <typename T>
[[noreturn]] void throw_bad_option(const std::string& name, const T& value, const std::string& why) {
  throw GenerationOptionError(name,
                              "generation option " + name + " = " + option_value_string(value) + " is invalid: " + why);
}

inline void check_token_id(const std::string& name, const std::optional<TokenId>& id) {
  if (id && *id < 0) throw_bad_option(name, *id, "token ids must be >= 0");
}

inline void check_token_ids(const std::string& name, const std::vector<TokenId>& ids) {
  for (TokenId id : ids)
    if (id < 0) throw_bad_option(name, id, "token ids must be >= 0");
}

}  // namespace detail

inline void GenerationOptions::validate() const {
  validate_values();
  (void)resolved_decoder_start_token_id();  // throws when neither start nor bos is known
}

inline void GenerationOptions::validate_values() const {
  using detail::throw_bad_option;
  if (num_beams < 1) throw_bad_option("num_beams", num_beams, "must be >= 1");
  // Far above any useful beam width; it keeps batch * num_beams from overflowing, and the
  // Summarizer refuses what does not fit in memory before allocating.
  if (num_beams > kMaxNumBeams)
    throw_bad_option("num_beams", num_beams, "must be <= " + std::to_string(kMaxNumBeams));
  if (num_return_sequences < 1)
    throw_bad_option("num_return_sequences", num_return_sequences, "must be >= 1");
  if (num_beams == 1 && !do_sample && num_return_sequences > 1)
    throw_bad_option("num_return_sequences", num_return_sequences,
                     "greedy search (num_beams 1, do_sample false) returns exactly 1 sequence per input");
  if (num_beams > 1 && num_return_sequences > num_beams)
    throw_bad_option("num_return_sequences", num_return_sequences,
                     "must be <= num_beams (" + std::to_string(num_beams) + ")");
  if (max_new_tokens && *max_new_tokens <= 0)
    throw_bad_option("max_new_tokens", *max_new_tokens, "must be > 0");
  if (max_length && *max_length < 2)
    throw_bad_option("max_length", *max_length,
                     "must be >= 2: it counts the decoder start token, so at least one token can be generated");
  if (min_new_tokens && *min_new_tokens < 0)
    throw_bad_option("min_new_tokens", *min_new_tokens, "must be >= 0");
  if (min_length < 0) throw_bad_option("min_length", min_length, "must be >= 0");
  if (!std::isfinite(length_penalty)) throw_bad_option("length_penalty", length_penalty, "must be finite");
  if (no_repeat_ngram_size < 0)
    throw_bad_option("no_repeat_ngram_size", no_repeat_ngram_size, "must be >= 0 (0 disables)");
  if (!(repetition_penalty > 0.0) || !std::isfinite(repetition_penalty))
    throw_bad_option("repetition_penalty", repetition_penalty, "must be a finite number > 0 (1 disables)");
  // HF ignores temperature when not sampling (and treats 0 as "greedy"), so 0 is only an error when sampling.
  if (std::isnan(temperature) || temperature < 0.0 || std::isinf(temperature))
    throw_bad_option("temperature", temperature, "must be a finite number > 0");
  if (do_sample && temperature <= 0.0)
    throw_bad_option("temperature", temperature, "must be > 0 when do_sample is true (use do_sample=false for greedy)");
  if (top_k < 0) throw_bad_option("top_k", top_k, "must be >= 0 (0 disables)");
  if (!(top_p > 0.0 && top_p <= 1.0)) throw_bad_option("top_p", top_p, "must be in (0, 1] (1 disables)");
  detail::check_token_id("decoder_start_token_id", decoder_start_token_id);
  detail::check_token_id("bos_token_id", bos_token_id);
  detail::check_token_id("pad_token_id", pad_token_id);
  detail::check_token_id("forced_bos_token_id", forced_bos_token_id);
  detail::check_token_ids("eos_token_id", eos_token_ids);
  detail::check_token_ids("forced_eos_token_id", forced_eos_token_ids);
}

}  // namespace srformer
