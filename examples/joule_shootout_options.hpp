#pragma once
/**
 * @file joule_shootout_options.hpp
 * @brief joule-shootout's command line: its arguments and their CLI11 definitions, apart from
 * measuring anything, so that the fuzzer (tests/fuzz/fuzz_shootout_cli.cpp) parses exactly what the
 * tool parses. The values that are themselves small languages (--objective, --estimate) are parsed
 * by joule::objective_spec::parse and joule::energy::parse_estimate_override, which the fuzzer calls too.
 */
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace joule::cli {

/** @brief What joule-shootout was asked to do. */
struct shootout_arguments {
  std::vector<std::string> models{"all"};
  std::vector<std::int64_t> batches{1};
  std::int64_t seq_len = 128, image_size = 224;
  std::vector<std::string> policies{"all"};
  std::vector<int> threads;
  std::string objective = "energy";
  double budget = 2.0, gate_tolerance = 1e-3;
  std::string weights, json, csv, wisdom, estimate;
  std::vector<std::string> plots;
  bool retune = false, wisdom_only = false, no_wisdom = false, small = false;
  std::uint64_t seed = 0;
  std::optional<double> grid_intensity;
  double embodied_kg = 0, lifetime_years = 4, resource_share = 1;
};

/**
 * @brief Adds joule-shootout's options, writing into @p args; @p policy_names are the accepted
 * --policies names ("all" and every known policy).
 */
inline void add_shootout_options(CLI::App& app, shootout_arguments& args,
                                 const std::vector<std::string>& policy_names) {
  app.add_option("--model", args.models, "resnet50, mobilenet_v2, bert-base or all (a comma-separated list)")
      ->delimiter(',')
      ->check(CLI::IsMember({"resnet50", "mobilenet_v2", "bert-base", "all"}))
      ->capture_default_str();
  app.add_option("--batch", args.batches,
                 "batch sizes, e.g. 1,64 (the scalar policy takes minutes per run at 64: leave it out with "
                 "--policies simd,blas,eigen)")
      ->delimiter(',')
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--seq-len", args.seq_len, "BERT: tokens per sequence")
      ->check(CLI::Range(1, 512))
      ->capture_default_str();
  app.add_option("--image-size", args.image_size, "vision models: input height and width")
      ->check(CLI::Range(32, 4096))
      ->capture_default_str();
  app.add_option("--policies", args.policies, "all, or a comma-separated list of policies")
      ->delimiter(',')
      ->check(CLI::IsMember(policy_names))
      ->capture_default_str();
  app.add_option("--threads", args.threads, "thread counts to try, e.g. 1,2 (default: 1 .. every core)")
      ->delimiter(',')
      ->check(CLI::Range(1, 1024));
  app.add_option("--objective", args.objective,
                 "energy | latency | edp | energy@p95<=20ms | energy@median<=0.5s (the bound may follow any goal)")
      ->capture_default_str();
  app.add_option("--budget", args.budget, "seconds of measuring per candidate (building excluded)")
      ->check(CLI::Range(0.01, 3600.0))
      ->capture_default_str();
  app.add_option("--gate-tolerance", args.gate_tolerance,
                 "max |y - ref| / max |ref| against the scalar policy's output")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--weights", args.weights, "safetensors checkpoint (one model); default: random weights")
      ->check(CLI::ExistingFile);
  app.add_option("--seed", args.seed, "seed of the random weights")->capture_default_str();
  app.add_option("--json", args.json, "write every shootout as JSON to this file");
  app.add_option("--csv", args.csv, "write every candidate as a CSV row to this file");
  app.add_option("--plot", args.plots, "draw energy per inference against latency to FILE.svg or FILE.png (repeatable)")
      ->check([](const std::string& f) -> std::string {
        const bool ok = f.size() > 4 && (f.ends_with(".svg") || f.ends_with(".png"));
        return ok ? std::string() : "the chart must be a .svg or .png file, got '" + f + "'";
      });
  app.add_option("--wisdom", args.wisdom,
                 "the wisdom file (default: $JOULE_WISDOM, else $XDG_CACHE_HOME/joule/wisdom.json)");
  app.add_flag("--no-wisdom", args.no_wisdom, "neither read nor write a wisdom file");
  auto* retune = app.add_flag("--retune", args.retune, "measure everything again, even what the wisdom file holds");
  app.add_flag("--wisdom-only", args.wisdom_only, "measure nothing: use the wisdom file, list what it lacks")
      ->excludes(retune);
  app.add_option("--grid-intensity", args.grid_intensity,
                 "SCI: grid carbon intensity, gCO2e/kWh (default: the world average 475, labelled as such)")
      ->check(CLI::Range(0.0, 5000.0));
  app.add_option("--embodied-kg", args.embodied_kg,
                 "SCI: embodied emissions of this machine, kgCO2e (default: not given, M = 0)")
      ->check(CLI::Range(0.0, 1e6));
  app.add_option("--lifetime-years", args.lifetime_years, "SCI: the machine's expected lifetime, years")
      ->check(CLI::Range(0.1, 50.0))
      ->capture_default_str();
  app.add_option("--resource-share", args.resource_share, "SCI: the share of the machine reserved, in (0, 1]")
      ->check(CLI::Range(1e-6, 1.0))
      ->capture_default_str();
  app.add_option(
      "--estimate", args.estimate,
      "override the energy estimate's constants, e.g. max_watts_per_cpu=4.2,min_watts_per_cpu=1,cpus_reserved=2");
  app.add_flag("--small", args.small, "the small test configurations (seconds, for trying the tool)");
}

}  // namespace joule::cli
