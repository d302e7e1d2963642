#pragma once
/** @file threads.hpp @brief Giving OpenBLAS the calling context's thread count. */
#include <cblas.h>

namespace joule::blas_detail {

/**
 * @brief Sets OpenBLAS's thread count to the context's before a BLAS call.
 *
 * OpenBLAS keeps one process-wide count; setting it per call keeps joule's threads and BLAS's
 * from oversubscribing the cores. Two blas contexts with different counts used at the same moment
 * from two threads share that one setting: the last one set wins for both.
 */
inline void use_threads(int threads) {
  if (openblas_get_num_threads() != threads) openblas_set_num_threads(threads);
}

}  // namespace joule::blas_detail
