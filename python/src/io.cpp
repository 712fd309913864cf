// srformer.safetensors: the C++ reader's validation (and its memory map) for
// Python, and the one safetensors writer of the project (io/safetensors_writer.hpp).
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include "bindings.hpp"
#include "srformer/io/checkpoint.hpp"
#include "srformer/io/detail/half_float.hpp"
#include "srformer/io/safetensors.hpp"
#include "srformer/io/safetensors_writer.hpp"

namespace srformer::python {
namespace {

/// numpy's name of a safetensors dtype, or nullptr where numpy has none (BF16, F8).
const char* numpy_name(io::DType dtype) {
  switch (dtype) {
    case io::DType::Bool: return "bool";
    case io::DType::U8: return "uint8";
    case io::DType::I8: return "int8";
    case io::DType::I16: return "int16";
    case io::DType::U16: return "uint16";
    case io::DType::F16: return "float16";
    case io::DType::I32: return "int32";
    case io::DType::U32: return "uint32";
    case io::DType::F32: return "float32";
    case io::DType::F64: return "float64";
    case io::DType::I64: return "int64";
    case io::DType::U64: return "uint64";
    default: return nullptr;
  }
}

io::DType dtype_of(const py::array& array, const std::string& name) {
  const char kind = array.dtype().kind();
  const auto size = array.itemsize();
  if (kind == 'b' && size == 1) return io::DType::Bool;
  if (kind == 'f' && size == 2) return io::DType::F16;
  if (kind == 'f' && size == 4) return io::DType::F32;
  if (kind == 'f' && size == 8) return io::DType::F64;
  if (kind == 'i' && size == 1) return io::DType::I8;
  if (kind == 'i' && size == 2) return io::DType::I16;
  if (kind == 'i' && size == 4) return io::DType::I32;
  if (kind == 'i' && size == 8) return io::DType::I64;
  if (kind == 'u' && size == 1) return io::DType::U8;
  if (kind == 'u' && size == 2) return io::DType::U16;
  if (kind == 'u' && size == 4) return io::DType::U32;
  if (kind == 'u' && size == 8) return io::DType::U64;
  throw InputError("safetensors.save: tensor '" + name + "' has numpy dtype " + std::string(py::str(array.dtype())) +
                   ", which safetensors cannot store");
}

py::dict load(const std::filesystem::path& path, bool copy) {
  std::shared_ptr<const io::Checkpoint> checkpoint;
  {
    py::gil_scoped_release release;
    checkpoint = std::make_shared<const io::Checkpoint>(io::Checkpoint::open(path));
  }
  // The arrays that point into the mapping keep the checkpoint (and so the mapping) alive.
  py::capsule owner(new std::shared_ptr<const io::Checkpoint>(checkpoint),
                    [](void* pointer) { delete static_cast<std::shared_ptr<const io::Checkpoint>*>(pointer); });
  py::dict tensors;
  for (const std::string& name : checkpoint->names()) {
    const io::TensorInfo& info = checkpoint->info(name);
    const unsigned char* bytes = checkpoint->file_of(name).tensor_bytes(name);
    const std::vector<py::ssize_t> shape(info.shape.begin(), info.shape.end());
    const auto count = static_cast<std::size_t>(info.numel());
    py::array array;
    if (info.dtype == io::DType::BF16) {  // numpy has no bfloat16: widen (exactly) to float32
      py::array_t<float> widened(shape);
      float* out = widened.mutable_data();
      for (std::size_t i = 0; i < count; ++i)
        out[i] = io::detail::bf16_to_f32(io::detail::load_unaligned<std::uint16_t>(bytes + 2 * i));
      array = widened;
    } else if (const char* numpy_dtype = numpy_name(info.dtype)) {
      const py::dtype dtype(numpy_dtype);
      const bool aligned = reinterpret_cast<std::uintptr_t>(bytes) % static_cast<std::uintptr_t>(dtype.itemsize()) == 0;
      if (!copy && aligned) {
        array = py::array(dtype, shape, {}, bytes, owner);
        array.attr("setflags")(py::arg("write") = false);  // the mapping is read-only
      } else {
        array = py::array(dtype, shape);
        if (count != 0) std::memcpy(array.mutable_data(), bytes, static_cast<std::size_t>(info.byte_size()));
      }
    } else {
      throw TensorError("safetensors file " + checkpoint->file_of(name).path().string() + ": tensor '" +
                        printable(name) + "' has dtype " + io::dtype_name(info.dtype) + ", which numpy cannot hold");
    }
    tensors[py::str(name)] = array;
  }
  return tensors;
}

std::map<std::string, std::string> load_metadata(const std::filesystem::path& path) {
  py::gil_scoped_release release;
  const io::Checkpoint checkpoint = io::Checkpoint::open(path);
  std::map<std::string, std::string> merged;
  for (const std::string& name : checkpoint.names())
    for (const auto& entry : checkpoint.file_of(name).metadata()) merged.insert(entry);
  return merged;
}

void save(const std::filesystem::path& path, const py::dict& tensors, const std::map<std::string, std::string>& metadata) {
  std::vector<py::array> arrays;  // keep the contiguous copies alive while writing
  std::vector<io::TensorView> views;
  for (const auto& item : tensors) {
    if (!py::isinstance<py::str>(item.first)) throw InputError("safetensors.save: tensor names must be str");
    const std::string name = item.first.cast<std::string>();
    if (!py::isinstance<py::array>(item.second))
      throw InputError("safetensors.save: tensor '" + name + "' is not a numpy array");
    auto array = py::array::ensure(item.second, py::array::c_style);
    if (!array) throw py::error_already_set();
    if (array.dtype().attr("byteorder").cast<std::string>() == ">")
      throw InputError("safetensors.save: tensor '" + name + "' is big-endian; safetensors is little-endian");
    io::TensorView view;
    view.name = name;
    view.dtype = dtype_of(array, name);
    view.shape.assign(array.shape(), array.shape() + array.ndim());
    view.data = array.data();
    view.byte_size = static_cast<std::size_t>(array.nbytes());
    views.push_back(view);
    arrays.push_back(std::move(array));
  }
  py::gil_scoped_release release;
  io::write_safetensors(path, views, metadata);
}

}  // namespace

void bind_io(py::module_& module) {
  module.def("safetensors_load", &load, py::arg("path"), py::arg("copy") = false,
             "Tensors of a .safetensors file, a model folder or a sharded index as numpy arrays.");
  module.def("safetensors_load_metadata", &load_metadata, py::arg("path"),
             "The __metadata__ strings of a .safetensors file (merged over the shards of a folder).");
  module.def("safetensors_save", &save, py::arg("path"), py::arg("tensors"), py::arg("metadata"),
             "Writes numpy arrays to a .safetensors file (atomically).");
}

}  // namespace srformer::python
