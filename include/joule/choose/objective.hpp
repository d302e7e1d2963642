#pragma once
/**
 * @file objective.hpp
 * @brief What the chooser minimises: energy per inference (the default), latency, or the
 * energy-delay product, optionally subject to a latency bound on the median or the p95.
 *
 * @code
 * joule::objective::least_energy{}                      // least J/inference
 * joule::objective::least_energy{.p95_bound_ms = 25}    // least J/inference with p95 latency <= 25 ms
 * joule::objective::least_latency{}                     // least median latency
 * joule::objective::least_edp{}                         // least J/inference x median latency
 * joule::objective_spec::parse("energy@p95<=20ms")      // the command line's spelling
 * @endcode
 */
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>
#include <string_view>

#include <joule/core/error.hpp>
#include <joule/energy/meter.hpp>

namespace joule {

/** @brief The latency statistic a bound applies to. */
enum class latency_statistic { median, p95 };

inline const char* to_string(latency_statistic s) noexcept { return s == latency_statistic::median ? "median" : "p95"; }

namespace tuning {
/**
 * @brief One energy domain's share of a run: a GPU candidate is measured with the GPU's meter
 * (NVML) and the host CPU's (RAPL, perf or the estimate) over the same window, and each is kept
 * apart, so the host's launch and copy work is charged to the GPU backend and each figure keeps
 * its own kind (a measured GPU figure beside an estimated CPU one).
 */
struct domain_share {
  std::string name;           ///< "package-0", "cpu", "gpu:0"
  double joules_per_run = 0;  ///< this domain's energy of one run
  energy::meter_kind kind = energy::meter_kind::estimated;
  bool in_total = true;  ///< false: overlaps a counted domain, shown only
  friend bool operator==(const domain_share&, const domain_share&) = default;
};

/** @brief What one candidate measured, per run() of its executor (one batch). */
struct measurement {
  double median_s = 0;        ///< median latency of one run
  double p95_s = 0;           ///< 95th percentile latency of one run
  double mean_s = 0;          ///< mean latency of one run
  double joules_per_run = 0;  ///< energy of one run (one batch)
  double joules_ci95 = 0;     ///< half-width of the 95% confidence interval of joules_per_run (0: unknown)
  double watts = 0;           ///< mean power while running
  energy::meter_kind kind = energy::meter_kind::estimated;  ///< where the energy figures come from
  std::string meter;                                        ///< the meter's name ("rapl", "estimate", ...)
  double flops_per_run = 0;                                 ///< floating-point operations of one run (0: unknown)
  int runs = 0;                                             ///< timed runs the figures come from
  double seconds = 0;                                       ///< wall time the measurement took
  std::string stop_reason;            ///< why measuring stopped: confidence reached, budget, one run over budget
  std::vector<domain_share> domains;  ///< per energy domain, when the meter has several (empty: unknown)
};

/** @brief "measured" or "estimated". */
inline const char* energy_kind(const measurement& m) noexcept { return energy::to_string(m.kind); }
}  // namespace tuning

/** @brief A latency bound: the statistic must not exceed @p seconds. */
struct latency_bound {
  latency_statistic statistic = latency_statistic::p95;
  double seconds = 0;
  double value_of(const tuning::measurement& m) const noexcept {
    return statistic == latency_statistic::median ? m.median_s : m.p95_s;
  }
};

/** @brief The objectives, spelled as the user writes them. A bound of 0 means "no bound". */
namespace objective {
/** @brief Least energy per inference; optionally only among candidates meeting a latency bound. */
struct least_energy {
  double p95_bound_ms = 0;     ///< if > 0: p95 latency of one run must be <= this
  double median_bound_ms = 0;  ///< if > 0: median latency of one run must be <= this
};
/** @brief Least median latency of one run. */
struct least_latency {
  double p95_bound_ms = 0;
  double median_bound_ms = 0;
};
/** @brief Least energy-delay product: J per inference x median latency. */
struct least_edp {
  double p95_bound_ms = 0;
  double median_bound_ms = 0;
};
}  // namespace objective

/** @brief What is minimised. */
enum class goal { energy, latency, edp };

inline const char* to_string(goal g) noexcept {
  switch (g) {
    case goal::energy:
      return "energy";
    case goal::latency:
      return "latency";
    case goal::edp:
      return "edp";
  }
  return "?";
}

/**
 * @brief One objective: a goal and an optional latency bound. Built from the objective:: structs
 * or parsed from "energy", "latency", "edp", "energy@p95<=20ms", "energy@median<=0.5s".
 */
class objective_spec {
 public:
  objective_spec() = default;
  objective_spec(goal g, std::optional<latency_bound> bound = std::nullopt) : goal_(g), bound_(bound) {
    if (bound_)
      require(bound_->seconds > 0 && std::isfinite(bound_->seconds),
              "objective: a latency bound must be a positive number of seconds, got ", bound_->seconds);
  }
  objective_spec(objective::least_energy o)
      : objective_spec(goal::energy, bound_from(o.p95_bound_ms, o.median_bound_ms)) {}
  objective_spec(objective::least_latency o)
      : objective_spec(goal::latency, bound_from(o.p95_bound_ms, o.median_bound_ms)) {}
  objective_spec(objective::least_edp o) : objective_spec(goal::edp, bound_from(o.p95_bound_ms, o.median_bound_ms)) {}

  goal what() const noexcept { return goal_; }
  const std::optional<latency_bound>& bound() const noexcept { return bound_; }

  /**
   * @brief The score of a measurement (lower is better) for @p batch inferences per run:
   * J/inference, seconds of median latency, or J/inference x seconds.
   */
  double score(const tuning::measurement& m, std::int64_t batch) const noexcept {
    const double joules = m.joules_per_run / static_cast<double>(batch > 0 ? batch : 1);
    switch (goal_) {
      case goal::energy:
        return joules;
      case goal::latency:
        return m.median_s;
      case goal::edp:
        return joules * m.median_s;
    }
    return joules;
  }

  /** @brief Empty when @p m meets the bound (or there is none); else why not, in words. */
  std::string violation(const tuning::measurement& m) const {
    if (!bound_) return {};
    const double value = bound_->value_of(m);
    if (value <= bound_->seconds) return {};
    return detail::concat(joule::to_string(bound_->statistic), " latency ", format_ms(value), " exceeds the bound ",
                          format_ms(bound_->seconds));
  }

  /** @brief The command line's spelling: "energy", "edp", "energy@p95<=20ms". */
  std::string to_string() const {
    std::string s = joule::to_string(goal_);
    if (bound_) s += std::string("@") + joule::to_string(bound_->statistic) + "<=" + format_ms(bound_->seconds);
    return s;
  }

  /** @brief Words for reports: "least energy per inference with p95 latency <= 20 ms". */
  std::string describe() const {
    std::string s = goal_ == goal::energy    ? "least energy per inference"
                    : goal_ == goal::latency ? "least median latency"
                                             : "least energy-delay product";
    if (bound_)
      s += std::string(" with ") + joule::to_string(bound_->statistic) + " latency <= " + format_ms(bound_->seconds);
    return s;
  }

  /**
   * @brief Parses GOAL[@STAT<=VALUE[ms|s|us]] where GOAL is energy, latency or edp and STAT is p95
   * or median (milliseconds when no unit is given). Throws joule::error naming the text otherwise.
   */
  static objective_spec parse(std::string_view text) {
    auto bad = [&](std::string_view why) -> objective_spec {
      fail("objective '", text, "': ", why,
           ". Expected energy, latency or edp, optionally followed by @p95<=VALUE or @median<=VALUE with a unit "
           "of ms, s or us (e.g. energy@p95<=20ms)");
    };
    const auto at = text.find('@');
    const std::string_view head = text.substr(0, at);
    goal g;
    if (head == "energy")
      g = goal::energy;
    else if (head == "latency")
      g = goal::latency;
    else if (head == "edp")
      g = goal::edp;
    else
      return bad("unknown goal '" + std::string(head) + "'");
    if (at == std::string_view::npos) return objective_spec(g);

    std::string_view rest = text.substr(at + 1);
    const auto le = rest.find("<=");
    if (le == std::string_view::npos) return bad("a bound needs '<='");
    const std::string_view stat = rest.substr(0, le);
    latency_bound bound;
    if (stat == "p95")
      bound.statistic = latency_statistic::p95;
    else if (stat == "median" || stat == "p50")
      bound.statistic = latency_statistic::median;
    else
      return bad("unknown latency statistic '" + std::string(stat) + "'");
    std::string_view number = rest.substr(le + 2);
    double scale = 1e-3;
    if (number.ends_with("ms"))
      number.remove_suffix(2);
    else if (number.ends_with("us"))
      number.remove_suffix(2), scale = 1e-6;
    else if (number.ends_with("s"))
      number.remove_suffix(1), scale = 1;
    double value = 0;
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (ec != std::errc{} || end != number.data() + number.size() || number.empty())
      return bad("the bound '" + std::string(number) + "' is not a number");
    if (!(value > 0) || !std::isfinite(value)) return bad("the bound must be positive");
    bound.seconds = value * scale;
    return objective_spec(g, bound);
  }

  /** @brief "12.3 ms", "1.50 s" or "850 us": latencies in reports. */
  static std::string format_ms(double seconds) {
    char buffer[48];
    if (seconds >= 1)
      std::snprintf(buffer, sizeof buffer, "%.3g s", seconds);
    else if (seconds >= 1e-3)
      std::snprintf(buffer, sizeof buffer, "%.3g ms", seconds * 1e3);
    else
      std::snprintf(buffer, sizeof buffer, "%.3g us", seconds * 1e6);
    return buffer;
  }

 private:
  static std::optional<latency_bound> bound_from(double p95_ms, double median_ms) {
    require(!(p95_ms > 0 && median_ms > 0), "objective: give a p95 bound or a median bound, not both");
    require(p95_ms >= 0 && median_ms >= 0, "objective: a latency bound must be positive, got ",
            p95_ms < 0 ? p95_ms : median_ms, " ms");
    if (p95_ms > 0) return latency_bound{latency_statistic::p95, p95_ms * 1e-3};
    if (median_ms > 0) return latency_bound{latency_statistic::median, median_ms * 1e-3};
    return std::nullopt;
  }

  goal goal_ = goal::energy;
  std::optional<latency_bound> bound_;
};

}  // namespace joule
