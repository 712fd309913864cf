#pragma once
// The T5/BART encoder-decoder, with the decoder's cross-attention as a policy.
//
//   ids → encode() → EncodedBatch (encoder states, per-layer cross K/V and the
//   policy's memory, computed once per input) → DecoderState per request
//   (self-attention KV cache, policy state per hypothesis) → decode() → logits.
//
// The model is immutable after construction; everything a request changes
// lives in its EncodedBatch / DecoderState, so one model serves many threads.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "srformer/attention/cross_attention.hpp"
#include "srformer/attention/kv_cache.hpp"
#include "srformer/attention/multi_head_attention.hpp"
#include "srformer/attention/options.hpp"
#include "srformer/models/token_batch.hpp"
#include "srformer/models/weights.hpp"

namespace srformer {

/// What encode() produced, whatever the cross-attention policy.
class EncodedInput {
 public:
  virtual ~EncodedInput() = default;
  const TokenBatch& input() const { return input_; }
  /// Encoder last hidden state [batch * length, d_model].
  const RowMatrix& hidden() const { return hidden_; }

 protected:
  TokenBatch input_;
  RowMatrix hidden_;
};

template <class Policy>
class EncodedBatch final : public EncodedInput {
 public:
  EncodedBatch() = default;
  EncodedBatch(const EncodedBatch&) = delete;  // sides point into this object
  EncodedBatch& operator=(const EncodedBatch&) = delete;

  const attention::FlopCounter& preparation_flops() const { return flops_; }
  /// The cross-attention policy's memory of decoder layer `layer` (e.g. SRformer's KᵀV products).
  const typename Policy::Memory& cross_memory(Index layer) const { return memory_.at(static_cast<std::size_t>(layer)); }

 private:
  template <class>
  friend class EncoderDecoder;
  std::vector<RowMatrix> cross_keys_, cross_values_;  // per decoder layer [batch*length, inner]
  std::vector<attention::EncoderSide> sides_;
  std::vector<typename Policy::Memory> memory_;
  attention::FlopCounter flops_;
};

template <class Policy>
struct DecoderState {
  Index rows = 0;
  Index position = 0;                 // tokens fed so far (all rows advance together)
  std::vector<Index> memory_row;      // encoder batch row of each hypothesis
  std::vector<attention::KVCache> self_cache;                       // per layer
  std::vector<std::vector<typename Policy::State>> cross_state;    // [layer][row]
  attention::FlopCounter cross_attention_flops;                     // work done so far

  void reorder(const std::vector<Index>& source) {
    for (Index s : source)
      if (s < 0 || s >= rows) throw InputError("reorder: source row " + std::to_string(s) + " is outside [0, " +
                                               std::to_string(rows) + ")");
    for (auto& cache : self_cache) cache.reorder(source);
    for (auto& layer : cross_state) {
      std::vector<typename Policy::State> next;
      next.reserve(source.size());
      for (Index s : source) next.push_back(layer[static_cast<std::size_t>(s)]);
      layer.swap(next);
    }
    std::vector<Index> rows_memory;
    rows_memory.reserve(source.size());
    for (Index s : source) rows_memory.push_back(memory_row[static_cast<std::size_t>(s)]);
    memory_row.swap(rows_memory);
    rows = static_cast<Index>(source.size());
  }
};

/// Scratch matrices reused across layers and steps (no allocation once warm).
struct ForwardScratch {
  RowMatrix x, h, q, k, v, attn, ffn_hidden, ffn_gate, scores, bias, residual;
};

template <class Policy>
class EncoderDecoder {
 public:
  using Encoded = EncodedBatch<Policy>;
  using State = DecoderState<Policy>;

  EncoderDecoder(std::shared_ptr<const ModelWeights> weights, const attention::CrossAttentionOptions& options)
      : weights_(std::move(weights)), options_(options), policy_(make_policy(options)) {
    const ModelConfig& c = weights_->config;
    for (const auto& layer : weights_->decoder_layers)
      parameters_.push_back(
          Policy::load_parameters(*weights_->checkpoint, layer.cross_attention_prefix, c.head_dim, options_));
  }

  /// With ready cross-attention parameters, one per decoder layer: for weights that
  /// do not come from a checkpoint (benchmarks, synthesised models).
  EncoderDecoder(std::shared_ptr<const ModelWeights> weights, const attention::CrossAttentionOptions& options,
                 std::vector<typename Policy::Parameters> parameters)
      : weights_(std::move(weights)), options_(options), policy_(make_policy(options)),
        parameters_(std::move(parameters)) {
    if (!weights_) throw InputError("EncoderDecoder: no weights");
    if (parameters_.size() != weights_->decoder_layers.size())
      throw InputError("EncoderDecoder: got " + std::to_string(parameters_.size()) +
                       " cross-attention parameter sets for " + std::to_string(weights_->decoder_layers.size()) +
                       " decoder layers");
  }

  const ModelConfig& config() const { return weights_->config; }
  const ModelWeights& weights() const { return *weights_; }
  const std::shared_ptr<const ModelWeights>& shared_weights() const { return weights_; }
  const attention::CrossAttentionOptions& attention_options() const { return options_; }
  const Policy& policy() const { return policy_; }
  const typename Policy::Parameters& cross_parameters(Index layer) const {
    return parameters_.at(static_cast<std::size_t>(layer));
  }

  /// Runs the encoder and prepares every decoder layer's cross-attention memory.
  /// `hidden_states`, when given, receives the embedding output and each layer's output
  /// (T5: the last one after the final norm), as HF's output_hidden_states.
  std::shared_ptr<Encoded> encode(const TokenBatch& input, std::vector<RowMatrix>* hidden_states = nullptr) const {
    const ModelConfig& c = config();
    const ModelWeights& w = *weights_;
    validate_input(input);
    auto out = std::make_shared<Encoded>();
    out->input_ = input;
    const Index B = input.batch, S = input.length;
    ForwardScratch s;
    RowMatrix& x = s.x;
    w.shared.lookup(input.ids.data(), B * S, x, w.embedding_scale);
    if (c.family == ModelFamily::Bart) {
      const auto positions = w.encoder.positions.matrix();
      for (Index b = 0; b < B; ++b) x.middleRows(b * S, S) += positions.middleRows(2, S);
      w.encoder.embedding_norm.layer.forward_inplace(x);
    }
    if (hidden_states) hidden_states->push_back(x);
    if (c.family == ModelFamily::T5) w.encoder.relative_bias.compute(0, S, S, s.bias);

    attention::AttentionExtras extras;
    extras.mask_bias = std::numeric_limits<float>::lowest();
    if (c.family == ModelFamily::T5) {
      extras.position_bias = &s.bias;
      extras.position_bias_rows_per_head = S;
    } else {
      extras.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    }
    for (std::size_t l = 0; l < w.encoder_layers.size(); ++l) {
      const EncoderLayerWeights& layer = w.encoder_layers[l];
      const RowMatrix& attn_in = pre_norm(layer.self_attention_norm, x, s.h);
      layer.self_attention.q.forward(attn_in, s.q);
      layer.self_attention.k.forward(attn_in, s.k);
      layer.self_attention.v.forward(attn_in, s.v);
      s.attn.resize(B * S, s.q.cols());
      for (Index b = 0; b < B; ++b) {
        extras.key_mask = input.row_mask(b);
        attention::multi_head_attention(s.q.middleRows(b * S, S), s.k.middleRows(b * S, S), s.v.middleRows(b * S, S),
                                        c.encoder_heads, c.head_dim, extras, s.attn.middleRows(b * S, S), s.scores);
      }
      layer.self_attention.o.forward_add(s.attn, x);
      post_norm(layer.self_attention_norm, x);
      feed_forward_block(layer.feed_forward, layer.feed_forward_norm, s);
      if (hidden_states) hidden_states->push_back(x);
    }
    if (c.family == ModelFamily::T5) {
      w.encoder.final_norm.forward(x, s.h);
      x.swap(s.h);
      if (hidden_states) hidden_states->back() = x;
    }
    out->hidden_ = x;

    const std::size_t L = w.decoder_layers.size();
    out->cross_keys_.resize(L);
    out->cross_values_.resize(L);
    out->sides_.resize(L);
    out->memory_.reserve(L);
    for (std::size_t l = 0; l < L; ++l) {
      const auto& cross = w.decoder_layers[l].cross_attention;
      cross.k.forward(out->hidden_, out->cross_keys_[l]);
      cross.v.forward(out->hidden_, out->cross_values_[l]);
      attention::EncoderSide& side = out->sides_[l];
      side.keys = &out->cross_keys_[l];
      side.values = &out->cross_values_[l];
      side.mask = &out->input_.mask;
      side.batch = B;
      side.length = S;
      side.heads = c.decoder_heads;
      side.head_dim = c.head_dim;
      side.flavor = c.family == ModelFamily::T5 ? attention::ModelFlavor::T5 : attention::ModelFlavor::Bart;
      side.mask_bias = c.family == ModelFamily::T5 ? -1e9f : std::numeric_limits<float>::lowest();
      out->memory_.push_back(policy_.prepare(parameters_[l], side, &out->flops_));
    }
    return out;
  }

  /// A fresh decoding state: hypothesis r reads encoder row memory_rows[r].
  State start(const Encoded& encoded, std::vector<Index> memory_rows, Index expected_length = 64) const {
    const ModelConfig& c = config();
    for (Index m : memory_rows)
      if (m < 0 || m >= encoded.input().batch)
        throw InputError("decoder row bound to encoder row " + std::to_string(m) + ", but the batch has " +
                         std::to_string(encoded.input().batch) + " rows");
    State state;
    state.rows = static_cast<Index>(memory_rows.size());
    state.memory_row = std::move(memory_rows);
    const Index capacity = std::clamp<Index>(expected_length, 1, attention::kMaxInitialCachePositions);
    state.self_cache.resize(weights_->decoder_layers.size());
    for (auto& cache : state.self_cache) cache.reset(state.rows, capacity, c.decoder_heads * c.head_dim);
    state.cross_state.resize(weights_->decoder_layers.size());
    for (std::size_t l = 0; l < state.cross_state.size(); ++l)
      state.cross_state[l].assign(static_cast<std::size_t>(state.rows),
                                  policy_.initial_state(parameters_[l], encoded.memory_[l]));
    return state;
  }

  /// Feeds `count` tokens to every row (tokens[r*count + i]) and writes logits:
  /// for every fed position ([rows*count, vocab]) or only the last ([rows, vocab]).
  void decode(const Encoded& encoded, State& state, const std::vector<TokenId>& tokens, Index count,
              attention::QueryMode mode, RowMatrix& logits, bool all_positions = false,
              std::vector<RowMatrix>* hidden_states = nullptr) const {
    ForwardScratch s;
    decode(encoded, state, tokens, count, mode, logits, all_positions, s, hidden_states);
  }

  void decode(const Encoded& encoded, State& state, const std::vector<TokenId>& tokens, Index count,
              attention::QueryMode mode, RowMatrix& logits, bool all_positions, ForwardScratch& s,
              std::vector<RowMatrix>* hidden_states = nullptr) const {
    const ModelConfig& c = config();
    const ModelWeights& w = *weights_;
    const Index R = state.rows, T = count, p0 = state.position;
    if (T <= 0) throw InputError("decode: at least one token per row is needed");
    if (static_cast<Index>(tokens.size()) != R * T)
      throw InputError("decode: got " + std::to_string(tokens.size()) + " tokens for " + std::to_string(R) +
                       " rows × " + std::to_string(T) + " positions");
    if (c.family == ModelFamily::Bart && p0 + T > c.max_position_embeddings)
      throw InputError("decoder length " + std::to_string(p0 + T) + " exceeds max_position_embeddings = " +
                       std::to_string(c.max_position_embeddings) + " of " + c.source);
    RowMatrix& x = s.x;
    w.shared.lookup(tokens.data(), R * T, x, w.embedding_scale);
    if (c.family == ModelFamily::Bart) {
      const auto positions = w.decoder.positions.matrix();
      for (Index r = 0; r < R; ++r) x.middleRows(r * T, T) += positions.middleRows(p0 + 2, T);
      w.decoder.embedding_norm.layer.forward_inplace(x);
    }
    if (hidden_states) hidden_states->push_back(x);

    attention::AttentionExtras extras;
    extras.causal_first = p0;
    if (c.family == ModelFamily::T5) {
      w.decoder.relative_bias.compute(p0, T, p0 + T, s.bias);
      extras.position_bias = &s.bias;
      extras.position_bias_rows_per_head = T;
    } else {
      extras.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    }
    const float query_scale = c.family == ModelFamily::Bart ? 1.0f / std::sqrt(static_cast<float>(c.head_dim)) : 1.0f;
    for (std::size_t l = 0; l < w.decoder_layers.size(); ++l) {
      const DecoderLayerWeights& layer = w.decoder_layers[l];
      attention::KVCache& cache = state.self_cache[l];
      // Self-attention over the cache.
      const RowMatrix& self_in = pre_norm(layer.self_attention_norm, x, s.h);
      layer.self_attention.q.forward(self_in, s.q);
      layer.self_attention.k.forward(self_in, s.k);
      layer.self_attention.v.forward(self_in, s.v);
      cache.reserve_more(T);
      for (Index r = 0; r < R; ++r) cache.write(r, s.k.middleRows(r * T, T), s.v.middleRows(r * T, T));
      cache.advance(T);
      s.attn.resize(R * T, s.q.cols());
      for (Index r = 0; r < R; ++r)
        attention::multi_head_attention(s.q.middleRows(r * T, T), cache.keys(r, p0 + T), cache.values(r, p0 + T),
                                        c.decoder_heads, c.head_dim, extras, s.attn.middleRows(r * T, T), s.scores);
      layer.self_attention.o.forward_add(s.attn, x);
      post_norm(layer.self_attention_norm, x);

      // Cross-attention through the policy.
      const RowMatrix& cross_in = pre_norm(layer.cross_attention_norm, x, s.h);
      layer.cross_attention.q.forward(cross_in, s.q);
      if (query_scale != 1.0f) s.q *= query_scale;
      s.attn.resize(R * T, s.q.cols());
      auto& states = state.cross_state[l];
      for (Index r = 0; r < R; ++r)
        policy_.attend(parameters_[l], encoded.memory_[l], states[static_cast<std::size_t>(r)],
                       state.memory_row[static_cast<std::size_t>(r)], s.q.middleRows(r * T, T), p0, mode,
                       s.attn.middleRows(r * T, T), &state.cross_attention_flops);
      layer.cross_attention.o.forward_add(s.attn, x);
      post_norm(layer.cross_attention_norm, x);

      feed_forward_block(layer.feed_forward, layer.feed_forward_norm, s);
      if (hidden_states) hidden_states->push_back(x);
    }
    if (c.family == ModelFamily::T5) {
      w.decoder.final_norm.forward(x, s.h);
      x.swap(s.h);
      if (hidden_states) hidden_states->back() = x;
    }
    state.position += T;

    const RowMatrix* head_in = &x;
    if (!all_positions && T > 1) {
      s.h.resize(R, x.cols());
      for (Index r = 0; r < R; ++r) s.h.row(r) = x.row(r * T + T - 1);
      head_in = &s.h;
    }
    if (w.output_scale != 1.0f) {
      s.residual = *head_in * w.output_scale;
      head_in = &s.residual;
    }
    w.lm_head.forward(*head_in, logits);
    if (!w.final_logits_bias.empty()) logits.rowwise() += w.final_logits_bias.vector();
  }

 private:
  static Policy make_policy(const attention::CrossAttentionOptions& options) {
    if constexpr (std::is_constructible_v<Policy, const attention::CrossAttentionOptions&>)
      return Policy(options);
    else
      return Policy{};
  }

  void validate_input(const TokenBatch& input) const {
    const ModelConfig& c = config();
    if (input.batch <= 0 || input.length <= 0) throw InputError("empty batch: nothing to encode");
    if (static_cast<Index>(input.ids.size()) != input.batch * input.length ||
        input.mask.size() != input.ids.size())
      throw InputError("token batch: ids/mask sizes do not match batch × length");
    if (c.family == ModelFamily::Bart && input.length > c.max_position_embeddings)
      throw InputError("input of " + std::to_string(input.length) + " tokens is longer than max_position_embeddings = " +
                       std::to_string(c.max_position_embeddings) + " of " + c.source);
    for (std::size_t i = 0; i < input.ids.size(); ++i)
      if (input.ids[i] < 0 || input.ids[i] >= c.vocab_size)
        throw InputError("token id " + std::to_string(input.ids[i]) + " (batch row " +
                         std::to_string(static_cast<Index>(i) / input.length) + ", position " +
                         std::to_string(static_cast<Index>(i) % input.length) + ") is outside the vocabulary [0, " +
                         std::to_string(c.vocab_size) + ")");
  }

  /// T5 normalises a block's input (pre-norm); BART normalises its output (post-norm).
  const RowMatrix& pre_norm(const Norm& norm, const RowMatrix& x, RowMatrix& out) const {
    if (!norm.is_rms) return x;
    norm.forward(x, out);
    return out;
  }
  void post_norm(const Norm& norm, RowMatrix& x) const {
    if (!norm.is_rms) norm.layer.forward_inplace(x);
  }

  void feed_forward_block(const nn::FeedForward& ffn, const Norm& norm, ForwardScratch& s) const {
    const RowMatrix& in = pre_norm(norm, s.x, s.h);
    if (norm.is_rms) {
      ffn.forward_add(in, s.x, s.ffn_hidden, s.ffn_gate);
    } else {
      s.residual = s.x;
      ffn.forward_add(s.x, s.residual, s.ffn_hidden, s.ffn_gate);
      s.x.swap(s.residual);
      post_norm(norm, s.x);
    }
  }

  std::shared_ptr<const ModelWeights> weights_;
  attention::CrossAttentionOptions options_;
  Policy policy_;
  std::vector<typename Policy::Parameters> parameters_;
};

}  // namespace srformer
