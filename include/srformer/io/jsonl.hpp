#pragma once
// JSON Lines documents in, the same objects with a summary added out — the
// summarize tool's batch format (one JSON object per line, a text field to
// summarize, every other field kept in its order).
//
// All lines are checked before any work starts (a bad line 10,000 should not
// surface after hours of decoding), but only their text is kept: an object is
// parsed again when its batch is written, so memory stays near the size of the
// input rather than that of its parsed form. Nesting is bounded on input
// (io::kMaxJsonDepth): nlohmann's serializer recurses once per level.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "srformer/core/error.hpp"
#include "srformer/core/printable.hpp"
#include "srformer/io/json.hpp"

namespace srformer::io {

/// Largest input the summarize tool reads by default (--max-input-bytes).
inline constexpr std::uint64_t kDefaultMaxInputBytes = std::uint64_t{1} << 30;

/// Up to `max_bytes` bytes of `in`; `more` tells whether the stream had more.
struct BoundedRead {
  std::string text;
  bool more = false;
};

/// Reads `in` to its end or to `max_bytes`, whichever comes first, in blocks, so that
/// an endless stream (/dev/zero) costs max_bytes and no more.
inline BoundedRead read_at_most(std::istream& in, std::uint64_t max_bytes) {
  BoundedRead out;
  // Read straight into the string in growing steps (4 KiB doubling to 1 MiB): a small
  // input costs a small buffer, a large one few reads.
  std::size_t step = std::size_t{1} << 12;
  while (out.text.size() < max_bytes) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(step, max_bytes - out.text.size()));
    const std::size_t old_size = out.text.size();
    out.text.resize(old_size + want);
    in.read(&out.text[old_size], static_cast<std::streamsize>(want));
    const auto got = static_cast<std::size_t>(in.gcount());
    out.text.resize(old_size + got);
    if (got < want) return out;  // end of input (or a read error, which the caller checks on the stream)
    step = std::min<std::size_t>(step * 2, std::size_t{1} << 20);
  }
  out.more = in.peek() != std::char_traits<char>::eof();
  return out;
}

/// One document line of a JSON Lines input: its 1-based line number and its text.
struct JsonlRecord {
  std::size_t line = 0;
  std::string text;
};

using OrderedJson = nlohmann::ordered_json;

/// What a JSONL input must look like and where it comes from (for messages).
struct JsonlFormat {
  std::string name = "input";                  ///< the file, "standard input", ...
  std::string field = "document";              ///< string field holding the document
  std::string summary_field = "summary_text";  ///< field added on output; must not exist yet
};

namespace detail {

inline std::string jsonl_where(const JsonlFormat& format, std::size_t line) {
  return format.name + " line " + std::to_string(line);
}

/// The line parsed as an object (InputError naming the line otherwise).
inline OrderedJson parse_jsonl_object(std::string_view text, const JsonlFormat& format, std::size_t line) {
  const std::string where = jsonl_where(format, line);
  OrderedJson object;
  try {
    object = parse_json<OrderedJson>(text, where);
  } catch (const FormatError& e) {
    throw InputError(std::string(e.what()));
  }
  if (!object.is_object()) throw InputError(where + " is not a JSON object");
  return object;
}

inline bool is_blank_line(std::string_view line) {
  for (const char c : line)
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '\f' && c != '\v') return false;
  return true;
}

}  // namespace detail

/// Every non-blank line of `text`, checked: a JSON object (nested at most
/// kMaxJsonDepth levels) with a non-blank string in format.field and no
/// format.summary_field. InputError naming the line otherwise, or when there is none.
inline std::vector<JsonlRecord> read_jsonl_records(std::string_view text, const JsonlFormat& format) {
  std::vector<JsonlRecord> records;
  std::size_t number = 0;
  for (std::size_t begin = 0; begin < text.size();) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(begin, end - begin);
    begin = end + 1;
    ++number;
    if (detail::is_blank_line(line)) continue;
    const std::string where = detail::jsonl_where(format, number);
    const OrderedJson object = detail::parse_jsonl_object(line, format, number);
    const auto field = object.find(format.field);
    if (field == object.end()) throw InputError(where + " has no field " + quote(format.field));
    if (!field->is_string()) throw InputError(where + ": field " + quote(format.field) + " is not a string");
    if (detail::is_blank_line(field->get_ref<const std::string&>()))
      throw InputError(where + ": field " + quote(format.field) + " is empty");
    if (object.contains(format.summary_field))
      throw InputError(where + " already has a field " + quote(format.summary_field) +
                       "; choose another output field with --summary-field");
    records.push_back({number, std::string(line)});
  }
  if (records.empty()) throw InputError(format.name + " holds no documents");
  return records;
}

/// The document of a record read by read_jsonl_records.
inline std::string jsonl_document(const JsonlRecord& record, const JsonlFormat& format) {
  const OrderedJson object = detail::parse_jsonl_object(record.text, format, record.line);
  const auto field = object.find(format.field);
  if (field == object.end() || !field->is_string())
    throw InputError(detail::jsonl_where(format, record.line) + " has no string field " + quote(format.field));
  return field->get<std::string>();
}

/// The record's object with format.summary_field = summary added last, as one line of
/// compact JSON (no newline). Text that is not valid UTF-8 (a detokenizer may produce
/// it) is written with U+FFFD in place of the bad bytes, as HF's decode does.
inline std::string jsonl_with_summary(const JsonlRecord& record, const JsonlFormat& format,
                                      const std::string& summary) {
  OrderedJson object = detail::parse_jsonl_object(record.text, format, record.line);
  object[format.summary_field] = summary;
  return object.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

}  // namespace srformer::io
