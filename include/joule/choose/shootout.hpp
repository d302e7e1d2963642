#pragma once
/**
 * @file shootout.hpp
 * @brief The chooser's core, independent of models: measure every candidate (or reuse its
 * wisdom), gate it against a reference output, score it by the objective, pick the winner.
 *
 * For each candidate, in order (the reference first):
 *  1. unavailable: listed with its reason, never measured;
 *  2. wisdom holds its key (and --retune was not given): its stored figures and gate are used;
 *     with --wisdom-only and no wisdom, it is listed as not measured;
 *  3. otherwise: built, run once with the meter read around the run (the probe), its output
 *     compared with the reference's (the correctness gate: a candidate that fails is rejected and
 *     can never win), then measured with energy::measure within the per-candidate budget. When one
 *     run takes more than half the budget, the probe run is the measurement (one run, said so in
 *     its stop reason), so a slow policy costs one run, not many. Every result goes to the wisdom
 *     file at once, so an interrupted shootout keeps what it measured.
 *
 * The reference is the scalar policy's output when scalar is among the candidates, else the first
 * available candidate's; if it cannot be built, the next available one is used and the report says so.
 */
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <joule/choose/candidate.hpp>
#include <joule/choose/machine_key.hpp>
#include <joule/choose/objective.hpp>
#include <joule/choose/wisdom.hpp>
#include <joule/energy/measure.hpp>
#include <joule/energy/sci.hpp>

namespace joule::tuning {

/** @brief What is being measured, apart from the policy and threads: the rest of the wisdom key. */
struct shootout_subject {
  std::string model = "model";  ///< the model's name
  std::string config_hash;      ///< stable hash of its configuration
  std::string input;            ///< the input shape as compiled ("1x3x224x224")
  std::int64_t batch = 1;       ///< inferences per run
  std::string dtype = "float32";
};

/** @brief What became of a candidate. */
enum class row_status {
  measured,      ///< has figures (this run or wisdom) and passed the gate: may win
  rejected,      ///< its output failed the correctness gate: never wins
  unavailable,   ///< cannot run here (policy not built, no device, ...)
  failed,        ///< building or running it threw
  not_measured,  ///< no wisdom and --wisdom-only
};

inline const char* to_string(row_status s) noexcept {
  switch (s) {
    case row_status::measured:
      return "measured";
    case row_status::rejected:
      return "rejected";
    case row_status::unavailable:
      return "unavailable";
    case row_status::failed:
      return "failed";
    case row_status::not_measured:
      return "not measured";
  }
  return "?";
}

/** @brief One line of the shootout's table. */
struct shootout_row {
  std::string policy;
  int threads = 1;
  row_status status = row_status::not_measured;
  bool from_wisdom = false;  ///< the figures come from the wisdom file, not from this run
  std::string note;          ///< why unavailable / rejected / failed / re-measured
  std::optional<measurement> result;
  std::optional<gate_record> gate;
  double score = std::numeric_limits<double>::infinity();  ///< by the report's objective; lower is better
  std::string bound_violation;                             ///< why it does not meet the objective's latency bound
  /** Host-device copies per run (input in, output out; zero for host policies), when measured now. */
  std::optional<transfer_stats> transfers_per_run;

  std::string name() const { return policy + "/" + std::to_string(threads); }
  /** @brief Has figures and passed the gate (the bound aside). */
  bool eligible() const noexcept { return status == row_status::measured && result.has_value(); }
};

/** @brief The whole shootout: every candidate, the winner, and how it was decided. */
struct shootout_report {
  shootout_subject subject;
  objective_spec objective;
  double gate_tolerance = 1e-3;
  std::string reference;     ///< the candidate whose output the gate used
  std::string meter_label;   ///< "estimated (estimate)", "measured (rapl)"
  std::string meter_report;  ///< which meters were tried and why the others are unavailable
  energy::meter_kind meter_kind = energy::meter_kind::estimated;
  std::string wisdom_path;  ///< empty: no wisdom file
  std::vector<shootout_row> rows;
  std::optional<std::size_t> winner;  ///< index into rows; empty when nothing meets the objective
  std::string verdict;                ///< the choice, or why nothing was chosen, in words
  std::vector<std::string> notes;     ///< wisdom set aside, scalar on one thread, ...
  energy::sci_inputs sci;
  double seconds = 0;            ///< wall time of the shootout
  std::size_t measured_now = 0;  ///< candidates measured in this run
  std::size_t reused = 0;        ///< candidates taken from wisdom

  const shootout_row* chosen() const { return winner ? &rows[*winner] : nullptr; }
};

/** @brief What the progress callback hears. */
struct progress_event {
  std::size_t index = 0;  ///< 1-based position of the candidate
  std::size_t total = 0;  ///< candidates in this shootout
  std::string candidate;  ///< "simd/2"
  std::string what;       ///< "building", "measuring (budget 2 s)", "from wisdom", "done: ..."
  double elapsed_s = 0;   ///< since the shootout started
  double eta_s = 0;       ///< estimated seconds left in this shootout
};

/** @brief A measuring request: one metered run (the probe), or a full measurement within a budget. */
struct measure_request {
  double budget_s = 2.0;
  bool once = false;
  double target_ci = 0.05;
  int min_windows = 5;
};

/** @brief How a candidate instance is measured; tests replace it with deterministic figures. */
using measure_function = std::function<measurement(candidate_instance&, const measure_request&)>;

/** @brief How the shootout measures and decides. */
struct shootout_options {
  objective_spec objective;
  double budget_s = 2.0;         ///< per candidate, build excluded
  double gate_tolerance = 1e-3;  ///< max |y - ref| / max |ref| a candidate may show
  double target_ci = 0.05;       ///< relative 95% CI half-width at which measuring stops early
  bool retune = false;           ///< measure even what wisdom holds
  bool wisdom_only = false;      ///< measure nothing; use wisdom or list as not measured
  energy::sci_inputs sci;
  std::function<void(const progress_event&)> on_progress;
  measure_function measure;  ///< empty: measure_with_meter on the shootout's meter
};

/** @brief One run of @p instance with @p m read around it. */
inline measurement measure_once(energy::meter& m, candidate_instance& instance) {
  energy::sampling_thread poller(m, m.poll_interval());
  const energy::energy_reading before = m.read();
  const auto t0 = energy::steady_clock::now();
  instance.run();
  const auto t1 = energy::steady_clock::now();
  const energy::energy_reading after = m.read();
  poller.stop();
  measurement out;
  out.median_s = out.p95_s = out.mean_s = energy::seconds(t1 - t0).count();
  out.joules_per_run = std::max(0.0, energy::joules_between(before, after));
  out.watts = out.joules_per_run / std::max(energy::seconds_between(before, after), 1e-9);
  out.kind = energy::combine(before.kind(), after.kind());
  out.meter = m.name();
  out.runs = 1;
  out.seconds = energy::seconds_between(before, after);
  out.stop_reason = "one run";
  for (const auto& d : after.domains) {
    const energy::domain_reading* b = before.find(d.name);
    out.domains.push_back({d.name, std::max(0.0, d.joules - (b ? b->joules : 0.0)), d.kind, d.in_total});
  }
  return out;
}

/** @brief Measures @p instance with energy::measure on @p m (or once, as the request says). */
inline measurement measure_with_meter(energy::meter& m, candidate_instance& instance, const measure_request& request) {
  if (request.once) return measure_once(m, instance);
  energy::measure_options o;
  o.warmup_runs = 0;  // the executor's own sizing run and the probe have warmed it up
  o.budget = energy::seconds(request.budget_s);
  o.target_ci = request.target_ci;
  o.min_windows = std::max(2, request.min_windows);
  const auto t0 = energy::steady_clock::now();
  const energy::measurement e = energy::measure(
      m, [&] { instance.run(); }, o);
  measurement out;
  out.median_s = e.seconds_per_run.median;
  out.p95_s = e.seconds_per_run.p95;
  out.mean_s = e.seconds_per_run.mean;
  out.joules_per_run = e.joules_per_run.mean;
  out.joules_ci95 = std::isfinite(e.joules_per_run.ci95) ? e.joules_per_run.ci95 : 0;
  out.watts = e.average_watts;
  out.kind = e.kind;
  out.meter = e.meter_name;
  out.runs = static_cast<int>(e.runs);
  out.seconds = energy::seconds(energy::steady_clock::now() - t0).count();
  out.stop_reason = e.stop_reason;
  for (const auto& d : e.domains) out.domains.push_back({d.name, d.joules_per_run, d.kind, d.in_total});
  return out;
}

/** @brief The wisdom key of candidate @p c of @p subject on this machine with a meter of @p kind. */
inline wisdom_key make_key(const shootout_subject& subject, const candidate& c, const machine_key& machine,
                           energy::meter_kind kind, bool uses_gpu = false) {
  wisdom_key key;
  key.machine = machine;
  if (!uses_gpu) key.machine.gpu_model = key.machine.gpu_driver = "unused";
  key.model = subject.model;
  key.config_hash = subject.config_hash;
  key.input = subject.input;
  key.batch = subject.batch;
  key.dtype = subject.dtype;
  key.policy = c.policy;
  key.threads = c.threads;
  key.meter_kind = energy::to_string(kind);
  return key;
}

/**
 * @brief The best row of @p report under @p objective (latency bound included), or none.
 * Ties go to fewer threads, then to the earlier row.
 */
inline std::optional<std::size_t> winner_for(const shootout_report& report, const objective_spec& objective) {
  std::optional<std::size_t> best;
  double best_score = std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < report.rows.size(); ++i) {
    const auto& r = report.rows[i];
    if (!r.eligible() || !objective.violation(*r.result).empty()) continue;
    const double s = objective.score(*r.result, report.subject.batch);
    if (!best || s < best_score || (s == best_score && r.threads < report.rows[*best].threads)) {
      best = i;
      best_score = s;
    }
  }
  return best;
}

/** @brief Scores every row by the report's objective and sets winner and verdict. */
inline void decide(shootout_report& report) {
  for (auto& r : report.rows) {
    if (!r.eligible()) continue;
    r.score = report.objective.score(*r.result, report.subject.batch);
    r.bound_violation = report.objective.violation(*r.result);
  }
  report.winner = winner_for(report, report.objective);
  if (report.winner) {
    const auto& w = report.rows[*report.winner];
    report.verdict = "chosen: " + w.name() + " (" + report.objective.describe() + ")";
    return;
  }
  const auto& bound = report.objective.bound();
  std::optional<std::size_t> fastest;
  for (std::size_t i = 0; i < report.rows.size() && bound; ++i)
    if (report.rows[i].eligible() &&
        (!fastest || bound->value_of(*report.rows[i].result) < bound->value_of(*report.rows[*fastest].result)))
      fastest = i;
  if (fastest) {
    const char* stat = to_string(bound->statistic);
    report.verdict = std::string("nothing chosen: no candidate meets ") + stat +
                     " latency <= " + objective_spec::format_ms(bound->seconds) + "; the fastest, " +
                     report.rows[*fastest].name() + ", has " + stat + " " +
                     objective_spec::format_ms(bound->value_of(*report.rows[*fastest].result)) +
                     ". Relax the bound, or try more threads or other policies.";
  } else if (std::any_of(report.rows.begin(), report.rows.end(),
                         [](const shootout_row& r) { return r.status == row_status::not_measured; })) {
    report.verdict =
        "nothing chosen: the wisdom file holds no figures for the candidates (or only stale ones), and "
        "--wisdom-only forbids measuring them";
  } else {
    report.verdict = "nothing chosen: no candidate was measured and passed the correctness gate";
  }
}

namespace detail {

inline double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

inline reference_output copy_output(const std::string& name, tensor_view<const float> y) {
  return {name, y.shape(), std::vector<float>(y.span().begin(), y.span().end())};
}

}  // namespace detail

/**
 * @brief Runs a shootout of @p candidates of @p subject, measured with @p meter, remembered in
 * @p wisdom (may be null: no wisdom). Never throws for a candidate's failure: the row says it.
 */
inline shootout_report run_shootout(const shootout_subject& subject, const std::vector<candidate>& candidates,
                                    energy::meter& meter, wisdom_file* wisdom, const shootout_options& options,
                                    const machine_key& machine = collect_machine_key()) {
  require(options.budget_s > 0, "shootout: the budget per candidate must be positive, got ", options.budget_s, " s");
  require(options.gate_tolerance >= 0, "shootout: the gate tolerance must be >= 0, got ", options.gate_tolerance);
  require(!(options.retune && options.wisdom_only), "shootout: --retune and --wisdom-only contradict each other");
  const auto start = std::chrono::steady_clock::now();
  shootout_report report;
  report.subject = subject;
  report.objective = options.objective;
  report.gate_tolerance = options.gate_tolerance;
  report.meter_kind = meter.kind();
  report.meter_label = meter.label();
  report.sci = options.sci;
  if (wisdom) report.wisdom_path = wisdom->path().string();
  if (wisdom) report.notes = wisdom->notes();
  const measure_function measure =
      options.measure ? options.measure : measure_function([&meter](candidate_instance& i, const measure_request& r) {
        return measure_with_meter(meter, i, r);
      });

  for (const auto& c : candidates) {
    shootout_row r;
    r.policy = c.policy;
    r.threads = c.threads;
    report.rows.push_back(std::move(r));
  }

  // The reference goes first: scalar when present, else the first available candidate.
  std::vector<std::size_t> order;
  std::optional<std::size_t> reference;
  for (std::size_t i = 0; i < candidates.size(); ++i)
    if (candidates[i].unavailable.empty() && candidates[i].policy == "scalar" && !reference) reference = i;
  for (std::size_t i = 0; i < candidates.size() && !reference; ++i)
    if (candidates[i].unavailable.empty()) reference = i;
  if (reference) order.push_back(*reference);
  for (std::size_t i = 0; i < candidates.size(); ++i)
    if (!reference || i != *reference) order.push_back(i);
  std::optional<reference_output> ref_output;
  std::vector<std::size_t> ref_failed;  // candidates that could not serve as the reference
  auto next_reference = [&](std::size_t failed) {
    ref_failed.push_back(failed);
    reference.reset();
    for (std::size_t i : order)
      if (candidates[i].unavailable.empty() && std::find(ref_failed.begin(), ref_failed.end(), i) == ref_failed.end()) {
        reference = i;
        return;
      }
  };
  // The reference's output, computed when first needed (its figures may come from wisdom). Stops
  // without an output when the asking candidate is itself the next reference.
  auto ensure_reference = [&](std::size_t asking) {
    while (!ref_output && reference && *reference != asking) {
      const auto& rc = candidates[*reference];
      try {
        auto inst = rc.build();
        inst->run();
        ref_output = detail::copy_output(rc.name(), inst->output());
      } catch (const std::exception& e) {
        report.notes.push_back("the reference " + rc.name() + " could not be run: " + e.what());
        next_reference(*reference);
      }
    }
  };

  std::size_t remaining_to_measure = 0;
  for (const auto& c : candidates) remaining_to_measure += c.unavailable.empty() ? 1 : 0;
  double measured_cost = 0;
  std::size_t measured_count = 0;
  auto eta = [&] {
    const double per = measured_count ? measured_cost / static_cast<double>(measured_count) : options.budget_s + 1.0;
    return per * static_cast<double>(remaining_to_measure);
  };
  std::size_t position = 0;
  auto progress = [&](const std::string& name, const std::string& what) {
    if (options.on_progress)
      options.on_progress({position, candidates.size(), name, what, detail::since(start), eta()});
  };

  for (const std::size_t idx : order) {
    ++position;
    const candidate& c = candidates[idx];
    shootout_row& row = report.rows[idx];
    if (!c.unavailable.empty()) {
      row.status = row_status::unavailable;
      row.note = c.unavailable;
      progress(c.name(), "unavailable: " + c.unavailable);
      continue;
    }
    const wisdom_key key = make_key(subject, c, machine, meter.kind(), c.uses_gpu);
    const wisdom_lookup found = wisdom ? wisdom->lookup(key) : wisdom_lookup{};
    if (found.what == wisdom_lookup::status::found && !options.retune) {
      row.from_wisdom = true;
      row.result = found.entry->result;
      row.gate = found.entry->gate;
      const bool passes = gate_passes(*row.gate, options.gate_tolerance);
      row.status = passes ? row_status::measured : row_status::rejected;
      if (!passes) row.note = "rejected by the correctness gate (from wisdom): " + gate_summary(*row.gate);
      ++report.reused;
      --remaining_to_measure;
      progress(c.name(), "from wisdom");
      continue;
    }
    const std::string why = options.retune                               ? "--retune"
                            : found.what == wisdom_lookup::status::stale ? "stale wisdom: " + found.reason
                                                                         : "no wisdom";
    if (options.wisdom_only) {
      row.status = row_status::not_measured;
      row.note = why + "; --wisdom-only forbids measuring";
      --remaining_to_measure;
      progress(c.name(), "not measured (" + row.note + ")");
      continue;
    }
    if (found.what == wisdom_lookup::status::stale || options.retune) row.note = "re-measured: " + why;

    const auto t0 = std::chrono::steady_clock::now();
    try {
      ensure_reference(idx);
      const bool is_reference = !ref_output;
      if (is_reference) reference = idx;
      progress(c.name(), "building");
      auto instance = c.build();
      progress(c.name(), "checking the output against " + (is_reference ? std::string("itself (the reference)")
                                                           : ref_output ? ref_output->name
                                                                        : "?"));
      const measurement probe = measure(*instance, {options.budget_s, true, options.target_ci});
      if (is_reference) ref_output = detail::copy_output(c.name(), instance->output());
      row.gate = compare_outputs(*ref_output, instance->output(), options.gate_tolerance);
      if (!gate_passes(*row.gate, options.gate_tolerance)) {
        row.status = row_status::rejected;
        row.result = probe;
        row.note = "rejected by the correctness gate: " + gate_summary(*row.gate);
      } else if (probe.median_s * 2 > options.budget_s) {
        row.status = row_status::measured;
        row.result = probe;
        row.result->stop_reason = "one run takes " + objective_spec::format_ms(probe.median_s) +
                                  ", over half the budget of " + objective_spec::format_ms(options.budget_s) +
                                  ": measured once";
      } else {
        progress(c.name(), "measuring (budget " + objective_spec::format_ms(options.budget_s) + ")");
        const int affordable = static_cast<int>(options.budget_s / std::max(probe.median_s, 1e-9));
        row.status = row_status::measured;
        row.result = measure(*instance, {options.budget_s, false, options.target_ci, std::clamp(affordable, 2, 5)});
      }
      row.result->flops_per_run = instance->flops();
      if (const std::int64_t runs = instance->runs(); runs > 0) {
        const transfer_stats t = instance->transfers();
        row.transfers_per_run = transfer_stats{t.to_device_copies / runs, t.to_device_bytes / runs,
                                               t.to_host_copies / runs, t.to_host_bytes / runs};
      }
      ++report.measured_now;
      if (wisdom) {
        wisdom->record({key, *row.result, *row.gate, utc_now()});
        try {
          wisdom->save();
        } catch (const std::exception& e) {
          report.notes.push_back(std::string("could not write the wisdom file: ") + e.what());
        }
      }
    } catch (const std::exception& e) {
      row.status = row_status::failed;
      row.note = e.what();
      if (reference && *reference == idx && !ref_output) {
        report.notes.push_back("the reference " + c.name() + " failed: " + e.what());
        next_reference(idx);
      }
    }
    measured_cost += detail::since(t0);
    ++measured_count;
    --remaining_to_measure;
    if (row.result)
      progress(c.name(), std::string("done: ") + to_string(row.status) + ", " +
                             objective_spec::format_ms(row.result->median_s) + " median, " +
                             std::to_string(row.result->runs) + " run(s)");
    else
      progress(c.name(), std::string("done: ") + to_string(row.status) + (row.note.empty() ? "" : ": " + row.note));
  }
  report.reference = ref_output ? ref_output->name : reference ? candidates[*reference].name() : "none";
  decide(report);
  report.seconds = detail::since(start);
  return report;
}

}  // namespace joule::tuning
