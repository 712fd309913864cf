#pragma once
// A read-only POSIX memory mapping of a whole file. Tensors point into it and
// share ownership through shared_ptr, so the mapping lives as long as any tensor.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "srformer/core/error.hpp"
#include "srformer/io/file_checks.hpp"

namespace srformer::io::detail {

class MappedFile {
 public:
  /// Maps `path` read-only; throws FormatError naming the file when it cannot be opened or mapped.
  static std::shared_ptr<const MappedFile> open(const std::filesystem::path& path) {
    return std::shared_ptr<const MappedFile>(new MappedFile(path));
  }

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<unsigned char*>(data_), size_);
  }

  const unsigned char* data() const { return data_; }
  std::uint64_t size() const { return size_; }

 private:
  explicit MappedFile(const std::filesystem::path& path) {
    // Checked before open(): opening a FIFO would block until a writer appears.
    require_regular_file(path);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) fail(path, "cannot open");
    struct stat info {};
    if (::fstat(fd, &info) != 0) {
      const int saved = errno;
      ::close(fd);
      errno = saved;
      fail(path, "cannot stat");
    }
    if (!S_ISREG(info.st_mode)) {
      ::close(fd);
      throw FormatError("file " + path.string() + ": not a regular file");
    }
    size_ = static_cast<std::uint64_t>(info.st_size);
    if (size_ > 0) {  // mmap rejects zero-length mappings; an empty file simply has no bytes
      void* mapped = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (mapped == MAP_FAILED) {
        const int saved = errno;
        ::close(fd);
        errno = saved;
        fail(path, "cannot memory-map");
      }
      data_ = static_cast<const unsigned char*>(mapped);
    }
    ::close(fd);  // the mapping stays valid without the descriptor
  }

  [[noreturn]] static void fail(const std::filesystem::path& path, const char* what) {
    throw FormatError("file " + path.string() + ": " + what + ": " + std::strerror(errno));
  }

  const unsigned char* data_ = nullptr;
  std::uint64_t size_ = 0;
};

}  // namespace srformer::io::detail
