#include "machine_limits.hpp"

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SRFORMER_BENCH_X86 1
#else
#define SRFORMER_BENCH_X86 0
#endif

namespace srformer::bench {
namespace {

// Enough independent chains to cover the FMA latency (4-5 cycles) on two pipes.
constexpr int kChains = 12;

#if SRFORMER_BENCH_X86
__attribute__((target("avx2,fma"))) float fma_chains_avx2(std::int64_t iterations, float seed) {
  // acc = acc·a + b converges to b/(1−a) ≈ 0.1: no overflow, no denormals.
  const __m256 a = _mm256_set1_ps(0.999999f);
  const __m256 b = _mm256_set1_ps(1e-7f);
  __m256 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(seed + 0.01f * static_cast<float>(c));
  for (std::int64_t i = 0; i < iterations; ++i) {
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
  }
  __m256 sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum = _mm256_add_ps(sum, acc[c]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, sum);
  float total = 0.0f;
  for (float v : lanes) total += v;
  return total;
}

float mul_add_chains_sse(std::int64_t iterations, float seed) {
  const __m128 a = _mm_set1_ps(0.999999f);
  const __m128 b = _mm_set1_ps(1e-7f);
  __m128 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm_set1_ps(seed + 0.01f * static_cast<float>(c));
  for (std::int64_t i = 0; i < iterations; ++i) {
    for (int c = 0; c < kChains; ++c) acc[c] = _mm_add_ps(_mm_mul_ps(acc[c], a), b);
  }
  __m128 sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum = _mm_add_ps(sum, acc[c]);
  alignas(16) float lanes[4];
  _mm_store_ps(lanes, sum);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

__attribute__((target("avx2"))) float sum_avx2(const float* data, std::size_t count) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  std::size_t i = 0;
  for (; i + 32 <= count; i += 32) {
    acc[0] = _mm256_add_ps(acc[0], _mm256_loadu_ps(data + i));
    acc[1] = _mm256_add_ps(acc[1], _mm256_loadu_ps(data + i + 8));
    acc[2] = _mm256_add_ps(acc[2], _mm256_loadu_ps(data + i + 16));
    acc[3] = _mm256_add_ps(acc[3], _mm256_loadu_ps(data + i + 24));
  }
  const __m256 sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, sum);
  float total = 0.0f;
  for (float v : lanes) total += v;
  for (; i < count; ++i) total += data[i];
  return total;
}

float sum_sse(const float* data, std::size_t count) {
  __m128 acc[4] = {_mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps()};
  std::size_t i = 0;
  for (; i + 16 <= count; i += 16) {
    acc[0] = _mm_add_ps(acc[0], _mm_loadu_ps(data + i));
    acc[1] = _mm_add_ps(acc[1], _mm_loadu_ps(data + i + 4));
    acc[2] = _mm_add_ps(acc[2], _mm_loadu_ps(data + i + 8));
    acc[3] = _mm_add_ps(acc[3], _mm_loadu_ps(data + i + 12));
  }
  const __m128 sum = _mm_add_ps(_mm_add_ps(acc[0], acc[1]), _mm_add_ps(acc[2], acc[3]));
  alignas(16) float lanes[4];
  _mm_store_ps(lanes, sum);
  float total = lanes[0] + lanes[1] + lanes[2] + lanes[3];
  for (; i < count; ++i) total += data[i];
  return total;
}
#else
float scalar_chains(std::int64_t iterations, float seed, int lanes) {
  std::vector<float> acc(static_cast<std::size_t>(kChains * lanes));
  for (std::size_t c = 0; c < acc.size(); ++c) acc[c] = seed + 0.01f * static_cast<float>(c);
  for (std::int64_t i = 0; i < iterations; ++i)
    for (float& v : acc) v = v * 0.999999f + 1e-7f;
  float total = 0.0f;
  for (float v : acc) total += v;
  return total;
}
float sum_scalar(const float* data, std::size_t count) {
  float total = 0.0f;
  for (std::size_t i = 0; i < count; ++i) total += data[i];
  return total;
}
#endif

// Keeps results alive so the compiler cannot drop the kernels.
volatile float g_sink = 0.0f;

double thread_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

/// Runs `work(thread_index)` on `threads` threads (the caller's thread is one of
/// them) and returns the longest CPU time any of them needed: what the hardware
/// takes, leaving out time-slicing with other processes on a shared machine (on an
/// idle machine it equals the wall time).
template <class Work>
double run_on_threads(int threads, Work work) {
  std::vector<float> results(static_cast<std::size_t>(threads), 0.0f);
  std::vector<double> seconds(static_cast<std::size_t>(threads), 0.0);
  const auto timed = [&](int t) {
    const double start = thread_seconds();
    results[static_cast<std::size_t>(t)] = work(t);
    seconds[static_cast<std::size_t>(t)] = thread_seconds() - start;
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(timed, t);
  timed(0);
  for (auto& thread : pool) thread.join();
  float total = 0.0f;
  for (float r : results) total += r;
  g_sink = g_sink + total;
  return *std::max_element(seconds.begin(), seconds.end());
}

std::unique_ptr<std::vector<float>>& bandwidth_buffer_slot() {
  static std::unique_ptr<std::vector<float>> buffer;
  return buffer;
}

/// One buffer per size, filled once so its pages are resident before timing.
const std::vector<float>& bandwidth_buffer(std::size_t bytes) {
  std::unique_ptr<std::vector<float>>& buffer = bandwidth_buffer_slot();
  const std::size_t count = bytes / sizeof(float);
  if (!buffer || buffer->size() != count) {
    buffer.reset();
    buffer = std::make_unique<std::vector<float>>(count);
    for (std::size_t i = 0; i < count; ++i) (*buffer)[i] = static_cast<float>(i & 1023) * 1e-3f;
  }
  return *buffer;
}

}  // namespace

bool cpu_has_avx2_fma() {
#if SRFORMER_BENCH_X86
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return has;
#else
  return false;
#endif
}

std::string peak_kernel_isa() {
#if SRFORMER_BENCH_X86
  return cpu_has_avx2_fma() ? "avx2+fma" : "sse";
#else
  return "scalar";
#endif
}

KernelRun run_fma_peak(int threads, std::int64_t iterations) {
  const bool avx2 = cpu_has_avx2_fma();
  KernelRun run;
  run.seconds = run_on_threads(threads, [&](int t) {
    const float seed = 0.5f + 0.001f * static_cast<float>(t);
#if SRFORMER_BENCH_X86
    return avx2 ? fma_chains_avx2(iterations, seed) : mul_add_chains_sse(iterations, seed);
#else
    return scalar_chains(iterations, seed, 1);
#endif
  });
#if SRFORMER_BENCH_X86
  const double lanes = avx2 ? 8.0 : 4.0;
#else
  const double lanes = 1.0;
#endif
  run.flops = 2.0 * lanes * kChains * static_cast<double>(iterations) * threads;
  return run;
}

KernelRun run_sse_peak(int threads, std::int64_t iterations) {
  KernelRun run;
  run.seconds = run_on_threads(threads, [&](int t) {
    const float seed = 0.5f + 0.001f * static_cast<float>(t);
#if SRFORMER_BENCH_X86
    return mul_add_chains_sse(iterations, seed);
#else
    return scalar_chains(iterations, seed, 1);
#endif
  });
#if SRFORMER_BENCH_X86
  run.flops = 2.0 * 4.0 * kChains * static_cast<double>(iterations) * threads;
#else
  run.flops = 2.0 * kChains * static_cast<double>(iterations) * threads;
#endif
  return run;
}

KernelRun run_read_bandwidth(int threads, std::size_t bytes) {
  const std::vector<float>& buffer = bandwidth_buffer(bytes);
  const std::size_t count = buffer.size();
  const std::size_t share = count / static_cast<std::size_t>(threads);
  KernelRun run;
  run.seconds = run_on_threads(threads, [&](int t) {
    const float* begin = buffer.data() + share * static_cast<std::size_t>(t);
    const std::size_t n = t + 1 == threads ? count - share * static_cast<std::size_t>(t) : share;
#if SRFORMER_BENCH_X86
    return cpu_has_avx2_fma() ? sum_avx2(begin, n) : sum_sse(begin, n);
#else
    return sum_scalar(begin, n);
#endif
  });
  run.bytes = static_cast<double>(count * sizeof(float));
  return run;
}

MachineLimits measure_machine_limits() {
  MachineLimits limits;
  limits.isa = peak_kernel_isa();
  constexpr std::int64_t kIterations = 4'000'000;   // ~0.03 s per run at a few GHz
  constexpr std::size_t kBytes = std::size_t{512} << 20;  // far beyond any L3
  for (int threads = 1; threads <= 2; ++threads) {
    double best_fma = 0.0, best_sse = 0.0, best_read = 0.0;
    for (int repeat = 0; repeat < 5; ++repeat) {
      const KernelRun fma = run_fma_peak(threads, kIterations);
      const KernelRun sse = run_sse_peak(threads, kIterations);
      const KernelRun read = run_read_bandwidth(threads, kBytes);
      best_fma = std::max(best_fma, fma.flops / fma.seconds * 1e-9);
      best_sse = std::max(best_sse, sse.flops / sse.seconds * 1e-9);
      best_read = std::max(best_read, read.bytes / read.seconds * 1e-9);
    }
    limits.fma_gflops[threads] = best_fma;
    limits.sse_gflops[threads] = best_sse;
    limits.read_gbps[threads] = best_read;
  }
  bandwidth_buffer_slot().reset();
  return limits;
}

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(colon + 1);
        name.erase(0, name.find_first_not_of(" \t"));
        return name;
      }
    }
  }
  return "unknown";
}

namespace {
double clock_seconds(clockid_t clock) {
  timespec now{};
  clock_gettime(clock, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}
}  // namespace

double thread_cpu_seconds() { return clock_seconds(CLOCK_THREAD_CPUTIME_ID); }

double process_cpu_seconds() { return clock_seconds(CLOCK_PROCESS_CPUTIME_ID); }

double peak_resident_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

}  // namespace srformer::bench
