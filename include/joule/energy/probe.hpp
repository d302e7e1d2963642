#pragma once
/**
 * @file probe.hpp
 * @brief Finds the best energy meters this machine offers and says why the others are unavailable.
 *
 * The CPU side tries, in order, RAPL through powercap, the perf power PMU, then the estimate; the
 * first that opens and advances is used. The GPU side tries NVML. The chosen meter combines the CPU
 * meter and the GPU meter (when there is one) as separate domains, each with its own kind, so an
 * estimated CPU beside a measured GPU gives a total labelled estimated and a GPU domain still
 * labelled measured. Every attempt is kept with its reason, and report() prints them all.
 */
#include <joule/core/error.hpp>
#include <joule/energy/estimate.hpp>
#include <joule/energy/meter.hpp>
#include <joule/energy/nvml.hpp>
#include <joule/energy/perf_power.hpp>
#include <joule/energy/rapl.hpp>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace joule::energy {

/** @brief One meter the probe tried. */
struct attempt {
  std::string meter;   ///< "rapl", "perf-power", "estimate", "nvml"
  std::string role;    ///< "cpu" or "gpu"
  bool ok = false;     ///< opened and advanced
  std::string reason;  ///< why it is unavailable; empty when ok
};

/** @brief Which meters to try and how to reach each; the defaults read the real machine. */
struct probe_options {
  bool try_rapl = true;
  bool try_perf_power = true;
  bool try_nvml = true;
  rapl_options rapl;
  perf_power_options perf_power;
  nvml_options nvml;
  estimate_options estimate;
  advance_check check;
};

/** @brief The meter chosen and every attempt, in the order made. */
struct probe_result {
  std::unique_ptr<meter> chosen;  ///< never null after probe() returns
  std::vector<attempt> attempts;

  /** @brief Kind of the chosen meter's total. */
  [[nodiscard]] meter_kind kind() const { return chosen ? chosen->kind() : meter_kind::estimated; }

  /** @brief Every meter tried and why each failed, what is used, and whether figures are measured. */
  [[nodiscard]] std::string report() const {
    std::ostringstream out;
    out << "energy meters tried:\n";
    for (const auto& a : attempts) {
      out << "  " << a.meter << " (" << a.role << "): ";
      if (a.ok)
        out << "available\n";
      else
        out << "unavailable: " << a.reason << "\n";
    }
    if (!chosen) {
      out << "no meter could be opened\n";
      return out.str();
    }
    out << "using: " << chosen->description() << "\n";
    out << "domains:";
    std::vector<std::string> measured, estimated;
    for (const auto& d : chosen->domains()) {
      out << " " << d.name << " (" << to_string(d.kind) << (d.in_total ? "" : ", shown, not added to the total") << ")";
      if (d.in_total) (d.kind == meter_kind::measured ? measured : estimated).push_back(d.name);
    }
    out << "\n";
    const auto join = [](const std::vector<std::string>& names) {
      std::string s;
      for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
      return s;
    };
    if (estimated.empty())
      out << "figures are measured (" << join(measured) << ")\n";
    else if (measured.empty())
      out << "figures are ESTIMATED, not measured: no energy sensor could be read for " << join(estimated)
          << " (reasons above)\n";
    else
      out << "the total is ESTIMATED: " << join(estimated) << " estimated, " << join(measured)
          << " measured; use the per-domain figures for measured values\n";
    return out.str();
  }
};

/**
 * @brief Tries every meter and returns the best combination with the reason for each failure.
 * @throws joule::error only when even the estimate cannot be opened (malformed overrides).
 */
inline probe_result probe(const probe_options& options = {}) {
  probe_result result;
  std::unique_ptr<meter> cpu;
  const auto try_one = [&](const char* name, const char* role, bool enabled, auto&& open) -> std::unique_ptr<meter> {
    attempt a{name, role, false, {}};
    if (!enabled) {
      a.reason = "skipped (disabled in probe_options)";
      result.attempts.push_back(std::move(a));
      return nullptr;
    }
    open_result r = open();
    a.ok = static_cast<bool>(r);
    a.reason = std::move(r.reason);
    result.attempts.push_back(std::move(a));
    return std::move(r.opened);
  };

  cpu = try_one("rapl", "cpu", options.try_rapl, [&] { return open_rapl(options.rapl, options.check); });
  if (!cpu)
    cpu = try_one("perf-power", "cpu", options.try_perf_power,
                  [&] { return open_perf_power(options.perf_power, options.check); });
  if (!cpu) cpu = try_one("estimate", "cpu", true, [&] { return open_estimate(options.estimate); });
  std::unique_ptr<meter> gpu =
      try_one("nvml", "gpu", options.try_nvml, [&] { return open_nvml(options.nvml, options.check); });

  if (!cpu) fail("energy::probe: even the estimate could not be opened\n", result.report());
  if (!gpu) {
    result.chosen = std::move(cpu);
  } else {
    std::vector<std::unique_ptr<meter>> parts;
    parts.push_back(std::move(cpu));
    parts.push_back(std::move(gpu));
    result.chosen = std::make_unique<combined_meter>(std::move(parts));
  }
  return result;
}

}  // namespace joule::energy
