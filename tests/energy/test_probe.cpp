// probe(): which meters are tried, in which order, the reason kept for each failure, and how an
// estimated CPU beside a measured GPU is labelled.
//
// Covered: nothing available (RAPL, perf and NVML fail, the estimate is chosen, the report names
// every reason and says figures are estimated); RAPL available (chosen, measured, perf not tried);
// unreadable energy_uj (falls back, reason kept); estimated CPU + measured GPU (total estimated,
// the GPU domain measured); RAPL + NVML (measured); meters disabled by options; and this machine's
// own probe, whose report is printed.
#include <gtest/gtest.h>

#include <iostream>
#include <joule/energy/probe.hpp>

#include "fake_nvml.hpp"
#include "fake_sysfs.hpp"

namespace {

using namespace joule::energy;
using joule_test::fake_nvml;
using joule_test::temp_dir;

/** @brief Options pointing every meter at @p dir, where nothing exists yet. */
probe_options nothing_in(const temp_dir& dir) {
  probe_options o;
  o.rapl.root = dir / "powercap";
  o.perf_power.root = dir / "power";
  o.nvml.library = (dir / "libnvidia-ml.so.1").string();
  o.estimate.use_environment = false;
  o.check.max_waits = 2;
  o.check.wait = [] {};
  return o;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(Probe, NoSensorFallsBackToTheEstimateWithEveryReason) {
  temp_dir dir;
  const probe_result p = probe(nothing_in(dir));
  ASSERT_NE(p.chosen, nullptr);
  EXPECT_EQ(p.chosen->name(), "estimate");
  EXPECT_EQ(p.kind(), meter_kind::estimated);
  ASSERT_EQ(p.attempts.size(), 4u);
  EXPECT_EQ(p.attempts[0].meter, "rapl");
  EXPECT_FALSE(p.attempts[0].ok);
  EXPECT_TRUE(contains(p.attempts[0].reason, "no powercap tree"));
  EXPECT_EQ(p.attempts[1].meter, "perf-power");
  EXPECT_TRUE(contains(p.attempts[1].reason, "no power PMU"));
  EXPECT_EQ(p.attempts[2].meter, "estimate");
  EXPECT_TRUE(p.attempts[2].ok);
  EXPECT_EQ(p.attempts[3].meter, "nvml");
  EXPECT_EQ(p.attempts[3].role, "gpu");
  EXPECT_TRUE(contains(p.attempts[3].reason, "cannot load"));

  const std::string report = p.report();
  for (const auto& a : p.attempts) {
    if (!a.ok) {
      EXPECT_TRUE(contains(report, a.reason)) << report;
    }
  }
  EXPECT_TRUE(contains(report, "figures are ESTIMATED, not measured")) << report;
  EXPECT_TRUE(contains(report, "cpu (estimated)")) << report;
}

TEST(Probe, RaplIsChosenWhenItWorks) {
  temp_dir dir;
  probe_options o = nothing_in(dir);
  joule_test::add_rapl_zone(o.rapl.root / "intel-rapl:0", "package-0", 1000);
  o.check.wait = [&, v = std::uint64_t{1000}]() mutable {
    joule_test::set_energy(o.rapl.root / "intel-rapl:0", v += 100);
  };
  const probe_result p = probe(o);
  EXPECT_EQ(p.chosen->name(), "rapl");
  EXPECT_EQ(p.kind(), meter_kind::measured);
  ASSERT_EQ(p.attempts.size(), 2u) << "perf and the estimate are not needed";
  EXPECT_TRUE(p.attempts[0].ok);
  EXPECT_EQ(p.attempts[1].meter, "nvml");
  EXPECT_TRUE(contains(p.report(), "figures are measured (package-0)")) << p.report();
}

TEST(Probe, UnreadableRaplFallsBackAndKeepsTheReason) {
  temp_dir dir;
  probe_options o = nothing_in(dir);
  joule_test::add_rapl_zone(o.rapl.root / "intel-rapl:0", "package-0", 1000);
  o.rapl.reader = joule_test::failing_reader({{o.rapl.root / "intel-rapl:0" / "energy_uj", EACCES}});
  const probe_result p = probe(o);
  EXPECT_EQ(p.chosen->name(), "estimate");
  EXPECT_TRUE(contains(p.attempts[0].reason, "readable only by root")) << p.attempts[0].reason;
  EXPECT_TRUE(contains(p.report(), "readable only by root"));
}

TEST(Probe, EstimatedCpuBesideMeasuredGpu) {
  temp_dir dir;
  fake_nvml fake(fake_nvml::supported, 1);
  probe_options o = nothing_in(dir);
  o.nvml.library = fake_nvml::path();
  o.check.wait = [&, mj = 0ull]() mutable { fake.set_energy_mj(0, mj += 10); };
  const probe_result p = probe(o);
  EXPECT_EQ(p.chosen->name(), "estimate + nvml");
  EXPECT_EQ(p.kind(), meter_kind::estimated) << "an estimated part makes the total estimated";
  const auto d = p.chosen->domains();
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].name, "cpu");
  EXPECT_EQ(d[0].kind, meter_kind::estimated);
  EXPECT_EQ(d[1].name, "gpu:0");
  EXPECT_EQ(d[1].kind, meter_kind::measured);

  fake.set_energy_mj(0, 5000);
  const energy_reading r = p.chosen->read();
  EXPECT_EQ(r.kind(), meter_kind::estimated);
  EXPECT_EQ(r.find("gpu:0")->kind, meter_kind::measured);
  EXPECT_TRUE(contains(p.report(), "the total is ESTIMATED: cpu estimated, gpu:0 measured")) << p.report();
}

TEST(Probe, RaplAndNvmlAreBothMeasured) {
  temp_dir dir;
  fake_nvml fake(fake_nvml::supported, 1);
  probe_options o = nothing_in(dir);
  o.nvml.library = fake_nvml::path();
  joule_test::add_rapl_zone(o.rapl.root / "intel-rapl:0", "package-0", 1000);
  o.check.wait = [&, v = std::uint64_t{1000}]() mutable {
    joule_test::set_energy(o.rapl.root / "intel-rapl:0", v += 100);
    fake.set_energy_mj(0, v);
  };
  const probe_result p = probe(o);
  EXPECT_EQ(p.chosen->name(), "rapl + nvml");
  EXPECT_EQ(p.kind(), meter_kind::measured);
  EXPECT_TRUE(contains(p.report(), "figures are measured (package-0, gpu:0)")) << p.report();
}

TEST(Probe, DisabledMetersAreReportedAsSkipped) {
  temp_dir dir;
  probe_options o = nothing_in(dir);
  o.try_rapl = false;
  o.try_nvml = false;
  const probe_result p = probe(o);
  EXPECT_EQ(p.attempts[0].reason, "skipped (disabled in probe_options)");
  EXPECT_EQ(p.attempts.back().reason, "skipped (disabled in probe_options)");
  EXPECT_EQ(p.chosen->name(), "estimate");
}

TEST(Probe, ThisMachine) {
  const probe_result p = probe();
  ASSERT_NE(p.chosen, nullptr);
  const std::string report = p.report();
  std::cout << report;
  EXPECT_GE(p.attempts.size(), 2u);
  const bool labelled =
      p.kind() == meter_kind::estimated ? contains(report, "ESTIMATED") : contains(report, "figures are measured");
  EXPECT_TRUE(labelled) << report;
}

}  // namespace
