#pragma once
// Reader for the safetensors format: an 8-byte little-endian header length N,
// N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]},
// "__metadata__": {str: str}}, then the data buffer. The file is memory-mapped;
// float32 tensors point straight into the mapping (no copy), F16/BF16 are
// converted to float32 on read. Every structural rule is checked on open, so a
// bad file fails with a FormatError naming the file and the tensor instead of
// reading out of bounds later. (As with any mapping, the file must not be
// truncated by another process while tensors from it are in use.)
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <unordered_set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "srformer/core/error.hpp"
#include "srformer/core/printable.hpp"
#include "srformer/core/tensor.hpp"
#include "srformer/io/detail/half_float.hpp"
#include "srformer/io/detail/mapped_file.hpp"
#include "srformer/io/json.hpp"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "srformer reads safetensors (little-endian) in place and needs a little-endian host"
#endif

namespace srformer::io {

/// Element types a safetensors header may name (all byte-sized ones of the format).
enum class DType { Bool, U8, I8, F8_E5M2, F8_E4M3, F8_E8M0, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64 };

namespace detail {

struct DTypeEntry {
  DType dtype;
  const char* name;
  std::size_t size;
};

inline const std::vector<DTypeEntry>& dtype_table() {
  static const std::vector<DTypeEntry> table = {
      {DType::Bool, "BOOL", 1},       {DType::U8, "U8", 1},           {DType::I8, "I8", 1},
      {DType::F8_E5M2, "F8_E5M2", 1}, {DType::F8_E4M3, "F8_E4M3", 1}, {DType::F8_E8M0, "F8_E8M0", 1},
      {DType::I16, "I16", 2},         {DType::U16, "U16", 2},         {DType::F16, "F16", 2},
      {DType::BF16, "BF16", 2},       {DType::I32, "I32", 4},         {DType::U32, "U32", 4},
      {DType::F32, "F32", 4},         {DType::F64, "F64", 8},         {DType::I64, "I64", 8},
      {DType::U64, "U64", 8}};
  return table;
}

inline const DTypeEntry* find_dtype(const std::string& name) {
  for (const auto& entry : dtype_table())
    if (name == entry.name) return &entry;
  return nullptr;
}

inline const DTypeEntry& dtype_entry(DType dtype) {
  for (const auto& entry : dtype_table())
    if (entry.dtype == dtype) return entry;
  throw Error("unknown DType value " + std::to_string(static_cast<int>(dtype)));
}

/// Reads a possibly unaligned little-endian value out of the mapping.
template <typename T>
T load_unaligned(const unsigned char* bytes) {
  T value;
  std::memcpy(&value, bytes, sizeof value);
  return value;
}

}  // namespace detail

/// The file's spelling of a dtype ("F32", "BF16", ...).
inline const char* dtype_name(DType dtype) { return detail::dtype_entry(dtype).name; }
/// Bytes per element.
inline std::size_t dtype_size(DType dtype) { return detail::dtype_entry(dtype).size; }

/// One header entry. `begin`/`end` are byte offsets into the data buffer.
struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;

  std::int64_t numel() const { return shape_numel(shape); }
  std::uint64_t byte_size() const { return end - begin; }
};

/// A validated, memory-mapped safetensors file. Immutable after open; copies
/// share the mapping; all reads are const and safe from several threads.
class SafetensorsFile {
 public:
  /// Largest header accepted (the reference implementation's limit).
  static constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

  /// Maps and validates `path`; throws FormatError naming the file (and tensor) on any violation.
  static SafetensorsFile open(const std::filesystem::path& path) { return SafetensorsFile(path); }

  const std::filesystem::path& path() const { return path_; }
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  /// Tensor names, sorted.
  std::vector<std::string> names() const {
    std::vector<std::string> result;
    result.reserve(tensors_.size());
    for (const auto& entry : tensors_) result.push_back(entry.first);
    return result;
  }
  std::size_t size() const { return tensors_.size(); }
  /// dtype, shape and offsets; TensorError when absent.
  const TensorInfo& info(const std::string& name) const {
    const auto found = tensors_.find(name);
    if (found == tensors_.end()) throw TensorError(where() + "missing tensor '" + printable(name) + "'");
    return found->second;
  }
  /// The "__metadata__" string map (empty when the header has none).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  /// F32 in place when 4-byte aligned (copied otherwise); F16/BF16 converted into an owned buffer.
  /// TensorError for any other dtype.
  FloatTensor read_float(const std::string& name) const {
    const TensorInfo& entry = info(name);
    const unsigned char* bytes = tensor_bytes(name);
    const auto count = static_cast<std::size_t>(entry.numel());
    switch (entry.dtype) {
      case DType::F32: {
        if (reinterpret_cast<std::uintptr_t>(bytes) % alignof(float) == 0)
          return FloatTensor(name, entry.shape, reinterpret_cast<const float*>(bytes), file_);
        std::vector<float> values(count);
        if (count != 0) std::memcpy(values.data(), bytes, count * sizeof(float));
        return FloatTensor::owning(name, entry.shape, std::move(values));
      }
      case DType::F16:
      case DType::BF16: {
        const bool is_f16 = entry.dtype == DType::F16;
        std::vector<float> values(count);
        for (std::size_t i = 0; i < count; ++i) {
          const auto half = detail::load_unaligned<std::uint16_t>(bytes + 2 * i);
          values[i] = is_f16 ? detail::f16_to_f32(half) : detail::bf16_to_f32(half);
        }
        return FloatTensor::owning(name, entry.shape, std::move(values));
      }
      default:
        throw TensorError(where() + "tensor '" + printable(name) + "' has dtype " + dtype_name(entry.dtype) +
                          ", but a float tensor (F32, F16 or BF16) is needed");
    }
  }

  /// Integer tensors widened to int64 (I64, I32, I16, I8, U8, U16, U32, BOOL; U64 when it fits).
  /// TensorError for float dtypes.
  std::vector<std::int64_t> read_int64(const std::string& name) const {
    const TensorInfo& entry = info(name);
    const unsigned char* bytes = tensor_bytes(name);
    const auto count = static_cast<std::size_t>(entry.numel());
    switch (entry.dtype) {
      case DType::I64: return widen<std::int64_t>(bytes, count);
      case DType::I32: return widen<std::int32_t>(bytes, count);
      case DType::I16: return widen<std::int16_t>(bytes, count);
      case DType::I8: return widen<std::int8_t>(bytes, count);
      case DType::U8:
      case DType::Bool: return widen<std::uint8_t>(bytes, count);
      case DType::U16: return widen<std::uint16_t>(bytes, count);
      case DType::U32: return widen<std::uint32_t>(bytes, count);
      case DType::U64: {
        std::vector<std::int64_t> values(count);
        for (std::size_t i = 0; i < count; ++i) {
          const auto value = detail::load_unaligned<std::uint64_t>(bytes + 8 * i);
          if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            throw TensorError(where() + "tensor '" + printable(name) + "' element " + std::to_string(i) + " = " +
                              std::to_string(value) + " does not fit in int64");
          values[i] = static_cast<std::int64_t>(value);
        }
        return values;
      }
      default:
        throw TensorError(where() + "tensor '" + printable(name) + "' has dtype " + dtype_name(entry.dtype) +
                          ", but an integer tensor (e.g. I64 or I32) is needed");
    }
  }

  /// Raw little-endian bytes of a tensor inside the mapping (info(name).byte_size() of them).
  const unsigned char* tensor_bytes(const std::string& name) const {
    return file_->data() + data_start_ + info(name).begin;
  }
  /// The whole mapped file (for checks such as "is this tensor zero-copy").
  const unsigned char* mapped_bytes() const { return file_->data(); }
  std::uint64_t file_size() const { return file_->size(); }

 private:
  explicit SafetensorsFile(const std::filesystem::path& path)
      : path_(path), file_(detail::MappedFile::open(path)) {
    parse_and_validate();
  }

  std::string where() const { return "safetensors file " + path_.string() + ": "; }
  [[noreturn]] void fail(const std::string& message) const { throw FormatError(where() + message); }
  [[noreturn]] void fail_tensor(const std::string& name, const std::string& message) const {
    throw FormatError(where() + "tensor '" + printable(name) + "': " + message);
  }

  template <typename T>
  static std::vector<std::int64_t> widen(const unsigned char* bytes, std::size_t count) {
    std::vector<std::int64_t> values(count);
    for (std::size_t i = 0; i < count; ++i)
      values[i] = static_cast<std::int64_t>(detail::load_unaligned<T>(bytes + sizeof(T) * i));
    return values;
  }

  void parse_and_validate() {
    const std::uint64_t file_size = file_->size();
    if (file_size < 8)
      fail("file is " + std::to_string(file_size) +
           " bytes long, shorter than the 8-byte header length prefix");
    const auto header_size = detail::load_unaligned<std::uint64_t>(file_->data());
    if (header_size > kMaxHeaderBytes)
      fail("header length " + std::to_string(header_size) + " exceeds the limit of " +
           std::to_string(kMaxHeaderBytes) + " bytes (not a safetensors file?)");
    if (header_size > file_size - 8)
      fail("header length " + std::to_string(header_size) + " runs past the end of the file (" +
           std::to_string(file_size) + " bytes; truncated?)");
    data_start_ = 8 + header_size;
    const std::uint64_t buffer_size = file_size - data_start_;

    const nlohmann::json header = parse_header(header_size);
    if (!header.is_object()) fail(std::string("header is a JSON ") + header.type_name() + ", not an object");

    std::vector<const TensorInfo*> by_offset;
    for (const auto& item : header.items()) {
      if (item.key() == "__metadata__") {
        read_metadata(item.value());
        continue;
      }
      TensorInfo entry = parse_entry(item.key(), item.value(), buffer_size);
      const auto inserted = tensors_.emplace(entry.name, std::move(entry));
      by_offset.push_back(&inserted.first->second);
    }
    check_tiling(std::move(by_offset), buffer_size);
  }

  nlohmann::json parse_header(std::uint64_t header_size) {
    const char* first = reinterpret_cast<const char*>(file_->data() + 8);
    const char* last = first + header_size;
    // nlohmann keeps the last of duplicate keys silently; a duplicated tensor name is a corrupt header.
    std::string duplicate;
    std::unordered_set<std::string> seen_top_level_keys;
    auto on_event = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
      if (event == nlohmann::json::parse_event_t::key && depth == 1 && parsed.is_string()) {
        const auto& key = parsed.get_ref<const std::string&>();
        if (!seen_top_level_keys.insert(key).second && duplicate.empty()) duplicate = key;
      }
      return true;
    };
    if (const std::size_t line = detail::line_nested_too_deep(std::string_view(first, header_size), kMaxJsonDepth))
      fail("header is not valid JSON: arrays/objects nest deeper than " + std::to_string(kMaxJsonDepth) +
           " levels (line " + std::to_string(line) + ")");
    nlohmann::json header;
    try {
      header = nlohmann::json::parse(first, last, on_event);
    } catch (const nlohmann::json::exception& error) {
      fail("header is not valid JSON: " + printable(error.what()));
    }
    if (!duplicate.empty()) fail_tensor(duplicate, "name appears more than once in the header");
    return header;
  }

  void read_metadata(const nlohmann::json& value) {
    if (!value.is_object()) fail(std::string("\"__metadata__\" is a JSON ") + value.type_name() + ", not an object");
    for (const auto& item : value.items()) {
      if (!item.value().is_string())
        fail("\"__metadata__\" value for key '" + printable(item.key()) + "' is a JSON " + item.value().type_name() +
             ", not a string");
      metadata_.emplace(item.key(), item.value().get<std::string>());
    }
  }

  TensorInfo parse_entry(const std::string& name, const nlohmann::json& value, std::uint64_t buffer_size) const {
    if (!value.is_object()) fail_tensor(name, std::string("entry is a JSON ") + value.type_name() + ", not an object");
    for (const char* field : {"dtype", "shape", "data_offsets"})
      if (!value.contains(field)) fail_tensor(name, std::string("entry has no \"") + field + "\"");

    TensorInfo entry;
    entry.name = name;

    const auto& dtype = value["dtype"];
    if (!dtype.is_string()) fail_tensor(name, std::string("\"dtype\" is a JSON ") + dtype.type_name() + ", not a string");
    const auto* known = detail::find_dtype(dtype.get<std::string>());
    if (known == nullptr) fail_tensor(name, "unknown dtype \"" + dtype.get<std::string>() + "\"");
    entry.dtype = known->dtype;

    const auto& shape = value["shape"];
    if (!shape.is_array()) fail_tensor(name, std::string("\"shape\" is a JSON ") + shape.type_name() + ", not an array");
    std::uint64_t numel = 1;
    bool numel_overflow = false;
    for (const auto& dim : shape) {
      if (!dim.is_number_integer())
        fail_tensor(name, "\"shape\" " + json_excerpt(shape) + " holds a non-integer dimension " + json_excerpt(dim));
      if (!dim.is_number_unsigned()) fail_tensor(name, "\"shape\" " + json_excerpt(shape) + " has a negative dimension");
      const auto extent = dim.get<std::uint64_t>();
      if (extent > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        fail_tensor(name, "\"shape\" " + json_excerpt(shape) + " has a dimension too large for int64");
      entry.shape.push_back(static_cast<std::int64_t>(extent));
      numel_overflow = numel_overflow || __builtin_mul_overflow(numel, extent, &numel);
    }

    const auto& offsets = value["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned())
      fail_tensor(name, "\"data_offsets\" " + json_excerpt(offsets) + " is not a pair of non-negative integers");
    entry.begin = offsets[0].get<std::uint64_t>();
    entry.end = offsets[1].get<std::uint64_t>();
    const std::string offsets_text = "data_offsets [" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) + "]";
    if (entry.begin > entry.end) fail_tensor(name, offsets_text + ": begin is after end");

    std::uint64_t expected_bytes = 0;
    if (numel_overflow || __builtin_mul_overflow(numel, known->size, &expected_bytes) ||
        numel > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      fail_tensor(name, "shape " + shape_to_string(entry.shape) + " has too many elements");
    if (expected_bytes != entry.end - entry.begin)
      fail_tensor(name, "shape " + shape_to_string(entry.shape) + " of " + known->name + " needs " +
                            std::to_string(expected_bytes) + " bytes but " + offsets_text + " span " +
                            std::to_string(entry.end - entry.begin));
    if (entry.end > buffer_size)
      fail_tensor(name, offsets_text + " lie outside the data buffer of " + std::to_string(buffer_size) +
                            " bytes (file truncated or offsets wrong)");
    return entry;
  }

  // Sorted by offset, tensors must tile the buffer from 0 to the end of the file
  // exactly: no gaps, no overlaps, no trailing bytes.
  void check_tiling(std::vector<const TensorInfo*> by_offset, std::uint64_t buffer_size) const {
    std::sort(by_offset.begin(), by_offset.end(), [](const TensorInfo* a, const TensorInfo* b) {
      return std::tie(a->begin, a->end, a->name) < std::tie(b->begin, b->end, b->name);
    });
    std::uint64_t covered = 0;
    const TensorInfo* previous = nullptr;
    for (const TensorInfo* entry : by_offset) {
      if (entry->begin > covered)
        fail_tensor(entry->name, "data_offsets [" + std::to_string(entry->begin) + ", " +
                                     std::to_string(entry->end) + "] leave bytes [" + std::to_string(covered) +
                                     ", " + std::to_string(entry->begin) +
                                     ") of the data buffer unused (tensors must be contiguous)");
      if (entry->begin < covered)
        fail_tensor(entry->name, "data_offsets [" + std::to_string(entry->begin) + ", " +
                                     std::to_string(entry->end) + "] overlap tensor '" + printable(previous->name) +
                                     "' [" + std::to_string(previous->begin) + ", " +
                                     std::to_string(previous->end) + "]");
      covered = entry->end;
      previous = entry;
    }
    if (covered != buffer_size)
      fail(std::to_string(buffer_size - covered) + " trailing bytes after the last tensor" +
           (previous ? " '" + printable(previous->name) + "'" : std::string()) +
           " (the data buffer must end exactly at the end of the file)");
  }

  std::filesystem::path path_;
  std::shared_ptr<const detail::MappedFile> file_;
  std::uint64_t data_start_ = 0;
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace srformer::io
