#pragma once
// A right-padded batch of token id sequences with its attention mask.
#include <cstdint>
#include <string>
#include <vector>

#include "srformer/core/error.hpp"
#include "srformer/core/tensor.hpp"
#include "srformer/generation/decoder_session.hpp"

namespace srformer {

struct TokenBatch {
  Index batch = 0;
  Index length = 0;
  std::vector<TokenId> ids;         // [batch * length]
  std::vector<std::uint8_t> mask;   // [batch * length], 1 = real token

  /// Right-pads `sequences` with `pad_id` to the longest one.
  static TokenBatch from_sequences(const std::vector<std::vector<TokenId>>& sequences, TokenId pad_id) {
    if (sequences.empty()) throw InputError("empty batch: at least one input sequence is needed");
    TokenBatch b;
    b.batch = static_cast<Index>(sequences.size());
    for (std::size_t i = 0; i < sequences.size(); ++i) {
      if (sequences[i].empty())
        throw InputError("input sequence " + std::to_string(i) + " of the batch is empty");
      b.length = std::max<Index>(b.length, static_cast<Index>(sequences[i].size()));
    }
    b.ids.assign(static_cast<std::size_t>(b.batch * b.length), pad_id);
    b.mask.assign(b.ids.size(), 0);
    for (Index r = 0; r < b.batch; ++r) {
      const auto& s = sequences[static_cast<std::size_t>(r)];
      for (std::size_t t = 0; t < s.size(); ++t) {
        b.ids[static_cast<std::size_t>(r * b.length) + t] = s[t];
        b.mask[static_cast<std::size_t>(r * b.length) + t] = 1;
      }
    }
    return b;
  }

  /// From flat row-major ids and a 0/1 mask (e.g. HF tensors).
  static TokenBatch from_ids(Index batch, Index length, std::vector<TokenId> ids, std::vector<std::uint8_t> mask) {
    if (batch <= 0 || length <= 0) throw InputError("empty batch: batch and length must be positive");
    if (static_cast<Index>(ids.size()) != batch * length || static_cast<Index>(mask.size()) != batch * length)
      throw InputError("token batch: ids/mask size does not equal batch × length = " +
                       std::to_string(batch * length));
    TokenBatch b;
    b.batch = batch;
    b.length = length;
    b.ids = std::move(ids);
    b.mask = std::move(mask);
    return b;
  }

  const TokenId* row(Index r) const { return ids.data() + r * length; }
  const std::uint8_t* row_mask(Index r) const { return mask.data() + r * length; }
};

}  // namespace srformer
