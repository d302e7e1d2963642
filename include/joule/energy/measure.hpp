#pragma once
/**
 * @file measure.hpp
 * @brief energy::measure(): time and energy per run of a callable, repeated until the 95%
 * confidence intervals are tight or a time budget ends.
 *
 * The procedure:
 *  1. optional idle baseline: read the meter across idle_baseline of sleep, giving idle watts,
 *     which are reported beside the result and never subtracted from it;
 *  2. warmup_runs calls, not measured;
 *  3. windows: read the meter, call the work until the window's length has passed, read again.
 *     A window lasts at least min_window and at least window_update_factor refresh intervals of
 *     the meter, so the counter's quantisation is a small part of it; a window that used less than
 *     window_resolution_factor steps of the counter doubles the length of the next ones;
 *  4. stop when, after min_windows windows, the 95% CI half-width of both the time and the energy
 *     per run is within target_ci of its mean, or when the budget (counted from the call, idle
 *     baseline and warm-ups included) has passed, or after max_windows.
 *
 * Per-run figures: the mean is the total over all windows divided by all runs; median and p95 of
 * time come from the individual calls (each timed with steady_clock), median and p95 of energy from
 * the windows' per-run values; the CIs use Student's t over the windows' per-run values, since
 * the windows, not the calls, are the independent samples of energy.
 *
 * Meters that need polling (poll_interval() > 0) are polled by a sampling_thread for the whole call.
 */
#include <algorithm>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <functional>
#include <joule/core/error.hpp>
#include <joule/energy/meter.hpp>
#include <joule/energy/probe.hpp>
#include <limits>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace joule::energy {

/** @brief How long and how precisely measure() measures. */
struct measure_options {
  int warmup_runs = 3;
  seconds min_window{0.05};
  double window_update_factor = 10;       ///< window >= this many meter refresh intervals
  double window_resolution_factor = 100;  ///< a window should span this many counter steps
  int min_windows = 5;
  int max_windows = 10000;
  double target_ci = 0.05;  ///< relative 95% CI half-width, for time and for energy
  /** @brief Time for the whole call, warm-ups and idle baseline included; min_windows are always measured. */
  seconds budget{10.0};
  seconds idle_baseline{0};  ///< zero: no idle baseline
};

/** @brief Summary of a set of samples. */
struct statistic {
  double mean = 0;
  double median = 0;
  double p95 = 0;
  double ci95 = 0;          ///< half-width of the 95% confidence interval of the mean
  std::size_t samples = 0;  ///< samples the median and p95 come from
  /** @brief ci95 / |mean|; infinity when the mean is zero. */
  [[nodiscard]] double relative_ci() const noexcept {
    return mean != 0 ? ci95 / std::abs(mean) : std::numeric_limits<double>::infinity();
  }
};

/** @brief Energy per run of one domain. */
struct domain_energy {
  std::string name;
  meter_kind kind = meter_kind::measured;
  bool in_total = true;
  double joules_per_run = 0;
};

/** @brief What measure() found. */
struct measurement {
  std::string meter_name;
  std::string meter_description;
  meter_kind kind = meter_kind::measured;  ///< kind of the energy figures (the total's kind)
  statistic seconds_per_run;
  statistic joules_per_run;
  std::size_t runs = 0;
  std::size_t windows = 0;
  int warmup_runs = 0;
  double window_seconds = 0;    ///< the window length used at the end
  double measured_seconds = 0;  ///< sum of the windows' durations
  double measured_joules = 0;   ///< energy over all windows
  double average_watts = 0;     ///< measured_joules / measured_seconds
  bool converged = false;       ///< the CI target was met
  std::string stop_reason;
  std::optional<double> idle_watts;  ///< idle baseline, when asked for; never subtracted
  std::vector<domain_energy> domains;
  std::string probe_report;  ///< filled by the measure() overload that probes

  /**
   * @brief Energy per run above the idle baseline: mean J/run - idle W x mean s/run. Only with a
   * baseline; a separate figure, never what joules_per_run holds.
   */
  [[nodiscard]] std::optional<double> joules_per_run_above_idle() const {
    if (!idle_watts) return std::nullopt;
    return joules_per_run.mean - *idle_watts * seconds_per_run.mean;
  }

  /** @brief A readable summary; every energy figure carries "measured" or "estimated". */
  [[nodiscard]] std::string report() const;
};

namespace detail {

/** @brief The 97.5% quantile of Student's t with @p dof degrees of freedom (two-sided 95%). */
inline double student_t_975(std::size_t dof) {
  static constexpr double table[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                     2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                     2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  if (dof == 0) return std::numeric_limits<double>::infinity();
  if (dof <= 30) return table[dof - 1];
  // Cornish-Fisher expansion around the normal quantile; within 1e-3 of the exact value above 30.
  const double z = 1.959963984540054, n = static_cast<double>(dof);
  return z + (z * z * z + z) / (4 * n) + (5 * std::pow(z, 5) + 16 * z * z * z + 3 * z) / (96 * n * n);
}

/** @brief The q-quantile of sorted samples, linear between order statistics. */
inline double quantile_sorted(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const auto hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

/** @brief Mean and 95% CI half-width of @p samples (t over n - 1 degrees of freedom). */
inline std::pair<double, double> mean_ci95(const std::vector<double>& samples) {
  const std::size_t n = samples.size();
  if (n == 0) return {0, std::numeric_limits<double>::infinity()};
  double mean = 0;
  for (double x : samples) mean += x;
  mean /= static_cast<double>(n);
  if (n < 2) return {mean, std::numeric_limits<double>::infinity()};
  double ss = 0;
  for (double x : samples) ss += (x - mean) * (x - mean);
  const double sd = std::sqrt(ss / static_cast<double>(n - 1));
  return {mean, student_t_975(n - 1) * sd / std::sqrt(static_cast<double>(n))};
}

/** @brief Mean, median, p95 and 95% CI of @p samples. */
inline statistic summarize(std::vector<double> samples) {
  statistic s;
  s.samples = samples.size();
  std::tie(s.mean, s.ci95) = mean_ci95(samples);
  std::sort(samples.begin(), samples.end());
  s.median = quantile_sorted(samples, 0.5);
  s.p95 = quantile_sorted(samples, 0.95);
  return s;
}

/** @brief @p value with an SI prefix: "1.23 ms", "456 uJ", "2.5 W". */
inline std::string format_si(double value, const char* unit) {
  static constexpr std::pair<double, const char*> scales[] = {{1, ""}, {1e-3, "m"}, {1e-6, "u"}, {1e-9, "n"}};
  std::ostringstream out;
  out.precision(4);
  if (value == 0 || !std::isfinite(value)) {
    out << value << " " << unit;
    return out.str();
  }
  for (const auto& [scale, prefix] : scales)
    if (std::abs(value) >= scale || scale == 1e-9) {
      out << value / scale << " " << prefix << unit;
      return out.str();
    }
  return out.str();
}

inline std::string format_percent(double fraction) {
  if (!std::isfinite(fraction)) return "unbounded";
  std::ostringstream out;
  out.precision(3);
  out << "+-" << fraction * 100 << "%";
  return out.str();
}

/**
 * @brief Keeps at most kLimit per-call times, chosen uniformly (reservoir sampling with a fixed
 * seed), so measuring a microsecond-long call for minutes does not grow memory without bound.
 */
class call_times {
 public:
  static constexpr std::size_t kLimit = 200000;
  void add(double seconds_taken) {
    ++seen_;
    if (kept_.size() < kLimit)
      kept_.push_back(seconds_taken);
    else if (const auto slot = std::uniform_int_distribution<std::uint64_t>(0, seen_ - 1)(rng_); slot < kLimit)
      kept_[slot] = seconds_taken;
  }
  [[nodiscard]] const std::vector<double>& samples() const noexcept { return kept_; }

 private:
  std::vector<double> kept_;
  std::uint64_t seen_ = 0;
  std::mt19937_64 rng_{0x6a6f756c65};
};

inline void check_measure_options(const measure_options& o) {
  require(o.warmup_runs >= 0, "energy::measure: warmup_runs must be >= 0, got ", o.warmup_runs);
  require(o.min_windows >= 2, "energy::measure: min_windows must be >= 2 (a CI needs two windows), got ",
          o.min_windows);
  require(o.max_windows >= o.min_windows, "energy::measure: max_windows (", o.max_windows, ") is below min_windows (",
          o.min_windows, ")");
  require(o.target_ci > 0, "energy::measure: target_ci must be positive, got ", o.target_ci);
  require(o.min_window.count() >= 0 && o.budget.count() >= 0 && o.idle_baseline.count() >= 0,
          "energy::measure: durations must be non-negative");
  require(o.window_update_factor >= 0 && o.window_resolution_factor >= 0,
          "energy::measure: window factors must be non-negative");
}

}  // namespace detail

inline std::string measurement::report() const {
  using detail::format_percent;
  using detail::format_si;
  const char* k = to_string(kind);
  std::ostringstream out;
  out << "energy measurement with " << meter_name << " (" << k << ")\n";
  out << "  " << runs << " runs in " << windows << " windows of ~" << format_si(window_seconds, "s") << " after "
      << warmup_runs << " warm-up runs; " << (converged ? "converged: " : "not converged: ") << stop_reason << "\n";
  out << "  time per run:   mean " << format_si(seconds_per_run.mean, "s") << ", median "
      << format_si(seconds_per_run.median, "s") << ", p95 " << format_si(seconds_per_run.p95, "s") << ", 95% CI "
      << format_percent(seconds_per_run.relative_ci()) << "\n";
  out << "  energy per run: mean " << format_si(joules_per_run.mean, "J") << " (" << k << "), median "
      << format_si(joules_per_run.median, "J") << ", p95 " << format_si(joules_per_run.p95, "J") << ", 95% CI "
      << format_percent(joules_per_run.relative_ci()) << "\n";
  out << "  average power:  " << format_si(average_watts, "W") << " (" << k << ")\n";
  for (const auto& d : domains)
    out << "  domain " << d.name << ": " << format_si(d.joules_per_run, "J") << " per run (" << to_string(d.kind)
        << (d.in_total ? "" : ", not added to the total") << ")\n";
  if (idle_watts)
    out << "  idle baseline:  " << format_si(*idle_watts, "W") << " (" << k
        << ", measured separately; NOT subtracted from the figures above; above idle: "
        << format_si(*joules_per_run_above_idle(), "J") << " per run)\n";
  return out.str();
}

/**
 * @brief Measures time and energy per call of @p work with meter @p m (see the file comment).
 * @throws joule::error for invalid options, or when the meter fails while measuring.
 */
template <class F>
requires std::invocable<F&> measurement measure(meter& m, F&& work, const measure_options& options = {}) {
  detail::check_measure_options(options);
  const auto start = steady_clock::now();
  const auto deadline = start + std::chrono::duration_cast<steady_clock::duration>(options.budget);
  sampling_thread poller(m, m.poll_interval());

  measurement out;
  out.meter_name = m.name();
  out.meter_description = m.description();
  out.warmup_runs = options.warmup_runs;

  if (options.idle_baseline.count() > 0) {
    const energy_reading a = m.read();
    std::this_thread::sleep_for(options.idle_baseline);
    const energy_reading b = m.read();
    out.idle_watts = joules_between(a, b) / std::max(seconds_between(a, b), 1e-9);
  }
  for (int i = 0; i < options.warmup_runs; ++i) std::invoke(work);

  const meter_resolution res = m.resolution();
  double window = std::max(options.min_window.count(), options.window_update_factor * res.update_interval.count());
  const double longest_window = std::max(window, options.budget.count() / options.min_windows);

  detail::call_times calls;
  std::vector<double> time_per_run, energy_per_run;
  std::vector<domain_energy> domains;
  for (const auto& d : m.domains()) domains.push_back({d.name, d.kind, d.in_total, 0});
  meter_kind kind = meter_kind::measured;
  double call_seconds_total = 0;

  for (;;) {
    const energy_reading before = m.read();
    std::size_t n = 0;
    double busy = 0;
    for (;;) {
      const auto t0 = steady_clock::now();
      std::invoke(work);
      const auto t1 = steady_clock::now();
      const double dt = seconds(t1 - t0).count();
      calls.add(dt);
      busy += dt;
      ++n;
      if (seconds(t1 - before.when).count() >= window) break;
    }
    const energy_reading after = m.read();
    const double joules = joules_between(before, after);
    kind = combine(kind, after.kind());
    for (std::size_t d = 0; d < domains.size() && d < after.domains.size(); ++d)
      domains[d].joules_per_run += after.domains[d].joules - before.domains[d].joules;

    time_per_run.push_back(busy / static_cast<double>(n));
    energy_per_run.push_back(joules / static_cast<double>(n));
    out.runs += n;
    out.windows += 1;
    call_seconds_total += busy;
    out.measured_seconds += seconds_between(before, after);
    out.measured_joules += joules;
    // Too little energy for the counter's step: lengthen the windows still to come.
    if (joules < options.window_resolution_factor * res.joules) window = std::min(window * 2, longest_window);

    if (out.windows < static_cast<std::size_t>(options.min_windows)) continue;
    constexpr double kUnbounded = std::numeric_limits<double>::infinity();
    const auto [time_mean, time_half] = detail::mean_ci95(time_per_run);
    const auto [energy_mean, energy_half] = detail::mean_ci95(energy_per_run);
    const double time_ci = time_mean > 0 ? time_half / time_mean : kUnbounded;
    const double energy_ci = energy_mean > 0 ? energy_half / energy_mean : kUnbounded;
    std::ostringstream why;
    if (time_ci <= options.target_ci && energy_ci <= options.target_ci) {
      out.converged = true;
      why << "95% CI within " << options.target_ci * 100 << "% for time and energy";
    } else if (out.windows >= static_cast<std::size_t>(options.max_windows)) {
      why << "max_windows (" << options.max_windows << ") reached";
    } else if (steady_clock::now() >= deadline) {
      why << "time budget of " << options.budget.count() << " s used";
    } else {
      continue;
    }
    why << " (time " << detail::format_percent(time_ci) << ", energy " << detail::format_percent(energy_ci) << ")";
    out.stop_reason = why.str();
    break;
  }
  poller.stop();

  const double runs = static_cast<double>(out.runs);
  out.kind = kind;
  out.window_seconds = window;
  out.seconds_per_run = detail::summarize(calls.samples());
  out.seconds_per_run.mean = call_seconds_total / runs;
  out.seconds_per_run.ci95 = detail::mean_ci95(time_per_run).second;
  out.joules_per_run = detail::summarize(energy_per_run);
  out.joules_per_run.mean = out.measured_joules / runs;
  out.average_watts = out.measured_seconds > 0 ? out.measured_joules / out.measured_seconds : 0;
  for (auto& d : domains) d.joules_per_run /= runs;
  out.domains = std::move(domains);
  return out;
}

/**
 * @brief Probes this machine's meters (probe()), then measures @p work with the chosen one; the
 * probe's report is kept in measurement::probe_report.
 */
template <class F>
requires std::invocable<F&> measurement measure(F&& work, const measure_options& options = {},
                                                const probe_options& meters = {}) {
  probe_result p = probe(meters);
  measurement out = measure(*p.chosen, std::forward<F>(work), options);
  out.probe_report = p.report();
  return out;
}

}  // namespace joule::energy
