#pragma once
// Writing an output file so that it is either complete or untouched: the bytes go
// to a temporary file in the target's folder, which replaces the target by a
// rename(2) only once everything was written and synced. A crash, a kill, a full
// disk or an exception halfway leaves the previous file (possibly the program's
// own input) as it was.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <system_error>
#include <vector>

#include "srformer/core/error.hpp"

namespace srformer::io {

class AtomicFileWriter {
 public:
  /// Prepares to replace `target`. A symbolic link is followed (the file it points to
  /// is replaced, the link stays). A target that exists but is not a regular file
  /// (/dev/null, /dev/stdout, a FIFO) cannot be replaced by rename and is written
  /// directly. InputError when the folder does not exist or is not writable, or the
  /// target is a folder.
  explicit AtomicFileWriter(const std::filesystem::path& target) : target_(target) {
    namespace fs = std::filesystem;
    std::error_code error;
    fs::path destination = target;
    if (fs::is_symlink(fs::symlink_status(target, error))) {
      const fs::path resolved = fs::weakly_canonical(target, error);
      if (error) fail("cannot resolve the symbolic link: " + error.message());
      destination = resolved;
    }
    const auto status = fs::status(destination, error);
    if (fs::is_directory(status)) fail("is a directory");
    if (fs::exists(status) && !fs::is_regular_file(status)) {
      // A device or pipe: nothing to protect, and rename cannot replace it.
      direct_.open(destination, std::ios::binary | std::ios::out);
      if (!direct_) fail(std::string("cannot open for writing: ") + std::strerror(errno));
      return;
    }
    destination_ = destination;
    const fs::path folder = destination.has_parent_path() ? destination.parent_path() : fs::path(".");
    std::string pattern = (folder / ("." + destination.filename().string() + ".XXXXXX")).string();
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back('\0');
    const int fd = ::mkstemp(name.data());
    if (fd < 0) fail("cannot create a temporary file in " + folder.string() + ": " + std::strerror(errno));
    temporary_ = name.data();
    // mkstemp makes the file 0600: keep the mode of the file being replaced, or give
    // a new file the mode the umask allows, as an ordinary open(O_CREAT) would.
    struct stat existing {};
    mode_t mode = 0;
    if (::stat(destination.c_str(), &existing) == 0) {
      mode = existing.st_mode & 07777;
    } else {
      const mode_t mask = ::umask(0);
      ::umask(mask);
      mode = 0666 & ~mask;
    }
    ::fchmod(fd, mode);
    ::close(fd);
    file_.open(temporary_, std::ios::binary | std::ios::out | std::ios::trunc);
    if (!file_) {
      discard();
      fail("cannot open the temporary file " + temporary_.string());
    }
  }

  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  /// Removes the temporary file unless commit() succeeded: the target keeps its old contents.
  ~AtomicFileWriter() { discard(); }

  std::ostream& stream() { return direct_.is_open() ? static_cast<std::ostream&>(direct_) : file_; }

  /// Flushes, syncs and renames the temporary file over the target. InputError when
  /// any write failed (disk full, ...); the target is then left unchanged.
  void commit() {
    if (direct_.is_open()) {
      direct_.flush();
      if (!direct_) fail("writing failed");
      direct_.close();
      return;
    }
    if (temporary_.empty()) fail("already committed or discarded");
    file_.flush();
    const bool written = static_cast<bool>(file_);
    file_.close();
    if (!written || file_.fail()) {
      discard();
      fail("writing failed (disk full?); the file was left unchanged");
    }
    const int fd = ::open(temporary_.c_str(), O_RDONLY | O_CLOEXEC);
    const bool synced = fd >= 0 && ::fsync(fd) == 0;
    if (fd >= 0) ::close(fd);
    if (!synced) {
      discard();
      fail("cannot sync the temporary file to disk; the file was left unchanged");
    }
    if (std::rename(temporary_.c_str(), destination_.c_str()) != 0) {
      const std::string reason = std::strerror(errno);
      discard();
      fail("cannot rename the temporary file into place: " + reason);
    }
    temporary_.clear();
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw InputError("output file '" + target_.string() + "': " + why);
  }

  void discard() noexcept {
    if (file_.is_open()) file_.close();
    if (!temporary_.empty()) {
      std::error_code ignored;
      std::filesystem::remove(temporary_, ignored);
      temporary_.clear();
    }
  }

  std::filesystem::path target_, destination_, temporary_;
  std::ofstream file_, direct_;
};

/// Writes `bytes` to `path` atomically (see AtomicFileWriter).
inline void write_file_atomically(const std::filesystem::path& path, const std::string& bytes) {
  AtomicFileWriter writer(path);
  writer.stream().write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  writer.commit();
}

}  // namespace srformer::io
