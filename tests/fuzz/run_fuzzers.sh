#!/usr/bin/env bash
# Runs srformer's libFuzzer targets for a bounded time each and fails on any finding.
#
#   tests/fuzz/run_fuzzers.sh BUILD_DIR [SECONDS_PER_TARGET] [TARGET...]
#
# BUILD_DIR was configured with -DSRFORMER_BUILD_FUZZERS=ON (clang) and the
# `fuzzers` target built (fuzz targets + seed corpora). SECONDS_PER_TARGET
# defaults to $SRFORMER_FUZZ_SECONDS or 60. Optional: SRFORMER_FUZZ_RUNS caps the
# executions per target (e.g. 1000000), SRFORMER_FUZZ_JOBS parallel targets
# (default 1). For each target it
#   1. replays tests/fuzz/regressions/<target>/* (inputs that once found a bug),
#   2. fuzzes from <BUILD_DIR>/tests/fuzz/corpus/<target> (kept between runs,
#      started from the seeds and the regressions),
# and writes crashing inputs to <BUILD_DIR>/tests/fuzz/findings/<target>/.
# A summary line per target (executions, exec/s, status) goes to standard output
# and <BUILD_DIR>/tests/fuzz/summary.txt. Exit status 1 if any target found something.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="${1:?usage: run_fuzzers.sh BUILD_DIR [SECONDS_PER_TARGET] [TARGET...]}"
seconds="${2:-${SRFORMER_FUZZ_SECONDS:-60}}"
shift $(( $# >= 2 ? 2 : $# ))
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(safetensors_fuzzer config_fuzzer tokenizer_sentencepiece_fuzzer tokenizer_unigram_fuzzer
           tokenizer_bpe_fuzzer generation_fuzzer model_fuzzer jsonl_fuzzer)
fi
fuzz_dir="$build/tests/fuzz"
runs="${SRFORMER_FUZZ_RUNS:--1}"
jobs="${SRFORMER_FUZZ_JOBS:-1}"

# Leaks are findings too; stack traces symbolized when llvm-symbolizer exists.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
if [[ -z "${ASAN_SYMBOLIZER_PATH:-}" ]] && command -v llvm-symbolizer-14 >/dev/null 2>&1; then
  export ASAN_SYMBOLIZER_PATH="$(command -v llvm-symbolizer-14)"
fi

run_one() {
  local target="$1"
  local binary="$fuzz_dir/$target"
  local log="$fuzz_dir/logs/$target.log"
  local corpus="$fuzz_dir/corpus/$target"
  local findings="$fuzz_dir/findings/$target"
  local regressions="$here/regressions/$target"
  mkdir -p "$corpus" "$findings" "$(dirname "$log")"
  if [[ ! -x "$binary" ]]; then
    echo "$target: MISSING binary $binary (build the 'fuzzers' target)"
    return 1
  fi
  if [[ ! -d "$fuzz_dir/seeds/$target" ]]; then
    echo "$target: MISSING seeds $fuzz_dir/seeds/$target (build the 'fuzz_seed_corpora' target)"
    return 1
  fi
  : >"$log"
  # 1. Regression inputs, each run once.
  local saved=()
  if [[ -d "$regressions" ]]; then
    while IFS= read -r -d '' file; do saved+=("$file"); done < <(find "$regressions" -type f ! -name 'README*' -print0)
  fi
  if ((${#saved[@]} > 0)) && ! "$binary" -runs=1 "${saved[@]}" >>"$log" 2>&1; then
    echo "$target: FINDING while replaying tests/fuzz/regressions/$target (see $log)"
    return 1
  fi
  # 2. Fuzzing. The corpus folder comes first: new inputs are written there.
  local extra=("$fuzz_dir/seeds/$target")
  [[ -d "$regressions" ]] && extra+=("$regressions")
  local status=0 max_len=4096
  [[ "$target" == safetensors_fuzzer ]] && max_len=65536  # real headers are a few KiB, seeds up to 50 KiB
  "$binary" -max_total_time="$seconds" -runs="$runs" -timeout=30 -rss_limit_mb=3072 -max_len="$max_len" \
    -print_final_stats=1 -artifact_prefix="$findings/" "$corpus" "${extra[@]}" >>"$log" 2>&1 || status=$?
  local executed rate
  executed="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')"
  rate="$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')"
  if ((status != 0)); then
    echo "$target: FINDING (exit $status) after ${executed:-?} executions; input saved in $findings/ (log: $log)"
    grep -m1 -E 'ERROR: |FINDING|runtime error|deadly signal|out-of-memory|timeout' "$log" | sed 's/^/    /'
    return 1
  fi
  echo "$target: ok, ${executed:-?} executions in ${seconds}s max (${rate:-?}/s), corpus $(ls "$corpus" | wc -l) inputs"
}

mkdir -p "$fuzz_dir"
summary="$fuzz_dir/summary.txt"
: >"$summary"
failed=0
running=0
for target in "${targets[@]}"; do
  if ((jobs > 1)); then
    (run_one "$target" >>"$summary") &
    running=$((running + 1))
    if ((running >= jobs)); then wait -n || true; running=$((running - 1)); fi
  else
    run_one "$target" | tee -a "$summary" || failed=1
  fi
done
wait
if ((jobs > 1)); then
  cat "$summary"
  grep -q -E 'FINDING|MISSING' "$summary" && failed=1
fi
if ((failed)); then
  echo "run_fuzzers.sh: at least one fuzz target failed (inputs under $fuzz_dir/findings)" >&2
  exit 1
fi
echo "run_fuzzers.sh: ${#targets[@]} fuzz targets ran without findings"
