#pragma once
// Basic numeric types. Matrices are row-major float32 so that a [rows, cols]
// tensor from a safetensors file maps onto them without a copy.
#include <Eigen/Core>

#include <cstdint>
#include <memory>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "srformer/core/error.hpp"

namespace srformer {

using Index = Eigen::Index;
using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowVector = Eigen::Matrix<float, 1, Eigen::Dynamic>;
using MatrixMap = Eigen::Map<RowMatrix>;
using ConstMatrixMap = Eigen::Map<const RowMatrix>;
using ConstVectorMap = Eigen::Map<const RowVector>;

using Shape = std::vector<std::int64_t>;

inline std::string shape_to_string(const Shape& shape) {
  std::ostringstream out;
  out << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

inline std::int64_t shape_numel(const Shape& shape) {
  return std::accumulate(shape.begin(), shape.end(), std::int64_t{1},
                         [](std::int64_t a, std::int64_t b) { return a * b; });
}

/// A read-only float32 tensor: a shape and a pointer, kept alive by `owner`
/// (a memory-mapped file for float32 checkpoints, or a converted buffer for F16/BF16).
class FloatTensor {
 public:
  FloatTensor() = default;
  FloatTensor(std::string name, Shape shape, const float* data, std::shared_ptr<const void> owner)
      : name_(std::move(name)), shape_(std::move(shape)), data_(data), owner_(std::move(owner)) {}

  /// Owns a copy of `values` (used for converted or synthesised tensors).
  static FloatTensor owning(std::string name, Shape shape, std::vector<float> values) {
    if (static_cast<std::int64_t>(values.size()) != shape_numel(shape))
      throw TensorError("tensor '" + name + "': " + std::to_string(values.size()) +
                        " values do not fill shape " + shape_to_string(shape));
    auto storage = std::make_shared<std::vector<float>>(std::move(values));
    const float* data = storage->data();
    return FloatTensor(std::move(name), std::move(shape), data, std::move(storage));
  }

  const std::string& name() const { return name_; }
  const Shape& shape() const { return shape_; }
  std::int64_t dim(std::size_t i) const { return shape_.at(i); }
  std::size_t rank() const { return shape_.size(); }
  std::int64_t numel() const { return shape_numel(shape_); }
  const float* data() const { return data_; }
  bool empty() const { return data_ == nullptr; }

  /// View a rank-2 tensor as a matrix, or any tensor as [rows, numel/rows].
  ConstMatrixMap matrix() const {
    if (shape_.size() == 2) return ConstMatrixMap(data_, shape_[0], shape_[1]);
    if (shape_.size() == 1) return ConstMatrixMap(data_, 1, shape_[0]);
    const std::int64_t last = shape_.empty() ? 1 : shape_.back();
    return ConstMatrixMap(data_, numel() / last, last);
  }
  ConstVectorMap vector() const { return ConstVectorMap(data_, numel()); }

  /// Throws TensorError naming the tensor when its shape differs from `expected`.
  const FloatTensor& expect_shape(const Shape& expected) const {
    if (shape_ != expected)
      throw TensorError("tensor '" + name_ + "' has shape " + shape_to_string(shape_) +
                        " but the model configuration needs " + shape_to_string(expected));
    return *this;
  }

 private:
  std::string name_;
  Shape shape_;
  const float* data_ = nullptr;
  std::shared_ptr<const void> owner_;
};

}  // namespace srformer
