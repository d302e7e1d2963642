#pragma once
/**
 * @file epilogue_pass.hpp
 * @brief The epilogue as a separate pass over C, for backends whose GEMM (BLAS, Eigen) cannot
 * fuse it: one read-modify-write of C, vectorised when the simd policy is built.
 */
#include <cstdint>

#include <joule/config.hpp>
#include <joule/core/context.hpp>
#include <joule/ops/desc/activation.hpp>
#if JOULE_HAS_SIMD
#include <joule/policy/simd/vector_math.hpp>
#endif

namespace joule::detail {

/** @brief True when the epilogue changes anything (alpha aside). */
inline bool epilogue_needed(const epilogue& ep, float alpha) noexcept {
  return ep.bias || ep.residual || ep.act != activation::none || alpha != 1.f;
}

/** @brief c[i, j] = act(alpha · c[i, j] + bias + residual) for an [m, n] block with row stride ldc. */
inline void epilogue_pass(cpu_context& ctx, const epilogue& ep, float alpha, float* c, std::int64_t m, std::int64_t n,
                          std::int64_t ldc) {
  if (!epilogue_needed(ep, alpha)) return;
  ctx.parallel_for(m, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(n, 1)),
                   [&](std::int64_t i0, std::int64_t i1) {
                     for (std::int64_t i = i0; i < i1; ++i) {
#if JOULE_HAS_SIMD
                       simd_detail::epilogue_row(ep, alpha, c + i * ldc, i, 0, n);
#else
                       for (std::int64_t j = 0; j < n; ++j)
                         c[i * ldc + j] = apply_epilogue(ep, alpha * c[i * ldc + j], i, j);
#endif
                     }
                   });
}

}  // namespace joule::detail
