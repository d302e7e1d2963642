// The perf power PMU, on fake sysfs trees with injected syscalls, and the real perf_event_open's
// failure reason.
//
// Covered: parsing type, cpumask, format/event, events/energy-* (terms to config bits), .scale and
// .unit; one counter per package from the cpumask; readings = (count - start) x scale; sub-domains
// shown but not added; psys as the total when there is no energy-pkg; malformed files (type, event
// terms, scale, unit, cpumask, a term without a format file); no PMU; perf_event_open failing with
// EACCES (reason names CAP_PERFMON and the paranoid setting) and with the real syscall on a bogus
// PMU type; the real syscalls reading a software counter (skipped where perf events are not
// allowed); a counter that does not advance; file descriptors closed. Figures are exact up to one
// rounding of count x scale (EXPECT_DOUBLE_EQ, 4 ulps).
#include <gtest/gtest.h>

#include <joule/energy/perf_power.hpp>
#include <map>

#include "fake_sysfs.hpp"

namespace {

using namespace joule::energy;
using joule_test::add_power_pmu;
using joule_test::temp_dir;
using joule_test::write_file;

constexpr double kScale = 2.3283064365386962890625e-10;  // 2^-32 J, what the kernel writes

/** @brief Counters in memory: open hands out fds, the test sets each fd's count. */
struct fake_perf {
  struct opened {
    std::uint32_t type;
    std::uint64_t config;
    int cpu;
  };
  std::map<int, std::uint64_t> counts;
  std::map<int, opened> open_fds;
  std::vector<int> closed;
  int next_fd = 100;
  int fail_open_with = 0;

  perf_syscalls syscalls() {
    perf_syscalls s;
    s.open = [this](const perf_event_attr& attr, int cpu) {
      if (fail_open_with) return -fail_open_with;
      const int fd = next_fd++;
      open_fds[fd] = {attr.type, attr.config, cpu};
      counts[fd] = 1'000'000;
      return fd;
    };
    s.read = [this](int fd, std::uint64_t& value) {
      value = counts.at(fd);
      return 0;
    };
    s.close = [this](int fd) { closed.push_back(fd); };
    return s;
  }
  void advance_all(std::uint64_t by) {
    for (auto& [fd, count] : counts) count += by;
  }
};

perf_power_options options_for(const temp_dir& dir, fake_perf& fake) {
  perf_power_options o;
  o.root = dir.path();
  o.syscalls = fake.syscalls();
  o.paranoid_file = dir / "perf_event_paranoid";
  write_file(o.paranoid_file, "2\n");
  return o;
}

advance_check advancing(fake_perf& fake) {
  advance_check c;
  c.max_waits = 3;
  c.wait = [&fake] { fake.advance_all(1 << 20); };
  return c;
}

advance_check frozen() {
  advance_check c;
  c.max_waits = 3;
  c.wait = [] {};
  return c;
}

TEST(PerfPower, ParsesTheEventFiles) {
  temp_dir dir;
  fake_perf fake;
  add_power_pmu(dir.path());
  const perf_power_event e = read_perf_power_event(options_for(dir, fake), "energy-pkg");
  EXPECT_EQ(e.type, 23u);
  EXPECT_EQ(e.config, 0x02u);
  EXPECT_EQ(e.scale, kScale);
}

TEST(PerfPower, TermsFollowTheFormatFiles) {
  temp_dir dir;
  fake_perf fake;
  add_power_pmu(dir.path(), "0", {{"energy-pkg", "event=0x02,umask=3"}});
  write_file(dir / "format" / "umask", "config:8-15\n");
  EXPECT_EQ(read_perf_power_event(options_for(dir, fake), "energy-pkg").config, 0x0302u);
}

TEST(PerfPower, OneCounterPerPackageScaled) {
  temp_dir dir;
  fake_perf fake;
  add_power_pmu(dir.path(), "0,36");
  open_result r = open_perf_power(options_for(dir, fake), advancing(fake));
  ASSERT_TRUE(r) << r.reason;
  meter& m = *r.opened;
  EXPECT_EQ(m.name(), "perf-power");
  EXPECT_EQ(m.kind(), meter_kind::measured);
  const auto d = m.domains();
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].name, "package-0");
  EXPECT_EQ(d[1].name, "package-1");
  EXPECT_EQ(d[1].source, "perf power/energy-pkg on cpu 36");
  ASSERT_EQ(fake.open_fds.size(), 2u);
  for (const auto& [fd, o] : fake.open_fds) {
    EXPECT_EQ(o.type, 23u);
    EXPECT_EQ(o.config, 2u);
  }
  EXPECT_EQ(fake.open_fds.begin()->second.cpu, 0);
  EXPECT_EQ(std::next(fake.open_fds.begin())->second.cpu, 36);

  const energy_reading before = m.read();
  fake.counts[100] += 1ull << 32;  // one joule on package-0
  fake.counts[101] += 3ull << 31;  // 1.5 J on package-1
  const energy_reading after = m.read();
  EXPECT_DOUBLE_EQ(after.find("package-0")->joules - before.find("package-0")->joules, 1.0);
  EXPECT_DOUBLE_EQ(joules_between(before, after), 2.5);
}

TEST(PerfPower, SubdomainsShownButNotAdded) {
  temp_dir dir;
  fake_perf fake;
  add_power_pmu(dir.path(), "0",
                {{"energy-pkg", "event=0x02"},
                 {"energy-cores", "event=0x01"},
                 {"energy-ram", "event=0x03"},
                 {"energy-psys", "event=0x05"}});
  perf_power_options o = options_for(dir, fake);
  o.include_subdomains = true;
  perf_power_meter m(discover_perf_power(o), o);
  const auto d = m.domains();
  ASSERT_EQ(d.size(), 4u);
  EXPECT_EQ(d[0].name, "package-0");
  EXPECT_EQ(d[1].name, "package-0/core");
  EXPECT_EQ(d[2].name, "package-0/dram");
  EXPECT_EQ(d[3].name, "psys");
  for (std::size_t i = 1; i < d.size(); ++i) EXPECT_FALSE(d[i].in_total) << d[i].name;

  const energy_reading before = m.read();
  fake.advance_all(1ull << 32);
  EXPECT_DOUBLE_EQ(joules_between(before, m.read()), 1.0) << "only package-0 is added";
}

TEST(PerfPower, PsysIsTheTotalWithoutPackageEvents) {
  temp_dir dir;
  fake_perf fake;
  add_power_pmu(dir.path(), "0", {{"energy-psys", "event=0x05"}});
  const auto specs = discover_perf_power(options_for(dir, fake));
  ASSERT_EQ(specs.size(), 1u);
  EXPECT_EQ(specs[0].domain, "psys");
  EXPECT_TRUE(specs[0].in_total);
}

TEST(PerfPower, MalformedFiles) {
  struct malformed_case {
    const char* file;
    const char* text;
    const char* expected;
  };
  const std::vector<malformed_case> cases = {
      {"type", "power\n", "type holds 'power', not a PMU type number"},
      {"events/energy-pkg", "event\n", "term 'event' is not name=value"},
      {"events/energy-pkg", "event=zz\n", "term 'event=zz' has no numeric value"},
      {"events/energy-pkg", "event=0x1ff\n", "does not fit config bits 0-7"},
      {"events/energy-pkg", "event=2,flavour=1\n", "cannot read"},
      {"events/energy-pkg", "\n", "energy-pkg is empty"},
      {"events/energy-pkg.scale", "abc\n", "energy-pkg.scale holds 'abc', not a positive scale"},
      {"events/energy-pkg.scale", "-1e-10\n", "not a positive scale"},
      {"events/energy-pkg.unit", "Watts\n", "says 'Watts'; joule reads only events counted in Joules"},
      {"cpumask", "a-b\n", "cpumask holds 'a-b', not a CPU list"},
      {"format/event", "config1:0-7\n", "not config:<bits>"},
  };
  for (const auto& c : cases) {
    temp_dir dir;
    fake_perf fake;
    add_power_pmu(dir.path());
    write_file(dir / c.file, c.text);
    const open_result r = open_perf_power(options_for(dir, fake), advancing(fake));
    ASSERT_FALSE(r) << c.file << " = " << c.text;
    EXPECT_NE(r.reason.find(c.expected), std::string::npos) << c.file << ": " << r.reason;
  }
}

TEST(PerfPower, NoPmu) {
  temp_dir dir;
  fake_perf fake;
  perf_power_options o = options_for(dir, fake);
  o.root = dir / "power";
  const open_result r = open_perf_power(o, frozen());
  ASSERT_FALSE(r);
  EXPECT_NE(r.reason.find("no power PMU at " + o.root.string()), std::string::npos) << r.reason;

  add_power_pmu(o.root, "0", {{"energy-cores", "event=0x01"}});
  const open_result no_pkg = open_perf_power(o, frozen());
  ASSERT_FALSE(no_pkg);
  EXPECT_NE(no_pkg.reason.find("has no energy-pkg or energy-psys event"), std::string::npos) << no_pkg.reason;
}

TEST(PerfPower, PermissionDeniedNamesCapabilityAndParanoia) {
  temp_dir dir;
  fake_perf fake;
  add_power_pmu(dir.path());
  fake.fail_open_with = EACCES;
  const open_result r = open_perf_power(options_for(dir, fake), frozen());
  ASSERT_FALSE(r);
  EXPECT_NE(r.reason.find("perf_event_open(power/energy-pkg, cpu 0) failed: Permission denied"), std::string::npos)
      << r.reason;
  EXPECT_NE(r.reason.find("CAP_PERFMON"), std::string::npos) << r.reason;
  EXPECT_NE(r.reason.find("perf_event_paranoid <= 0; it is 2 here"), std::string::npos) << r.reason;
}

TEST(PerfPower, RealSyscallFailsWithAClearReason) {
  // A fake tree naming a PMU type no kernel has: the real perf_event_open must fail, whether the
  // kernel rejects the type, the caller lacks permission, or a seccomp filter blocks the call.
  temp_dir dir;
  add_power_pmu(dir.path());
  write_file(dir / "type", "2147483647\n");
  perf_power_options o;
  o.root = dir.path();
  const open_result r = open_perf_power(o, frozen());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.reason.rfind("perf_event_open(power/energy-pkg, cpu 0) failed: ", 0), 0u) << r.reason;
}

TEST(PerfPower, RealSyscallsReadASoftwareCounter) {
  // The real open/read/close path, with the software cpu-clock event (type 1, config 0) standing
  // in for energy-pkg: it advances in nanoseconds on any Linux that allows system-wide events.
  temp_dir dir;
  add_power_pmu(dir.path());
  write_file(dir / "type", "1\n");
  write_file(dir / "events" / "energy-pkg", "event=0x00\n");
  perf_power_options o;
  o.root = dir.path();
  const open_result r = open_perf_power(o);
  if (!r) GTEST_SKIP() << "system-wide perf events are not allowed here: " << r.reason;
  const energy_reading before = r.opened->read();
  const energy_reading after = r.opened->read();
  EXPECT_GE(after.total_joules(), before.total_joules());
  EXPECT_GT(after.total_joules(), 0.0);
}

TEST(PerfPower, CounterThatDoesNotAdvance) {
  temp_dir dir;
  fake_perf fake;
  add_power_pmu(dir.path());
  const open_result r = open_perf_power(options_for(dir, fake), frozen());
  ASSERT_FALSE(r);
  EXPECT_NE(r.reason.find("did not advance (package-0"), std::string::npos) << r.reason;
  EXPECT_EQ(fake.closed.size(), 1u) << "the counter of the rejected meter is closed";
}

TEST(PerfPower, ClosesItsCounters) {
  temp_dir dir;
  fake_perf fake;
  add_power_pmu(dir.path(), "0-1");
  {
    perf_power_meter m(discover_perf_power(options_for(dir, fake)), options_for(dir, fake));
    EXPECT_TRUE(fake.closed.empty());
  }
  EXPECT_EQ(fake.closed, (std::vector<int>{100, 101}));
}

TEST(PerfPower, CpuLists) {
  using joule::energy::detail::parse_cpu_list;
  EXPECT_EQ(*parse_cpu_list("0\n"), (std::vector<int>{0}));
  EXPECT_EQ(*parse_cpu_list("0,36"), (std::vector<int>{0, 36}));
  EXPECT_EQ(*parse_cpu_list("0-2,8"), (std::vector<int>{0, 1, 2, 8}));
  EXPECT_FALSE(parse_cpu_list(""));
  EXPECT_FALSE(parse_cpu_list("3-1"));
  EXPECT_FALSE(parse_cpu_list("x"));
}

}  // namespace
