# Sanitizer and fuzzer builds of srformer's own binaries (tests, examples,
# benchmarks). Consumers never see these flags: they go on the private
# `srformer_dev_flags` target only.
#
#   -DSRFORMER_SANITIZE=address,undefined   AddressSanitizer + LeakSanitizer + UBSan
#   -DSRFORMER_SANITIZE=thread              ThreadSanitizer
#   -DSRFORMER_BUILD_FUZZERS=ON             libFuzzer targets in tests/fuzz (clang only)
#
# Every report is fatal (-fno-sanitize-recover=all), so a finding fails the test
# that triggered it instead of scrolling past in its output.

set(SRFORMER_SANITIZE "" CACHE STRING
    "Sanitizers for srformer's own tests/examples/benchmarks: empty, 'address,undefined' or 'thread'")
set_property(CACHE SRFORMER_SANITIZE PROPERTY STRINGS "" "address,undefined" "thread")
option(SRFORMER_BUILD_FUZZERS "Build the libFuzzer targets in tests/fuzz (needs clang)" OFF)

# Flags shared by sanitizer and fuzzer builds: readable stack traces, line numbers.
set(SRFORMER_SANITIZER_COMMON_FLAGS -fno-omit-frame-pointer -fno-sanitize-recover=all -g1)

if(SRFORMER_SANITIZE STREQUAL "")
  # nothing to add
elseif(SRFORMER_SANITIZE STREQUAL "address,undefined" OR SRFORMER_SANITIZE STREQUAL "undefined,address")
  target_compile_options(srformer_dev_flags INTERFACE -fsanitize=address,undefined ${SRFORMER_SANITIZER_COMMON_FLAGS})
  target_link_options(srformer_dev_flags INTERFACE -fsanitize=address,undefined)
elseif(SRFORMER_SANITIZE STREQUAL "thread")
  target_compile_options(srformer_dev_flags INTERFACE -fsanitize=thread ${SRFORMER_SANITIZER_COMMON_FLAGS})
  target_link_options(srformer_dev_flags INTERFACE -fsanitize=thread)
else()
  message(FATAL_ERROR "SRFORMER_SANITIZE='${SRFORMER_SANITIZE}': use '', 'address,undefined' or 'thread'")
endif()
if(NOT SRFORMER_SANITIZE STREQUAL "")
  # Tests read it to skip what a sanitizer makes meaningless (e.g. RSS bounds under ASan).
  target_compile_definitions(srformer_dev_flags INTERFACE SRFORMER_SANITIZE="${SRFORMER_SANITIZE}")
  message(STATUS "srformer: tests, examples and benchmarks built with -fsanitize=${SRFORMER_SANITIZE}")
endif()

if(SRFORMER_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "SRFORMER_BUILD_FUZZERS needs clang (libFuzzer); configure with "
                        "-DCMAKE_CXX_COMPILER=clang++ (Debian: clang, libclang-rt-14-dev)")
  endif()
  if(NOT SRFORMER_BUILD_TESTS)
    message(FATAL_ERROR "SRFORMER_BUILD_FUZZERS needs SRFORMER_BUILD_TESTS (the fuzzers live in tests/fuzz)")
  endif()
  # Flags of the fuzz targets: libFuzzer's main and coverage, ASan and UBSan,
  # independent of SRFORMER_SANITIZE (a fuzzer is always sanitized).
  add_library(srformer_fuzz_flags INTERFACE)
  target_compile_options(srformer_fuzz_flags INTERFACE -Wall -Wextra -Wpedantic
                         -fsanitize=fuzzer,address,undefined ${SRFORMER_SANITIZER_COMMON_FLAGS})
  target_link_options(srformer_fuzz_flags INTERFACE -fsanitize=fuzzer,address,undefined)
endif()
