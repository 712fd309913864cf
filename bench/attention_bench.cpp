// Google Benchmark suite: the machine's limits, then cross-attention alone
// (full, segmented, SRformer paper/causal) at t5-small and bart-base shapes.
//
//   machine/...             fp32 multiply-add peak and read bandwidth, 1 and 2 threads
//   step/<shape>/<variant>/N:<N>/s:<s>
//                           one decoding step: one query per hypothesis row, kRows rows
//                           (row r bound to encoder row r), all decoder layers. The
//                           position cycles over 0..L−1, so segment changes and RAF steps
//                           are amortised as in a real L-token generation.
//   prepare/<shape>/<variant>/N:<N>/s:<s>
//                           the per-input work (prepare() of every layer), per input row.
//
// Counters (per step, or per input for prepare): multiply-adds (steps: the analytic
// count of attention/flops.hpp, which the policies' FlopCounter matches exactly, see
// `flops`; prepare: counted), GFLOP/s (2 per multiply-add), estimated bytes moved and
// GB/s (attention_fixture.hpp), fractions of the measured 1-thread FMA peak and read
// bandwidth. Everything runs on one thread and is timed in thread CPU time (the
// machine may be shared). A summary of times and speed-ups is printed at the end.
#include <benchmark/benchmark.h>

#include <Eigen/Core>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "attention_fixture.hpp"
#include "machine_limits.hpp"

namespace srformer::bench {
namespace {

constexpr Index kRows = 4;          // hypothesis rows per step (a batch of 4 inputs, greedy)
constexpr Index kDecodeLength = 128;  // L: the positions the step benchmarks cycle over
const std::vector<Index> kLengths = {512, 1024, 2048, 4096, 8192};
const std::vector<Index> kSegmentSweep = {8, 16, 32, 64, 128};
constexpr Index kSweepLength = 1024;  // N of the s sweep
constexpr Index kDefaultSegment = 64;   // s of the N sweep

MachineLimits g_limits;

// ---------------------------------------------------------------- machine limits

void machine_fma(benchmark::State& state, int threads, bool sse_only) {
  double flops = 0.0, seconds = 0.0;
  for (auto _ : state) {
    const KernelRun run = sse_only ? run_sse_peak(threads, 2'000'000) : run_fma_peak(threads, 2'000'000);
    state.SetIterationTime(run.seconds);
    flops += run.flops;
    seconds += run.seconds;
  }
  state.counters["GFLOP/s"] = flops / seconds * 1e-9;
  state.SetLabel(sse_only ? "sse mul+add" : peak_kernel_isa());
}

void machine_read(benchmark::State& state, int threads) {
  double bytes = 0.0, seconds = 0.0;
  for (auto _ : state) {
    const KernelRun run = run_read_bandwidth(threads, std::size_t{512} << 20);
    state.SetIterationTime(run.seconds);
    bytes += run.bytes;
    seconds += run.seconds;
  }
  state.counters["GB/s"] = bytes / seconds * 1e-9;
  state.SetLabel("512 MiB buffer sum");
}

// ---------------------------------------------------------------- cross-attention

struct Case {
  AttentionShape shape;
  Variant variant;
  Index length = 0;   // N
  Index segment = 0;  // s
  bool prepare = false;
  std::string name() const {
    return std::string(prepare ? "prepare/" : "step/") + shape.name + "/" + variant.name() +
           "/N:" + std::to_string(length) + "/s:" + std::to_string(segment);
  }
};

std::map<std::string, Case> g_cases;  // by benchmark name, for the summary

/// The encoder sides of the last (shape, N) asked for: the benchmarks are
/// registered grouped by N, so each set is generated once and memory stays bounded.
const EncoderSides& encoder_sides(const AttentionShape& shape, Index length) {
  static std::string key;
  static std::unique_ptr<EncoderSides> sides;
  const std::string wanted = shape.name + "/" + std::to_string(length);
  if (!sides || key != wanted) {
    sides.reset();
    sides = std::make_unique<EncoderSides>(shape, kRows, length, 7);
    key = wanted;
  }
  return *sides;
}

void set_throughput_counters(benchmark::State& state, double seconds, double units, double macs_per_unit,
                             double bytes_per_unit) {
  const double gflops = 2.0 * macs_per_unit * units / seconds * 1e-9;
  const double gbps = bytes_per_unit * units / seconds * 1e-9;
  state.counters["MACs"] = macs_per_unit;
  state.counters["GFLOP/s"] = gflops;
  state.counters["bytes"] = bytes_per_unit;
  state.counters["GB/s"] = gbps;
  state.counters["peak_frac"] = gflops / g_limits.fma_gflops[1];
  state.counters["bw_frac"] = gbps / g_limits.read_gbps[1];
}

/// Multiply-adds of the decoding steps alone (prepare's KᵀV products, RAF currents
/// P·Wᵀ and norms left out), over all L steps of one row, from attention/flops.hpp. The
/// `flops` program checks that the policies count exactly these.
double step_macs(const Case& c, Index gen_len) {
  FlopCounter f = attention::analytic_cross_attention_flops(c.variant.kind, c.variant.semantics, c.shape.flavor,
                                                            c.length, kDecodeLength, c.segment, c.shape.head_dim,
                                                            c.shape.heads, c.shape.layers, gen_len);
  f.kv_products = f.raf_linear = f.normalisation = 0;
  return static_cast<double>(f.total());
}

template <class Policy>
void step_benchmark(benchmark::State& state, const Case& c) {
  const EncoderSides& encoder = encoder_sides(c.shape, c.length);
  const CrossAttentionOptions options = variant_options(c.shape, c.variant, c.segment);
  PolicyDriver<Policy> driver(c.shape, options, encoder, kRows, 11);
  driver.prepare();
  const double macs_per_step = step_macs(c, options.gen_len) / static_cast<double>(kDecodeLength) *
                               static_cast<double>(kRows);
  const ByteEstimate bytes = estimate_bytes(c.variant, c.shape.flavor, c.length, kDecodeLength, c.segment,
                                            c.shape.head_dim, c.shape.heads, options.gen_len);
  const double bytes_per_step =
      bytes.steps / static_cast<double>(kDecodeLength) * static_cast<double>(kRows * c.shape.layers);

  Index position = 0;
  const double start = thread_cpu_seconds();
  for (auto _ : state) {
    driver.step(position);
    position = position + 1 == kDecodeLength ? 0 : position + 1;
  }
  const double seconds = thread_cpu_seconds() - start;
  benchmark::DoNotOptimize(driver.last_output().data());
  const auto steps = static_cast<double>(state.iterations());
  set_throughput_counters(state, seconds, steps, macs_per_step, bytes_per_step);
  state.counters["us_step"] = seconds / steps * 1e6;
}

template <class Policy>
void prepare_benchmark(benchmark::State& state, const Case& c) {
  const EncoderSides& encoder = encoder_sides(c.shape, c.length);
  const CrossAttentionOptions options = variant_options(c.shape, c.variant, c.segment);
  PolicyDriver<Policy> driver(c.shape, options, encoder, kRows, 11);
  FlopCounter counted;
  driver.prepare(&counted);
  const double macs_per_input = static_cast<double>(counted.total()) / static_cast<double>(kRows);
  const ByteEstimate bytes = estimate_bytes(c.variant, c.shape.flavor, c.length, kDecodeLength, c.segment,
                                            c.shape.head_dim, c.shape.heads, options.gen_len);
  const double bytes_per_input = bytes.prepare * static_cast<double>(c.shape.layers);

  const double start = thread_cpu_seconds();
  for (auto _ : state) driver.prepare();  // every encoder row of the batch, every layer
  const double seconds = thread_cpu_seconds() - start;
  const double inputs = static_cast<double>(state.iterations()) * static_cast<double>(kRows);
  set_throughput_counters(state, seconds, inputs, macs_per_input, bytes_per_input);
  state.counters["ms_input"] = seconds / inputs * 1e3;
}

template <class Policy>
void register_case(const Case& c) {
  const std::string name = c.name();
  g_cases[name] = c;
  benchmark::internal::Benchmark* b =
      c.prepare ? benchmark::RegisterBenchmark(name.c_str(), [c](benchmark::State& s) { prepare_benchmark<Policy>(s, c); })
                : benchmark::RegisterBenchmark(name.c_str(), [c](benchmark::State& s) { step_benchmark<Policy>(s, c); });
  b->Unit(c.prepare ? benchmark::kMillisecond : benchmark::kMicrosecond);
}

void register_variant(const Case& c) {
  switch (c.variant.kind) {
    case AttentionKind::Full: register_case<attention::FullCrossAttention>(c); break;
    case AttentionKind::Segmented: register_case<attention::SegmentedCrossAttention>(c); break;
    case AttentionKind::Srformer: register_case<attention::SrformerCrossAttention>(c); break;
  }
}

const Variant kFull{AttentionKind::Full, Semantics::Paper};
const Variant kSegmented{AttentionKind::Segmented, Semantics::Causal};
const Variant kSrformerPaper{AttentionKind::Srformer, Semantics::Paper};
const Variant kSrformerCausal{AttentionKind::Srformer, Semantics::Causal};

void register_all() {
  for (int threads = 1; threads <= 2; ++threads) {
    const std::string suffix = "/threads:" + std::to_string(threads);
    benchmark::RegisterBenchmark(("machine/fma_peak" + suffix).c_str(),
                                 [threads](benchmark::State& s) { machine_fma(s, threads, false); })
        ->UseManualTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("machine/sse_mul_add_peak" + suffix).c_str(),
                                 [threads](benchmark::State& s) { machine_fma(s, threads, true); })
        ->UseManualTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("machine/read_bandwidth" + suffix).c_str(),
                                 [threads](benchmark::State& s) { machine_read(s, threads); })
        ->UseManualTime()->Unit(benchmark::kMillisecond);
  }
  for (const AttentionShape& shape : {t5_small_shape(), bart_base_shape()}) {
    for (Index length : kLengths) {
      register_variant({shape, kFull, length, kDefaultSegment, false});
      const std::vector<Index> segments = length == kSweepLength ? kSegmentSweep : std::vector<Index>{kDefaultSegment};
      for (Index segment : segments) {
        for (const Variant& v : {kSegmented, kSrformerPaper, kSrformerCausal}) register_variant({shape, v, length, segment, false});
        for (const Variant& v : {kSrformerPaper, kSrformerCausal}) register_variant({shape, v, length, segment, true});
      }
    }
  }
}

// ---------------------------------------------------------------- summary

/// The usual console output, plus the best time of every benchmark for the summary tables.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  SummaryReporter() : ConsoleReporter(OO_Tabular) {}

  void ReportRuns(const std::vector<Run>& reports) override {
    ConsoleReporter::ReportRuns(reports);
    for (const Run& run : reports) {
      if (run.run_type != Run::RT_Iteration || run.error_occurred || run.iterations == 0) continue;
      // CPU time: the benchmarks are single-threaded, so this leaves out the time other
      // processes on a shared machine held the core.
      const double seconds = run.cpu_accumulated_time / static_cast<double>(run.iterations);
      const std::string& name = run.run_name.function_name;
      auto found = best_.find(name);
      if (found == best_.end() || seconds < found->second) best_[name] = seconds;
    }
  }

  void print_summary() const {
    for (const AttentionShape& shape : {t5_small_shape(), bart_base_shape()}) {
      if (!has_results(shape)) continue;
      std::printf("\n== %s cross-attention (%lld layers, %lld heads x %lld), %lld rows, L = %lld, CPU time ==\n",
                  shape.name.c_str(), static_cast<long long>(shape.layers), static_cast<long long>(shape.heads),
                  static_cast<long long>(shape.head_dim), static_cast<long long>(kRows),
                  static_cast<long long>(kDecodeLength));
      std::printf("decoding step, s = %lld (us per step; speed-up = full / variant)\n",
                  static_cast<long long>(kDefaultSegment));
      print_header("N");
      for (Index length : kLengths) print_step_row(shape, length, kDefaultSegment, std::to_string(length));
      std::printf("decoding step, N = %lld\n", static_cast<long long>(kSweepLength));
      print_header("s");
      for (Index segment : kSegmentSweep) print_step_row(shape, kSweepLength, segment, std::to_string(segment));
      std::printf("prepare (ms per input row, all layers)\n%8s %8s %14s %14s\n", "N", "s", "srformer-paper",
                  "srformer-causal");
      for (Index length : kLengths) {
        const std::vector<Index> segments = length == kSweepLength ? kSegmentSweep : std::vector<Index>{kDefaultSegment};
        for (Index segment : segments) {
          const Case paper{shape, kSrformerPaper, length, segment, true};
          const Case causal{shape, kSrformerCausal, length, segment, true};
          if (seconds(paper) < 0 && seconds(causal) < 0) continue;
          std::printf("%8lld %8lld %14s %14s\n", static_cast<long long>(length), static_cast<long long>(segment),
                      millis(paper, kRows).c_str(), millis(causal, kRows).c_str());
        }
      }
    }
  }

 private:
  bool has_results(const AttentionShape& shape) const {
    for (const auto& entry : best_) {
      const auto found = g_cases.find(entry.first);
      if (found != g_cases.end() && found->second.shape.name == shape.name) return true;
    }
    return false;
  }
  double seconds(const Case& c) const {
    const auto found = best_.find(c.name());
    return found == best_.end() ? -1.0 : found->second;
  }
  std::string micros(const Case& c) const {
    const double s = seconds(c);
    char text[32];
    std::snprintf(text, sizeof text, s < 0 ? "-" : "%.1f", s * 1e6);
    return text;
  }
  std::string millis(const Case& c, Index per) const {
    const double s = seconds(c);
    char text[32];
    std::snprintf(text, sizeof text, s < 0 ? "-" : "%.3f", s * 1e3 / static_cast<double>(per));
    return text;
  }
  static std::string ratio(double num, double den) {
    char text[32];
    std::snprintf(text, sizeof text, num < 0 || den <= 0 ? "-" : "%.2fx", num / den);
    return text;
  }
  static void print_header(const char* what) {
    std::printf("%8s %10s %10s %10s %10s %9s %9s %9s\n", what, "full", "segmented", "srf-paper", "srf-causal",
                "seg", "paper", "causal");
  }
  void print_step_row(const AttentionShape& shape, Index length, Index segment, const std::string& label) const {
    const double full = seconds({shape, kFull, length, kDefaultSegment, false});
    const Case seg{shape, kSegmented, length, segment, false};
    const Case paper{shape, kSrformerPaper, length, segment, false};
    const Case causal{shape, kSrformerCausal, length, segment, false};
    if (full < 0 && seconds(seg) < 0 && seconds(paper) < 0 && seconds(causal) < 0) return;
    std::printf("%8s %10s %10s %10s %10s %9s %9s %9s\n", label.c_str(),
                micros({shape, kFull, length, kDefaultSegment, false}).c_str(), micros(seg).c_str(),
                micros(paper).c_str(), micros(causal).c_str(), ratio(full, seconds(seg)).c_str(),
                ratio(full, seconds(paper)).c_str(), ratio(full, seconds(causal)).c_str());
  }

  std::map<std::string, double> best_;
};

}  // namespace
}  // namespace srformer::bench

int main(int argc, char** argv) {
  using namespace srformer::bench;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  // Cross-attention is measured on one thread (thread CPU time); without these, OpenMP
  // would split full attention's heads and prepare()'s products over both cores.
  Eigen::setNbThreads(1);
  srformer::kernels::set_num_threads(1);
  g_limits = measure_machine_limits();
  std::printf("CPU: %s; peak kernel: %s; Eigen SIMD: %s; Eigen threads: %d\n", cpu_model_name().c_str(),
              g_limits.isa.c_str(), Eigen::SimdInstructionSetsInUse(), Eigen::nbThreads());
  for (int t = 1; t <= 2; ++t)
    std::printf("measured limits, %d thread(s): FMA peak %.1f GFLOP/s, SSE mul+add peak %.1f GFLOP/s, "
                "read bandwidth %.1f GB/s\n",
                t, g_limits.fma_gflops[t], g_limits.sse_gflops[t], g_limits.read_gbps[t]);
  std::fflush(stdout);
  benchmark::AddCustomContext("cpu_model", cpu_model_name());
  benchmark::AddCustomContext("peak_kernel", g_limits.isa);
  benchmark::AddCustomContext("eigen_simd", Eigen::SimdInstructionSetsInUse());
  benchmark::AddCustomContext("fma_peak_gflops_1t", std::to_string(g_limits.fma_gflops[1]));
  benchmark::AddCustomContext("fma_peak_gflops_2t", std::to_string(g_limits.fma_gflops[2]));
  benchmark::AddCustomContext("read_gbps_1t", std::to_string(g_limits.read_gbps[1]));
  benchmark::AddCustomContext("read_gbps_2t", std::to_string(g_limits.read_gbps[2]));

  register_all();
  SummaryReporter reporter;  // tabular, no colour codes (the output is often saved to a file)
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_summary();
  benchmark::Shutdown();
  return 0;
}
