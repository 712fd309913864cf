// Results do not change between runs: the same input gives bit-identical logits,
// ids and beam scores twice in one process, in a second process (other heap
// addresses, ASLR), and with Eigen or the GEMM kernels using 1 or 2 threads.
// The Eigen check needs OpenMP (tests/CMakeLists.txt links it into this test when
// found, except under ThreadSanitizer, which cannot see inside the OpenMP runtime).
#include <gtest/gtest.h>
#include <unistd.h>

#include <Eigen/Core>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "reliability_support.hpp"
#include "srformer/kernels/attention.hpp"
#include "srformer/kernels/gemm.hpp"
#include "srformer/models/seq2seq_model.hpp"
#include "srformer/pipeline/summarizer.hpp"

namespace srformer::reliability {
namespace {

/// FNV-1a over everything a run produces.
class Fingerprint {
 public:
  void add(const void* data, std::size_t size) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < size; ++i) hash_ = (hash_ ^ bytes[i]) * 1099511628211ull;
    bytes_ += size;
  }
  template <class T>
  void add(const std::vector<T>& values) {
    add(values.data(), values.size() * sizeof(T));
  }
  std::string hex() const {
    char text[40];
    std::snprintf(text, sizeof text, "%016llx/%zu", static_cast<unsigned long long>(hash_), bytes_);
    return text;
  }

 private:
  std::uint64_t hash_ = 14695981039346656037ull;
  std::size_t bytes_ = 0;
};

/// The bundled demo model on the bundled sample: beam search as in the README,
/// greedy, and the teacher-forced logits of the greedy summary for every position.
std::string fingerprint_of_a_run() {
  const Summarizer summarizer(testing::models_dir() / "t5-demo");
  const std::string document = read_file(testing::models_dir() / ".." / "data" / "sample_dialogue.txt");
  Fingerprint print;
  GenerationOptions beam = summarizer.default_options();
  beam.num_beams = 4;
  beam.no_repeat_ngram_size = 3;
  const SummaryBatch beams = summarizer.summarize({document, "#Person1#: Hello.\n#Person2#: Hi, how are you?"}, beam);
  for (const Summary& s : beams.summaries) {
    print.add(s.ids);
    const float score = s.score.value_or(0.0f);
    print.add(&score, sizeof score);
  }
  const Summary greedy = summarizer.summarize(document);
  print.add(greedy.ids);

  const Seq2SeqModel& model = summarizer.model();
  const auto encoded = model.encode(TokenBatch::from_sequences({summarizer.input_ids(document, beam)}, 0));
  const RowMatrix logits = model.teacher_forced_logits(*encoded, greedy.ids, static_cast<Index>(greedy.ids.size()),
                                                       attention::QueryMode::Incremental);
  print.add(logits.data(), static_cast<std::size_t>(logits.size()) * sizeof(float));
  return print.hex();
}

// A child process started by RunToRun prints its fingerprint and exits here,
// before GoogleTest runs anything.
const bool child_mode = [] {
  if (const char* child = std::getenv("SRFORMER_DETERMINISM_CHILD"); child && *child == '1') {
    std::printf("fingerprint %s\n", fingerprint_of_a_run().c_str());
    std::fflush(stdout);
    std::_Exit(0);
  }
  return false;
}();

TEST(Determinism, SameProcessTwice) {
  const std::string first = fingerprint_of_a_run();
  EXPECT_EQ(fingerprint_of_a_run(), first);
}

TEST(Determinism, SecondProcessGivesTheSameBits) {
  char self[4096];
  const ssize_t length = ::readlink("/proc/self/exe", self, sizeof self - 1);
  ASSERT_GT(length, 0);
  self[length] = '\0';
  const std::string command = std::string("SRFORMER_DETERMINISM_CHILD=1 '") + self + "'";
  FILE* child = ::popen(command.c_str(), "r");
  ASSERT_NE(child, nullptr);
  std::string output;
  char buffer[256];
  while (std::fgets(buffer, sizeof buffer, child)) output += buffer;
  ASSERT_EQ(::pclose(child), 0) << output;
  EXPECT_EQ(output, "fingerprint " + fingerprint_of_a_run() + "\n");
}

TEST(Determinism, OneAndTwoEigenThreadsGiveTheSameBits) {
#ifndef _OPENMP
  GTEST_SKIP() << "built without OpenMP: Eigen::setNbThreads has no effect, so there is nothing to compare";
#else
  const int saved = Eigen::nbThreads();
  Eigen::setNbThreads(1);
  ASSERT_EQ(Eigen::nbThreads(), 1);
  const std::string one = fingerprint_of_a_run();
  Eigen::setNbThreads(2);
  ASSERT_EQ(Eigen::nbThreads(), 2);
  const std::string two = fingerprint_of_a_run();
  Eigen::setNbThreads(saved);
  EXPECT_EQ(one, two);
#endif
}

// The model's products (srformer/kernels/gemm.hpp) split over output blocks only, with a
// fixed depth blocking: 1 and 2 kernel threads must give the same bits.
TEST(Determinism, OneAndTwoKernelThreadsGiveTheSameBits) {
#ifndef _OPENMP
  GTEST_SKIP() << "built without OpenMP: kernels::set_num_threads has no effect, so there is nothing to compare";
#else
  const int saved = kernels::num_threads();
  kernels::set_num_threads(1);
  ASSERT_EQ(kernels::num_threads(), 1);
  const std::string one = fingerprint_of_a_run();
  kernels::set_num_threads(2);
  ASSERT_EQ(kernels::num_threads(), 2);
  const std::string two = fingerprint_of_a_run();
  kernels::set_num_threads(saved);
  EXPECT_EQ(one, two);
#endif
}

// kernels::attend splits the heads of a long attention over threads (a decoding step's
// full cross-attention): the same bits, outputs and probabilities, for 1 and 2 threads.
TEST(Determinism, AttentionSplitOverHeadsGivesTheSameBits) {
#ifndef _OPENMP
  GTEST_SKIP() << "built without OpenMP: kernels::set_num_threads has no effect, so there is nothing to compare";
#else
  const Index heads = 8, head_dim = 64, keys = 1003;
  const RowMatrix k = RowMatrix::Random(keys, heads * head_dim), v = RowMatrix::Random(keys, heads * head_dim);
  std::vector<float> bias(static_cast<std::size_t>(keys + 2), 0.0f);
  for (Index i = 0; i < keys; i += 7) bias[static_cast<std::size_t>(i)] = -1e9f;  // some masked keys
  kernels::AttendExtras extras;
  extras.key_bias = bias.data();
  extras.zero_keys = 2;
  const int saved = kernels::num_threads();
  for (const Index n : {1, 3}) {
    const RowMatrix q = RowMatrix::Random(n, heads * head_dim);
    RowMatrix out_one(n, heads * head_dim), out_two(n, heads * head_dim);
    std::vector<float> p_one(static_cast<std::size_t>(heads * n * (keys + 2)));
    std::vector<float> p_two(p_one.size());
    kernels::set_num_threads(1);
    kernels::attend(q, k, v, heads, head_dim, extras, out_one, p_one.data());
    kernels::set_num_threads(2);
    kernels::attend(q, k, v, heads, head_dim, extras, out_two, p_two.data());
    EXPECT_EQ(std::memcmp(out_one.data(), out_two.data(), sizeof(float) * static_cast<std::size_t>(out_one.size())), 0)
        << n << " queries";
    EXPECT_EQ(p_one, p_two) << n << " queries";
  }
  kernels::set_num_threads(saved);
#endif
}

}  // namespace
}  // namespace srformer::reliability
