#pragma once
// Token embedding lookup with a bounds check that names the offending id.
#include <string>
#include <vector>

#include "srformer/core/error.hpp"
#include "srformer/core/tensor.hpp"
#include "srformer/generation/decoder_session.hpp"

namespace srformer::nn {

struct Embedding {
  FloatTensor table;  // [vocab, d]

  Index vocab_size() const { return table.dim(0); }

  /// out.row(i) = table.row(ids[i]) * scale.
  void lookup(const TokenId* ids, Index count, RowMatrix& out, float scale = 1.0f) const {
    const auto t = table.matrix();
    out.resize(count, t.cols());
    for (Index i = 0; i < count; ++i) {
      const TokenId id = ids[i];
      if (id < 0 || id >= t.rows())
        throw InputError("token id " + std::to_string(id) + " at position " + std::to_string(i) +
                         " is outside the vocabulary [0, " + std::to_string(t.rows()) + ")");
      out.row(i) = t.row(id);
    }
    if (scale != 1.0f) out *= scale;
  }
};

}  // namespace srformer::nn
