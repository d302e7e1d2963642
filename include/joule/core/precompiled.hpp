#pragma once
/**
 * @file precompiled.hpp
 * @brief Opt-in separate compilation of the reference models and their heaviest layers and
 * operators, for programs of many files.
 *
 * joule is header-only, so every translation unit that runs a model, a convolution or a GEMM
 * generates the code of its kernels again: GCC -O2 spent about 75 of test_models.cpp's 125 seconds
 * on that, and a sanitizer build takes three times as long. A program of several such files
 * (joule's own tests, tools and benchmarks) can have it generated once:
 *
 * - every file is compiled with JOULE_PRECOMPILED_MODELS=1: the headers then declare their
 *   host-policy instantiations `extern template` (the models and their executors, the nn layers
 *   and the operators' entry points, each at the end of its own header), so the files only call
 *   them;
 * - joule/precompiled.cpp, compiled once with the same JOULE_HAS_* backends and the same
 *   code-generation flags (-march, sanitizers), instantiates them.
 *
 * In joule's own CMake build that is the static library joule_precompiled_models. Programs that do
 * not define the macro are unaffected. The cuda policy is not covered: its models come from nvcc
 * (see joule/choose/cuda_candidates.hpp).
 */
#include <joule/config.hpp>

#ifndef JOULE_PRECOMPILED_MODELS
#define JOULE_PRECOMPILED_MODELS 0
#endif

// X(what, policy) once per host policy compiled in.
#if JOULE_HAS_SIMD
#define JOULE_DETAIL_IF_SIMD(...) __VA_ARGS__
#else
#define JOULE_DETAIL_IF_SIMD(...)
#endif
#if JOULE_HAS_BLAS
#define JOULE_DETAIL_IF_BLAS(...) __VA_ARGS__
#else
#define JOULE_DETAIL_IF_BLAS(...)
#endif
#if JOULE_HAS_EIGEN
#define JOULE_DETAIL_IF_EIGEN(...) __VA_ARGS__
#else
#define JOULE_DETAIL_IF_EIGEN(...)
#endif
#define JOULE_DETAIL_FOR_HOST_POLICIES(X, what) \
  X(what, scalar)                               \
  JOULE_DETAIL_IF_SIMD(X(what, simd))           \
  JOULE_DETAIL_IF_BLAS(X(what, blas))           \
  JOULE_DETAIL_IF_EIGEN(X(what, eigen))

// In the files that use them, `extern template`: declared, compiled elsewhere. In precompiled.cpp,
// which defines JOULE_DETAIL_PRECOMPILED_DEFINITIONS before any include, `template`: the same lines
// at the end of each header define them, so the list of what is precompiled is written once.
#ifdef JOULE_DETAIL_PRECOMPILED_DEFINITIONS
#define JOULE_DETAIL_PRECOMPILED_TEMPLATE template
#else
#define JOULE_DETAIL_PRECOMPILED_TEMPLATE extern template
#endif

// A class template of one policy (nn::linear); a model for one policy and its executor; a function
// template's instantiation, given as a macro of the policy that spells its declaration.
#define JOULE_DETAIL_PRECOMPILE_CLASS(name, policy) \
  JOULE_DETAIL_PRECOMPILED_TEMPLATE class ::joule::name<::joule::policy>;
#define JOULE_DETAIL_PRECOMPILE_MODEL(model, policy)   \
  JOULE_DETAIL_PRECOMPILE_CLASS(models::model, policy) \
  JOULE_DETAIL_PRECOMPILED_TEMPLATE class ::joule::executor<::joule::models::model<::joule::policy>>;
#define JOULE_DETAIL_PRECOMPILE_FUNCTION(declaration, policy) \
  JOULE_DETAIL_PRECOMPILED_TEMPLATE declaration(::joule::policy);

/**
 * @brief At the end of a header, with JOULE_PRECOMPILED_MODELS: a model's, a class template's or a
 * function template's host-policy instantiations, declared extern (defined in precompiled.cpp).
 */
#if JOULE_PRECOMPILED_MODELS
#define JOULE_DETAIL_DECLARE_PRECOMPILED_MODEL(model) \
  JOULE_DETAIL_FOR_HOST_POLICIES(JOULE_DETAIL_PRECOMPILE_MODEL, model)
#define JOULE_DETAIL_DECLARE_PRECOMPILED_CLASS(name) JOULE_DETAIL_FOR_HOST_POLICIES(JOULE_DETAIL_PRECOMPILE_CLASS, name)
#define JOULE_DETAIL_DECLARE_PRECOMPILED_FUNCTION(declaration) \
  JOULE_DETAIL_FOR_HOST_POLICIES(JOULE_DETAIL_PRECOMPILE_FUNCTION, declaration)
#else
#define JOULE_DETAIL_DECLARE_PRECOMPILED_MODEL(model)
#define JOULE_DETAIL_DECLARE_PRECOMPILED_CLASS(name)
#define JOULE_DETAIL_DECLARE_PRECOMPILED_FUNCTION(declaration)
#endif
