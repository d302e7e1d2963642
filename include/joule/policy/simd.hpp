#pragma once
/** @file simd.hpp @brief The simd policy: explicit vector kernels written with xsimd 8.1. */
#include <string>

#include <joule/config.hpp>
#include <joule/policy/backend.hpp>
#include <joule/policy/scalar.hpp>

#if JOULE_HAS_SIMD
#include <xsimd/xsimd.hpp>
#endif

namespace joule {

/**
 * @brief Vector kernels over xsimd batches for the instruction set the build was compiled for
 * (AVX-512 with -mavx512f or -march=native on such a CPU, AVX2+FMA, SSE...). available() checks at
 * run time that this CPU supports that instruction set, so a binary built for AVX-512 says so
 * instead of dying with SIGILL on an AVX2-only machine.
 */
struct simd {
  using fallback = scalar;
  using memory_space = host_space;
  static constexpr const char* name() noexcept { return "simd"; }
#if JOULE_HAS_SIMD
  /** @brief The xsimd architecture the kernels were compiled for, e.g. "avx512bw". */
  static const char* arch_name() noexcept { return xsimd::default_arch::name(); }
  /** @brief Floats per vector register of that architecture. */
  static constexpr int kLanes = static_cast<int>(xsimd::batch<float>::size);
  static bool available() noexcept { return xsimd::available_architectures().best >= xsimd::default_arch::version(); }
  static std::string unavailable_reason() {
    if (available()) return {};
    return std::string("this CPU lacks the instruction set the simd policy was compiled for (") + arch_name() + ")";
  }
#else
  static const char* arch_name() noexcept { return "none"; }
  static constexpr int kLanes = 1;
  static bool available() noexcept { return false; }
  static std::string unavailable_reason() { return "joule was built without xsimd (JOULE_WITH_SIMD)"; }
#endif
};

}  // namespace joule
