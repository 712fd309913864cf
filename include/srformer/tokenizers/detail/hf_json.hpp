#pragma once
// The parts of a HuggingFace tokenizer.json pipeline shared by the Unigram and
// BPE tokenizers: reading the file, added tokens, the post-processor (which
// special ids frame a single sequence), and the normaliser / pre-tokeniser /
// decoder steps a SentencePiece-converted (T5) tokenizer declares. Anything
// not implemented is rejected with a TokenizerError naming the file and the
// component, never silently ignored.
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <optional>
#include <string>
#include <type_traits>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "srformer/core/error.hpp"
#include "srformer/core/printable.hpp"
#include "srformer/generation/decoder_session.hpp"
#include "srformer/io/json.hpp"
#include "srformer/tokenizers/detail/added_vocabulary.hpp"
#include "srformer/tokenizers/detail/precompiled_charsmap.hpp"
#include "srformer/tokenizers/detail/unicode.hpp"

namespace srformer::tokenizers::detail {

using Json = nlohmann::json;

inline std::string read_text_file(const std::filesystem::path& file) { return io::read_text_file(file); }

inline Json read_json_file(const std::filesystem::path& file) { return io::read_json_file<Json>(file); }

/// json[key] as T, or FormatError naming the file and key.
template <typename T>
T json_get(const Json& json, const char* key, const std::string& what) {
  if (!json.is_object() || !json.contains(key)) throw FormatError(what + ": missing \"" + key + "\"");
  const Json& value = json.at(key);
  if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
    if (const std::optional<T> number = io::json_number_as<T>(value)) return *number;
    throw FormatError(what + ": \"" + key + "\" is not a number in range (" + io::json_excerpt(value) + ")");
  } else {
    try {
      return value.get<T>();
    } catch (const Json::exception& e) {
      throw FormatError(what + ": \"" + key + "\" has the wrong type (" + e.what() + ")");
    }
  }
}

template <typename T>
T json_get_or(const Json& json, const char* key, T fallback, const std::string& what) {
  if (!json.is_object() || !json.contains(key) || json.at(key).is_null()) return fallback;
  return json_get<T>(json, key, what);
}

inline std::string json_type(const Json& json, const std::string& what) {
  return json_get<std::string>(json, "type", what);
}

/// The "added_tokens" array of a tokenizer.json.
inline AddedVocabulary parse_added_tokens(const Json& root, const std::string& what) {
  AddedVocabulary added;
  if (!root.contains("added_tokens") || root.at("added_tokens").is_null()) return added;
  const Json& list = root.at("added_tokens");
  if (!list.is_array()) throw FormatError(what + ": \"added_tokens\" is not an array");
  for (const Json& entry : list) {
    AddedToken token;
    token.content = json_get<std::string>(entry, "content", what + " added token");
    const std::string where = what + " added token '" + printable(token.content) + "'";
    token.id = json_get<TokenId>(entry, "id", where);
    token.special = json_get_or<bool>(entry, "special", false, where);
    token.lstrip = json_get_or<bool>(entry, "lstrip", false, where);
    token.rstrip = json_get_or<bool>(entry, "rstrip", false, where);
    token.normalized = json_get_or<bool>(entry, "normalized", !token.special, where);
    if (json_get_or<bool>(entry, "single_word", false, where))
      throw TokenizerError(where + ": single_word=true is not supported");
    if (token.id < 0) throw FormatError(where + ": negative id");
    if (!is_valid_utf8(token.content)) throw FormatError(where + ": content is not valid UTF-8");
    added.add(std::move(token));
  }
  return added;
}

/// Special ids put around a single sequence.
struct Framing {
  std::vector<TokenId> prefix;
  std::vector<TokenId> suffix;
};

inline void parse_post_processor_into(const Json& processor, Framing& framing, const std::string& what) {
  if (processor.is_null()) return;
  const std::string type = json_type(processor, what + " post_processor");
  const std::string where = what + " post_processor " + type;
  if (type == "Sequence") {
    for (const Json& step : json_get<Json>(processor, "processors", where)) parse_post_processor_into(step, framing, what);
  } else if (type == "ByteLevel") {
    // Only adjusts offsets; no ids.
  } else if (type == "RobertaProcessing" || type == "BertProcessing") {
    const auto cls = json_get<std::pair<std::string, TokenId>>(processor, "cls", where);
    const auto sep = json_get<std::pair<std::string, TokenId>>(processor, "sep", where);
    framing.prefix.push_back(cls.second);
    framing.suffix.insert(framing.suffix.begin(), sep.second);
  } else if (type == "TemplateProcessing") {
    const Json specials = json_get_or<Json>(processor, "special_tokens", Json::object(), where);
    bool seen_sequence = false;
    std::vector<TokenId> before, after;
    for (const Json& item : json_get<Json>(processor, "single", where)) {
      if (item.contains("Sequence")) {
        if (seen_sequence) throw TokenizerError(where + ": the single template holds two sequences");
        seen_sequence = true;
      } else if (item.contains("SpecialToken")) {
        const auto name = json_get<std::string>(item.at("SpecialToken"), "id", where);
        if (!specials.contains(name)) throw FormatError(where + ": special token '" + printable(name) + "' is not defined");
        const auto ids = json_get<std::vector<TokenId>>(specials.at(name), "ids", where + " '" + printable(name) + "'");
        (seen_sequence ? after : before).insert((seen_sequence ? after : before).end(), ids.begin(), ids.end());
      } else {
        throw FormatError(where + ": unknown template item " + io::json_excerpt(item));
      }
    }
    if (!seen_sequence) throw TokenizerError(where + ": the single template has no sequence");
    framing.prefix.insert(framing.prefix.end(), before.begin(), before.end());
    framing.suffix.insert(framing.suffix.begin(), after.begin(), after.end());
  } else {
    throw TokenizerError(where + ": post-processor type not supported");
  }
}

inline Framing parse_post_processor(const Json& root, const std::string& what) {
  Framing framing;
  if (root.contains("post_processor")) parse_post_processor_into(root.at("post_processor"), framing, what);
  return framing;
}

// ---------------------------------------------------------------------------
// Normaliser

class Normalizer {
 public:
  Normalizer() = default;
  Normalizer(const Json& spec, const std::string& what) { add(spec, what); }

  std::string apply(std::string_view text) const {
    std::string current(text);
    for (const Step& step : steps_) current = step(current);
    return current;
  }

 private:
  using Step = std::function<std::string(const std::string&)>;

  void add(const Json& spec, const std::string& what) {
    if (spec.is_null()) return;
    const std::string type = json_type(spec, what + " normalizer");
    const std::string where = what + " normalizer " + type;
    if (type == "Sequence") {
      for (const Json& step : json_get<Json>(spec, "normalizers", where)) add(step, what);
    } else if (type == "Precompiled") {
      const std::string encoded = json_get_or<std::string>(spec, "precompiled_charsmap", "", where);
      auto charsmap = std::make_shared<PrecompiledCharsmap>(base64_decode(encoded, where), where);
      steps_.push_back([charsmap](const std::string& s) { return charsmap->normalize(s); });
    } else if (type == "Replace") {
      const Json pattern = json_get<Json>(spec, "pattern", where);
      const std::string content = json_get<std::string>(spec, "content", where);
      if (pattern.contains("String")) {
        const std::string from = pattern.at("String").get<std::string>();
        if (from.empty()) throw FormatError(where + ": empty pattern");
        steps_.push_back([from, content](const std::string& s) { return replace_all(s, from, content); });
      } else if (pattern.contains("Regex") && pattern.at("Regex") == " {2,}") {
        // The one regex SentencePiece conversions emit: collapse runs of spaces.
        steps_.push_back([content](const std::string& s) { return replace_space_runs(s, content); });
      } else {
        throw TokenizerError(where + ": pattern " + io::json_excerpt(pattern) + " is not supported");
      }
    } else {
      throw TokenizerError(where + ": normalizer type not supported");
    }
  }

  static std::string replace_all(const std::string& s, const std::string& from, const std::string& to) {
    std::string out;
    std::size_t pos = 0;
    for (std::size_t hit; (hit = s.find(from, pos)) != std::string::npos; pos = hit + from.size())
      out.append(s, pos, hit - pos).append(to);
    return out.append(s, pos, std::string::npos);
  }

  static std::string replace_space_runs(const std::string& s, const std::string& to) {
    std::string out;
    for (std::size_t i = 0; i < s.size();) {
      std::size_t j = i;
      while (j < s.size() && s[j] == ' ') ++j;
      if (j - i >= 2) out += to, i = j;
      else out += s[i++];
    }
    return out;
  }

  std::vector<Step> steps_;
};

// ---------------------------------------------------------------------------
// Pre-tokeniser (WhitespaceSplit, Metaspace) and Metaspace decoder

enum class PrependScheme { kAlways, kFirst, kNever };

struct MetaspaceOptions {
  std::string replacement = "\xE2\x96\x81";  // U+2581
  PrependScheme prepend = PrependScheme::kAlways;
  bool split = true;

  MetaspaceOptions() = default;
  MetaspaceOptions(const Json& spec, const std::string& where) {
    replacement = json_get_or<std::string>(spec, "replacement", replacement, where);
    if (replacement.empty() || utf8_sequence_length(replacement, 0) != replacement.size())
      throw FormatError(where + ": replacement must be one character");
    if (spec.contains("prepend_scheme") && !spec.at("prepend_scheme").is_null()) {
      const auto scheme = json_get<std::string>(spec, "prepend_scheme", where);
      if (scheme == "always") prepend = PrependScheme::kAlways;
      else if (scheme == "first") prepend = PrependScheme::kFirst;
      else if (scheme == "never") prepend = PrependScheme::kNever;
      else throw FormatError(where + ": unknown prepend_scheme '" + printable(scheme) + "'");
    } else {
      // Files written before prepend_scheme existed.
      prepend = json_get_or<bool>(spec, "add_prefix_space", true, where) ? PrependScheme::kAlways : PrependScheme::kNever;
    }
    split = json_get_or<bool>(spec, "split", true, where);
  }
};

/// A pre-token; `at_origin`: it starts at byte 0 of the whole input (for
/// Metaspace's "first" scheme).
struct Word {
  std::string text;
  bool at_origin = false;
};

class PreTokenizer {
 public:
  PreTokenizer() = default;
  PreTokenizer(const Json& spec, const std::string& what) { add(spec, what); }

  std::vector<Word> apply(std::string_view text, bool at_origin) const {
    std::vector<Word> words{{std::string(text), at_origin}};
    for (const Step& step : steps_) {
      std::vector<Word> next;
      for (const Word& word : words) step(word, next);
      words = std::move(next);
    }
    return words;
  }

 private:
  using Step = std::function<void(const Word&, std::vector<Word>&)>;

  void add(const Json& spec, const std::string& what) {
    if (spec.is_null()) return;
    const std::string type = json_type(spec, what + " pre_tokenizer");
    const std::string where = what + " pre_tokenizer " + type;
    if (type == "Sequence") {
      for (const Json& step : json_get<Json>(spec, "pretokenizers", where)) add(step, what);
    } else if (type == "WhitespaceSplit") {
      steps_.push_back(whitespace_split);
    } else if (type == "Metaspace") {
      const MetaspaceOptions options(spec, where);
      steps_.push_back([options](const Word& word, std::vector<Word>& out) { metaspace(options, word, out); });
    } else {
      throw TokenizerError(where + ": pre-tokenizer type not supported");
    }
  }

  static void whitespace_split(const Word& word, std::vector<Word>& out) {
    std::size_t start = std::string::npos;
    const auto flush = [&](std::size_t end) {
      if (start != std::string::npos) out.push_back({word.text.substr(start, end - start), word.at_origin && start == 0});
      start = std::string::npos;
    };
    for_each_code_point(word.text, [&](char32_t c, std::size_t offset, std::size_t) {
      if (is_white_space(c)) flush(offset);
      else if (start == std::string::npos) start = offset;
    });
    flush(word.text.size());
  }

  static void metaspace(const MetaspaceOptions& options, const Word& word, std::vector<Word>& out) {
    std::string text;
    for (const char c : word.text) {
      if (c == ' ') text += options.replacement;
      else text += c;
    }
    const bool starts_with_replacement = text.compare(0, options.replacement.size(), options.replacement) == 0;
    if (!starts_with_replacement && (options.prepend == PrependScheme::kAlways ||
                                     (options.prepend == PrependScheme::kFirst && word.at_origin)))
      text.insert(0, options.replacement);
    if (!options.split) {
      out.push_back({text, word.at_origin});
      return;
    }
    // Split before every replacement character (HF: MergedWithNext).
    std::size_t start = 0;
    for (std::size_t hit = text.find(options.replacement, 1); hit != std::string::npos;
         hit = text.find(options.replacement, hit + options.replacement.size())) {
      if (hit > start) out.push_back({text.substr(start, hit - start), word.at_origin && start == 0});
      start = hit;
    }
    if (start < text.size()) out.push_back({text.substr(start), word.at_origin && start == 0});
  }

  std::vector<Step> steps_;
};

/// HF Metaspace decoder: the replacement becomes a space, except in the first
/// token, where it is dropped (unless prepend_scheme is "never").
inline std::string metaspace_decode(const MetaspaceOptions& options, const std::vector<std::string>& tokens) {
  std::string text;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const std::string& token = tokens[i];
    const bool drop = i == 0 && options.prepend != PrependScheme::kNever;
    for (std::size_t pos = 0; pos < token.size();) {
      if (token.compare(pos, options.replacement.size(), options.replacement) == 0) {
        if (!drop) text += ' ';
        pos += options.replacement.size();
      } else {
        text += token[pos++];
      }
    }
  }
  return text;
}

}  // namespace srformer::tokenizers::detail
