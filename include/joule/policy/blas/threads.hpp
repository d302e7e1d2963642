#pragma once
/**
 * @file threads.hpp
 * @brief How the blas kernels use threads: OpenBLAS runs single-threaded, joule's pool splits the
 * work.
 *
 * OpenBLAS keeps one thread count for the whole process. Letting it thread each call with the
 * context's count made two blas executors with different counts, running at once from two user
 * threads, change each other's count mid-run; and OpenBLAS's result depends on that count (its
 * Prescott kernels, which Debian's 0.3.21 selects on CPUs it does not know, give different last
 * bits with 1 and 2 threads), so an executor's output depended on what else was running. Instead
 * every call is single-threaded and the output is split across the executor's own pool, on
 * boundaries that depend only on the shape and the context's thread count: each executor owns
 * its threads, as every other policy's does, and its bits never depend on its neighbours.
 */
#include <algorithm>
#include <cstdint>

#include <cblas.h>

#include <joule/core/context.hpp>

namespace joule::blas_detail {

/** @brief Keeps OpenBLAS single-threaded (the count is process-wide; setting it only when it differs). */
inline void use_single_threaded_blas() {
  if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
}

/** @brief BLAS requires every leading dimension >= 1, even for an empty operand (k = 0). */
inline blasint leading_dim(std::int64_t ld) noexcept { return static_cast<blasint>(std::max<std::int64_t>(ld, 1)); }

/** @brief One single-threaded row-major cblas_sgemm: C[m, n] = alpha · A · op(B) + beta · C. */
inline void sgemm_serial(bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha, const float* a,
                         std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, static_cast<blasint>(m),
              static_cast<blasint>(n), static_cast<blasint>(k), alpha, a, leading_dim(lda), b, leading_dim(ldb), beta,
              c, leading_dim(ldc));
}

/**
 * @brief sgemm_serial's product split across the context's threads.
 *
 * The output is cut into one block per thread along its longer side, so that each thread repacks
 * the smaller operand (cutting columns repacks all of A in every thread, cutting rows all of B).
 * Cuts fall on multiples of 16 (a whole AVX-512 register of columns or a micro-kernel's rows), and
 * products under ~1 MFLOP stay on one thread, where a fork costs more than it saves.
 */
inline void sgemm(cpu_context& ctx, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                  const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
                  std::int64_t ldc) {
  constexpr std::int64_t align = 16;
  const bool by_rows = m > n;
  const std::int64_t extent = by_rows ? m : n;
  const std::int64_t blocks = (extent + align - 1) / align;
  const std::int64_t parts =
      2 * m * n * k < (std::int64_t{1} << 20) ? 1 : std::min<std::int64_t>(ctx.threads(), blocks);
  if (parts <= 1) {
    sgemm_serial(trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  ctx.pool().run([&](int t) {
    if (t >= parts) return;
    const std::int64_t begin = std::min(extent, blocks * t / parts * align);
    const std::int64_t end = std::min(extent, blocks * (t + 1) / parts * align);
    if (by_rows)
      sgemm_serial(trans_b, end - begin, n, k, alpha, a + begin * lda, lda, b, ldb, beta, c + begin * ldc, ldc);
    else
      sgemm_serial(trans_b, m, end - begin, k, alpha, a, lda, trans_b ? b + begin * ldb : b + begin, ldb, beta,
                   c + begin, ldc);
  });
}

}  // namespace joule::blas_detail
