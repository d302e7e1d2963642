#pragma once
// Meters with exactly known readings, for testing measure(), the benchmark helper and
// combined_meter without any sensor.
#include <atomic>
#include <joule/energy/meter.hpp>
#include <string>
#include <vector>

namespace joule_test {

/**
 * @brief Energy = joules_per_call x calls, where the work under test calls count() once per run:
 * a meter whose per-run energy is exact whatever the timing.
 */
class counting_meter final : public joule::energy::meter {
 public:
  explicit counting_meter(double joules_per_call, joule::energy::meter_kind kind = joule::energy::meter_kind::measured,
                          joule::energy::meter_resolution resolution = {1e-9, joule::energy::seconds{0}})
      : joules_per_call_(joules_per_call), kind_(kind), resolution_(resolution) {}

  void count() { calls_.fetch_add(1, std::memory_order_relaxed); }
  [[nodiscard]] long calls() const { return calls_.load(); }

  [[nodiscard]] std::string name() const override { return "counting"; }
  [[nodiscard]] std::vector<joule::energy::domain_info> domains() const override {
    return {{"cpu", kind_, true, "calls x constant"}};
  }
  joule::energy::energy_reading read() override {
    joule::energy::energy_reading r;
    r.domains.push_back({"cpu", joules_per_call_ * static_cast<double>(calls_.load()), kind_, true});
    r.when = joule::energy::steady_clock::now();
    return r;
  }
  [[nodiscard]] joule::energy::meter_resolution resolution() const override { return resolution_; }

 private:
  double joules_per_call_;
  joule::energy::meter_kind kind_;
  joule::energy::meter_resolution resolution_;
  std::atomic<long> calls_{0};
};

/** @brief Energy = watts x time since construction, from the reading's own timestamp. */
class constant_power_meter final : public joule::energy::meter {
 public:
  explicit constant_power_meter(double watts) : watts_(watts), start_(joule::energy::steady_clock::now()) {}

  [[nodiscard]] std::string name() const override { return "constant-power"; }
  [[nodiscard]] std::vector<joule::energy::domain_info> domains() const override {
    return {{"package-0", joule::energy::meter_kind::measured, true, "watts x time"}};
  }
  joule::energy::energy_reading read() override {
    joule::energy::energy_reading r;
    r.when = joule::energy::steady_clock::now();
    r.domains.push_back({"package-0", watts_ * joule::energy::seconds(r.when - start_).count(),
                         joule::energy::meter_kind::measured, true});
    return r;
  }
  [[nodiscard]] joule::energy::meter_resolution resolution() const override {
    return {1e-9, joule::energy::seconds{0}};
  }

 private:
  double watts_;
  joule::energy::steady_clock::time_point start_;
};

}  // namespace joule_test
