// NVML through a fake libnvidia-ml (tests/energy/fake_nvml.cpp) loaded by path.
//
// Covered: the energy counter where supported (millijoules, exact); NOT_SUPPORTED, which falls
// back to integrating power samples with the trapezoid rule (a fake clock makes the integral
// exact: 0.5 x (P0 + P1) x dt summed); forced power integration; two GPUs with different methods;
// the current power; the missing library; a library that is not NVML; nvmlInit failing; a GPU with neither method;
// no GPU; a counter that does not advance; nvmlShutdown called once per meter.
#include <gtest/gtest.h>

#include <joule/energy/nvml.hpp>

#include "fake_nvml.hpp"

namespace {

using namespace joule::energy;
using joule_test::fake_nvml;

/** @brief A clock the test moves by hand. */
struct manual_clock {
  steady_clock::time_point now = steady_clock::time_point{} + std::chrono::hours(1);
  void advance(double s) { now += std::chrono::duration_cast<steady_clock::duration>(seconds{s}); }
  std::function<steady_clock::time_point()> function() {
    return [this] { return now; };
  }
};

nvml_options options(manual_clock* clock = nullptr) {
  nvml_options o;
  o.library = fake_nvml::path();
  if (clock) o.now = clock->function();
  return o;
}

advance_check frozen() {
  advance_check c;
  c.max_waits = 2;
  c.wait = [] {};
  return c;
}

TEST(Nvml, EnergyCounterWhereSupported) {
  fake_nvml fake(fake_nvml::supported, 1);
  fake.set_energy_mj(0, 5000);
  advance_check check = frozen();
  check.wait = [&] { fake.set_energy_mj(0, 6000); };
  open_result r = open_nvml(options(), check);
  ASSERT_TRUE(r) << r.reason;
  auto& m = dynamic_cast<nvml_meter&>(*r.opened);
  EXPECT_EQ(m.name(), "nvml");
  EXPECT_EQ(m.kind(), meter_kind::measured);
  ASSERT_EQ(m.domains().size(), 1u);
  EXPECT_EQ(m.domains()[0].name, "gpu:0");
  EXPECT_EQ(m.domains()[0].source, "NVML total energy counter");
  EXPECT_EQ(m.poll_interval().count(), 0.0) << "a counter needs no polling";
  EXPECT_NE(m.description().find("Fake GPU"), std::string::npos) << m.description();

  const energy_reading before = m.read();
  fake.set_energy_mj(0, 8500);
  const energy_reading after = m.read();
  EXPECT_DOUBLE_EQ(joules_between(before, after), 2.5);
  EXPECT_DOUBLE_EQ(after.total_joules(), 3.5) << "counted from the value when the meter opened";
  fake.set_power_mw(0, 71'500);
  EXPECT_DOUBLE_EQ(m.power_watts("gpu:0"), 71.5);
  EXPECT_THROW(m.power_watts("gpu:7"), joule::error);
}

TEST(Nvml, NotSupportedFallsBackToPowerIntegration) {
  fake_nvml fake(fake_nvml::energy_not_supported, 1);
  manual_clock clock;
  fake.set_power_mw(0, 100'000);  // 100 W when the meter opens
  nvml_meter m(options(&clock));
  EXPECT_TRUE(m.integrates_power("gpu:0"));
  EXPECT_EQ(m.kind(), meter_kind::measured) << "the board's sensor, integrated: still measured";
  EXPECT_NE(m.domains()[0].source.find("trapezoid"), std::string::npos);
  EXPECT_DOUBLE_EQ(m.poll_interval().count(), 0.02);

  fake.set_power_mw(0, 200'000);
  clock.advance(0.1);
  m.poll();  // 0.5 x (100 + 200) W x 0.1 s = 15 J
  fake.set_power_mw(0, 300'000);
  clock.advance(0.2);
  const energy_reading r = m.read();  // + 0.5 x (200 + 300) W x 0.2 s = 50 J
  EXPECT_NEAR(r.total_joules(), 65.0, 1e-9);

  fake.set_power_mw(0, 100'000);
  clock.advance(0.1);
  EXPECT_DOUBLE_EQ(m.power_watts("gpu:0"), 100.0);  // also a sample: + 0.5 x (300 + 100) W x 0.1 s
  EXPECT_NEAR(m.read().total_joules(), 85.0, 1e-9);
}

TEST(Nvml, ForcedPowerIntegration) {
  fake_nvml fake(fake_nvml::supported, 1);
  manual_clock clock;
  fake.set_power_mw(0, 50'000);
  nvml_options o = options(&clock);
  o.force_power_integration = true;
  nvml_meter m(o);
  EXPECT_TRUE(m.integrates_power("gpu:0"));
  clock.advance(2.0);
  EXPECT_NEAR(m.read().total_joules(), 100.0, 1e-9);
}

TEST(Nvml, TwoGpusEachWithItsMethod) {
  fake_nvml fake(fake_nvml::mixed, 2);
  manual_clock clock;
  fake.set_energy_mj(0, 1000);
  fake.set_power_mw(1, 40'000);
  nvml_meter m(options(&clock));
  ASSERT_EQ(m.domains().size(), 2u);
  EXPECT_FALSE(m.integrates_power("gpu:0"));
  EXPECT_TRUE(m.integrates_power("gpu:1"));
  fake.set_energy_mj(0, 3000);
  clock.advance(0.5);
  const energy_reading r = m.read();
  EXPECT_DOUBLE_EQ(r.find("gpu:0")->joules, 2.0);
  EXPECT_NEAR(r.find("gpu:1")->joules, 20.0, 1e-9);
  EXPECT_NEAR(r.total_joules(), 22.0, 1e-9);
}

TEST(Nvml, MissingLibrary) {
  nvml_options o;
  o.library = "/nonexistent/libnvidia-ml.so.1";
  const open_result r = open_nvml(o, frozen());
  ASSERT_FALSE(r);
  EXPECT_NE(r.reason.find("cannot load /nonexistent/libnvidia-ml.so.1"), std::string::npos) << r.reason;
  EXPECT_NE(r.reason.find("no NVIDIA driver"), std::string::npos) << r.reason;
}

TEST(Nvml, NotAnNvmlLibrary) {
  nvml_options o;
  o.library = "libm.so.6";
  const open_result r = open_nvml(o, frozen());
  ASSERT_FALSE(r);
  EXPECT_NE(r.reason.find("has no symbol nvmlInit_v2"), std::string::npos) << r.reason;
}

TEST(Nvml, InitFails) {
  fake_nvml fake(fake_nvml::init_fails, 1);
  const open_result r = open_nvml(options(), frozen());
  ASSERT_FALSE(r);
  EXPECT_NE(r.reason.find("nvmlInit_v2 failed: Driver Not Loaded (NVML error 9)"), std::string::npos) << r.reason;
}

TEST(Nvml, NeitherEnergyNorPower) {
  fake_nvml fake(fake_nvml::nothing_supported, 1);
  const open_result r = open_nvml(options(), frozen());
  ASSERT_FALSE(r);
  EXPECT_NE(
      r.reason.find("no GPU can be metered: gpu:0: nvmlDeviceGetTotalEnergyConsumption: Not Supported (NVML error 3), "
                    "and nvmlDeviceGetPowerUsage: Not Supported (NVML error 3)"),
      std::string::npos)
      << r.reason;
  EXPECT_EQ(fake.live_inits(), 0) << "NVML is shut down after a failed open";
}

TEST(Nvml, NoGpu) {
  fake_nvml fake(fake_nvml::supported, 0);
  const open_result r = open_nvml(options(), frozen());
  ASSERT_FALSE(r);
  EXPECT_NE(r.reason.find("NVML sees no GPU"), std::string::npos) << r.reason;
}

TEST(Nvml, CounterThatDoesNotAdvance) {
  fake_nvml fake(fake_nvml::supported, 1);
  const open_result r = open_nvml(options(), frozen());
  ASSERT_FALSE(r);
  EXPECT_NE(r.reason.find("did not advance (gpu:0"), std::string::npos) << r.reason;
}

TEST(Nvml, ShutsDownOncePerMeter) {
  fake_nvml fake(fake_nvml::supported, 1);
  {
    nvml_meter a(options());
    nvml_meter b(options());
    EXPECT_EQ(fake.live_inits(), 2);
  }
  EXPECT_EQ(fake.live_inits(), 0);
}

}  // namespace
