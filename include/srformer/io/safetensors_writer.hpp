#pragma once
// Writer for the safetensors format, producing the bytes the Hugging Face
// `safetensors` package (serialize / save_file) produces for the same tensors:
//
//   * tensors sorted by dtype descending in the format's dtype order (BOOL < U8 < I8 <
//     F8_* < I16 < U16 < F16 < BF16 < I32 < U32 < F32 < F64 < I64 < U64, which is
//     increasing element size), then by name (bytewise), and laid out contiguously in
//     that order, so every tensor starts at a multiple of its element size;
//   * a compact JSON header (no spaces), "__metadata__" first when there is metadata,
//     then one {"dtype","shape","data_offsets"} entry per tensor in layout order,
//     strings escaped as serde_json escapes them;
//   * the header padded with spaces to a multiple of 8 bytes, so the data buffer
//     starts 8-byte aligned; before it its length as an 8-byte little-endian integer.
//
// Every tensor and metadata entry is checked before a byte is written (InputError
// naming the tensor), and the file is replaced atomically (io::AtomicFileWriter): a
// failure of any kind leaves an existing file as it was. Files written here open with
// io::SafetensorsFile.
//
// Differences from the reference writer, neither of which matters to a reader: the
// reference keeps metadata in a hash map, so with several keys their order differs
// from run to run; here they are sorted by key (one of the orders the reference can
// produce, and the only one for a single key such as {"format": "pt"}). Empty metadata
// is left out (the reference writes "__metadata__":{} when handed an empty dict rather
// than None).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "srformer/core/error.hpp"
#include "srformer/core/printable.hpp"
#include "srformer/core/tensor.hpp"
#include "srformer/io/atomic_file.hpp"
#include "srformer/io/safetensors.hpp"
#include "srformer/tokenizers/detail/utf8.hpp"

namespace srformer::io {

/// One tensor to write: `byte_size` bytes of little-endian, row-major elements at
/// `data`, which must equal numel(shape) * dtype_size(dtype). The data is only read,
/// and only during the call; `data` may be null when `byte_size` is 0.
struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  const void* data = nullptr;
  std::size_t byte_size = 0;
};

namespace detail {

/// Elements of `shape`, or false when a dimension is negative or the product does not
/// fit in int64 (the reader's limit).
inline bool checked_numel(const Shape& shape, std::uint64_t& numel) {
  numel = 1;
  bool overflow = false;
  for (const std::int64_t dim : shape) {
    if (dim < 0) return false;
    overflow = overflow || __builtin_mul_overflow(numel, static_cast<std::uint64_t>(dim), &numel);
  }
  return !overflow && numel <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
}

/// `text` as a JSON string literal (quotes, backslashes and control characters escaped
/// the way serde_json does it; other characters, non-ASCII included, kept as they are).
inline std::string json_string(const std::string& text) { return nlohmann::json(text).dump(); }

/// The checked, ordered plan of a file: its header (length prefix included) and the
/// tensors in layout order.
struct SafetensorsLayout {
  std::string header;
  std::vector<const TensorView*> order;
  std::uint64_t data_bytes = 0;
};

inline SafetensorsLayout plan_safetensors(const std::string& where, const std::vector<TensorView>& tensors,
                                          const std::map<std::string, std::string>& metadata) {
  const auto fail = [&](const std::string& message) { throw InputError(where + message); };
  const auto tensor_label = [](const TensorView& tensor) { return "tensor " + quote(tensor.name) + ": "; };

  for (const auto& entry : metadata) {
    if (!tokenizers::detail::is_valid_utf8(entry.first))
      fail("metadata key " + quote(entry.first) + " is not valid UTF-8");
    if (!tokenizers::detail::is_valid_utf8(entry.second))
      fail("metadata value of key " + quote(entry.first) + " is not valid UTF-8: " + quote(entry.second));
  }

  std::unordered_set<std::string_view> names;
  names.reserve(tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const TensorView& tensor = tensors[i];
    if (tensor.name.empty()) fail("tensor " + std::to_string(i) + " has an empty name");
    if (tensor.name == "__metadata__")
      fail("tensor " + std::to_string(i) + " is named '__metadata__', the key reserved for the metadata");
    if (tensor.name.size() > SafetensorsFile::kMaxHeaderBytes)
      fail(tensor_label(tensor) + "name is " + std::to_string(tensor.name.size()) +
           " bytes long, more than the header of " + std::to_string(SafetensorsFile::kMaxHeaderBytes) +
           " bytes readers accept");
    if (!tokenizers::detail::is_valid_utf8(tensor.name)) fail(tensor_label(tensor) + "name is not valid UTF-8");
    if (!names.insert(tensor.name).second) fail(tensor_label(tensor) + "name appears more than once");

    for (const std::int64_t dim : tensor.shape)
      if (dim < 0) fail(tensor_label(tensor) + "shape " + shape_to_string(tensor.shape) + " has a negative dimension");
    std::uint64_t numel = 0, expected_bytes = 0;
    const std::size_t element_size = dtype_size(tensor.dtype);
    if (!checked_numel(tensor.shape, numel) || __builtin_mul_overflow(numel, element_size, &expected_bytes))
      fail(tensor_label(tensor) + "shape " + shape_to_string(tensor.shape) + " has too many elements");
    if (expected_bytes != tensor.byte_size)
      fail(tensor_label(tensor) + "shape " + shape_to_string(tensor.shape) + " of " + dtype_name(tensor.dtype) +
           " needs " + std::to_string(expected_bytes) + " bytes but " + std::to_string(tensor.byte_size) +
           " were given");
    if (tensor.data == nullptr && tensor.byte_size != 0)
      fail(tensor_label(tensor) + "data is null but " + std::to_string(tensor.byte_size) + " bytes are to be written");
  }

  SafetensorsLayout layout;
  layout.order.reserve(tensors.size());
  for (const TensorView& tensor : tensors) layout.order.push_back(&tensor);
  // The reference writer's order: dtype descending in the format's enum order (which
  // DType follows; it is by increasing element size), then name. std::string compares
  // bytes as unsigned char, as Rust compares strings.
  std::sort(layout.order.begin(), layout.order.end(), [](const TensorView* a, const TensorView* b) {
    if (a->dtype != b->dtype) return static_cast<int>(a->dtype) > static_cast<int>(b->dtype);
    return a->name < b->name;
  });

  std::string json = "{";
  if (!metadata.empty()) {
    json += "\"__metadata__\":{";
    bool first = true;
    for (const auto& entry : metadata) {
      if (!first) json += ',';
      first = false;
      json += json_string(entry.first) + ':' + json_string(entry.second);
    }
    json += '}';
  }
  std::uint64_t offset = 0;
  for (const TensorView* tensor : layout.order) {
    if (json.size() > 1) json += ',';
    json += json_string(tensor->name) + ":{\"dtype\":\"" + dtype_name(tensor->dtype) + "\",\"shape\":[";
    for (std::size_t d = 0; d < tensor->shape.size(); ++d) json += (d ? "," : "") + std::to_string(tensor->shape[d]);
    std::uint64_t end = 0;
    if (__builtin_add_overflow(offset, static_cast<std::uint64_t>(tensor->byte_size), &end))
      fail("the tensors hold more than 2^64 bytes together");
    json += "],\"data_offsets\":[" + std::to_string(offset) + ',' + std::to_string(end) + "]}";
    offset = end;
  }
  json += '}';
  json.append((8 - json.size() % 8) % 8, ' ');
  if (json.size() > SafetensorsFile::kMaxHeaderBytes)
    fail("the header would be " + std::to_string(json.size()) + " bytes, more than the " +
         std::to_string(SafetensorsFile::kMaxHeaderBytes) + " bytes readers accept");

  layout.header.assign(8, '\0');
  const auto length = static_cast<std::uint64_t>(json.size());
  for (std::size_t i = 0; i < 8; ++i) layout.header[i] = static_cast<char>((length >> (8 * i)) & 0xFFu);
  layout.header += json;
  layout.data_bytes = offset;
  return layout;
}

inline std::vector<TensorView> float_tensor_views(const std::vector<FloatTensor>& tensors) {
  std::vector<TensorView> views;
  views.reserve(tensors.size());
  for (const FloatTensor& tensor : tensors) {
    std::uint64_t numel = 0, bytes = 0;
    // A bad shape gets byte_size 0 here and is reported by the checks with its name.
    if (!checked_numel(tensor.shape(), numel) || __builtin_mul_overflow(numel, sizeof(float), &bytes) ||
        bytes > std::numeric_limits<std::size_t>::max())
      bytes = 0;
    views.push_back({tensor.name(), DType::F32, tensor.shape(), tensor.data(), static_cast<std::size_t>(bytes)});
  }
  return views;
}

}  // namespace detail

/// The whole file `write_safetensors` would write, as bytes in memory (the reference
/// package's `save`). InputError as for write_safetensors.
inline std::string serialize_safetensors(const std::vector<TensorView>& tensors,
                                         const std::map<std::string, std::string>& metadata = {}) {
  const detail::SafetensorsLayout layout = detail::plan_safetensors("safetensors data: ", tensors, metadata);
  std::string bytes = layout.header;
  bytes.reserve(layout.header.size() + static_cast<std::size_t>(layout.data_bytes));
  for (const TensorView* tensor : layout.order)
    if (tensor->byte_size != 0) bytes.append(static_cast<const char*>(tensor->data), tensor->byte_size);
  return bytes;
}

/// Writes `tensors` and the string map `metadata` ("__metadata__", left out when
/// empty) to `path` as a safetensors file (see the top of this file for the layout),
/// replacing it atomically. InputError, with nothing written and an existing file left
/// as it was, when a tensor has an empty name, is named "__metadata__", repeats a
/// name, has a name or metadata that is not valid UTF-8, has a negative dimension or
/// more elements than int64 holds, a byte_size other than numel * dtype_size, or null
/// data with a nonzero byte_size; also when the folder cannot be written or writing
/// fails (disk full).
inline void write_safetensors(const std::filesystem::path& path, const std::vector<TensorView>& tensors,
                              const std::map<std::string, std::string>& metadata = {}) {
  const detail::SafetensorsLayout layout =
      detail::plan_safetensors("safetensors file " + path.string() + ": ", tensors, metadata);
  AtomicFileWriter writer(path);
  std::ostream& out = writer.stream();
  out.write(layout.header.data(), static_cast<std::streamsize>(layout.header.size()));
  for (const TensorView* tensor : layout.order) {
    // Written in pieces: std::streamsize may be narrower than a tensor on some platforms.
    const char* bytes = static_cast<const char*>(tensor->data);
    for (std::size_t done = 0; done < tensor->byte_size && out;) {
      const std::size_t piece = std::min<std::size_t>(tensor->byte_size - done, std::size_t{1} << 30);
      out.write(bytes + done, static_cast<std::streamsize>(piece));
      done += piece;
    }
  }
  writer.commit();
}

/// F32 tensors under their own names (FloatTensor::name()), as write_safetensors above.
inline void write_safetensors(const std::filesystem::path& path, const std::vector<FloatTensor>& tensors,
                              const std::map<std::string, std::string>& metadata = {}) {
  write_safetensors(path, detail::float_tensor_views(tensors), metadata);
}

}  // namespace srformer::io
