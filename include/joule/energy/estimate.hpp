#pragma once
/**
 * @file estimate.hpp
 * @brief The estimate for machines with no readable energy sensor: a documented linear model of
 * CPU power, labelled estimated wherever it appears.
 *
 * The model is Cloud Carbon Footprint's compute model (https://www.cloudcarbonfootprint.org/docs/methodology/),
 * applied to one process instead of one cloud instance:
 *
 *     average watts per CPU = min + utilisation x (max - min)          (CCF)
 *
 * summed over the CPUs the process holds and integrated over time, which for a process gives
 *
 *     E [J] = (max - min) [W] x CPU-seconds of the process
 *           +  min        [W] x CPUs reserved x wall seconds
 *
 * The first term is the active power of the CPU time the process used (all its threads, from
 * CLOCK_PROCESS_CPUTIME_ID); the second is the process's share of the machine's idle power, in
 * proportion to the CPUs it holds. Defaults, per logical CPU: min = 0.74 W and max = 3.5 W, CCF's
 * averages over the AWS processor micro-architectures, taken from the SPECpower_ssj2008 database;
 * CPUs reserved = the CPUs in this process's affinity mask. Every constant can be overridden from
 * code (estimate_constants), the environment (JOULE_ESTIMATE_MAX_WATTS_PER_CPU,
 * JOULE_ESTIMATE_MIN_WATTS_PER_CPU, JOULE_ESTIMATE_CPUS_RESERVED) and the command line
 * (parse_estimate_override("max_watts_per_cpu=4.2,cpus_reserved=8")); code and command line win
 * over the environment, which wins over the defaults. Reports name the source of every constant.
 *
 * CodeCarbon's constant mode (50% of the CPU's TDP, whatever the load) is the same model with
 * min = max = 0.5 x TDP / logical CPUs and cpus_reserved = logical CPUs.
 */
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <joule/core/error.hpp>
#include <joule/energy/meter.hpp>
#include <joule/energy/sysfs.hpp>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

namespace joule::energy {

/** @brief Default power of one busy logical CPU, W: CCF's AWS average "max watts" (SPECpower). */
inline constexpr double kDefaultMaxWattsPerCpu = 3.5;
/** @brief Default power of one idle logical CPU, W: CCF's AWS average "min watts" (SPECpower). */
inline constexpr double kDefaultMinWattsPerCpu = 0.74;
/** @brief How stale the CPU time of other threads can be: one scheduler tick at HZ=250. */
inline constexpr double kCpuTimeUpdateSeconds = 4e-3;

/** @brief The model's constants as given from code or the command line; unset ones come from elsewhere. */
struct estimate_constants {
  std::optional<double> max_watts_per_cpu;  ///< W per logical CPU when busy
  std::optional<double> min_watts_per_cpu;  ///< W per logical CPU when idle
  std::optional<double> cpus_reserved;      ///< CPUs whose idle power the process is charged for
};

/** @brief One resolved constant and where its value came from. */
struct estimate_parameter {
  double value = 0;
  std::string source;  ///< "default: ...", "environment JOULE_ESTIMATE_...", "code or command line"
};

/** @brief The model with every constant resolved. */
struct estimate_model {
  estimate_parameter max_watts_per_cpu;
  estimate_parameter min_watts_per_cpu;
  estimate_parameter cpus_reserved;

  /** @brief E in joules for @p cpu_seconds of process CPU time over @p wall_seconds. */
  [[nodiscard]] double joules(double cpu_seconds, double wall_seconds) const noexcept {
    return (max_watts_per_cpu.value - min_watts_per_cpu.value) * cpu_seconds +
           min_watts_per_cpu.value * cpus_reserved.value * wall_seconds;
  }
  /** @brief The formula with its numbers and the source of each constant. */
  [[nodiscard]] std::string describe() const {
    std::ostringstream out;
    out << "E = (" << max_watts_per_cpu.value << " - " << min_watts_per_cpu.value << ") W x CPU-seconds + "
        << min_watts_per_cpu.value << " W x " << cpus_reserved.value << " CPUs x wall seconds [max "
        << max_watts_per_cpu.value << " W/CPU: " << max_watts_per_cpu.source << "; min " << min_watts_per_cpu.value
        << " W/CPU: " << min_watts_per_cpu.source << "; " << cpus_reserved.value
        << " CPUs reserved: " << cpus_reserved.source << "]";
    return out.str();
  }
};

namespace detail {

inline double parse_estimate_value(std::string_view key, std::string_view text, std::string_view where) {
  const auto v = parse_double(text);
  if (!v || *v < 0) fail(where, ": ", key, "=", quote_for_message(text), " is not a non-negative number");
  return *v;
}

inline void check_estimate_model(const estimate_model& m) {
  if (m.max_watts_per_cpu.value < m.min_watts_per_cpu.value)
    fail("energy estimate: max_watts_per_cpu (", m.max_watts_per_cpu.value, ", ", m.max_watts_per_cpu.source,
         ") is below min_watts_per_cpu (", m.min_watts_per_cpu.value, ", ", m.min_watts_per_cpu.source, ")");
  if (!(m.cpus_reserved.value > 0))
    fail("energy estimate: cpus_reserved must be positive, got ", m.cpus_reserved.value, " (", m.cpus_reserved.source,
         ")");
}

}  // namespace detail

/**
 * @brief Sets constants from "key=value[,key=value...]" with keys max_watts_per_cpu,
 * min_watts_per_cpu, cpus_reserved: what a command-line option such as --energy-estimate passes.
 * @throws joule::error naming the key for an unknown key or a bad value.
 */
inline void apply_estimate_override(estimate_constants& constants, std::string_view text) {
  text = detail::trim(text);
  while (!text.empty()) {
    const auto comma = text.find(',');
    const std::string_view item = detail::trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    if (item.empty()) continue;
    const auto eq = item.find('=');
    if (eq == std::string_view::npos) fail("energy estimate override '", item, "' is not key=value");
    const std::string_view key = detail::trim(item.substr(0, eq));
    const double value = detail::parse_estimate_value(key, item.substr(eq + 1), "energy estimate override");
    if (key == "max_watts_per_cpu")
      constants.max_watts_per_cpu = value;
    else if (key == "min_watts_per_cpu")
      constants.min_watts_per_cpu = value;
    else if (key == "cpus_reserved")
      constants.cpus_reserved = value;
    else
      fail("energy estimate override: unknown key '", key,
           "' (known: max_watts_per_cpu, min_watts_per_cpu, cpus_reserved)");
  }
}

/** @brief The constants in @p text (see apply_estimate_override). */
inline estimate_constants parse_estimate_override(std::string_view text) {
  estimate_constants c;
  apply_estimate_override(c, text);
  return c;
}

/** @brief The number of CPUs this process may run on (its affinity mask), at least 1. */
inline int cpus_in_affinity() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

/**
 * @brief Resolves every constant: code (or command line) first, then the environment (read through
 * @p getenv, none when it is empty), then the defaults. @p cpus_available is the default for
 * cpus_reserved. @throws joule::error for a malformed environment variable or inconsistent values.
 */
inline estimate_model resolve_estimate(const estimate_constants& code,
                                       const std::function<const char*(const char*)>& getenv, int cpus_available) {
  const auto pick = [&](const std::optional<double>& from_code, const char* variable, const char* key, double fallback,
                        std::string fallback_source) -> estimate_parameter {
    if (from_code) return {*from_code, "code or command line"};
    if (getenv)
      if (const char* env = getenv(variable); env && *env)
        return {detail::parse_estimate_value(key, env, std::string("environment ") + variable),
                std::string("environment ") + variable};
    return {fallback, std::move(fallback_source)};
  };
  estimate_model m;
  m.max_watts_per_cpu = pick(code.max_watts_per_cpu, "JOULE_ESTIMATE_MAX_WATTS_PER_CPU", "max_watts_per_cpu",
                             kDefaultMaxWattsPerCpu, "default, Cloud Carbon Footprint's AWS average from SPECpower");
  m.min_watts_per_cpu = pick(code.min_watts_per_cpu, "JOULE_ESTIMATE_MIN_WATTS_PER_CPU", "min_watts_per_cpu",
                             kDefaultMinWattsPerCpu, "default, Cloud Carbon Footprint's AWS average from SPECpower");
  m.cpus_reserved =
      pick(code.cpus_reserved, "JOULE_ESTIMATE_CPUS_RESERVED", "cpus_reserved",
           static_cast<double>(std::max(cpus_available, 1)), "default, the CPUs in this process's affinity mask");
  detail::check_estimate_model(m);
  return m;
}

/** @brief CPU seconds used so far by every thread of this process (CLOCK_PROCESS_CPUTIME_ID). */
inline double process_cpu_seconds() {
  timespec ts{};
  if (::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) fail("clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

/** @brief The "model name" line of a cpuinfo file, or "unknown CPU". */
inline std::string cpu_model_name(const std::filesystem::path& cpuinfo = "/proc/cpuinfo",
                                  const file_reader& reader = read_small_file) {
  const file_read r = reader(cpuinfo);
  if (!r.ok()) return "unknown CPU";
  std::istringstream lines(r.text);
  for (std::string line; std::getline(lines, line);) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    if (detail::trim(std::string_view(line).substr(0, colon)) == "model name") {
      std::string name(detail::trim(std::string_view(line).substr(colon + 1)));
      if (!name.empty()) return name;
    }
  }
  return "unknown CPU";
}

/** @brief What the estimate reads: its constants and, for tests, its clocks and files. */
struct estimate_options {
  estimate_constants constants;  ///< from code or the command line; wins over the environment
  bool use_environment = true;
  std::function<const char*(const char*)> getenv = [](const char* name) -> const char* { return std::getenv(name); };
  std::function<double()> cpu_seconds = process_cpu_seconds;
  std::function<steady_clock::time_point()> now = [] { return steady_clock::now(); };
  int cpus_available = 0;  ///< 0: the CPUs in the affinity mask
  std::filesystem::path cpuinfo = "/proc/cpuinfo";
  file_reader reader = read_small_file;
};

/** @brief The estimate as a meter: one domain "cpu", kind estimated. */
class estimate_meter final : public meter {
 public:
  /** @throws joule::error for malformed or inconsistent constants. */
  explicit estimate_meter(estimate_options options = {}) : options_(std::move(options)) {
    model_ = resolve_estimate(options_.constants, options_.use_environment ? options_.getenv : nullptr,
                              options_.cpus_available > 0 ? options_.cpus_available : cpus_in_affinity());
    cpu_model_ = cpu_model_name(options_.cpuinfo, options_.reader);
    cpu_start_ = options_.cpu_seconds();
    wall_start_ = options_.now();
  }

  [[nodiscard]] std::string name() const override { return "estimate"; }
  [[nodiscard]] std::vector<domain_info> domains() const override {
    return {{"cpu", meter_kind::estimated, true, "model: " + model_.describe()}};
  }
  energy_reading read() override {
    std::lock_guard lock(mutex_);
    const double cpu = options_.cpu_seconds() - cpu_start_;
    const auto t = options_.now();
    energy_reading r;
    r.domains.push_back({"cpu", model_.joules(cpu, seconds(t - wall_start_).count()), meter_kind::estimated, true});
    r.when = t;
    return r;
  }
  [[nodiscard]] meter_resolution resolution() const override {
    return {model_.max_watts_per_cpu.value * 1e-9, seconds{kCpuTimeUpdateSeconds}};
  }
  [[nodiscard]] std::string description() const override {
    return "estimate (no energy sensor read): CPU " + cpu_model_ + "; " + model_.describe();
  }
  /** @brief The resolved model. */
  [[nodiscard]] const estimate_model& model() const noexcept { return model_; }
  /** @brief The CPU model name read from cpuinfo. */
  [[nodiscard]] const std::string& cpu_model() const noexcept { return cpu_model_; }

 private:
  estimate_options options_;
  estimate_model model_;
  std::string cpu_model_;
  double cpu_start_ = 0;
  steady_clock::time_point wall_start_{};
  std::mutex mutex_;
};

/**
 * @brief Opens the estimate and reads it twice to check that it gives finite, non-decreasing
 * figures. It does not need to advance: a process that sleeps and is charged for no idle CPU
 * (cpus_reserved tiny, min 0) may use no energy.
 */
inline open_result open_estimate(const estimate_options& options = {}) {
  try {
    auto m = std::make_unique<estimate_meter>(options);
    const double a = m->read().total_joules();
    const double b = m->read().total_joules();
    if (!std::isfinite(a) || !std::isfinite(b) || b < a)
      return {nullptr, "the estimate gave a non-finite or decreasing figure"};
    return {std::move(m), {}};
  } catch (const joule::error& e) {
    return {nullptr, e.what()};
  }
}

}  // namespace joule::energy
