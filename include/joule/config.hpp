#pragma once
/**
 * @file config.hpp
 * @brief Version and the JOULE_HAS_* feature macros.
 *
 * The build system defines JOULE_HAS_SIMD, JOULE_HAS_BLAS, JOULE_HAS_EIGEN and JOULE_HAS_CUDA to
 * 0 or 1 on the joule::joule target. A translation unit that includes joule without the target
 * (a bare -I path) gets the scalar policy alone.
 */

#define JOULE_VERSION_MAJOR 0
#define JOULE_VERSION_MINOR 1
#define JOULE_VERSION_PATCH 0
#define JOULE_VERSION_STRING "0.1.0"

#ifndef JOULE_HAS_SIMD
#define JOULE_HAS_SIMD 0
#endif
#ifndef JOULE_HAS_BLAS
#define JOULE_HAS_BLAS 0
#endif
#ifndef JOULE_HAS_EIGEN
#define JOULE_HAS_EIGEN 0
#endif
#ifndef JOULE_HAS_CUDA
#define JOULE_HAS_CUDA 0
#endif

// The cuda policy's kernels can only be compiled by nvcc; its tag is declared everywhere.
#if JOULE_HAS_CUDA && defined(__CUDACC__)
#define JOULE_CUDA_KERNELS 1
#else
#define JOULE_CUDA_KERNELS 0
#endif

namespace joule {
/** @brief The library version as "major.minor.patch". */
inline constexpr const char* kVersion = JOULE_VERSION_STRING;
}  // namespace joule
