#pragma once
/** @file thread_contexts.hpp @brief One-thread contexts for work that runs whole on each thread. */
#include <memory>
#include <vector>

#include <joule/core/context.hpp>
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

 private:
  std::vector<std::unique_ptr<context<P>>> contexts_;
};

}  // namespace joule::nn
