// The chart's linear axis on values too close together for their magnitude: found by clang-tidy
// (clang-analyzer-security.FloatLoopCounter). The ticks were made by `t += step`; with 1e20 and the
// next double, the step (1000) is below half the spacing of doubles near 1e20 (16384), so t never
// advanced and make_axis never returned. Ticks now come from an integer counter.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include <joule/choose/chart.hpp>

namespace {

TEST(ChartAxis, ValuesCloserThanTheirPrecisionStillGiveAFiniteAxis) {
  const double lo = 1e20, hi = std::nextafter(1e20, 2e20);
  const auto axis = joule::tuning::make_axis({lo, hi});  // hung before the fix
  EXPECT_FALSE(axis.log);
  EXPECT_FALSE(axis.ticks.empty());
  EXPECT_LE(axis.ticks.size(), 17u);
  for (const double t : axis.ticks) {
    EXPECT_GE(t, axis.lo - 1e-12 * std::abs(axis.lo));
    EXPECT_LE(t, axis.hi + 1e-12 * std::abs(axis.hi));
  }
}

TEST(ChartAxis, OrdinaryRangesKeepTheirTicks) {
  const auto axis = joule::tuning::make_axis({1.0, 3.0});
  EXPECT_FALSE(axis.log);
  ASSERT_GE(axis.ticks.size(), 4u);
  EXPECT_LE(axis.ticks.size(), 9u);
  for (std::size_t i = 1; i < axis.ticks.size(); ++i) EXPECT_GT(axis.ticks[i], axis.ticks[i - 1]);
}

}  // namespace
