#pragma once
// The boundary between models and search. A model starts a DecoderSession for
// one encoded batch; search algorithms only ever see this interface, so greedy,
// beam and sampling work unchanged for T5, BART and every cross-attention policy.
#include <cstdint>
#include <vector>

#include "srformer/core/tensor.hpp"

namespace srformer {

using TokenId = std::int32_t;

class DecoderSession {
 public:
  virtual ~DecoderSession() = default;

  /// Number of hypothesis rows currently decoded (batch × beams, minus dropped rows).
  virtual Index rows() const = 0;

  /// Size of the logits' last axis.
  virtual Index vocab_size() const = 0;

  /// Appends `tokens[r]` to row r (tokens.size() == rows()) and returns the
  /// raw next-token logits, shape [rows(), vocab_size()]. The reference stays
  /// valid until the next call to step() or reorder().
  virtual const RowMatrix& step(const std::vector<TokenId>& tokens) = 0;

  /// Row r of the new state is a copy of old row `source[r]` (its KV cache,
  /// recurrent state and encoder memory binding). Rows may be dropped (a finished
  /// sequence stops costing compute) or repeated (beam search).
  virtual void reorder(const std::vector<Index>& source) = 0;

  /// Number of tokens fed so far to every row (all rows advance together).
  virtual Index position() const = 0;
};

}  // namespace srformer
