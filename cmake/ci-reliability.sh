#!/usr/bin/env bash
# CI's reliability stage (called by .ci/run after the normal build and tests):
#   1. one clang build with -DSRFORMER_SANITIZE=address,undefined and the fuzzers;
#   2. a representative subset of the test executables under ASan + UBSan +
#      LeakSanitizer (the whole suite takes too long to build on 2 cores: see
#      README "Reliability" for the full-suite commands), including the long run
#      (SRFORMER_LONG_RUN_DOCUMENTS summaries, leak check at exit) and the
#      multi-threaded test;
#   3. the multi-threaded tests under ThreadSanitizer (its own build);
#   4. every fuzz target for SRFORMER_FUZZ_SECONDS seconds (default 60) after
#      replaying the saved regression inputs.
# Any sanitizer report, leak, test failure or fuzz finding fails the stage.
#
#   bash cmake/ci-reliability.sh [BUILD_DIR]          (default: build-reliability)
# Environment: SRFORMER_FUZZ_SECONDS (60), SRFORMER_LONG_RUN_DOCUMENTS (50),
#   SRFORMER_ASAN_TESTS, SRFORMER_TSAN_TESTS (space-separated test executables;
#   defaults below), JOBS (2).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build="${1:-build-reliability}"
jobs="${JOBS:-2}"
export SRFORMER_FUZZ_SECONDS="${SRFORMER_FUZZ_SECONDS:-60}"
export SRFORMER_LONG_RUN_DOCUMENTS="${SRFORMER_LONG_RUN_DOCUMENTS:-50}"
# The subset: everything that reads files or text from users (io, model loading
# errors, our own tokenizers), the pipeline end to end, and the reliability tests.
asan_tests=(${SRFORMER_ASAN_TESTS:-errors_test fuzz_regressions_test hostile_inputs_test thread_safety_test long_run_test
  safetensors_test model_errors_test byte_level_bpe_tokenizer_test unigram_tokenizer_test
  t5_demo_summaries_test})
tsan_tests=(${SRFORMER_TSAN_TESTS:-thread_safety_test kernels_test})
start=$(date +%s)
stage() { echo "== ci-reliability [$(( $(date +%s) - start ))s]: $*"; }

# clang and its sanitizer/libFuzzer runtimes (not needed by the normal build, so
# cmake/setup-debian.sh does not install them).
# Ninja builds the listed targets in parallel (CMake's Makefiles build them one after another).
need=()
command -v clang++ >/dev/null 2>&1 || need+=(clang)
command -v ninja >/dev/null 2>&1 || need+=(ninja-build)
compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" >/dev/null || need+=(libclang-rt-14-dev)
if ((${#need[@]} > 0)); then
  stage "installing ${need[*]}"
  sudo_cmd=()
  [[ "$(id -u)" -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${need[@]}"
fi

stage "configure $build (clang, address,undefined, fuzzers)"
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DSRFORMER_SANITIZE=address,undefined -DSRFORMER_BUILD_FUZZERS=ON \
  -DSRFORMER_BUILD_BENCHMARKS=OFF -DSRFORMER_BUILD_EXAMPLES=OFF -DSRFORMER_INSTALL=OFF -DSRFORMER_BUILD_PYTHON=OFF >/dev/null

stage "build ${#asan_tests[@]} test executables and the fuzzers"
cmake --build "$build" -j"$jobs" --target "${asan_tests[@]}" fuzzers

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
passed=0
failed=0
failures=()
for test in "${asan_tests[@]}"; do
  stage "ASan+UBSan: $test"
  if "$build/tests/$test" --gtest_brief=1; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("$test")
  fi
done

# ThreadSanitizer on the tests that share one model or switch kernels between threads
# (a separate build: TSan and ASan cannot be combined).
tsan_build="${build}-tsan"
stage "configure and build $tsan_build (clang, thread): ${tsan_tests[*]}"
CC=clang CXX=clang++ cmake -S . -B "$tsan_build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSRFORMER_SANITIZE=thread \
  -DSRFORMER_BUILD_BENCHMARKS=OFF -DSRFORMER_BUILD_EXAMPLES=OFF -DSRFORMER_INSTALL=OFF -DSRFORMER_BUILD_PYTHON=OFF >/dev/null
cmake --build "$tsan_build" -j"$jobs" --target "${tsan_tests[@]}"
for test in "${tsan_tests[@]}"; do
  stage "TSan: $test"
  if TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}" "$tsan_build/tests/$test" --gtest_brief=1; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("$test (TSan)")
  fi
done

stage "fuzzing: 8 targets x ${SRFORMER_FUZZ_SECONDS}s"
if bash tests/fuzz/run_fuzzers.sh "$build" "$SRFORMER_FUZZ_SECONDS"; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
  failures+=("fuzzing")
fi

stage "done"
((failed == 0)) || echo "ci-reliability: failed: ${failures[*]}"
echo "reliability: $passed passed, $failed failed"
((failed == 0))
