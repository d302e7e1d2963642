#pragma once
/**
 * @file thread_pool.hpp
 * @brief A small fork-join pool: the CPU policies' only source of threads.
 *
 * Why a pool of our own and not OpenMP: every executor owns its context and so its own threads,
 * with its own thread count (a candidate the chooser varies), and executors of different policies
 * may run at once from different user threads without sharing one global OpenMP team; the header-
 * only library needs no -fopenmp on the consumer's side; and ThreadSanitizer understands it
 * (libgomp is not instrumented). Inference layers are short (tens of microseconds), so workers
 * spin briefly before sleeping to keep the fork cost low between consecutive layers.
 *
 * Spinning is bounded by time (kSpinTime), not by a count of `pause` instructions: a pause costs
 * from about 10 to over 100 cycles depending on the CPU, so a fixed count spun for anything from
 * tens of microseconds to over a millisecond. Past the bound, workers sleep on a condition variable
 * and the forking thread sleeps on its pending count (std::atomic::wait, a futex), so an idle
 * worker never holds a core that another thread (OpenBLAS's own, another process's) could use,
 * and a fork whose helpers were descheduled costs a wake-up, not a time slice of yields.
 *
 * Inside a model's run (a busy_scope, which executor::run opens) waiting threads spin longer,
 * kBusySpinTime, and the scope's start wakes the workers. Within a run a worker waits whenever its
 * share ends early or the caller has a serial step, often past 50 us, and then slept and had to
 * be woken at the next fork: on the 2-vCPU Emerald Rapids VM a futex wake-up takes 7-50 us (a
 * halted vCPU), against a few on bare metal. With the scope, in one process alternating with the
 * pool as it was (scripts/ab-models.sh): ResNet-50 at batch 1 0.961 of the time, MobileNetV2
 * 0.970, BERT-base 0.988 (docs/results.md, 2026-12-04 afternoon). After the run the pool
 * is back to short spins: an idle executor does not hold the cores.
 *
 * Index t of a job runs on thread t (the caller is thread 0) whenever that thread is awake in
 * time: the CPU policies split a layer's work the same way from one layer to the next (the same
 * pixels, the same channels to the same index), so what a thread wrote is what it reads next,
 * from its own core's caches. On the 2-vCPU Zen 5 test machine a cache line written by the other
 * core takes about 200 ns to arrive and a 512 KB activation is read at 24 GB/s from the other
 * core against 120 GB/s from its own L2; with indices claimed first come, first served, 3-5% of
 * ResNet-50's forks swapped the two threads' shares.
 */
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <joule/core/error.hpp>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace joule {

namespace detail {
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

/**
 * @brief Spins until @p done() is true or @p budget has passed; returns done()'s last value.
 * The clock is read once every 64 polls: reading it costs about as much as a few pauses.
 */
template <class Done>
bool spin_until(Done&& done, std::chrono::nanoseconds budget) noexcept {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() >= deadline) return done();
  }
}
/** True on a thread that is executing a pool job: a nested fork then runs inline. */
inline thread_local bool tl_inside_pool_job = false;
/** @brief The pool whose worker this thread is (null on any other thread), and its slot in it. */
inline thread_local const void* tl_worker_of = nullptr;
inline thread_local int tl_worker_slot = 0;
}  // namespace detail

/** @brief Number of hardware threads, at least 1. */
inline int hardware_threads() noexcept { return std::max(1u, std::thread::hardware_concurrency()); }

/** @brief A fixed set of threads (the caller among them) that run one job at a time. */
class thread_pool {
 public:
  /** @brief A pool of @p threads threads in all: it starts threads - 1 workers. */
  explicit thread_pool(int threads) : size_(threads) {
    require(threads >= 1, "thread_pool: thread count must be at least 1, got ", threads);
    workers_.reserve(threads - 1);
    index_state_ = std::make_unique<std::atomic<std::uint64_t>[]>(static_cast<std::size_t>(threads));
    index_ns_.assign(static_cast<std::size_t>(threads), 0);
    index_runner_.assign(static_cast<std::size_t>(threads), 0);
    share_begin_.assign(static_cast<std::size_t>(threads) + 1, 0);
    speed_.assign(static_cast<std::size_t>(threads), 1.0);
    for (int t = 0; t < threads; ++t) index_state_[t].store(claimed_in(0), std::memory_order_relaxed);  // no job yet
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
  }
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;
  ~thread_pool() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
  }

  int size() const noexcept { return size_; }

  /**
   * @brief This thread's slot in the pool: its worker number in [1, size()) for a worker, 0 for
   * any other thread (the one that calls run()). Per-thread state kept by slot stays with one
   * thread, whichever indices it runs.
   */
  int slot() const noexcept { return detail::tl_worker_of == this ? detail::tl_worker_slot : 0; }

  /**
   * @brief While one is open (a model's run), threads waiting for the next fork or for the others
   * to finish spin for up to kBusySpinTime before they sleep, not kSpinTime; opening one wakes
   * sleeping workers to spin for the first fork. Scopes nest; closing the last one returns the
   * pool to short spins, so an idle pool still gives its cores back within kSpinTime.
   */
  class busy_scope {
   public:
    explicit busy_scope(thread_pool& pool) noexcept : pool_(pool) { pool_.begin_busy(); }
    ~busy_scope() { pool_.end_busy(); }
    busy_scope(const busy_scope&) = delete;
    busy_scope& operator=(const busy_scope&) = delete;

   private:
    thread_pool& pool_;
  };

  /**
   * @brief Calls body(t) for every index t in [0, size()) and returns when all are done.
   *
   * Each call runs on one thread: index t on thread t (the caller is 0) if it claims it first,
   * which it does unless it is late. A thread that has run its own index takes any index not yet
   * claimed, so when a worker is descheduled (a busy machine) or still waking, the others run its
   * share instead of waiting for it, and a fork never waits on a thread that has not started.
   * Bodies may keep per-index state (scratch slices): an index runs only once.
   * The first exception thrown by any call is rethrown here. Called from inside a job, or on a
   * one-thread pool, the calls run inline one after another.
   */
  template <class Body>
  void run(Body&& body) {
    if (size_ == 1 || detail::tl_inside_pool_job) {
      for (int t = 0; t < size_; ++t) body(t);
      return;
    }
    std::lock_guard one_job_at_a_time(run_mutex_);
    run_locked(body);
  }

  /**
   * @brief Splits [0, count) into @p parts contiguous ranges (at most size()), range t sized by how
   * fast thread t has run its ranges so far, and calls body(t, begin, end) for each non-empty range
   * t, on thread t as run() runs index t. Returns when all are done.
   *
   * On a shared host one vCPU can run 10-25% slower than the other for seconds at a time (another
   * guest on its core), and which one changes: ResNet-50 at batch 1, two threads, its forks timed
   * thread by thread, had one thread finish 4.8-6.9 ms earlier than the other over a 25-30 ms run,
   * in every layer, the same thread all run long; pinned, the slow thread was always the one on
   * the same vCPU. Equal ranges then wait on the slow thread at every fork. Each range's units per
   * second, against the others' in the same fork, move that thread's speed a step towards it
   * (kSpeedStep; one fork's ratio is taken within [1/2, 2] of the mean), so the next forks give it
   * a range to match. The units must cost about the same (panels of a GEMM, rows of tiles); a fork
   * whose units do not (@p learn false: Winograd's rows of tiles, whose GEMMs round them up to
   * whole panels) takes its ranges from the speeds and leaves them as they are.
   */
  template <class Body>
  void run_shares(std::int64_t count, int parts, Body&& body, bool learn = true) {
    if (count <= 0) return;
    parts = std::clamp(parts, 1, size_);
    if (parts == 1 || size_ == 1 || detail::tl_inside_pool_job) {
      for (int t = 0; t < parts; ++t)
        if (count * t / parts < count * (t + 1) / parts) body(t, count * t / parts, count * (t + 1) / parts);
      return;
    }
    std::lock_guard one_job_at_a_time(run_mutex_);
    double total = 0;
    for (int t = 0; t < parts; ++t) total += speed_[static_cast<std::size_t>(t)];
    double below = 0;
    for (int t = 0; t < parts; ++t) {
      below += speed_[static_cast<std::size_t>(t)];
      const std::int64_t end = t + 1 == parts ? count : std::llround(static_cast<double>(count) * below / total);
      share_begin_[static_cast<std::size_t>(t) + 1] = std::clamp(end, share_begin_[static_cast<std::size_t>(t)], count);
    }
    run_locked([&](int t) {
      const auto i = static_cast<std::size_t>(t);
      if (t < parts && share_begin_[i] < share_begin_[i + 1]) body(t, share_begin_[i], share_begin_[i + 1]);
    });
    if (learn) learn_speeds(parts);
  }

  /** @brief Thread @p slot's speed as run_shares has measured it, relative to the others' (1 at first). */
  double speed(int slot) const noexcept { return speed_[static_cast<std::size_t>(slot)]; }
  /**
   * @brief Sets thread @p slot's speed (> 0), which the next run_shares forks size its ranges by
   * and then measure again: the tests' way to have every kernel run on uneven ranges.
   */
  void set_speed(int slot, double speed) {
    require(slot >= 0 && slot < size_ && speed > 0, "thread_pool: set_speed(", slot, ", ", speed, ") out of range");
    std::lock_guard one_job_at_a_time(run_mutex_);
    speed_[static_cast<std::size_t>(slot)] = speed;
  }

 private:
  template <class Body>
  void run_locked(Body&& body) {
    body_ = &body;
    invoke_ = [](void* b, int t) { (*static_cast<std::remove_reference_t<Body>*>(b))(t); };
    error_ = nullptr;
    remaining_.store(size_, std::memory_order_relaxed);
    // Publishes the job: a claim that finds an index open sees body_, invoke_ and remaining_
    // above. Indices open for this job only, so a worker still scanning the last one cannot take
    // a fresh index from the thread it belongs to.
    const std::uint64_t job = generation_.load(std::memory_order_relaxed) + 1;  // only run() writes it
    for (int t = 0; t < size_; ++t) index_state_[t].store(open_in(job), std::memory_order_release);
    {
      std::lock_guard lock(mutex_);
      generation_.store(job, std::memory_order_release);
    }
    wake_.notify_all();
    run_claimed_indices(0, job);
    // Left: indices that workers claimed and are running. Usually they end within the spin; if a
    // worker was descheduled, sleep until the last one to finish wakes us.
    if (!spin_wait([&] { return remaining_.load(std::memory_order_acquire) == 0; }))
      for (int left = remaining_.load(std::memory_order_acquire); left != 0;
           left = remaining_.load(std::memory_order_acquire))
        remaining_.wait(left, std::memory_order_acquire);
    if (error_) std::rethrow_exception(error_);
  }

  /** The step each fork's measurement moves a thread's speed by (run_shares): about 20 forks to follow a change. */
  static constexpr double kSpeedStep = 0.05;
  /** Ranges that took less than this tell nothing of their thread's speed (a fork's own cost). */
  static constexpr std::int64_t kMinMeasuredNs = 20000;

  /** @brief After a run_shares fork: each thread's speed a step towards its units per second in it. */
  void learn_speeds(int parts) noexcept {
    double rate_sum = 0, speed_sum = 0;
    for (int t = 0; t < parts; ++t) {
      const auto i = static_cast<std::size_t>(t);
      const std::int64_t units = share_begin_[i + 1] - share_begin_[i];
      // Only a fork whose every range ran on its own thread, long enough to time.
      if (units == 0 || index_runner_[i] != t || index_ns_[i] < kMinMeasuredNs) return;
      rate_sum += static_cast<double>(units) / static_cast<double>(index_ns_[i]);
      speed_sum += speed_[i];
    }
    for (int t = 0; t < parts; ++t) {
      const auto i = static_cast<std::size_t>(t);
      const double rate =
          static_cast<double>(share_begin_[i + 1] - share_begin_[i]) / static_cast<double>(index_ns_[i]);
      const double relative = std::clamp(rate * parts / rate_sum, 0.5, 2.0);
      speed_[i] += kSpeedStep * (relative * speed_sum / parts - speed_[i]);
    }
  }

  /** How long a thread spins for work (or for the others to finish) before it sleeps: long
   *  enough to span the gap between consecutive layers, short against a scheduler time slice. */
  static constexpr std::chrono::microseconds kSpinTime{50};
  /** How long they spin inside a busy_scope: past the gaps between forks within a run (a share
   *  that ended early, a serial step), not past the run; see the file's comment. */
  static constexpr std::chrono::microseconds kBusySpinTime{2000};

  /** @brief Spins until @p done() (kSpinTime, or up to kBusySpinTime in a busy scope); its last value. */
  template <class Done>
  bool spin_wait(Done&& done) const noexcept {
    if (detail::spin_until(done, kSpinTime)) return true;
    const auto deadline = std::chrono::steady_clock::now() + kBusySpinTime;
    while (busy_.load(std::memory_order_relaxed) > 0 && std::chrono::steady_clock::now() < deadline)
      if (detail::spin_until(done, kSpinTime)) return true;
    return false;
  }

  void begin_busy() noexcept {
    busy_.fetch_add(1, std::memory_order_relaxed);
    if (size_ == 1) return;
    {
      std::lock_guard lock(mutex_);
      ++busy_scopes_opened_;
    }
    wake_.notify_all();
  }
  void end_busy() noexcept { busy_.fetch_sub(1, std::memory_order_relaxed); }

  /** An index's state: open in job g (no thread has claimed it yet) or claimed in job g. */
  static constexpr std::uint64_t open_in(std::uint64_t job) noexcept { return 2 * job; }
  static constexpr std::uint64_t claimed_in(std::uint64_t job) noexcept { return 2 * job + 1; }

  /** @brief Runs index @p own of job @p job if no one has claimed it, then any index of that job left open. */
  void run_claimed_indices(int own, std::uint64_t job) noexcept {
    if (claim(own, job)) run_index(own);
    for (int t = 0; t < size_; ++t)
      if (t != own && claim(t, job)) run_index(t);
  }

  /** @brief Whether this thread claimed index @p t of job @p job (open until now). */
  bool claim(int t, std::uint64_t job) noexcept {
    std::uint64_t open = open_in(job);
    return index_state_[t].load(std::memory_order_relaxed) == open &&
           index_state_[t].compare_exchange_strong(open, claimed_in(job), std::memory_order_acq_rel);
  }

  void run_index(int t) noexcept {
    detail::tl_inside_pool_job = true;
    const auto start = std::chrono::steady_clock::now();
    try {
      invoke_(body_, t);
    } catch (...) {
      std::lock_guard lock(error_mutex_);
      if (!error_) error_ = std::current_exception();
    }
    detail::tl_inside_pool_job = false;
    // Read by the caller once every index is done (run_shares), ordered by the decrement below.
    index_ns_[static_cast<std::size_t>(t)] =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();
    index_runner_[static_cast<std::size_t>(t)] = slot();
    if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) remaining_.notify_one();
  }

  /** @brief Worker @p own's loop: index @p own of each job is its own. */
  void worker_loop(int own) {
    detail::tl_worker_of = this;
    detail::tl_worker_slot = own;
    std::uint64_t seen = 0, scopes_seen = 0;
    for (;;) {
      std::uint64_t current = seen;
      if (!spin_wait([&] { return (current = generation_.load(std::memory_order_acquire)) != seen; })) {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] {
          return stop_ || generation_.load(std::memory_order_acquire) != seen || busy_scopes_opened_ != scopes_seen;
        });
        if (stop_) return;
        scopes_seen = busy_scopes_opened_;
        current = generation_.load(std::memory_order_acquire);
        if (current == seen) continue;  // woken by a busy scope: spin for its first fork
      }
      seen = current;
      run_claimed_indices(own, current);
    }
  }

  int size_;
  std::vector<std::thread> workers_;
  std::mutex run_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::atomic<std::uint64_t> generation_{0};
  std::unique_ptr<std::atomic<std::uint64_t>[]> index_state_;  // per index: open_in or claimed_in a job
  std::vector<std::int64_t> index_ns_;                         // per index: how long its call took
  std::vector<int> index_runner_;                              // per index: the slot that ran it
  std::vector<std::int64_t> share_begin_;                      // run_shares: where range t starts
  std::vector<double> speed_;                                  // per slot: run_shares' measured speed
  std::atomic<int> remaining_{0};                              // indices of the current job not yet finished
  std::atomic<int> busy_{0};                                   // busy scopes open
  std::uint64_t busy_scopes_opened_ = 0;                       // under mutex_: wakes workers to spin
  void* body_ = nullptr;
  void (*invoke_)(void*, int) = nullptr;
  std::mutex error_mutex_;
  std::exception_ptr error_;
};

}  // namespace joule
