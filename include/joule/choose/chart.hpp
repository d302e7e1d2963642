#pragma once
/**
 * @file chart.hpp
 * @brief What the shootout chart shows, independent of how it is drawn: per model and batch, one
 * point per candidate (latency per run against energy per inference), the Pareto front (no other
 * candidate is both faster and more frugal), the winner, and axes that switch to a log scale when
 * the values span more than a factor of 4.
 *
 * chart_cairo.hpp draws it to SVG or PNG; tools/plot_benchmark.py draws the same chart from
 * Google Benchmark's JSON.
 */
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include <joule/choose/shootout.hpp>

namespace joule::tuning {

/** @brief One candidate on the chart. */
struct chart_point {
  std::string label;      ///< "simd/2"
  std::string policy;     ///< colours the marker
  double latency_s = 0;   ///< median latency of one run
  double joules = 0;      ///< energy per inference
  bool chosen = false;    ///< the winner under the shootout's objective
  bool rejected = false;  ///< failed the correctness gate: drawn crossed out, never on the front
  bool pareto = false;    ///< on the Pareto front
};

/** @brief One panel: one model at one batch size. */
struct chart_panel {
  std::string title;        ///< "resnet50, batch 1"
  std::string energy_kind;  ///< "measured" or "estimated"
  std::string meter;        ///< "estimate", "rapl"
  std::string objective;    ///< "least energy per inference"
  std::vector<chart_point> points;
  std::vector<std::string> left_out;  ///< "cuda: unavailable", shown under the plot
};

/**
 * @brief Marks the Pareto front of @p points (among those not rejected): a point is on it when no
 * other is at most as slow and at most as costly and better in one. Returns the front's indices
 * sorted by latency.
 */
inline std::vector<std::size_t> mark_pareto_front(std::vector<chart_point>& points) {
  std::vector<std::size_t> front;
  for (std::size_t i = 0; i < points.size(); ++i) {
    points[i].pareto = false;
    if (points[i].rejected) continue;
    bool dominated = false;
    for (std::size_t j = 0; j < points.size() && !dominated; ++j) {
      if (i == j || points[j].rejected) continue;
      const auto &a = points[i], &b = points[j];
      dominated =
          b.latency_s <= a.latency_s && b.joules <= a.joules && (b.latency_s < a.latency_s || b.joules < a.joules);
    }
    if (!dominated) {
      points[i].pareto = true;
      front.push_back(i);
    }
  }
  std::sort(front.begin(), front.end(),
            [&](std::size_t a, std::size_t b) { return points[a].latency_s < points[b].latency_s; });
  return front;
}

/** @brief A panel from a shootout report: its eligible and rejected candidates, the rest listed. */
inline chart_panel panel_from(const shootout_report& report) {
  chart_panel p;
  p.title = report.subject.model + ", batch " + std::to_string(report.subject.batch);
  p.energy_kind = energy::to_string(report.meter_kind);
  p.objective = report.objective.describe();
  const double batch = static_cast<double>(std::max<std::int64_t>(report.subject.batch, 1));
  for (std::size_t i = 0; i < report.rows.size(); ++i) {
    const auto& r = report.rows[i];
    if (r.result && (r.status == row_status::measured || r.status == row_status::rejected)) {
      chart_point pt;
      pt.label = r.name();
      pt.policy = r.policy;
      pt.latency_s = r.result->median_s;
      pt.joules = r.result->joules_per_run / batch;
      pt.chosen = report.winner && *report.winner == i;
      pt.rejected = r.status == row_status::rejected;
      if (r.result->kind == energy::meter_kind::estimated) p.energy_kind = "estimated";
      p.meter = r.result->meter;
      p.points.push_back(pt);
    } else {
      p.left_out.push_back(r.policy + ": " + to_string(r.status));
    }
  }
  p.left_out.erase(std::unique(p.left_out.begin(), p.left_out.end()), p.left_out.end());
  mark_pareto_front(p.points);
  return p;
}

/** @brief An axis: its range, whether it is logarithmic, and where its ticks go. */
struct chart_axis {
  double lo = 0, hi = 1;
  bool log = false;
  std::vector<double> ticks;

  /** @brief Position of @p v in [0, 1] along the axis. */
  double position(double v) const {
    if (log) return (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
    return (v - lo) / (hi - lo);
  }
};

/** @brief "0.5", "20", "1e-05": tick labels with no trailing zeros. */
inline std::string tick_label(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", v);
  return buffer;
}

/**
 * @brief An axis covering @p values with a margin: logarithmic when max / min > 4 (ticks at
 * 1, 2, 5 x 10^k), else linear with 4 to 8 ticks at 1, 2, 5 x 10^k steps.
 */
inline chart_axis make_axis(const std::vector<double>& values) {
  chart_axis a;
  double lo = std::numeric_limits<double>::infinity(), hi = 0;
  for (double v : values)
    if (v > 0 && std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!(hi > 0)) lo = 0.1, hi = 1;
  if (lo == hi) lo *= 0.5, hi *= 1.5;
  a.log = hi / lo > 4;
  if (a.log) {
    a.lo = lo / 1.6;
    a.hi = hi * 1.6;
    const int k0 = static_cast<int>(std::floor(std::log10(a.lo))), k1 = static_cast<int>(std::ceil(std::log10(a.hi)));
    const int decades = k1 - k0;
    for (int k = k0; k <= k1; ++k)
      for (double m : {1.0, 2.0, 5.0}) {
        if (decades > 3 && m != 1.0) continue;  // many decades: powers of ten only
        const double t = m * std::pow(10.0, k);
        if (t >= a.lo && t <= a.hi) a.ticks.push_back(t);
      }
  } else {
    const double span = hi - lo;
    a.lo = std::max(0.0, lo - 0.1 * span - (span == 0 ? lo * 0.1 : 0));
    a.hi = hi + 0.1 * span;
    double step = std::pow(10.0, std::floor(std::log10((a.hi - a.lo) / 5)));
    for (double m : {1.0, 2.0, 5.0, 10.0})
      if ((a.hi - a.lo) / (step * m) <= 8) {
        step *= m;
        break;
      }
    // Ticks by an integer counter, not t += step: when step is below the spacing of doubles near
    // a.lo (a range of 1e20 to 1e20 + 1), adding it never advances t and the loop never ends.
    const double first = std::ceil(a.lo / step);
    for (int k = 0; k <= 16; ++k) {
      const double t = (first + k) * step;
      if (t > a.hi + 1e-12 * step) break;
      a.ticks.push_back(std::abs(t) < 1e-12 * step ? 0.0 : t);
    }
  }
  return a;
}

/** @brief A stable colour per policy (RGB in [0, 1]), the same in chart_cairo and plot_benchmark.py. */
inline std::array<double, 3> policy_colour(const std::string& policy) {
  if (policy == "scalar") return {0.50, 0.50, 0.50};
  if (policy == "simd") return {0.12, 0.47, 0.71};
  if (policy == "blas") return {0.84, 0.15, 0.16};
  if (policy == "eigen") return {0.17, 0.63, 0.17};
  if (policy == "cuda") return {0.58, 0.40, 0.74};
  return {0.55, 0.34, 0.29};
}

}  // namespace joule::tuning
