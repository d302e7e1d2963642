// measure(), its statistics, sampling_thread and combined_meter, with meters whose readings are
// exactly known (tests/energy/fake_meters.hpp), so no assertion depends on timing.
//
// Covered: exact joules per run (counting meter: energy = constant x calls); stopping at
// min_windows when the CI target is met, at the budget when it is not, and at max_windows; the
// idle baseline reported beside the result and never subtracted; windows sized from the meter's
// refresh interval and lengthened when a window spans too few counter steps; the kind carried to
// the result (estimated stays estimated, a mixed total is estimated, each domain keeps its own);
// Student's t quantiles against tables, median/p95/CI of known samples; invalid options; a work
// function that throws; sampling_thread polling and rethrowing; measure() polling meters that
// need it; the overload that probes this machine.
#include <gtest/gtest.h>

#include <atomic>
#include <joule/energy/measure.hpp>
#include <stdexcept>

#include "fake_meters.hpp"

namespace {

using namespace joule::energy;
using joule_test::counting_meter;

measure_options quick() {
  measure_options o;
  o.warmup_runs = 2;
  o.min_window = seconds{0.001};
  o.min_windows = 5;
  o.budget = seconds{2.0};
  return o;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/** @brief Window energies alternate 1 J and 3 J whatever the runs: a CI that never tightens. */
class alternating_meter final : public meter {
 public:
  [[nodiscard]] std::string name() const override { return "alternating"; }
  [[nodiscard]] std::vector<domain_info> domains() const override { return {{"cpu", meter_kind::measured, true, ""}}; }
  energy_reading read() override {
    // measure() reads before and after each window: reads 1, 3, 5, ... end windows.
    if (reads_ % 4 == 1) total_ += 1;
    if (reads_ % 4 == 3) total_ += 3;
    ++reads_;
    return {{{"cpu", total_, meter_kind::measured, true}}, steady_clock::now()};
  }
  [[nodiscard]] meter_resolution resolution() const override { return {1e-9, seconds{0}}; }

 private:
  long reads_ = 0;
  double total_ = 0;
};

/** @brief A meter that counts its polls and asks for one every millisecond. */
class polled_meter final : public meter {
 public:
  [[nodiscard]] std::string name() const override { return "polled"; }
  [[nodiscard]] std::vector<domain_info> domains() const override { return {{"cpu", meter_kind::measured, true, ""}}; }
  energy_reading read() override {
    return {{{"cpu", static_cast<double>(++reads_), meter_kind::measured, true}}, steady_clock::now()};
  }
  [[nodiscard]] meter_resolution resolution() const override { return {1e-9, seconds{0}}; }
  [[nodiscard]] seconds poll_interval() const override { return seconds{0.001}; }
  void poll() override {
    if (throw_on_poll) throw joule::error("polled meter: sensor lost");
    ++polls;
  }
  std::atomic<int> polls{0};
  std::atomic<bool> throw_on_poll{false};

 private:
  std::atomic<long> reads_{0};
};

TEST(Measure, ExactEnergyPerRun) {
  counting_meter m(0.5);
  const measurement r = measure(
      m, [&] { m.count(); }, quick());
  EXPECT_EQ(r.meter_name, "counting");
  EXPECT_EQ(r.kind, meter_kind::measured);
  EXPECT_GE(r.windows, 5u);
  EXPECT_EQ(static_cast<long>(r.runs), m.calls() - 2) << "warm-ups are not counted";
  EXPECT_DOUBLE_EQ(r.joules_per_run.mean, 0.5);
  EXPECT_DOUBLE_EQ(r.joules_per_run.median, 0.5);
  EXPECT_DOUBLE_EQ(r.joules_per_run.p95, 0.5);
  EXPECT_NEAR(r.joules_per_run.ci95, 0.0, 1e-12);
  EXPECT_DOUBLE_EQ(r.measured_joules, 0.5 * static_cast<double>(r.runs));
  ASSERT_EQ(r.domains.size(), 1u);
  EXPECT_DOUBLE_EQ(r.domains[0].joules_per_run, 0.5);
  EXPECT_GT(r.seconds_per_run.mean, 0.0);
  EXPECT_LE(r.seconds_per_run.median, r.seconds_per_run.p95);
  EXPECT_GT(r.average_watts, 0.0);
  if (r.converged) {
    EXPECT_TRUE(contains(r.stop_reason, "95% CI within 5% for time and energy")) << r.stop_reason;
  }
}

TEST(Measure, StopsAtMinWindowsWhenTheTargetIsMet) {
  counting_meter m(0.5);
  measure_options o = quick();
  o.target_ci = 1e9;
  const measurement r = measure(
      m, [&] { m.count(); }, o);
  EXPECT_TRUE(r.converged);
  EXPECT_EQ(r.windows, 5u);
}

TEST(Measure, StopsAtTheBudget) {
  alternating_meter m;
  measure_options o = quick();
  o.target_ci = 1e-6;
  o.budget = seconds{0.03};
  const measurement r = measure(
      m, [] {}, o);
  EXPECT_FALSE(r.converged);
  EXPECT_GE(r.windows, 5u);
  EXPECT_TRUE(contains(r.stop_reason, "time budget of 0.03 s used")) << r.stop_reason;
  EXPECT_TRUE(contains(r.report(), "not converged")) << r.report();
}

TEST(Measure, StopsAtMaxWindows) {
  alternating_meter m;
  measure_options o = quick();
  o.target_ci = 1e-6;
  o.max_windows = 7;
  o.budget = seconds{60};
  const measurement r = measure(
      m, [] {}, o);
  EXPECT_FALSE(r.converged);
  EXPECT_EQ(r.windows, 7u);
  EXPECT_DOUBLE_EQ(r.measured_joules, 1 + 3 + 1 + 3 + 1 + 3 + 1);
  EXPECT_TRUE(contains(r.stop_reason, "max_windows (7) reached")) << r.stop_reason;
}

TEST(Measure, IdleBaselineIsReportedAndNeverSubtracted) {
  joule_test::constant_power_meter m(10.0);
  measure_options o = quick();
  o.idle_baseline = seconds{0.01};
  o.target_ci = 1e9;
  const measurement r = measure(
      m, [] {}, o);
  ASSERT_TRUE(r.idle_watts.has_value());
  EXPECT_NEAR(*r.idle_watts, 10.0, 1e-9);
  EXPECT_NEAR(r.average_watts, 10.0, 1e-9);
  EXPECT_DOUBLE_EQ(r.joules_per_run.mean, r.measured_joules / static_cast<double>(r.runs))
      << "not reduced by the baseline";
  EXPECT_DOUBLE_EQ(*r.joules_per_run_above_idle(), r.joules_per_run.mean - *r.idle_watts * r.seconds_per_run.mean);
  EXPECT_TRUE(contains(r.report(), "NOT subtracted")) << r.report();

  measure_options none = quick();
  none.target_ci = 1e9;
  const measurement plain = measure(
      m, [] {}, none);
  EXPECT_FALSE(plain.idle_watts.has_value());
  EXPECT_FALSE(plain.joules_per_run_above_idle().has_value());
}

TEST(Measure, WindowsFollowTheMetersRefreshInterval) {
  counting_meter m(1.0, meter_kind::measured, {1e-9, seconds{0.003}});
  measure_options o = quick();
  o.min_windows = 2;
  o.target_ci = 1e9;
  const measurement r = measure(
      m, [&] { m.count(); }, o);
  EXPECT_DOUBLE_EQ(r.window_seconds, 0.03) << "10 refresh intervals of 3 ms";
}

TEST(Measure, WindowsGrowWhenTheyHoldTooFewCounterSteps) {
  counting_meter m(1e-6, meter_kind::measured, {1.0, seconds{0}});  // 1 uJ a run, a 1 J counter step
  measure_options o = quick();
  o.budget = seconds{0.1};
  o.target_ci = 1e9;
  const measurement r = measure(
      m, [&] { m.count(); }, o);
  EXPECT_DOUBLE_EQ(r.window_seconds, 0.02) << "doubled from 1 ms each window, capped at budget / min_windows";
}

TEST(Measure, EstimatedStaysEstimated) {
  counting_meter m(0.5, meter_kind::estimated);
  measure_options o = quick();
  o.target_ci = 1e9;
  const measurement r = measure(
      m, [&] { m.count(); }, o);
  EXPECT_EQ(r.kind, meter_kind::estimated);
  EXPECT_TRUE(contains(r.report(), "energy per run: mean 500 mJ (estimated)")) << r.report();
  EXPECT_FALSE(contains(r.report(), "measured")) << r.report();
}

TEST(Measure, MixedDomainsMakeAnEstimatedTotal) {
  auto cpu = std::make_unique<counting_meter>(0.25, meter_kind::estimated);
  auto gpu = std::make_unique<counting_meter>(1.0, meter_kind::measured);
  counting_meter* cpu_ptr = cpu.get();
  counting_meter* gpu_ptr = gpu.get();
  std::vector<std::unique_ptr<meter>> parts;
  parts.push_back(std::move(cpu));
  parts.push_back(std::move(gpu));
  combined_meter both(std::move(parts));
  EXPECT_EQ(both.name(), "counting + counting");
  EXPECT_EQ(both.kind(), meter_kind::estimated);

  measure_options o = quick();
  o.target_ci = 1e9;
  const measurement r = measure(
      both,
      [&] {
        cpu_ptr->count();
        gpu_ptr->count();
      },
      o);
  EXPECT_EQ(r.kind, meter_kind::estimated);
  EXPECT_DOUBLE_EQ(r.joules_per_run.mean, 1.25);
  ASSERT_EQ(r.domains.size(), 2u);
  EXPECT_EQ(r.domains[0].kind, meter_kind::estimated);
  EXPECT_EQ(r.domains[1].kind, meter_kind::measured);
  EXPECT_DOUBLE_EQ(r.domains[1].joules_per_run, 1.0);
}

TEST(Measure, StudentT) {
  using detail::student_t_975;
  EXPECT_DOUBLE_EQ(student_t_975(1), 12.706);
  EXPECT_DOUBLE_EQ(student_t_975(4), 2.776);
  EXPECT_DOUBLE_EQ(student_t_975(30), 2.042);
  // Exact quantiles (R: qt(0.975, df)): 40 -> 2.021075, 60 -> 2.000298, 120 -> 1.979930, 1000 -> 1.962339.
  EXPECT_NEAR(student_t_975(40), 2.021075, 1e-3);
  EXPECT_NEAR(student_t_975(60), 2.000298, 1e-3);
  EXPECT_NEAR(student_t_975(120), 1.979930, 1e-3);
  EXPECT_NEAR(student_t_975(1000), 1.962339, 1e-4);
  EXPECT_TRUE(std::isinf(student_t_975(0)));
}

TEST(Measure, Summaries) {
  const statistic s = detail::summarize({5, 1, 4, 2, 3});
  EXPECT_DOUBLE_EQ(s.mean, 3.0);
  EXPECT_DOUBLE_EQ(s.median, 3.0);
  EXPECT_DOUBLE_EQ(s.p95, 4.8);
  EXPECT_NEAR(s.ci95, 2.776 * std::sqrt(2.5) / std::sqrt(5.0), 1e-12);
  EXPECT_NEAR(s.relative_ci(), s.ci95 / 3.0, 1e-15);
  EXPECT_TRUE(std::isinf(detail::summarize({7}).ci95));
  EXPECT_TRUE(std::isinf(statistic{}.relative_ci()));
}

TEST(Measure, InvalidOptions) {
  counting_meter m(1);
  const auto error_with = [&](measure_options o) -> std::string {
    try {
      measure(
          m, [] {}, o);
    } catch (const joule::error& e) {
      return e.what();
    }
    return "no error";
  };
  measure_options o = quick();
  o.min_windows = 1;
  EXPECT_TRUE(contains(error_with(o), "min_windows must be >= 2"));
  o = quick();
  o.max_windows = 3;
  EXPECT_TRUE(contains(error_with(o), "max_windows (3) is below min_windows (5)"));
  o = quick();
  o.target_ci = 0;
  EXPECT_TRUE(contains(error_with(o), "target_ci must be positive"));
  o = quick();
  o.warmup_runs = -1;
  EXPECT_TRUE(contains(error_with(o), "warmup_runs must be >= 0"));
}

TEST(Measure, WorkThatThrowsPropagates) {
  polled_meter m;  // polled: a sampling_thread is running and must be stopped on the way out
  int calls = 0;
  EXPECT_THROW(measure(
                   m,
                   [&] {
                     if (++calls == 5) throw std::runtime_error("model failed");
                   },
                   quick()),
               std::runtime_error);
}

TEST(Measure, PollsMetersThatNeedIt) {
  polled_meter m;
  measure_options o = quick();
  o.min_window = seconds{0.02};
  o.target_ci = 1e9;
  measure(
      m, [] {}, o);
  EXPECT_GE(m.polls.load(), 1);
}

TEST(SamplingThread, PollsUntilStoppedAndRethrows) {
  polled_meter m;
  {
    sampling_thread t(m, m.poll_interval());
    EXPECT_TRUE(t.running());
    for (int i = 0; i < 2000 && m.polls.load() < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    t.stop();
  }
  EXPECT_GE(m.polls.load(), 3);

  m.throw_on_poll = true;
  sampling_thread failing(m, m.poll_interval());
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  try {
    failing.stop();
    // The thread may not have polled yet on a loaded machine; then there is nothing to rethrow.
  } catch (const joule::error& e) {
    EXPECT_TRUE(contains(e.what(), "sensor lost"));
  }

  sampling_thread idle(m, seconds{0});
  EXPECT_FALSE(idle.running());
}

TEST(Measure, ProbesThisMachine) {
  measure_options o = quick();
  o.budget = seconds{0.2};
  o.min_window = seconds{0.005};
  probe_options meters;
  meters.check.max_waits = 40;
  const measurement r = measure(
      [] {
        volatile int x = 0;
        for (int i = 0; i < 1000; ++i) x = x + i;
      },
      o, meters);
  EXPECT_TRUE(contains(r.probe_report, "energy meters tried")) << r.probe_report;
  EXPECT_GT(r.runs, 0u);
  std::cout << r.probe_report << r.report();
}

}  // namespace
