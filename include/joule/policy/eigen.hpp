#pragma once
/** @file eigen.hpp @brief The eigen policy: matrix products through Eigen 3.4. */
#include <string>
#include <type_traits>

#include <joule/config.hpp>
#include <joule/policy/backend.hpp>
#include <joule/policy/simd.hpp>

#if JOULE_HAS_EIGEN
#include <Eigen/Core>
#endif

namespace joule {

/**
 * @brief GEMM-shaped work through Eigen's matrix product (split across the context's threads by
 * joule, since Eigen parallelises only under OpenMP); other operators from the fallback.
 */
struct eigen {
  using fallback = std::conditional_t<JOULE_HAS_SIMD != 0, simd, scalar>;
  using memory_space = host_space;
  static constexpr const char* name() noexcept { return "eigen"; }
#if JOULE_HAS_EIGEN
  static bool available() noexcept { return fallback::available(); }
  static std::string unavailable_reason() {
    if (available()) return {};
    return std::string("its fallback policy ") + fallback::name() +
           " is unavailable: " + fallback::unavailable_reason();
  }
#else
  static bool available() noexcept { return false; }
  static std::string unavailable_reason() { return "joule was built without Eigen (JOULE_WITH_EIGEN)"; }
#endif
};

}  // namespace joule
