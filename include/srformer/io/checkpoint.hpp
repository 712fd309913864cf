#pragma once
// A HuggingFace model folder's weights: `model.safetensors`, or the sharded
// layout `model.safetensors.index.json` ("weight_map": tensor -> shard file)
// with its `model-0000k-of-0000n.safetensors` shards. Every shard and every
// mapping is checked on open. Immutable afterwards, so several threads may read
// tensors at once.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>

#include "srformer/core/error.hpp"
#include "srformer/core/printable.hpp"
#include "srformer/core/tensor.hpp"
#include "srformer/io/json.hpp"
#include "srformer/io/safetensors.hpp"

namespace srformer::io {

class Checkpoint {
 public:
  static constexpr const char* kSingleFileName = "model.safetensors";
  static constexpr const char* kIndexFileName = "model.safetensors.index.json";

  /// Opens a model folder (model.safetensors preferred over the index, as HF does), a single
  /// .safetensors file, or a *.safetensors.index.json file. FormatError naming the folder/shard/tensor.
  static Checkpoint open(const std::filesystem::path& folder_or_file) { return Checkpoint(folder_or_file); }

  /// Directory holding the weights (and normally config.json); the parent when a file was opened.
  std::filesystem::path folder() const { return folder_; }
  /// The safetensors files read (one, or every shard), sorted by name.
  std::vector<std::filesystem::path> files() const {
    std::vector<std::filesystem::path> paths;
    for (const auto& file : files_) paths.push_back(file.path());
    return paths;
  }

  bool contains(const std::string& name) const { return owner_of_.count(name) != 0; }
  /// All tensor names, sorted.
  std::vector<std::string> names() const {
    std::vector<std::string> result;
    result.reserve(owner_of_.size());
    for (const auto& entry : owner_of_) result.push_back(entry.first);
    return result;
  }
  std::size_t size() const { return owner_of_.size(); }

  /// The file that holds `name`; TensorError "checkpoint <folder>: missing tensor '<name>'" when absent.
  const SafetensorsFile& file_of(const std::string& name) const {
    const auto found = owner_of_.find(name);
    if (found == owner_of_.end()) throw TensorError(where() + "missing tensor '" + printable(name) + "'");
    return files_[found->second];
  }
  /// dtype, shape and offsets of `name`.
  const TensorInfo& info(const std::string& name) const { return file_of(name).info(name); }

  /// float32 view (zero copy for aligned F32; F16/BF16 converted). TensorError when absent or not float.
  FloatTensor tensor(const std::string& name) const { return file_of(name).read_float(name); }

  /// As tensor(name), and the shape must equal `expected` (TensorError naming both shapes).
  FloatTensor tensor(const std::string& name, const Shape& expected) const {
    const TensorInfo& entry = info(name);
    if (entry.shape != expected)
      throw TensorError(where() + "tensor '" + printable(name) + "' has shape " + shape_to_string(entry.shape) +
                        " but shape " + shape_to_string(expected) + " is expected");
    return tensor(name);
  }

  /// The first of `candidates` present in the checkpoint (HF stores tied tensors once, under
  /// either name); TensorError listing every candidate when none is present.
  FloatTensor tensor_or_alias(const std::vector<std::string>& candidates, const Shape& expected) const {
    for (const auto& name : candidates)
      if (contains(name)) return tensor(name, expected);
    std::string listed;
    for (const auto& name : candidates) listed += (listed.empty() ? "'" : ", '") + name + "'";
    throw TensorError(where() + "missing tensor: none of " + (listed.empty() ? "(no names given)" : listed) +
                      " is present");
  }

  /// Integer tensor (I64, I32, ...) widened to int64, e.g. token ids in golden files.
  std::vector<std::int64_t> int64_tensor(const std::string& name) const { return file_of(name).read_int64(name); }

 private:
  explicit Checkpoint(const std::filesystem::path& source) : source_(source) {
    std::error_code ignored;
    const auto status = std::filesystem::status(source, ignored);
    if (!std::filesystem::is_directory(status)) {
      if (const auto problem = file_problem(source)) throw FormatError("checkpoint " + source.string() + " " + *problem);
    } else {
      folder_ = source;
      // Anything under the name (even a dangling link or a link loop) is opened, so that the
      // message says what is wrong with it rather than that it is missing.
      if (name_exists(source / kSingleFileName))
        open_single(source / kSingleFileName);
      else if (name_exists(source / kIndexFileName))
        open_sharded(source / kIndexFileName);
      else
        throw FormatError(where() + "folder has neither " + kSingleFileName + " nor " + kIndexFileName +
                          (name_exists(source / "pytorch_model.bin")
                               ? " (only pytorch_model.bin, which is not supported: convert it to safetensors)"
                               : ""));
      return;
    }
    folder_ = source.has_parent_path() ? source.parent_path() : std::filesystem::path(".");
    const std::string file_name = source.filename().string();
    const std::string index_suffix = ".index.json";
    const bool is_index = file_name.size() > index_suffix.size() &&
                          file_name.compare(file_name.size() - index_suffix.size(), index_suffix.size(),
                                            index_suffix) == 0;
    if (is_index)
      open_sharded(source);
    else
      open_single(source);
  }

  std::string where() const { return "checkpoint " + source_.string() + ": "; }

  void open_single(const std::filesystem::path& path) {
    files_.push_back(SafetensorsFile::open(path));
    for (const auto& name : files_.front().names()) owner_of_.emplace(name, 0);
  }

  void open_sharded(const std::filesystem::path& index_path) {
    const std::string index_name = index_path.filename().string();
    const nlohmann::json index = read_json_object_file(index_path);
    const auto weight_map = index.find("weight_map");
    if (weight_map == index.end() || !weight_map->is_object())
      throw FormatError("file " + index_path.string() + ": no \"weight_map\" object");
    if (weight_map->empty()) throw FormatError("file " + index_path.string() + ": \"weight_map\" lists no tensors");

    // Shard file name -> the tensors the index puts there.
    std::map<std::string, std::vector<std::string>> tensors_of_shard;
    for (const auto& item : weight_map->items()) {
      if (!item.value().is_string())
        throw FormatError("file " + index_path.string() + ": \"weight_map\" entry for tensor '" + printable(item.key()) +
                          "' is a JSON " + item.value().type_name() + ", not a shard file name");
      const std::string shard = item.value().get<std::string>();
      check_shard_name(index_path, item.key(), shard);
      tensors_of_shard[shard].push_back(item.key());
    }

    for (const auto& entry : tensors_of_shard) {
      const std::filesystem::path shard_path = folder_ / entry.first;
      if (const auto problem = file_problem(shard_path))
        throw FormatError(where() + "shard '" + printable(entry.first) + "' listed in " + index_name + " (for tensor '" +
                          printable(entry.second.front()) + "'" +
                          (entry.second.size() > 1 ? " and " + std::to_string(entry.second.size() - 1) + " more"
                                                   : std::string()) +
                          ") " + (*problem == "does not exist" ? "does not exist in " + folder_.string() : *problem));
    }

    for (const auto& entry : tensors_of_shard) {
      files_.push_back(SafetensorsFile::open(folder_ / entry.first));
      const SafetensorsFile& shard = files_.back();
      for (const auto& name : entry.second) {
        if (!shard.contains(name))
          throw FormatError(where() + "shard '" + printable(entry.first) + "' does not contain tensor '" + printable(name) + "' that " +
                            index_name + " maps to it");
        owner_of_.emplace(name, files_.size() - 1);
      }
      // Tensors in a shard that the index does not list are ignored: the index is authoritative.
    }
  }

  // Shard names are files next to the index; refuse paths that leave the folder.
  void check_shard_name(const std::filesystem::path& index_path, const std::string& tensor,
                        const std::string& shard) const {
    const std::filesystem::path shard_path(shard);
    bool escapes = shard.empty() || shard_path.is_absolute();
    for (const auto& part : shard_path)
      if (part == "..") escapes = true;
    if (escapes)
      throw FormatError("file " + index_path.string() + ": shard name '" + printable(shard) + "' for tensor '" + printable(tensor) +
                        "' is not a file name inside the checkpoint folder");
  }

  std::filesystem::path source_;
  std::filesystem::path folder_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, std::size_t> owner_of_;  // tensor name -> index into files_
};

}  // namespace srformer::io
