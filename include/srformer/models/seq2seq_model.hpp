#pragma once
// The run-time entry point: one model type for users who pick the checkpoint
// and the cross-attention from files or flags, without recompiling. Behind it
// sits EncoderDecoder<Policy>, chosen once at load time.
#include <filesystem>
#include <memory>
#include <vector>

#include "srformer/attention/full_cross_attention.hpp"
#include "srformer/attention/options.hpp"
#include "srformer/attention/segmented_cross_attention.hpp"
#include "srformer/attention/srformer_cross_attention.hpp"
#include "srformer/generation/decoder_session.hpp"
#include "srformer/models/encoder_decoder.hpp"
#include "srformer/models/load.hpp"

namespace srformer {

class Seq2SeqModel {
 public:
  virtual ~Seq2SeqModel() = default;

  virtual const ModelConfig& config() const = 0;
  virtual const attention::CrossAttentionOptions& attention_options() const = 0;

  /// Encodes a batch once; the result is shared by every decoding session over it.
  virtual std::shared_ptr<const EncodedInput> encode(const TokenBatch& input) const = 0;

  /// Starts decoding `encoded` with hypothesis row r bound to encoder row
  /// memory_rows[r]. The model must outlive the session.
  virtual std::unique_ptr<DecoderSession> start_decoding(std::shared_ptr<const EncodedInput> encoded,
                                                         std::vector<Index> memory_rows,
                                                         Index expected_length = 64) const = 0;

  /// Teacher forcing: feeds decoder_ids [rows(=batch), count] in one call and
  /// returns logits for every position, [batch * count, vocab].
  virtual RowMatrix teacher_forced_logits(const EncodedInput& encoded, const std::vector<TokenId>& decoder_ids,
                                          Index count, attention::QueryMode mode) const = 0;

  /// The same weights with another cross-attention (no reload, no copy).
  virtual std::shared_ptr<const Seq2SeqModel> with_attention(const attention::CrossAttentionOptions& options) const = 0;

  /// Cross-attention multiply-adds spent by `session` so far (0 for foreign sessions).
  virtual attention::FlopCounter cross_attention_flops(const DecoderSession& session) const = 0;
};

namespace detail {

template <class Policy>
class PolicySession final : public DecoderSession {
 public:
  PolicySession(const EncoderDecoder<Policy>& model, std::shared_ptr<const EncodedBatch<Policy>> encoded,
                std::vector<Index> memory_rows, Index expected_length)
      : model_(model),
        encoded_(std::move(encoded)),
        state_(model.start(*encoded_, std::move(memory_rows), expected_length)) {}

  Index rows() const override { return state_.rows; }
  Index vocab_size() const override { return model_.config().vocab_size; }
  Index position() const override { return state_.position; }

  const RowMatrix& step(const std::vector<TokenId>& tokens) override {
    model_.decode(*encoded_, state_, tokens, 1, attention::QueryMode::Incremental, logits_, false, scratch_);
    return logits_;
  }

  void reorder(const std::vector<Index>& source) override { state_.reorder(source); }

  const DecoderState<Policy>& state() const { return state_; }

 private:
  const EncoderDecoder<Policy>& model_;
  std::shared_ptr<const EncodedBatch<Policy>> encoded_;
  DecoderState<Policy> state_;
  RowMatrix logits_;
  ForwardScratch scratch_;
};

template <class Policy>
class PolicyModel final : public Seq2SeqModel {
 public:
  using Encoded = EncodedBatch<Policy>;

  PolicyModel(std::shared_ptr<const ModelWeights> weights, const attention::CrossAttentionOptions& options)
      : model_(std::move(weights), options) {}

  const ModelConfig& config() const override { return model_.config(); }
  const attention::CrossAttentionOptions& attention_options() const override { return model_.attention_options(); }
  const EncoderDecoder<Policy>& typed() const { return model_; }

  std::shared_ptr<const EncodedInput> encode(const TokenBatch& input) const override { return model_.encode(input); }

  std::unique_ptr<DecoderSession> start_decoding(std::shared_ptr<const EncodedInput> encoded,
                                                 std::vector<Index> memory_rows,
                                                 Index expected_length) const override {
    return std::make_unique<PolicySession<Policy>>(model_, own(std::move(encoded)), std::move(memory_rows),
                                                   expected_length);
  }

  RowMatrix teacher_forced_logits(const EncodedInput& encoded, const std::vector<TokenId>& decoder_ids, Index count,
                                  attention::QueryMode mode) const override {
    const Encoded& typed_encoded = own(encoded);
    std::vector<Index> rows(static_cast<std::size_t>(typed_encoded.input().batch));
    for (std::size_t r = 0; r < rows.size(); ++r) rows[r] = static_cast<Index>(r);
    auto state = model_.start(typed_encoded, rows, count);
    RowMatrix logits;
    model_.decode(typed_encoded, state, decoder_ids, count, mode, logits, true);
    return logits;
  }

  std::shared_ptr<const Seq2SeqModel> with_attention(const attention::CrossAttentionOptions& options) const override;

  attention::FlopCounter cross_attention_flops(const DecoderSession& session) const override {
    const auto* typed_session = dynamic_cast<const PolicySession<Policy>*>(&session);
    return typed_session ? typed_session->state().cross_attention_flops : attention::FlopCounter{};
  }

 private:
  static std::shared_ptr<const Encoded> own(std::shared_ptr<const EncodedInput> encoded) {
    auto typed_encoded = std::dynamic_pointer_cast<const Encoded>(std::move(encoded));
    if (!typed_encoded)
      throw InputError("encoded input was produced by a model with another cross-attention; encode it again");
    return typed_encoded;
  }
  static const Encoded& own(const EncodedInput& encoded) {
    const auto* typed_encoded = dynamic_cast<const Encoded*>(&encoded);
    if (!typed_encoded)
      throw InputError("encoded input was produced by a model with another cross-attention; encode it again");
    return *typed_encoded;
  }

  EncoderDecoder<Policy> model_;
};

}  // namespace detail

/// Builds the model for `options.kind` over already loaded weights.
inline std::shared_ptr<const Seq2SeqModel> make_model(std::shared_ptr<const ModelWeights> weights,
                                                      const attention::CrossAttentionOptions& options = {});

/// Loads a HuggingFace folder (config.json + safetensors) with the chosen cross-attention.
inline std::shared_ptr<const Seq2SeqModel> load_model(const std::filesystem::path& folder,
                                                      const attention::CrossAttentionOptions& options = {}) {
  return make_model(load_model_weights(folder), options);
}

template <class Policy>
std::shared_ptr<const Seq2SeqModel> detail::PolicyModel<Policy>::with_attention(
    const attention::CrossAttentionOptions& options) const {
  return make_model(model_.shared_weights(), options);
}

inline std::shared_ptr<const Seq2SeqModel> make_model(std::shared_ptr<const ModelWeights> weights,
                                                      const attention::CrossAttentionOptions& requested) {
  if (!weights) throw InputError("make_model: no weights");
  attention::CrossAttentionOptions options = requested;
  // The flavour follows the checkpoint, never the caller's guess.
  options.flavor = weights->config.family == ModelFamily::T5 ? attention::ModelFlavor::T5 : attention::ModelFlavor::Bart;
  options.validate();
  switch (options.kind) {
    case attention::AttentionKind::Full:
      return std::make_shared<detail::PolicyModel<attention::FullCrossAttention>>(std::move(weights), options);
    case attention::AttentionKind::Segmented:
      return std::make_shared<detail::PolicyModel<attention::SegmentedCrossAttention>>(std::move(weights), options);
    case attention::AttentionKind::Srformer:
      return std::make_shared<detail::PolicyModel<attention::SrformerCrossAttention>>(std::move(weights), options);
  }
  throw OptionError(std::string("cross-attention kind '") + attention::to_string(options.kind) +
                    "' not available in this build");
}

}  // namespace srformer
