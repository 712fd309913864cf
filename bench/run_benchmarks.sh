#!/usr/bin/env bash
# Runs the whole benchmark suite; called by the `run_benchmarks` CMake target.
#   run_benchmarks.sh <folder with the bench binaries>
# Prints everything and keeps a copy in <folder>/results/ (*.txt, bench_attention.json).
set -euo pipefail
bin="${1:?usage: run_benchmarks.sh <bench binary folder>}"
results="$bin/results"
mkdir -p "$results"
# OpenMP threads sleep instead of spinning between the many short parallel products of a
# decoding step: with libgomp's default spinning, a thread that lost its core to another
# process stalls every product (decode 3 s -> 50 s seen on a loaded 2-core machine).
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"

{
  date -u '+%Y-%m-%d %H:%M:%S UTC'
  lscpu | grep -E '^(Model name|CPU\(s\)|Thread|Core|L2|L3)' || true
  printf 'avx2/fma flags: %s\n' "$(grep -o -w -E 'avx2|fma|avx512f' /proc/cpuinfo | sort -u | tr '\n' ' ')"
  printf 'load average before the run: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$results/machine.txt"

step() {
  local name="$1"
  shift
  echo
  echo "== $name =="
  "$@" 2>&1 | tee "$results/$name.txt"
}

step bench_attention "$bin/bench_attention" --benchmark_min_time=0.3 \
  "--benchmark_out=$results/bench_attention.json" --benchmark_out_format=json
step flops "$bin/flops"
step end_to_end "$bin/end_to_end"
printf '\nload average after the run: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$results/machine.txt"
echo "results in $results"
