#pragma once
// Text in, summary out: a HuggingFace model folder (config.json, safetensors,
// spiece.model / tokenizer.json / vocab.json + merges.txt, generation_config.json)
// becomes a Summarizer that tokenizes documents, encodes them once as one padded
// batch, runs greedy / beam / sampled generation and decodes the ids to text.
//
// The model and tokenizer are immutable after loading and every call keeps its
// state (batch, encoder output, decoder session) local, so one Summarizer may
// serve concurrent calls from several threads.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "srformer/attention/flop_counter.hpp"
#include "srformer/attention/kv_cache.hpp"
#include "srformer/attention/options.hpp"
#include "srformer/core/error.hpp"
#include "srformer/core/printable.hpp"
#include "srformer/generation/options.hpp"
#include "srformer/generation/options_loading.hpp"
#include "srformer/generation/detail/session_checks.hpp"
#include "srformer/generation/search.hpp"
#include "srformer/generation/token_callback.hpp"
#include "srformer/models/config.hpp"
#include "srformer/models/load.hpp"
#include "srformer/models/seq2seq_model.hpp"
#include "srformer/models/token_batch.hpp"
#include "srformer/pipeline/detail/memory_estimate.hpp"
#include "srformer/tokenizers/detail/utf8.hpp"
#include "srformer/tokenizers/load_tokenizer.hpp"
#include "srformer/tokenizers/tokenizer.hpp"

namespace srformer {

/// Load-time settings of a Summarizer.
struct SummarizerOptions {
  /// Cross-attention of the loaded model. Unset: the one the checkpoint was trained
  /// with when config.json names it (checkpoint_cross_attention: our "cross_attention"
  /// block or the SRformer authors' "srformer" block), else full attention with the
  /// authors' defaults for the family (attention::defaults_for). To change one setting
  /// of the checkpoint's, start from cross_attention_options_from_config(folder).
  std::optional<attention::CrossAttentionOptions> attention;
  /// config.json task_specific_params entry whose generation settings and prefix
  /// are applied on top of generation_config.json ("" for none).
  std::string task = "summarization";
  /// Longest model input in tokens, special tokens included; longer documents are
  /// cut (their final </s> kept). Unset: tokenizer_config.json's model_max_length
  /// when it is a real limit, else 512 for T5 and max_position_embeddings for BART.
  std::optional<Index> max_input_tokens;
  /// Longest document in bytes that goes to the tokenizer; the rest is dropped before
  /// tokenizing (at a character boundary; Summary::document_bytes_dropped says how much),
  /// so that the tokenizer's time and memory follow what is kept, not what was sent
  /// (SentencePiece is quadratic on some inputs, e.g. long runs of combining marks).
  /// Unset: kDocumentBytesPerToken (64) bytes per input token, 32 KiB for 512 tokens,
  /// far more than the text that fits in the token limit.
  std::optional<Index> max_document_bytes;
  /// Memory one summarize() call may plan to use (encoder batch, decoder hypotheses),
  /// estimated before allocating: a call above it is refused with a ResourceError that
  /// names the batch size or num_beams. Unset: the machine's memory (or ulimit -v).
  std::optional<std::uint64_t> memory_limit_bytes;
};

/// Default document byte budget per input token (SummarizerOptions::max_document_bytes).
inline constexpr Index kDocumentBytesPerToken = 64;

/// One document's summary.
struct Summary {
  std::string text;
  /// Ids as generate() returns them: the decoder start token first, then the
  /// generated tokens (ending with eos unless the length limit was hit); no padding.
  std::vector<TokenId> ids;
  /// Beam search: HF's sequences_score (sum of log-probs / generated_len^length_penalty).
  /// Not set for greedy and sampling, where HF returns no score either.
  std::optional<float> score;
  /// Model input length (prefix, document and special tokens, after truncation).
  Index input_tokens = 0;
  /// Whether the document was cut to the model's input limit (tokens or bytes).
  bool input_truncated = false;
  /// Bytes at the end of the document that were never tokenized (max_document_bytes).
  Index document_bytes_dropped = 0;
  /// Generated tokens after the start token, eos included.
  Index output_tokens = 0;
  /// The cross-attention used is not the one the checkpoint was trained with
  /// (Summarizer::attention_differs_from_checkpoint): the summary may be poor.
  bool attention_differs_from_checkpoint = false;
};

/// What one summarize() call cost. Documents of one call are processed as one
/// batch, so times and multiply-adds are per call, not per document.
struct SummaryStats {
  Index documents = 0;
  Index input_tokens = 0;   ///< sum over documents (padding excluded)
  Index output_tokens = 0;  ///< sum over documents of Summary::output_tokens
  double tokenize_seconds = 0.0;
  double encode_seconds = 0.0;
  double decode_seconds = 0.0;  ///< generation: every decoder step and the search itself
  /// Cross-attention multiply-adds of the decoder, by term.
  attention::FlopCounter cross_attention_flops;

  double output_tokens_per_second() const {
    return decode_seconds > 0.0 ? static_cast<double>(output_tokens) / decode_seconds : 0.0;
  }
  SummaryStats& operator+=(const SummaryStats& other) {
    documents += other.documents;
    input_tokens += other.input_tokens;
    output_tokens += other.output_tokens;
    tokenize_seconds += other.tokenize_seconds;
    encode_seconds += other.encode_seconds;
    decode_seconds += other.decode_seconds;
    cross_attention_flops += other.cross_attention_flops;
    return *this;
  }
};

/// Summaries of a batch of documents, in input order, and what the call cost.
struct SummaryBatch {
  std::vector<Summary> summaries;
  SummaryStats stats;
};

/// One generated token of a summary with the text it adds, for streaming.
struct SummaryToken {
  Index document = 0;  ///< index of the document in the call
  Index step = 0;      ///< 0 for the summary's first token
  TokenId token_id = 0;
  /// Text this token adds to the summary. Empty while a character is incomplete (a
  /// byte-level token may hold part of one) or for a special token; the pieces of a
  /// document, joined, are its Summary::text.
  std::string text;
  bool is_last = false;  ///< the summary ends with this token
};

/// Called once per generated token (beam search: for the best hypothesis once it is
/// final); its TokenAction can stop the document's summary or the whole call
/// (generation/token_callback.hpp).
using SummaryCallback = std::function<TokenAction(const SummaryToken&)>;

namespace detail {

/// tokenizer_config.json's model_max_length when it is a real limit (HF writes a
/// huge sentinel, int(1e30), when there is none); nullopt otherwise.
inline std::optional<Index> tokenizer_model_max_length(const std::filesystem::path& folder) {
  const auto path = folder / "tokenizer_config.json";
  if (!io::name_exists(path)) return std::nullopt;
  const nlohmann::json config = read_json_file(path);
  if (!config.is_object()) return std::nullopt;
  const auto it = config.find("model_max_length");
  if (it == config.end() || !it->is_number()) return std::nullopt;
  const double value = it->get<double>();
  if (!(value >= 2.0 && value <= 1e7)) return std::nullopt;
  return static_cast<Index>(value);
}

inline Index default_max_input_tokens(const ModelConfig& config) {
  if (config.family == ModelFamily::Bart && config.max_position_embeddings > 0) return config.max_position_embeddings;
  return 512;  // T5's relative positions set no hard limit; 512 is what it was trained with
}

inline bool is_blank(const std::string& text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  });
}

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace detail

class Summarizer {
 public:
  /// Loads model, tokenizer and generation defaults from a HuggingFace folder.
  explicit Summarizer(const std::filesystem::path& model_folder, const SummarizerOptions& options = {}) {
    const ModelConfig config = load_model_config(model_folder);
    checkpoint_attention_ = checkpoint_cross_attention(model_folder);
    knows_checkpoint_ = true;
    const attention::CrossAttentionOptions attention_options =
        options.attention ? *options.attention : cross_attention_options_from_config(model_folder);
    model_ = load_model(model_folder, attention_options);
    tokenizer_ = load_tokenizer(model_folder);
    GenerationOptionSources sources;
    defaults_ = load_generation_options(model_folder.string(), options.task, &sources);
    fill_missing_special_tokens(defaults_, model_->config(), &sources);
    try {
      defaults_.validate();
      detail::check_options_against_vocab(defaults_, model_->config().vocab_size);
    } catch (const GenerationOptionError& error) {
      throw_loaded_option_error(error, sources, model_->config().source);
    }
    max_input_tokens_ = options.max_input_tokens
                            ? *options.max_input_tokens
                            : detail::tokenizer_model_max_length(model_folder).value_or(
                                  detail::default_max_input_tokens(model_->config()));
    set_limits(options);
    check();
  }

  /// From parts already loaded (e.g. one model shared by several summarizers).
  /// `limits` supplies max_document_bytes and memory_limit_bytes (the other fields are
  /// not used here).
  Summarizer(std::shared_ptr<const Seq2SeqModel> model, std::shared_ptr<const Tokenizer> tokenizer,
             GenerationOptions defaults, Index max_input_tokens, const SummarizerOptions& limits = {})
      : model_(std::move(model)),
        tokenizer_(std::move(tokenizer)),
        defaults_(std::move(defaults)),
        max_input_tokens_(max_input_tokens) {
    if (!model_) throw InputError("Summarizer: no model");
    if (!tokenizer_) throw InputError("Summarizer: no tokenizer");
    fill_missing_special_tokens(defaults_, model_->config());
    set_limits(limits);
    check();
  }

  /// The folder's generation defaults; copy, change and pass to summarize() to
  /// override them for one call.
  const GenerationOptions& default_options() const { return defaults_; }
  const Seq2SeqModel& model() const { return *model_; }
  std::shared_ptr<const Seq2SeqModel> shared_model() const { return model_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  std::shared_ptr<const Tokenizer> shared_tokenizer() const { return tokenizer_; }
  /// The cross-attention the checkpoint was trained with as its config.json names it;
  /// nullopt for a plain checkpoint (full attention) and for a Summarizer built from
  /// parts (whose checkpoint it does not know).
  const std::optional<attention::CrossAttentionOptions>& checkpoint_attention() const { return checkpoint_attention_; }
  /// Whether the model runs another cross-attention than the checkpoint was trained with
  /// (models/load.hpp attention_differs); every Summary carries the flag too. Always
  /// false for a Summarizer built from parts.
  bool attention_differs_from_checkpoint() const {
    return knows_checkpoint_ && attention_differs(model_->attention_options(), checkpoint_attention_);
  }
  Index max_input_tokens() const { return max_input_tokens_; }
  /// Longest document prefix (bytes) that is tokenized; see SummarizerOptions.
  Index max_document_bytes() const { return max_document_bytes_; }
  /// Memory a call may plan to use (0: not checked); see SummarizerOptions.
  std::uint64_t memory_limit_bytes() const { return memory_limit_bytes_; }

  /// Model input ids of one document: options.prefix + document, tokenized and cut
  /// to max_input_tokens() (the final </s> kept). `index` names the document in errors.
  std::vector<TokenId> input_ids(const std::string& document, const GenerationOptions& options,
                                 std::size_t index = 0) const {
    return tokenize(document, options, index).ids;
  }

  Summary summarize(const std::string& document) const { return summarize(document, defaults_); }
  Summary summarize(const std::string& document, const GenerationOptions& options) const {
    return std::move(summarize(std::vector<std::string>{document}, options).summaries.front());
  }

  SummaryBatch summarize(const std::vector<std::string>& documents) const { return summarize(documents, defaults_); }

  /// summarize({"first", "second"}): without these a braced list of two string
  /// literals would also fit std::string's (first, last) constructor.
  SummaryBatch summarize(std::initializer_list<std::string> documents) const {
    return summarize(std::vector<std::string>(documents), defaults_);
  }
  SummaryBatch summarize(std::initializer_list<std::string> documents, const GenerationOptions& options) const {
    return summarize(std::vector<std::string>(documents), options);
  }

  /// Summarizes `documents` as one batch (padded to the longest input). `callback`,
  /// when set, sees every generated token with the text it adds (streaming), and may
  /// stop a summary, or all of them, early; a stopped summary holds what was generated.
  SummaryBatch summarize(const std::vector<std::string>& documents, const GenerationOptions& options,
                         const SummaryCallback& callback) const {
    std::vector<std::vector<TokenId>> generated(documents.size());
    std::vector<std::string> emitted(documents.size());  // text reported so far, per document
    const TokenCallback on_token = [&](const GeneratedToken& token) {
      const auto document = static_cast<std::size_t>(token.batch_row);
      std::vector<TokenId>& ids = generated[document];
      ids.push_back(token.token_id);
      // Decoding the whole prefix keeps the pieces equal to the final text (SentencePiece
      // spacing, byte-level characters spread over tokens); summaries are short.
      const std::string text = tokenizer_->decode(ids, /*skip_special_tokens=*/true);
      SummaryToken piece{token.batch_row, token.step, token.token_id, {}, token.is_last};
      const bool incomplete = text.size() >= 3 && text.compare(text.size() - 3, 3, "\xEF\xBF\xBD") == 0;
      // Decoding a longer prefix does not change text already reported (SentencePiece
      // and byte-level BPE are prefix-stable once characters are complete).
      std::string& reported = emitted[document];
      if ((!incomplete || token.is_last) && text.size() > reported.size() &&
          text.compare(0, reported.size(), reported) == 0) {
        piece.text = text.substr(reported.size());
        reported = text;
      }
      return callback(piece);
    };
    return summarize_impl(documents, options, callback ? on_token : TokenCallback{});
  }

  SummaryBatch summarize(const std::vector<std::string>& documents, const GenerationOptions& options) const {
    return summarize_impl(documents, options, {});
  }

 private:
  SummaryBatch summarize_impl(const std::vector<std::string>& documents, const GenerationOptions& options,
                              const TokenCallback& on_token) const {
    using Clock = std::chrono::steady_clock;
    options.validate();
    if (options.num_return_sequences != 1)
      throw OptionError("generation option num_return_sequences = " + std::to_string(options.num_return_sequences) +
                        " is invalid here: a Summarizer returns one summary per document");
    if (documents.empty()) throw InputError("summarize: no documents given");

    SummaryBatch out;
    SummaryStats& stats = out.stats;
    stats.documents = static_cast<Index>(documents.size());
    out.summaries.resize(documents.size());

    auto start = Clock::now();
    std::vector<std::vector<TokenId>> inputs(documents.size());
    Index longest = 0;
    for (std::size_t i = 0; i < documents.size(); ++i) {
      TokenizedInput input = tokenize(documents[i], options, i);
      Summary& summary = out.summaries[i];
      summary.input_tokens = static_cast<Index>(input.ids.size());
      summary.input_truncated = input.truncated;
      summary.document_bytes_dropped = input.bytes_dropped;
      stats.input_tokens += summary.input_tokens;
      longest = std::max(longest, summary.input_tokens);
      inputs[i] = std::move(input.ids);
    }
    stats.tokenize_seconds = detail::seconds_since(start);

    const Index batch = static_cast<Index>(documents.size());
    const Index beams = options.num_beams;
    const std::string what = "a batch of " + std::to_string(batch) + " document" + (batch == 1 ? "" : "s") +
                             " padded to " + std::to_string(longest) + " tokens";
    const std::uint64_t encode_bytes =
        detail::estimate_encode_bytes(model_->config(), model_->attention_options(), batch, longest);
    check_memory(encode_bytes, "encoding " + what, "summarize fewer documents at a time");
    const Index rows = batch * beams;  // no overflow: documents are in memory, validate() bounds num_beams
    const Index cache_positions = std::min<Index>(options.resolved_max_length(), attention::kMaxInitialCachePositions);
    check_memory(detail::saturating_add(encode_bytes, detail::estimate_decode_bytes(model_->config(),
                                                                                    model_->attention_options(),
                                                                                    rows, cache_positions)),
                 "decoding " + what + " with num_beams = " + std::to_string(beams) + " (" + std::to_string(rows) +
                     " hypotheses)",
                 "lower num_beams or summarize fewer documents at a time");

    start = Clock::now();
    std::shared_ptr<const EncodedInput> encoded;
    try {
      encoded = model_->encode(TokenBatch::from_sequences(inputs, model_->config().pad_token_id));
    } catch (const std::bad_alloc&) {
      throw ResourceError("out of memory while encoding " + what + " (estimated " +
                          detail::format_bytes(encode_bytes) + "): summarize fewer documents at a time");
    }
    stats.encode_seconds = detail::seconds_since(start);

    start = Clock::now();
    std::vector<Index> memory_rows(static_cast<std::size_t>(rows));
    for (std::size_t r = 0; r < memory_rows.size(); ++r) memory_rows[r] = static_cast<Index>(r) / beams;
    GenerationResult result;
    std::unique_ptr<DecoderSession> session;
    try {
      session = model_->start_decoding(encoded, std::move(memory_rows), options.resolved_max_length());
      result = generate(*session, batch, options, on_token);
    } catch (const std::bad_alloc&) {
      throw ResourceError("out of memory while decoding " + what + " with num_beams = " + std::to_string(beams) +
                          (session ? " after " + std::to_string(session->position()) + " tokens" : std::string()) +
                          ": lower num_beams or max_new_tokens, or summarize fewer documents at a time");
    }
    stats.decode_seconds = detail::seconds_since(start);
    stats.cross_attention_flops = model_->cross_attention_flops(*session);

    for (Index i = 0; i < batch; ++i) {
      Summary& summary = out.summaries[static_cast<std::size_t>(i)];
      summary.ids = result.unpadded(i);
      summary.output_tokens = result.generated_lengths[static_cast<std::size_t>(i)];
      if (!result.sequences_scores.empty()) summary.score = result.sequences_scores[static_cast<std::size_t>(i)];
      // The start token is dropped explicitly: with T5 it is <pad>, which decode()
      // skips anyway, but a BART start token (</s>) must not leak into the text
      // when special tokens are kept.
      const std::vector<TokenId> generated(summary.ids.begin() + 1, summary.ids.end());
      summary.text = tokenizer_->decode(generated, /*skip_special_tokens=*/true);
      summary.attention_differs_from_checkpoint = attention_differs_from_checkpoint();
      stats.output_tokens += summary.output_tokens;
    }
    return out;
  }

  struct TokenizedInput {
    std::vector<TokenId> ids;
    bool truncated = false;
    Index bytes_dropped = 0;
  };

  /// Tokenizes once and cuts like Tokenizer::encode(text, max_length) does: the
  /// first ids, then the suffix (T5/BART: the final </s>). Only the first
  /// max_document_bytes() bytes of the document are tokenized.
  TokenizedInput tokenize(const std::string& document, const GenerationOptions& options, std::size_t index) const {
    const std::string where = "document " + std::to_string(index);
    if (detail::is_blank(document)) throw InputError(where + " is empty");
    TokenizedInput input;
    std::string_view kept(document);
    if (static_cast<Index>(kept.size()) > max_document_bytes_) {
      const std::size_t cut = detail::character_start_at_or_before(document, static_cast<std::size_t>(max_document_bytes_));
      kept = kept.substr(0, cut);
      input.bytes_dropped = static_cast<Index>(document.size() - cut);
      input.truncated = true;
    }
    try {
      tokenizers::detail::require_valid_utf8(kept);  // offsets relative to the document, not the prefix
      std::string text;
      text.reserve(options.prefix.size() + kept.size());
      text.append(options.prefix).append(kept);
      input.ids = tokenizer_->encode(text);
    } catch (const TokenizerError& e) {
      throw TokenizerError(where + ": " + e.what());
    }
    if (static_cast<Index>(input.ids.size()) > max_input_tokens_) {
      const std::vector<TokenId>& suffix = tokenizer_->suffix_ids();
      input.ids.resize(static_cast<std::size_t>(max_input_tokens_) - suffix.size());
      input.ids.insert(input.ids.end(), suffix.begin(), suffix.end());
      input.truncated = true;
    }
    return input;
  }

  void set_limits(const SummarizerOptions& options) {
    if (options.max_document_bytes && *options.max_document_bytes < 1)
      throw OptionError("max document bytes must be at least 1, got " + std::to_string(*options.max_document_bytes));
    if (max_input_tokens_ < 1 || max_input_tokens_ > (Index{1} << 30))
      throw OptionError("max input tokens must be in [1, 2^30], got " + std::to_string(max_input_tokens_));
    max_document_bytes_ = options.max_document_bytes.value_or(max_input_tokens_ * kDocumentBytesPerToken);
    memory_limit_bytes_ = options.memory_limit_bytes.value_or(detail::available_memory_bytes());
  }

  /// ResourceError when `bytes` exceed the memory limit.
  void check_memory(std::uint64_t bytes, const std::string& what, const std::string& advice) const {
    if (memory_limit_bytes_ == 0 || bytes <= memory_limit_bytes_) return;
    throw ResourceError(what + " needs about " + detail::format_bytes(bytes) + ", more than the memory limit of " +
                        detail::format_bytes(memory_limit_bytes_) +
                        " (SummarizerOptions::memory_limit_bytes; default: the machine's memory): " + advice);
  }

  void check() const {
    if (tokenizer_->vocab_size() > model_->config().vocab_size)
      throw ConfigError("tokenizer has " + std::to_string(tokenizer_->vocab_size()) + " ids but the model (" +
                        model_->config().source + ") only " + std::to_string(model_->config().vocab_size));
    const Index framing = static_cast<Index>(tokenizer_->prefix_ids().size() + tokenizer_->suffix_ids().size());
    if (max_input_tokens_ <= framing)
      throw OptionError("max input tokens " + std::to_string(max_input_tokens_) + " leaves no room for text after the " +
                        std::to_string(framing) + " special tokens");
  }

  std::shared_ptr<const Seq2SeqModel> model_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  std::optional<attention::CrossAttentionOptions> checkpoint_attention_;
  bool knows_checkpoint_ = false;  // loaded from a folder (not built from parts)
  GenerationOptions defaults_;
  Index max_input_tokens_ = 512;
  Index max_document_bytes_ = 512 * kDocumentBytesPerToken;
  std::uint64_t memory_limit_bytes_ = 0;
};

}  // namespace srformer
