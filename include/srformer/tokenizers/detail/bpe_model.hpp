#pragma once
// Byte-pair encoding of one pre-tokenised word, as HuggingFace's BPE model does
// it: start from single characters, then repeatedly apply the adjacent merge of
// lowest rank (ties: leftmost), using a heap over a linked list of symbols so a
// long word costs O(n log n). Results are cached per word (bounded size,
// thread-safe: encode is const and may run on several threads).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "srformer/core/error.hpp"
#include "srformer/core/printable.hpp"
#include "srformer/generation/decoder_session.hpp"
#include "srformer/tokenizers/detail/utf8.hpp"

namespace srformer::tokenizers::detail {

class BpeModel {
 public:
  BpeModel() = default;

  /// `vocab`: token -> id; `merges`: pairs in rank order; `what` names the source.
  BpeModel(const std::unordered_map<std::string, TokenId>& vocab,
           const std::vector<std::pair<std::string, std::string>>& merges, TokenId unk_id, bool ignore_merges,
           const std::string& what)
      : ids_(vocab), unk_id_(unk_id), ignore_merges_(ignore_merges) {
    // Ids are dense, 0 .. size-1: anything else is refused before it sizes the table.
    const auto size = static_cast<Index>(vocab.size());
    for (const auto& [token, id] : vocab)
      if (id < 0 || id >= size)
        throw FormatError(what + ": token '" + printable(token) + "' has id " + std::to_string(id) +
                          ", outside the vocabulary the file defines [0, " + std::to_string(size) + ")");
    tokens_.resize(vocab.size());
    std::vector<bool> used(tokens_.size(), false);
    for (const auto& [token, id] : vocab) {
      if (used[static_cast<std::size_t>(id)]) throw FormatError(what + ": id " + std::to_string(id) + " is used twice");
      used[static_cast<std::size_t>(id)] = true;
      tokens_[static_cast<std::size_t>(id)] = token;
    }
    for (std::size_t id = 0; id < used.size(); ++id)
      if (!used[id]) throw FormatError(what + ": the vocabulary has no token with id " + std::to_string(id));
    for (std::size_t rank = 0; rank < merges.size(); ++rank) {
      const auto& [left, right] = merges[rank];
      const TokenId left_id = find(left), right_id = find(right), merged_id = find(left + right);
      const auto where = [&] {
        // (C++17 lambdas cannot capture the structured bindings themselves.)
        return what + ": merge " + std::to_string(rank) + " ('" + printable(merges[rank].first) + "' '" +
               printable(merges[rank].second) + "')";
      };
      if (left_id < 0 || right_id < 0) throw FormatError(where() + " uses a token that is not in the vocabulary");
      if (merged_id < 0) throw FormatError(where() + " makes a token that is not in the vocabulary");
      merges_.emplace(pair_key(left_id, right_id), Merge{static_cast<std::uint32_t>(rank), merged_id});
    }
  }

  std::size_t size() const { return tokens_.size(); }
  const std::string& token(TokenId id) const { return tokens_[static_cast<std::size_t>(id)]; }
  TokenId find(std::string_view token) const {
    const auto it = ids_.find(std::string(token));
    return it == ids_.end() ? -1 : it->second;
  }

  /// Appends the ids of one word (in the model's alphabet).
  void encode(std::string_view word, std::vector<TokenId>& ids) const {
    if (word.empty()) return;
    {
      std::lock_guard<std::mutex> lock(cache_mutex_);
      const auto it = cache_.find(std::string(word));
      if (it != cache_.end()) {
        ids.insert(ids.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    std::vector<TokenId> result = merge_word(word);
    ids.insert(ids.end(), result.begin(), result.end());
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() >= kCacheCapacity) cache_.clear();
    cache_.emplace(std::string(word), std::move(result));
  }

 private:
  struct Merge {
    std::uint32_t rank;
    TokenId merged;
  };
  static constexpr std::size_t kCacheCapacity = 10000;

  static std::uint64_t pair_key(TokenId left, TokenId right) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) | static_cast<std::uint32_t>(right);
  }

  const Merge* find_merge(TokenId left, TokenId right) const {
    const auto it = merges_.find(pair_key(left, right));
    return it == merges_.end() ? nullptr : &it->second;
  }

  std::vector<TokenId> merge_word(std::string_view word) const {
    if (ignore_merges_) {
      const TokenId whole = find(word);
      if (whole >= 0) return {whole};
    }
    struct Symbol {
      TokenId id;
      long prev, next;  // neighbours in the list, -1 at the ends
      bool alive;
    };
    std::vector<Symbol> symbols;
    for_each_code_point(word, [&](char32_t, std::size_t offset, std::size_t length) {
      const std::string_view character = word.substr(offset, length);
      TokenId id = find(character);
      if (id < 0) {
        if (unk_id_ < 0)
          throw TokenizerError("BPE: character '" + printable(character) + "' is not in the vocabulary and there is no unk token");
        id = unk_id_;
      }
      const long index = static_cast<long>(symbols.size());
      symbols.push_back({id, index - 1, index + 1, true});
    });
    symbols.back().next = -1;

    struct Candidate {
      std::uint32_t rank;
      long position;
      TokenId merged;
      bool operator>(const Candidate& other) const {
        return rank != other.rank ? rank > other.rank : position > other.position;
      }
    };
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
    const auto push_pair = [&](long left) {
      if (left < 0 || symbols[left].next < 0) return;
      if (const Merge* merge = find_merge(symbols[left].id, symbols[symbols[left].next].id))
        queue.push({merge->rank, left, merge->merged});
    };
    for (long i = 0; i + 1 < static_cast<long>(symbols.size()); ++i) push_pair(i);

    while (!queue.empty()) {
      const Candidate top = queue.top();
      queue.pop();
      Symbol& left = symbols[top.position];
      if (!left.alive || left.next < 0) continue;
      Symbol& right = symbols[left.next];
      const Merge* current = find_merge(left.id, right.id);
      if (current == nullptr || current->merged != top.merged) continue;  // stale entry
      left.id = top.merged;
      right.alive = false;
      left.next = right.next;
      if (right.next >= 0) symbols[right.next].prev = top.position;
      push_pair(left.prev);
      push_pair(top.position);
    }
    std::vector<TokenId> result;
    for (long i = 0; i >= 0; i = symbols[i].next) result.push_back(symbols[i].id);
    return result;
  }

  std::unordered_map<std::string, TokenId> ids_;
  std::vector<std::string> tokens_;
  std::unordered_map<std::uint64_t, Merge> merges_;
  TokenId unk_id_ = -1;
  bool ignore_merges_ = false;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<TokenId>> cache_;
};

}  // namespace srformer::tokenizers::detail
