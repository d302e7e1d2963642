#pragma once
// Fakes for the chooser's tests: a meter whose kind is chosen by the test, candidates whose
// "executors" return a fixed output, and a measure function that returns figures from a table
// instead of timing anything, so every score and every choice is deterministic.
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <joule/choose/shootout.hpp>
#include <joule/energy/meter.hpp>

namespace choose_test {

/** A meter that counts 1 J per read: enough for measure_once and energy::measure to run. */
class fake_meter final : public joule::energy::meter {
 public:
  explicit fake_meter(joule::energy::meter_kind kind = joule::energy::meter_kind::measured) : kind_(kind) {}
  std::string name() const override { return "fake"; }
  std::vector<joule::energy::domain_info> domains() const override { return {{"fake", kind_, true, "test"}}; }
  joule::energy::energy_reading read() override {
    joules_ += 1.0;
    return {{{"fake", joules_, kind_, true}}, joule::energy::steady_clock::now()};
  }
  joule::energy::meter_resolution resolution() const override { return {1e-6, joule::energy::seconds(0)}; }

 private:
  joule::energy::meter_kind kind_;
  double joules_ = 0;
};

/** What a fake candidate "measures": seconds per run and joules per run. */
struct fake_figures {
  double seconds = 0.01;
  double joules = 1.0;
  double p95_factor = 1.1;  // p95 = seconds x this
};

/** A fake executor: output() is a fixed 2x3 tensor, scaled by (1 + error) to simulate a wrong kernel. */
struct fake_executor {
  joule::tensor<float> out{joule::shape{2, 3}, {1.f, -2.f, 3.f, 0.5f, 4.f, -1.f}};
  int runs = 0;
};

/** Builds candidates and answers measure requests from the figures table. */
class fake_world {
 public:
  /** Adds a candidate with figures; @p error perturbs its output by that relative amount. */
  void add(const std::string& policy, int threads, const fake_figures& f, float error = 0.f) {
    const std::string name = policy + "/" + std::to_string(threads);
    figures_[name] = f;
    joule::tuning::candidate c;
    c.policy = policy;
    c.threads = threads;
    c.build = [this, name, error] {
      ++builds_[name];
      auto exec = std::make_shared<fake_executor>();
      for (auto& x : exec->out.span()) x *= 1.f + error;
      current_ = name;
      return joule::tuning::make_instance([exec] { ++exec->runs; }, [exec] { return exec->out.cview(); });
    };
    candidates_.push_back(std::move(c));
  }
  void add_unavailable(const std::string& policy, const std::string& reason) {
    joule::tuning::candidate c;
    c.policy = policy;
    c.threads = 1;
    c.unavailable = reason;
    candidates_.push_back(std::move(c));
  }
  void add_throwing(const std::string& policy, int threads, const std::string& message) {
    joule::tuning::candidate c;
    c.policy = policy;
    c.threads = threads;
    c.build = [message]() -> std::unique_ptr<joule::tuning::candidate_instance> { throw joule::error(message); };
    candidates_.push_back(std::move(c));
  }
  /** Replaces the output of @p policy/@p threads with one holding a NaN, or of another shape. */
  void add_custom(const std::string& policy, int threads, const fake_figures& f, joule::tensor<float> output) {
    const std::string name = policy + "/" + std::to_string(threads);
    figures_[name] = f;
    auto exec = std::make_shared<joule::tensor<float>>(std::move(output));
    joule::tuning::candidate c;
    c.policy = policy;
    c.threads = threads;
    c.build = [this, name, exec] {
      ++builds_[name];
      current_ = name;
      return joule::tuning::make_instance([] {}, [exec] { return exec->cview(); });
    };
    candidates_.push_back(std::move(c));
  }

  const std::vector<joule::tuning::candidate>& candidates() const { return candidates_; }
  int builds(const std::string& name) const { return builds_.count(name) ? builds_.at(name) : 0; }
  int measurements() const { return measurements_; }
  int full_measurements() const { return full_measurements_; }

  /** Options whose measure function returns the table's figures for the candidate last built. */
  joule::tuning::shootout_options options(joule::objective_spec objective = {}) {
    joule::tuning::shootout_options o;
    o.objective = objective;
    o.budget_s = 1.0;
    o.measure = [this](joule::tuning::candidate_instance& inst, const joule::tuning::measure_request& r) {
      inst.run();
      ++measurements_;
      if (!r.once) ++full_measurements_;
      const fake_figures& f = figures_.at(current_);
      joule::tuning::measurement m;
      m.median_s = m.mean_s = f.seconds;
      m.p95_s = f.seconds * f.p95_factor;
      m.joules_per_run = f.joules;
      m.watts = f.joules / f.seconds;
      m.kind = joule::energy::meter_kind::measured;
      m.meter = "fake";
      m.runs = r.once ? 1 : 10;
      m.seconds = r.once ? f.seconds : 10 * f.seconds;
      m.stop_reason = r.once ? "one run" : "fake";
      return m;
    };
    return o;
  }

 private:
  std::vector<joule::tuning::candidate> candidates_;
  std::map<std::string, fake_figures> figures_;
  std::map<std::string, int> builds_;
  std::string current_;
  int measurements_ = 0, full_measurements_ = 0;
};

/** A machine key that does not depend on the machine the test runs on. */
inline joule::tuning::machine_key test_machine() {
  joule::tuning::machine_key k;
  k.cpu_model = "Test CPU 9000";
  k.cpu_flags = "avx avx2 fma";
  k.cores = 4;
  k.joule_version = "0.1.0";
  k.blas_library = "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64";
  k.blas_kernel = "Haswell";
  k.simd_arch = "avx2";
  k.compiler = "gcc 12.2.0";
  return k;
}

inline joule::tuning::shootout_subject test_subject() { return {"fakenet", "0123456789abcdef", "1x3", 1, "float32"}; }

/** A fresh empty directory under the build tree's temp space, removed by the destructor. */
class temp_dir {
 public:
  temp_dir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() / ("joule_choose_" + std::string(info->test_suite_name()) + "_" +
                                                      info->name() + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~temp_dir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/** The row called @p name ("simd/2") of @p report. */
inline const joule::tuning::shootout_row& row(const joule::tuning::shootout_report& report, const std::string& name) {
  for (const auto& r : report.rows)
    if (r.name() == name) return r;
  throw std::runtime_error("no row " + name);
}

}  // namespace choose_test
