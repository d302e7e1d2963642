#pragma once
// Double-precision reference for batched_matmul: joule_ref::gemm on every item.
#include <cstdint>

#include "gemm.hpp"

namespace joule_ref {

/** @brief C_i = alpha · A_i · op(B_i) for dense items A [batch, m, k], B [batch, k, n] or [batch, n, k]. */
inline gemm_result batched_matmul(std::int64_t batch, std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
                                  const float* b, bool trans_b, float alpha) {
  gemm_result r;
  for (std::int64_t i = 0; i < batch; ++i) {
    const auto item =
        gemm(m, n, k, a + i * m * k, b + i * k * n, trans_b, alpha, nullptr, nullptr, joule::activation::none);
    r.value.insert(r.value.end(), item.value.begin(), item.value.end());
    r.magnitude.insert(r.magnitude.end(), item.magnitude.begin(), item.magnitude.end());
  }
  return r;
}

}  // namespace joule_ref
