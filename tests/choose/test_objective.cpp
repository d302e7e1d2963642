// Objectives: the command line's spellings parse to what they say and print back the same way;
// bad spellings are errors naming the text and what was expected; scores are J/inference, median
// latency and their product; a bound on the p95 or the median is checked against that statistic.
// And the machine key: /proc/cpuinfo's model and instruction-set flags (x86 and Arm), sorted,
// with unrelated flags left out.
#include <gtest/gtest.h>

#include <joule/choose/machine_key.hpp>
#include <joule/choose/objective.hpp>

namespace {

using joule::goal;
using joule::latency_statistic;
using joule::objective_spec;

joule::tuning::measurement figures(double median_s, double p95_s, double joules_per_run) {
  joule::tuning::measurement m;
  m.median_s = median_s;
  m.p95_s = p95_s;
  m.joules_per_run = joules_per_run;
  m.runs = 10;
  return m;
}

TEST(Objective, ParsesAndPrints) {
  EXPECT_EQ(objective_spec::parse("energy").what(), goal::energy);
  EXPECT_FALSE(objective_spec::parse("energy").bound());
  EXPECT_EQ(objective_spec::parse("latency").what(), goal::latency);
  EXPECT_EQ(objective_spec::parse("edp").what(), goal::edp);
  const auto bounded = objective_spec::parse("energy@p95<=20ms");
  ASSERT_TRUE(bounded.bound());
  EXPECT_EQ(bounded.bound()->statistic, latency_statistic::p95);
  EXPECT_DOUBLE_EQ(bounded.bound()->seconds, 0.020);
  EXPECT_EQ(bounded.to_string(), "energy@p95<=20 ms");
  EXPECT_EQ(bounded.describe(), "least energy per inference with p95 latency <= 20 ms");
  EXPECT_DOUBLE_EQ(objective_spec::parse("energy@median<=0.5s").bound()->seconds, 0.5);
  EXPECT_EQ(objective_spec::parse("energy@median<=0.5s").bound()->statistic, latency_statistic::median);
  EXPECT_DOUBLE_EQ(objective_spec::parse("edp@p95<=750us").bound()->seconds, 750e-6);
  EXPECT_DOUBLE_EQ(objective_spec::parse("energy@p95<=20").bound()->seconds, 0.020);  // ms by default
  // The structs the library user writes.
  const objective_spec from_struct = joule::objective::least_energy{.p95_bound_ms = 25};
  EXPECT_DOUBLE_EQ(from_struct.bound()->seconds, 0.025);
  const objective_spec latency = joule::objective::least_latency{};
  EXPECT_EQ(latency.what(), goal::latency);
}

TEST(Objective, BadSpellingsAreErrors) {
  const std::pair<const char*, const char*> cases[] = {
      {"speed", "unknown goal 'speed'"},
      {"energy@p99<=20ms", "unknown latency statistic 'p99'"},
      {"energy@p95<20ms", "a bound needs '<='"},
      {"energy@p95<=fast", "the bound 'fast' is not a number"},
      {"energy@p95<=-3ms", "the bound must be positive"},
      {"energy@p95<=", "the bound '' is not a number"},
  };
  for (const auto& [text, fragment] : cases) {
    try {
      objective_spec::parse(text);
      ADD_FAILURE() << text << " parsed";
    } catch (const joule::error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(std::string("objective '") + text + "'"), std::string::npos) << what;
      EXPECT_NE(what.find(fragment), std::string::npos) << what;
      EXPECT_NE(what.find("e.g. energy@p95<=20ms"), std::string::npos) << what;
    }
  }
  EXPECT_THROW((objective_spec(joule::objective::least_energy{.p95_bound_ms = 5, .median_bound_ms = 5})), joule::error);
  EXPECT_THROW((objective_spec(joule::objective::least_energy{.p95_bound_ms = -5})), joule::error);
}

TEST(Objective, Scores) {
  const auto m = figures(0.010, 0.012, 2.0);
  EXPECT_DOUBLE_EQ(objective_spec(goal::energy).score(m, 1), 2.0);
  EXPECT_DOUBLE_EQ(objective_spec(goal::energy).score(m, 4), 0.5);  // per inference
  EXPECT_DOUBLE_EQ(objective_spec(goal::latency).score(m, 4), 0.010);
  EXPECT_DOUBLE_EQ(objective_spec(goal::edp).score(m, 4), 0.5 * 0.010);
}

TEST(Objective, BoundsUseTheirStatistic) {
  const auto m = figures(0.010, 0.030, 1.0);
  EXPECT_EQ(objective_spec::parse("energy@median<=15ms").violation(m), "");
  EXPECT_EQ(objective_spec::parse("energy@p95<=15ms").violation(m), "p95 latency 30 ms exceeds the bound 15 ms");
  EXPECT_EQ(objective_spec::parse("energy@p95<=30ms").violation(m), "");  // the bound is inclusive
  EXPECT_EQ(objective_spec(goal::energy).violation(m), "");
}

TEST(MachineKey, ParsesX86CpuInfo) {
  const char* cpuinfo =
      "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9654 96-Core Processor\n"
      "flags\t\t: fpu vme hypervisor avx2 sse2 avx512f fma sse4_2 constant_tsc avx512bw amx_tile\n\n"
      "processor\t: 1\nmodel name\t: AMD EPYC 9654 96-Core Processor\nflags\t\t: fpu avx2\n";
  joule::tuning::machine_key k;
  joule::tuning::parse_cpuinfo(cpuinfo, k);
  EXPECT_EQ(k.cpu_model, "AMD EPYC 9654 96-Core Processor");
  EXPECT_EQ(k.cpu_flags, "amx_tile avx2 avx512bw avx512f fma sse2 sse4_2");
}

TEST(MachineKey, ParsesArmCpuInfo) {
  const char* cpuinfo =
      "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes sve i8mm bf16 cpuid\n"
      "CPU implementer\t: 0x41\nCPU part\t: 0xd40\n";
  joule::tuning::machine_key k;
  joule::tuning::parse_cpuinfo(cpuinfo, k);
  EXPECT_EQ(k.cpu_model, "0xd40");
  EXPECT_EQ(k.cpu_flags, "asimd bf16 i8mm sve");
}

TEST(MachineKey, CollectsThisMachine) {
  const auto k = joule::tuning::collect_machine_key();
  EXPECT_GE(k.cores, 1);
  EXPECT_EQ(k.joule_version, joule::kVersion);
  EXPECT_FALSE(k.compiler.empty());
  EXPECT_FALSE(k.simd_arch.empty());
  EXPECT_FALSE(k.blas_kernel.empty());
  // Round trip through JSON.
  const nlohmann::json j = k;
  EXPECT_EQ(j.get<joule::tuning::machine_key>(), k);
}

}  // namespace
