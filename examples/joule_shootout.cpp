// joule-shootout: measure ResNet-50, MobileNetV2 and BERT-base on every policy and thread count of
// this machine, time and energy, and say which one wins by the objective.
//
//   joule-shootout --model all --plot shootout.png          # batch 1, every policy, 1..cores threads
//   joule-shootout --model resnet50 --batch 1,64 --objective 'energy@p95<=20ms' --json out.json
//   joule-shootout --model bert-base --seq-len 128 --policies simd,blas --threads 2 --budget 5
//
// Every measurement goes to the wisdom file ($XDG_CACHE_HOME/joule/wisdom.json, or --wisdom FILE);
// a second run reuses it and measures only what is missing or stale (--retune measures everything
// again, --wisdom-only measures nothing). Progress goes to stderr; the tables to stdout. Energy is
// measured where the machine has a readable sensor (RAPL, perf power, NVML) and estimated
// otherwise, and every figure says which.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "joule_shootout_options.hpp"
#if JOULE_SHOOTOUT_CAIRO
#include <joule/choose/chart_cairo.hpp>
#endif
#include <joule/choose.hpp>
#include <joule/io/weights.hpp>

namespace {

using arguments = joule::cli::shootout_arguments;

std::string duration(double s) {
  char b[32];
  if (s < 60)
    std::snprintf(b, sizeof b, "%.0fs", s);
  else
    std::snprintf(b, sizeof b, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  return b;
}

/** Progress on stderr: which candidate, how many of the measurements are done, time left. */
class progress_printer {
 public:
  progress_printer(std::size_t measurements, double budget) : total_(measurements), budget_(budget) {}

  void job(const std::string& what) { job_ = what; }
  void note(const std::string& line) {
    std::cerr << "[" << duration(elapsed()) << "] " << job_ << ": " << line << "\n";
  }

  void operator()(const joule::tuning::progress_event& e) {
    if (e.what == "from wisdom") {
      ++from_wisdom_;
      return;  // summarised per job, not one line each
    }
    // One line when a candidate starts (building, gating and measuring follow at once) and one when it ends.
    const bool done = e.what.starts_with("done:");
    if (e.what.starts_with("checking") || e.what.starts_with("measuring") || e.what.starts_with("unavailable")) return;
    if (done) ++done_;
    const double per = done_ ? elapsed() / static_cast<double>(done_) : budget_ + 2.0;
    const double left = per * static_cast<double>(total_ > done_ ? total_ - done_ : 0);
    std::cerr << "[" << done_ << "/" << total_ << " measured, " << duration(elapsed()) << ", ~" << duration(left)
              << " left] " << job_ << " " << e.candidate << ": "
              << (e.what == "building" ? "building, checking its output, measuring (budget " +
                                             joule::objective_spec::format_ms(budget_) + ")"
                                       : e.what)
              << "\n";
  }
  std::size_t take_from_wisdom() { return std::exchange(from_wisdom_, 0); }

 private:
  double elapsed() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }
  std::size_t total_, done_ = 0, from_wisdom_ = 0;
  double budget_;
  std::string job_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

/** Calls @p body(family, manifest) for the model called @p name. */
template <class Body>
void with_family(const std::string& name, bool small, Body&& body) {
  namespace m = joule::models;
  if (name == "resnet50") {
    const auto cfg = small ? m::resnet_small_config() : m::resnet50_config();
    body(m::resnet_family{cfg}, m::resnet<joule::scalar>{cfg}.manifest());
  } else if (name == "mobilenet_v2") {
    const auto cfg = small ? m::mobilenet_v2_small_config() : m::mobilenet_v2_default_config();
    body(m::mobilenet_v2_family{cfg}, m::mobilenet_v2<joule::scalar>{cfg}.manifest());
  } else {
    const auto cfg = small ? m::bert_small_config() : m::bert_base_config();
    body(m::bert_family{cfg}, m::bert<joule::scalar>{cfg}.manifest());
  }
}

joule::compile_options options_for(const std::string& model, std::int64_t batch, const arguments& args) {
  return {.batch = batch,
          .image_size = args.small && model != "bert-base" ? 32 : args.image_size,
          .seq_len = args.small && model == "bert-base" ? std::min<std::int64_t>(args.seq_len, 16) : args.seq_len};
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  joule::require(static_cast<bool>(out), "cannot write '", path, "'");
  out << text;
  joule::require(static_cast<bool>(out), "cannot write '", path, "'");
}

int run(const arguments& args) {
  std::vector<std::string> models;
  for (const auto& m : args.models) {
    if (m == "all")
      models.insert(models.end(), {"resnet50", "mobilenet_v2", "bert-base"});
    else
      models.push_back(m);
  }
  joule::require(args.weights.empty() || models.size() == 1, "--weights needs a single --model, got ", models.size());

  joule::choose_options how;
  if (!(args.policies.size() == 1 && args.policies[0] == "all")) how.policies = args.policies;
  how.threads = args.threads;
  how.budget_s = args.budget;
  how.gate_tolerance = args.gate_tolerance;
  how.retune = args.retune;
  how.wisdom_only = args.wisdom_only;
  how.use_wisdom = !args.no_wisdom;
  how.wisdom_path =
      args.wisdom.empty() ? joule::tuning::wisdom_file::default_path() : std::filesystem::path(args.wisdom);
  if (args.grid_intensity) how.sci = joule::energy::sci_inputs::with_intensity(*args.grid_intensity);
  if (args.embodied_kg > 0) {
    how.sci.embodied_g = args.embodied_kg * 1000;
    how.sci.lifetime_s = args.lifetime_years * 365.25 * 24 * 3600;
    how.sci.resource_share = args.resource_share;
  }
  const auto objective = joule::objective_spec::parse(args.objective);
#if !JOULE_SHOOTOUT_CAIRO
  joule::require(args.plots.empty(),
                 "--plot: this joule-shootout was built without cairo (install libcairo2-dev and "
                 "rebuild), so it cannot draw charts; --json and --csv work");
#endif

  joule::energy::probe_options probe_options;
  if (!args.estimate.empty()) probe_options.estimate.constants = joule::energy::parse_estimate_override(args.estimate);
  const auto probed = joule::energy::probe(probe_options);
  how.meter = probed.chosen.get();
  const auto machine = joule::tuning::collect_machine_key();
  std::cout << probed.report();
  std::cout << "machine: " << machine.cpu_model << ", " << machine.cores << " logical CPUs, simd " << machine.simd_arch
            << ", OpenBLAS " << machine.blas_kernel << ", " << machine.compiler << ", joule " << machine.joule_version
            << "\n";
  if (const auto note = joule::blas::kernel_note(); !note.empty()) std::cout << "note: " << note << "\n";
  std::cout << "wisdom: " << (how.use_wisdom ? how.wisdom_path.string() : std::string("off (--no-wisdom)")) << "\n\n";

  std::size_t planned = 0;
  std::vector<std::string> wisdom_notes;
  for (const auto& model : models)
    for (auto batch : args.batches)
      with_family(model, args.small, [&](const auto& family, const auto&) {
        planned += joule::tuning::measurements_needed(family, options_for(model, batch, args), how, *how.meter, machine,
                                                      &wisdom_notes);
      });
  for (const auto& note : wisdom_notes) std::cout << "note: " << note << "\n";
  if (!wisdom_notes.empty()) std::cout << "\n";
  progress_printer progress(planned, args.budget);
  how.on_progress = [&](const joule::tuning::progress_event& e) { progress(e); };
  if (planned == 0)
    std::cerr << "everything is in the wisdom file: nothing to measure\n";
  else
    std::cerr << planned << " candidate(s) to measure, about " << args.budget << " s each plus building\n";

  const auto start = std::chrono::steady_clock::now();
  std::vector<joule::tuning::shootout_report> reports;
  for (const auto& model : models) {
    std::optional<joule::weights> weights;  // made on first need: not at all when wisdom answers everything
    with_family(model, args.small, [&](const auto& family, const auto& manifest) {
      const joule::tuning::weights_source source = [&]() -> const joule::weights& {
        if (!weights) {
          const auto t0 = std::chrono::steady_clock::now();
          if (args.weights.empty()) {
            progress.note("generating random weights (seed " + std::to_string(args.seed) + ")");
            weights = joule::random_weights(manifest, args.seed);
          } else {
            progress.note("loading " + args.weights);
            weights = joule::io::load_weights(args.weights);
          }
          progress.note("weights ready in " +
                        duration(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()));
        }
        return *weights;
      };
      for (auto batch : args.batches) {
        const auto options = options_for(model, batch, args);
        progress.job(family.config.name() + " b" + std::to_string(batch));
        auto report = joule::tuning::shootout_for(family, source, options, objective, how);
        if (const auto n = progress.take_from_wisdom()) progress.note(std::to_string(n) + " candidate(s) from wisdom");
        std::cout << report << "\n";
        reports.push_back(std::move(report));
      }
    });
  }

  // Winners across all shootouts, per objective.
  std::cout << "winners (" << probed.chosen->label() << " energy):\n";
  for (const auto& r : reports) {
    std::cout << "  " << r.subject.model << " b" << r.subject.batch << ":";
    for (const auto& [name, o] : {std::pair<const char*, joule::objective_spec>{"energy", joule::goal::energy},
                                  {"latency", joule::goal::latency},
                                  {"edp", joule::goal::edp}}) {
      const auto w = joule::tuning::winner_for(r, o);
      std::cout << "  " << name << " " << (w ? r.rows[*w].name() : std::string("-"));
    }
    std::cout << "  | " << r.objective.to_string() << ": " << (r.chosen() ? r.chosen()->name() : std::string("nothing"))
              << "\n";
  }
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::size_t measured = 0, reused = 0;
  for (const auto& r : reports) measured += r.measured_now, reused += r.reused;
  std::cout << "\n"
            << measured << " candidate(s) measured now, " << reused << " from wisdom, in " << duration(total) << "\n";

  if (!args.json.empty()) {
    nlohmann::json doc = {{"joule_version", joule::kVersion},
                          {"machine", machine},
                          {"meter", probed.chosen->label()},
                          {"meter_report", probed.report()},
                          {"shootouts", nlohmann::json::array()}};
    for (const auto& r : reports) doc["shootouts"].push_back(joule::tuning::to_json_report(r));
    write_text(args.json, doc.dump(2) + "\n");
    std::cout << "json: " << args.json << "\n";
  }
  if (!args.csv.empty()) {
    std::string text = joule::tuning::csv_header();
    for (const auto& r : reports) text += joule::tuning::csv_rows(r);
    write_text(args.csv, text);
    std::cout << "csv: " << args.csv << "\n";
  }
#if JOULE_SHOOTOUT_CAIRO
  std::vector<joule::tuning::chart_panel> panels;
  panels.reserve(reports.size());
  for (const auto& r : reports) panels.push_back(joule::tuning::panel_from(r));
  for (const auto& plot : args.plots) {
    joule::tuning::render_chart(panels, plot,
                                "joule shootout on " + machine.cpu_model + " (" + std::to_string(machine.cores) +
                                    " CPUs): energy per inference against latency, lower left is better");
    std::cout << "chart: " << plot << "\n";
  }
#endif
  // Writes are atomic, so a wisdom file that could not be written (a full disk, a read-only
  // directory) still holds what it held; but this run's measurements were not remembered, which
  // the user must hear and a script must see in the exit code.
  for (const auto& r : reports)
    for (const auto& note : r.notes)
      if (note.starts_with("could not write the wisdom file")) {
        std::cerr << "joule-shootout: error: the wisdom file '" << how.wisdom_path.string()
                  << "' could not be written; the results above are complete but will be measured again next time ("
                  << note << ")\n";
        return 1;
      }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"joule-shootout: measure every policy and thread count on this machine, time and energy, and choose"};
  arguments args;
  std::vector<std::string> policy_names{"all"};
  joule::known_policies::for_each([&]<class P>() { policy_names.push_back(P::name()); });
  joule::cli::add_shootout_options(app, args, policy_names);
  CLI11_PARSE(app, argc, argv);
  try {
    return run(args);
  } catch (const std::exception& e) {
    std::cerr << "joule-shootout: error: " << e.what() << "\n";
    return 1;
  }
}
