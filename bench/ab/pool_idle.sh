#!/usr/bin/env bash
# How long ResNet-50's forks keep a thread waiting for the other (bench/ab/resnet50_in_model.cpp,
# with timers around every index of every thread_pool job). The timers go into a copy of
# include/ (build/ab/pool-idle-include), in core/thread_pool.hpp; joule itself has none. At exit
# the program prints, for the last RUNS runs, each job's mean time, each thread's busy time
# within it and the time the two threads waited (idle = 2 x job - busy), then the totals.
#
#   bash bench/ab/pool_idle.sh [BATCH] [RUNS]     # default 1 40; JOBS_PER_RUN=60 (ResNet-50 at batch 1)
set -euo pipefail
cd "$(dirname "$0")/../.."
batch=${1:-1}
runs=${2:-40}
copy=build/ab/pool-idle-include
rm -rf "$copy" && mkdir -p "$copy" && cp -r include/. "$copy"/
python3 - "$copy/joule/core/thread_pool.hpp" "$runs" "${JOBS_PER_RUN:-60}" <<'PY'
import sys
path, runs, per_run = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = open(path).read()
def swap(old, new):
    global s
    if s.count(old) != 1:
        sys.exit(f"pool_idle.sh: core/thread_pool.hpp no longer has, once:\n{old}")
    s = s.replace(old, new)
stats = """#include <array>
#include <chrono>
#include <cstdio>
#include <vector>
namespace joule {
// Per job: its time, thread 0's and thread 1's busy time (ms).
struct pool_idle_stats {
  std::vector<std::array<double, 3>> jobs;
  ~pool_idle_stats() {
    const std::size_t runs = RUNS, per_run = PER_RUN;
    if (jobs.size() < runs * per_run) return;
    double job = 0, busy = 0;
    for (std::size_t i = 0; i < per_run; ++i) {
      double a[3] = {};
      for (std::size_t r = 0; r < runs; ++r)
        for (int k = 0; k < 3; ++k) a[k] += jobs[jobs.size() - (runs - r) * per_run + i][k];
      std::printf("job %2zu: %.3f ms, busy %.3f + %.3f, idle %.3f\\n", i, a[0] / runs, a[1] / runs, a[2] / runs,
                  (2 * a[0] - a[1] - a[2]) / runs);
      job += a[0] / runs, busy += (a[1] + a[2]) / runs;
    }
    std::printf("per run: %zu jobs, %.2f ms in jobs, threads busy %.2f of %.2f ms, idle %.2f (%.1f%%)\\n", per_run, job,
                busy, 2 * job, 2 * job - busy, 100 * (2 * job - busy) / (2 * job));
  }
};
inline pool_idle_stats g_pool_idle;
inline std::chrono::steady_clock::time_point g_job_start;
inline double g_index_ms[2][2];  // [index][start, end]
inline double ms_since_job_start() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - g_job_start).count();
}
}  // namespace joule
""".replace("RUNS", str(runs)).replace("PER_RUN", str(per_run))
swap("namespace joule {\n\nnamespace detail {", stats + "namespace joule {\n\nnamespace detail {")
swap("""    std::lock_guard one_job_at_a_time(run_mutex_);
""", """    std::lock_guard one_job_at_a_time(run_mutex_);
    g_job_start = std::chrono::steady_clock::now();
""")
swap("""    if (error_) std::rethrow_exception(error_);
""", """    if (size_ == 2)
      g_pool_idle.jobs.push_back({ms_since_job_start(), g_index_ms[0][1] - g_index_ms[0][0], g_index_ms[1][1] - g_index_ms[1][0]});
    if (error_) std::rethrow_exception(error_);
""")
swap("""    detail::tl_inside_pool_job = true;
""", """    detail::tl_inside_pool_job = true;
    if (t < 2) g_index_ms[t][0] = ms_since_job_start();
""")
swap("""    detail::tl_inside_pool_job = false;
""", """    detail::tl_inside_pool_job = false;
    if (t < 2) g_index_ms[t][1] = ms_since_job_start();
""")
open(path, "w").write(s)
PY
JOULE_INCLUDE="$copy" bash bench/ab/resnet50_in_model.sh "$batch" "$runs" 2
