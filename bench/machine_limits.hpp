#pragma once
// What this machine can do at best, measured rather than taken from a data
// sheet: the fp32 multiply-add peak of a register-only kernel and the read
// bandwidth of a buffer far larger than the caches. The benchmarks express their
// throughput as fractions of these numbers.
#include <cstdint>
#include <string>

namespace srformer::bench {

/// One timed run of a kernel over `threads` threads.
struct KernelRun {
  double seconds = 0.0;  // the longest thread CPU time (= wall time on an idle machine)
  double flops = 0.0;  // floating-point operations (a fused multiply-add counts 2)
  double bytes = 0.0;  // bytes read
};

/// True when the CPU runs AVX2 and FMA (checked at run time; the kernels are
/// compiled for them with a target attribute, so the build flags do not matter).
bool cpu_has_avx2_fma();

/// "avx2+fma" or "sse" (the instruction set the peak kernel uses on this CPU).
std::string peak_kernel_isa();

/// Independent multiply-add chains kept in registers, `iterations` rounds per
/// thread. AVX2+FMA when the CPU has it, else SSE multiply then add.
KernelRun run_fma_peak(int threads, std::int64_t iterations);

/// SSE multiply then add (4 lanes, no FMA): the best Eigen can do when it is
/// compiled without -mavx2/-mfma, as the project's default flags compile it.
KernelRun run_sse_peak(int threads, std::int64_t iterations);

/// Sums a buffer of `bytes` (allocated and touched once per size, then reused),
/// split evenly over `threads`.
KernelRun run_read_bandwidth(int threads, std::size_t bytes);

struct MachineLimits {
  double fma_gflops[3] = {0, 0, 0};  // index: threads (1 or 2)
  double sse_gflops[3] = {0, 0, 0};
  double read_gbps[3] = {0, 0, 0};
  std::string isa;
};

/// Best of several short runs, for 1 and 2 threads (a few seconds in all). Frees
/// the bandwidth buffer afterwards, so that it does not count in later peak-memory
/// figures (nor in those of forked children).
MachineLimits measure_machine_limits();

/// The CPU's model name from /proc/cpuinfo ("unknown" elsewhere).
std::string cpu_model_name();

/// CPU time of the calling thread, in seconds (CLOCK_THREAD_CPUTIME_ID). Single-
/// threaded measurements use it so that time-slicing with other processes on a
/// shared machine is not counted as work.
double thread_cpu_seconds();

/// CPU time of the whole process (all threads), in seconds.
double process_cpu_seconds();

/// Peak resident set size of this process so far, in MiB (getrusage ru_maxrss).
double peak_resident_mib();

}  // namespace srformer::bench
