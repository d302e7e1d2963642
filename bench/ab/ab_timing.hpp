#pragma once
/**
 * @file ab_timing.hpp
 * @brief The two helpers bench/ab's timers share: a median of rounds, and the mean milliseconds of
 * a call over a run of calls. (The Google Benchmark programs in bench/ use bench_common.hpp.)
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

}  // namespace joule_ab
