#pragma once
// How many threads srformer's kernels use, and the one loop that spreads work over them.
//
// Threads come from OpenMP, and only when the including code is compiled with it
// (-fopenmp): the library adds no dependency, and without OpenMP everything runs on the
// calling thread. Work is only ever split over independent OUTPUTS (blocks of a
// product, heads of an attention), never over a sum, so results are bit-identical for
// every thread count. Calls made inside an OpenMP parallel region run serially.
#include <algorithm>
#include <atomic>
#include <string>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "srformer/core/error.hpp"
#include "srformer/core/tensor.hpp"

namespace srformer::kernels {
namespace detail {

inline std::atomic<int>& threads_storage() {
  static std::atomic<int> threads{[] {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
  }()};
  return threads;
}

inline int num_threads_setting() { return threads_storage().load(std::memory_order_relaxed); }

/// Below this many multiply-adds a product runs on one thread: starting the team costs
/// more than it saves (a 512×512 matrix–vector product is ~2.6e5).
constexpr double kParallelWork = 1 << 17;

/// Runs body(i) for i in [0, count): over num_threads() OpenMP threads when `work`
/// (multiply-adds or comparable) pays for a team, else in order on this thread. For
/// loops whose iterations are independent (they write disjoint outputs), so the result
/// does not depend on the thread count.
template <class Body>
void parallel_for(Index count, double work, const Body& body) {
#ifdef _OPENMP
  const int threads = num_threads_setting();
  if (threads > 1 && count > 1 && work >= kParallelWork && !omp_in_parallel()) {
    const int team = static_cast<int>(std::min<Index>(threads, count));
#pragma omp parallel for num_threads(team) schedule(static)
    for (Index i = 0; i < count; ++i) body(i);
    return;
  }
#else
  (void)work;
#endif
  for (Index i = 0; i < count; ++i) body(i);
}

}  // namespace detail

/// Threads the kernels may use (>= 1). Takes effect only in code compiled with OpenMP.
inline void set_num_threads(int threads) {
  if (threads < 1) throw OptionError("kernels::set_num_threads: need at least 1 thread, got " + std::to_string(threads));
  detail::threads_storage().store(threads, std::memory_order_relaxed);
}

/// Threads the kernels use: set_num_threads()'s value (default omp_get_max_threads());
/// always 1 without OpenMP.
inline int num_threads() {
#ifdef _OPENMP
  return detail::threads_storage().load(std::memory_order_relaxed);
#else
  return 1;
#endif
}

}  // namespace srformer::kernels
