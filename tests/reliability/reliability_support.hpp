#pragma once
// Helpers of the reliability tests: scratch model folders whose files can be
// broken on purpose, and "this throws exactly this srformer exception" checks.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <string>
#include <typeinfo>

#include <nlohmann/json.hpp>

#include "srformer/core/error.hpp"
#include "srformer/generation/decoder_session.hpp"  // TokenId, used by support/golden.hpp
#include "support/golden.hpp"
#include "support/scratch_dir.hpp"

namespace srformer::reliability {

namespace fs = std::filesystem;

/// The model folders the reliability tests break copies of.
inline fs::path t5_tiny() { return testing::data_dir() / "hf-tiny" / "t5_tiny"; }
inline fs::path bart_tiny() { return testing::data_dir() / "hf-tiny" / "bart_tiny"; }
inline fs::path t5_demo() { return testing::models_dir() / "t5-demo"; }

inline std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

/// A fresh temporary folder, removed on destruction (tests/support/scratch_dir.hpp).
class ScratchDir : public test::ScratchDir {
 public:
  ScratchDir() : test::ScratchDir("reliability") {}
};

/// A copy of a model folder's top-level files (no goldens), to break on purpose.
class ModelCopy : public ScratchDir {
 public:
  explicit ModelCopy(const fs::path& source) {
    for (const auto& entry : fs::directory_iterator(source))
      if (entry.is_regular_file() && entry.path().filename().string().rfind("golden", 0) != 0)
        fs::copy_file(entry.path(), path() / entry.path().filename());
  }

  void edit_json(const std::string& file, const std::function<void(nlohmann::json&)>& edit) const {
    auto json = nlohmann::json::parse(read_file(path() / file));
    edit(json);
    write_file(path() / file, json.dump(1));
  }

  /// Rewrites the header of a safetensors file in the copy; the data stays as is.
  void edit_safetensors_header(const std::string& file, const std::function<void(nlohmann::json&)>& edit) const {
    const std::string bytes = read_file(path() / file);
    std::uint64_t length = 0;
    std::memcpy(&length, bytes.data(), 8);
    auto header = nlohmann::json::parse(bytes.substr(8, length));
    edit(header);
    const std::string text = header.dump();
    std::string out(8, '\0');
    const std::uint64_t new_length = text.size();
    std::memcpy(out.data(), &new_length, 8);
    write_file(path() / file, out + text + bytes.substr(8 + length));
  }
};

/// Calls `body`, which must throw exactly `Expected` (a srformer::Error); returns its message.
/// With SRFORMER_PRINT_ERRORS=1 in the environment the message is printed (README material).
template <class Expected, class Body>
std::string error_message(Body&& body) {
  static_assert(std::is_base_of<Error, Expected>::value, "library errors derive from srformer::Error");
  try {
    body();
  } catch (const Expected& error) {
    if (const char* print = std::getenv("SRFORMER_PRINT_ERRORS"); print && *print == '1')
      std::cout << "[" << ::testing::UnitTest::GetInstance()->current_test_info()->name() << "] "
                << typeid(error).name() << ": " << error.what() << '\n';
    return error.what();
  } catch (const std::exception& error) {
    ADD_FAILURE() << "expected " << typeid(Expected).name() << ", got " << typeid(error).name() << ": "
                  << error.what();
    return {};
  }
  ADD_FAILURE() << "expected " << typeid(Expected).name() << ", nothing was thrown";
  return {};
}

}  // namespace srformer::reliability
