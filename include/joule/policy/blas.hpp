#pragma once
/** @file blas.hpp @brief The blas policy: GEMM-shaped work through OpenBLAS's CBLAS. */
#include <cstdlib>
#include <string>
#include <type_traits>

#include <joule/config.hpp>
#include <joule/policy/backend.hpp>
#include <joule/policy/simd.hpp>

#if JOULE_HAS_BLAS
#include <cblas.h>
#endif

namespace joule {

/**
 * @brief GEMM, batched matmul and the GEMM inside convolution and attention go to OpenBLAS; every
 * other operator comes from the fallback (simd when built, else scalar).
 *
 * OpenBLAS chooses its kernels at run time (DYNAMIC_ARCH) from the CPU or from the environment
 * variable OPENBLAS_CORETYPE; kernel_name() reports the choice and kernel_note() says plainly when
 * this CPU could run faster kernels than the ones selected. joule never overrides the user's
 * setting.
 */
struct blas {
  using fallback = std::conditional_t<JOULE_HAS_SIMD != 0, simd, scalar>;
  using memory_space = host_space;
  static constexpr const char* name() noexcept { return "blas"; }

#if JOULE_HAS_BLAS
  static bool available() noexcept { return fallback::available(); }
  static std::string unavailable_reason() {
    if (available()) return {};
    return std::string("its fallback policy ") + fallback::name() +
           " is unavailable: " + fallback::unavailable_reason();
  }
  /** @brief The kernel family OpenBLAS selected, e.g. "Haswell" or "Cooperlake". */
  static std::string kernel_name() { return openblas_get_corename(); }
  /** @brief OpenBLAS's build configuration string. */
  static std::string library_config() { return openblas_get_config(); }

  /**
   * @brief Empty when OpenBLAS runs the best kernels this CPU supports; otherwise one sentence
   * saying which kernels run, what the CPU could run, and why.
   */
  static std::string kernel_note() {
    const std::string core = kernel_name();
    const bool avx512_kernels = core == "SkylakeX" || core == "Cooperlake" || core == "SapphireRapids";
    if (avx512_kernels || !cpu_has_avx512()) return {};
    std::string note = "OpenBLAS is running its " + core + " kernels, but this CPU supports AVX-512";
    if (const char* forced = std::getenv("OPENBLAS_CORETYPE"))
      return note + ": OPENBLAS_CORETYPE=" + forced +
             " is set in the environment and forces them (unset it to let OpenBLAS choose its AVX-512 kernels)";
    // Seen on an Intel Xeon model 207 (Emerald Rapids) with Debian's OpenBLAS 0.3.21: it does not
    // know the model and falls back to Prescott (SSE3), a third of the speed of its AVX-512 kernels.
    return note +
           ": this OpenBLAS build did not select AVX-512 kernels for it (OPENBLAS_CORETYPE=SkylakeX asks a "
           "DYNAMIC_ARCH build for them)";
  }
#else
  static bool available() noexcept { return false; }
  static std::string unavailable_reason() { return "joule was built without OpenBLAS (JOULE_WITH_BLAS)"; }
  static std::string kernel_name() { return "none"; }
  static std::string library_config() { return "none"; }
  static std::string kernel_note() { return {}; }
#endif

 private:
  static bool cpu_has_avx512() noexcept {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    return __builtin_cpu_supports("avx512f");
#else
    return false;
#endif
  }
};

}  // namespace joule
