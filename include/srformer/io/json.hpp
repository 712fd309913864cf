#pragma once
// Reading JSON files (config.json, tokenizer.json, index files) with errors
// that name the file, so that a broken download is easy to spot.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>

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

}  // namespace srformer::io
