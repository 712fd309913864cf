// The paper's comparison: cross-attention multiply-adds of full attention and of
// SRformer (the authors' semantics and our causal variant), from the analytic
// counts of attention/flops.hpp, with the measured time ratio beside each
// analytic ratio. Setting of the paper's T5-small / CNN-DM runs: N = 1024 encoder
// tokens, L = 128 decoded tokens, s = 64, G = 128, d_h = 64, 8 heads, 6 layers;
// then s and N swept around it.
//
// Measured time of a variant = prepare() of every layer + L decoding steps (one
// query each, every layer), for one input, best of --repetitions runs, in thread
// CPU time (one thread; time-slicing with other processes is not counted).
//
//   flops [--repetitions R]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "attention_fixture.hpp"
#include "machine_limits.hpp"

namespace srformer::bench {
namespace {

constexpr Index kDecodeLength = 128;  // L
constexpr Index kGenLength = 128;     // G

struct Measured {
  double seconds = 0.0;
  FlopCounter counted;  // what the policy counted during one run
};

template <class Policy>
Measured measure(const AttentionShape& shape, const Variant& variant, const EncoderSides& encoder, Index segment,
                 int repetitions) {
  const CrossAttentionOptions options = variant_options(shape, variant, segment);
  PolicyDriver<Policy> driver(shape, options, encoder, 1, 3);
  Measured result;
  result.seconds = 1e300;
  for (int r = 0; r < repetitions; ++r) {
    FlopCounter counted;
    const double start = thread_cpu_seconds();
    driver.prepare(&counted);
    for (Index t = 0; t < kDecodeLength; ++t) driver.step(t, &counted);
    result.seconds = std::min(result.seconds, thread_cpu_seconds() - start);
    result.counted = counted;
  }
  return result;
}

Measured measure_variant(const AttentionShape& shape, const Variant& variant, const EncoderSides& encoder,
                         Index segment, int repetitions) {
  switch (variant.kind) {
    case AttentionKind::Full:
      return measure<attention::FullCrossAttention>(shape, variant, encoder, segment, repetitions);
    case AttentionKind::Segmented:
      return measure<attention::SegmentedCrossAttention>(shape, variant, encoder, segment, repetitions);
    case AttentionKind::Srformer:
      return measure<attention::SrformerCrossAttention>(shape, variant, encoder, segment, repetitions);
  }
  return {};
}

FlopCounter analytic(const AttentionShape& shape, const Variant& variant, Index length, Index segment) {
  return attention::analytic_cross_attention_flops(variant.kind, variant.semantics, shape.flavor, length,
                                                   kDecodeLength, segment, shape.head_dim, shape.heads,
                                                   shape.layers, kGenLength);
}

bool same(const FlopCounter& a, const FlopCounter& b) {
  return a.scores == b.scores && a.weighted_sum == b.weighted_sum && a.kv_products == b.kv_products &&
         a.raf_linear == b.raf_linear && a.recurrent == b.recurrent && a.normalisation == b.normalisation;
}

double mega(std::uint64_t v) { return static_cast<double>(v) * 1e-6; }

void print_breakdown(const char* what, const FlopCounter& f) {
  std::printf("  %-16s %10.2f %10.2f %10.2f %10.2f %10.2f %10.2f %11.2f\n", what, mega(f.scores),
              mega(f.weighted_sum), mega(f.kv_products), mega(f.raf_linear), mega(f.recurrent),
              mega(f.normalisation), mega(f.total()));
}

int run(int repetitions) {
  const AttentionShape shape = t5_small_shape();
  const Variant full{AttentionKind::Full, Semantics::Paper};
  const Variant paper{AttentionKind::Srformer, Semantics::Paper};
  const Variant causal{AttentionKind::Srformer, Semantics::Causal};

  std::printf("Cross-attention multiply-adds (MACs), %s shape: %lld layers x %lld heads, d_h = %lld; "
              "L = %lld decoded tokens, G = %lld.\n",
              shape.name.c_str(), static_cast<long long>(shape.layers), static_cast<long long>(shape.heads),
              static_cast<long long>(shape.head_dim), static_cast<long long>(kDecodeLength),
              static_cast<long long>(kGenLength));
  std::printf("Analytic counts from attention/flops.hpp; 'time' = prepare + %lld decoding steps of one input "
              "(1 thread, CPU time, best of %d).\n\n",
              static_cast<long long>(kDecodeLength), repetitions);

  std::printf("Headline setting (paper, T5-small on CNN-DM): N = 1024, s = 64. MACs by term (millions):\n");
  std::printf("  %-16s %10s %10s %10s %10s %10s %10s %11s\n", "", "scores", "w.sum", "KtV", "RAF PW^T", "q.R",
              "norms", "total");
  print_breakdown("full", analytic(shape, full, 1024, 64));
  print_breakdown("srformer-paper", analytic(shape, paper, 1024, 64));
  print_breakdown("srformer-causal", analytic(shape, causal, 1024, 64));

  struct Setting {
    Index length, segment;
  };
  std::vector<Setting> settings;
  for (Index s : {8, 16, 32, 64, 128}) settings.push_back({1024, s});
  for (Index n : {512, 2048, 4096, 8192}) settings.push_back({n, 64});

  std::printf("\n%6s %4s | %9s | %9s %8s %7s %7s | %9s %8s %7s %7s | %s\n", "N", "s", "full M", "paper M",
              "reduct.", "MAC x", "time x", "causal M", "reduct.", "MAC x", "time x", "counted = analytic");
  std::map<Index, Measured> full_times;  // full attention does not depend on s
  bool all_match = true;
  std::unique_ptr<EncoderSides> encoder;
  Index encoder_length = -1;
  for (const Setting& setting : settings) {
    if (encoder_length != setting.length) {
      encoder.reset();
      encoder = std::make_unique<EncoderSides>(shape, 1, setting.length, 5);
      encoder_length = setting.length;
    }
    if (!full_times.count(setting.length))
      full_times[setting.length] = measure_variant(shape, full, *encoder, 64, repetitions);
    const Measured& full_time = full_times[setting.length];
    const Measured paper_time = measure_variant(shape, paper, *encoder, setting.segment, repetitions);
    const Measured causal_time = measure_variant(shape, causal, *encoder, setting.segment, repetitions);
    const FlopCounter full_macs = analytic(shape, full, setting.length, setting.segment);
    const FlopCounter paper_macs = analytic(shape, paper, setting.length, setting.segment);
    const FlopCounter causal_macs = analytic(shape, causal, setting.length, setting.segment);
    const bool match = same(full_time.counted, full_macs) && same(paper_time.counted, paper_macs) &&
                       same(causal_time.counted, causal_macs);
    all_match = all_match && match;
    const double f = static_cast<double>(full_macs.total());
    const double p = static_cast<double>(paper_macs.total());
    const double c = static_cast<double>(causal_macs.total());
    std::printf("%6lld %4lld | %9.1f | %9.1f %7.1f%% %6.2fx %6.2fx | %9.1f %7.1f%% %6.2fx %6.2fx | %s\n",
                static_cast<long long>(setting.length), static_cast<long long>(setting.segment), f * 1e-6, p * 1e-6,
                100.0 * (1.0 - p / f), f / p, full_time.seconds / paper_time.seconds, c * 1e-6,
                100.0 * (1.0 - c / f), f / c, full_time.seconds / causal_time.seconds, match ? "yes" : "NO");
    std::fflush(stdout);
  }
  std::printf("\nMAC x / time x = full / SRformer (analytic multiply-adds / measured time); above 1 means SRformer "
              "is cheaper.\n");
  std::printf("Measured times (ms, prepare + %lld steps): ", static_cast<long long>(kDecodeLength));
  for (const auto& entry : full_times)
    std::printf("full N=%lld %.2f; ", static_cast<long long>(entry.first), entry.second.seconds * 1e3);
  std::printf("\n");
  if (!all_match) {
    std::printf("ERROR: the policies counted different multiply-adds than attention/flops.hpp predicts\n");
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace srformer::bench

int main(int argc, char** argv) {
  int repetitions = 3;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--repetitions") == 0 && i + 1 < argc) {
      repetitions = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--repetitions R]   (unknown argument '%s')\n", argv[0], argv[i]);
      return 2;
    }
  }
  if (repetitions < 1) {
    std::fprintf(stderr, "--repetitions must be at least 1\n");
    return 2;
  }
  Eigen::setNbThreads(1);  // the times compare single-threaded work
  srformer::kernels::set_num_threads(1);
  try {
    return srformer::bench::run(repetitions);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "flops: %s\n", error.what());
    return 1;
  }
}
