#pragma once
/** @file gemm.hpp @brief The gemm operator's contract: what every gemm kernel receives. */
#include <cstdint>

#include <joule/ops/desc/activation.hpp>

namespace joule {

/**
 * @brief C = act(alpha · A · op(B) + bias + residual), row-major float32.
 *
 * A is [m, k] with row stride lda; B is [k, n] with row stride ldb, or [n, k] when trans_b (the
 * layout of a PyTorch Linear weight); C is [m, n] with row stride ldc. The front end has checked
 * every size, stride and pointer; k may be 0 (then C = act(bias + residual)). C never aliases A or B.
 */
struct gemm_op {
  std::int64_t m = 0, n = 0, k = 0;
  const float* a = nullptr;
  std::int64_t lda = 0;
  const float* b = nullptr;
  std::int64_t ldb = 0;
  bool trans_b = false;
  float* c = nullptr;
  std::int64_t ldc = 0;
  float alpha = 1.f;
  epilogue ep;

  static constexpr const char* name() noexcept { return "gemm"; }
};

}  // namespace joule
