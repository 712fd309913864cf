// Consumer smoke program, built by tests/consumer/{find_package,fetchcontent}
// against an installed / fetched srformer. It only uses the public umbrella
// header and exits non-zero (with a reason) when anything is off.
#include <srformer/srformer.hpp>

#include <cstring>
#include <iostream>
#include <string>
#include <type_traits>

static_assert(std::is_abstract<srformer::DecoderSession>::value,
              "DecoderSession is the abstract model/search boundary");
static_assert(std::is_base_of<srformer::Error, srformer::TensorError>::value,
              "every srformer exception derives from srformer::Error");

namespace {

int failures = 0;

void expect(bool ok, const std::string& what) {
  if (!ok) {
    std::cerr << "FAILED: " << what << '\n';
    ++failures;
  }
}

}  // namespace

int main() {
  // The headers' version must be the one CMake resolved (find_package or FetchContent).
  expect(std::strcmp(srformer::version_string, SRFORMER_CONSUMER_EXPECTED_VERSION) == 0,
         std::string("header version ") + srformer::version_string + " == CMake version " +
             SRFORMER_CONSUMER_EXPECTED_VERSION);

  // A real tensor through Eigen: [[1, 2, 3], [4, 5, 6]] · [1, 1, 1]^T = [6, 15].
  const srformer::FloatTensor tensor =
      srformer::FloatTensor::owning("probe", {2, 3}, {1.f, 2.f, 3.f, 4.f, 5.f, 6.f});
  expect(tensor.rank() == 2 && tensor.numel() == 6, "tensor shape [2, 3]");
  const Eigen::VectorXf row_sums = tensor.matrix() * Eigen::VectorXf::Ones(3);
  expect(row_sums(0) == 6.f && row_sums(1) == 15.f, "matrix() row sums 6 and 15");

  // Errors: a wrong shape is a TensorError (an srformer::Error) naming the tensor.
  bool caught = false;
  try {
    tensor.expect_shape({3, 2});
  } catch (const srformer::Error& error) {
    caught = dynamic_cast<const srformer::TensorError*>(&error) != nullptr &&
             std::string(error.what()).find("'probe'") != std::string::npos;
  }
  expect(caught, "expect_shape({3, 2}) throws TensorError naming 'probe'");

  caught = false;
  try {
    srformer::FloatTensor::owning("short", {4}, {1.f, 2.f});
  } catch (const srformer::TensorError& error) {
    caught = std::string(error.what()).find("'short'") != std::string::npos;
  }
  expect(caught, "owning() with too few values throws TensorError naming 'short'");

  if (failures != 0) return 1;
  std::cout << "srformer consumer OK (srformer " << srformer::version_string << ")\n";
  return 0;
}
