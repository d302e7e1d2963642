#pragma once
/**
 * @file context.hpp
 * @brief joule::context<P>: the state a policy's kernels run with (threads, scratch memory).
 *
 * Like Eigen's devices, a context is a value object the caller owns. An executor owns one, so
 * executors never share mutable state. A context is used by one thread at a time.
 */
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <joule/core/aligned_buffer.hpp>
#include <joule/core/thread_pool.hpp>

namespace joule {

/**
 * @brief Scratch memory for kernels, handed out in stack order (frames).
 *
 * A kernel that needs a buffer (im2col columns, GEMM packing panels) takes it from the arena
 * inside a scratch_frame; the memory returns when the frame ends. Growth never moves memory that
 * is handed out: it adds a chunk, and when the outermost frame ends the chunks are merged into one
 * of the high-water size. After one warm-up run the arena is large enough and never allocates
 * again; growth_count() lets tests and executors prove it.
 */
class scratch_arena {
 public:
  /** @brief Ensures one chunk of at least @p bytes exists (executors call it when they compile). */
  void reserve(std::size_t bytes) {
    if (chunks_.size() == 1 && chunks_[0].size() >= bytes) return;
    require(used_ == 0, "scratch_arena: reserve() while scratch memory is handed out");
    chunks_.clear();
    chunks_.emplace_back(std::max(bytes, high_water_));
    ++growths_;
  }
  std::size_t capacity() const noexcept { return chunks_.empty() ? 0 : chunks_.back().size(); }
  std::size_t high_water() const noexcept { return high_water_; }
  std::size_t growth_count() const noexcept { return growths_; }

  /** @cond internal */
  std::size_t mark() const noexcept { return used_; }
  std::byte* take(std::size_t bytes) {
    bytes = (bytes + kAlignment - 1) / kAlignment * kAlignment;
    if (chunks_.empty() || chunk_used_ + bytes > chunks_.back().size()) {
      chunks_.emplace_back(std::max(bytes, 2 * capacity()));
      chunk_used_ = 0;
      ++growths_;
    }
    std::byte* p = chunks_.back().data() + chunk_used_;
    chunk_used_ += bytes;
    used_ += bytes;
    high_water_ = std::max(high_water_, used_);
    return p;
  }
  void release(std::size_t mark) {
    used_ = mark;
    if (chunks_.size() == 1) chunk_used_ = used_;  // with several chunks, reclaim at the end
    if (used_ != 0) return;
    chunk_used_ = 0;
    if (chunks_.size() > 1) {  // merge, so the next run fits in one chunk
      chunks_.clear();
      chunks_.emplace_back(high_water_);
      ++growths_;
    }
  }
  /** @endcond */

 private:
  std::vector<aligned_buffer<std::byte>> chunks_;
  std::size_t chunk_used_ = 0;  // bytes taken from the last chunk
  std::size_t used_ = 0;        // bytes taken in all live frames
  std::size_t high_water_ = 0;
  std::size_t growths_ = 0;
};

/** @brief Threads and scratch memory shared by the CPU policies' contexts. */
class cpu_context {
 public:
  /** @brief A context running on @p threads threads (0: every hardware thread). */
  explicit cpu_context(int threads = 0)
      : pool_(std::make_unique<thread_pool>(threads > 0 ? threads : hardware_threads())),
        scratch_(std::make_unique<scratch_arena>()) {
    require(threads >= 0, "context: thread count must be >= 0, got ", threads);
    for (int t = 0; t < pool_->size(); ++t) thread_scratch_.push_back(std::make_unique<scratch_arena>());
  }

  int threads() const noexcept { return pool_->size(); }
  thread_pool& pool() noexcept { return *pool_; }
  scratch_arena& scratch() noexcept { return *scratch_; }

  /**
   * @brief The calling thread's own scratch (thread_pool::slot), for a buffer that one thread
   * writes and reads within a fork (GEMM packing panels, Winograd's transformed tiles). Taken from
   * the shared arena, a thread's slice sat wherever the kernel before had put the other thread's:
   * each line it wrote was first taken from the other core's cache. ResNet-50's F(4x4, 3x3) layers
   * at batch 1 took 0.71-0.84 ms on the thread with the arena's first slice against 0.52-0.56 on
   * the other; swapping the slices swapped the times.
   */
  scratch_arena& thread_scratch() noexcept { return *thread_scratch_[static_cast<std::size_t>(pool_->slot())]; }

  /**
   * @brief Splits [0, n) into contiguous ranges and calls body(begin, end) for each, in parallel.
   *
   * At most one range per thread, and no range shorter than @p grain elements (so small problems
   * are not split into pieces cheaper than a fork).
   */
  template <class Body>
  void parallel_for(std::int64_t n, std::int64_t grain, Body&& body) {
    if (n <= 0) return;
    const std::int64_t parts = std::clamp<std::int64_t>(n / std::max<std::int64_t>(grain, 1), 1, threads());
    if (parts == 1) {
      body(std::int64_t{0}, n);
      return;
    }
    pool_->run([&](int t) {
      if (t >= parts) return;
      body(n * t / parts, n * (t + 1) / parts);
    });
  }

 private:
  std::unique_ptr<thread_pool> pool_;
  std::unique_ptr<scratch_arena> scratch_;
  std::vector<std::unique_ptr<scratch_arena>> thread_scratch_;  // one per pool slot
};

/** @brief Takes scratch memory from a context for the lifetime of this object. */
class scratch_frame {
 public:
  explicit scratch_frame(cpu_context& ctx) : scratch_frame(ctx.scratch()) {}
  explicit scratch_frame(scratch_arena& arena) : arena_(arena), mark_(arena_.mark()) {}
  scratch_frame(const scratch_frame&) = delete;
  scratch_frame& operator=(const scratch_frame&) = delete;
  ~scratch_frame() { arena_.release(mark_); }
  /** @brief @p count uninitialised, 64-byte aligned elements valid until the frame ends. */
  template <class T>
  T* take(std::int64_t count) {
    return reinterpret_cast<T*>(arena_.take(static_cast<std::size_t>(count) * sizeof(T)));
  }

 private:
  scratch_arena& arena_;
  std::size_t mark_;
};

/**
 * @brief The context a policy's kernels receive. CPU policies share cpu_context; a policy with
 * state of its own (the cuda policy's stream and library handles) specialises it.
 */
template <class Policy>
class context : public cpu_context {
 public:
  using policy = Policy;
  using cpu_context::cpu_context;
};

}  // namespace joule
