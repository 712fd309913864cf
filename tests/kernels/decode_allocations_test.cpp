// No heap allocation in the decoding loop: once a request's memory, states and the
// per-thread scratch are warm, a decoding step of the full, segmented and SRformer
// cross-attention policies allocates nothing — on the AVX2 and on the portable path.
//
// This executable counts allocations itself: on glibc it replaces malloc & co. (which
// Eigen and the default operator new call) with counting forwarders to glibc's own
// allocator; elsewhere it counts in a replaced operator new. Under a sanitizer, which
// brings its own allocator, nothing is replaced and the counting tests are skipped.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "attention/attention_test_util.hpp"
#include "srformer/attention/full_cross_attention.hpp"
#include "srformer/attention/segmented_cross_attention.hpp"
#include "srformer/attention/srformer_cross_attention.hpp"
#include "srformer/kernels/dispatch.hpp"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || defined(SRFORMER_SANITIZE)
#define SRFORMER_COUNT_ALLOCATIONS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define SRFORMER_COUNT_ALLOCATIONS 0
#endif
#endif
#ifndef SRFORMER_COUNT_ALLOCATIONS
#define SRFORMER_COUNT_ALLOCATIONS 1
#endif

namespace {

std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};

// Unused under sanitizers, which own malloc and operator new.
[[maybe_unused]] inline void note_allocation() {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

#if SRFORMER_COUNT_ALLOCATIONS && defined(__GLIBC__)
#define SRFORMER_COUNT_IN_MALLOC 1
extern "C" {
void* __libc_malloc(std::size_t size);
void __libc_free(void* pointer);
void* __libc_calloc(std::size_t count, std::size_t size);
void* __libc_realloc(void* pointer, std::size_t size);
void* __libc_memalign(std::size_t alignment, std::size_t size);

void* malloc(std::size_t size) noexcept {
  note_allocation();
  return __libc_malloc(size);
}
void free(void* pointer) noexcept { __libc_free(pointer); }
void* calloc(std::size_t count, std::size_t size) noexcept {
  note_allocation();
  return __libc_calloc(count, size);
}
void* realloc(void* pointer, std::size_t size) noexcept {
  note_allocation();
  return __libc_realloc(pointer, size);
}
void* memalign(std::size_t alignment, std::size_t size) noexcept {
  note_allocation();
  return __libc_memalign(alignment, size);
}
void* aligned_alloc(std::size_t alignment, std::size_t size) noexcept {
  note_allocation();
  return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, std::size_t alignment, std::size_t size) noexcept {
  note_allocation();
  void* pointer = __libc_memalign(alignment, size);
  if (!pointer) return ENOMEM;
  *out = pointer;
  return 0;
}
}  // extern "C"
#else
#define SRFORMER_COUNT_IN_MALLOC 0
#endif

#if SRFORMER_COUNT_ALLOCATIONS
// Replaced operator new/delete: they reach the counting malloc on glibc and count here elsewhere.
namespace {
void* counted_new(std::size_t size) {
  if (!SRFORMER_COUNT_IN_MALLOC) note_allocation();
  void* pointer = std::malloc(size ? size : 1);
  if (!pointer) throw std::bad_alloc();
  return pointer;
}
void* counted_aligned_new(std::size_t size, std::align_val_t alignment) {
  if (!SRFORMER_COUNT_IN_MALLOC) note_allocation();
  const auto align = static_cast<std::size_t>(alignment);
  void* pointer = nullptr;
  if (posix_memalign(&pointer, align < sizeof(void*) ? sizeof(void*) : align, size ? size : 1) != 0)
    throw std::bad_alloc();
  return pointer;
}
}  // namespace
void* operator new(std::size_t size) { return counted_new(size); }
void* operator new[](std::size_t size) { return counted_new(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return counted_new(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept { return operator new(size, tag); }
void* operator new(std::size_t size, std::align_val_t alignment) { return counted_aligned_new(size, alignment); }
void* operator new[](std::size_t size, std::align_val_t alignment) { return counted_aligned_new(size, alignment); }
void operator delete(void* pointer) noexcept { std::free(pointer); }
void operator delete[](void* pointer) noexcept { std::free(pointer); }
void operator delete(void* pointer, std::size_t) noexcept { std::free(pointer); }
void operator delete[](void* pointer, std::size_t) noexcept { std::free(pointer); }
void operator delete(void* pointer, std::align_val_t) noexcept { std::free(pointer); }
void operator delete[](void* pointer, std::align_val_t) noexcept { std::free(pointer); }
void operator delete(void* pointer, std::size_t, std::align_val_t) noexcept { std::free(pointer); }
void operator delete[](void* pointer, std::size_t, std::align_val_t) noexcept { std::free(pointer); }
#endif

namespace srformer::attention {
namespace {

using kernels::Isa;
using testing::EncoderData;
using testing::random_matrix;
using testing::random_raf;

/// Counts the allocations made between start() and stop() (single-threaded use).
struct AllocationCounter {
  void start() {
    g_allocations.store(0);
    g_counting.store(true);
  }
  long stop() {
    g_counting.store(false);
    return g_allocations.load();
  }
};

class DecodeAllocations : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!SRFORMER_COUNT_ALLOCATIONS) GTEST_SKIP() << "allocation counting is off under sanitizers";
    if (!kernels::isa_supported(GetParam())) GTEST_SKIP() << "this CPU lacks " << kernels::to_string(GetParam());
    previous_ = kernels::active_isa();
    kernels::set_isa(GetParam());
  }
  void TearDown() override { kernels::set_isa(previous_); }

 private:
  Isa previous_ = Isa::Scalar;
};

TEST_P(DecodeAllocations, TheCounterSeesEigenVectorsAndNew) {
  AllocationCounter counter;
  counter.start();
  {
    std::vector<float> buffer(100);
    RowMatrix matrix(10, 10);
    auto* value = new int(3);
    delete value;
    (void)buffer;
    (void)matrix;
  }
  EXPECT_GE(counter.stop(), 3);
}

constexpr Index kHeads = 8, kHeadDim = 64, kLength = 300, kRows = 3, kPositions = 40;

/// Parameters of every policy for one layer, with random RAF weights for SRformer.
template <class Policy>
typename Policy::Parameters make_parameters(const CrossAttentionOptions& options, std::mt19937& rng) {
  if constexpr (std::is_same_v<Policy, FullCrossAttention>) {
    (void)options, (void)rng;
    return {};
  } else if constexpr (std::is_same_v<Policy, SegmentedCrossAttention>) {
    (void)rng;
    return {options};
  } else {
    typename Policy::Parameters params;
    params.options = options;
    params.raf = random_raf(kHeadDim, rng, 0.3f, options.flavor == ModelFlavor::T5 ? 0.1f : 0.5f, 0.1f);
    return params;
  }
}

/// Allocations of a second pass over kPositions decoding steps (kRows hypotheses, on
/// encoder rows 0, 1, 1; row 1 padded), after a first pass warmed everything up.
/// `block` queries per attend() call (1 = generation; more = teacher forcing).
template <class Policy>
long steady_state_allocations(ModelFlavor flavor, Semantics semantics, Index block) {
  std::mt19937 rng(21);
  EncoderData encoder(2, kLength, kHeads, kHeadDim, flavor, rng);
  encoder.pad_row(1, 230);
  CrossAttentionOptions options = defaults_for(flavor);
  options.semantics = semantics;
  options.gen_len = 24;  // segments change often, and later positions stay on the last one
  const typename Policy::Parameters params = make_parameters<Policy>(options, rng);
  const Policy policy;
  const auto memory = policy.prepare(params, encoder.side);
  std::vector<typename Policy::State> states(kRows, policy.initial_state(params, memory));
  const RowMatrix queries = random_matrix(kRows * block, kHeads * kHeadDim, rng, 0.3f);
  RowMatrix out(kRows * block, kHeads * kHeadDim);
  FlopCounter flops;
  const Index memory_row[kRows] = {0, 1, 1};
  auto pass = [&] {
    for (Index position = 0; position < kPositions; position += block)
      for (Index r = 0; r < kRows; ++r)
        policy.attend(params, memory, states[static_cast<std::size_t>(r)], memory_row[r],
                      queries.middleRows(r * block, block), position, QueryMode::Incremental,
                      out.middleRows(r * block, block), &flops);
  };
  pass();
  AllocationCounter counter;
  counter.start();
  pass();
  const long allocations = counter.stop();
  EXPECT_TRUE(out.allFinite());
  return allocations;
}

TEST_P(DecodeAllocations, FullAttentionStepAllocatesNothing) {
  for (ModelFlavor flavor : {ModelFlavor::T5, ModelFlavor::Bart})
    for (Index block : {1, 4})
      EXPECT_EQ((steady_state_allocations<FullCrossAttention>(flavor, Semantics::Paper, block)), 0)
          << flavor_name(flavor) << ", " << block << " queries per call";
}

TEST_P(DecodeAllocations, SegmentedStepAllocatesNothing) {
  for (ModelFlavor flavor : {ModelFlavor::T5, ModelFlavor::Bart})
    for (Semantics semantics : {Semantics::Causal, Semantics::Paper})
      for (Index block : {1, 4})
        EXPECT_EQ((steady_state_allocations<SegmentedCrossAttention>(flavor, semantics, block)), 0)
            << flavor_name(flavor) << ", " << to_string(semantics) << ", " << block << " queries per call";
}

TEST_P(DecodeAllocations, SrformerStepAllocatesNothing) {
  for (ModelFlavor flavor : {ModelFlavor::T5, ModelFlavor::Bart})
    for (Semantics semantics : {Semantics::Causal, Semantics::Paper})
      for (Index block : {1, 4})
        EXPECT_EQ((steady_state_allocations<SrformerCrossAttention>(flavor, semantics, block)), 0)
            << flavor_name(flavor) << ", " << to_string(semantics) << ", " << block << " queries per call";
}

INSTANTIATE_TEST_SUITE_P(Isas, DecodeAllocations, ::testing::Values(Isa::Scalar, Isa::Avx2),
                         [](const ::testing::TestParamInfo<Isa>& info) {
                           return std::string(info.param == Isa::Avx2 ? "Avx2" : "Scalar");
                         });

}  // namespace
}  // namespace srformer::attention
