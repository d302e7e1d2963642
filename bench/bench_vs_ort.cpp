// The six rows of the performance issue (#7) in one run: ResNet-50 and MobileNetV2 at batch 1 and
// 64, BERT-base at sequence length 128 and batch 1 and 8, on every CPU policy but scalar (minutes per
// batch), then one table: each policy's median latency side by side, joule's best policy, its ratio
// to the issue's ONNX Runtime table and, given ONNX Runtime's CSV from the same sitting, its ratio
// to that; and each executor's peak memory.
//
//   build/release/bench/bench_vs_ort                                  # about 2 minutes on 2 cores
//   bash ../shared/peers/run-ort.sh --csv /tmp/ort.csv                # ONNX Runtime, same sitting
//   build/release/bench/bench_vs_ort --ort-csv=/tmp/ort.csv           # adds the side-by-side ratio
//   env -u OPENBLAS_CORETYPE build/release/bench/bench_vs_ort         # OpenBLAS's own kernel choice
//   bash scripts/vs-ort-rounds.sh 6      # ORT and joule's simd alternated, 6 rounds: per-round ratios
//
// Latency: the median of 5 repetitions (3 for the batch-64/8 rows, whose runs take seconds), each
// one timed run() after three warm-up runs (the one compile does and two more), as many as
// ../shared/peers/bench_ort.js gives ONNX Runtime. Google Benchmark's usual flags work
// (--benchmark_filter='resnet50/batch:1/' runs one row).
//
// Memory, "peak RSS": the process's resident-set high-water mark (VmHWM) while that executor is
// compiled and run, reset before each executor through /proc/self/clear_refs, minus the resident
// set just before compiling (the bench's own copy of the random weights, which joule-run would load
// from a file, is not counted). So it is what compiling and running that executor added: its
// prepacked weights, planned activations and scratch. Where the kernel does not allow the reset,
// the column says "n/a". joule-run's whole-process peak RSS (the issue's comparison with ONNX
// Runtime's 343/122/613 MB) is printed by `joule-run --repeat 1` itself.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <malloc.h>

#include <joule/choose/family.hpp>

#include "bench_common.hpp"

namespace {

/** One row of the issue's table: ONNX Runtime 1.30, 2 threads, on the project's Zen 5 machine. */
struct issue_row {
  const char* model;      // joule's family name
  const char* ort_model;  // the name in ../shared/peers/bench_ort.js's CSV
  std::int64_t batch;
  double ort_ms;
};
constexpr issue_row kIssueRows[] = {
    {"resnet50", "resnet50", 1, 20.7},         {"resnet50", "resnet50", 64, 1254.0},
    {"mobilenet_v2", "mobilenet_v2", 1, 2.22}, {"mobilenet_v2", "mobilenet_v2", 64, 175.0},
    {"bert-base", "bert_base", 1, 64.6},       {"bert-base", "bert_base", 8, 461.0},
};

/** Resident-set figures of this process from /proc/self/status, in bytes (-1 when unreadable). */
std::int64_t proc_status_kb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string key = std::string(field) + ":";
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::atoll(line.c_str() + key.size()) * 1024;
  return -1;
}

/** Resets VmHWM to the current resident set; false where the kernel does not allow it. */
bool reset_peak_rss() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  return static_cast<bool>(clear.flush());
}

struct measured {
  double median_ms = NAN;
  double peak_rss_bytes = NAN;  // added by the executor, NAN when not measurable
  std::string error;
};
std::map<std::string, std::map<std::string, measured>>& results() {  // [row key][policy]
  static std::map<std::string, std::map<std::string, measured>> r;
  return r;
}
std::string row_key(const std::string& model, std::int64_t batch) { return model + "/batch:" + std::to_string(batch); }

using joule_bench::bench_threads;
using joule_bench::slot;
using joule_bench::weights_for;

template <class P, class Family>
void register_row(const Family& family, const std::string& model, std::int64_t batch, std::int64_t seq_len) {
  using traits = joule::tuning::family_traits<std::remove_cvref_t<decltype(family.config)>>;
  using model_type = decltype(family.template instantiate<P>());
  const int threads = bench_threads();
  const std::string key = row_key(model, batch);
  const std::string name = key + "/" + P::name();
  auto* b = benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& state) {
    if (!P::available()) {
      state.SkipWithError((std::string(P::name()) + " is unavailable here: " + P::unavailable_reason()).c_str());
      results()[key][P::name()].error = "unavailable";
      return;
    }
    auto& s = slot();
    const bool compiled_now = s.name != name;
    if (compiled_now) {
      s = {};
      malloc_trim(0);  // give the last executor's memory back, so this one's peak starts clean
      const auto& w = weights_for(model, family.template instantiate<joule::scalar>().manifest());
      const joule::compile_options options{.batch = batch, .image_size = 224, .seq_len = seq_len, .threads = threads};
      const std::int64_t before = proc_status_kb("VmRSS");
      const bool peak_ok = reset_peak_rss();
      s.executor = std::make_shared<joule::executor<model_type>>(family.template instantiate<P>(), w, options);
      s.input = std::make_shared<typename traits::input_data>(traits::make_input(family.config, options, 1));
      s.name = name;
      const std::int64_t peak = proc_status_kb("VmHWM");
      results()[key][P::name()].peak_rss_bytes = peak_ok && before > 0 && peak > 0 ? double(peak - before) : NAN;
    }
    auto& net = *std::static_pointer_cast<joule::executor<model_type>>(s.executor);
    const auto& input = *std::static_pointer_cast<typename traits::input_data>(s.input);
    // Warm-up as ../shared/peers/bench_ort.js gives ONNX Runtime: three untimed runs (there, two,
    // the second when the first took under 2 s, and one that sizes its run count), here the
    // compile's run and two more. With the compile's alone, the first of the timed runs at batch
    // 1 was the slowest in 5 of 6 sittings (ResNet-50, 30-40 ms against 29-30 for the later
    // ones, Emerald Rapids).
    if (compiled_now)
      for (int i = 0; i < 2; ++i) benchmark::DoNotOptimize(net.run(input.view()).data());
    for (auto _ : state) benchmark::DoNotOptimize(net.run(input.view()).data());
    state.SetItemsProcessed(state.iterations() * batch);
    joule_bench::set_gflops(state, net.flops());
  });
  // One run per repetition: a repetition of ResNet-50 at batch 64 takes about 2 s on 2 cores.
  b->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1)->Repetitions(batch > 1 ? 3 : 5);
  b->ReportAggregatesOnly(true);
}

template <class Family>
void register_family(const Family& family, const std::string& model, std::initializer_list<std::int64_t> batches,
                     std::int64_t seq_len = 128) {
  for (const auto batch : batches)
    joule::cpu_policies::for_each([&]<class P>() {
      if constexpr (!std::is_same_v<P, joule::scalar>) register_row<P>(family, model, batch, seq_len);
    });
}

void register_all() {
  register_family(joule::models::resnet_family{joule::models::resnet50_config()}, "resnet50", {1, 64});
  register_family(joule::models::mobilenet_v2_family{joule::models::mobilenet_v2_default_config()}, "mobilenet_v2",
                  {1, 64});
  register_family(joule::models::bert_family{joule::models::bert_base_config()}, "bert-base", {1, 8}, 128);
}

/** ONNX Runtime's medians from ../shared/peers/bench_ort.js --csv, keyed like results(). */
std::map<std::string, double> read_ort_csv(const std::string& path) {
  std::map<std::string, double> out;
  if (path.empty()) return out;
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "bench_vs_ort: cannot read --ort-csv=%s\n", path.c_str());
    std::exit(2);
  }
  std::string line;
  std::getline(in, line);  // runtime,variant,model,batch,median_ms,...
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) f.push_back(cell);
    if (f.size() < 5) continue;
    for (const auto& row : kIssueRows)
      if (f[2] == row.ort_model && std::atoll(f[3].c_str()) == row.batch)
        out[row_key(row.model, row.batch)] = std::atof(f[4].c_str());
  }
  return out;
}

/** The console output as usual, and the medians collected for the table printed at the end. */
class collecting_reporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& run : runs) {
      if (run.aggregate_name != "median") continue;
      const std::string name = run.run_name.function_name;  // <model>/batch:<b>/<policy>
      const auto cut = name.rfind('/');
      results()[name.substr(0, cut)][name.substr(cut + 1)].median_ms = run.GetAdjustedRealTime();
    }
  }
};

std::string format_ms(double ms) {
  char buf[32];
  if (std::isnan(ms)) return "-";
  if (ms >= 1000)
    std::snprintf(buf, sizeof buf, "%.3g s", ms / 1000);
  else
    std::snprintf(buf, sizeof buf, ms >= 100 ? "%.0f ms" : ms >= 10 ? "%.1f ms" : "%.2f ms", ms);
  return buf;
}

std::string format_mb(double bytes) {
  char buf[32];
  if (std::isnan(bytes)) return "n/a";
  std::snprintf(buf, sizeof buf, "%.0f MB", bytes / 1e6);
  return buf;
}

void print_table(const std::map<std::string, double>& ort_here) {
  std::vector<std::string> policies;
  joule::cpu_policies::for_each([&]<class P>() {
    if constexpr (!std::is_same_v<P, joule::scalar>) policies.push_back(P::name());
  });
  std::printf("\n== joule vs ONNX Runtime (issue 7's table: onnxruntime-node 1.30, 2 threads, Zen 5)\n");
  std::printf("threads %d; simd arch %s; OpenBLAS kernels %s; median latency per run (whole batch)\n", bench_threads(),
              joule::simd::arch_name(), joule::blas::kernel_name().c_str());
  std::printf("\n| model | batch |");
  for (const auto& p : policies) std::printf(" %s |", p.c_str());
  std::printf(" best | ORT (issue) | ratio | ORT (here) | ratio here |\n|---|---|");
  for (std::size_t i = 0; i < policies.size(); ++i) std::printf("---|");
  std::printf("---|---|---|---|---|\n");
  for (const auto& row : kIssueRows) {
    const std::string key = row_key(row.model, row.batch);
    const auto found = results().find(key);
    if (found == results().end()) continue;  // filtered out
    std::string best;
    double best_ms = INFINITY;
    std::printf("| %s | %lld |", row.model, static_cast<long long>(row.batch));
    for (const auto& p : policies) {
      const auto it = found->second.find(p);
      const double ms = it == found->second.end() ? NAN : it->second.median_ms;
      std::printf(" %s |", format_ms(ms).c_str());
      if (ms < best_ms) best_ms = ms, best = p;
    }
    if (best.empty()) {
      std::printf(" - | %s | - | - | - |\n", format_ms(row.ort_ms).c_str());
      continue;
    }
    const auto here = ort_here.find(key);
    std::printf(" %s (%s) | %s | **%.2f** |", format_ms(best_ms).c_str(), best.c_str(), format_ms(row.ort_ms).c_str(),
                best_ms / row.ort_ms);
    if (here != ort_here.end())
      std::printf(" %s | **%.2f** |\n", format_ms(here->second).c_str(), best_ms / here->second);
    else
      std::printf(" - | - |\n");
  }
  std::printf("\nPeak RSS added by each executor (compile + runs: prepacked weights, activations, scratch):\n\n");
  std::printf("| model | batch |");
  for (const auto& p : policies) std::printf(" %s |", p.c_str());
  std::printf("\n|---|---|");
  for (std::size_t i = 0; i < policies.size(); ++i) std::printf("---|");
  std::printf("\n");
  for (const auto& row : kIssueRows) {
    const auto found = results().find(row_key(row.model, row.batch));
    if (found == results().end()) continue;
    std::printf("| %s | %lld |", row.model, static_cast<long long>(row.batch));
    for (const auto& p : policies) {
      const auto it = found->second.find(p);
      std::printf(" %s |", it == found->second.end() ? "-" : format_mb(it->second.peak_rss_bytes).c_str());
    }
    std::printf("\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string ort_csv;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--ort-csv=", 0) == 0)
      ort_csv = a.substr(10);
    else
      args.push_back(argv[i]);
  }
  const auto ort_here = read_ort_csv(ort_csv);
  int n = static_cast<int>(args.size());
  joule_bench::add_kernel_context();
  register_all();
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
  collecting_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  print_table(ort_here);
  return 0;
}
