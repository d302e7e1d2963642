#pragma once
/**
 * @file testing.hpp
 * @brief What every joule test shares: the per-run seed, random data, the policy type list for
 * typed tests, and the comparison against a double-precision reference with a stated error bound.
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <joule/core/tensor.hpp>
#include <joule/policy/policies.hpp>

namespace joule_test {

/** @brief The seed of this run: $JOULE_TEST_SEED if set, else drawn once and printed by main. */
std::uint64_t run_seed();

/** @brief A generator seeded from the run seed and the current test's name (stable per test). */
inline std::mt19937_64 rng_for_test() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "";
  return std::mt19937_64(run_seed() ^ std::hash<std::string>{}(name));
}

inline std::int64_t uniform_int(std::mt19937_64& rng, std::int64_t lo, std::int64_t hi) {
  return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
}

/** @brief A tensor of @p s filled with uniform values in [lo, hi). */
inline joule::tensor<float> random_tensor(std::mt19937_64& rng, joule::shape s, float lo = -1.f, float hi = 1.f) {
  joule::tensor<float> t(s);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (auto& x : t.span()) x = dist(rng);
  return t;
}

/** @brief Unit roundoff of float32 (2^-24). */
inline constexpr double kUnitRoundoff = 0x1p-24;

/**
 * @brief Higham's gamma_n = n u / (1 - n u): the worst-case relative error of any float32
 * summation order of n products, |fl(sum) - sum| <= gamma_n · sum |terms|. Blocked, vectorised
 * and FMA summations all satisfy it, so it is the bound every policy's dot products are held to.
 */
inline double gamma(std::int64_t n) {
  const double nu = static_cast<double>(n) * kUnitRoundoff;
  return nu / (1.0 - nu);
}

/**
 * @brief Expects |actual[i] - expected[i]| <= bound[i] for every element, where NaN is expected
 * exactly where the reference is NaN. Reports the first few failures with index and seed.
 */
inline void expect_within(std::span<const float> actual, std::span<const double> expected,
                          std::span<const double> bound, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  ASSERT_EQ(bound.size(), expected.size()) << what;
  int failures = 0;
  for (std::size_t i = 0; i < actual.size() && failures < 5; ++i) {
    const double got = actual[i], want = expected[i];
    bool ok;
    if (std::isnan(want))
      ok = std::isnan(got);
    else if (std::isinf(want))
      ok = got == want;
    else
      ok = std::abs(got - want) <= bound[i];
    if (!ok) {
      ++failures;
      ADD_FAILURE() << what << ": element " << i << " is " << got << ", reference " << want << ", error "
                    << std::abs(got - want) << " exceeds bound " << bound[i] << " (seed " << run_seed() << ")";
    }
  }
}

/** @brief expect_within with the bound rel · |expected| + abs for every element. */
inline void expect_close(std::span<const float> actual, std::span<const double> expected, double rel, double abs,
                         const std::string& what) {
  std::vector<double> bound(expected.size());
  for (std::size_t i = 0; i < bound.size(); ++i) bound[i] = rel * std::abs(expected[i]) + abs;
  expect_within(actual, expected, bound, what);
}

/**
 * @brief Normwise relative error max |got - want| / max |want| of @p count values: for checks of
 * one computation against another of the same float32 sums in another order (a layer's two
 * layouts, a block's thread splits), where an elementwise bound per output would be too tight.
 */
template <class T>
double normwise_error(const float* got, const T* want, std::int64_t count) {
  double diff = 0, scale = 0;
  for (std::int64_t i = 0; i < count; ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(got[i]) - static_cast<double>(want[i])));
    scale = std::max(scale, std::abs(static_cast<double>(want[i])));
  }
  return diff / std::max(scale, 1e-30);
}

/** @brief Expects @p f to throw joule::error whose message contains @p fragment. */
template <class F>
void expect_error(F&& f, const std::string& fragment) {
  try {
    f();
    ADD_FAILURE() << "expected joule::error containing \"" << fragment << "\"";
  } catch (const joule::error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

template <class List>
struct gtest_types;
template <class... Ps>
struct gtest_types<joule::typelist<Ps...>> {
  using type = ::testing::Types<Ps...>;
};

/** @brief Every CPU policy compiled into this build, as gtest typed-test parameters. */
using cpu_policy_types = gtest_types<joule::cpu_policies>::type;

/** @brief Names typed tests after the policy ("gemm/simd") instead of an index. */
struct policy_name {
  template <class P>
  static std::string GetName(int) {
    return P::name();
  }
};

/**
 * @brief On a context of several threads, makes thread turn % threads three times as fast as the
 * others (thread_pool::set_speed) and returns a note for a failure message; "" otherwise. The CPU
 * kernels share their work out by the threads' measured speeds (thread_pool::run_shares) and must
 * be right on any ranges: a stem's per-thread band was once sized for equal ones.
 */
template <class Context>
std::string set_uneven_speeds(Context& ctx, int turn) {
  if constexpr (requires { ctx.pool(); }) {
    const int threads = ctx.threads();
    if (threads < 2) return "";
    const int fast = turn % threads;
    for (int t = 0; t < threads; ++t) ctx.pool().set_speed(t, t == fast ? 3.0 : 1.0);
    return " (thread " + std::to_string(fast) + " 3x as fast)";
  }
  return "";
}

}  // namespace joule_test

/** @brief Skips the current test, with the reason, when policy P cannot run on this machine. */
#define JOULE_SKIP_IF_UNAVAILABLE(P)                                                                  \
  do {                                                                                                \
    if (!P::available()) GTEST_SKIP() << P::name() << " is unavailable: " << P::unavailable_reason(); \
  } while (0)
