#pragma once
// Self-attention key/value cache of the decoder: one block of `capacity`
// positions per hypothesis row, all rows advancing together. Reordering
// (beam search, dropping finished rows) gathers whole blocks.
#include <algorithm>
#include <vector>

#include "srformer/core/tensor.hpp"

namespace srformer::attention {

/// Positions a decoder's self-attention cache allocates up front, at most: a caller's
/// expected length is only a hint (max_new_tokens may be 10^9 while summaries end after
/// ~100 tokens), and the cache doubles as decoding proceeds, so memory follows the
/// tokens actually generated.
inline constexpr Index kMaxInitialCachePositions = 256;

class KVCache {
 public:
  KVCache() = default;
  KVCache(Index rows, Index capacity, Index width) { reset(rows, capacity, width); }

  void reset(Index rows, Index capacity, Index width) {
    rows_ = rows;
    capacity_ = capacity;
    width_ = width;
    length_ = 0;
    keys_.resize(rows * capacity, width);
    values_.resize(rows * capacity, width);
  }

  Index rows() const { return rows_; }
  Index length() const { return length_; }
  Index capacity() const { return capacity_; }

  /// Makes room for `count` more positions (doubling, so growth is rare).
  void reserve_more(Index count) {
    if (length_ + count <= capacity_) return;
    Index capacity = std::max<Index>(capacity_ * 2, length_ + count);
    RowMatrix keys(rows_ * capacity, width_), values(rows_ * capacity, width_);
    for (Index r = 0; r < rows_; ++r) {
      keys.middleRows(r * capacity, length_) = keys_.middleRows(r * capacity_, length_);
      values.middleRows(r * capacity, length_) = values_.middleRows(r * capacity_, length_);
    }
    keys_.swap(keys);
    values_.swap(values);
    capacity_ = capacity;
  }

  /// Stores new keys/values [count, width] of row r at positions length()...
  /// (call advance() once all rows are written).
  template <class K, class V>
  void write(Index r, const Eigen::MatrixBase<K>& k, const Eigen::MatrixBase<V>& v) {
    keys_.middleRows(r * capacity_ + length_, k.rows()) = k;
    values_.middleRows(r * capacity_ + length_, v.rows()) = v;
  }
  void advance(Index count) { length_ += count; }

  /// Keys/values of row r for positions [0, count).
  auto keys(Index r, Index count) const { return keys_.middleRows(r * capacity_, count); }
  auto values(Index r, Index count) const { return values_.middleRows(r * capacity_, count); }

  void reorder(const std::vector<Index>& source) {
    const Index rows = static_cast<Index>(source.size());
    RowMatrix keys(rows * capacity_, width_), values(rows * capacity_, width_);
    for (Index r = 0; r < rows; ++r) {
      keys.middleRows(r * capacity_, length_) = keys_.middleRows(source[r] * capacity_, length_);
      values.middleRows(r * capacity_, length_) = values_.middleRows(source[r] * capacity_, length_);
    }
    keys_.swap(keys);
    values_.swap(values);
    rows_ = rows;
  }

 private:
  Index rows_ = 0, capacity_ = 0, width_ = 0, length_ = 0;
  RowMatrix keys_, values_;
};

}  // namespace srformer::attention
