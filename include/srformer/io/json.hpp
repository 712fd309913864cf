#pragma once
// Reading JSON files (config.json, tokenizer.json, index files) with errors
// that name the file, so that a broken download is easy to spot.
#include <cerrno>
#include <cmath>
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

namespace srformer::io {

/// Parses `text`; FormatError "<source>: invalid JSON: ..." (with line/column) when malformed.
inline nlohmann::json parse_json(std::string_view text, const std::string& source) {
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& error) {
    throw FormatError(source + ": invalid JSON: " + error.what());
  }
}

/// Whole file as bytes; FormatError naming the file when it is missing, a folder or unreadable.
inline std::string read_text_file(const std::filesystem::path& path) {
  std::error_code status_error;
  const auto status = std::filesystem::status(path, status_error);
  if (!std::filesystem::exists(status)) throw FormatError("file " + path.string() + " does not exist");
  if (std::filesystem::is_directory(status))
    throw FormatError("file " + path.string() + " is a directory, not a file");
  std::ifstream stream(path, std::ios::binary);
  if (!stream) throw FormatError("file " + path.string() + ": cannot open: " + std::strerror(errno));
  std::ostringstream contents;
  contents << stream.rdbuf();
  if (stream.bad()) throw FormatError("file " + path.string() + ": read error");
  return contents.str();
}

/// Reads and parses a JSON file; FormatError naming the file when missing, unreadable or invalid.
inline nlohmann::json read_json_file(const std::filesystem::path& path) {
  return parse_json(read_text_file(path), "file " + path.string());
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
