#pragma once
// Shared by the libFuzzer targets. The contract under test: whatever bytes a
// user feeds srformer, the only thing that may come out besides a result is a
// srformer::Error. Anything else is a finding and aborts the run, so libFuzzer
// saves the input: a crash or sanitizer report (ASan/UBSan abort by themselves),
// a foreign exception (std::bad_alloc, std::out_of_range, nlohmann::json's), or
// a broken invariant checked by the target (fuzz_require).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <typeinfo>

#include "srformer/core/error.hpp"
#include "support/scratch_dir.hpp"

namespace srformer::fuzz {

[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "\n==srformer-fuzz== FINDING: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

/// A property the library promises; its violation is a finding.
inline void fuzz_require(bool condition, const std::string& what) {
  if (!condition) finding("invariant violated: " + what);
}

/// Runs `body`; srformer::Error (documented) is swallowed, every other exception is a finding.
/// Returns true when `body` completed without throwing.
template <class Body>
bool expect_only_srformer_errors(Body&& body) {
  try {
    body();
    return true;
  } catch (const srformer::Error&) {
    return false;
  } catch (const std::exception& error) {
    finding(std::string("exception of type ") + typeid(error).name() + " escaped (not a srformer::Error): " +
            error.what());
  } catch (...) {
    finding("a non-std exception escaped");
  }
}

/// A scratch folder private to this process (mkdtemp), removed when it exits.
inline const std::filesystem::path& scratch_dir() { return srformer::test::process_scratch_dir().path(); }

inline void write_file(const std::filesystem::path& path, const std::uint8_t* data, std::size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) finding("cannot write scratch file " + path.string());
}

/// RFC 3629 well-formedness, written independently of the library's own check
/// (so the two can disagree and the disagreement be found).
inline bool is_valid_utf8(const std::string& text) {
  std::size_t i = 0;
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  while (i < text.size()) {
    const unsigned c = byte(i);
    std::size_t length;
    std::uint32_t code;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      length = 2;
      code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3;
      code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      if ((byte(i + k) & 0xC0) != 0x80) return false;
      code = (code << 6) | (byte(i + k) & 0x3F);
    }
    const std::uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < smallest[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
    i += length;
  }
  return true;
}

}  // namespace srformer::fuzz

#ifndef SRFORMER_FUZZ_DATA_DIR
#error "SRFORMER_FUZZ_DATA_DIR (tests/data) must be defined by the build"
#endif
#ifndef SRFORMER_FUZZ_MODELS_DIR
#error "SRFORMER_FUZZ_MODELS_DIR (examples/models) must be defined by the build"
#endif
