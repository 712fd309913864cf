// End to end: a t5-small-shaped model with random weights (bench/random_t5.hpp)
// encodes N = 1024 tokens and greedily decodes L = 128 tokens (argmax, EOS ignored,
// so exactly L steps run), with full, segmented and SRformer (causal semantics,
// fresh RAF parameters) cross-attention, on 1 and 2 threads.
//
// Every configuration runs in its own child process, so that its peak resident
// memory (getrusage ru_maxrss) is its own. Threads are set with
// kernels::set_num_threads (the model's products: srformer/kernels/gemm.hpp) and
// Eigen::setNbThreads (what still goes through Eigen); both parallelise only when
// compiled with OpenMP (the benchmark targets are, see bench/CMakeLists.txt).
//
//   end_to_end [--input N] [--output L] [--repetitions R]
//              [--attention full,segmented,srformer] [--threads 1,2]
#include <sys/wait.h>
#include <unistd.h>

#include <Eigen/Core>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "attention_fixture.hpp"
#include "machine_limits.hpp"
#include "random_t5.hpp"
#include "srformer/kernels/gemm.hpp"
#include "srformer/models/encoder_decoder.hpp"

namespace srformer::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Settings {
  Index input = 1024;
  Index output = 128;
  int repetitions = 2;
  std::vector<std::string> attention = {"full", "segmented", "srformer"};
  std::vector<int> threads = {1, 2};
};

/// What a child process sends back (plain data through a pipe).
struct Result {
  int ok = 0;
  int eigen_threads = 0;
  int kernel_threads = 0;
  double encode_seconds = 0, decode_seconds = 0;  // wall time of the best run (lowest total)
  double encode_cpu = 0, decode_cpu = 0;          // CPU time of all threads in that run
  double encode_macs = 0;        // encoder, cross K/V projections and the policy's prepare()
  double decode_bytes_per_step = 0;
  double cross_macs = 0;         // cross-attention MACs counted by the policy (prepare + steps)
  double peak_rss_mib = 0;
  double weights_rss_mib = 0;    // peak RSS right after the weights were built
  int finite = 0;
  char error[256] = {0};
};

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

template <class Policy>
std::vector<typename Policy::Parameters> cross_parameters(const ModelConfig& c, const CrossAttentionOptions& options) {
  std::vector<typename Policy::Parameters> params;
  for (Index l = 0; l < c.decoder_layers; ++l) params.push_back(policy_parameters<Policy>(options, c.head_dim, l));
  return params;
}

template <class Policy>
void run_model(const Settings& settings, const std::shared_ptr<const ModelWeights>& weights,
               const CrossAttentionOptions& options, Result& result) {
  const ModelConfig& c = weights->config;
  EncoderDecoder<Policy> model(weights, options, cross_parameters<Policy>(c, options));

  TokenBatch input;
  input.batch = 1;
  input.length = settings.input;
  input.ids.resize(static_cast<std::size_t>(settings.input));
  input.mask.assign(static_cast<std::size_t>(settings.input), 1);
  std::vector<float> noise(input.ids.size());
  fill_uniform(noise.data(), noise.size(), 1.0f, 99);
  for (std::size_t i = 0; i < noise.size(); ++i)  // ids in [2, vocab): no pad or EOS
    input.ids[i] = 2 + static_cast<TokenId>((noise[i] + 1.0f) * 0.5f * static_cast<float>(c.vocab_size - 3));

  double best_total = 1e300;
  for (int repetition = 0; repetition < settings.repetitions; ++repetition) {
    const double cpu_start = process_cpu_seconds();
    auto start = Clock::now();
    const auto encoded = model.encode(input);
    const double encode_seconds = seconds_since(start);
    const double encode_cpu = process_cpu_seconds() - cpu_start;

    start = Clock::now();
    auto state = model.start(*encoded, {0}, settings.output + 1);
    RowMatrix logits;
    ForwardScratch scratch;
    std::vector<TokenId> token{c.decoder_start_token_id};
    for (Index step = 0; step < settings.output; ++step) {
      model.decode(*encoded, state, token, 1, attention::QueryMode::Incremental, logits, false, scratch);
      Index best = 0;
      logits.row(0).maxCoeff(&best);
      token[0] = static_cast<TokenId>(best);
    }
    const double decode_seconds = seconds_since(start);
    const double decode_cpu = process_cpu_seconds() - cpu_start - encode_cpu;
    if (encode_seconds + decode_seconds < best_total) {
      best_total = encode_seconds + decode_seconds;
      result.encode_cpu = encode_cpu;
      result.decode_cpu = decode_cpu;
      result.encode_seconds = encode_seconds;
      result.decode_seconds = decode_seconds;
    }
    result.cross_macs = static_cast<double>(encoded->preparation_flops().total() + state.cross_attention_flops.total());
    result.finite = logits.allFinite() ? 1 : 0;
    // Work of the encoder: per layer q,k,v,o and the FFN, plus attention scores and weighted sums.
    const double S = static_cast<double>(settings.input), d = static_cast<double>(c.d_model);
    const double inner = static_cast<double>(c.encoder_heads * c.head_dim), ff = static_cast<double>(c.encoder_ffn_dim);
    const double per_layer = 4.0 * S * d * inner + 2.0 * S * d * ff + 2.0 * S * S * inner;
    result.encode_macs = static_cast<double>(c.encoder_layers) * per_layer +
                         static_cast<double>(c.decoder_layers) * 2.0 * S * d * inner +
                         static_cast<double>(encoded->preparation_flops().total());
  }
}

/// Bytes one decoding step reads (the model's decoder weights, the LM head, the
/// self-attention cache and the cross-attention operands), averaged over L steps.
double decode_bytes_per_step(const ModelConfig& c, const Settings& settings, const CrossAttentionOptions& options) {
  const double d = static_cast<double>(c.d_model), inner = static_cast<double>(c.decoder_heads * c.head_dim);
  const double ff = static_cast<double>(c.decoder_ffn_dim), layers = static_cast<double>(c.decoder_layers);
  const double weights = layers * (6.0 * d * inner + 2.0 * d * ff) + static_cast<double>(c.vocab_size) * d;
  const double mean_cache = (static_cast<double>(settings.output) + 1.0) / 2.0;  // positions, averaged
  const double cache = layers * 2.0 * mean_cache * inner;
  const Variant variant{options.kind, options.semantics};
  const ByteEstimate cross = estimate_bytes(variant, attention::ModelFlavor::T5, settings.input, settings.output,
                                            options.segment_size, c.head_dim, c.decoder_heads, options.gen_len);
  return (weights + cache) * sizeof(float) + layers * cross.steps / static_cast<double>(settings.output);
}

Result run_child(const Settings& settings, const std::string& kind, int threads) {
  Result result;
  try {
    Eigen::setNbThreads(threads);
    result.eigen_threads = Eigen::nbThreads();
    kernels::set_num_threads(threads);
    result.kernel_threads = kernels::num_threads();
    const auto weights = make_random_t5();
    result.weights_rss_mib = peak_resident_mib();
    CrossAttentionOptions options = attention::defaults_for(attention::ModelFlavor::T5);
    options.kind = attention::parse_attention_kind(kind);
    options.semantics = Semantics::Causal;
    options.allow_fresh_raf_parameters = true;
    switch (options.kind) {
      case AttentionKind::Full: run_model<attention::FullCrossAttention>(settings, weights, options, result); break;
      case AttentionKind::Segmented:
        run_model<attention::SegmentedCrossAttention>(settings, weights, options, result);
        break;
      case AttentionKind::Srformer:
        run_model<attention::SrformerCrossAttention>(settings, weights, options, result);
        break;
    }
    result.decode_bytes_per_step = decode_bytes_per_step(weights->config, settings, options);
    result.peak_rss_mib = peak_resident_mib();
    result.ok = 1;
  } catch (const std::exception& error) {
    std::snprintf(result.error, sizeof result.error, "%s", error.what());
  }
  return result;
}

/// Runs one configuration in a child process and returns what it measured.
Result run_isolated(const Settings& settings, const std::string& kind, int threads) {
  int channel[2];
  if (pipe(channel) != 0) throw std::runtime_error("pipe() failed");
  const pid_t child = fork();
  if (child < 0) throw std::runtime_error("fork() failed");
  if (child == 0) {
    close(channel[0]);
    const Result result = run_child(settings, kind, threads);
    const ssize_t written = write(channel[1], &result, sizeof result);
    close(channel[1]);
    _exit(written == static_cast<ssize_t>(sizeof result) ? 0 : 1);
  }
  close(channel[1]);
  Result result;
  std::size_t got = 0;
  while (got < sizeof result) {
    const ssize_t n = read(channel[0], reinterpret_cast<char*>(&result) + got, sizeof result - got);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  close(channel[0]);
  int status = 0;
  waitpid(child, &status, 0);
  if (got != sizeof result) {
    result = Result{};
    std::snprintf(result.error, sizeof result.error, "child process failed (status %d)", status);
  }
  return result;
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) parts.push_back(part);
  return parts;
}

int run(const Settings& settings) {
  // The models run first, each in a child forked from this still small process: a
  // child's ru_maxrss starts from its parent's high-water mark, which the machine
  // measurement (a 512 MiB buffer) would otherwise raise for all of them.
  struct Row {
    std::string kind;
    int threads;
    Result result;
  };
  std::vector<Row> rows;
  for (const std::string& kind : settings.attention)
    for (int threads : settings.threads) {
      std::fprintf(stderr, "running %s on %d thread(s)...\n", kind.c_str(), threads);
      rows.push_back({kind, threads, run_isolated(settings, kind, threads)});
    }
  std::fprintf(stderr, "measuring the machine's limits...\n");
  const MachineLimits limits = measure_machine_limits();

  std::printf("CPU: %s; compiled Eigen SIMD: %s\n", cpu_model_name().c_str(), Eigen::SimdInstructionSetsInUse());
  for (int t = 1; t <= 2; ++t)
    std::printf("measured limits, %d thread(s): %s peak %.1f GFLOP/s, SSE mul+add peak %.1f GFLOP/s, read %.1f GB/s\n",
                t, limits.isa.c_str(), limits.fma_gflops[t], limits.sse_gflops[t], limits.read_gbps[t]);
  std::printf("t5-small-shaped random model, greedy: %lld tokens in, %lld out (EOS ignored), batch 1, float32, "
              "best of %d; each row in a fresh process.\n\n",
              static_cast<long long>(settings.input), static_cast<long long>(settings.output), settings.repetitions);
  std::printf("%-10s %3s %4s %4s | %8s %8s %8s | %7s %7s | %7s %8s | %10s %6s | %8s %6s | %9s %8s %8s\n",
              "attention", "thr", "eig", "krn", "encode s", "decode s", "total s", "enc cpu", "dec cpu", "tok/s", "ms/token", "enc GFLOP/s", "%peak", "dec GB/s", "%bw",
              "cross GMAC", "peak MiB", "wts MiB");
  int failures = 0;
  for (const Row& row : rows) {
    const Result& r = row.result;
    if (!r.ok) {
      std::printf("%-10s %3d: FAILED: %s\n", row.kind.c_str(), row.threads, r.error);
      ++failures;
      continue;
    }
    const int limit_index = std::min(std::max(row.threads, 1), 2);
    const double total = r.encode_seconds + r.decode_seconds;
    const double output = static_cast<double>(settings.output);
    const double encode_gflops = 2.0 * r.encode_macs / r.encode_seconds * 1e-9;
    const double decode_gbps = r.decode_bytes_per_step * output / r.decode_seconds * 1e-9;
    std::printf("%-10s %3d %4d %4d | %8.3f %8.3f %8.3f | %7.3f %7.3f | %7.1f %8.2f | %10.1f %5.0f%% | %8.1f %5.0f%% | %9.3f %8.0f %8.0f%s\n",
                row.kind.c_str(), row.threads, r.eigen_threads, r.kernel_threads, r.encode_seconds, r.decode_seconds, total,
                r.encode_cpu, r.decode_cpu, output / total, r.decode_seconds / output * 1e3, encode_gflops,
                100.0 * encode_gflops / limits.fma_gflops[limit_index], decode_gbps,
                100.0 * decode_gbps / limits.read_gbps[limit_index], r.cross_macs * 1e-9, r.peak_rss_mib,
                r.weights_rss_mib, r.finite ? "" : "  (non-finite logits!)");
  }
  std::printf("\ntok/s = output tokens / (encode + decode). Times are wall-clock; enc/dec cpu = CPU time of all threads (on 1 thread, cpu well below wall means other processes held the core). eig = Eigen::nbThreads(), krn = kernels::num_threads() in the run. %%peak: of the "
              "measured %s peak at that thread count. %%bw: of the measured read bandwidth; decode bytes = decoder "
              "weights + LM head + caches + cross-attention operands per step. wts MiB = peak RSS once the random "
              "weights exist.\n",
              limits.isa.c_str());
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace srformer::bench

int main(int argc, char** argv) {
  using srformer::bench::Settings;
  Settings settings;
  const auto usage = [&](const char* problem) {
    std::fprintf(stderr,
                 "%s\nusage: %s [--input N] [--output L] [--repetitions R] [--attention full,segmented,srformer] "
                 "[--threads 1,2]\n",
                 problem, argv[0]);
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return usage(("missing value after " + flag).c_str());
    const std::string value = argv[++i];
    if (flag == "--input") {
      settings.input = std::atoll(value.c_str());
    } else if (flag == "--output") {
      settings.output = std::atoll(value.c_str());
    } else if (flag == "--repetitions") {
      settings.repetitions = std::atoi(value.c_str());
    } else if (flag == "--attention") {
      settings.attention = srformer::bench::split(value);
    } else if (flag == "--threads") {
      settings.threads.clear();
      for (const std::string& t : srformer::bench::split(value)) settings.threads.push_back(std::atoi(t.c_str()));
    } else {
      return usage(("unknown argument " + flag).c_str());
    }
  }
  if (settings.input < 1 || settings.output < 1 || settings.repetitions < 1)
    return usage("--input, --output and --repetitions must be at least 1");
  for (int t : settings.threads)
    if (t < 1) return usage("--threads must list positive numbers");
  for (const std::string& kind : settings.attention) {
    try {
      srformer::attention::parse_attention_kind(kind);
    } catch (const std::exception& error) {
      return usage(error.what());
    }
  }
  try {
    return srformer::bench::run(settings);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "end_to_end: %s\n", error.what());
    return 1;
  }
}
