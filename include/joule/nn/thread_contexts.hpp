#pragma once
/** @file thread_contexts.hpp @brief One-thread contexts for work that runs whole on each thread. */
#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include <joule/core/context.hpp>
#include <joule/core/executor.hpp>
#include <joule/policy/backend.hpp>

namespace joule::nn {

/**
 * @brief One-thread contexts, one per thread of a context, for work split into pieces that each
 * run whole on one thread (a block's share of channels, a model's passes): each has its own
 * scratch arena. Made on the first run (an executor's warm-up run), so later runs allocate
 * nothing; a copy starts empty.
 */
template <backend P>
class thread_contexts {
 public:
  thread_contexts() = default;
  thread_contexts(const thread_contexts&) {}
  thread_contexts& operator=(const thread_contexts&) { return *this; }
  thread_contexts(thread_contexts&&) noexcept = default;
  thread_contexts& operator=(thread_contexts&&) noexcept = default;
  ~thread_contexts() = default;

  /** @brief Makes sure at(0) to at(@p threads - 1) exist. Not thread-safe: call before forking. */
  void ensure(int threads) {
    while (static_cast<int>(contexts_.size()) < threads) contexts_.push_back(std::make_unique<context<P>>(1));
  }
  context<P>& at(int t) noexcept { return *contexts_[static_cast<std::size_t>(t)]; }

  /**
   * @brief Items [0, @p items) (images, sequences, passes) shared out in contiguous ranges over at
   * most @p threads of @p ctx's threads: body(c, t, begin, end) for each share t, on its one-thread
   * context c = at(t) (made first); with one share (one thread, one item, a device policy),
   * body(ctx, 0, 0, items) on the caller.
   */
  template <class Body>
  void run_shares(context<P>& ctx, int threads, std::int64_t items, Body&& body) {
    if constexpr (!device_policy<P>) {
      const int shares = static_cast<int>(std::clamp<std::int64_t>(items, 1, std::min(threads, ctx.threads())));
      if (shares > 1) {
        ensure(shares);
        ctx.pool().run([&](int t) {
          if (t < shares) body(at(t), t, items * t / shares, items * (t + 1) / shares);
        });
        return;
      }
    }
    body(ctx, 0, std::int64_t{0}, items);
  }

 private:
  std::vector<std::unique_ptr<context<P>>> contexts_;
};

/**
 * @brief How many threads take a share of @p items (images, sequences, passes) each, whole, on
 * their own one-thread contexts (thread_contexts::run_shares): the compiled thread count
 * (@p option_threads, 0 for the hardware's) when there are at least that many items on a host
 * policy; else 1, and the threads share each operation instead.
 */
template <backend P>
int share_threads(int option_threads, std::int64_t items) noexcept {
  const int threads = option_threads > 0 ? option_threads : hardware_threads();
  return !device_policy<P> && threads > 1 && items >= threads ? threads : 1;
}

}  // namespace joule::nn
