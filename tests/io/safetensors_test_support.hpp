#pragma once
// Test helpers: a temporary folder and a tiny independent safetensors writer,
// so that tests can build good and deliberately broken files at run time.
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/scratch_dir.hpp"

namespace srformer::test {

/// A fresh folder under the system temp dir, removed with its contents on destruction.
class TempDir : public ScratchDir {
 public:
  TempDir() : ScratchDir("io_test") {}
};

inline void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write test file " + path.string());
}

inline std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// 8-byte little-endian length, then `header`, then `data`.
inline std::string raw_safetensors(const std::string& header, const std::string& data, std::uint64_t length) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[static_cast<std::size_t>(i)] = static_cast<char>((length >> (8 * i)) & 0xffu);
  return bytes + header + data;
}
inline std::string raw_safetensors(const std::string& header, const std::string& data) {
  return raw_safetensors(header, data, header.size());
}

template <typename T>
std::string bytes_of(const std::vector<T>& values) {
  std::string bytes(values.size() * sizeof(T), '\0');
  if (!values.empty()) std::memcpy(&bytes[0], values.data(), bytes.size());
  return bytes;
}

struct TestTensor {
  std::string name;
  std::string dtype;
  std::vector<std::int64_t> shape;
  std::string bytes;
};

/// A well-formed file with the tensors laid out in the given order.
/// `pad_to` pads the header with spaces to a multiple of it (as the reference writer does with 8).
inline std::string make_safetensors(const std::vector<TestTensor>& tensors,
                                    const std::map<std::string, std::string>& metadata = {},
                                    std::size_t pad_to = 8) {
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const auto& tensor : tensors) {
    header[tensor.name] = {{"dtype", tensor.dtype},
                           {"shape", tensor.shape},
                           {"data_offsets", {data.size(), data.size() + tensor.bytes.size()}}};
    data += tensor.bytes;
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text = header.dump();
  while ((8 + text.size()) % pad_to != 0) text += ' ';
  return raw_safetensors(text, data);
}

}  // namespace srformer::test
