// The estimate: its formula with injected clocks, the precedence of its constants (code or
// command line, then environment, then defaults), override parsing, and the CPU model name.
//
// Covered: E = (max - min) x CPU-seconds + min x CPUs reserved x wall seconds with the defaults
// (0.74 W and 3.5 W per CPU) and with overrides; kind estimated on the domain, the meter and the
// reading; the source of each constant in the description; bad overrides (unknown key, no '=',
// not a number, negative, max < min, zero CPUs) and a malformed environment variable, each with
// its message; /proc/cpuinfo parsing; the real process CPU clock. Values are exact up to double
// rounding of a few products (EXPECT_NEAR 1e-12).
#include <gtest/gtest.h>

#include <joule/energy/estimate.hpp>
#include <map>

#include "fake_sysfs.hpp"

namespace {

using namespace joule::energy;

struct fake_process {
  double cpu = 10.0;  // CPU seconds already used before the meter opened
  steady_clock::time_point now = steady_clock::time_point{} + std::chrono::hours(1);
  std::map<std::string, std::string> env;

  estimate_options options(int cpus = 2) {
    estimate_options o;
    o.cpu_seconds = [this] { return cpu; };
    o.now = [this] { return now; };
    o.getenv = [this](const char* name) -> const char* {
      const auto it = env.find(name);
      return it == env.end() ? nullptr : it->second.c_str();
    };
    o.cpus_available = cpus;
    o.cpuinfo = "/nonexistent/cpuinfo";
    return o;
  }
  void run(double cpu_s, double wall_s) {
    cpu += cpu_s;
    now += std::chrono::duration_cast<steady_clock::duration>(seconds{wall_s});
  }
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const joule::error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Estimate, FormulaWithDefaults) {
  fake_process p;
  estimate_meter m(p.options(2));
  EXPECT_EQ(m.name(), "estimate");
  EXPECT_EQ(m.kind(), meter_kind::estimated);
  ASSERT_EQ(m.domains().size(), 1u);
  EXPECT_EQ(m.domains()[0].name, "cpu");
  EXPECT_EQ(m.domains()[0].kind, meter_kind::estimated);

  p.run(1.0, 2.0);  // one CPU-second over two seconds on a process holding 2 CPUs
  const energy_reading r = m.read();
  EXPECT_NEAR(r.total_joules(), (3.5 - 0.74) * 1.0 + 0.74 * 2 * 2.0, 1e-12);
  EXPECT_EQ(r.kind(), meter_kind::estimated);
  EXPECT_EQ(r.domains[0].kind, meter_kind::estimated);
}

TEST(Estimate, IdleProcessIsChargedItsIdleShareOnly) {
  fake_process p;
  estimate_meter m(p.options(4));
  p.run(0.0, 10.0);
  EXPECT_NEAR(m.read().total_joules(), 0.74 * 4 * 10.0, 1e-12);
}

TEST(Estimate, CodeWinsOverEnvironmentWhichWinsOverDefaults) {
  fake_process p;
  p.env["JOULE_ESTIMATE_MAX_WATTS_PER_CPU"] = "5";
  p.env["JOULE_ESTIMATE_MIN_WATTS_PER_CPU"] = "1";
  estimate_options o = p.options(8);
  o.constants.min_watts_per_cpu = 0.5;
  estimate_meter m(o);
  EXPECT_EQ(m.model().max_watts_per_cpu.value, 5.0);
  EXPECT_EQ(m.model().max_watts_per_cpu.source, "environment JOULE_ESTIMATE_MAX_WATTS_PER_CPU");
  EXPECT_EQ(m.model().min_watts_per_cpu.value, 0.5);
  EXPECT_EQ(m.model().min_watts_per_cpu.source, "code or command line");
  EXPECT_EQ(m.model().cpus_reserved.value, 8.0);
  EXPECT_NE(m.model().cpus_reserved.source.find("affinity"), std::string::npos);
  p.run(2.0, 1.0);
  EXPECT_NEAR(m.read().total_joules(), (5 - 0.5) * 2.0 + 0.5 * 8 * 1.0, 1e-12);

  const std::string d = m.description();
  EXPECT_NE(d.find("environment JOULE_ESTIMATE_MAX_WATTS_PER_CPU"), std::string::npos) << d;
  EXPECT_NE(d.find("code or command line"), std::string::npos) << d;
}

TEST(Estimate, EnvironmentCanBeIgnored) {
  fake_process p;
  p.env["JOULE_ESTIMATE_MAX_WATTS_PER_CPU"] = "50";
  estimate_options o = p.options();
  o.use_environment = false;
  estimate_meter m(o);
  EXPECT_EQ(m.model().max_watts_per_cpu.value, kDefaultMaxWattsPerCpu);
  EXPECT_NE(m.model().max_watts_per_cpu.source.find("Cloud Carbon Footprint"), std::string::npos);
}

TEST(Estimate, CommandLineOverride) {
  const estimate_constants c = parse_estimate_override(" max_watts_per_cpu=4.25 , cpus_reserved=3,");
  EXPECT_EQ(c.max_watts_per_cpu, 4.25);
  EXPECT_FALSE(c.min_watts_per_cpu);
  EXPECT_EQ(c.cpus_reserved, 3.0);

  fake_process p;
  estimate_options o = p.options();
  apply_estimate_override(o.constants, "min_watts_per_cpu=0");
  apply_estimate_override(o.constants, "max_watts_per_cpu=2");
  estimate_meter m(o);
  p.run(3.0, 100.0);
  EXPECT_NEAR(m.read().total_joules(), 6.0, 1e-12) << "min 0: CPU time alone";
}

TEST(Estimate, BadOverrides) {
  EXPECT_NE(error_of([] { parse_estimate_override("watts=3"); }).find("unknown key 'watts'"), std::string::npos);
  EXPECT_NE(error_of([] { parse_estimate_override("max_watts_per_cpu"); }).find("is not key=value"), std::string::npos);
  EXPECT_NE(error_of([] {
              parse_estimate_override("max_watts_per_cpu=lots");
            }).find("max_watts_per_cpu='lots' is not a non-negative number"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_estimate_override("min_watts_per_cpu=-1"); }).find("is not a non-negative number"),
            std::string::npos);

  fake_process p;
  estimate_options o = p.options();
  o.constants = parse_estimate_override("max_watts_per_cpu=1,min_watts_per_cpu=2");
  EXPECT_NE(error_of([&] {
              estimate_meter m(o);
            }).find("max_watts_per_cpu (1, code or command line) is below min_watts_per_cpu (2"),
            std::string::npos);
  o.constants = parse_estimate_override("cpus_reserved=0");
  EXPECT_NE(error_of([&] { estimate_meter m(o); }).find("cpus_reserved must be positive"), std::string::npos);

  const open_result r = open_estimate(o);
  EXPECT_FALSE(r);
  EXPECT_NE(r.reason.find("cpus_reserved must be positive"), std::string::npos) << r.reason;
}

TEST(Estimate, MalformedEnvironment) {
  fake_process p;
  p.env["JOULE_ESTIMATE_CPUS_RESERVED"] = "two";
  const estimate_options o = p.options();
  EXPECT_NE(
      error_of([&] { estimate_meter m(o); }).find("environment JOULE_ESTIMATE_CPUS_RESERVED: cpus_reserved='two'"),
      std::string::npos);
}

TEST(Estimate, CpuModelName) {
  joule_test::temp_dir dir;
  joule_test::write_file(dir / "cpuinfo",
                         "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9654 96-Core Processor\n\n"
                         "processor\t: 1\nmodel name\t: AMD EPYC 9654 96-Core Processor\n");
  EXPECT_EQ(cpu_model_name(dir / "cpuinfo"), "AMD EPYC 9654 96-Core Processor");
  joule_test::write_file(dir / "arm", "processor\t: 0\nBogoMIPS\t: 50.00\n");
  EXPECT_EQ(cpu_model_name(dir / "arm"), "unknown CPU");
  EXPECT_EQ(cpu_model_name(dir / "absent"), "unknown CPU");

  fake_process p;
  estimate_options o = p.options();
  o.cpuinfo = dir / "cpuinfo";
  estimate_meter m(o);
  EXPECT_EQ(m.cpu_model(), "AMD EPYC 9654 96-Core Processor");
  EXPECT_NE(m.description().find("AMD EPYC 9654"), std::string::npos);
}

TEST(Estimate, RealClocks) {
  const double a = process_cpu_seconds();
  volatile double sink = 0;
  for (int i = 0; i < 2'000'000; ++i) sink = sink + i * 0.5;
  EXPECT_GE(process_cpu_seconds(), a);
  EXPECT_GE(cpus_in_affinity(), 1);

  estimate_options o;
  o.use_environment = false;
  open_result r = open_estimate(o);
  ASSERT_TRUE(r) << r.reason;
  EXPECT_EQ(r.opened->kind(), meter_kind::estimated);
  const double before = r.opened->read().total_joules();
  for (int i = 0; i < 2'000'000; ++i) sink = sink + i * 0.5;
  EXPECT_GE(r.opened->read().total_joules(), before);
}

}  // namespace
