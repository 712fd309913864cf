#pragma once
// The one way tests get a scratch folder: mkdtemp(3) under the system temp folder,
// so the name is unique across processes, test executables and builds running at
// the same time on one machine (ctest -j, two build trees), and the folder is removed
// with everything in it when the object goes away. Names built from a pid, a clock-
// based seed or a fixed string collided: two processes removed each other's files.
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace srformer::test {

class ScratchDir {
 public:
  /// A new, empty folder named <temp>/srformer_<purpose>_XXXXXX.
  explicit ScratchDir(const std::string& purpose = "test") {
    const std::filesystem::path pattern =
        std::filesystem::temp_directory_path() / ("srformer_" + purpose + "_XXXXXX");
    std::string text = pattern.string();
    std::vector<char> name(text.begin(), text.end());
    name.push_back('\0');
    if (::mkdtemp(name.data()) == nullptr)
      throw std::runtime_error("mkdtemp(" + text + ") failed: " + std::strerror(errno));
    path_ = name.data();
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

/// A scratch folder that lives until the process exits: for helpers that hand out
/// paths to files kept for the whole test program.
inline const ScratchDir& process_scratch_dir() {
  static const ScratchDir dir("process");
  return dir;
}

}  // namespace srformer::test
