#pragma once
/**
 * @file report.hpp
 * @brief A shootout's report as a table (operator<<), as JSON and as CSV rows: per candidate the
 * latency (median, p95), throughput, J/inference with its kind (measured or estimated), watts,
 * GFLOP/s, SCI per inference, the ratio to the winner, and which objectives it wins.
 */
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <joule/choose/shootout.hpp>
#include <joule/energy/sci.hpp>

namespace joule::tuning {

/** @brief Per-inference figures of a row, derived from its measurement. */
struct row_figures {
  double latency_median_s = 0, latency_p95_s = 0;
  double throughput = 0;  ///< inferences per second (batch / median)
  double joules_per_inference = 0;
  double watts = 0;
  double gflops = 0;  ///< 0 when the flops are unknown
  double sci_g = 0;   ///< gCO2e per inference
};

inline row_figures figures_of(const shootout_row& r, const shootout_report& report) {
  row_figures f;
  if (!r.result) return f;
  const auto& m = *r.result;
  const double batch = static_cast<double>(std::max<std::int64_t>(report.subject.batch, 1));
  f.latency_median_s = m.median_s;
  f.latency_p95_s = m.p95_s;
  f.throughput = m.median_s > 0 ? batch / m.median_s : 0;
  f.joules_per_inference = m.joules_per_run / batch;
  f.watts = m.watts;
  f.gflops = m.median_s > 0 ? m.flops_per_run / m.median_s * 1e-9 : 0;
  f.sci_g = energy::sci(f.joules_per_inference, m.median_s / batch, report.sci, m.kind).sci_g;
  return f;
}

/** @brief The objectives each row wins, unbounded: "energy", "latency", "edp". */
inline std::vector<std::vector<std::string>> best_for(const shootout_report& report) {
  std::vector<std::vector<std::string>> out(report.rows.size());
  const std::pair<const char*, objective_spec> objectives[] = {{"energy", objective_spec(goal::energy)},
                                                               {"latency", objective_spec(goal::latency)},
                                                               {"edp", objective_spec(goal::edp)}};
  for (const auto& [name, objective] : objectives)
    if (const auto w = winner_for(report, objective)) out[*w].push_back(name);
  return out;
}

namespace detail {

inline std::string fmt(const char* format, double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, v);
  return buffer;
}

/** "2.28 s", "133 ms", "850 us" */
inline std::string seconds_text(double s) { return objective_spec::format_ms(s); }

/** Three significant digits, SI-prefixed: "0.330 J" -> "330 mJ". */
inline std::string si(double v, const char* unit) {
  if (v == 0 || !std::isfinite(v)) return fmt("%.3g ", v) + unit;
  const double a = std::abs(v);
  if (a >= 1) return fmt("%.3g ", v) + unit;
  if (a >= 1e-3) return fmt("%.3g m", v * 1e3) + unit;
  if (a >= 1e-6) return fmt("%.3g u", v * 1e6) + unit;
  return fmt("%.3g n", v * 1e9) + unit;
}

inline std::string pad(const std::string& s, std::size_t width, bool right = false) {
  if (s.size() >= width) return s;
  return right ? std::string(width - s.size(), ' ') + s : s + std::string(width - s.size(), ' ');
}

}  // namespace detail

/** @brief A title line: "resnet50, batch 1 (input 1x3x224x224), energy estimated (estimate)". */
inline std::string title_of(const shootout_report& report) {
  return report.subject.model + ", batch " + std::to_string(report.subject.batch) + " (input " + report.subject.input +
         "), energy " + report.meter_label;
}

/** @brief The table: one line per candidate, then notes and the verdict. */
inline std::ostream& operator<<(std::ostream& out, const shootout_report& report) {
  using detail::pad;
  const auto marks = best_for(report);
  const shootout_row* chosen = report.chosen();
  out << "== " << title_of(report) << "\n";
  out << "   objective: " << report.objective.describe() << " (" << report.objective.to_string()
      << "); correctness gate: max relative error <= " << detail::fmt("%.0e", report.gate_tolerance) << " against "
      << report.reference << "\n";
  const std::vector<std::pair<std::string, std::size_t>> columns = {
      {"policy", 8}, {"thr", 4},     {"median", 10},    {"p95", 10},    {"inf/s", 9},     {"J/inference", 22},
      {"W", 8},      {"GFLOP/s", 9}, {"SCI g/inf", 11}, {"vs best", 8}, {"best for", 20}, {"source", 0}};
  for (std::size_t i = 0; i < columns.size(); ++i)
    out << pad(columns[i].first, columns[i].second, i >= 1 && i <= 9) << (i + 1 < columns.size() ? " " : "\n");
  std::vector<std::string> footnotes;
  for (std::size_t i = 0; i < report.rows.size(); ++i) {
    const auto& r = report.rows[i];
    const bool has_threads = r.status != row_status::unavailable;
    out << pad(r.policy, 8) << " " << pad(has_threads ? std::to_string(r.threads) : "-", 4, true) << " ";
    if (!r.result || r.status == row_status::failed) {
      out << to_string(r.status) << ": " << r.note << "\n";
      continue;
    }
    const auto f = figures_of(r, report);
    std::string vs = "-";
    if (chosen && r.eligible() && chosen->score > 0) vs = detail::fmt("%.2fx", r.score / chosen->score);
    std::string best = &r == chosen ? "* " : "";
    for (std::size_t k = 0; k < marks[i].size(); ++k) best += (k ? "," : "") + marks[i][k];
    std::string source = r.from_wisdom ? "wisdom" : "measured now";
    source += ", " + std::to_string(r.result->runs) + (r.result->runs == 1 ? " run" : " runs");
    if (r.status == row_status::rejected) source.insert(0, "REJECTED (gate), ");
    if (!r.bound_violation.empty()) source += ", misses bound";
    out << pad(detail::seconds_text(f.latency_median_s), 10, true) << " "
        << pad(detail::seconds_text(f.latency_p95_s), 10, true) << " "
        << pad(detail::fmt("%.3g", f.throughput), 9, true) << " "
        << pad(detail::si(f.joules_per_inference, "J") + " " + energy_kind(*r.result), 22, true) << " "
        << pad(detail::fmt("%.3g", f.watts), 8, true) << " "
        << pad(f.gflops > 0 ? detail::fmt("%.3g", f.gflops) : "-", 9, true) << " "
        << pad(detail::fmt("%.2e", f.sci_g), 11, true) << " " << pad(vs, 8, true) << " " << pad(best, 20) << " "
        << source << "\n";
    if (!r.note.empty()) footnotes.push_back(r.name() + ": " + r.note);
    if (r.result->runs == 1 && r.status == row_status::measured)
      footnotes.push_back(r.name() + ": " + r.result->stop_reason);
    // A GPU candidate's energy is its board's and the host CPU's over the same window, each with
    // its own kind: shown apart, so the host's share of a GPU backend is visible.
    if (r.result->domains.size() > 1) {
      const double batch = static_cast<double>(std::max<std::int64_t>(report.subject.batch, 1));
      std::string by_domain;
      for (const auto& d : r.result->domains)
        by_domain += (by_domain.empty() ? "" : ", ") + d.name + " " + detail::si(d.joules_per_run / batch, "J") + " " +
                     energy::to_string(d.kind) + (d.in_total ? "" : " (not in the total)");
      footnotes.push_back(r.name() + ": J/inference by domain: " + by_domain);
    }
    if (r.transfers_per_run && (r.transfers_per_run->to_device_copies || r.transfers_per_run->to_host_copies)) {
      const auto& t = *r.transfers_per_run;
      footnotes.push_back(r.name() + ": host-device copies per run: " + std::to_string(t.to_device_copies) + " in (" +
                          std::to_string(t.to_device_bytes) + " B" + "), " + std::to_string(t.to_host_copies) +
                          " out (" + std::to_string(t.to_host_bytes) + " B" + ")");
    }
  }
  for (const auto& n : footnotes) out << "   note: " << n << "\n";
  for (const auto& n : report.notes) out << "   note: " << n << "\n";
  out << "   SCI = (E x I + M) per inference with I = " << report.sci.grid_intensity_g_per_kwh << " gCO2e/kWh"
      << (report.sci.intensity_is_default ? " (default world average; pass your grid's intensity)" : "")
      << (report.sci.embodied_g > 0 ? ", M from the embodied emissions given"
                                    : ", M = 0 (embodied emissions not given)")
      << "\n";
  out << "   " << report.measured_now << " measured now, " << report.reused << " from wisdom"
      << (report.wisdom_path.empty() ? "" : " (" + report.wisdom_path + ")") << ", "
      << detail::fmt("%.1f", report.seconds) << " s\n";
  out << "=> " << report.verdict << "\n";
  return out;
}

/** @brief The report as JSON: subject, objective, meter, every row with its figures, winners. */
inline nlohmann::json to_json_report(const shootout_report& report) {
  const auto marks = best_for(report);
  nlohmann::json rows = nlohmann::json::array();
  for (std::size_t i = 0; i < report.rows.size(); ++i) {
    const auto& r = report.rows[i];
    nlohmann::json row = {
        {"policy", r.policy},           {"threads", r.threads}, {"status", to_string(r.status)},
        {"from_wisdom", r.from_wisdom}, {"note", r.note},       {"chosen", report.winner && *report.winner == i},
        {"best_for", marks[i]}};
    if (r.result) {
      const auto f = figures_of(r, report);
      row["measurement"] = *r.result;
      row["latency_median_ms"] = f.latency_median_s * 1e3;
      row["latency_p95_ms"] = f.latency_p95_s * 1e3;
      row["throughput_per_s"] = f.throughput;
      row["joules_per_inference"] = f.joules_per_inference;
      row["energy_kind"] = energy_kind(*r.result);
      row["watts"] = f.watts;
      row["gflops"] = f.gflops;
      row["sci_g_per_inference"] = f.sci_g;
    }
    if (r.transfers_per_run) {
      const auto& t = *r.transfers_per_run;
      row["transfers_per_run"] = {{"to_device_copies", t.to_device_copies},
                                  {"to_device_bytes", t.to_device_bytes},
                                  {"to_host_copies", t.to_host_copies},
                                  {"to_host_bytes", t.to_host_bytes}};
    }
    if (r.gate) row["gate"] = *r.gate;
    if (std::isfinite(r.score)) row["score"] = r.score;
    if (!r.bound_violation.empty()) row["bound_violation"] = r.bound_violation;
    rows.push_back(std::move(row));
  }
  return {{"model", report.subject.model},
          {"config_hash", report.subject.config_hash},
          {"input", report.subject.input},
          {"batch", report.subject.batch},
          {"dtype", report.subject.dtype},
          {"objective", report.objective.to_string()},
          {"objective_description", report.objective.describe()},
          {"gate_tolerance", report.gate_tolerance},
          {"reference", report.reference},
          {"meter", report.meter_label},
          {"energy_kind", energy::to_string(report.meter_kind)},
          {"sci_grid_intensity_g_per_kwh", report.sci.grid_intensity_g_per_kwh},
          {"sci_grid_intensity_is_default", report.sci.intensity_is_default},
          {"sci_embodied_g", report.sci.embodied_g},
          {"wisdom", report.wisdom_path},
          {"rows", rows},
          {"chosen", report.chosen() ? nlohmann::json(report.chosen()->name()) : nlohmann::json(nullptr)},
          {"verdict", report.verdict},
          {"notes", report.notes},
          {"seconds", report.seconds},
          {"measured_now", report.measured_now},
          {"reused", report.reused}};
}

/** @brief The CSV header matching csv_rows(). */
inline std::string csv_header() {
  return "model,batch,input,policy,threads,status,source,latency_median_ms,latency_p95_ms,throughput_per_s,"
         "joules_per_inference,energy_kind,meter,watts,gflops,sci_g_per_inference,score,vs_winner,chosen,best_for,"
         "gate_max_error,runs,note\n";
}

/** @brief One CSV line per candidate (RFC 4180 quoting for text). */
inline std::string csv_rows(const shootout_report& report) {
  auto quote = [](const std::string& s) {
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  const auto marks = best_for(report);
  const shootout_row* chosen = report.chosen();
  std::ostringstream out;
  out.precision(6);
  for (std::size_t i = 0; i < report.rows.size(); ++i) {
    const auto& r = report.rows[i];
    std::string best;
    for (std::size_t k = 0; k < marks[i].size(); ++k) best += (k ? " " : "") + marks[i][k];
    out << quote(report.subject.model) << "," << report.subject.batch << "," << quote(report.subject.input) << ","
        << quote(r.policy) << "," << r.threads << "," << quote(to_string(r.status)) << ","
        << (r.result ? (r.from_wisdom ? "wisdom" : "measured") : "") << ",";
    if (r.result) {
      const auto f = figures_of(r, report);
      out << f.latency_median_s * 1e3 << "," << f.latency_p95_s * 1e3 << "," << f.throughput << ","
          << f.joules_per_inference << "," << energy_kind(*r.result) << "," << quote(r.result->meter) << "," << f.watts
          << "," << f.gflops << "," << f.sci_g << ",";
    } else {
      out << ",,,,,,,,,";
    }
    out << (std::isfinite(r.score) ? detail::fmt("%.6g", r.score) : "") << ","
        << (chosen && r.eligible() && chosen->score > 0 ? detail::fmt("%.4f", r.score / chosen->score) : "") << ","
        << (&r == chosen ? 1 : 0) << "," << quote(best) << ","
        << (r.gate && std::isfinite(r.gate->max_error) ? detail::fmt("%.3e", r.gate->max_error) : "") << ","
        << (r.result ? std::to_string(r.result->runs) : "") << "," << quote(r.note) << "\n";
  }
  return out.str();
}

}  // namespace joule::tuning
