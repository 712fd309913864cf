#pragma once
// Why a path cannot be read as a file, in words a user can act on: a folder, a
// FIFO, a dangling link or a link loop each get their own message instead of a
// generic "does not exist".
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>

#include "srformer/core/error.hpp"

namespace srformer::io {

/// Why `path` cannot be read as a regular file ("does not exist", "is a directory, not
/// a file", "is a FIFO, not a regular file", "is a symbolic link loop", ...), or nullopt
/// when it is a regular file. Follows symbolic links; never opens the file (opening a
/// FIFO would block until someone writes to it).
inline std::optional<std::string> file_problem(const std::filesystem::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    const int error = errno;
    if (error == ENOENT) {
      struct stat link_info {};
      if (::lstat(path.c_str(), &link_info) == 0 && S_ISLNK(link_info.st_mode))
        return std::string("is a symbolic link to a file that does not exist");
      return std::string("does not exist");
    }
    if (error == ELOOP) return std::string("is a symbolic link loop (too many levels of symbolic links)");
    if (error == ENOTDIR) return std::string("does not exist (a part of the path is not a folder)");
    return std::string("cannot be accessed: ") + std::strerror(error);
  }
  if (S_ISREG(info.st_mode)) return std::nullopt;
  if (S_ISDIR(info.st_mode)) return std::string("is a directory, not a file");
  if (S_ISFIFO(info.st_mode)) return std::string("is a FIFO (named pipe), not a regular file");
  if (S_ISSOCK(info.st_mode)) return std::string("is a socket, not a regular file");
  if (S_ISCHR(info.st_mode) || S_ISBLK(info.st_mode)) return std::string("is a device, not a regular file");
  return std::string("is not a regular file");
}

/// Whether anything exists under the name `path` (a file, a folder, a dangling link or a
/// link loop); never throws. Callers then open it, so a message says what is wrong with
/// it rather than calling it missing.
inline bool name_exists(const std::filesystem::path& path) noexcept {
  std::error_code ignored;
  return std::filesystem::exists(std::filesystem::symlink_status(path, ignored));
}

/// FormatError "file <path> <problem>" unless `path` is a regular file.
inline void require_regular_file(const std::filesystem::path& path) {
  if (const auto problem = file_problem(path)) throw FormatError("file " + path.string() + " " + *problem);
}

}  // namespace srformer::io
