// Core pieces: shape, tensor and views, the thread pool, the scratch arena, kernel lookup along
// fallback chains, and the policies' run-time reports.
//
// Bad input tested: negative dimensions, rank above 5, element counts that overflow int64,
// reshape to another element count, out-of-range axes and indices, a thread count below 1.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <functional>
#include <pthread.h>
#include <stdexcept>
#include <thread>
#include <vector>

#include <joule/joule.hpp>

#include "../common/testing.hpp"

namespace {

using joule::shape;
using joule::tensor;

TEST(shape, dims_numel_and_printing) {
  const shape s{2, 3, 4};
  EXPECT_EQ(s.rank(), 3);
  EXPECT_EQ(s.numel(), 24);
  EXPECT_EQ(s[-1], 4);
  EXPECT_EQ(s.prefix(2), 6);
  EXPECT_EQ(s.to_string(), "[2, 3, 4]");
  EXPECT_EQ(shape{}.numel(), 1);
  EXPECT_EQ((shape{0, 5}.numel()), 0);
}

TEST(shape, rejects_bad_dimensions) {
  EXPECT_THROW((shape{2, -1}), joule::error);
  EXPECT_THROW((shape{1, 2, 3, 4, 5, 6}), joule::error);
  EXPECT_THROW((shape{1LL << 40, 1LL << 40}), joule::error);
  EXPECT_THROW((shape{2, 3}[2]), joule::error);
}

TEST(tensor, large_ones_start_on_a_huge_page) {
  // At least kHugePage bytes: aligned to it (and advised onto huge pages on Linux), still zeroed.
  const std::int64_t floats = static_cast<std::int64_t>(joule::kHugePage / sizeof(float)) + 3;
  tensor<float> big(shape{floats});
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(big.data()) % joule::kHugePage, 0u);
  EXPECT_EQ(big[0], 0.f);
  EXPECT_EQ(big[floats - 1], 0.f);
  big[floats - 1] = 5.f;
  tensor<float> copy = big;
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(copy.data()) % joule::kHugePage, 0u);
  EXPECT_EQ(copy[floats - 1], 5.f);
  tensor<float> moved = std::move(copy);
  EXPECT_EQ(moved[floats - 1], 5.f);
}

TEST(tensor, aligned_zeroed_and_viewable) {
  tensor<float> t(shape{3, 5});
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data()) % joule::kAlignment, 0u);
  for (float x : t.span()) EXPECT_EQ(x, 0.f);
  t[7] = 2.f;
  joule::tensor_view<const float> v = t;
  EXPECT_EQ(v(1)[2], 2.f);
  EXPECT_EQ(v(1).shape(), (shape{5}));
  EXPECT_EQ(v.reshape(shape{15})[7], 2.f);
  EXPECT_THROW(v.reshape(shape{4, 4}), joule::error);
  EXPECT_THROW(v(3), joule::error);
  tensor<float> copy = t;
  copy[7] = 3.f;
  EXPECT_EQ(t[7], 2.f);
  EXPECT_THROW((tensor<float>(shape{2}, {1.f, 2.f, 3.f})), joule::error);
}

TEST(thread_pool, runs_every_index_once_and_propagates_errors) {
  joule::thread_pool pool(3);
  std::atomic<int> mask{0};
  pool.run([&](int t) { mask |= 1 << t; });
  EXPECT_EQ(mask.load(), 0b111);
  for (int round = 0; round < 1000; ++round) {  // back-to-back jobs, as layers are
    std::atomic<int> count{0};
    pool.run([&](int) { ++count; });
    ASSERT_EQ(count.load(), 3);
  }
  EXPECT_THROW(pool.run([&](int t) {
    if (t == 2) throw std::runtime_error("boom");
  }),
               std::runtime_error);
  std::atomic<int> nested{0};
  pool.run([&](int) { pool.run([&](int) { ++nested; }); });  // nested forks run inline
  EXPECT_EQ(nested.load(), 9);
  EXPECT_THROW(joule::thread_pool(0), joule::error);
}

TEST(thread_pool, uneven_bodies_back_to_back_run_each_index_exactly_once) {
  // A thread that has run its own index takes any index not yet claimed, so a slow body (or a
  // descheduled worker) shifts work to the others. Each index must still run once per
  // job, and a worker late from one job must only ever run indices of the job that is current.
  joule::thread_pool pool(3);
  for (int round = 0; round < 300; ++round) {
    std::array<std::atomic<int>, 3> runs{};
    pool.run([&](int t) {
      if ((round + t) % 7 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
      ++runs[t];
    });
    for (int t = 0; t < 3; ++t) ASSERT_EQ(runs[t].load(), 1) << "round " << round << " index " << t;
  }
}

TEST(thread_pool, run_shares_covers_the_range_once_in_contiguous_ranges) {
  joule::thread_pool pool(3);
  for (const std::int64_t count : {0, 1, 2, 3, 7, 100, 1001})
    for (int parts = 1; parts <= 4; ++parts) {
      std::vector<std::atomic<int>> hits(static_cast<std::size_t>(count));
      std::array<std::pair<std::int64_t, std::int64_t>, 4> ranges{};
      pool.run_shares(count, parts, [&](int t, std::int64_t begin, std::int64_t end) {
        ASSERT_LT(begin, end);
        ranges[static_cast<std::size_t>(t)] = {begin, end};
        for (auto i = begin; i < end; ++i) ++hits[static_cast<std::size_t>(i)];
      });
      for (const auto& h : hits) ASSERT_EQ(h.load(), 1) << count << " units in " << parts << " parts";
      // Range t + 1 starts where range t ends: a thread's units stay one run.
      for (int t = 0; t + 1 < std::min(parts, 3); ++t)
        if (ranges[t + 1].first < ranges[t + 1].second && ranges[t].first < ranges[t].second) {
          EXPECT_EQ(ranges[t].second, ranges[t + 1].first);
        }
    }
}

TEST(thread_pool, run_shares_gives_a_slower_thread_less) {
  // Thread 1 takes three times as long a unit as thread 0 (sleeps, so that the machine's load
  // does not change it): its measured speed falls, and so does its share, towards a quarter.
  joule::thread_pool pool(2);
  constexpr std::int64_t kUnits = 64;
  std::int64_t last_share = 0;
  for (int fork = 0; fork < 150; ++fork) {
    std::atomic<int> started{0};
    pool.run_shares(kUnits, 2, [&](int t, std::int64_t begin, std::int64_t end) {
      // Both ranges on their own threads (a late worker's range taken by the caller is not timed).
      ++started;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      while (started.load() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
      std::this_thread::sleep_for(std::chrono::microseconds((t == 0 ? 10 : 30) * (end - begin)));
      if (t == 1) last_share = end - begin;
    });
  }
  EXPECT_LT(pool.speed(1), pool.speed(0));
  EXPECT_LE(last_share, 24) << "of " << kUnits << " units (32 at even speeds, 16 at the true ones)";
  EXPECT_GE(last_share, 8);
}

TEST(thread_pool, each_index_stays_on_its_thread_from_job_to_job) {
  // The CPU policies cut consecutive layers the same way, so that index t reads what index t
  // wrote a layer before from its own core's caches: index t must run on the same thread job
  // after job. Each body waits until all three indices have started, so that no thread is ever
  // late and free to take another's index: what thread ran an index then depends only on how the
  // pool hands them out, not on how the machine schedules threads (a 2 ms sleep instead let a
  // worker descheduled under ASan on 2 cores lose its index in 12 of 59 jobs). A pool that hands
  // indices out first come, first served runs them on arbitrary threads and fails this, and so
  // did this pool while a worker scanning after its own index could claim the next job's.
  joule::thread_pool pool(3);
  constexpr int kJobs = 60;
  std::array<std::array<std::thread::id, 3>, kJobs> ran_on{};
  std::array<std::atomic<int>, kJobs> started{};
  std::atomic<bool> timed_out{false};
  for (int job = 0; job < kJobs; ++job)
    pool.run([&](int t) {
      ran_on[job][t] = std::this_thread::get_id();
      ++started[job];
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      // Bounded, so that a pool running two indices on one thread fails, not hangs: after one
      // timeout the later jobs stop waiting, and the test fails in 10 s, not 60 x 10.
      while (started[job].load() < 3 && !timed_out) {
        if (std::chrono::steady_clock::now() > deadline) {
          timed_out = true;
          return;
        }
        std::this_thread::yield();
      }
    });
  ASSERT_FALSE(timed_out) << "an index waited 10 s for the others: one thread ran two indices of a job";
  for (int job = 0; job < kJobs; ++job) {
    EXPECT_EQ(ran_on[job][0], std::this_thread::get_id()) << "job " << job << ": the caller is thread 0";
    if (job > 0) {
      EXPECT_EQ(ran_on[job], ran_on[job - 1]) << "job " << job;
    }
  }
}

TEST(thread_pool, busy_scopes_run_jobs_as_before_and_never_spin_for_long) {
  // Inside a busy scope (an executor's run) waiting threads spin longer between forks, and opening
  // one wakes the workers; the jobs must run as before, and neither an open scope nor a closed one
  // may keep a worker spinning while nothing comes: 100 ms of idleness may cost a worker a few ms
  // of CPU (kBusySpinTime once per wake), not 100 ms. A worker whose wake-up condition stayed true
  // after a scope woke it would spin the whole time, and so fail. Each thread's own CPU clock is
  // read, not the process's: OpenBLAS's threads spin for their first 100 ms or so.
  joule::thread_pool pool(3);
  std::array<clockid_t, 3> clocks{};
  std::atomic<int> started{0};
  pool.run([&](int t) {  // each index waits for the others, so each thread runs one (see above)
    pthread_getcpuclockid(pthread_self(), &clocks[static_cast<std::size_t>(t)]);
    ++started;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (started.load() < 3 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  });
  ASSERT_EQ(started.load(), 3);
  auto worker_cpu_ms = [&] {  // the two workers' CPU time together
    double ms = 0;
    for (std::size_t t = 1; t < clocks.size(); ++t) {
      timespec ts{};
      clock_gettime(clocks[t], &ts);
      ms += static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
    }
    return ms;
  };
  std::array<std::atomic<int>, 3> hits{};
  auto job = [&](int t) {
    ++hits[static_cast<std::size_t>(t)];
    if (t == 1) std::this_thread::sleep_for(std::chrono::microseconds(300));  // one share ends late
  };
  {
    const joule::thread_pool::busy_scope outer(pool);
    for (int i = 0; i < 20; ++i) {
      const joule::thread_pool::busy_scope inner(pool);  // scopes nest
      pool.run(job);
      if (i % 5 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(3));  // past kBusySpinTime
      pool.run(job);
    }
    const double before = worker_cpu_ms();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_LT(worker_cpu_ms() - before, 30.0) << "workers spun through 100 ms of idleness inside a busy scope";
  }
  for (const auto& h : hits) EXPECT_EQ(h.load(), 40);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the last spins end
  const double before = worker_cpu_ms();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_LT(worker_cpu_ms() - before, 10.0) << "workers spun through 100 ms of idleness after the scope closed";
  pool.run(job);
  for (const auto& h : hits) EXPECT_EQ(h.load(), 41);
}

TEST(context, parallel_for_covers_the_range_in_disjoint_pieces) {
  joule::context<joule::scalar> ctx(2);
  std::vector<int> hits(1001, 0);
  ctx.parallel_for(1001, 1, [&](std::int64_t b, std::int64_t e) {
    for (auto i = b; i < e; ++i) ++hits[i];
  });
  for (int h : hits) EXPECT_EQ(h, 1);
}

TEST(scratch_arena, stops_growing_after_the_first_run) {
  joule::context<joule::scalar> ctx(1);
  auto one_run = [&] {
    joule::scratch_frame outer(ctx);
    float* a = outer.take<float>(1000);
    a[999] = 1.f;
    {
      joule::scratch_frame inner(ctx);
      float* b = inner.take<float>(100000);  // forces a new chunk; a must stay valid
      b[0] = 2.f;
      EXPECT_EQ(a[999], 1.f);
    }
    float* c = outer.take<float>(10);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(c) % joule::kAlignment, 0u);
  };
  one_run();
  const auto growths = ctx.scratch().growth_count();
  for (int i = 0; i < 5; ++i) one_run();
  EXPECT_EQ(ctx.scratch().growth_count(), growths);
}

TEST(context, each_thread_takes_scratch_of_its_own_that_stops_growing) {
  joule::context<joule::scalar> ctx(3);
  EXPECT_EQ(ctx.pool().slot(), 0) << "the calling thread is slot 0";
  std::vector<std::atomic<int>> slots(3);
  std::vector<std::atomic<const void*>> arenas(3);
  std::vector<std::atomic<std::size_t>> threads(3);
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<bool> clash{false};
  auto one_run = [&] {
    ctx.pool().run([&](int) {
      const int slot = ctx.pool().slot();
      ASSERT_GE(slot, 0);
      ASSERT_LT(slot, 3);
      ++slots[static_cast<std::size_t>(slot)];
      joule::scratch_arena& mine = ctx.thread_scratch();
      const void* seen = nullptr;
      // A slot keeps one arena, and no two slots share one.
      if (!arenas[static_cast<std::size_t>(slot)].compare_exchange_strong(seen, &mine) && seen != &mine) clash = true;
      if (&mine == &ctx.scratch()) clash = true;
      // A slot is one thread: the caller's is 0, each worker's its own.
      const std::size_t id = std::hash<std::thread::id>{}(std::this_thread::get_id());
      std::size_t none = 0;
      if (!threads[static_cast<std::size_t>(slot)].compare_exchange_strong(none, id) && none != id) clash = true;
      if ((slot == 0) != (std::this_thread::get_id() == caller)) clash = true;
      joule::scratch_frame own(mine);
      float* a = own.take<float>(50000);
      for (int i = 0; i < 50000; ++i) a[i] = static_cast<float>(slot);
      for (int i = 0; i < 50000; ++i)
        if (a[i] != static_cast<float>(slot)) clash = true;  // another thread wrote into this slice
    });
  };
  one_run();
  // A slot that ran in the first run has grown its arena then, and never again (a worker that was
  // late may run no index in a run: the caller takes it).
  auto growths_of = [](const std::atomic<const void*>& arena) {
    return arena.load() ? static_cast<const joule::scratch_arena*>(arena.load())->growth_count() : ~std::size_t{0};
  };
  std::vector<std::size_t> growths(arenas.size());
  for (std::size_t k = 0; k < arenas.size(); ++k) growths[k] = growths_of(arenas[k]);
  for (int i = 0; i < 20; ++i) one_run();
  EXPECT_FALSE(clash);
  for (std::size_t k = 0; k < arenas.size(); ++k)
    if (growths[k] != ~std::size_t{0}) {
      EXPECT_EQ(growths_of(arenas[k]), growths[k]) << "slot " << k;
    }
  int runs = 0;
  for (const auto& s : slots) runs += s.load();
  EXPECT_EQ(runs, 3 * 21);
}

struct only_in_scalar_op {};
struct overridden_op {};
}  // namespace

template <>
struct joule::kernel<only_in_scalar_op, joule::scalar> {};
template <>
struct joule::kernel<overridden_op, joule::scalar> {};
template <>
struct joule::kernel<overridden_op, joule::blas> {};

namespace {
TEST(kernel_lookup, walks_the_fallback_chain) {
  static_assert(std::is_same_v<joule::kernel_policy<only_in_scalar_op, joule::scalar>, joule::scalar>);
  static_assert(std::is_same_v<joule::kernel_policy<only_in_scalar_op, joule::blas>, joule::scalar>);
  static_assert(std::is_same_v<joule::kernel_policy<only_in_scalar_op, joule::eigen>, joule::scalar>);
  static_assert(std::is_same_v<joule::kernel_policy<overridden_op, joule::blas>, joule::blas>);
  static_assert(std::is_same_v<joule::kernel_policy<joule::gemm_op, joule::simd>,
                               std::conditional_t<JOULE_HAS_SIMD != 0, joule::simd, joule::scalar>>);
  SUCCEED();
}

TEST(policies, report_availability_with_reasons) {
  joule::known_policies::for_each([]<class P>() {
    if (P::available())
      EXPECT_TRUE(P::unavailable_reason().empty()) << P::name();
    else
      EXPECT_FALSE(P::unavailable_reason().empty()) << P::name();
  });
  EXPECT_TRUE(joule::scalar::available());
#if !JOULE_HAS_CUDA
  EXPECT_NE(joule::cuda::unavailable_reason().find("without the CUDA toolkit"), std::string::npos);
#endif
#if JOULE_HAS_BLAS
  EXPECT_FALSE(joule::blas::kernel_name().empty());
  // When the environment forces AVX2 kernels on an AVX-512 CPU, the note must say so.
  const char* forced = std::getenv("OPENBLAS_CORETYPE");
  if (forced && std::string(forced) == "Haswell" && __builtin_cpu_supports("avx512f")) {
    EXPECT_NE(joule::blas::kernel_note().find("OPENBLAS_CORETYPE=Haswell"), std::string::npos)
        << joule::blas::kernel_note();
  }
#endif
}
}  // namespace
