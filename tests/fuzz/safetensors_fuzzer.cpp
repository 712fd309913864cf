// Fuzzes io::SafetensorsFile: the input is a whole .safetensors file (header
// length, JSON header, data). A file that opens must be safe to read in full:
// every tensor's bytes lie inside the mapping, its size matches shape × dtype,
// and reading it as float (or int64) either works or throws a srformer::Error.
// The reader has no in-memory open, so each input goes through a scratch file.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz_support.hpp"
#include "srformer/io/safetensors.hpp"

namespace {

using srformer::fuzz::fuzz_require;

bool is_float_dtype(srformer::io::DType dtype) {
  using srformer::io::DType;
  return dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16;
}

bool is_int_dtype(srformer::io::DType dtype) {
  using srformer::io::DType;
  switch (dtype) {
    case DType::I64: case DType::I32: case DType::I16: case DType::I8:
    case DType::U8: case DType::U16: case DType::U32: case DType::U64: case DType::Bool:
      return true;
    default:
      return false;
  }
}

void read_everything(const srformer::io::SafetensorsFile& file) {
  const unsigned char* first = file.mapped_bytes();
  const unsigned char* last = first + file.file_size();
  volatile double sink = 0.0;
  for (const auto& [key, value] : file.metadata()) sink = sink + static_cast<double>(key.size() + value.size());
  for (const std::string& name : file.names()) {
    const auto& info = file.info(name);
    const unsigned char* bytes = file.tensor_bytes(name);
    fuzz_require(info.begin <= info.end, "tensor '" + name + "' begin <= end");
    fuzz_require(bytes >= first && bytes <= last && static_cast<std::uint64_t>(last - bytes) >= info.byte_size(),
                 "tensor '" + name + "' bytes lie inside the mapped file");
    fuzz_require(info.numel() >= 0 && static_cast<std::uint64_t>(info.numel()) * srformer::io::dtype_size(info.dtype) ==
                                          info.byte_size(),
                 "tensor '" + name + "' byte size == numel x dtype size");
    if (is_float_dtype(info.dtype)) {
      const srformer::FloatTensor tensor = file.read_float(name);
      fuzz_require(tensor.shape() == info.shape, "read_float keeps the shape of '" + name + "'");
      fuzz_require(tensor.numel() == info.numel(), "read_float keeps the element count");
      for (std::int64_t i = 0; i < tensor.numel(); ++i) sink = sink + tensor.data()[i];
    } else if (is_int_dtype(info.dtype)) {
      try {
        const auto values = file.read_int64(name);
        fuzz_require(static_cast<std::int64_t>(values.size()) == info.numel(), "read_int64 returns numel values");
        for (const auto v : values) sink = sink + static_cast<double>(v);
      } catch (const srformer::TensorError&) {
        fuzz_require(info.dtype == srformer::io::DType::U64, "only U64 values may fail to widen");
      }
    }
    // The wrong kind of read must be refused with a TensorError, not reinterpret the bytes.
    bool refused = false;
    try {
      if (is_float_dtype(info.dtype)) (void)file.read_int64(name);
      else (void)file.read_float(name);
    } catch (const srformer::TensorError&) {
      refused = true;
    }
    fuzz_require(refused, "reading '" + name + "' as the wrong kind of dtype throws TensorError");
  }
  fuzz_require(!file.contains("__metadata__"), "__metadata__ is not a tensor");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path path = srformer::fuzz::scratch_dir() / "input.safetensors";
  srformer::fuzz::write_file(path, data, size);
  srformer::fuzz::expect_only_srformer_errors([&] {
    const auto file = srformer::io::SafetensorsFile::open(path);
    read_everything(file);
  });
  return 0;
}
