#pragma once
// Reading JSON files (config.json, tokenizer.json, index files) with errors
// that name the file, so that a broken download is easy to spot.
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "srformer/core/error.hpp"
#include "srformer/core/printable.hpp"
#include "srformer/io/file_checks.hpp"

namespace srformer::io {

/// Deepest nesting of arrays and objects a JSON text may have. HuggingFace files
/// nest a few levels; nlohmann's serializer and copy recurse once per level, so a
/// file of 100,000 '[' would overflow the stack when a value is copied or quoted.
inline constexpr int kMaxJsonDepth = 128;

/// Largest JSON file read whole (config, tokenizer, index files are far smaller).
inline constexpr std::uint64_t kMaxJsonFileBytes = std::uint64_t{1} << 30;

namespace detail {

/// 1-based line of the first byte at which `text` nests deeper than `max_depth`, or 0.
/// Counts brackets outside strings; a malformed text is left to the parser.
inline std::size_t line_nested_too_deep(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false, escaped = false;
  std::size_t line = 1;
  for (const char c : text) {
    if (c == '\n') ++line;
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return line;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return 0;
}

}  // namespace detail

/// Parses `text`: FormatError "<source>: invalid JSON: ..." (with line/column) when malformed,
/// or when arrays/objects nest deeper than `max_depth`.
template <class Json = nlohmann::json>
Json parse_json(std::string_view text, const std::string& source, int max_depth = kMaxJsonDepth) {
  if (const std::size_t line = detail::line_nested_too_deep(text, max_depth))
    throw FormatError(source + ": invalid JSON: arrays/objects nest deeper than " + std::to_string(max_depth) +
                      " levels (line " + std::to_string(line) + ")");
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& error) {
    // The parser quotes the bytes it stopped at, which may be anything.
    throw FormatError(source + ": invalid JSON: " + printable(error.what()));
  }
}

/// A JSON value for an error message: compact, escaped and cut (a value from a file
/// may be megabytes long, hold invalid UTF-8 in a string built by code, or control bytes).
template <class Json>
std::string json_excerpt(const Json& value, std::size_t max_bytes = 120) {
  const std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() <= max_bytes) return printable(text);
  const std::size_t cut = srformer::detail::character_start_at_or_before(text, max_bytes);
  return printable(std::string_view(text).substr(0, cut)) + "... (" + std::to_string(text.size() - cut) +
         " more bytes)";
}

/// Whole file as bytes; FormatError naming the file when it is missing, not a regular
/// file, unreadable or larger than `max_bytes`.
inline std::string read_text_file(const std::filesystem::path& path, std::uint64_t max_bytes = kMaxJsonFileBytes) {
  require_regular_file(path);
  std::error_code size_error;
  const std::uintmax_t size = std::filesystem::file_size(path, size_error);
  if (!size_error && size > max_bytes)
    throw FormatError("file " + path.string() + " is " + std::to_string(size) + " bytes, more than the " +
                      std::to_string(max_bytes) + " this reader accepts (not the file it should be?)");
  std::ifstream stream(path, std::ios::binary);
  if (!stream) throw FormatError("file " + path.string() + ": cannot open: " + std::strerror(errno));
  std::ostringstream contents;
  contents << stream.rdbuf();
  if (stream.bad()) throw FormatError("file " + path.string() + ": read error");
  return contents.str();
}

/// Reads and parses a JSON file; FormatError naming the file when missing, unreadable or invalid.
template <class Json = nlohmann::json>
Json read_json_file(const std::filesystem::path& path) {
  return parse_json<Json>(read_text_file(path), "file " + path.string());
}

/// Like read_json_file, and the top level must be an object (as config files are).
inline nlohmann::json read_json_object_file(const std::filesystem::path& path) {
  nlohmann::json value = read_json_file(path);
  if (!value.is_object())
    throw FormatError("file " + path.string() + ": top level is a JSON " + value.type_name() +
                      ", not an object");
  return value;
}

/// A JSON number as T, or nullopt when T cannot hold it exactly: a fraction or an
/// out-of-range value for an integer T, a non-finite or out-of-range value for a
/// floating T, or not a number at all. nlohmann's get<T>() converts with a plain cast,
/// which is undefined behaviour for a float outside T's range (found by the config
/// fuzzer: 3.8e29 as an integer setting).
template <class T>
std::optional<T> json_number_as(const nlohmann::json& value) {
  static_assert(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>, "json_number_as is for numbers");
  using Limits = std::numeric_limits<T>;
  if constexpr (std::is_integral_v<T>) {
    if (value.is_number_unsigned()) {
      const auto number = value.get<std::uint64_t>();
      if (number > static_cast<std::uint64_t>(Limits::max())) return std::nullopt;
      return static_cast<T>(number);
    }
    if (value.is_number_integer()) {
      const auto number = value.get<std::int64_t>();
      if constexpr (std::is_signed_v<T>) {
        if (number < static_cast<std::int64_t>(Limits::min()) || number > static_cast<std::int64_t>(Limits::max()))
          return std::nullopt;
      } else {
        if (number < 0 || static_cast<std::uint64_t>(number) > static_cast<std::uint64_t>(Limits::max()))
          return std::nullopt;
      }
      return static_cast<T>(number);
    }
    if (value.is_number_float()) {
      // 512.0 is accepted as 512 (Python writes what it was given).
      const double number = value.get<double>();
      const double low = static_cast<double>(Limits::min());
      const double past_high = static_cast<double>(Limits::max()) + 1.0;  // exact: a power of two
      if (!std::isfinite(number) || std::floor(number) != number || number < low || number >= past_high)
        return std::nullopt;
      return static_cast<T>(number);
    }
    return std::nullopt;
  } else {
    if (!value.is_number()) return std::nullopt;
    const double number = value.get<double>();
    if (!std::isfinite(number) || std::fabs(number) > static_cast<double>(Limits::max())) return std::nullopt;
    return static_cast<T>(number);
  }
}

}  // namespace srformer::io
