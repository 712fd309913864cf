#pragma once
// The Unigram language-model segmentation of HuggingFace tokenizers (the same
// Viterbi search as SentencePiece's EncodeOptimized): the best-scoring split of
// a pre-tokenised word into vocabulary pieces. Scores are summed in double, as
// both implementations do, so near-ties resolve identically. A character that no
// single-character piece covers becomes <unk> with score min_score - 10;
// consecutive <unk>s are fused into one token; with byte_fallback an <unk> is
// spelled as <0xXX> byte pieces when they all exist.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
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

/// A byte trie over the vocabulary pieces, for common-prefix search.
class PieceTrie {
 public:
  PieceTrie() : terminal_(1, -1) {}

  void insert(std::string_view piece, TokenId id) {
    std::uint32_t node = 0;
    for (const char c : piece) {
      const std::uint64_t key = edge_key(node, c);
      const auto it = edges_.find(key);
      if (it != edges_.end()) {
        node = it->second;
      } else {
        const auto child = static_cast<std::uint32_t>(terminal_.size());
        terminal_.push_back(-1);
        edges_.emplace(key, child);
        node = child;
      }
    }
    terminal_[node] = id;
  }

  /// Calls visit(id, length) for each piece that is a prefix of `text`, shortest first.
  template <typename Visitor>
  void common_prefixes(std::string_view text, Visitor&& visit) const {
    std::uint32_t node = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
      const auto it = edges_.find(edge_key(node, text[i]));
      if (it == edges_.end()) return;
      node = it->second;
      if (terminal_[node] >= 0) visit(terminal_[node], i + 1);
    }
  }

 private:
  static std::uint64_t edge_key(std::uint32_t node, char c) {
    return (static_cast<std::uint64_t>(node) << 8) | static_cast<unsigned char>(c);
  }
  std::unordered_map<std::uint64_t, std::uint32_t> edges_;
  std::vector<TokenId> terminal_;  // piece id ending at each node, or -1
};

class UnigramModel {
 public:
  /// `pieces[i]` and `scores[i]` describe id i; `what` names the source in errors.
  UnigramModel(std::vector<std::string> pieces, std::vector<double> scores, TokenId unk_id, bool byte_fallback,
               const std::string& what)
      : pieces_(std::move(pieces)), scores_(std::move(scores)), unk_id_(unk_id), byte_fallback_(byte_fallback) {
    if (pieces_.empty()) throw FormatError(what + ": Unigram vocabulary is empty");
    if (unk_id_ >= static_cast<TokenId>(pieces_.size()))
      throw FormatError(what + ": Unigram unk_id " + std::to_string(unk_id_) + " is outside the vocabulary of " +
                        std::to_string(pieces_.size()));
    double min_score = std::numeric_limits<double>::infinity();
    for (std::size_t id = 0; id < pieces_.size(); ++id) {
      if (!is_valid_utf8(pieces_[id]))
        throw FormatError(what + ": Unigram piece " + std::to_string(id) + " is not valid UTF-8");
      ids_[pieces_[id]] = static_cast<TokenId>(id);  // a repeated piece: the last id wins, as in HF
      trie_.insert(pieces_[id], static_cast<TokenId>(id));
      min_score = std::min(min_score, scores_[id]);
    }
    unk_score_ = min_score - 10.0;  // K_UNK_PENALTY of both implementations
  }

  std::size_t size() const { return pieces_.size(); }
  const std::string& piece(TokenId id) const { return pieces_[static_cast<std::size_t>(id)]; }
  TokenId unk_id() const { return unk_id_; }
  TokenId find(std::string_view piece) const {
    const auto it = ids_.find(std::string(piece));
    return it == ids_.end() ? -1 : it->second;
  }

  /// Appends the ids and token strings of one word (well-formed UTF-8).
  void encode(std::string_view word, std::vector<TokenId>& ids, std::vector<std::string>* tokens) const {
    if (word.empty()) return;
    struct Node {
      TokenId id = -1;
      double score = 0.0;
      std::size_t starts_at = kNone;
    };
    std::vector<Node> best(word.size() + 1);
    best[0].starts_at = 0;
    for (std::size_t start = 0; start < word.size();) {
      std::size_t char_length = utf8_sequence_length(word, start);
      if (char_length == 0) char_length = 1;
      const double score_here = best[start].score;
      bool has_single_char_piece = false;
      trie_.common_prefixes(word.substr(start), [&](TokenId id, std::size_t length) {
        Node& target = best[start + length];
        const double candidate = score_here + scores_[static_cast<std::size_t>(id)];
        if (target.starts_at == kNone || candidate > target.score) target = {id, candidate, start};
        if (length == char_length) has_single_char_piece = true;
      });
      if (!has_single_char_piece) {
        Node& target = best[start + char_length];
        const double candidate = score_here + unk_score_;
        if (target.starts_at == kNone || candidate > target.score) target = {unk_id_, candidate, start};
      }
      start += char_length;
    }
    // Walk back from the end, fusing runs of <unk>.
    std::vector<std::pair<std::size_t, std::size_t>> spans;  // reversed [start, end)
    std::vector<bool> span_is_unk;
    for (std::size_t end = word.size(); end > 0;) {
      const Node& node = best[end];
      if (node.starts_at == kNone) break;  // unreachable (every char has an edge)
      const bool is_unk = node.id == unk_id_ && unk_id_ >= 0;
      if (is_unk && !span_is_unk.empty() && span_is_unk.back()) spans.back().first = node.starts_at;
      else spans.emplace_back(node.starts_at, end), span_is_unk.push_back(is_unk);
      end = node.starts_at;
    }
    for (std::size_t i = spans.size(); i-- > 0;) {
      const std::string_view text = word.substr(spans[i].first, spans[i].second - spans[i].first);
      // HF looks the (possibly fused) string up again: a fused run could be a piece.
      TokenId id = find(text);
      if (id < 0) {
        if (unk_id_ < 0)
          throw TokenizerError("Unigram: '" + printable(text) + "' has no piece and the model has no unk_id");
        id = unk_id_;
      }
      if (id == unk_id_ && byte_fallback_ && append_bytes(text, ids, tokens)) continue;
      ids.push_back(id);
      if (tokens) tokens->emplace_back(text);
    }
  }

 private:
  static constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();

  bool append_bytes(std::string_view text, std::vector<TokenId>& ids, std::vector<std::string>* tokens) const {
    std::vector<TokenId> byte_ids;
    for (const char c : text) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", static_cast<unsigned>(static_cast<unsigned char>(c)));
      const TokenId id = find(name);
      if (id < 0) return false;
      byte_ids.push_back(id);
    }
    for (const TokenId id : byte_ids) {
      ids.push_back(id);
      if (tokens) tokens->push_back(piece(id));
    }
    return true;
  }

  std::vector<std::string> pieces_;
  std::vector<double> scores_;
  std::unordered_map<std::string, TokenId> ids_;
  PieceTrie trie_;
  TokenId unk_id_ = -1;
  bool byte_fallback_ = false;
  double unk_score_ = 0.0;
};

}  // namespace srformer::tokenizers::detail
