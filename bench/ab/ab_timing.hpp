#pragma once
/**
 * @file ab_timing.hpp
 * @brief The helpers bench/ab's timers share: a median of rounds, the mean milliseconds of a call
 * over a run of calls, and two calls timed in alternating rounds. (The Google Benchmark programs in
 * bench/ use bench_common.hpp.)
 */
#include <algorithm>
#include <chrono>
#include <vector>

namespace joule_ab {

/** @brief The median of @p v (the upper one of an even count). */
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

/** @brief Mean milliseconds of one call of @p f over @p reps calls in a row. */
template <class F>
double time_ms(F&& f, int reps) {
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / reps;
}

/** @brief What alternate() measured: each side's median milliseconds a call, and the median of the
 * per-round ratios second / first. */
struct alternation {
  double first_ms = 0, second_ms = 0, ratio = 0;
};

/**
 * @brief @p rounds rounds of @p reps calls of @p first, then @p reps of @p second: both sides see
 * the same moments of a noisy host, and the per-round ratio is what to quote.
 */
template <class F, class G>
alternation alternate(F&& first, G&& second, int rounds, int reps) {
  std::vector<double> a, b, ratio;
  for (int r = 0; r < rounds; ++r) {
    const double ta = time_ms(first, reps), tb = time_ms(second, reps);
    a.push_back(ta);
    b.push_back(tb);
    ratio.push_back(tb / ta);
  }
  return {median(a), median(b), median(ratio)};
}

}  // namespace joule_ab
