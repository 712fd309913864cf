#pragma once
// Which instruction set the SIMD kernels (srformer/kernels/) run, chosen at run time.
//
// Design: GCC/Clang `__attribute__((target("avx2,fma")))` functions, picked with
// `__builtin_cpu_supports`, the answer cached in a function-local static.
//  * The library is header-only and built for baseline x86-64 (SSE2), so one binary
//    runs on every x86-64. A target attribute compiles just the marked functions for
//    AVX2+FMA inside such a translation unit, whatever its flags; they are called only
//    when __builtin_cpu_supports reports "avx2" and "fma" (libgcc and compiler-rt
//    report AVX features only when the OS saves the YMM registers, via XGETBV).
//  * The choice is made once (thread-safe static initialisation) and read per kernel
//    call as a relaxed atomic: one load and a well-predicted branch.
//  * Not xsimd: it would be a new dependency for consumers of the library, and its
//    run-time dispatch needs the same per-architecture target attributes or
//    translation units anyway. The kernels are few and small; plain intrinsics next
//    to a plain-C++ twin are easier to read and to check against each other.
//  * Everything else (other compilers, ARM, x86 without AVX2) runs the portable
//    kernels: plain loops shaped so that the compiler vectorises them (SSE2 on x86-64,
//    NEON on AArch64). No hand-written NEON.
//  * Works with g++ >= 6 and clang >= 4 (checked: g++ 12, clang 14).
//
// The environment variable SRFORMER_KERNELS=scalar forces the portable kernels at
// start-up (for comparisons); set_isa() switches at run time (tests).
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include "srformer/core/error.hpp"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define SRFORMER_KERNELS_X86 1
#define SRFORMER_TARGET_AVX2 __attribute__((target("avx2,fma")))
#else
#define SRFORMER_KERNELS_X86 0
#define SRFORMER_TARGET_AVX2
#endif

namespace srformer::kernels {

/// Instruction sets the kernels come in.
enum class Isa { Scalar, Avx2 };

inline const char* to_string(Isa isa) { return isa == Isa::Avx2 ? "avx2+fma" : "scalar"; }

/// The best instruction set this CPU runs (asked once).
inline Isa detected_isa() {
  static const Isa detected = [] {
#if SRFORMER_KERNELS_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
#endif
    return Isa::Scalar;
  }();
  return detected;
}

inline bool isa_supported(Isa isa) { return isa == Isa::Scalar || detected_isa() == Isa::Avx2; }

namespace detail {

inline std::atomic<int>& active_isa_storage() {
  static std::atomic<int> active{[] {
    const char* forced = std::getenv("SRFORMER_KERNELS");
    if (forced && std::strcmp(forced, "scalar") == 0) return static_cast<int>(Isa::Scalar);
    return static_cast<int>(detected_isa());
  }()};
  return active;
}

}  // namespace detail

/// The instruction set the kernels use now.
inline Isa active_isa() {
  return static_cast<Isa>(detail::active_isa_storage().load(std::memory_order_relaxed));
}

/// Switches every kernel to `isa` (tests: force the portable path). Thread-safe; a
/// kernel already running finishes on the old one. OptionError if the CPU lacks it.
inline void set_isa(Isa isa) {
  if (!isa_supported(isa))
    throw OptionError(std::string("kernels: this CPU does not support ") + to_string(isa));
  detail::active_isa_storage().store(static_cast<int>(isa), std::memory_order_relaxed);
}

/// Sets an instruction set for a scope and restores the previous one.
class ScopedIsa {
 public:
  explicit ScopedIsa(Isa isa) : previous_(active_isa()) { set_isa(isa); }
  ~ScopedIsa() { set_isa(previous_); }
  ScopedIsa(const ScopedIsa&) = delete;
  ScopedIsa& operator=(const ScopedIsa&) = delete;

 private:
  Isa previous_;
};

/// True when the AVX2 kernels should run now.
inline bool use_avx2() {
#if SRFORMER_KERNELS_X86
  return active_isa() == Isa::Avx2;
#else
  return false;
#endif
}

}  // namespace srformer::kernels
