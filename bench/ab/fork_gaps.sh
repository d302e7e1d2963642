#!/usr/bin/env bash
# Builds and runs bench/ab/fork_gaps.cpp: how long a model's threads wait for one another at each
# fork. The timers go into a copy of include/ (build/ab/fork-gaps-include): thread_pool's run_index
# notes when each index ends, run_locked the gap between the first and the last; joule has none.
#
#   bash bench/ab/fork_gaps.sh [MODEL] [RUNS] [TOP]    # default resnet50 100 12; two threads
#   JOULE_AB_THREADS=4 bash bench/ab/fork_gaps.sh mobilenet_v2
set -euo pipefail
cd "$(dirname "$0")/../.."
out=build/ab
copy=$out/fork-gaps-include
rm -rf "$copy" && mkdir -p "$copy" && cp -r include/. "$copy"/
PYTHONPATH=bench/ab python3 - "$copy/joule/core/thread_pool.hpp" <<'PY'
import sys
from header_patch import Header
header = Header(sys.argv[1], "fork_gaps.sh")
swap = header.swap
swap("namespace joule {", """#include <typeinfo>
namespace joule {
namespace fork_gaps {
struct fork { long long gap_ns = 0, slower_ns = 0; bool first_slower = false; const char* body = nullptr; };
inline std::vector<fork> forks;           // this run's forks, in order
inline std::vector<long long> ended_ns;   // per index: when it ended (steady clock)
inline void reset() { forks.clear(); }
}  // namespace fork_gaps""")
swap("""    index_runner_[static_cast<std::size_t>(t)] = slot();""",
     """    index_runner_[static_cast<std::size_t>(t)] = slot();
    fork_gaps::ended_ns[static_cast<std::size_t>(t)] = std::chrono::steady_clock::now().time_since_epoch().count();""")
swap("""    index_runner_.assign(static_cast<std::size_t>(threads), 0);""",
     """    index_runner_.assign(static_cast<std::size_t>(threads), 0);
    fork_gaps::ended_ns.resize(std::max<std::size_t>(fork_gaps::ended_ns.size(), static_cast<std::size_t>(threads)));""")
swap("""    if (error_) std::rethrow_exception(error_);
  }""", """    if (error_) std::rethrow_exception(error_);
    {  // every index has ended: the first and the last, and the slower index's own time
      const auto n = static_cast<std::size_t>(size_);
      const auto [first, last] = std::minmax_element(fork_gaps::ended_ns.begin(), fork_gaps::ended_ns.begin() + n);
      const auto slowest = std::max_element(index_ns_.begin(), index_ns_.begin() + n);
      fork_gaps::forks.push_back({*last - *first, *slowest, slowest == index_ns_.begin(), typeid(Body).name()});
    }
  }""")
header.save()
PY
c++ -std=gnu++20 -O3 -DNDEBUG -march=native -DJOULE_HAS_SIMD=1 -DAB_SIDE=new -I"$copy" -Ibench/ab \
  bench/ab/fork_gaps.cpp -o "$out/fork_gaps" -lpthread
"$out/fork_gaps" "${1:-resnet50}" "${2:-100}" "${3:-12}"
