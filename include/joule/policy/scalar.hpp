#pragma once
/** @file scalar.hpp @brief The scalar policy: plain loops, the readable reference. */
#include <string>

#include <joule/policy/backend.hpp>

namespace joule {

/**
 * @brief Plain C++ loops, one thread, no intrinsics: the policy every other one is checked
 * against (besides the double-precision references) and the end of every CPU fallback chain.
 */
struct scalar {
  using fallback = no_fallback;
  using memory_space = host_space;
  static constexpr const char* name() noexcept { return "scalar"; }
  static bool available() noexcept { return true; }
  static std::string unavailable_reason() { return {}; }
};

}  // namespace joule
