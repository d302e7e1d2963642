// RAPL through powercap, on fake trees in a temporary directory.
//
// Covered: one package; two packages (total = sum); subzones present, both nested and as the flat
// links of the class directory (never added to a package; shown only when asked); psys beside
// packages (not added) and alone (the total); intel-rapl-mmio ignored; wraparound once between
// reads and twice in one window with polls between; the poll interval derived from the range;
// unreadable energy_uj (EACCES through an injected reader, since root ignores permission bits, and
// a real chmod 000 when not root) with the root-only reason; a dangling energy_uj link; a counter
// that does not advance; malformed files (not a number, empty, negative, above the range, zero
// range, missing name, energy_uj a directory); no powercap tree; a tree with no zones; a counter
// that fails after opening. Figures are exact: counters are integers of microjoules.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <joule/energy/rapl.hpp>

#include "fake_sysfs.hpp"

namespace {

using namespace joule::energy;
using joule_test::add_rapl_zone;
using joule_test::set_energy;
using joule_test::temp_dir;

rapl_options options_for(const temp_dir& dir) {
  rapl_options o;
  o.root = dir.path();
  return o;
}

/** @brief A check whose "wait" advances each listed zone by 1000 uJ, so probing needs no time. */
advance_check advancing(std::vector<std::filesystem::path> zones, std::uint64_t start = 1000) {
  advance_check c;
  c.max_waits = 3;
  c.wait = [zones, value = start]() mutable {
    value += 1000;
    for (const auto& z : zones) set_energy(z, value);
  };
  return c;
}

advance_check frozen() {
  advance_check c;
  c.max_waits = 3;
  c.wait = [] {};
  return c;
}

std::string reason_of(const rapl_options& o, const advance_check& c = frozen()) {
  open_result r = open_rapl(o, c);
  EXPECT_FALSE(r) << "expected RAPL to be unavailable";
  return r.reason;
}

TEST(Rapl, OnePackage) {
  temp_dir dir;
  add_rapl_zone(dir / "intel-rapl:0", "package-0", 1000);
  open_result r = open_rapl(options_for(dir), advancing({dir / "intel-rapl:0"}));
  ASSERT_TRUE(r) << r.reason;
  meter& m = *r.opened;
  EXPECT_EQ(m.name(), "rapl");
  EXPECT_EQ(m.kind(), meter_kind::measured);
  ASSERT_EQ(m.domains().size(), 1u);
  EXPECT_EQ(m.domains()[0].name, "package-0");
  EXPECT_TRUE(m.domains()[0].in_total);

  const energy_reading before = m.read();  // the probe advanced the counter to 2000 uJ
  set_energy(dir / "intel-rapl:0", 1'502'000);
  const energy_reading after = m.read();
  EXPECT_DOUBLE_EQ(joules_between(before, after), 1.5);
  EXPECT_DOUBLE_EQ(after.total_joules(), 1.501);
  EXPECT_EQ(after.kind(), meter_kind::measured);
  EXPECT_GE(after.when, before.when);
}

TEST(Rapl, TwoPackagesAreSummed) {
  temp_dir dir;
  add_rapl_zone(dir / "intel-rapl:0", "package-0", 1000);
  add_rapl_zone(dir / "intel-rapl:1", "package-1", 1000);
  open_result r = open_rapl(options_for(dir), advancing({dir / "intel-rapl:0", dir / "intel-rapl:1"}));
  ASSERT_TRUE(r) << r.reason;
  const auto d = r.opened->domains();
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].name, "package-0");
  EXPECT_EQ(d[1].name, "package-1");

  const energy_reading before = r.opened->read();
  set_energy(dir / "intel-rapl:0", 2000 + 300'000);
  set_energy(dir / "intel-rapl:1", 2000 + 700'000);
  const energy_reading after = r.opened->read();
  EXPECT_DOUBLE_EQ(joules_between(before, after), 1.0);
  EXPECT_DOUBLE_EQ(after.find("package-0")->joules - before.find("package-0")->joules, 0.3);
}

TEST(Rapl, ZonesSortNumerically) {
  temp_dir dir;
  for (int i : {10, 2, 0, 1, 3, 4, 5, 6, 7, 8, 9})
    add_rapl_zone(dir / ("intel-rapl:" + std::to_string(i)), "package-" + std::to_string(i), 5);
  const auto zones = discover_rapl_zones(options_for(dir));
  ASSERT_EQ(zones.size(), 11u);
  EXPECT_EQ(zones[2].name, "package-2");
  EXPECT_EQ(zones[10].name, "package-10");
}

/** @brief package-0 with core and dram subzones, nested and as flat links, plus psys and mmio. */
void add_full_tree(const temp_dir& dir) {
  add_rapl_zone(dir / "intel-rapl:0", "package-0", 1000);
  add_rapl_zone(dir / "intel-rapl:0" / "intel-rapl:0:0", "core", 1000);
  add_rapl_zone(dir / "intel-rapl:0" / "intel-rapl:0:2", "dram", 1000);
  std::filesystem::create_directory_symlink(dir / "intel-rapl:0" / "intel-rapl:0:0", dir / "intel-rapl:0:0");
  std::filesystem::create_directory_symlink(dir / "intel-rapl:0" / "intel-rapl:0:2", dir / "intel-rapl:0:2");
  add_rapl_zone(dir / "intel-rapl:1", "psys", 1000);
  add_rapl_zone(dir / "intel-rapl-mmio:0", "package-0", 1000);
}

TEST(Rapl, SubzonesAreNotReadByDefault) {
  temp_dir dir;
  add_full_tree(dir);
  rapl_meter m(discover_rapl_zones(options_for(dir)), options_for(dir));
  const auto d = m.domains();
  ASSERT_EQ(d.size(), 1u) << "only package-0: no subzone, no psys, no mmio duplicate";
  EXPECT_EQ(d[0].name, "package-0");
  EXPECT_EQ(d[0].source, (dir / "intel-rapl:0" / "energy_uj").string());

  const energy_reading before = m.read();
  set_energy(dir / "intel-rapl:0" / "intel-rapl:0:0", 900'000);
  set_energy(dir / "intel-rapl:1", 900'000);
  set_energy(dir / "intel-rapl-mmio:0", 900'000);
  set_energy(dir / "intel-rapl:0", 1000 + 250'000);
  EXPECT_DOUBLE_EQ(joules_between(before, m.read()), 0.25);
}

TEST(Rapl, SubzonesShownButNeverAddedToTheirPackage) {
  temp_dir dir;
  add_full_tree(dir);
  rapl_options o = options_for(dir);
  o.include_subzones = true;
  rapl_meter m(discover_rapl_zones(o), o);
  const auto d = m.domains();
  ASSERT_EQ(d.size(), 4u);
  EXPECT_EQ(d[0].name, "package-0");
  EXPECT_TRUE(d[0].in_total);
  EXPECT_EQ(d[1].name, "package-0/core");
  EXPECT_FALSE(d[1].in_total);
  EXPECT_EQ(d[2].name, "package-0/dram");
  EXPECT_FALSE(d[2].in_total);
  EXPECT_EQ(d[3].name, "psys");
  EXPECT_FALSE(d[3].in_total) << "psys overlaps the packages";

  const energy_reading before = m.read();
  set_energy(dir / "intel-rapl:0", 1000 + 400'000);
  set_energy(dir / "intel-rapl:0" / "intel-rapl:0:0", 1000 + 300'000);
  set_energy(dir / "intel-rapl:0" / "intel-rapl:0:2", 1000 + 100'000);
  set_energy(dir / "intel-rapl:1", 1000 + 800'000);
  const energy_reading after = m.read();
  EXPECT_DOUBLE_EQ(joules_between(before, after), 0.4) << "the total is the package alone";
  EXPECT_DOUBLE_EQ(after.find("package-0/core")->joules, 0.3);
  EXPECT_DOUBLE_EQ(after.find("package-0/dram")->joules, 0.1);
  EXPECT_DOUBLE_EQ(after.find("psys")->joules, 0.8);
}

TEST(Rapl, PsysAloneIsTheTotal) {
  temp_dir dir;
  add_rapl_zone(dir / "intel-rapl:0", "psys", 1000);
  const auto zones = discover_rapl_zones(options_for(dir));
  ASSERT_EQ(zones.size(), 1u);
  EXPECT_EQ(zones[0].name, "psys");
  EXPECT_TRUE(zones[0].in_total);
}

TEST(Rapl, WrapOnceBetweenReads) {
  temp_dir dir;
  add_rapl_zone(dir / "intel-rapl:0", "package-0", 900'000, 1'000'000);
  rapl_meter m(discover_rapl_zones(options_for(dir)), options_for(dir));
  const energy_reading before = m.read();
  set_energy(dir / "intel-rapl:0", 100'000);  // 900000 -> range -> 0 -> 100000
  EXPECT_DOUBLE_EQ(joules_between(before, m.read()), 0.2);
}

TEST(Rapl, WrapTwiceInOneWindowWithPolls) {
  temp_dir dir;
  add_rapl_zone(dir / "intel-rapl:0", "package-0", 900'000, 1'000'000);
  rapl_meter m(discover_rapl_zones(options_for(dir)), options_for(dir));
  const energy_reading before = m.read();
  set_energy(dir / "intel-rapl:0", 100'000);  // first wrap: +200000
  m.poll();
  set_energy(dir / "intel-rapl:0", 950'000);  // +850000
  m.poll();
  set_energy(dir / "intel-rapl:0", 50'000);  // second wrap: +100000
  const energy_reading after = m.read();
  EXPECT_DOUBLE_EQ(joules_between(before, after), 1.15) << "1.15 J: more than the 1 J range, two wraps";
}

TEST(Rapl, WithoutPollsTwoWrapsLookLikeOne) {
  // Why poll() exists: the same counter values read only at the window's edges lose a whole range.
  temp_dir dir;
  add_rapl_zone(dir / "intel-rapl:0", "package-0", 900'000, 1'000'000);
  rapl_meter m(discover_rapl_zones(options_for(dir)), options_for(dir));
  const energy_reading before = m.read();
  set_energy(dir / "intel-rapl:0", 50'000);
  EXPECT_DOUBLE_EQ(joules_between(before, m.read()), 0.15);
}

TEST(Rapl, PollIntervalComesFromTheRange) {
  temp_dir dir;
  add_rapl_zone(dir / "intel-rapl:0", "package-0", 0, 262'143'328'850ULL);  // a common Intel range, 262 kJ
  add_rapl_zone(dir / "intel-rapl:1", "package-1", 0, 65'712'999'613ULL);   // a common AMD range, 65.7 kJ
  rapl_options o = options_for(dir);
  o.max_power_watts = 1000;
  rapl_meter m(discover_rapl_zones(o), o);
  EXPECT_NEAR(m.poll_interval().count(), 65'712.999613 / 1000 / 2, 1e-9) << "half the fastest wrap at 1 kW";

  temp_dir tiny;
  add_rapl_zone(tiny / "intel-rapl:0", "package-0", 0, 1000);
  rapl_meter fast(discover_rapl_zones(options_for(tiny)), options_for(tiny));
  EXPECT_DOUBLE_EQ(fast.poll_interval().count(), 1e-3) << "never below 1 ms";
}

TEST(Rapl, UnreadableEnergyIsReportedWithTheRootOnlyReason) {
  temp_dir dir;
  add_rapl_zone(dir / "intel-rapl:0", "package-0", 1000);
  rapl_options o = options_for(dir);
  o.reader = joule_test::failing_reader({{dir / "intel-rapl:0" / "energy_uj", EACCES}});
  const std::string reason = reason_of(o);
  EXPECT_NE(reason.find("cannot read " + (dir / "intel-rapl:0" / "energy_uj").string()), std::string::npos) << reason;
  EXPECT_NE(reason.find("Permission denied"), std::string::npos) << reason;
  EXPECT_NE(reason.find("readable only by root since the November 2020 kernel change"), std::string::npos) << reason;
  EXPECT_NE(reason.find("CVE-2020-8694"), std::string::npos) << reason;
}

TEST(Rapl, UnreadableEnergyWithRealPermissions) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores permission bits; the injected-reader test covers EACCES";
  temp_dir dir;
  add_rapl_zone(dir / "intel-rapl:0", "package-0", 1000);
  ASSERT_EQ(::chmod((dir / "intel-rapl:0" / "energy_uj").c_str(), 0), 0);
  const std::string reason = reason_of(options_for(dir));
  EXPECT_NE(reason.find("readable only by root"), std::string::npos) << reason;
}

TEST(Rapl, DanglingEnergyLink) {
  temp_dir dir;
  add_rapl_zone(dir / "intel-rapl:0", "package-0", 1000);
  std::filesystem::remove(dir / "intel-rapl:0" / "energy_uj");
  std::filesystem::create_symlink(dir / "nowhere", dir / "intel-rapl:0" / "energy_uj");
  const std::string reason = reason_of(options_for(dir));
  EXPECT_NE(reason.find("No such file or directory"), std::string::npos) << reason;
}

TEST(Rapl, CounterThatDoesNotAdvance) {
  temp_dir dir;
  add_rapl_zone(dir / "intel-rapl:0", "package-0", 1000);
  add_rapl_zone(dir / "intel-rapl:1", "package-1", 1000);
  advance_check only_first = frozen();
  only_first.wait = [&, v = std::uint64_t{1000}]() mutable { set_energy(dir / "intel-rapl:0", v += 10); };
  const std::string reason = reason_of(options_for(dir), only_first);
  EXPECT_NE(reason.find("did not advance"), std::string::npos) << reason;
  EXPECT_NE(reason.find("package-1"), std::string::npos) << reason;
  EXPECT_EQ(reason.find("package-0"), std::string::npos) << "package-0 advanced: " << reason;
}

struct malformed_case {
  const char* what;
  std::function<void(const temp_dir&)> damage;
  const char* expected;
};

TEST(Rapl, MalformedFiles) {
  const std::filesystem::path zone = "intel-rapl:0";
  const std::vector<malformed_case> cases = {
      {"energy not a number", [&](const temp_dir& d) { joule_test::write_file(d / "intel-rapl:0/energy_uj", "abc\n"); },
       "holds 'abc', not a whole number of microjoules"},
      {"energy empty", [&](const temp_dir& d) { joule_test::write_file(d / "intel-rapl:0/energy_uj", ""); },
       "holds '', not a whole number"},
      {"energy negative", [&](const temp_dir& d) { joule_test::write_file(d / "intel-rapl:0/energy_uj", "-5\n"); },
       "holds '-5', not a whole number"},
      {"energy trailing junk",
       [&](const temp_dir& d) { joule_test::write_file(d / "intel-rapl:0/energy_uj", "12 uJ\n"); }, "holds '12 uJ'"},
      {"energy above range", [&](const temp_dir& d) { joule_test::write_file(d / "intel-rapl:0/energy_uj", "2000\n"); },
       "holds 2000 uJ, above its max_energy_range_uj of 1000"},
      {"zero range", [&](const temp_dir& d) { joule_test::write_file(d / "intel-rapl:0/max_energy_range_uj", "0\n"); },
       "holds 0: the counter's range must be positive"},
      {"range not a number",
       [&](const temp_dir& d) { joule_test::write_file(d / "intel-rapl:0/max_energy_range_uj", "lots\n"); },
       "max_energy_range_uj holds 'lots'"},
      {"name missing", [&](const temp_dir& d) { std::filesystem::remove(d / "intel-rapl:0/name"); },
       "name: No such file or directory"},
      {"name empty", [&](const temp_dir& d) { joule_test::write_file(d / "intel-rapl:0/name", "\n"); },
       "not a zone name"},
      {"energy is a directory",
       [&](const temp_dir& d) {
         std::filesystem::remove(d / "intel-rapl:0/energy_uj");
         std::filesystem::create_directory(d / "intel-rapl:0/energy_uj");
       },
       "Is a directory"},
      {"no package or psys", [&](const temp_dir& d) { joule_test::write_file(d / "intel-rapl:0/name", "dram\n"); },
       "has no package-N or psys zone"},
  };
  for (const auto& c : cases) {
    temp_dir dir;
    add_rapl_zone(dir / "intel-rapl:0", "package-0", 500, 1000);
    c.damage(dir);
    const std::string reason = reason_of(options_for(dir));
    EXPECT_NE(reason.find(c.expected), std::string::npos) << c.what << ": " << reason;
  }
}

TEST(Rapl, NoTreeOrNoZones) {
  temp_dir dir;
  rapl_options o = options_for(dir);
  o.root = dir / "absent";
  EXPECT_NE(reason_of(o).find("no powercap tree at " + o.root.string()), std::string::npos);

  joule_test::write_file(dir / "dtpm" / "name", "dtpm\n");  // powercap with another driver only
  EXPECT_NE(reason_of(options_for(dir)).find("has no intel-rapl:N zones"), std::string::npos);
}

TEST(Rapl, ReadFailureAfterOpeningThrows) {
  temp_dir dir;
  add_rapl_zone(dir / "intel-rapl:0", "package-0", 1000);
  rapl_meter m(discover_rapl_zones(options_for(dir)), options_for(dir));
  joule_test::write_file(dir / "intel-rapl:0" / "energy_uj", "garbage\n");
  try {
    m.read();
    FAIL() << "expected joule::error";
  } catch (const joule::error& e) {
    EXPECT_NE(std::string(e.what()).find("energy_uj holds 'garbage'"), std::string::npos) << e.what();
  }
}

}  // namespace
