#pragma once
/** @file policies.hpp @brief Every policy tag, and the typelists of those compiled into this build. */
#include <joule/config.hpp>
#include <joule/core/typelist.hpp>
#include <joule/policy/backend.hpp>
#include <joule/policy/blas.hpp>
#include <joule/policy/cuda.hpp>
#include <joule/policy/eigen.hpp>
#include <joule/policy/scalar.hpp>
#include <joule/policy/simd.hpp>

namespace joule {

/** @brief Every policy joule knows, compiled in or not (for reports: "cuda: not built"). */
using known_policies = typelist<scalar, simd, blas, eigen, cuda>;

/** @brief The host policies whose kernels are compiled into this build. */
using cpu_policies =
    push_back_if<push_back_if<push_back_if<typelist<scalar>, JOULE_HAS_SIMD != 0, simd>, JOULE_HAS_BLAS != 0, blas>,
                 JOULE_HAS_EIGEN != 0, eigen>;

/** @brief Every policy whose kernels this translation unit can instantiate. */
using compiled_policies = push_back_if<cpu_policies, JOULE_CUDA_KERNELS != 0, cuda>;

static_assert(backend<scalar> && backend<simd> && backend<blas> && backend<eigen> && backend<cuda>);

}  // namespace joule
