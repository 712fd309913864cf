#pragma once
// Library version. Hand-written so the headers work straight from the source
// tree; cmake/SrformerVersionCheck.cmake fails the configure if these numbers
// differ from project(VERSION) in CMakeLists.txt.

#define SRFORMER_VERSION_MAJOR 0
#define SRFORMER_VERSION_MINOR 1
#define SRFORMER_VERSION_PATCH 0
#define SRFORMER_VERSION_STRING "0.1.0"

/// Single comparable number, e.g. for `#if SRFORMER_VERSION >= 100` (= 0.1.0).
#define SRFORMER_VERSION \
  (SRFORMER_VERSION_MAJOR * 10000 + SRFORMER_VERSION_MINOR * 100 + SRFORMER_VERSION_PATCH)

namespace srformer {

/// The version of the headers this translation unit was compiled against.
inline constexpr int version_major = SRFORMER_VERSION_MAJOR;
inline constexpr int version_minor = SRFORMER_VERSION_MINOR;
inline constexpr int version_patch = SRFORMER_VERSION_PATCH;
inline constexpr const char* version_string = SRFORMER_VERSION_STRING;

}  // namespace srformer
