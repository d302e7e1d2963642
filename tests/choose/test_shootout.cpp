// The chooser's core with fake executors and fake figures: every objective picks what it should,
// a latency bound nobody meets chooses nothing and says why, the correctness gate rejects wrong,
// NaN and misshapen outputs, unavailable and failing candidates are listed with their reasons,
// and a candidate whose one run exceeds half the budget is measured once.
//
// Figures (seconds per run, joules per run; p95 = 1.1 x median):
//   scalar/1  1.000 s  10.00 J   (slow: one run is over half the 1 s budget)
//   simd/1    0.020 s   0.30 J
//   simd/2    0.012 s   0.36 J   least latency
//   blas/2    0.015 s   0.25 J   least energy
//   eigen/2   0.013 s   0.27 J   least energy-delay product (3.51e-3 J s, blas/2 has 3.75e-3)
//
// Gate tolerance: 1e-3 (the default). Wrong outputs are off by 1e-2 relative, right ones by 0 or
// 1e-5, so no tolerance question arises.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "fakes.hpp"

namespace {

using choose_test::fake_world;
using choose_test::row;
using joule::objective_spec;
using joule::tuning::row_status;
using joule::tuning::run_shootout;

fake_world standard_world() {
  fake_world w;
  w.add("scalar", 1, {1.0, 10.0});
  w.add("simd", 1, {0.020, 0.30});
  w.add("simd", 2, {0.012, 0.36});
  w.add("blas", 2, {0.015, 0.25});
  w.add("eigen", 2, {0.013, 0.27}, 1e-5f);
  return w;
}

joule::tuning::shootout_report shoot(fake_world& w, objective_spec objective) {
  choose_test::fake_meter meter;
  return run_shootout(choose_test::test_subject(), w.candidates(), meter, nullptr, w.options(objective),
                      choose_test::test_machine());
}

TEST(Shootout, LeastEnergyIsTheDefault) {
  auto w = standard_world();
  const auto report = shoot(w, {});
  ASSERT_TRUE(report.winner);
  EXPECT_EQ(report.chosen()->name(), "blas/2");
  EXPECT_NE(report.verdict.find("chosen: blas/2"), std::string::npos) << report.verdict;
  EXPECT_EQ(report.reference, "scalar/1");
  for (const auto& r : report.rows) EXPECT_EQ(r.status, row_status::measured) << r.name() << ": " << r.note;
}

TEST(Shootout, LeastLatency) {
  auto w = standard_world();
  EXPECT_EQ(shoot(w, joule::objective::least_latency{}).chosen()->name(), "simd/2");
}

TEST(Shootout, LeastEnergyDelayProduct) {
  auto w = standard_world();
  EXPECT_EQ(shoot(w, joule::objective::least_edp{}).chosen()->name(), "eigen/2");
}

TEST(Shootout, LeastEnergyUnderP95Bound) {
  auto w = standard_world();
  const auto report = shoot(w, joule::objective::least_energy{.p95_bound_ms = 15});
  ASSERT_TRUE(report.winner);
  EXPECT_EQ(report.chosen()->name(), "eigen/2");
  EXPECT_NE(row(report, "blas/2").bound_violation.find("p95 latency 16.5 ms exceeds the bound 15 ms"),
            std::string::npos)
      << row(report, "blas/2").bound_violation;
}

TEST(Shootout, LeastEnergyUnderMedianBound) {
  auto w = standard_world();
  EXPECT_EQ(shoot(w, joule::objective::least_energy{.median_bound_ms = 14}).chosen()->name(), "eigen/2");
  auto w2 = standard_world();
  EXPECT_EQ(shoot(w2, objective_spec::parse("energy@median<=12.5ms")).chosen()->name(), "simd/2");
}

TEST(Shootout, UnsatisfiableBoundChoosesNothingAndSaysWhy) {
  auto w = standard_world();
  const auto report = shoot(w, objective_spec::parse("energy@p95<=5ms"));
  EXPECT_FALSE(report.winner);
  EXPECT_EQ(report.chosen(), nullptr);
  EXPECT_NE(report.verdict.find("nothing chosen: no candidate meets p95 latency <= 5 ms"), std::string::npos)
      << report.verdict;
  EXPECT_NE(report.verdict.find("the fastest, simd/2, has p95 13.2 ms"), std::string::npos) << report.verdict;
  // Every candidate is still in the table with its figures.
  for (const auto& r : report.rows) EXPECT_TRUE(r.result) << r.name();
}

TEST(Shootout, ScoresArePerInference) {
  auto w = standard_world();
  choose_test::fake_meter meter;
  auto subject = choose_test::test_subject();
  subject.batch = 4;
  const auto report = run_shootout(subject, w.candidates(), meter, nullptr, w.options(), choose_test::test_machine());
  EXPECT_DOUBLE_EQ(row(report, "blas/2").score, 0.25 / 4);
}

TEST(Shootout, GateRejectsAWrongExecutorEvenIfItIsBest) {
  fake_world w;
  w.add("scalar", 1, {0.1, 1.0});
  w.add("simd", 1, {0.01, 0.1}, 1e-2f);  // least energy, but its output is 1% off
  w.add("blas", 1, {0.02, 0.2});
  const auto report = shoot(w, {});
  EXPECT_EQ(row(report, "simd/1").status, row_status::rejected);
  EXPECT_NE(row(report, "simd/1").note.find("rejected by the correctness gate: max error"), std::string::npos)
      << row(report, "simd/1").note;
  EXPECT_NE(row(report, "simd/1").note.find("against scalar/1"), std::string::npos);
  ASSERT_TRUE(report.winner);
  EXPECT_EQ(report.chosen()->name(), "blas/1");
  // A rejected candidate is not measured beyond its one gate run: scalar and blas only.
  EXPECT_EQ(w.full_measurements(), 2);
}

TEST(Shootout, GateRejectsNaNAndMisshapenOutputs) {
  fake_world w;
  w.add("scalar", 1, {0.1, 1.0});
  joule::tensor<float> with_nan(joule::shape{2, 3},
                                {1.f, -2.f, 3.f, 0.5f, std::numeric_limits<float>::quiet_NaN(), -1.f});
  w.add_custom("simd", 1, {0.01, 0.1}, std::move(with_nan));
  w.add_custom("eigen", 1, {0.01, 0.1}, joule::tensor<float>(joule::shape{3, 2}, {1.f, -2.f, 3.f, 0.5f, 4.f, -1.f}));
  const auto report = shoot(w, {});
  EXPECT_EQ(row(report, "simd/1").status, row_status::rejected);
  EXPECT_NE(row(report, "simd/1").note.find("element 4 is nan"), std::string::npos) << row(report, "simd/1").note;
  EXPECT_EQ(row(report, "eigen/1").status, row_status::rejected);
  EXPECT_NE(row(report, "eigen/1").note.find("output shape [3, 2] differs"), std::string::npos)
      << row(report, "eigen/1").note;
  EXPECT_EQ(report.chosen()->name(), "scalar/1");
}

TEST(Shootout, ReferenceIsScalarWhereverItIsListed) {
  fake_world w;
  w.add("simd", 1, {0.01, 0.1}, 1e-2f);
  w.add("scalar", 1, {0.1, 1.0});
  const auto report = shoot(w, {});
  EXPECT_EQ(report.reference, "scalar/1");
  EXPECT_EQ(row(report, "simd/1").status, row_status::rejected);
  EXPECT_EQ(report.rows[0].name(), "simd/1");  // the table keeps the caller's order
  EXPECT_EQ(w.builds("scalar/1"), 1);
}

TEST(Shootout, ReferenceFallsBackWhenScalarFails) {
  fake_world w;
  w.add_throwing("scalar", 1, "scalar: out of patience");
  w.add("simd", 1, {0.01, 0.1});
  w.add("blas", 1, {0.02, 0.05}, 1e-5f);
  const auto report = shoot(w, {});
  EXPECT_EQ(row(report, "scalar/1").status, row_status::failed);
  EXPECT_EQ(row(report, "scalar/1").note, "scalar: out of patience");
  EXPECT_EQ(report.reference, "simd/1");
  EXPECT_EQ(report.chosen()->name(), "blas/1");
  bool noted = false;
  for (const auto& n : report.notes) noted |= n.find("the reference scalar/1 failed") != std::string::npos;
  EXPECT_TRUE(noted);
}

TEST(Shootout, UnavailablePoliciesAreListedWithTheirReason) {
  auto w = standard_world();
  w.add_unavailable("cuda", "joule was built without the CUDA toolkit (JOULE_WITH_CUDA)");
  const auto report = shoot(w, {});
  const auto& cuda = row(report, "cuda/1");
  EXPECT_EQ(cuda.status, row_status::unavailable);
  EXPECT_EQ(cuda.note, "joule was built without the CUDA toolkit (JOULE_WITH_CUDA)");
  EXPECT_FALSE(cuda.result);
  EXPECT_EQ(report.chosen()->name(), "blas/2");
}

TEST(Shootout, OneRunOverHalfTheBudgetIsMeasuredOnce) {
  auto w = standard_world();
  const auto report = shoot(w, {});
  const auto& scalar = row(report, "scalar/1");
  ASSERT_TRUE(scalar.result);
  EXPECT_EQ(scalar.result->runs, 1);
  EXPECT_NE(scalar.result->stop_reason.find("measured once"), std::string::npos) << scalar.result->stop_reason;
  EXPECT_EQ(w.full_measurements(), 4);  // every candidate but scalar
}

TEST(Shootout, ProgressReportsEveryCandidate) {
  auto w = standard_world();
  auto options = w.options();
  std::vector<joule::tuning::progress_event> events;
  options.on_progress = [&](const joule::tuning::progress_event& e) { events.push_back(e); };
  choose_test::fake_meter meter;
  run_shootout(choose_test::test_subject(), w.candidates(), meter, nullptr, options, choose_test::test_machine());
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().index, 5u);
  EXPECT_EQ(events.back().total, 5u);
  EXPECT_EQ(events.back().eta_s, 0.0);
  bool saw_measuring = false;
  for (const auto& e : events) saw_measuring |= e.what.starts_with("measuring");
  EXPECT_TRUE(saw_measuring);
}

// The real energy::measure with a fake meter and executors that sleep: orders of magnitude apart,
// so the choice is certain even on a loaded machine.
TEST(Shootout, RealMeasureWithSleepingExecutors) {
  auto sleeper = [](double ms) {
    joule::tuning::candidate c;
    c.threads = 1;
    c.build = [ms] {
      auto out = std::make_shared<joule::tensor<float>>(joule::tensor<float>(joule::shape{1}, {1.f}));
      return joule::tuning::make_instance(
          [ms] { std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int>(ms * 1000))); },
          [out] { return out->cview(); });
    };
    return c;
  };
  std::vector<joule::tuning::candidate> candidates{sleeper(20), sleeper(1)};
  candidates[0].policy = "scalar";
  candidates[1].policy = "simd";
  choose_test::fake_meter meter;
  joule::tuning::shootout_options options;
  options.objective = joule::objective::least_latency{};
  options.budget_s = 0.3;
  const auto report =
      run_shootout(choose_test::test_subject(), candidates, meter, nullptr, options, choose_test::test_machine());
  ASSERT_TRUE(report.winner) << report.verdict;
  EXPECT_EQ(report.chosen()->name(), "simd/1");
  const auto& simd = row(report, "simd/1");
  EXPECT_GT(simd.result->runs, 5);
  EXPECT_GE(simd.result->median_s, 1e-3);
  EXPECT_EQ(simd.result->meter, "fake");
  EXPECT_LT(report.seconds, 3.0);
}

}  // namespace
